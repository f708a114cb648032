"""Autoscaler period expressions, ``[daily] [&& cron]``, as upstream's ``CalendarUtils`` validates them.

A daily expression is ``HH:MM[:SS[:mmm]]-HH:MM[:SS[:mmm]]`` (Quartz ``DailyCalendar``, start
strictly before end); a cron expression has Quartz's 6 or 7 fields. The cron check is
structural (field syntax, value ranges, increments, the day-of-month/day-of-week ``?`` rule),
an approximation of Quartz's ``CronExpression`` parser that accepts what it accepts in practice.
"""

from __future__ import annotations

import re

_INT = re.compile(r"[+-]?\d+")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Per cron field: (lowest, highest) value, the names it accepts, the largest increment.
_FIELDS: tuple[tuple[int, int, tuple[str, ...], int], ...] = (
    (0, 59, (), 59),  # seconds
    (0, 59, (), 59),  # minutes
    (0, 23, (), 23),  # hours
    (1, 31, (), 31),  # day of month
    (1, 12, _MONTHS, 12),  # month
    (1, 7, _DAYS, 7),  # day of week
    (1970, 2299, (), 2299),  # year
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 3, 5


def _java_split(text: str, separator: str) -> list[str]:
    """``String.split``: trailing empty strings are dropped."""
    parts = text.split(separator)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def _time_of_day(text: str) -> tuple[int, int, int, int] | None:
    parts = [part for part in text.split(":") if part]  # Quartz splits with a StringTokenizer
    if not 2 <= len(parts) <= 4 or not all(_INT.fullmatch(part) for part in parts):
        return None
    hour, minute, second, millis = [int(part) for part in parts] + [0] * (4 - len(parts))
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59 and 0 <= millis <= 999):
        return None
    return hour, minute, second, millis


def is_daily_expression(text: str) -> bool:
    bounds = _java_split(text, "-")
    if len(bounds) != 2:
        return False
    start, end = _time_of_day(bounds[0]), _time_of_day(bounds[1])
    return start is not None and end is not None and start < end


def _value(token: str, field: int) -> int | None:
    low, high, names, _ = _FIELDS[field]
    if token in names:
        return names.index(token) + low
    if token.isdigit() and low <= int(token) <= high:
        return int(token)
    return None


def _cron_item_ok(item: str, field: int) -> bool:
    high_step = _FIELDS[field][3]
    base, _, step = item.partition("/")
    if step and not (step.isdigit() and 0 < int(step) <= high_step):
        return False
    if base == "*":
        return True
    if field == _DAY_OF_MONTH:
        if base in ("L", "LW"):
            return not step
        if offset := re.fullmatch(r"L-(\d+)", base):
            return not step and int(offset[1]) <= 30
        if base.endswith("W"):
            return not step and _value(base[:-1], field) is not None
    if field == _DAY_OF_WEEK:
        if base == "L":
            return not step
        if base.endswith("L"):
            return not step and _value(base[:-1], field) is not None
        if "#" in base:
            day, _, nth = base.partition("#")
            return not step and _value(day, field) is not None and nth.isdigit() and 1 <= int(nth) <= 5
    first, dash, last = base.partition("-")
    if _value(first, field) is None:
        return False
    return not dash or _value(last, field) is not None


def is_cron_expression(text: str) -> bool:
    fields = text.upper().split()
    if len(fields) < 6:
        return False
    for index, value in enumerate(fields[:7]):
        if value == "?":
            if index not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
                return False
            continue
        if not all(item and _cron_item_ok(item, index) for item in value.split(",")):
            return False
    # Quartz: exactly one of day-of-month and day-of-week must be '?'.
    return ("?" in fields[_DAY_OF_MONTH]) != ("?" in fields[_DAY_OF_WEEK])


def period_expression_error(expression: str, key: str) -> str | None:
    """Upstream's message for an invalid ``excluded.periods`` item, or None."""
    parts = _java_split(expression, "&&")
    if len(parts) > 2:
        return f"Invalid value {expression} in the autoscaler config {key}"
    has_daily = has_cron = False
    for part in parts:
        daily, cron = is_daily_expression(part.strip()), is_cron_expression(part.strip())
        has_daily, has_cron = has_daily or daily, has_cron or cron
        if not daily and not cron:
            return (
                f"Invalid value {expression} in the autoscaler config {key}, the value is neither a valid "
                "daily expression nor a valid cron expression"
            )
    if len(parts) == 2 and not (has_daily and has_cron):
        return (
            f"Invalid value {expression} in the autoscaler config {key}, the value can not be configured as "
            "dailyExpression && dailyExpression or cronExpression && cronExpression"
        )
    return None
