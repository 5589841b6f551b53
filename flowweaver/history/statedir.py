"""The state folder: where the run history, stored results and locks live.

It holds pickles, and loading a pickle runs code, so a folder that someone else
could have written to is refused rather than read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flowweaver.errors import StateError

DEFAULT_STATE_DIR = ".flowweaver"
"""The state folder, under the current directory, when nothing else says where."""

ENV_VAR = "FLOWWEAVER_HOME"
"""The environment variable that moves the state folder."""


def resolve_state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The state folder to use: ``explicit``, else ``$FLOWWEAVER_HOME``, else ``.flowweaver``."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return Path(DEFAULT_STATE_DIR)


def prepare_state_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` readable by its owner only (0700) if missing, and check it is safe.

    Raises :class:`StateError` (one line) when it cannot be created or written, is
    not a folder, belongs to another user, or is writable by group or others.
    """
    folder = Path(path).expanduser()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        raise StateError(f"state folder {folder}: cannot create it: {_reason(exc)}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise StateError(f"state folder {folder}: not a folder")
    check_owned(folder, info)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StateError(f"state folder {folder}: cannot be written (permission denied)")
    return folder


def check_owned(path: Path, info: os.stat_result | None = None) -> None:
    """Refuse ``path`` unless it is ours and no one else can write it."""
    info = info if info is not None else path.stat()
    uid = os.geteuid()
    if info.st_uid != uid:
        raise StateError(
            f"{path} is owned by uid {info.st_uid}, not by you (uid {uid}): refusing to "
            "load its stored results (hint: use a state folder of your own)"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        raise StateError(
            f"{path} is writable by other users (mode {mode:04o}): refusing to load its "
            f"stored results (hint: chmod go-w {path})"
        )


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
