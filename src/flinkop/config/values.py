"""Configuration values as Flink's ``Configuration`` stores, converts and prints them.

A loaded configuration is a flat ``{key: value}`` map whose values are Flink strings, or
lists of Flink strings when a standard-YAML ``config.yaml`` wrote a YAML list. This module
turns YAML/JSON scalars into Flink strings (``true``, ``8085``, ``1.5``), splits list and
map values with Flink's legacy syntax (``a;b``, ``k1:v1,k2:v2``, with ``'...'``/``"..."``
quoting as ``StructuredOptionsSplitter``), and reads the typed values of config options
(booleans, integers, doubles, enums) with Flink's rules and Flink-like error messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeAlias

__all__ = [
    "ConfigValue",
    "flatten_flink_configuration",
    "java_double_str",
    "java_to_string",
    "parse_bool",
    "parse_double",
    "parse_enum",
    "parse_int",
    "parse_list",
    "parse_map",
    "split_escaped",
    "to_config_value",
    "to_flink_string",
]

ConfigValue: TypeAlias = str | list[str]
"""One value of a flat configuration: a Flink string, or a list read from a YAML list."""


def java_double_str(value: float) -> str:
    """``Double.toString`` (also Jackson's text of a double): ``1.0``, ``0.5``, ``1.0E-5``, ``1.0E7``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    # repr() gives the shortest digits that round-trip, as Java (JDK 19+) does.
    digits_tuple = Decimal(repr(magnitude)).normalize().as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits)
    exponent = int(digits_tuple.exponent) + len(digits) - 1  # scientific exponent
    if 1e-3 <= magnitude < 1e7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            frac = digits[exponent + 1 :] or "0"
        else:
            whole = "0"
            frac = "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{frac}"
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return f"{sign}{mantissa}E{exponent}"


def to_flink_string(value: Any) -> str:
    """A YAML/JSON value as the Flink string a deployment's config file carries.

    Booleans are ``true``/``false``, numbers print as Java prints them, lists are
    ``;``-joined (Flink's list syntax, read by 1.x and, as a fallback, by 2.x), maps are
    ``k:v,k2:v2`` (Flink's map syntax).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double_str(value)
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{to_flink_string(k)}:{to_flink_string(v)}" for k, v in value.items())
    if isinstance(value, Sequence):
        return ";".join(to_flink_string(item) for item in value)
    return str(value)


def to_config_value(value: Any) -> ConfigValue:
    """A YAML value as stored in a flat configuration: lists stay lists, scalars become strings."""
    if isinstance(value, list | tuple):
        return [to_flink_string(item) for item in value]
    return to_flink_string(value)


def java_to_string(value: ConfigValue) -> str:
    """A stored value as Java's ``toString`` prints it in a map: lists as ``[a, b]``."""
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return value


# --- Flink's StructuredOptionsSplitter -------------------------------------------------------


def _consume_in_quotes(text: str, quote: str, cursor: int, out: list[str]) -> int:
    i = cursor + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return i + 1
        out.append(char)
        i += 1
    raise ValueError(f"could not split {text!r}: quoting was not closed properly")


def split_escaped(text: str, delimiter: str) -> list[str]:
    """Split ``text`` at ``delimiter`` outside ``'...'``/``"..."`` quotes (a doubled quote
    escapes itself), trimming unquoted parts, exactly as Flink's ``StructuredOptionsSplitter``."""
    tokens: list[tuple[str, str, int]] = []  # (kind, text, position)
    cursor = 0
    while cursor < len(text):
        char = text[cursor]
        if char in "'\"":
            buffer: list[str] = []
            next_cursor = _consume_in_quotes(text, char, cursor, buffer)
            tokens.append(("quoted", "".join(buffer), cursor))
        elif char == delimiter:
            tokens.append(("delimiter", char, cursor))
            next_cursor = cursor + 1
        elif not char.isspace():
            end = text.find(delimiter, cursor)
            end = len(text) if end < 0 else end
            tokens.append(("unquoted", text[cursor:end].strip(), cursor))
            next_cursor = end
        else:
            next_cursor = cursor + 1
        cursor = next_cursor
    parts: list[str] = []
    for index, (kind, token, _) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if kind == "quoted":
            if following is not None and following[0] != "delimiter":
                raise ValueError(f"could not split {text!r}: illegal quoting at position {following[2]}")
            parts.append(token)
        elif kind == "unquoted":
            parts.append(token)
        elif following is not None and following[0] == "delimiter":
            parts.append("")
    return parts


