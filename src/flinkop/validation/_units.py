"""Kubernetes quantities as upstream reads them, with the error texts of the Java code they stand in for.

Upstream reports a parse failure by embedding the Java exception's message in its validation
message (``"JobManager resource memory parse error: " + e.getMessage()``); a memory string that
is not Flink syntax is read as a fabric8 ``Quantity``, so these parsers raise
:class:`ValueError` worded as fabric8's ``Quantity`` and ``java.math.BigDecimal``. Flink's own
memory and duration syntax is :mod:`flinkop.config.units`.
"""

from __future__ import annotations

import re
from decimal import Decimal

from flinkop.config.units import QUANTITY_MULTIPLIERS, parse_memory_size

# fabric8 Quantity: the characters that start the unit part, and the unit multipliers.
_QUANTITY_UNIT_START = frozenset("eEinumkKMGTP")
_QUANTITY_MULTIPLES = QUANTITY_MULTIPLIERS

_JAVA_WHITESPACE = re.compile(r"[ \t\n\x0b\f\r]")  # Java regex \s


def java_trim(text: str) -> str:
    """String.trim(): strips characters <= U+0020 at both ends (not Unicode whitespace)."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def is_blank(text: str | None) -> bool:
    """Flink StringUtils.isNullOrWhitespaceOnly."""
    return text is None or not text.strip()


def _big_decimal(text: str) -> Decimal:
    """``new java.math.BigDecimal(text)`` for the plain-decimal inputs fabric8 hands it."""
    body = text[1:] if text[:1] in ("+", "-") else text
    seen_digit = seen_point = False
    for index, char in enumerate(body):
        if "0" <= char <= "9":
            seen_digit = True
        elif char == ".":
            if seen_point:
                raise ValueError("Character array contains more than one decimal point.")
            seen_point = True
        elif char in "eE":
            if not re.fullmatch(r"[+-]?\d+", body[index + 1 :]):
                raise ValueError("No exponent digits.")
            break
        else:
            raise ValueError(
                f'Character {char} is neither a decimal digit number, decimal point, nor "e" notation '
                "exponential mark."
            )
    if not seen_digit:
        raise ValueError("No digits found.")
    return Decimal(text)


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes quantity as fabric8 reads it (``Quantity.parse`` + ``getAmountInBytes``).

    Memory quantities come out in bytes, CPU quantities in cores.
    """
    if not text:
        raise ValueError("Invalid quantity string format passed.")
    value = "0" + text if text.startswith(".") else text
    unit_at = next((i for i, char in enumerate(value) if char in _QUANTITY_UNIT_START), len(value))
    amount, unit = value[:unit_at], value[unit_at:]
    unit_has_digit = any(char.isdigit() for char in unit)
    if unit_has_digit and unit[-1].isalpha():
        raise ValueError("Invalid quantity string format passed")
    digits = _big_decimal(amount)
    if unit_has_digit and len(unit) > 1:  # a decimal exponent: 4e9, 129e-6
        if not re.fullmatch(r"[+-]?\d+", unit[1:]):
            raise ValueError(f'For input string: "{unit[1:]}"')
        return digits * Decimal(10) ** int(unit[1:])
    if unit not in _QUANTITY_MULTIPLES:
        raise ValueError("Invalid quantity format passed to parse")
    return digits * _QUANTITY_MULTIPLES[unit]


def quantity_text(value: int | float | str) -> str:
    """A quantity as it is on the wire (YAML may give a bare number)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_resource_memory(text: str) -> Decimal:
    """Memory of ``jobManager/taskManager.resource(s)``, in bytes, as upstream reads it.

    Flink ``MemorySize`` syntax first (``1024m`` = 1024 MiB, ``2g``); only if that fails, a
    Kubernetes quantity (``2Gi``, ``1.5Gi``), after upstream's rewrite: whitespace removed, upper
    case, a trailing ``B`` dropped and a trailing ``I`` turned back into ``i``.

    Deviation (deliberate): upstream re-parses the quantity's decimal string with ``MemorySize``,
    which rejects fractional byte counts such as 1.5Gi = "1610612736.0"; those are accepted here.
    Negative results are rejected, as there.
    """
    try:
        return Decimal(parse_memory_size(text))
    except ValueError:
        pass
    formatted = _JAVA_WHITESPACE.sub("", java_trim(text)).upper()
    if formatted.endswith("B"):
        formatted = formatted[:-1]
    if formatted.endswith("I"):
        formatted = formatted[:-1] + "i"
    value = parse_quantity(formatted)
    if value < 0:
        raise ValueError("text does not start with a number")
    return value
