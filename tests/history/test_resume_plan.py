"""``resume.plan`` by itself: a workflow's tasks by position, with no store and no run."""

from __future__ import annotations

import pickle

from flowweaver import Task, Workflow
from flowweaver.history.resume import PastTask, plan


def stored(value: object, fingerprint: str) -> PastTask:
    return PastTask("completed", fingerprint, "stored", pickle.dumps(value), None)


def diamond() -> Workflow:
    """a -> b, a -> c, and d after b and c; e on its own, added last."""
    workflow = Workflow("diamond")
    workflow.add_task(Task("a", int))
    workflow.add_task(Task("b", int, depends_on=["a"]))
    workflow.add_task(Task("c", int, depends_on=["a"]))
    workflow.add_task(Task("d", int, depends_on=["b", "c"]))
    workflow.add_task(Task("e", int))
    return workflow


def test_tasks_are_taken_upstream_first_by_position() -> None:
    workflow = diamond()
    tasks = list(workflow.get_all_tasks().values())
    past = {name: stored(name.upper(), f"{name}1") for name in "abcde"}
    prints = ["a1", "b1", "c2", "d1", "e1"]  # c changed since the run

    info, reused, blobs = plan("r1", past, tasks, workflow.parents(), prints)

    assert reused == {"a": "A", "b": "B", "e": "E"}
    assert set(blobs) == {"a", "b", "e"}
    assert info.reused == ("a", "b", "e")
    assert info.rerun == {"c": "definition changed", "d": "upstream task 'c' runs again"}
    assert info.message == "resuming run r1: 3 of 5 tasks reused; changed: c"


def test_changed_tasks_are_listed_in_the_workflows_order() -> None:
    workflow = diamond()
    tasks = list(workflow.get_all_tasks().values())
    past = {name: stored(name, f"{name}1") for name in "abcde"}
    prints = ["a1", "b2", "c1", "d1", "e2"]  # b and e changed

    info, _, _ = plan("r1", past, tasks, workflow.parents(), prints)

    assert info.changed == ("b", "e")
    assert info.message.endswith("changed: b, e")
    assert list(info.rerun) == ["b", "d", "e"]
