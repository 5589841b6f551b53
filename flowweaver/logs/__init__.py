"""What tasks print: captured per attempt into log files, masked, passed to the output
modes. (The ``flowweaver`` logger of FlowWeaver's own messages is another thing.)

    routing    the context variable that names the running attempt's sink, and the
               sys.stdout/sys.stderr proxies that route printed text by it
    book       RunLog (a run's captured output, an attempt hook) and AttemptLog
               (one attempt's: lines masked, written to its file, passed on)
    files      where a run's log files are, their names, attempt headers, reading back
    failures   a failed attempt's error, traceback and place in the task's code

A run captures when it has a state folder (its logs go to ``logs/RUN_ID/``), when
something subscribed to its output (``Workflow.subscribe_output``), or when its
workflow has secrets (so that what tasks print is masked); otherwise nothing of this
package runs. Standard library only.
"""

from __future__ import annotations

from flowweaver.logs.book import (
    AttemptFailure,
    AttemptLog,
    OutputItem,
    OutputListener,
    RunLog,
    TaskOutput,
)
from flowweaver.logs.files import (
    Section,
    last_lines,
    log_file_name,
    read_log,
    run_log_dir,
    sections,
)
from flowweaver.logs.routing import CURRENT, Sink, current_sink, routed

__all__ = [
    "CURRENT",
    "AttemptFailure",
    "AttemptLog",
    "OutputItem",
    "OutputListener",
    "RunLog",
    "Section",
    "Sink",
    "TaskOutput",
    "current_sink",
    "last_lines",
    "log_file_name",
    "read_log",
    "routed",
    "run_log_dir",
    "sections",
]
