"""A read-only Flink configuration with Flink's lookup rules, for the validator.

* ``spec.flinkConfiguration`` is flattened with :func:`flinkop.config.values.flatten_flink_configuration`
  (upstream's ``ConfigObjectNode.asFlatMap``).
* An option is read from its key, then from its fallback and deprecated keys in order, as
  Flink's ``Configuration.get(ConfigOption)`` does; a value that does not convert raises
  :class:`ConfigValueError` with Flink's message, which the validator reports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flinkop.config.units import parse_duration_nanos
from flinkop.config.values import flatten_flink_configuration, parse_bool, parse_double, parse_list
from flinkop.validation._units import is_blank

__all__ = ["ConfigOption", "ConfigValueError", "FlinkConfig", "flatten_flink_configuration"]


class ConfigValueError(ValueError):
    """A configuration value that does not convert to its option's type."""

    def __init__(self, value: str, key: str) -> None:
        super().__init__(f"Could not parse value '{value}' for key '{key}'.")


@dataclass(frozen=True)
class ConfigOption:
    """A Flink ``ConfigOption``: key, fallback/deprecated keys in lookup order, raw default."""

    key: str
    fallback_keys: tuple[str, ...] = ()
    default: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key, *self.fallback_keys)


class FlinkConfig(Mapping[str, str]):
    """Layers of flat configuration, later layers overriding earlier ones."""

    def __init__(self, *layers: Mapping[str, str] | None) -> None:
        values: dict[str, str] = {}
        for layer in layers:
            if layer:
                values.update(layer)
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def raw(self, option: ConfigOption) -> str | None:
        """The value under the first of the option's keys that is set; no default."""
        for key in option.keys:
            if key in self._values:
                return self._values[key]
        return None

    def contains(self, option: ConfigOption) -> bool:
        return any(key in self._values for key in option.keys)

    def get_string(self, option: ConfigOption) -> str | None:
        value = self.raw(option)
        return option.default if value is None else value

    def get_bool(self, option: ConfigOption) -> bool:
        value = self.get_string(option)
        if value is None:
            return False
        try:
            return parse_bool(value)
        except ValueError:
            raise ConfigValueError(value, option.key) from None

    def get_double(self, option: ConfigOption) -> float | None:
        value = self.get_string(option)
        if value is None:
            return None
        try:
            return parse_double(value)
        except ValueError:
            raise ConfigValueError(value, option.key) from None

    def get_duration_nanos(self, option: ConfigOption) -> int | None:
        value = self.get_string(option)
        if value is None:
            return None
        try:
            return parse_duration_nanos(value)
        except ValueError:
            raise ConfigValueError(value, option.key) from None

    def get_list(self, option: ConfigOption) -> list[str]:
        """A ``;``-separated list option (Flink's quoting rules); unset or blank is empty."""
        value = self.get_string(option)
        if value is None or is_blank(value):
            return []
        try:
            return parse_list(value)
        except ValueError:
            raise ConfigValueError(value, option.key) from None
