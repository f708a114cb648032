"""A deployment's effective Flink configuration, and Flink 1.x/2.x config files and key names.

Precedence (upstream's ``FlinkConfigManager`` + ``FlinkConfigBuilder``), later wins:

1. the operator's default configuration: its non-operator keys (``taskmanager.numberOfTaskSlots``,
   ``metrics.reporter.*``, ``env.java.opts.all``...) are shared by every deployment;
2. per-namespace defaults (``kubernetes.operator.default-configuration.namespace.<ns>.<key>``);
3. per-Flink-version defaults (``kubernetes.operator.default-configuration.flink-version.<v>[+].<key>``);
4. the resource's ``spec.flinkConfiguration`` (flat, or nested maps as newer CRDs allow);
5. (keys the operator injects from the rest of the spec: not here, see ``flink.resources``).

``kubernetes.operator.*`` keys never reach a Flink cluster: they configure the operator
(upstream writes them into the cluster's config file too; Flink ignores them). Values are
Flink strings: booleans ``true``/``false``, lists ``;``-joined (Flink's list syntax, which
Flink 2.x also accepts in ``config.yaml``), maps ``k1:v1,k2:v2``.

Key names: a key renamed between Flink versions is written under the name the target
version reads (:data:`KEY_RENAMES`, the one table of renames; :func:`normalize_keys`), in
each layer before the layers are merged, so a later layer wins whichever name it used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flinkop.api.enums import FlinkVersion
from flinkop.config.keys import OperatorConfig, is_operator_key
from flinkop.config.values import flatten_flink_configuration, to_flink_string

__all__ = [
    "CONFIG_YAML",
    "FLINK_CONF_YAML",
    "KEY_RENAMES",
    "KeyRename",
    "config_file_name",
    "effective_flink_config",
    "flink_conf_line",
    "flink_option",
    "flink_version_tuple",
    "normalize_keys",
]

CONFIG_YAML = "config.yaml"
FLINK_CONF_YAML = "flink-conf.yaml"


def flink_version_tuple(flink_version: FlinkVersion | str) -> tuple[int, int]:
    """``v1_20`` -> ``(1, 20)``; ValueError for anything that is not ``v<major>_<minor>``."""
    match = re.fullmatch(r"v(\d+)_(\d+)", str(flink_version))
    if match is None:
        raise ValueError(f"not a Flink version like v1_20 or v2_0: {flink_version!r}")
    return int(match[1]), int(match[2])


def config_file_name(flink_version: FlinkVersion | str) -> str:
    """The file a Flink version reads its configuration from: ``config.yaml`` for 2.x,
    ``flink-conf.yaml`` before (1.19/1.20 read both, and prefer ``flink-conf.yaml``)."""
    return CONFIG_YAML if flink_version_tuple(flink_version) >= (2, 0) else FLINK_CONF_YAML


# --- key renames ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRename:
    """``old`` was renamed ``new`` in Flink ``since``; versions before read only ``old``."""

    old: str
    new: str
    since: tuple[int, int]
    note: str = ""


KEY_RENAMES: tuple[KeyRename, ...] = (
    # FLIP-406 / FLINK-34482 (checkpointing and recovery options reorganised) in Flink 1.20;
    # the old names stay readable as deprecated keys in 2.x.
    KeyRename("state.checkpoints.dir", "execution.checkpointing.dir", (1, 20)),
    KeyRename("state.savepoints.dir", "execution.checkpointing.savepoint-dir", (1, 20)),
    KeyRename("state.checkpoints.num-retained", "execution.checkpointing.num-retained", (1, 20)),
    KeyRename("state.backend.incremental", "execution.checkpointing.incremental", (1, 20)),
    KeyRename("state.checkpoint-storage", "execution.checkpointing.storage", (1, 20)),
    KeyRename("state.backend.local-recovery", "execution.state-recovery.from-local", (1, 20)),
    KeyRename("execution.savepoint.path", "execution.state-recovery.path", (1, 20)),
    KeyRename(
        "execution.savepoint.ignore-unclaimed-state",
        "execution.state-recovery.ignore-unclaimed-state",
        (1, 20),
    ),
    KeyRename("execution.savepoint-restore-mode", "execution.state-recovery.claim-mode", (1, 20)),
    # Upstream writes the new names from v1_17 on (FlinkConfigBuilder), the old ones before.
    KeyRename("kubernetes.container.image", "kubernetes.container.image.ref", (1, 17)),
    KeyRename("kubernetes.jobmanager.cpu", "kubernetes.jobmanager.cpu.amount", (1, 17)),
    KeyRename("kubernetes.taskmanager.cpu", "kubernetes.taskmanager.cpu.amount", (1, 17)),
    # The new names exist by 1.19 at the latest (maybe earlier); 1.x versions read the old
    # names as deprecated keys, so the old names are written before 1.19 to be safe.
    KeyRename("high-availability", "high-availability.type", (1, 19), "new name exists earlier"),
    KeyRename("state.backend", "state.backend.type", (1, 19), "new name exists earlier"),
    KeyRename("restart-strategy", "restart-strategy.type", (1, 19), "new name exists earlier"),
)


def _name_for(rename: KeyRename, target: tuple[int, int]) -> tuple[str, str]:
    """(the name to replace, the name the target version reads)."""
    return (rename.old, rename.new) if target >= rename.since else (rename.new, rename.old)


def normalize_keys(config: Mapping[str, str], flink_version: FlinkVersion | str) -> dict[str, str]:
    """``config`` with every renamed key under the name ``flink_version`` reads (both ways:
    ``state.savepoints.dir`` -> ``execution.checkpointing.savepoint-dir`` for 2.x, and back for
    1.19). If both names are set, the one the version reads wins. Other keys are untouched."""
    target = flink_version_tuple(flink_version)
    replace = dict(_name_for(rename, target) for rename in KEY_RENAMES)
    result: dict[str, str] = {}
    for key, value in config.items():
        name = replace.get(key, key)
        if name != key and name in config:
            continue  # the name this version reads is set too, and wins
        result[name] = value
    return result


def flink_option(config: Mapping[str, str], key: str) -> str | None:
    """The value of a Flink option under any of its names (``state.savepoints.dir`` or
    ``execution.checkpointing.savepoint-dir``), the new name first; None if unset."""
    for rename in KEY_RENAMES:
        if key in (rename.old, rename.new):
            for name in (rename.new, rename.old):
                if name in config:
                    return config[name]
            return None
    return config.get(key)


# --- the effective configuration --------------------------------------------------------------


def _flink_keys(config: Mapping[str, Any]) -> dict[str, str]:
    return {key: to_flink_string(value) for key, value in config.items() if not is_operator_key(key)}


def effective_flink_config(
    operator_config: OperatorConfig,
    deployment_spec_flink_configuration: Mapping[str, Any] | None,
    *,
    namespace: str | None,
    flink_version: FlinkVersion | str,
) -> dict[str, str]:
    """The Flink configuration of one deployment (see the module docstring for the layers)."""
    defaults = operator_config.for_resource(namespace, str(flink_version)).raw
    merged = normalize_keys(_flink_keys(defaults), flink_version)
    spec = flatten_flink_configuration(deployment_spec_flink_configuration)
    merged.update(normalize_keys(_flink_keys(spec), flink_version))
    return merged


# --- config files -----------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$][A-Za-z0-9_.$-]*")
# A plain YAML scalar that YAML 1.2 reads back as this very string: no indicator first, no
# ": " / " #", no leading or trailing space, and not something the core schema types.
_PLAIN_VALUE = re.compile(r"[A-Za-z/_.$(][^\x00-\x1f\x7f\x85\u2028\u2029\ufeff]*")
_TYPED = re.compile(
    r"(?:true|True|TRUE|false|False|FALSE|~|null|Null|NULL"
    r"|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))"
)


def flink_conf_line(key: str, value: str) -> str | None:
    """One `key: value` line of a Flink 1.x flink-conf.yaml; None for an empty value (Flink skips it)."""
    for text, what in ((key, "key"), (value, "value")):
        if "#" in text or "\n" in text or "\r" in text:
            raise ValueError(
                f"{what} of {key!r} cannot be written to {FLINK_CONF_YAML}: Flink 1.x reads '#' as "
                "the start of a comment and a line break as the end of the value"
            )
    if ": " in key or not key.strip():
        raise ValueError(f"key {key!r} cannot be written to {FLINK_CONF_YAML}")
    if not value.strip():
        return None  # Flink 1.x skips a key without a value: same as not setting it
    return f"{key}: {value}"
