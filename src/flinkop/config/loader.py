"""Loading the operator configuration from its conf dir, as the upstream operator does.

Where (``FlinkConfigManager.loadGlobalConfiguration``):

1. the conf dir: the ``conf_dir`` argument, else ``$FLINK_CONF_DIR``, else ``/opt/flink/conf``
   (the chart mounts ConfigMap ``flink-operator-config`` there). A missing default dir gives
   an empty configuration (all defaults), as upstream does without ``FLINK_CONF_DIR``; a
   dir that was named explicitly must hold a config file;
2. in it, ``config.yaml`` (standard YAML) when present, else ``flink-conf.yaml`` (legacy);
3. if ``$CONF_OVERRIDE_DIR`` is set, the config file there is read the same way and its
   keys override (kustomize's ``conf-override`` example);
4. environment variables ``FLINK_CONF_<KEY>`` override single keys: the name after the
   prefix lower-cased, ``__`` -> ``-``, ``_`` -> ``.``; in the value ``_`` -> space
   (``FLINK_CONF_KUBERNETES_OPERATOR_RECONCILE_INTERVAL=15_s``);
5. ``$WATCH_NAMESPACES`` (comma list) overrides ``kubernetes.operator.watched.namespaces``
   for the watched namespaces (it is not written into the configuration map).

How:

* ``config.yaml`` is read as YAML 1.2 (core schema, as Flink 2.x's snakeyaml-engine: ``on``/
  ``yes`` are strings, ``0o17`` is octal, no timestamps, duplicate keys are an error); nested
  maps are flattened with ``.`` (``kubernetes.operator: {reconcile.interval: 15 s}`` is
  ``kubernetes.operator.reconcile.interval``); lists stay lists; scalars become Flink strings
  (``true``, ``8085``); a key without a value is an error (Flink fails on it too).
* ``flink-conf.yaml`` is read with Flink 1.x's own line parser, not as YAML: per line,
  everything from the first ``#`` is a comment; the rest is split at the first ``": "``
  (colon *and space*); key and value are trimmed and kept verbatim (quotes included). Lines
  without ``": "`` or with an empty key or value are skipped with a warning, as Flink does.
* Every known option is type-checked (:func:`flinkop.config.keys.validate_options`); all
  problems are raised together as one :class:`ConfigError`. Unknown keys are kept: they may
  be Flink keys, the defaults for every deployment.

The map's order is the order Java would hold the same keys in (see :mod:`.javamap`), so the
configuration prints exactly as upstream logs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
import yaml

from flinkop.config.errors import ConfigError
from flinkop.config.javamap import JavaHashMap
from flinkop.config.keys import OperatorConfig
from flinkop.config.values import ConfigValue, to_config_value, to_flink_string

__all__ = [
    "CONFIG_YAML",
    "DEFAULT_CONF_DIR",
    "ENV_VAR_PREFIX",
    "FLINK_CONF_YAML",
    "ConfigError",
    "check_startup",
    "env_overrides",
    "find_config_file",
    "load_operator_config",
    "parse_config_yaml",
    "parse_flink_conf_yaml",
    "read_configuration",
    "resolve_conf_dir",
]

log = structlog.get_logger("flinkop.config")

DEFAULT_CONF_DIR = "/opt/flink/conf"
CONFIG_YAML = "config.yaml"
FLINK_CONF_YAML = "flink-conf.yaml"
ENV_VAR_PREFIX = "FLINK_CONF_"

# --- config.yaml: YAML 1.2 core schema ---------------------------------------------------------


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars and duplicate keys rejected."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: let the base class report it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)


_Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _Yaml12Loader.construct_yaml_int)


def _key_text(key: Any) -> str:
    return "null" if key is None else to_flink_string(key)


def _flatten(document: Mapping[Any, Any], prefix: str, problems: list[str]) -> JavaHashMap[ConfigValue]:
    """Flink's ``GlobalConfiguration.flatten``, in the order Java's HashMaps give it."""
    flat: JavaHashMap[ConfigValue] = JavaHashMap()
    for key, value in document.items():
        name = prefix + _key_text(key)
        if isinstance(value, Mapping):
            flat.put_all(_flatten(value, name + ".", problems))
        elif value is None:
            problems.append(f"{name}: no value")
        else:
            flat.put(name, to_config_value(value))
    return flat


def parse_config_yaml(text: str, *, source: str = CONFIG_YAML) -> dict[str, ConfigValue]:
    """A standard-YAML ``config.yaml`` (nested or flat keys) as a flat map; ConfigError if invalid."""
    try:
        document = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as error:
        raise ConfigError([f"not valid YAML: {error}"], source=source) from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigError([f"expected a map of keys to values, got {type(document).__name__}"], source=source)
    problems: list[str] = []
    flat = _flatten(document, "", problems).to_dict()
    if problems:
        raise ConfigError(problems, source=source)
    return flat


# --- flink-conf.yaml: Flink 1.x's line parser -------------------------------------------------

_JAVA_TRIM = "".join(chr(code) for code in range(33))  # String.trim() drops chars <= ' '
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # BufferedReader.readLine


def parse_flink_conf_yaml(text: str, *, source: str = FLINK_CONF_YAML) -> dict[str, str]:
    """A legacy ``flink-conf.yaml`` as Flink 1.x reads it (``GlobalConfiguration.loadYAMLResource``)."""
    config: dict[str, str] = {}
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        content = line.split("#", 1)[0].strip(_JAVA_TRIM)
        if not content:
            continue
        key, separator, value = content.partition(": ")
        key, value = key.strip(_JAVA_TRIM), value.strip(_JAVA_TRIM)
        if not separator:
            log.warning(
                "Skipping a line that is not a key-value pair (missing space after ':'?)",
                file=source,
                line=number,
            )
        elif not key or not value:
            log.warning("Skipping a line with an empty key or value", file=source, line=number)
        else:
            config[key] = value
    return config


# --- files, directories, environment ----------------------------------------------------------


def resolve_conf_dir(
    conf_dir: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> tuple[Path, bool]:
    """(the conf dir, whether it was named explicitly): the argument, ``$FLINK_CONF_DIR``, or the default."""
    if conf_dir is not None:
        return Path(conf_dir), True
    if environ.get("FLINK_CONF_DIR"):
        return Path(environ["FLINK_CONF_DIR"]), True
    return Path(DEFAULT_CONF_DIR), False


def find_config_file(conf_dir: Path) -> Path | None:
    """``config.yaml`` if the dir has one, else ``flink-conf.yaml``, else None."""
    for name in (CONFIG_YAML, FLINK_CONF_YAML):
        candidate = conf_dir / name
        if candidate.is_file():
            return candidate
    return None


def _read_file(path: Path) -> dict[str, ConfigValue]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"cannot read the file: {error}"], source=str(path)) from None
    if path.name == CONFIG_YAML:
        return parse_config_yaml(text, source=str(path))
    return dict(parse_flink_conf_yaml(text, source=str(path)))


def _read_dir(conf_dir: Path) -> tuple[dict[str, ConfigValue], Path]:
    path = find_config_file(conf_dir)
    if path is None:
        raise ConfigError(
            [f"no {CONFIG_YAML} or {FLINK_CONF_YAML} in the configuration directory {conf_dir}"],
            source=str(conf_dir),
        )
    return _read_file(path), path


def env_overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """``FLINK_CONF_<KEY>`` variables as configuration keys and values (upstream's
    ``FlinkConfigManager.overriderConfigurationsFromEnvVariables``), in name order."""
    overrides: dict[str, str] = {}
    for name in sorted(environ):
        if name.startswith(ENV_VAR_PREFIX):
            key = name.replace(ENV_VAR_PREFIX, "").replace("__", "-").replace("_", ".").lower()
            overrides[key] = environ[name].replace("_", " ")
    return overrides


def read_configuration(
    conf_dir: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    override_dir: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, ConfigValue], str]:
    """The flat configuration (not yet validated) and a description of where it came from."""
    env = os.environ if environ is None else environ
    directory, explicit = resolve_conf_dir(conf_dir, env)
    sources: list[str] = []
    flat: JavaHashMap[ConfigValue] = JavaHashMap()
    if explicit or directory.exists():
        base, path = _read_dir(directory)
        for key, value in base.items():  # Configuration.setString, one by one
            flat.put(key, value)
        sources.append(str(path))
    else:
        log.debug("No operator configuration directory, using the defaults", conf_dir=str(directory))
        sources.append(f"defaults ({directory} does not exist)")
    override = override_dir if override_dir is not None else env.get("CONF_OVERRIDE_DIR") or None
    if override is not None:
        overrides, path = _read_dir(Path(override))
        override_map: JavaHashMap[ConfigValue] = JavaHashMap()
        for key, value in overrides.items():
            override_map.put(key, value)
        flat.put_all(override_map)  # Configuration.addAll
        sources.append(str(path))
    for key, text in env_overrides(env).items():
        flat.put(key, text)
    # Insertion order = the order Java's map holds them in, so describe() prints as upstream.
    return flat.to_dict(), " + ".join(sources)


def load_operator_config(
    conf_dir: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    override_dir: str | os.PathLike[str] | None = None,
) -> OperatorConfig:
    """Read, validate and type the operator configuration (see the module docstring).

    Raises :class:`ConfigError` listing every problem, each naming its key and value.
    """
    env = os.environ if environ is None else environ
    flat, source = read_configuration(conf_dir, environ=env, override_dir=override_dir)
    return OperatorConfig.from_mapping(flat, watch_namespaces_env=env.get("WATCH_NAMESPACES"), source=source)


def check_startup(config: OperatorConfig) -> None:
    """What upstream checks once, at operator start: leader election needs a lease name."""
    if config.leader_election_enabled and not config.leader_election_lease_name:
        raise ConfigError(
            [
                "kubernetes.operator.leader-election.lease-name: must be set when "
                "kubernetes.operator.leader-election.enabled is true"
            ],
            source=config.source,
        )
