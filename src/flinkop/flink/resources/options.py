"""Reading typed values out of a flat Flink configuration (``dict[str, str]``), as Flink's Configuration does.

Values are strings in Flink's "legacy" string form (what ``Configuration.toMap()`` gives): lists are
``;``-separated, maps are ``k1:v1,k2:v2``, lists of maps ``k:v,k:v;k:v``, with single or double quotes
around items that contain a separator. Flink 2.x also accepts YAML flow forms (``[a, b]``, ``{k: v}``),
which are read here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml


class ResourceRenderError(ValueError):
    """The FlinkDeployment and its configuration cannot be turned into Kubernetes objects."""


# -- Flink's StructuredOptionsSplitter ---------------------------------------------------------------------


def split_escaped(text: str, delimiter: str) -> list[str]:
    """Split ``text`` at ``delimiter`` outside of single or double quotes (quotes doubled inside quotes
    are escaped quotes); unquoted parts are trimmed. Raises ValueError on bad quoting."""
    tokens: list[tuple[str, str, int]] = []  # (kind, text, position)
    cursor = 0
    while cursor < len(text):
        char = text[cursor]
        if char in "'\"":
            value, cursor_after = _consume_in_quotes(text, char, cursor)
            tokens.append(("quoted", value, cursor))
            cursor = cursor_after
        elif char == delimiter:
            tokens.append(("delimiter", char, cursor))
            cursor += 1
        elif not char.isspace():
            end = text.find(delimiter, cursor)
            end = len(text) if end < 0 else end
            tokens.append(("unquoted", text[cursor:end].strip(), cursor))
            cursor = end
        else:
            cursor += 1
    splits: list[str] = []
    for index, (kind, value, _) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if kind == "quoted":
            if following is not None and following[0] != "delimiter":
                raise ValueError(f"Could not split string. Illegal quoting at position: {following[2] - 1}")
            splits.append(value)
        elif kind == "unquoted":
            splits.append(value)
        elif following is not None and following[0] == "delimiter":
            splits.append("")
    return splits


def _consume_in_quotes(text: str, quote: str, cursor: int) -> tuple[str, int]:
    chars: list[str] = []
    index = cursor + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            if index + 1 < len(text) and text[index + 1] == quote:
                chars.append(char)
                index += 2
                continue
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise ValueError("Could not split string. Quoting was not closed properly.")


def escape_with_single_quote(text: str, *separators: str) -> str:
    """Quote ``text`` when it contains a separator or a quote, as Flink does when writing list/map items."""
    if any(sep in text for sep in separators) or '"' in text or "'" in text:
        return "'" + text.replace("'", "''") + "'"
    return text


def encode_list(items: Iterable[str]) -> str:
    """A list option in Flink's string form: ``a;b``."""
    return ";".join(escape_with_single_quote(item, ";") for item in items)


def encode_map(mapping: Mapping[str, str]) -> str:
    """A map option in Flink's string form: ``k1:v1,k2:v2`` (insertion order)."""
    return ",".join(
        escape_with_single_quote(key, ":", ",") + ":" + escape_with_single_quote(value, ":", ",")
        for key, value in mapping.items()
    )


def encode_map_list(mappings: Iterable[Mapping[str, str]]) -> str:
    """A list-of-maps option in Flink's string form: ``k:v,k:v;k:v``."""
    return encode_list(encode_map(mapping) for mapping in mappings)


def decode_list(text: str) -> list[str]:
    loaded = _yaml_flow(text, "[")
    if isinstance(loaded, list):
        return [_scalar_text(item) for item in loaded]
    return split_escaped(text, ";")


def decode_map(text: str) -> dict[str, str]:
    loaded = _yaml_flow(text, "{")
    if isinstance(loaded, dict):
        return {_scalar_text(key): _scalar_text(value) for key, value in loaded.items()}
    result: dict[str, str] = {}
    for item in split_escaped(text, ","):
        pair = split_escaped(item, ":")
        if len(pair) != 2:
            raise ValueError(f"Map item is not a key-value pair (missing ':'?): {item!r}")
        result[pair[0]] = pair[1]
    return result


def decode_map_list(text: str) -> list[dict[str, str]]:
    loaded = _yaml_flow(text, "[")
    if isinstance(loaded, list) and all(isinstance(item, dict) for item in loaded):
        return [{_scalar_text(k): _scalar_text(v) for k, v in item.items()} for item in loaded]
    return [decode_map(item) for item in split_escaped(text, ";")]


def _yaml_flow(text: str, opener: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(opener):
        return None
    try:
        return yaml.safe_load(stripped)
    except yaml.YAMLError:
        return None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# -- typed reads -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlinkConf:
    """A read-only view of a flat Flink configuration with typed getters and fallback keys."""

    values: Mapping[str, str]

    def get(self, key: str, *fallback_keys: str) -> str | None:
        for candidate in (key, *fallback_keys):
            if candidate in self.values:
                return self.values[candidate]
        return None

    def contains(self, key: str, *fallback_keys: str) -> bool:
        return self.get(key, *fallback_keys) is not None

    def get_str(self, key: str, default: str, *fallback_keys: str) -> str:
        value = self.get(key, *fallback_keys)
        return default if value is None else value

    def get_int(self, key: str, default: int, *fallback_keys: str) -> int:
        value = self.get(key, *fallback_keys)
        if value is None or not value.strip():
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise ResourceRenderError(f"Could not parse value '{value}' for key '{key}'.") from None

    def get_float(self, key: str, default: float, *fallback_keys: str) -> float:
        value = self.get(key, *fallback_keys)
        if value is None or not value.strip():
            return default
        try:
            return float(value.strip())
        except ValueError:
            raise ResourceRenderError(f"Could not parse value '{value}' for key '{key}'.") from None

    def get_bool(self, key: str, default: bool, *fallback_keys: str) -> bool:
        value = self.get(key, *fallback_keys)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ResourceRenderError(f"Could not parse value '{value}' for key '{key}'.")

    def get_list(self, key: str, *fallback_keys: str) -> list[str]:
        value = self.get(key, *fallback_keys)
        return [] if value is None or not value.strip() else self._decode(key, decode_list, value)

    def get_map(self, key: str, *fallback_keys: str) -> dict[str, str]:
        value = self.get(key, *fallback_keys)
        return {} if value is None or not value.strip() else self._decode(key, decode_map, value)

    def get_map_list(self, key: str, *fallback_keys: str) -> list[dict[str, str]]:
        value = self.get(key, *fallback_keys)
        return [] if value is None or not value.strip() else self._decode(key, decode_map_list, value)

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """The keys under ``prefix`` with the prefix removed (e.g. ``containerized.master.env.``)."""
        return {
            key[len(prefix) :]: value
            for key, value in sorted(self.values.items())
            if key.startswith(prefix) and len(key) > len(prefix)
        }

    @staticmethod
    def _decode(key: str, decoder: Any, value: str) -> Any:
        try:
            return decoder(value)
        except ValueError as error:
            raise ResourceRenderError(f"Could not parse value '{value}' for key '{key}': {error}") from None
