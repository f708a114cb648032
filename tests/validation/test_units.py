"""The parsers behind the validation messages: resource memory and fabric8 quantities, period expressions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flinkop.validation._calendar import period_expression_error
from flinkop.validation._units import parse_quantity, parse_resource_memory

GI = 2**30
NOT_A_NUMBER = 'neither a decimal digit number, decimal point, nor "e" notation exponential mark.'


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024m", 1024 * 2**20),
        ("2g", 2 * GI),
        ("2G", 2 * GI),
        ("2 gb", 2 * GI),
        ("100", 100),
        ("1Gi", GI),
        ("2GiB", 2 * GI),
        ("1.5Gi", Decimal("1.5") * GI),
        ("512Mi", 512 * 2**20),
        ("1e3", 1000),
        ("1k", 1024),
    ],
)
def test_resource_memory(text: str, size: Decimal | int) -> None:
    """Flink's binary units first, then a Kubernetes quantity."""
    assert parse_resource_memory(text) == size


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", 2),
        ("1.5", Decimal("1.5")),
        ("10Gi", 10 * GI),
        ("4e9", 4 * 10**9),
        (".5", Decimal("0.5")),
    ],
)
def test_quantity(text: str, value: Decimal | int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Invalid quantity string format passed."),
        ("abc", f"Character a is {NOT_A_NUMBER}"),
        ("1Zi", f"Character Z is {NOT_A_NUMBER}"),
        ("1Mx", "Invalid quantity format passed to parse"),
        ("1.2.3", "Character array contains more than one decimal point."),
        ("4e9x", "Invalid quantity string format passed"),
        ("Gi", "No digits found."),
    ],
)
def test_quantity_errors(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_quantity(text)
    assert str(caught.value) == reason


KEY = "job.autoscaler.excluded.periods"


@pytest.mark.parametrize(
    "expression",
    [
        "9:30:30-10:50:20",
        "23:00-23:59:59:999",
        "* * 9-11,14-16 * * ?",
        "* * * ? * 2-6",
        "0 0/15 8-17 ? * MON-FRI",
        "0 0 12 L * ? 2030",
        "0 0 12 ? * 6#3",
        "9:30:30-10:50:20 && * * * ? * 2,5",
        "* * * ? * 2,5 && 9:30-10:50",
    ],
)
def test_valid_period_expressions(expression: str) -> None:
    assert period_expression_error(expression, KEY) is None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("12:00-10:00", "the value is neither a valid daily expression nor a valid cron expression"),
        ("25:00-26:00", "the value is neither a valid daily expression nor a valid cron expression"),
        ("* * * * *", "the value is neither a valid daily expression nor a valid cron expression"),
        ("* * * * * *", "the value is neither a valid daily expression nor a valid cron expression"),
        ("* * 24 ? * *", "the value is neither a valid daily expression nor a valid cron expression"),
        (
            "9:00-10:00 && 11:00-12:00",
            "the value can not be configured as dailyExpression && dailyExpression or cronExpression && "
            "cronExpression",
        ),
    ],
)
def test_invalid_period_expressions(expression: str, reason: str) -> None:
    assert (
        period_expression_error(expression, KEY)
        == f"Invalid value {expression} in the autoscaler config {KEY}, {reason}"
    )


def test_too_many_period_parts() -> None:
    expression = "9:00-10:00 && * * * ? * * && 11:00-12:00"
    assert (
        period_expression_error(expression, KEY)
        == f"Invalid value {expression} in the autoscaler config {KEY}"
    )
