"""``schedule:``: what the loader accepts and refuses, the due times, and the "missed"
rule, checked against small reference models that read cron fields by brute force."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver import SpecError
from flowweaver.spec import load_workflow
from flowweaver.spec.schedules import GRACE, missed_due, parse_schedule


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC: the reference models read fields of epoch minutes, which
    only match cron's wall clock where no daylight-saving change falls."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def spec(folder: Path, schedule_line: str) -> Path:
    path = folder / "nightly.yaml"
    text = f"""
    name: nightly
    description: the nightly load
    {schedule_line}
    tasks:
      a: {{shell: "true"}}
    """
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_workflow(path, check_imports=False)
    return [str(problem) for problem in caught.value.problems]


# -- the key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("'0 2 * * *'", "0 2 * * *"),
        ('"0   2 * *\\t*"', "0 2 * * *"),
        ("'*/15 9-17 * * mon-fri'", "*/15 9-17 * * mon-fri"),
        ("'30 4 1,15 jan-jun 0,7'", "30 4 1,15 jan-jun 0,7"),
        ("'0-59/20 * * * *'", "0-59/20 * * * *"),
        ("'@hourly'", "@hourly"),
        ("'@daily'", "@daily"),
        ("'@weekly'", "@weekly"),
        ("'@monthly'", "@monthly"),
    ],
)
def test_a_schedule_is_kept_as_cron_will_read_it(tmp_path: Path, written: str, kept: str) -> None:
    workflow = load_workflow(spec(tmp_path, f"schedule: {written}"), check_imports=False)
    assert workflow.spec is not None
    assert workflow.spec.schedule == kept


def test_no_schedule_is_none(tmp_path: Path) -> None:
    workflow = load_workflow(spec(tmp_path, ""), check_imports=False)
    assert workflow.spec is not None and workflow.spec.schedule is None


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("'0 25 * * *'", "'0 25 * * *': bad hour '25': hour is 0-23"),
        ("'61 * * * *'", "'61 * * * *': bad minute '61': minute is 0-59"),
        ("'0 0 * 13 *'", "'0 0 * 13 *': bad month '13': month is 1-12 or jan-dec"),
        ("'0 0 * * 8'", "'0 0 * * 8': bad day-of-week '8': day-of-week is 0-7 or sun-sat"),
        ("'0 0 32 * *'", "'0 0 32 * *': bad day-of-month '32': day-of-month is 1-31"),
        (
            "'0 0 31 2 *'",
            "'0 0 31 2 *': bad day-of-month '31': no month it names has that day",
        ),
        (
            "'5/15 * * * *'",
            "'5/15 * * * *': bad minute '5/15': a step needs '*' or a range before it "
            "('*/15', '5-59/15'); minute is 0-59",
        ),
        ("'0 0 L * *'", "'0 0 L * *': bad day-of-month 'L': 'L' and 'W' are not cron syntax"),
        ("'0 0 * * 5L'", "'0 0 * * 5L': bad day-of-week '5L': 'L' and 'W' are not cron syntax"),
        ("'0 0 * * 1#2'", "'0 0 * * 1#2': bad day-of-week '1#2': '#' is not cron syntax"),
        (
            "'0 2 * *'",
            "'0 2 * *' has 4 fields; write five fields (minute hour day-of-month month "
            "day-of-week) or @hourly, @daily, @weekly, @monthly",
        ),
        (
            "'0 0 2 * * *'",
            "'0 0 2 * * *' has 6 fields: cron has no seconds field; write five fields "
            "(minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly",
        ),
        (
            "'@dayly'",
            "'@dayly' is not a schedule (did you mean '@daily'?): write five fields "
            "(minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly",
        ),
        ("5", "expected a schedule such as '0 2 * * *', got the number 5"),
        ("[0, 2]", "expected a schedule such as '0 2 * * *', got a list"),
    ],
)
def test_a_bad_schedule_is_one_located_problem_with_the_reason(
    tmp_path: Path, written: str, message: str
) -> None:
    path = spec(tmp_path, f"schedule: {written}")
    assert problems(path) == [f"{path}:3:11: schedule: {message}"]


@pytest.mark.parametrize(
    ("written", "column", "message"),
    [
        ("*/5 * * * *", 12, "a value starting with '*' is read as an alias"),
        ("@daily", 11, "a value can't start with '@'"),
    ],
)
def test_an_unquoted_schedule_that_yaml_refuses_says_to_quote_it(
    tmp_path: Path, written: str, column: int, message: str
) -> None:
    path = spec(tmp_path, f"schedule: {written}")
    hint = "put the value in quotes, as in schedule: '*/5 * * * *' or '@daily'"
    assert problems(path) == [f"{path}:3:{column}: not valid YAML: {message}: {hint}"]


def test_cronsim_is_imported_only_for_a_spec_with_a_schedule(tmp_path: Path) -> None:
    for name in ("plain", "timed"):
        (tmp_path / name).mkdir()
    plain = spec(tmp_path / "plain", "")
    timed = spec(tmp_path / "timed", "schedule: '0 2 * * *'")
    code = (
        "import sys; from flowweaver.spec import load_workflow; "
        "load_workflow(sys.argv[1], check_imports=False); print('cronsim' in sys.modules)"
    )
    for path, imported in ((plain, "False"), (timed, "True")):
        result = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert result.stdout.strip() == imported


# -- due times against a reference --------------------------------------------------

BASE = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc).timestamp()  # a Monday
DAY = 86_400


def _listing(values: list[int]) -> str:
    return ",".join(str(value) for value in sorted(set(values)))


schedules = st.builds(
    lambda minutes, hours, weekdays: (minutes, hours, weekdays),
    st.lists(st.integers(0, 59), min_size=1, max_size=4),
    st.lists(st.integers(0, 23), min_size=1, max_size=4),
    st.none() | st.lists(st.integers(0, 6), min_size=1, max_size=3),
)


def expression(minutes: list[int], hours: list[int], weekdays: list[int] | None) -> str:
    days = "*" if weekdays is None else _listing(weekdays)
    return f"{_listing(minutes)} {_listing(hours)} * * {days}"


def matches(
    moment: float, minutes: list[int], hours: list[int], weekdays: list[int] | None
) -> bool:
    """The reference: cron's fields of one whole minute, read the obvious way."""
    at = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    cron_weekday = (at.weekday() + 1) % 7  # cron: 0 is Sunday; Python: 0 is Monday
    return (
        at.minute in minutes and at.hour in hours and (weekdays is None or cron_weekday in weekdays)
    )