# --- typed reads -------------------------------------------------------------------------------


def _scalar(value: ConfigValue, what: str) -> str:
    if isinstance(value, list):
        raise ValueError(f"expected {what}, got a list {java_to_string(value)!r}")
    return value


def parse_bool(value: ConfigValue) -> bool:
    """``true``/``false`` in any case, as Flink's ``convertToBoolean`` (no yes/no/1/0)."""
    text = _scalar(value, "a boolean").strip().upper()
    if text == "TRUE":
        return True
    if text == "FALSE":
        return False
    raise ValueError(f"unrecognized boolean {value!r}: expected true or false (case insensitive)")


_INT = re.compile(r"[+-]?[0-9]+")


def parse_int(value: ConfigValue) -> int:
    """A 32-bit integer, as Flink's ``convertToInt``."""
    text = _scalar(value, "an integer").strip()
    if not _INT.fullmatch(text):
        raise ValueError(f"invalid integer {value!r}")
    number = int(text)
    if not -(2**31) <= number < 2**31:
        raise ValueError(f"integer {value!r} is out of the 32-bit range")
    return number


_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?)")


def parse_double(value: ConfigValue) -> float:
    """A double, as Java's ``Double.parseDouble`` reads the common forms."""
    text = _scalar(value, "a number").strip()
    if not _DOUBLE.fullmatch(text):
        raise ValueError(f"invalid number {value!r}")
    return float(text.rstrip("fFdD").replace("Infinity", "inf"))


def parse_enum(value: ConfigValue, allowed: Sequence[str]) -> str:
    """One of ``allowed``, matched case-insensitively as Flink's ``convertToEnum``; returns the
    canonical spelling."""
    text = _scalar(value, "an enum value").strip()
    for candidate in allowed:
        if candidate.upper() == text.upper():
            return candidate
    raise ValueError(f"invalid value {value!r}: expected one of {', '.join(allowed)}")


def parse_list(value: ConfigValue) -> list[str]:
    """A list: a YAML list as is, or a string split at ``;`` (Flink's list syntax)."""
    if isinstance(value, list):
        return list(value)
    return split_escaped(value, ";")


def parse_map(value: ConfigValue | Mapping[str, str]) -> dict[str, str]:
    """A map: ``k1:v1,k2:v2`` (Flink's map syntax) or an already split mapping."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        raise ValueError(f"expected a map like k1:v1,k2:v2, got a list {java_to_string(value)!r}")
    result: dict[str, str] = {}
    for item in split_escaped(value, ","):
        pair = split_escaped(item, ":")
        if len(pair) != 2:
            raise ValueError(f"invalid map {value!r}: item {item!r} is not a key:value pair")
        result[pair[0]] = pair[1]
    return result


def flatten_flink_configuration(config: Mapping[str, Any] | None) -> dict[str, str]:
    """A CR's ``flinkConfiguration`` (flat, or nested as newer CRDs allow) as flat Flink strings.

    Upstream's ``ConfigObjectNode.asFlatMap``: nested maps join their keys with ``.``, lists
    become ``;``-joined strings (an empty list sets nothing), scalars their text. ``null``
    values set nothing (upstream would store the text ``null``).
    """
    flat: dict[str, str] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, Mapping):
            for child_key, child in node.items():
                walk(child, f"{key}.{child_key}" if key else str(child_key))
        elif isinstance(node, list | tuple):
            if node:
                flat[key] = ";".join(to_flink_string(item) for item in node)
        elif node is not None:
            flat[key] = to_flink_string(node)

    walk(config or {}, "")
    return flat
