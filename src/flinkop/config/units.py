"""Flink's duration and memory-size syntax, parsed and printed as Flink does.

Durations follow ``org.apache.flink.util.TimeUtils.parseDuration`` (Flink 1.19+/2.x):

* ``<digits>[ ]<unit>``: the number is the leading ASCII digits, the unit label is the rest,
  trimmed and lower-cased, so ``15 s``, ``15s``, ``5 MINUTE`` and ``1 d`` all parse;
* no unit means milliseconds (``500`` is half a second);
* text that does not start with a digit is read as an ISO-8601 duration (``PT5M``,
  ``P1DT2H``, ``PT0.5S``, case-insensitive) as Java's ``Duration.parse`` reads it;
* negative durations are rejected, as Flink rejects them.

Unit labels: ``d day days``, ``h hour hours``, ``min m minute minutes``,
``s sec secs second seconds``, ``ms milli millis millisecond milliseconds``,
``µs micro micros microsecond microseconds``, ``ns nano nanos nanosecond nanoseconds``.

Memory sizes follow ``org.apache.flink.configuration.MemorySize.parse``: leading digits,
then an optional case-insensitive unit (``b bytes``, ``k kb kibibytes``, ``m mb mebibytes``,
``g gb gibibytes``, ``t tb tebibytes``; all binary, ``1k`` = 1024 bytes); no unit means bytes.
Fractions (``1.5g``) are not Flink syntax and are rejected.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = [
    "format_duration",
    "format_iso8601_duration",
    "format_memory_size",
    "parse_duration",
    "parse_duration_nanos",
    "parse_memory_size",
]

_NANOS_PER_SECOND = 1_000_000_000
_MAX_LONG = 2**63 - 1

# (unit name used in messages, nanoseconds, labels); the first label is the one Flink prints.
_TIME_UNITS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("DAYS", 86_400 * _NANOS_PER_SECOND, ("d", "day", "days")),
    ("HOURS", 3_600 * _NANOS_PER_SECOND, ("h", "hour", "hours")),
    ("MINUTES", 60 * _NANOS_PER_SECOND, ("min", "m", "minute", "minutes")),
    ("SECONDS", _NANOS_PER_SECOND, ("s", "sec", "secs", "second", "seconds")),
    ("MILLISECONDS", 1_000_000, ("ms", "milli", "millis", "millisecond", "milliseconds")),
    ("MICROSECONDS", 1_000, ("µs", "micro", "micros", "microsecond", "microseconds")),
    ("NANOSECONDS", 1, ("ns", "nano", "nanos", "nanosecond", "nanoseconds")),
)
_TIME_LABELS = {label: nanos for _, nanos, labels in _TIME_UNITS for label in labels}
_TIME_UNITS_TEXT = ", ".join(f"{name}: ({' | '.join(labels)})" for name, _, labels in _TIME_UNITS)

# Java's Duration.parse pattern (java.time.Duration.Lazy.PATTERN), case-insensitive.
_ISO8601 = re.compile(
    r"([-+]?)P(?:([-+]?[0-9]+)D)?"
    r"(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?",
    re.IGNORECASE,
)

_MEMORY_UNITS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("b", "bytes")),
    (1024, ("k", "kb", "kibibytes")),
    (1024**2, ("m", "mb", "mebibytes")),
    (1024**3, ("g", "gb", "gibibytes")),
    (1024**4, ("t", "tb", "tebibytes")),
)
_MEMORY_LABELS = {label: factor for factor, labels in _MEMORY_UNITS for label in labels}
_MEMORY_UNITS_TEXT = " / ".join(f"({' | '.join(labels)})" for _, labels in _MEMORY_UNITS)


def _split_number(text: str, what: str) -> tuple[str, str, str]:
    """(trimmed text, leading digits, trimmed lower-case rest), or ValueError naming the input."""
    if not isinstance(text, str):
        raise ValueError(f"invalid {what} {text!r}: expected a string")
    trimmed = text.strip()
    if not trimmed:
        raise ValueError(f"invalid {what} {text!r}: empty or whitespace-only string")
    pos = 0
    while pos < len(trimmed) and "0" <= trimmed[pos] <= "9":
        pos += 1
    return trimmed, trimmed[:pos], trimmed[pos:].strip().lower()


def _parse_iso8601_nanos(original: str, trimmed: str) -> int:
    match = _ISO8601.fullmatch(trimmed)
    # Java requires at least one section, and a 'T' must be followed by one.
    if match is None or trimmed[-1:].upper() == "T" or (match.group(2) is None and match.group(3) is None):
        raise ValueError(
            f"invalid duration {original!r}: does not start with a number and is not an "
            "ISO-8601 duration such as PT5M"
        )
    negate, days, _, hours, minutes, seconds, fraction = match.groups()

    def part(value: str | None, nanos: int) -> int:
        return int(value) * nanos if value else 0

    total = (
        part(days, 86_400 * _NANOS_PER_SECOND)
        + part(hours, 3_600 * _NANOS_PER_SECOND)
        + part(minutes, 60 * _NANOS_PER_SECOND)
        + part(seconds, _NANOS_PER_SECOND)
    )
    if fraction:
        frac_nanos = int(fraction.ljust(9, "0"))
        total += -frac_nanos if seconds and seconds.startswith("-") else frac_nanos
    if negate == "-":
        total = -total
    if total < 0:
        raise ValueError(f"invalid duration {original!r}: negative durations are not supported")
    return total


def parse_duration_nanos(text: str) -> int:
    """Parse a Flink duration to whole nanoseconds (see the module docstring for the syntax)."""
    trimmed, number, label = _split_number(text, "duration")
    if not number:
        return _parse_iso8601_nanos(text, trimmed)
    if not label:
        nanos = _TIME_LABELS["ms"]
    elif label in _TIME_LABELS:
        nanos = _TIME_LABELS[label]
    else:
        raise ValueError(
            f"invalid duration {text!r}: time unit label {label!r} does not match any of the "
            f"recognized units: {_TIME_UNITS_TEXT}"
        )
    total = int(number) * nanos
    if total > _MAX_LONG * _NANOS_PER_SECOND:  # java.time.Duration holds up to 2^63-1 seconds
        raise ValueError(f"invalid duration {text!r}: numeric overflow")
    return total


def parse_duration(text: str) -> float:
    """Parse a Flink duration (``15 s``, ``5 min``, ``5 MINUTE``, ``1h``, ``100 ms``, ``PT5M``,
    ``500`` = 500 ms) to seconds. Raises ValueError naming the input."""
    return parse_duration_nanos(text) / _NANOS_PER_SECOND


def _to_nanos(seconds: float) -> int:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"cannot format duration {seconds!r}")
    return round(Decimal(repr(float(seconds))) * _NANOS_PER_SECOND)


def format_duration(seconds: float) -> str:
    """Print a duration as Flink's ``TimeUtils.formatWithHighestUnit``: the largest unit that
    loses nothing (``60`` -> ``1 min``, ``3601`` -> ``3601 s``, ``0.1`` -> ``100 ms``,
    ``0`` -> ``0 ms``). The result parses back with :func:`parse_duration`."""
    nanos = _to_nanos(seconds)
    if nanos < 0:
        raise ValueError(f"cannot format negative duration {seconds!r}")
    if nanos == 0:
        return "0 ms"
    for _, unit_nanos, labels in _TIME_UNITS:  # largest unit first
        if nanos % unit_nanos == 0:
            return f"{nanos // unit_nanos} {labels[0]}"
    raise AssertionError("nanoseconds always divide")  # pragma: no cover


def format_iso8601_duration(seconds: float) -> str:
    """Print a duration as Java's ``Duration.toString`` (``PT5M``, ``PT1H30M``, ``PT0.5S``,
    ``PT0S``), the form upstream's log lines use."""
    nanos = _to_nanos(seconds)
    if nanos == 0:
        return "PT0S"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    hours, rest = divmod(nanos, 3_600 * _NANOS_PER_SECOND)
    minutes, rest = divmod(rest, 60 * _NANOS_PER_SECOND)
    secs, frac = divmod(rest, _NANOS_PER_SECOND)
    out = "PT"
    if hours:
        out += f"{sign}{hours}H"
    if minutes:
        out += f"{sign}{minutes}M"
    if secs or frac:
        out += f"{sign}{secs}"
        if frac:
            out += "." + f"{frac:09d}".rstrip("0")
        out += "S"
    return out


