"""Flink's duration and memory-size syntax."""

from __future__ import annotations

import pytest

from flinkop.config.units import (
    format_duration,
    format_iso8601_duration,
    format_memory_size,
    parse_duration,
    parse_memory_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15 s", 15),
        ("15s", 15),
        ("  15   s ", 15),
        ("5 min", 300),
        ("5 MINUTE", 300),
        ("5 minutes", 300),
        ("5m", 300),
        ("1h", 3600),
        ("2 hours", 7200),
        ("1 d", 86400),
        ("1 days", 86400),
        ("100 ms", 0.1),
        ("100 millis", 0.1),
        ("500", 0.5),  # no unit: milliseconds, as Flink's TimeUtils
        ("0", 0),
        ("30 sec", 30),
        ("30 secs", 30),
        ("1 second", 1),
        ("1500 µs", 0.0015),
        ("2000000 ns", 0.002),
        ("PT5M", 300),
        ("pt5m", 300),
        ("PT1H30M", 5400),
        ("P1DT2H", 93600),
        ("PT0.5S", 0.5),
        ("PT-1M+90S", 30),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "ISO-8601"),
        ("5 fortnights", "does not match any of the recognized units"),
        ("1.5 s", "does not match any of the recognized units"),  # Flink has no fractions
        ("-1 min", "ISO-8601"),
        ("-PT1M", "negative"),
        ("PT", "ISO-8601"),
        ("P1DT", "ISO-8601"),
        ("P", "ISO-8601"),
    ],
)
def test_parse_duration_errors_name_the_input(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as error:
        parse_duration(text)
    assert repr(text) in str(error.value)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (60, "1 min"),
        (3601, "3601 s"),
        (0.1, "100 ms"),
        (0, "0 ms"),
        (86400, "1 d"),
        (7200, "2 h"),
        (15, "15 s"),
    ],
)
def test_format_duration_uses_the_highest_exact_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "PT5M"), (5400, "PT1H30M"), (0.5, "PT0.5S"), (0, "PT0S"), (86400, "PT24H")]
)
def test_format_iso8601_duration_is_javas_duration_to_string(seconds: float, text: str) -> None:
    assert format_iso8601_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024m", 1024**3),
        ("2g", 2 * 1024**3),
        ("2 gb", 2 * 1024**3),
        ("2 GB", 2 * 1024**3),
        ("512 mebibytes", 512 * 1024**2),
        ("1024", 1024),
        ("100k", 102400),
        ("100 KB", 102400),
        ("3 kibibytes", 3072),
        ("7b", 7),
        ("7 bytes", 7),
        ("1t", 1024**4),
        ("1 tebibytes", 1024**4),
        ("4 gibibytes", 4 * 1024**3),
    ],
)
def test_parse_memory_size(text: str, size: int) -> None:
    assert parse_memory_size(text) == size


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("m", "does not start with a number"),
        ("1.5g", "does not match any of the recognized units"),
        ("12 parsecs", "does not match any of the recognized units"),
        ("99999999999t", "64-bit"),
    ],
)
def test_parse_memory_size_errors_name_the_input(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid memory size") as error:
        parse_memory_size(text)
    assert repr(text) in str(error.value)
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("size", "text"), [(1024**3, "1 gb"), (2048, "2 kb"), (1536, "1536 bytes"), (7, "7 bytes"), (0, "0 tb")]
)
def test_format_memory_size_is_flinks_to_string(size: int, text: str) -> None:
    assert format_memory_size(size) == text
    assert parse_memory_size(text) == size
