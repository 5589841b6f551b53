"""``python -m flowweaver``: the same command as ``flowweaver``."""

from __future__ import annotations

import sys

# ``flowweaver.cli`` is the repository's ``cli/`` folder, mapped by the install
# (package-dir); mypy, run on the source tree, doesn't see that mapping.
from flowweaver.cli.app import main  # type: ignore[import-not-found,unused-ignore]

if __name__ == "__main__":
    sys.exit(main())
