"""The operator process: a Manager with the informers, the FlinkDeployment controller, the event recorder,
the status recorder and the REST clients, wired together.

Informers: FlinkDeployments in the watched namespaces (``kubernetes.operator.label.selector`` applied) and
the JobManager Deployments (``component=jobmanager``), whose changes reconcile their FlinkDeployment owner.
``kubernetes.operator.reconcile.parallelism`` workers reconcile keys; a failed reconcile is retried with
``kubernetes.operator.retry.*``. The operator's own status writes do not trigger reconciles.

Snapshot-resource mode (``kubernetes.operator.snapshot.resource.enabled`` and the FlinkStateSnapshot CRD
installed, checked once at start): an informer on FlinkStateSnapshots and the "flinkstatesnapshot"
controller. Without the CRD the controller is not registered and snapshots are tracked in the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from flinkop.api import GROUP, FlinkDeployment
from flinkop.config import ConfigWatcher, OperatorConfig, log_default_configuration
from flinkop.metrics import MetricsHandle, start_metrics
from flinkop.observer.jobmanager import cached_jobmanager_deployment
from flinkop.operator.health import HealthServer, start_health
from flinkop.operator.rest import RestClients
from flinkop.operator.retry import retry_rate_limiter
from flinkop.reconcilers.context import Services
from flinkop.reconcilers.deploy import DEPLOYMENTS
from flinkop.reconcilers.deployment import FlinkDeploymentReconciler
from flinkop.reconcilers.status import StatusRecorder
from flinkop.runtime import (
    ApiError,
    Controller,
    EventRecorder,
    Kube,
    LeaderElectionConfig,
    Manager,
    Resource,
    SharedInformer,
    object_key,
)
from flinkop.runtime.client import in_cluster as running_in_cluster
from flinkop.snapshots.controller import FlinkStateSnapshotReconciler
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS

JSON = dict[str, Any]
log = structlog.get_logger("flinkop.operator")

FLINK_DEPLOYMENTS = Resource(GROUP, "v1beta1", FlinkDeployment.PLURAL, kind=FlinkDeployment.KIND)
JOBMANAGER_SELECTOR = "component=jobmanager"
UNBOUNDED_WORKERS = 256  # reconcile.parallelism -1


def worker_count(parallelism: int) -> int:
    return UNBOUNDED_WORKERS if parallelism < 0 else max(1, parallelism)


async def snapshot_crd_installed(kube: Kube) -> bool:
    """Whether the API server serves FlinkStateSnapshots (discovery of ``flink.apache.org/v1beta1``)."""
    res = FLINK_STATE_SNAPSHOTS
    try:
        discovery = await kube.request("GET", f"/apis/{res.group}/{res.version}")
    except ApiError as error:
        if error.status != 404:
            log.warning("API discovery failed, FlinkStateSnapshot CRD taken as missing", error=repr(error))
        return False
    return any(r.get("name") == res.plural for r in discovery.get("resources") or [])


def leader_election(config: OperatorConfig, namespace: str) -> LeaderElectionConfig | None:
    if not (config.leader_election_enabled and config.leader_election_lease_name):
        return None
    return LeaderElectionConfig(
        namespace=namespace,
        identity=os.environ.get("POD_NAME") or socket.gethostname(),
        lease_name=config.leader_election_lease_name,
        lease_duration=config.leader_election_lease_duration,
        renew_deadline=config.leader_election_renew_deadline,
        retry_period=config.leader_election_retry_period,
    )


def on_signals(callback: Callable[[], object]) -> None:
    """Call ``callback`` on SIGTERM and SIGINT (replacing earlier handlers of this loop)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, callback)


