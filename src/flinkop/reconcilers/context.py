"""What the observer and the reconciler work with in one reconcile of one FlinkDeployment.

:class:`Services` are long-lived and shared by every reconcile (built once by the operator); a
:class:`ResourceContext` lives for one reconcile: the typed resource (its status is what the components
read and write), the raw object (its latest version, for status writes and events) and the configurations
derived from the operator configuration and the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from flinkop.api import FlinkDeployment, FlinkDeploymentSpec
from flinkop.config import OperatorConfig
from flinkop.flink.resources.options import FlinkConf
from flinkop.flink.resources.pods import rest_port
from flinkop.flink.rest import FlinkRestClient
from flinkop.reconcilers.config import cluster_config, render_config, resource_operator_config, with_spec
from flinkop.reconcilers.errors import ErrorLimits
from flinkop.reconcilers.status import StatusRecorder
from flinkop.runtime import EventRecorder, Kube
from flinkop.runtime.events import EventType

JSON = dict[str, Any]

# Event components (upstream's EventRecorder.Component).
OPERATOR = "Operator"
JOBMANAGER_DEPLOYMENT = "JobManagerDeployment"
JOB = "Job"


class RestClients(Protocol):
    def client(self, namespace: str, name: str, port: int) -> FlinkRestClient:
        """The REST client of the cluster ``name`` (one per cluster, reused)."""
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    kube: Kube
    events: EventRecorder
    statuses: StatusRecorder
    rest: RestClients
    jm_deployments: Callable[[str], JSON | None]  # the informer cache: `namespace/name` -> JM Deployment
    operator_config: Callable[[], OperatorConfig]  # the configuration in force (it may be reloaded)
    now: Callable[[], datetime] = _utcnow
    poll_interval: float = 0.5  # how often blocking deletions look again
    snapshot_crd_installed: bool = True  # FlinkStateSnapshot CRD found at start (else legacy tracking)
    # the FlinkStateSnapshot informer cache's objects, when the operator runs one (else: API requests)
    snapshot_cache: Callable[[], Iterable[JSON]] | None = None


@dataclass
class ResourceContext:
    services: Services
    deployment: FlinkDeployment
    obj: JSON  # the object as last read or written: its resourceVersion is the one to write against
    base_config: OperatorConfig
    log: Any = field(default_factory=lambda: structlog.get_logger("flinkop.reconcilers"))
    _configs: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _operator: tuple[str, OperatorConfig] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"{self.deployment.namespace}/{self.deployment.name}"

    # -- configuration -------------------------------------------------------------------------------
    @property
    def operator(self) -> OperatorConfig:
        """The operator options for this resource (its spec's overrides of dynamic options included)."""
        spec_key = self.deployment.spec.model_dump_json(by_alias=True)
        if self._operator is None or self._operator[0] != spec_key:
            self._operator = (spec_key, resource_operator_config(self.base_config, self.deployment))
        return self._operator[1]

    def render_config(self, spec: FlinkDeploymentSpec) -> dict[str, str]:
        return render_config(self.base_config, with_spec(self.deployment, spec))

    def cluster_config(self, spec: FlinkDeploymentSpec) -> dict[str, str]:
        """The configuration a cluster of ``spec`` runs with (cached for this reconcile)."""
        cache_key = spec.model_dump_json(by_alias=True)
        if cache_key not in self._configs:
            self._configs[cache_key] = cluster_config(self.base_config, with_spec(self.deployment, spec))
        return self._configs[cache_key]

    @property
    def error_limits(self) -> ErrorLimits:
        op = self.base_config
        return ErrorLimits(
            stacktrace_enabled=op.exception_stacktrace_enabled,
            stacktrace_max_length=op.exception_stacktrace_max_length,
            field_max_length=op.exception_field_max_length,
            throwable_list_max_count=op.exception_throwable_list_max_count,
        )

    # -- the cluster ---------------------------------------------------------------------------------
    @property
    def jm_deployment(self) -> JSON | None:
        return self.services.jm_deployments(self.key)

    def rest(self, conf: dict[str, str]) -> FlinkRestClient:
        """The REST client of this resource's cluster, on the port of ``conf``."""
        return self.services.rest.client(
            self.deployment.namespace, self.deployment.name, rest_port(FlinkConf(conf))
        )

    # -- time ----------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.services.now()

    def now_ms(self) -> int:
        return int(self.services.now().timestamp() * 1000)

    # -- writes --------------------------------------------------------------------------------------
    async def record_status(self) -> None:
        """Write the status if it changed (the write-ahead before anything destructive, and the last step)."""
        self.obj = await self.services.statuses.record(self.deployment, self.obj)

    async def event(self, type_: EventType, reason: str, message: str, component: str = OPERATOR) -> None:
        self.log.info(f"Event {type_} {reason}: {message}", type=type_, reason=reason, component=component)
        await self.services.events.record(self.obj, type_, reason, message, component)


__all__ = ["JOB", "JOBMANAGER_DEPLOYMENT", "OPERATOR", "ResourceContext", "RestClients", "Services"]
