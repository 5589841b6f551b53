"""Run a child process that file permissions apply to, even when the tests run as root.

Root reads and writes anything because it holds CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH. Dropping both from the child's capability bounding set before
it executes leaves it root by uid, but bound by file modes like any user, so a
`chmod 0` file is unreadable to it and a `chmod 500` folder unwritable.
"""

from __future__ import annotations

import ctypes
import os

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def without_file_override() -> None:
    """A ``preexec_fn``: drop the two capabilities that let root ignore file modes."""
    if os.geteuid() != 0:
        return  # an ordinary user never had them
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
