"""The package's one logger, ``flowweaver``, with a ``NullHandler``: an application that
configures no logging sees none of ours (Python's last-resort handler stays quiet).

Every module that logs takes it from here, so the handler is there before the first
record; ``import flowweaver`` alone (``flowweaver --version``) doesn't load ``logging``.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("flowweaver")
logger.addHandler(logging.NullHandler())
