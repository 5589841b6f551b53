"""The run tracker's one-pass ``apply`` keeps the rows and counts the reference
(``tests/_tracker_reference.py``, the code before it) keeps, for any events in any
order: tasks and unknown names, retries, pools, items of mapped tasks, results from the
cache or a resumed run, allowed failures, and look-alike values (``0`` for ``False``)."""

from __future__ import annotations

from typing import Any

from _tracker_reference import ReferenceTracker
from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver.cli.tracker import RunTracker, Snapshot
from flowweaver.events import TaskEvent
from flowweaver.task import TaskStatus

NAMES = ("a", "b", "m")

flags = st.sampled_from([False, True, 0, 1])


def events_of(
    names: list[str], parents: st.SearchStrategy[str | None]
) -> st.SearchStrategy[TaskEvent]:
    return st.builds(
        TaskEvent,
        task=st.sampled_from(names),
        status=st.sampled_from(TaskStatus),
        attempt=st.integers(0, 3),
        time=st.floats(0, 100),
        error=st.none() | st.sampled_from(["boom", ""]),
        duration=st.none() | st.floats(0, 5),
        retry_in=st.none() | st.floats(0, 2),
        cached=flags,
        reused=flags,
        reason=st.none() | st.sampled_from(["upstream failed", "waiting for pool db (1/1)"]),
        allowed=flags,
        parent=parents,
        items=st.none() | st.integers(0, 3),
    )


events = (
    events_of([*NAMES, "zz"], st.none())  # tasks (one the tracker doesn't know)
    | events_of([*NAMES, "zz"], st.none())
    | events_of(["m[0]", "m[1]"], st.sampled_from(["m", "a", "nope"]))  # items
)


def comparable(snapshot: Snapshot) -> dict[str, Any]:
    """A snapshot without its clock readings."""
    fields = snapshot._asdict()
    del fields["now"], fields["elapsed"]
    return fields


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(events, st.integers(0, 4)), max_size=25), st.none() | st.integers(0, 2))
def test_the_tracker_keeps_what_the_reference_keeps(
    stream: list[tuple[TaskEvent, int]], max_rows: int | None
) -> None:
    tracker, reference = RunTracker("w", NAMES), ReferenceTracker("w", NAMES)
    for event, look in stream:
        tracker.apply(event)
        reference.apply(event)
        if look == 0:  # a view takes a snapshot now and then (it writes the items' counts)
            assert repr(comparable(tracker.snapshot(max_rows))) == repr(
                comparable(reference.snapshot(max_rows))
            )
    assert repr(comparable(tracker.snapshot(max_rows))) == repr(
        comparable(reference.snapshot(max_rows))
    )
