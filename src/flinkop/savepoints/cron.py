"""Quartz cron expressions for periodic snapshots: parsing and the next fire time (pure).

Fields, as in Quartz: ``seconds minutes hours day-of-month month day-of-week [year]``. Supported: ``*``,
``?`` (day-of-month or day-of-week, exactly one of them, as Quartz requires), values, lists (``a,b``),
ranges (``a-b``, wrapping like ``FRI-MON`` or ``22-2``), steps (``*/n``, ``a/n``, ``a-b/n``), month names
(``JAN``..``DEC``) and day names (``SUN``..``SAT``; day-of-week 1 is Sunday). Quartz's ``L``, ``W`` and
``#`` are rejected with a :class:`CronError`. Times are UTC (the operator's JVM runs in UTC in the
upstream images, which is what its Quartz evaluation used).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MAX_YEAR = 2099  # Quartz's last year
_FIELD_COUNTS = (6, 7)


class CronError(ValueError):
    """Not a Quartz cron expression this operator can evaluate."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_SECOND = _Field("seconds", 0, 59)
_MINUTE = _Field("minutes", 0, 59)
_HOUR = _Field("hours", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, MONTHS)
_DOW = _Field("day-of-week", 1, 7, DAYS)
_YEAR = _Field("year", 1970, MAX_YEAR)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression: the allowed values of each field (``None`` day set: ``?``)."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None
    months: frozenset[int]
    days_of_week: frozenset[int] | None
    years: frozenset[int]

    def day_matches(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days_of_month is not None and day.day not in self.days_of_month:
            return False
        return self.days_of_week is None or quartz_weekday(day) in self.days_of_week

    def matches(self, moment: datetime) -> bool:
        return (
            self.day_matches(moment.date())
            and moment.hour in self.hours
            and moment.minute in self.minutes
            and moment.second in self.seconds
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment`` (UTC, whole seconds); None if there is none."""
        return _next_after(self, moment)


def quartz_weekday(day: date) -> int:
    """1 = Sunday .. 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def looks_like_cron(text: str) -> bool:
    return len(text.split()) in _FIELD_COUNTS


def parse_cron(expression: str) -> CronSchedule:
    parts = expression.upper().split()
    if len(parts) not in _FIELD_COUNTS:
        raise CronError(f"{expression!r}: a Quartz cron expression has 6 or 7 fields, not {len(parts)}")
    for part in parts:
        for unsupported in ("L", "W", "#"):
            if unsupported in _strip_names(part):
                raise CronError(f"{expression!r}: '{unsupported}' (in {part!r}) is not supported")
    dom_any, dow_any = parts[3] == "?", parts[5] == "?"
    if dom_any == dow_any:
        raise CronError(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?' (as in Quartz)"
        )
    for index in (0, 1, 2, 4, 6):
        if index < len(parts) and parts[index] == "?":
            raise CronError(f"{expression!r}: '?' is only allowed for day-of-month or day-of-week")
    return CronSchedule(
        expression=expression,
        seconds=_parse_field(parts[0], _SECOND),
        minutes=_parse_field(parts[1], _MINUTE),
        hours=_parse_field(parts[2], _HOUR),
        days_of_month=None if dom_any else _parse_field(parts[3], _DOM),
        months=_parse_field(parts[4], _MONTH),
        days_of_week=None if dow_any else _parse_field(parts[5], _DOW),
        years=_parse_field(parts[6], _YEAR) if len(parts) == 7 else frozenset(range(1970, MAX_YEAR + 1)),
    )


def _strip_names(part: str) -> str:
    """The part without month/day names (``JUL`` holds an ``L``, ``WED`` a ``W``)."""
    for name in (*MONTHS, *DAYS):
        part = part.replace(name, "")
    return part


def _value(text: str, field: _Field) -> int:
    if field.names is not None and text in field.names:
        return field.names[text]
    if not text.isdigit():
        raise CronError(f"{field.name}: {text!r} is not a value")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{field.name}: empty list item in {text!r}")
        values.update(_parse_item(item, field))
    return frozenset(values)


def _parse_item(item: str, field: _Field) -> list[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"{field.name}: bad step in {item!r}")
        step = int(step_text)
        if step > field.high - field.low + 1 and field is not _YEAR:
            raise CronError(f"{field.name}: step {step} is larger than the field's range")
    if base == "*":
        start, end = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _value(first, field), _value(last, field)
    else:
        start = _value(base, field)
        # Quartz: "a/n" runs from a to the field's end; a plain "a" is just a.
        end = field.high if slash else start
    if start <= end:
        return list(range(start, end + 1, step))
    # a wrapping range (FRI-MON, 22-2): on past the field's end, back from its start
    span = field.high - field.low + 1
    count = end + span - start
    return [field.low + (start - field.low + i) % span for i in range(0, count + 1, step)]


def _next_after(schedule: CronSchedule, moment: datetime) -> datetime | None:
    """Walk forward field by field, jumping to the next allowed value of the first field that does not
    match (years, then months, then days, then hours, minutes, seconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    last_year = min(max(schedule.years), current.year + 400)
    while current.year <= last_year:
        if current.year not in schedule.years:
            year = _next_in(schedule.years, current.year)
            if year is None:
                return None
            current = datetime(year, 1, 1, tzinfo=UTC)
            continue
        if current.month not in schedule.months:
            month = _next_in(schedule.months, current.month)
            current = (
                datetime(current.year, month, 1, tzinfo=UTC)
                if month is not None
                else datetime(current.year + 1, 1, 1, tzinfo=UTC)
            )
            continue
        if not schedule.day_matches(current.date()):
            current = datetime(current.year, current.month, current.day, tzinfo=UTC) + timedelta(days=1)
            continue
        hour = _next_in(schedule.hours, current.hour)
        if hour is None:
            current = _next_day(current)
            continue
        if hour != current.hour:
            current = current.replace(hour=hour, minute=0, second=0)
        minute = _next_in(schedule.minutes, current.minute)
        if minute is None:
            current = current.replace(minute=0, second=0) + timedelta(hours=1)
            continue
        if minute != current.minute:
            current = current.replace(minute=minute, second=0)
        second = _next_in(schedule.seconds, current.second)
        if second is None:
            current = current.replace(second=0) + timedelta(minutes=1)
            continue
        return current.replace(second=second)
    return None


def _next_day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)


def _next_in(values: frozenset[int], at_least: int) -> int | None:
    candidates = [v for v in values if v >= at_least]
    return min(candidates) if candidates else None


__all__ = ["MAX_YEAR", "CronError", "CronSchedule", "looks_like_cron", "parse_cron", "quartz_weekday"]
