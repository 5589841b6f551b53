"""``python -m flowweaver``: the same command as ``flowweaver``."""

from __future__ import annotations

import sys

from flowweaver.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