def parse_memory_size(text: str) -> int:
    """Parse a Flink memory size (``1024m``, ``2g``, ``2 gb``, ``512 mebibytes``, ``100k``,
    ``1024`` = bytes; case-insensitive, binary units) to bytes. Raises ValueError naming the input."""
    _, number, label = _split_number(text, "memory size")
    if not number:
        raise ValueError(f"invalid memory size {text!r}: does not start with a number")
    if not label:
        factor = 1
    elif label in _MEMORY_LABELS:
        factor = _MEMORY_LABELS[label]
    else:
        raise ValueError(
            f"invalid memory size {text!r}: unit {label!r} does not match any of the recognized "
            f"units: {_MEMORY_UNITS_TEXT}"
        )
    total = int(number) * factor
    if total > _MAX_LONG:
        raise ValueError(f"invalid memory size {text!r}: cannot be represented as 64-bit number of bytes")
    return total


def format_memory_size(size: int) -> str:
    """Print a byte count as Flink's ``MemorySize.toString``: the largest unit that loses
    nothing (``1073741824`` -> ``1 gb``, ``2048`` -> ``2 kb``, ``1536`` -> ``1536 bytes``; like
    Flink, ``0`` -> ``0 tb``)."""
    if size < 0:
        raise ValueError(f"cannot format negative memory size {size!r}")
    factor, label = 1, "bytes"
    for unit_factor, labels in _MEMORY_UNITS:  # smallest unit first, as Flink's loop
        if size % unit_factor != 0:
            break
        factor, label = unit_factor, labels[1]
    return f"{size // factor} {label}"


# Kubernetes resource quantity suffixes (binary and decimal SI) and their multipliers.
QUANTITY_MULTIPLIERS: dict[str, Decimal] = {
    "": Decimal(1),
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
