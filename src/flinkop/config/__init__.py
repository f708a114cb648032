"""The operator configuration: upstream's ``kubernetes.operator.*`` options and files.

* :mod:`.keys`: every option as data, and :class:`OperatorConfig`, the typed configuration;
* :mod:`.loader`: reading ``config.yaml`` / ``flink-conf.yaml`` from the conf dir, overrides
  from ``CONF_OVERRIDE_DIR`` and the environment, validation;
* :mod:`.dynamic`: re-reading the files while running and applying changes;
* :mod:`.units`: Flink's duration and memory-size syntax; :mod:`.values`: Flink's value syntax.
"""

from flinkop.config.dynamic import ConfigWatcher, log_default_configuration
from flinkop.config.errors import ConfigError
from flinkop.config.keys import KEYS, ConfigKey, KeyType, OperatorConfig, Scope
from flinkop.config.loader import check_startup, load_operator_config
from flinkop.config.units import (
    format_duration,
    format_memory_size,
    parse_duration,
    parse_memory_size,
)

__all__ = [
    "KEYS",
    "ConfigError",
    "ConfigKey",
    "ConfigWatcher",
    "KeyType",
    "OperatorConfig",
    "Scope",
    "check_startup",
    "format_duration",
    "format_memory_size",
    "load_operator_config",
    "log_default_configuration",
    "parse_duration",
    "parse_memory_size",
]
