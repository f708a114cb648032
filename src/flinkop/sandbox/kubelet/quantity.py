"""Kubernetes resource quantities (`500m`, `1Gi`, `2.5`, `1e3`) as numbers."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from flinkop.config.units import QUANTITY_MULTIPLIERS

_SUFFIXES = QUANTITY_MULTIPLIERS
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse_quantity(value: str | int | float) -> Decimal:
    """The value of a quantity; ValueError when it does not parse."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation as exc:
        raise ValueError(f"invalid quantity {value!r}") from exc


def ceil_div(value: Decimal, divisor: Decimal) -> int:
    """`value / divisor` rounded up, as the downward API reports resources."""
    return math.ceil(value / divisor) if divisor else 0