def minutes_between(start: float, end: float) -> Iterator[float]:
    """Every whole minute ``m`` with ``start < m < end``."""
    moment = (int(start) // 60 + 1) * 60
    while moment < end:
        yield float(moment)
        moment += 60


@pytest.mark.usefixtures("utc")
@settings(max_examples=60, deadline=None)
@given(
    fields=schedules,
    offset=st.floats(0, 3 * DAY, allow_nan=False),
)
def test_the_next_due_times_are_the_next_matching_minutes(
    fields: tuple[list[int], list[int], list[int] | None], offset: float
) -> None:
    moment = BASE + offset
    end = moment + 8 * DAY
    found = parse_schedule(expression(*fields)).due_after(moment, 3)
    expected = [m for m in minutes_between(moment, end) if matches(m, *fields)]
    assert len(found) == 3
    assert [due for due in found if due < end] == expected[:3]


def reference_missed(
    fields: tuple[list[int], list[int], list[int] | None],
    installed: float,
    now: float,
    last_started: float | None,
) -> float | None:
    """The rule as the contract says it, by brute force over every minute."""
    due = [m for m in minutes_between(installed, now - GRACE) if matches(m, *fields)]
    if not due:
        return None
    latest = due[-1]
    if last_started is not None and last_started >= latest:
        return None
    return latest


@pytest.mark.usefixtures("utc")
@settings(max_examples=150, deadline=None)
@given(
    fields=schedules,
    installed_at=st.floats(0, 2 * DAY, allow_nan=False),
    waited=st.floats(0, 2 * DAY, allow_nan=False) | st.sampled_from([0.0, 59.5, 60.0, 60.5]),
    started=st.none() | st.floats(-DAY, 4 * DAY, allow_nan=False),
)
def test_missed_is_the_latest_due_time_without_a_run_since(
    fields: tuple[list[int], list[int], list[int] | None],
    installed_at: float,
    waited: float,
    started: float | None,
) -> None:
    installed = BASE + installed_at
    now = installed + waited
    last_started = None if started is None else BASE + min(started, installed_at + waited)
    schedule = parse_schedule(expression(*fields))
    expected = reference_missed(fields, installed, now, last_started)
    assert missed_due(schedule, installed, now, last_started) == expected


@pytest.mark.usefixtures("utc")
def test_missed_at_the_edges_of_the_grace_and_of_the_run() -> None:
    daily = parse_schedule("0 2 * * *")
    installed = BASE  # Monday 00:00
    due = BASE + 2 * 3600
    assert missed_due(daily, installed, due + GRACE - 0.5, None) is None
    assert missed_due(daily, installed, due + GRACE, None) is None  # not *more* than
    assert missed_due(daily, installed, due + GRACE + 0.5, None) == due
    assert missed_due(daily, installed, due + 3600, due) is None  # started on time
    assert missed_due(daily, installed, due + 3600, due - 1) == due  # the run before
    assert missed_due(daily, due + 1, due + 3600, None) is None  # installed after it
    assert missed_due(daily, installed, due + DAY + 3600, due) == due + DAY  # next night
