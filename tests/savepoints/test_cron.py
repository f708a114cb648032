"""Quartz cron expressions: parsing, and the next fire time checked against a naive search."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flinkop.savepoints.cron import CronError, CronSchedule, parse_cron, quartz_weekday
from flinkop.savepoints.schedule import ScheduleError, parse_schedule


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def test_fields_lists_ranges_steps_and_names() -> None:
    cron = parse_cron("0/15 5,10-12 */6 ? JAN-MAR,DEC MON-FRI 2030-2032")
    assert cron.seconds == {0, 15, 30, 45}
    assert cron.minutes == {5, 10, 11, 12}
    assert cron.hours == {0, 6, 12, 18}
    assert cron.days_of_month is None
    assert cron.months == {1, 2, 3, 12}
    assert cron.days_of_week == frozenset({2, 3, 4, 5, 6})
    assert cron.years == {2030, 2031, 2032}


def test_wrapping_ranges_and_range_steps() -> None:
    cron = parse_cron("0 0 22-2 ? * FRI-MON")
    assert cron.hours == {22, 23, 0, 1, 2}
    assert cron.days_of_week == frozenset({6, 7, 1, 2})
    assert parse_cron("5-20/5 0 0 1 * ?").seconds == {5, 10, 15, 20}
    assert parse_cron("0 0 0 */10 * ?").days_of_month == frozenset({1, 11, 21, 31})


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 0 12 * * *", "exactly one of day-of-month and day-of-week"),
        ("0 0 12 ? * ?", "exactly one of day-of-month and day-of-week"),
        ("0 0 12 L * ?", "'L'"),
        ("0 0 12 15W * ?", "'W'"),
        ("0 0 12 ? * 6#3", "'#'"),
        ("0 0 12 ? * 5L", "'L'"),
        ("60 0 12 * * ?", "outside 0-59"),
        ("0 0 24 * * ?", "outside 0-23"),
        ("0 0 12 * 13 ?", "outside 1-12"),
        ("0 0 12 * FOO ?", "not a value"),
        ("0 0 12 * * ? 1969", "outside 1970-2099"),
        ("0/0 0 12 * * ?", "bad step"),
        ("? 0 12 * * ?", "only allowed for day-of-month or day-of-week"),
        ("0 0 12 * *", "6 or 7 fields"),
        ("0 0 1,,2 * * ?", "empty list item"),
    ],
)
def test_rejected(expression: str, problem: str) -> None:
    with pytest.raises(CronError, match=problem):
        parse_cron(expression)


def test_month_and_day_names_with_l_or_w_letters_are_names_not_specials() -> None:
    cron = parse_cron("0 0 0 ? JUL,APR WED")
    assert cron.months == {4, 7}
    assert cron.days_of_week == frozenset({4})


def test_next_fire_times() -> None:
    every_ten = parse_cron("*/10 * * * * ?")
    assert every_ten.next_after(at(2024, 5, 1, 12, 0, 0)) == at(2024, 5, 1, 12, 0, 10)
    assert every_ten.next_after(at(2024, 5, 1, 12, 0, 59)) == at(2024, 5, 1, 12, 1, 0)
    nightly = parse_cron("0 30 2 * * ?")
    assert nightly.next_after(at(2024, 12, 31, 3, 0, 0)) == at(2025, 1, 1, 2, 30, 0)
    # 2024-05-01 is a Wednesday; the next Monday 09:00
    monday = parse_cron("0 0 9 ? * MON")
    assert monday.next_after(at(2024, 5, 1, 10, 0, 0)) == at(2024, 5, 6, 9, 0, 0)
    leap = parse_cron("0 0 0 29 FEB ?")
    assert leap.next_after(at(2025, 1, 1)) == at(2028, 2, 29)
    assert parse_cron("0 0 0 1 1 ? 2030").next_after(at(2030, 1, 1, 0, 0, 1)) is None
    assert parse_cron("0 0 0 31 2 ?").next_after(at(2025, 1, 1)) is None
    # sub-second parts of the start are dropped: the next fire time is strictly later
    assert every_ten.next_after(at(2024, 5, 1, 12, 0, 10) + timedelta(microseconds=5)) == at(
        2024, 5, 1, 12, 0, 20
    )


def test_quartz_weekday_numbers_sunday_as_one() -> None:
    assert quartz_weekday(date(2024, 5, 5)) == 1  # Sunday
    assert quartz_weekday(date(2024, 5, 11)) == 7  # Saturday


def test_schedules_are_durations_or_cron() -> None:
    assert parse_schedule("") is None
    interval = parse_schedule("10 min")
    assert interval is not None and interval.interval == 600
    assert interval.due(at(2024, 1, 1), at(2024, 1, 1, 0, 10, 1))
    assert not interval.due(at(2024, 1, 1), at(2024, 1, 1, 0, 10, 0))  # strictly after
    off = parse_schedule("0")
    assert off is not None and not off.due(at(2000, 1, 1), at(2024, 1, 1))
    cron = parse_schedule("0 0 * * * ?")
    assert cron is not None and cron.cron is not None
    assert cron.due(at(2024, 1, 1, 0, 0, 0), at(2024, 1, 1, 1, 0, 1))
    assert not cron.due(at(2024, 1, 1, 0, 0, 0), at(2024, 1, 1, 0, 59, 59))
    with pytest.raises(ScheduleError):
        parse_schedule("every hour")
    with pytest.raises(ScheduleError):
        parse_schedule("0 0 12 L * ?")


# -- the next fire time against a naive search ---------------------------------------------------------
def _naive_next(cron: CronSchedule, start: datetime) -> datetime | None:
    """Day by day from the start's day; in a matching day the first (h, m, s) after the start."""
    start = start.replace(microsecond=0)
    times = sorted(product(cron.hours, cron.minutes, cron.seconds))
    day = start.date()
    for _ in range(366 * 9):
        if cron.day_matches(day):
            for h, m, s in times:
                moment = datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
                if moment > start:
                    return moment
        day += timedelta(days=1)
    return None


def _subset(low: int, high: int) -> st.SearchStrategy[str]:
    values = st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True)
    step = st.tuples(st.integers(low, high), st.integers(1, high - low + 1))
    return st.one_of(
        st.just("*"),
        values.map(lambda vs: ",".join(map(str, vs))),
        step.map(lambda t: f"{t[0]}/{t[1]}"),
        st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda t: f"{t[0]}-{t[1]}"),
    )


@st.composite
def expressions(draw: st.DrawFn) -> str:
    fields = [draw(_subset(0, 59)), draw(_subset(0, 59)), draw(_subset(0, 23))]
    dom, dow = draw(_subset(1, 28)), draw(_subset(1, 7))
    if draw(st.booleans()):
        fields += [dom, draw(_subset(1, 12)), "?"]
    else:
        fields += ["?", draw(_subset(1, 12)), dow]
    return " ".join(fields)


starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=150, deadline=None)
@given(expression=expressions(), start=starts)
def test_next_fire_time_is_the_first_match_after_the_start(expression: str, start: datetime) -> None:
    cron = parse_cron(expression)
    found = cron.next_after(start)
    assert found == _naive_next(cron, start)
    if found is not None:
        assert found > start and cron.matches(found)
