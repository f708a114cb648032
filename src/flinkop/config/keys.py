"""Every ``kubernetes.operator.*`` option of the upstream operator, as data.

The table mirrors upstream's ``KubernetesOperatorConfigOptions`` and
``KubernetesOperatorMetricOptions`` (ANCHOR-INVENTORY section 4.2): the key, its type, its
default written as a Flink string (``None`` = no default), the deprecated keys still read
(Flink's fallback order: the main key first, then each deprecated key), its scope, and
whether it is high priority for drop-in compatibility (``starred``).

Scopes: ``SYSTEM``/``ADVANCED``/``METRICS`` keys are read from the operator configuration
only; ``DYNAMIC`` keys may also be set per resource in ``spec.flinkConfiguration``;
``BLUE_GREEN`` keys are read from a FlinkBlueGreenDeployment's configuration.

Key families that are prefixes rather than keys (metric reporters, listener plugins,
per-namespace and per-Flink-version defaults, the legacy autoscaler prefix) are the
``*_PREFIX`` constants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from flinkop.config.errors import ConfigError
from flinkop.config.javamap import java_map_string
from flinkop.config.units import parse_duration, parse_memory_size
from flinkop.config.values import (
    ConfigValue,
    flatten_flink_configuration,
    java_to_string,
    parse_bool,
    parse_double,
    parse_enum,
    parse_int,
    parse_list,
    parse_map,
    to_config_value,
)

__all__ = [
    "ALIASES",
    "AUTOSCALER_PREFIX",
    "HIDDEN_CONTENT",
    "KEYS",
    "LEGACY_AUTOSCALER_PREFIX",
    "LISTENER_PREFIX",
    "METRICS_PREFIX",
    "NAMESPACE_CONF_PREFIX",
    "OPERATOR_PREFIX",
    "VERSION_CONF_PREFIX",
    "WATCH_ALL_NAMESPACES",
    "ConfigKey",
    "KeyType",
    "OperatorConfig",
    "Scope",
    "is_operator_key",
    "is_sensitive",
    "option_for",
    "parse_schedule",
    "parse_watched_namespaces",
    "resource_defaults",
    "scoped_default_key",
    "validate_options",
]

OPERATOR_PREFIX = "kubernetes.operator."
DEFAULT_CONF_PREFIX = OPERATOR_PREFIX + "default-configuration."
NAMESPACE_CONF_PREFIX = DEFAULT_CONF_PREFIX + "namespace."
"""``<prefix><namespace>.<key>: value`` sets a default for resources in that namespace."""
VERSION_CONF_PREFIX = DEFAULT_CONF_PREFIX + "flink-version."
"""``<prefix>v1_20.<key>`` for that Flink version; ``<prefix>v1_19+.<key>`` for it and newer."""
METRICS_PREFIX = OPERATOR_PREFIX + "metrics."
"""``kubernetes.operator.metrics.X`` configures the operator's own metrics as Flink's ``metrics.X``."""
LISTENER_PREFIX = OPERATOR_PREFIX + "plugins.listeners."
"""``<prefix><name>.class`` names a listener plugin; ``<prefix><name>.<k>`` is passed to it."""
AUTOSCALER_PREFIX = "job.autoscaler."
LEGACY_AUTOSCALER_PREFIX = OPERATOR_PREFIX + "job.autoscaler."
WATCH_ALL_NAMESPACES = "JOSDK_ALL_NAMESPACES"
"""The value of ``kubernetes.operator.watched.namespaces`` meaning all namespaces (JOSDK's constant)."""


def is_operator_key(key: str) -> bool:
    """A ``kubernetes.operator.*`` key: read by the operator, never written into a Flink cluster's config."""
    return key.startswith(OPERATOR_PREFIX)


class KeyType(StrEnum):
    DURATION = "duration"  # Flink duration -> float seconds
    INT = "int"
    DOUBLE = "double"
    BOOL = "bool"
    STR = "str"
    LIST = "list"  # Flink list (a;b or a YAML list) -> list[str]
    MAP = "map"  # Flink map (k1:v1,k2:v2 or a prefix map) -> dict[str, str]
    MEMORY = "memory"  # Flink memory size -> int bytes
    ENUM = "enum"  # one of enum_values, case-insensitive -> canonical str
    SCHEDULE = "schedule"  # empty, a Flink duration, or a Quartz cron expression -> str


class Scope(StrEnum):
    SYSTEM = "system"
    ADVANCED = "system_advanced"
    DYNAMIC = "dynamic"
    METRICS = "metrics"
    BLUE_GREEN = "blue_green"


_CRON_FIELDS = (6, 7)  # Quartz: seconds minutes hours day-of-month month day-of-week [year]


def parse_schedule(value: ConfigValue) -> str:
    """A periodic snapshot schedule: empty (off), a Flink duration, or a Quartz cron expression."""
    if isinstance(value, list):
        raise ValueError(f"expected a duration or a cron expression, got a list {value!r}")
    text = value.strip()
    if not text:
        return ""
    try:
        parse_duration(text)
    except ValueError:
        if len(text.split()) not in _CRON_FIELDS:
            raise ValueError(
                f"invalid schedule {value!r}: neither a duration (e.g. 1 h) nor a Quartz cron "
                "expression (6 or 7 fields, e.g. 0 0 * * * ?)"
            ) from None
    return text


@dataclass(frozen=True)
class ConfigKey:
    """One configuration option."""

    name: str
    type: KeyType
    default: str | None
    scope: Scope
    description: str
    aliases: tuple[str, ...] = ()
    """Deprecated keys, read when the main key is absent (in this order)."""
    starred: bool = False
    enum_values: tuple[str, ...] = ()

    def parse(self, value: ConfigValue) -> Any:
        """The typed value of a raw value; ValueError (without the key) if it does not parse."""
        match self.type:
            case KeyType.DURATION:
                if isinstance(value, list):
                    raise ValueError(f"expected a duration, got a list {value!r}")
                return parse_duration(value)
            case KeyType.INT:
                return parse_int(value)
            case KeyType.DOUBLE:
                return parse_double(value)
            case KeyType.BOOL:
                return parse_bool(value)
            case KeyType.LIST:
                return parse_list(value)
            case KeyType.MAP:
                return parse_map(value)
            case KeyType.MEMORY:
                if isinstance(value, list):
                    raise ValueError(f"expected a memory size, got a list {value!r}")
                return parse_memory_size(value)
            case KeyType.ENUM:
                return parse_enum(value, self.enum_values)
            case KeyType.SCHEDULE:
                return parse_schedule(value)
            case _:
                if isinstance(value, list):
                    return ",".join(value)
                return value

    @property
    def default_value(self) -> Any:
        """The typed default (``None`` when the option has none)."""
        return None if self.default is None else self.parse(self.default)

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def find(self, config: Mapping[str, ConfigValue]) -> tuple[str, ConfigValue] | None:
        """The (key, raw value) that sets this option: the main key, else the first deprecated key set."""
        for name in self.all_names:
            if name in config:
                return name, config[name]
        return None

    def read(self, config: Mapping[str, ConfigValue]) -> Any:
        """The typed value in ``config``, or the typed default; ValueError if it does not parse.

        A map option may also be written as a prefix map (``<key>.k1: v1``), which is what a
        nested map in ``config.yaml`` flattens to.
        """
        found = self.find(config)
        if found is not None:
            return self.parse(found[1])
        if self.type is KeyType.MAP:
            prefix_map = _prefix_map(config, self.name)
            if prefix_map:
                return prefix_map
        return self.default_value


def _prefix_map(config: Mapping[str, ConfigValue], key: str) -> dict[str, str]:
    """Flink's prefix-map form of a map option: ``key.k1: v1`` entries (as nested YAML gives)."""
    prefix = key + "."
    return {
        name[len(prefix) :]: value if isinstance(value, str) else ";".join(value)
        for name, value in config.items()
        if name.startswith(prefix)
    }


DURATION, INT, DOUBLE, BOOL, STR, LIST, MAP, ENUM, SCHEDULE = (
    KeyType.DURATION,
    KeyType.INT,
    KeyType.DOUBLE,
    KeyType.BOOL,
    KeyType.STR,
    KeyType.LIST,
    KeyType.MAP,
    KeyType.ENUM,
    KeyType.SCHEDULE,
)
SYSTEM, ADVANCED, DYNAMIC, METRICS, BLUE_GREEN = (
    Scope.SYSTEM,
    Scope.ADVANCED,
    Scope.DYNAMIC,
    Scope.METRICS,
    Scope.BLUE_GREEN,
)


def _key(
    name: str,
    key_type: KeyType,
    default: str | None,
    scope: Scope,
    description: str,
    *,
    aliases: tuple[str, ...] = (),
    starred: bool = False,
    enum_values: tuple[str, ...] = (),
) -> ConfigKey:
    return ConfigKey(name, key_type, default, scope, description, aliases, starred, enum_values)


# fmt: off
_TABLE = (
    _key("kubernetes.operator.reconcile.interval", DURATION, "1 min", SYSTEM, starred=True,
         aliases=("kubernetes.operator.reconciler.reschedule.interval",),
         description="Periodic re-reconcile period for healthy resources. Chart default: 15 s."),
    _key("kubernetes.operator.reconcile.parallelism", INT, "50", SYSTEM, starred=True,
         aliases=("kubernetes.operator.reconciler.max.parallelism",),
         description="Max concurrent reconcile workers; -1 = unbounded."),
    _key("kubernetes.operator.observer.progress-check.interval", DURATION, "10 s", ADVANCED, starred=True,
         description=(
             "Faster reschedule used while deploying / cancelling / savepointing. "
             "Chart default: 5 s."
         )),
    _key("kubernetes.operator.observer.rest-ready.delay", DURATION, "10 s", ADVANCED, starred=True,
         description="Wait after JM port opens before declaring READY."),
    _key("kubernetes.operator.flink.client.timeout", DURATION, "10 s", SYSTEM, starred=True,
         aliases=("kubernetes.operator.observer.flink.client.timeout",),
         description="Timeout of JM REST calls."),
    _key("kubernetes.operator.flink.client.cancel.timeout", DURATION, "1 min", SYSTEM,
         aliases=("kubernetes.operator.reconciler.flink.cancel.job.timeout",),
         description="Timeout for job cancel calls."),
    _key("kubernetes.operator.resource.cleanup.timeout", DURATION, "5 min", SYSTEM,
         aliases=("kubernetes.operator.reconciler.flink.cluster.shutdown.timeout",),
         description="Max wait for cluster Deployments to disappear on delete."),
    _key("kubernetes.operator.job.submission.timeout", DURATION, "10 min", SYSTEM,
         description="Timeout for session-job jar run."),
    _key("kubernetes.operator.deployment.rollback.enabled", BOOL, "false", DYNAMIC, starred=True,
         description="Enable automatic rollback to last stable spec (needs HA)."),
    _key("kubernetes.operator.deployment.readiness.timeout", DURATION, "5 min", DYNAMIC, starred=True,
         description="Time a new spec has to become stable before rollback."),
    _key("kubernetes.operator.user.artifacts.base.dir", STR, "/opt/flink/artifacts", SYSTEM,
         description="Local download dir for session-job jars."),
    _key("kubernetes.operator.user.artifacts.http.header", MAP, None, DYNAMIC,
         description="Extra HTTP headers (`k1:v1,k2:v2`) for jar download."),
    _key("kubernetes.operator.user.artifacts.allowed-schemes", LIST, "https", SYSTEM, starred=True,
         description="Allowed FlinkSessionJob jarURI schemes (case-insensitive); CR-level values ignored."),
    _key("kubernetes.operator.user.artifacts.disallow-restricted-hosts", BOOL, "true", SYSTEM,
         description="Reject http(s) jar hosts resolving to loopback/link-local/site-local/any/multicast."),
    _key("kubernetes.operator.job.upgrade.ignore-pending-savepoint", BOOL, "false", DYNAMIC,
         description="Proceed with upgrade even if a savepoint is in progress."),
    _key("kubernetes.operator.job.upgrade.inplace-scaling.enabled", BOOL, "true", DYNAMIC,
         description="Use Flink ≥1.18 resource-requirements API for parallelism-override changes."),
    _key("kubernetes.operator.job.upgrade.last-state-fallback.enabled", BOOL, "true", DYNAMIC, starred=True,
         description="Let savepoint-mode upgrades fall back to HA last-state when the job isn't running."),
    _key("kubernetes.operator.job.upgrade.last-state.max.allowed.checkpoint.age", DURATION, None, DYNAMIC,
         description="If last checkpoint is older, take a savepoint instead of last-state."),
    _key("kubernetes.operator.job.upgrade.last-state.job-cancel.enabled", BOOL, "false", DYNAMIC,
         description="Cancel the job (instead of deleting the cluster) for last-state upgrades."),
    _key("kubernetes.operator.dynamic.config.enabled", BOOL, "true", ADVANCED, starred=True,
         description="Watch the operator ConfigMap files for changes."),
    _key("kubernetes.operator.dynamic.config.check.interval", DURATION, "5 min", ADVANCED, starred=True,
         description="Poll period for config changes."),
    _key("kubernetes.operator.config.cache.timeout", DURATION, "10 min", ADVANCED,
         description="Expiry of cached generated per-resource configs."),
    _key("kubernetes.operator.config.cache.size", INT, "1000", ADVANCED,
         description="Max cached generated configs."),
    _key("kubernetes.operator.jm-deployment-recovery.enabled", BOOL, "true", DYNAMIC, starred=True,
         aliases=("kubernetes.operator.reconciler.jm-deployment-recovery.enabled",),
         description="Recreate a deleted JM deployment."),
    _key("kubernetes.operator.jm-deployment.shutdown-ttl", DURATION, "1 d", DYNAMIC,
         description="Delete JM of terminal application clusters after this long."),
    _key("kubernetes.operator.jm-deployment.startup.probe.enabled", BOOL, "true", DYNAMIC,
         description="Add the JM startup probe."),
    _key("kubernetes.operator.savepoint.dispose-on-delete", BOOL, "false", DYNAMIC, starred=True,
         description="`disposeOnDelete` value for operator-created savepoint CRs."),
    _key("kubernetes.operator.savepoint.format.type", ENUM, "CANONICAL", DYNAMIC, starred=True,
         enum_values=("CANONICAL", "NATIVE"),
         description="Savepoint binary format."),
    _key("kubernetes.operator.checkpoint.type", ENUM, "FULL", DYNAMIC,
         enum_values=("FULL", "INCREMENTAL"),
         description="Type for legacy manual/periodic checkpoints."),
    _key("kubernetes.operator.savepoint.cleanup.enabled", BOOL, "true", DYNAMIC, starred=True,
         description="Enable snapshot history cleanup."),
    _key("kubernetes.operator.savepoint.history.max.count", INT, "10", DYNAMIC, starred=True,
         description="Max retained periodic/upgrade savepoint CRs."),
    _key("kubernetes.operator.savepoint.history.max.count.threshold", INT, None, ADVANCED,
         description="Operator-wide cap on the above."),
    _key("kubernetes.operator.savepoint.history.max.age", DURATION, "1 d", DYNAMIC, starred=True,
         description="Max age of retained savepoint CRs."),
    _key("kubernetes.operator.savepoint.history.max.age.threshold", DURATION, None, ADVANCED,
         description="Operator-wide cap on the above."),
    _key("kubernetes.operator.savepoint.trigger.grace-period", DURATION, "1 min", DYNAMIC, starred=True,
         aliases=("kubernetes.operator.observer.savepoint.trigger.grace-period",),
         description="Retry window for failed triggered savepoints."),
    _key("kubernetes.operator.checkpoint.trigger.grace-period", DURATION, "1 min", DYNAMIC,
         description="Same for checkpoints."),
    _key("kubernetes.operator.periodic.savepoint.interval", SCHEDULE, "", DYNAMIC, starred=True,
         description="Periodic savepoint schedule."),
    _key("kubernetes.operator.periodic.checkpoint.interval", SCHEDULE, "", DYNAMIC,
         description="Periodic checkpoint schedule."),
    _key("kubernetes.operator.snapshot.resource.enabled", BOOL, "true", DYNAMIC, starred=True,
         description="Use FlinkStateSnapshot CRs (else legacy status fields)."),
    _key("kubernetes.operator.exception.stacktrace.enabled", BOOL, "false", SYSTEM,
         description="Include stack traces in `status.error`."),
    _key("kubernetes.operator.exception.stacktrace.max.length", INT, "2048", SYSTEM,
         description="Stack trace truncation."),
    _key("kubernetes.operator.exception.field.max.length", INT, "2048", SYSTEM,
         description="Truncation of each error field."),
    _key("kubernetes.operator.exception.throwable.list.max.count", INT, "2", SYSTEM,
         description="Max causes listed in `status.error`."),
    _key("kubernetes.operator.exception.label.mapper", MAP, "", DYNAMIC,
         description="`regex:label` pairs; matching exception messages add labels into the error JSON."),
    _key("kubernetes.operator.events.exceptions.limit-per-reconciliation", INT, "10", ADVANCED,
         description="Max JobException events per loop."),
    _key("kubernetes.operator.events.exceptions.stacktrace-lines", INT, "5", ADVANCED,
         description="Stack lines per JobException event."),
    _key("kubernetes.operator.watched.namespaces", STR, "JOSDK_ALL_NAMESPACES", SYSTEM, starred=True,
         description="Comma list of namespaces to watch."),
    _key("kubernetes.operator.label.selector", STR, None, ADVANCED,
         description="Label selector restricting watched CRs."),
    _key("kubernetes.operator.dynamic.namespaces.enabled", BOOL, "false", SYSTEM,
         description="Apply watched-namespace changes at runtime (needs dynamic config)."),
    _key("kubernetes.operator.retry.initial.interval", DURATION, "5 s", SYSTEM,
         description="First retry delay for failed reconciles."),
    _key("kubernetes.operator.retry.max.interval", DURATION, None, SYSTEM,
         description="Cap on retry delay."),
    _key("kubernetes.operator.retry.interval.multiplier", DOUBLE, "1.5", SYSTEM,
         description="Backoff multiplier."),
    _key("kubernetes.operator.retry.max.attempts", INT, "15", SYSTEM,
         description="Max retries."),
    _key("kubernetes.operator.rate-limiter.refresh-period", DURATION, "15 s", SYSTEM,
         description="Rate-limit window per resource."),
    _key("kubernetes.operator.rate-limiter.limit", INT, "5", SYSTEM,
         description="Reconciles per window per resource; ≤0 disables."),
    _key("kubernetes.operator.health.probe.enabled", BOOL, "true", ADVANCED, starred=True,
         description="Start the HTTP health endpoint (chart sets true)."),
    _key("kubernetes.operator.health.probe.port", INT, "8085", ADVANCED, starred=True,
         description="Health endpoint port (chart sets from `operatorHealth.port`)."),
    _key("kubernetes.operator.health.canary.resource.timeout", DURATION, "1 min", ADVANCED,
         description="Max time for a canary spec bump to be reconciled."),
    _key("kubernetes.operator.startup.stop-on-informer-error", BOOL, "true", ADVANCED,
         description="Fail startup if an informer (e.g. RBAC) cannot start."),
    _key("kubernetes.operator.termination.timeout", DURATION, "10 s", ADVANCED,
         description="Graceful shutdown wait for reconcile threads."),
    _key("kubernetes.operator.cluster.health-check.enabled", BOOL, "false", DYNAMIC,
         description="Restart unhealthy jobs (restart storms / stalled checkpoints)."),
    _key("kubernetes.operator.cluster.health-check.restarts.window", DURATION, "2 min", DYNAMIC,
         description="Window for counting restarts."),
    _key("kubernetes.operator.cluster.health-check.restarts.threshold", INT, "64", DYNAMIC,
         description="Restarts in window that mark unhealthy."),
    _key("kubernetes.operator.cluster.health-check.checkpoint-progress.enabled", BOOL, "true", DYNAMIC,
         description="Also require checkpoint progress."),
    _key("kubernetes.operator.cluster.health-check.checkpoint-progress.window", DURATION, None, DYNAMIC,
         description=(
             "Window without completed checkpoints that marks unhealthy; unset means derived as "
             "max(checkpoint interval, timeout) * (tolerable failures + 2)."
         )),
    _key("kubernetes.operator.job.restart.failed", BOOL, "false", DYNAMIC, starred=True,
         description="Redeploy applications whose job reached FAILED."),
    _key("kubernetes.operator.leader-election.enabled", BOOL, "false", SYSTEM, starred=True,
         description="Enable leader election (standby replicas)."),
    _key("kubernetes.operator.leader-election.lease-name", STR, None, SYSTEM, starred=True,
         description="Lease object name (required when enabled)."),
    _key("kubernetes.operator.leader-election.lease-duration", DURATION, "15 s", SYSTEM,
         description="Lease duration."),
    _key("kubernetes.operator.leader-election.renew-deadline", DURATION, "10 s", SYSTEM,
         description="Renew deadline."),
    _key("kubernetes.operator.leader-election.retry-period", DURATION, "2 s", SYSTEM,
         description="Retry period."),
    _key("kubernetes.operator.pod-template.merge-arrays-by-name", BOOL, "false", DYNAMIC,
         description="Merge pod-template arrays by element `name`."),
    _key("kubernetes.operator.resource.deletion.propagation", ENUM, "Foreground", ADVANCED,
         enum_values=("Orphan", "Background", "Foreground"),
         description="Propagation policy when deleting JM/TM Deployments."),
    _key("kubernetes.operator.job.savepoint-on-deletion", BOOL, "false", DYNAMIC, starred=True,
         description="Take a savepoint when the CR is deleted."),
    _key("kubernetes.operator.job.drain-on-savepoint-deletion", BOOL, "false", DYNAMIC,
         description="Use `--drain` for stop-with-savepoint."),
    _key("kubernetes.operator.session.deletion.block-on-unmanaged-jobs", BOOL, "true", DYNAMIC,
         aliases=("kubernetes.operator.session.block-on-unmanaged-jobs",),
         description="Block session deletion while non-operator jobs run."),
    _key("kubernetes.operator.session.deletion.block-on-session-jobs", BOOL, "true", DYNAMIC,
         description="Block session deletion while FlinkSessionJobs exist."),
    _key("kubernetes.operator.cluster.resource-view.refresh-interval", DURATION, None, ADVANCED,
         description=(
             "Poll node capacity for autoscaler resource checks. Upstream's default is the duration "
             "-1 min, which Flink's syntax cannot express; unset means off."
         )),
    _key("kubernetes.operator.ingress.manage", BOOL, "true", ADVANCED, starred=True,
         description=(
             "Whether the operator creates/watches Ingresses (if false and spec.ingress set: "
             "Warning event `IngressManagement`)."
         )),
    _key("kubernetes.operator.jvm.metrics.enabled", BOOL, "true", METRICS,
         description="Register `Status.JVM.*` metrics."),
    _key("kubernetes.operator.josdk.metrics.enabled", BOOL, "true", METRICS,
         description="Forward JOSDK metrics."),
    _key("kubernetes.operator.kubernetes.client.metrics.enabled", BOOL, "true", METRICS,
         description="HTTP metrics for the k8s client."),
    _key("kubernetes.operator.kubernetes.client.metrics.http.response.code.groups.enabled",
         BOOL, "false", METRICS,
         description="Add 1xx..5xx grouped metrics."),
    _key("kubernetes.operator.kubernetes.client.metrics.slow.request.threshold", DURATION, "5 s", METRICS,
         description="Threshold for the slow-request counter."),
    _key("kubernetes.operator.resource.metrics.enabled", BOOL, "true", METRICS,
         description="Per-CR-type namespace metrics."),
    _key("kubernetes.operator.resource.lifecycle.metrics.enabled", BOOL, "true", METRICS,
         description="Lifecycle state/transition metrics."),
    _key("kubernetes.operator.resource.lifecycle.namespace.histograms.enabled", BOOL, "true", METRICS,
         description="Also keep per-namespace lifecycle histograms."),
    _key("kubernetes.operator.metrics.histogram.sample.size", INT, "1000", METRICS,
         description="Histogram reservoir size."),
    _key("kubernetes.operator.metrics.scope.k8soperator.system",
         STR, "<host>.k8soperator.<namespace>.<name>.system", METRICS,
         description="System scope format."),
    _key("kubernetes.operator.metrics.scope.k8soperator.resourcens",
         STR, "<host>.k8soperator.<namespace>.<name>.namespace.<resourcens>.<resourcetype>", METRICS,
         description="Namespace scope format."),
    _key("kubernetes.operator.metrics.scope.k8soperator.resource", STR,
         "<host>.k8soperator.<namespace>.<name>.resource.<resourcens>.<resourcename>.<resourcetype>",
         METRICS,
         description="Resource scope format."),
    _key("kubernetes.operator.bluegreen.abort.grace-period", DURATION, "10 min", BLUE_GREEN,
         description="Abort a transition if the new child isn't ready in time."),
    _key("kubernetes.operator.bluegreen.reconciliation.reschedule-interval", DURATION, "15 s", BLUE_GREEN,
         description="Reschedule delay for the blue/green controller."),
    _key("kubernetes.operator.bluegreen.deployment-deletion.delay", DURATION, "0 ms", BLUE_GREEN,
         description="Delay before deleting the old child after a transition."),
)
# fmt: on

KEYS: dict[str, ConfigKey] = {key.name: key for key in _TABLE}
"""Every known option by its main key, in the inventory's order."""

ALIASES: dict[str, str] = {alias: key.name for key in _TABLE for alias in key.aliases}
"""Deprecated key -> main key."""


def option_for(key: str) -> ConfigKey | None:
    """The option a main or deprecated key names, if any."""
    return KEYS.get(ALIASES.get(key, key))


# --- per-namespace and per-Flink-version defaults ---------------------------------------------

_VERSION_KEY = re.compile(re.escape(VERSION_CONF_PREFIX) + r"v(\d+)_(\d+)(\+)?\.")
_VERSION = re.compile(r"v(\d+)_(\d+)")


def scoped_default_key(key: str) -> str | None:
    """The inner key of a per-namespace or per-version default (``...namespace.ns1.<key>``), else None."""
    if key.startswith(NAMESPACE_CONF_PREFIX):
        _, _, inner = key[len(NAMESPACE_CONF_PREFIX) :].partition(".")  # namespaces have no dots
        return inner or None
    match = _VERSION_KEY.match(key)
    if match:
        return key[match.end() :] or None
    return None


def _apply_prefix(source: Mapping[str, ConfigValue], prefix: str, target: dict[str, ConfigValue]) -> None:
    for key, value in source.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            target[key[len(prefix) :]] = value


def resource_defaults(
    raw: Mapping[str, ConfigValue], namespace: str | None, flink_version: str | None
) -> dict[str, ConfigValue]:
    """The operator configuration as seen by one resource, upstream's ``getDefaultConfig(ns, version)``.

    On top of ``raw``: ``...namespace.<namespace>.<key>`` entries, then
    ``...flink-version.v<M>_<m>+.<key>`` entries for every version up to the resource's, oldest
    first (newer ``+`` entries win), then ``...flink-version.<version>.<key>`` entries (exact
    versions win over ``+``). Version defaults therefore override namespace defaults. The
    prefixed entries themselves stay, as upstream keeps them.
    """
    conf = dict(raw)
    if namespace:
        _apply_prefix(raw, f"{NAMESPACE_CONF_PREFIX}{namespace}.", conf)
    if flink_version:
        version = str(flink_version)
        target = _VERSION.fullmatch(version)
        target_mm = (int(target[1]), int(target[2])) if target else None
        plus_prefixes: dict[str, tuple[int, int]] = {}
        for key in raw:
            match = _VERSION_KEY.match(key)
            if match and match[3] and target_mm is not None:
                key_mm = (int(match[1]), int(match[2]))
                if key_mm <= target_mm:
                    plus_prefixes[key[: match.end()]] = key_mm
        for prefix in sorted(plus_prefixes, key=plus_prefixes.__getitem__):
            _apply_prefix(raw, prefix, conf)
        _apply_prefix(raw, f"{VERSION_CONF_PREFIX}{version}.", conf)
    return conf


# --- validation --------------------------------------------------------------------------------


def parse_watched_namespaces(value: ConfigValue | None) -> frozenset[str]:
    """A comma list of namespaces (or a YAML list); empty or ``JOSDK_ALL_NAMESPACES`` means all (``{}``)."""
    if value is None:
        return frozenset()
    items = value if isinstance(value, list) else value.split(",")
    names = {item.strip() for item in items if item.strip()}
    if WATCH_ALL_NAMESPACES in names:
        if len(names) > 1:
            raise ValueError(f"{WATCH_ALL_NAMESPACES} cannot be combined with other namespaces in {value!r}")
        return frozenset()
    return frozenset(names)


def validate_options(raw: Mapping[str, ConfigValue]) -> list[str]:
    """One problem per value of a known option that does not parse as its type, naming key and
    value; this includes the per-namespace and per-version defaults. Unknown keys pass."""
    problems: list[str] = []
    for key, value in raw.items():
        option = option_for(key)
        inner = None
        if option is None:
            inner = scoped_default_key(key)
            option = option_for(inner) if inner else None
        if option is None:
            continue
        try:
            option.parse(value)
        except ValueError as error:
            name = inner or key
            label = key if name == option.name else f"{key} (deprecated key of {option.name})"
            problems.append(f"{label}: {error}")
    return problems


# --- the typed view ----------------------------------------------------------------------------

_SENSITIVE = (
    "password",
    "secret",
    "fs.azure.account.key",
    "apikey",
    "api-key",
    "auth-params",
    "service-key",
    "token",
    "basic-auth",
    "jaas.config",
    "http-headers",
)
HIDDEN_CONTENT = "******"


def is_sensitive(key: str) -> bool:
    """Flink's ``GlobalConfiguration.isSensitive``: values of such keys are never logged."""
    lower = key.lower()
    return any(word in lower for word in _SENSITIVE)


def _option(key: str) -> Any:
    if key not in KEYS:
        raise KeyError(key)
    return field(metadata={"key": key})


# Operator keys a resource may not override in spec.flinkConfiguration (upstream reads them
# from the operator configuration only).
_RESOURCE_SCOPES = (Scope.DYNAMIC, Scope.BLUE_GREEN)


def _resource_may_set(key: str) -> bool:
    if not is_operator_key(key):
        return True
    option = option_for(key)
    if option is not None:
        return option.scope in _RESOURCE_SCOPES
    return not key.startswith((DEFAULT_CONF_PREFIX, METRICS_PREFIX))


@dataclass(frozen=True, eq=False, kw_only=True)
class OperatorConfig:
    """The operator configuration: every option typed (durations in seconds, memory in bytes),
    plus the flat ``raw`` map it was read from (unknown keys included: they may be Flink keys).

    Build with :meth:`from_mapping` (or :func:`flinkop.config.loader.load_operator_config`);
    both validate every known option and raise one :class:`~flinkop.config.errors.ConfigError`.
    """

    reconcile_interval: float = _option("kubernetes.operator.reconcile.interval")
    reconcile_parallelism: int = _option("kubernetes.operator.reconcile.parallelism")
    progress_check_interval: float = _option("kubernetes.operator.observer.progress-check.interval")
    rest_ready_delay: float = _option("kubernetes.operator.observer.rest-ready.delay")
    flink_client_timeout: float = _option("kubernetes.operator.flink.client.timeout")
    flink_cancel_timeout: float = _option("kubernetes.operator.flink.client.cancel.timeout")
    resource_cleanup_timeout: float = _option("kubernetes.operator.resource.cleanup.timeout")
    job_submission_timeout: float = _option("kubernetes.operator.job.submission.timeout")
    rollback_enabled: bool = _option("kubernetes.operator.deployment.rollback.enabled")
    readiness_timeout: float = _option("kubernetes.operator.deployment.readiness.timeout")
    artifacts_base_dir: str = _option("kubernetes.operator.user.artifacts.base.dir")
    artifacts_http_header: Mapping[str, str] | None = _option(
        "kubernetes.operator.user.artifacts.http.header"
    )
    artifacts_allowed_schemes: Sequence[str] = _option("kubernetes.operator.user.artifacts.allowed-schemes")
    artifacts_disallow_restricted_hosts: bool = _option(
        "kubernetes.operator.user.artifacts.disallow-restricted-hosts"
    )
    upgrade_ignore_pending_savepoint: bool = _option(
        "kubernetes.operator.job.upgrade.ignore-pending-savepoint"
    )
    inplace_scaling_enabled: bool = _option("kubernetes.operator.job.upgrade.inplace-scaling.enabled")
    last_state_fallback_enabled: bool = _option("kubernetes.operator.job.upgrade.last-state-fallback.enabled")
    last_state_max_checkpoint_age: float | None = _option(
        "kubernetes.operator.job.upgrade.last-state.max.allowed.checkpoint.age"
    )
    last_state_job_cancel_enabled: bool = _option(
        "kubernetes.operator.job.upgrade.last-state.job-cancel.enabled"
    )
    dynamic_config_enabled: bool = _option("kubernetes.operator.dynamic.config.enabled")
    dynamic_config_check_interval: float = _option("kubernetes.operator.dynamic.config.check.interval")
    config_cache_timeout: float = _option("kubernetes.operator.config.cache.timeout")
    config_cache_size: int = _option("kubernetes.operator.config.cache.size")
    jm_deployment_recovery_enabled: bool = _option("kubernetes.operator.jm-deployment-recovery.enabled")
    jm_shutdown_ttl: float = _option("kubernetes.operator.jm-deployment.shutdown-ttl")
    jm_startup_probe_enabled: bool = _option("kubernetes.operator.jm-deployment.startup.probe.enabled")
    savepoint_dispose_on_delete: bool = _option("kubernetes.operator.savepoint.dispose-on-delete")
    savepoint_format_type: str = _option("kubernetes.operator.savepoint.format.type")
    checkpoint_type: str = _option("kubernetes.operator.checkpoint.type")
    savepoint_cleanup_enabled: bool = _option("kubernetes.operator.savepoint.cleanup.enabled")
    savepoint_history_max_count: int = _option("kubernetes.operator.savepoint.history.max.count")
    savepoint_history_max_count_threshold: int | None = _option(
        "kubernetes.operator.savepoint.history.max.count.threshold"
    )
    savepoint_history_max_age: float = _option("kubernetes.operator.savepoint.history.max.age")
    savepoint_history_max_age_threshold: float | None = _option(
        "kubernetes.operator.savepoint.history.max.age.threshold"
    )
    savepoint_trigger_grace_period: float = _option("kubernetes.operator.savepoint.trigger.grace-period")
    checkpoint_trigger_grace_period: float = _option("kubernetes.operator.checkpoint.trigger.grace-period")
    periodic_savepoint_interval: str = _option("kubernetes.operator.periodic.savepoint.interval")
    """Empty (off), a Flink duration, or a Quartz cron expression."""
    periodic_checkpoint_interval: str = _option("kubernetes.operator.periodic.checkpoint.interval")
    snapshot_resource_enabled: bool = _option("kubernetes.operator.snapshot.resource.enabled")
    exception_stacktrace_enabled: bool = _option("kubernetes.operator.exception.stacktrace.enabled")
    exception_stacktrace_max_length: int = _option("kubernetes.operator.exception.stacktrace.max.length")
    exception_field_max_length: int = _option("kubernetes.operator.exception.field.max.length")
    exception_throwable_list_max_count: int = _option(
        "kubernetes.operator.exception.throwable.list.max.count"
    )
    exception_label_mapper: Mapping[str, str] = _option("kubernetes.operator.exception.label.mapper")
    exception_events_limit: int = _option("kubernetes.operator.events.exceptions.limit-per-reconciliation")
    exception_events_stacktrace_lines: int = _option("kubernetes.operator.events.exceptions.stacktrace-lines")
    watched_namespaces_option: str = _option("kubernetes.operator.watched.namespaces")
    """The option as written; use :attr:`watched_namespaces`."""
    label_selector: str | None = _option("kubernetes.operator.label.selector")
    dynamic_namespaces_enabled: bool = _option("kubernetes.operator.dynamic.namespaces.enabled")
    retry_initial_interval: float = _option("kubernetes.operator.retry.initial.interval")
    retry_max_interval: float | None = _option("kubernetes.operator.retry.max.interval")
    retry_interval_multiplier: float = _option("kubernetes.operator.retry.interval.multiplier")
    retry_max_attempts: int = _option("kubernetes.operator.retry.max.attempts")
    rate_limiter_refresh_period: float = _option("kubernetes.operator.rate-limiter.refresh-period")
    rate_limiter_limit: int = _option("kubernetes.operator.rate-limiter.limit")
    health_probe_enabled: bool = _option("kubernetes.operator.health.probe.enabled")
    health_probe_port: int = _option("kubernetes.operator.health.probe.port")
    canary_resource_timeout: float = _option("kubernetes.operator.health.canary.resource.timeout")
    stop_on_informer_error: bool = _option("kubernetes.operator.startup.stop-on-informer-error")
    termination_timeout: float = _option("kubernetes.operator.termination.timeout")
    health_check_enabled: bool = _option("kubernetes.operator.cluster.health-check.enabled")
    health_check_restarts_window: float = _option("kubernetes.operator.cluster.health-check.restarts.window")
    health_check_restarts_threshold: int = _option(
        "kubernetes.operator.cluster.health-check.restarts.threshold"
    )
    health_check_checkpoint_progress_enabled: bool = _option(
        "kubernetes.operator.cluster.health-check.checkpoint-progress.enabled"
    )
    health_check_checkpoint_progress_window: float | None = _option(
        "kubernetes.operator.cluster.health-check.checkpoint-progress.window"
    )
    job_restart_failed: bool = _option("kubernetes.operator.job.restart.failed")
    leader_election_enabled: bool = _option("kubernetes.operator.leader-election.enabled")
    leader_election_lease_name: str | None = _option("kubernetes.operator.leader-election.lease-name")
    leader_election_lease_duration: float = _option("kubernetes.operator.leader-election.lease-duration")
    leader_election_renew_deadline: float = _option("kubernetes.operator.leader-election.renew-deadline")
    leader_election_retry_period: float = _option("kubernetes.operator.leader-election.retry-period")
    pod_template_merge_arrays_by_name: bool = _option("kubernetes.operator.pod-template.merge-arrays-by-name")
    deletion_propagation: str = _option("kubernetes.operator.resource.deletion.propagation")
    savepoint_on_deletion: bool = _option("kubernetes.operator.job.savepoint-on-deletion")
    drain_on_savepoint_deletion: bool = _option("kubernetes.operator.job.drain-on-savepoint-deletion")
    session_block_on_unmanaged_jobs: bool = _option(
        "kubernetes.operator.session.deletion.block-on-unmanaged-jobs"
    )
    session_block_on_session_jobs: bool = _option(
        "kubernetes.operator.session.deletion.block-on-session-jobs"
    )
    resource_view_refresh_interval: float | None = _option(
        "kubernetes.operator.cluster.resource-view.refresh-interval"
    )
    ingress_manage: bool = _option("kubernetes.operator.ingress.manage")
    jvm_metrics_enabled: bool = _option("kubernetes.operator.jvm.metrics.enabled")
    josdk_metrics_enabled: bool = _option("kubernetes.operator.josdk.metrics.enabled")
    kubernetes_client_metrics_enabled: bool = _option("kubernetes.operator.kubernetes.client.metrics.enabled")
    kubernetes_client_metrics_response_code_groups_enabled: bool = _option(
        "kubernetes.operator.kubernetes.client.metrics.http.response.code.groups.enabled"
    )
    kubernetes_client_metrics_slow_request_threshold: float = _option(
        "kubernetes.operator.kubernetes.client.metrics.slow.request.threshold"
    )
    resource_metrics_enabled: bool = _option("kubernetes.operator.resource.metrics.enabled")
    resource_lifecycle_metrics_enabled: bool = _option(
        "kubernetes.operator.resource.lifecycle.metrics.enabled"
    )
    resource_lifecycle_namespace_histograms_enabled: bool = _option(
        "kubernetes.operator.resource.lifecycle.namespace.histograms.enabled"
    )
    metrics_histogram_sample_size: int = _option("kubernetes.operator.metrics.histogram.sample.size")
    metrics_scope_system: str = _option("kubernetes.operator.metrics.scope.k8soperator.system")
    metrics_scope_namespace: str = _option("kubernetes.operator.metrics.scope.k8soperator.resourcens")
    metrics_scope_resource: str = _option("kubernetes.operator.metrics.scope.k8soperator.resource")
    bluegreen_abort_grace_period: float = _option("kubernetes.operator.bluegreen.abort.grace-period")
    bluegreen_reschedule_interval: float = _option(
        "kubernetes.operator.bluegreen.reconciliation.reschedule-interval"
    )
    bluegreen_deletion_delay: float = _option("kubernetes.operator.bluegreen.deployment-deletion.delay")

    watched_namespaces: frozenset[str] = frozenset()
    """The namespaces to watch; empty means all. ``WATCH_NAMESPACES`` (env) wins over the option."""
    watch_namespaces_env: str | None = None
    """The ``WATCH_NAMESPACES`` environment variable the configuration was loaded with."""
    source: str | None = None
    """Where the configuration was read from (for messages)."""
    raw: Mapping[str, ConfigValue] = field(default_factory=dict, repr=False)
    """The flat configuration: every key as read, Flink strings or lists of them."""
    _resource_configs: dict[tuple[str | None, str | None], OperatorConfig] = field(
        default_factory=dict, init=False, repr=False
    )

    @classmethod
    def from_mapping(
        cls,
        raw: Mapping[str, Any] | None = None,
        *,
        watch_namespaces_env: str | None = None,
        source: str | None = None,
    ) -> OperatorConfig:
        """Validate and type a flat configuration (values: Flink strings, lists, or YAML scalars)."""
        flat: dict[str, ConfigValue] = {
            str(key): to_config_value(value) for key, value in (raw or {}).items()
        }
        problems = validate_options(flat)
        watched: frozenset[str] = frozenset()
        env_value = watch_namespaces_env if watch_namespaces_env and watch_namespaces_env.strip() else None
        try:
            watched = parse_watched_namespaces(
                env_value if env_value is not None else flat.get("kubernetes.operator.watched.namespaces")
            )
        except ValueError as error:
            where = "WATCH_NAMESPACES" if env_value is not None else "kubernetes.operator.watched.namespaces"
            problems.append(f"{where}: {error}")
        if problems:
            raise ConfigError(problems, source=source)
        values = {
            item.name: KEYS[item.metadata["key"]].read(flat) for item in fields(cls) if "key" in item.metadata
        }
        return cls(
            **values,
            watched_namespaces=watched,
            watch_namespaces_env=watch_namespaces_env,
            source=source,
            raw=MappingProxyType(flat),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OperatorConfig):
            return NotImplemented
        return dict(self.raw) == dict(other.raw) and self.watch_namespaces_env == other.watch_namespaces_env

    __hash__ = None  # type: ignore[assignment]

    @property
    def watches_all_namespaces(self) -> bool:
        return not self.watched_namespaces

    def get(self, key: str, default: Any = None) -> Any:
        """A known option (main or deprecated key) typed, its default when unset; any other key
        as read (a string or a list), or ``default``."""
        option = option_for(key)
        if option is not None:
            return option.read(self.raw)
        return self.raw.get(key, default)

    def as_dict(self) -> dict[str, ConfigValue]:
        """A copy of the flat configuration."""
        return {key: list(value) if isinstance(value, list) else value for key, value in self.raw.items()}

    @property
    def metrics_config(self) -> dict[str, str]:
        """The operator's own metric settings: ``kubernetes.operator.metrics.X`` as ``metrics.X``
        (reporters, intervals, scopes). Plain ``metrics.X`` keys are for Flink clusters, not here."""
        return {
            "metrics." + key[len(METRICS_PREFIX) :]: value if isinstance(value, str) else ";".join(value)
            for key, value in self.raw.items()
            if key.startswith(METRICS_PREFIX)
        }

    def for_resource(self, namespace: str | None, flink_version: str | None) -> OperatorConfig:
        """This configuration with the namespace's and the Flink version's defaults applied
        (see :func:`resource_defaults`); cached per (namespace, version)."""
        cache_key = (namespace or None, str(flink_version) if flink_version else None)
        cached = self._resource_configs.get(cache_key)
        if cached is None:
            cached = OperatorConfig.from_mapping(
                resource_defaults(self.raw, *cache_key),
                watch_namespaces_env=self.watch_namespaces_env,
                source=self.source,
            )
            self._resource_configs[cache_key] = cached
        return cached

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> OperatorConfig:
        """This configuration with a resource's ``spec.flinkConfiguration`` (flat or nested) on
        top. Operator options a resource may not set (system, advanced and metrics options,
        default-configuration prefixes) are ignored, as upstream reads those only from the
        operator configuration. Raises ConfigError naming a bad value."""
        merged = dict(self.raw)
        for key, value in flatten_flink_configuration(overrides).items():
            if _resource_may_set(key):
                merged[key] = value
        return OperatorConfig.from_mapping(
            merged, watch_namespaces_env=self.watch_namespaces_env, source="spec.flinkConfiguration"
        )

    def describe(self) -> str:
        """The configuration as upstream logs it: Java's ``HashMap.toString`` (``{k=v, ...}``) in
        Java's iteration order for these keys, sensitive values hidden, lists as ``[a, b]``."""
        return java_map_string(
            (key, HIDDEN_CONTENT if is_sensitive(key) else java_to_string(value))
            for key, value in self.raw.items()
        )