class Operator:
    """Build with a Kube client and the operator configuration; ``await start()`` / ``await stop()``, or
    ``await run()`` until SIGTERM."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        *,
        namespaces: Iterable[str] | None = None,
        in_cluster: bool | None = None,
        operator_namespace: str = "default",
        watch_config: bool = False,
        conf_dir: str | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        """``watch_config``: re-read the configuration from ``conf_dir`` (None: ``FLINK_CONF_DIR``, else
        ``/opt/flink/conf``) every ``dynamic.config.check.interval`` and apply changes."""
        self.kube = kube
        self.config = config
        self.watch_config = watch_config
        self.conf_dir = conf_dir
        self.fixed_namespaces = frozenset(namespaces) if namespaces is not None else None
        watched = self.fixed_namespaces if self.fixed_namespaces is not None else config.watched_namespaces
        self.manager = Manager(
            kube,
            leader_election=leader_election(config, operator_namespace),
            drain_timeout=config.termination_timeout,
        )
        factory = self.manager.informers
        self.deployments = factory.informer(FLINK_DEPLOYMENTS, watched, label_selector=config.label_selector)
        self.jobmanagers = factory.informer(DEPLOYMENTS, watched, label_selector=JOBMANAGER_SELECTOR)
        self.jobmanagers.transform = cached_jobmanager_deployment
        self.events = EventRecorder(kube, "Operator")
        self.statuses = StatusRecorder(kube, FLINK_DEPLOYMENTS)
        self.rest = RestClients(
            kube,
            in_cluster=running_in_cluster() if in_cluster is None else in_cluster,
            timeout=config.flink_client_timeout,
        )
        self.services = Services(
            kube=kube,
            events=self.events,
            statuses=self.statuses,
            rest=self.rest,
            jm_deployments=self.jobmanagers.cache.get,
            operator_config=lambda: self.config,
            poll_interval=poll_interval,
        )
        self.reconciler = FlinkDeploymentReconciler(self.services, self.deployments.cache.get)
        self.reconciler.on_forget.append(self.rest.forget)
        self.controller = Controller(
            "flinkdeployment",
            self.reconciler.reconcile,
            workers=worker_count(config.reconcile_parallelism),
            rate_limiter_factory=lambda: retry_rate_limiter(self.config),
        )
        self.controller.watch(self.deployments, self._deployment_keys)
        self.controller.owns(self.jobmanagers, FlinkDeployment.KIND, GROUP)
        self.manager.add(self.controller)
        self.snapshots: SharedInformer | None = None  # set by start() in snapshot-resource mode
        self.snapshot_controller: Controller | None = None
        self._watcher_task: asyncio.Task[None] | None = None
        self._metrics: MetricsHandle | None = None
        self._health: HealthServer | None = None

    async def _setup_snapshots(self, watched: Iterable[str]) -> None:
        """The FlinkStateSnapshot informer and controller, when snapshot-resource mode is on (checked once:
        before the manager starts, which waits for every informer's cache)."""
        if self.snapshot_controller is not None:
            return
        installed = await snapshot_crd_installed(self.kube)
        self.services.snapshot_crd_installed = installed
        if not self.config.snapshot_resource_enabled:
            return
        if not installed:
            log.warning(
                "FlinkStateSnapshot CRD is not installed: snapshots are tracked in the resource status "
                "(legacy mode) and the FlinkStateSnapshot controller is not started"
            )
            return
        self.snapshots = self.manager.informers.informer(FLINK_STATE_SNAPSHOTS, watched)
        self.services.snapshot_cache = self.snapshots.cache.values
        reconciler = FlinkStateSnapshotReconciler(
            self.services, self.snapshots.cache.get, self.deployments.cache.get
        )
        self.snapshot_controller = Controller(
            "flinkstatesnapshot",
            reconciler.reconcile,
            workers=worker_count(self.config.reconcile_parallelism),
            rate_limiter_factory=lambda: retry_rate_limiter(self.config),
        )
        self.snapshot_controller.watch(self.snapshots)
        self.manager.add(self.snapshot_controller)

    def _deployment_keys(self, obj: JSON) -> list[str]:
        """FlinkDeployment events -> keys, except the watch event of the operator's own status write."""
        if self.statuses.consume_own_write(obj):
            return []
        return [object_key(obj)]

    # -- configuration -------------------------------------------------------------------------------
    async def _config_changed(self, config: OperatorConfig) -> None:
        self.config = config
        self.rest.timeout = config.flink_client_timeout

    async def _namespaces_changed(self, namespaces: frozenset[str]) -> None:
        if self.fixed_namespaces is not None:
            return  # given on the command line: they win
        log.info("watched namespaces changed", namespaces=sorted(namespaces) or "all")
        await self.deployments.set_namespaces(namespaces)
        await self.jobmanagers.set_namespaces(namespaces)
        if self.snapshots is not None:
            await self.snapshots.set_namespaces(namespaces)

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        log_default_configuration(self.config)
        watched = (
            self.fixed_namespaces if self.fixed_namespaces is not None else self.config.watched_namespaces
        )
        log.info("starting operator", namespaces=sorted(watched) or "all", workers=self.controller.workers)
        await self._setup_snapshots(watched)
        await self._start_endpoints()
        await self.manager.start()
        if self.watch_config:
            watcher = ConfigWatcher(
                self.config,
                self._config_changed,
                conf_dir=self.conf_dir,
                on_namespaces_change=self._namespaces_changed,
            )
            self._watcher_task = asyncio.get_running_loop().create_task(watcher.run(), name="config-watcher")

    async def _start_endpoints(self) -> None:
        """Metrics (Prometheus endpoint, slf4j-style reporter) and the health probe. A port that cannot be
        bound is logged and that endpoint left out: the operator itself keeps working."""
        try:
            self._metrics = await start_metrics(self)
        except OSError as error:
            log.error("metrics endpoint not started", error=str(error))
        try:
            self._health = await start_health(self)
        except OSError as error:
            log.error("health endpoint not started", error=str(error))

    @property
    def metrics(self) -> MetricsHandle | None:
        return self._metrics

    @property
    def health(self) -> HealthServer | None:
        return self._health

    async def _stop_endpoints(self) -> None:
        if self._health is not None:
            await self._health.stop()
            self._health = None
        if self._metrics is not None:
            await self._metrics.stop()
            self._metrics = None

    async def stop(self) -> None:
        await self._stop_endpoints()
        if self._watcher_task is not None:
            self._watcher_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher_task
        await self.manager.stop()
        await self.rest.close()

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT, then drain and stop. A signal while still starting (informers that
        cannot sync: an API server out of reach, a namespace it may not list) abandons the start."""
        stop = asyncio.Event()
        on_signals(stop.set)
        starting = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a failed start raises here
                await stopping
            else:
                log.info("stop requested while starting")
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
        finally:
            stopping.cancel()
            log.info("stopping operator")
            await self.stop()


__all__ = [
    "FLINK_DEPLOYMENTS",
    "JOBMANAGER_SELECTOR",
    "Operator",
    "leader_election",
    "on_signals",
    "snapshot_crd_installed",
    "worker_count",
]
