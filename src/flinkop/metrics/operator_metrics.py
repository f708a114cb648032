"""The operator's metrics in one object, and `start_metrics`, which wires them into an Operator.

Wiring (the lead calls this from the Operator; nothing in the operator needs to know about metrics)::

    handle = await start_metrics(operator)   # before or after operator.start()
    ...
    await handle.stop()                      # before operator.stop() returns

`start_metrics` reads, and only reads, these attributes of `operator`:

* ``operator.config`` (OperatorConfig): the ``kubernetes.operator.metrics.*`` reporter keys
  (``metrics_config``), ``resource.metrics.enabled``, ``resource.lifecycle.metrics.enabled``,
  ``resource.lifecycle.namespace.histograms.enabled``, ``josdk.metrics.enabled``,
  ``kubernetes.client.metrics.*``, ``jvm.metrics.enabled`` (process metrics),
  ``metrics.histogram.sample.size``
  and the ``metrics.scope.k8soperator.*`` formats. Read once: reporter changes need a restart, as upstream.
* ``operator.deployments`` (SharedInformer of FlinkDeployments): its ``cache`` for the gauges, plus one
  handler for lifecycle histograms and resource events; optionally ``operator.session_jobs`` and
  ``operator.snapshots`` (SharedInformers of FlinkSessionJobs / FlinkStateSnapshots) when present.
* ``operator.controller`` (Controller): sets ``key_observer`` (reconcile metrics) and adds a work-queue
  listener (``queue_metrics``); optionally ``operator.session_job_controller`` likewise.
* ``operator.kube`` (Kube): wraps ``kube.observer`` (a previous observer keeps being called).
* ``operator.manager.leading``: the ``Leader.IsLeader`` gauge.

The Prometheus endpoint and the slf4j reporter start only when configured (see `reporters`); the metrics
are kept either way (they cost a few dict updates per reconcile) so tests and the health probe can read
them. Environment: ``HOSTNAME``, ``OPERATOR_NAMESPACE``, ``OPERATOR_NAME`` fill the scope variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from flinkop.config import OperatorConfig
from flinkop.metrics.instruments import ControllerMetrics, KubeClientMetrics, leader_gauge
from flinkop.metrics.lifecycle import LifecycleTracker
from flinkop.metrics.model import MetricRegistry
from flinkop.metrics.naming import Naming
from flinkop.metrics.prometheus import OperatorCollector, PrometheusServer
from flinkop.metrics.queue import attach_queue_listener, detach_queue_listener
from flinkop.metrics.reporters import PrometheusReporter, Slf4jReporter, reporters
from flinkop.metrics.resources import (
    FLINK_DEPLOYMENT,
    FLINK_SESSION_JOB,
    ResourceGauges,
)
from flinkop.metrics.slf4j import Slf4jLogReporter
from flinkop.runtime.controller import Controller
from flinkop.runtime.informer import Handler, SharedInformer
from flinkop.runtime.kube import Kube

log = structlog.get_logger("flinkop.metrics")


class OperatorMetrics:
    """The metric registry, its naming, and a prometheus-client registry exposing it."""

    def __init__(self, config: OperatorConfig, naming: Naming | None = None) -> None:
        self.config = config
        self.naming = naming or Naming.from_environment(
            config.metrics_scope_system, config.metrics_scope_namespace, config.metrics_scope_resource
        )
        self.registry = MetricRegistry(histogram_size=config.metrics_histogram_sample_size)
        self.prometheus = CollectorRegistry(auto_describe=False)
        self.prometheus.register(OperatorCollector(self.registry, self.naming))
        if config.jvm_metrics_enabled:  # the process's own status metrics, as Status.JVM.* upstream
            ProcessCollector(registry=self.prometheus)
            PlatformCollector(registry=self.prometheus)
            GCCollector(registry=self.prometheus)
        self._undo: list[Callable[[], None]] = []

    def watch_resources(
        self,
        deployments: SharedInformer | None = None,
        session_jobs: SharedInformer | None = None,
        snapshots: SharedInformer | None = None,
    ) -> None:
        """Resource gauges over the caches and lifecycle histograms from their changes."""
        if self.config.resource_metrics_enabled:
            self.registry.add_gauges(
                ResourceGauges(
                    deployments=deployments.cache.values if deployments is not None else None,
                    session_jobs=session_jobs.cache.values if session_jobs is not None else None,
                    snapshots=snapshots.cache.values if snapshots is not None else None,
                    lifecycle=self.config.resource_lifecycle_metrics_enabled,
                )
            )
        if not self.config.resource_lifecycle_metrics_enabled:
            return
        for kind, informer in ((FLINK_DEPLOYMENT, deployments), (FLINK_SESSION_JOB, session_jobs)):
            if informer is not None:
                tracker = LifecycleTracker(
                    self.registry,
                    kind,
                    namespace_histograms=self.config.resource_lifecycle_namespace_histograms_enabled,
                )
                self._add_handler(informer, tracker.handler())

    def instrument_controller(
        self, controller: Controller, resource_type: str, informer: SharedInformer | None = None
    ) -> ControllerMetrics | None:
        """JOSDK-style reconcile metrics, resource events (from `informer`) and work-queue metrics."""
        if not self.config.josdk_metrics_enabled:
            return None
        metrics = ControllerMetrics(self.registry, controller.name, resource_type)
        previous = controller.key_observer

        def observe(key: str, outcome: str, seconds: float) -> None:
            if previous is not None:
                previous(key, outcome, seconds)
            metrics.reconciled(key, outcome, seconds)

        controller.key_observer = observe
        attach_queue_listener(controller, metrics)
        self.registry.add_gauges(metrics.gauges)
        if informer is not None:
            self._add_handler(informer, metrics.handler())

        def undo() -> None:
            if controller.key_observer is observe:
                controller.key_observer = previous
            detach_queue_listener(controller, metrics)

        self._undo.append(undo)
        return metrics

    def instrument_kube(self, kube: Kube) -> None:
        if self.config.kubernetes_client_metrics_enabled:
            self._observe_requests(kube, "KubeClient")

    def instrument_rest(self, rest: Any) -> None:
        """The JobManager REST calls (``operator.rest``: :class:`flinkop.operator.rest.RestClients`)."""
        self._observe_requests(rest, "FlinkRestClient")

    def _observe_requests(self, client: Any, group: str) -> None:
        """Chain request metrics into ``client.observer`` (restored on stop)."""
        previous = client.observer
        observer = KubeClientMetrics(
            self.registry,
            slow_threshold=self.config.kubernetes_client_metrics_slow_request_threshold,
            response_code_groups=self.config.kubernetes_client_metrics_response_code_groups_enabled,
            chained=previous,
            group=group,
        )
        client.observer = observer

        def undo() -> None:
            if client.observer is observer:
                client.observer = previous

        self._undo.append(undo)

    def watch_leader(self, leading: Callable[[], bool]) -> None:
        self.registry.add_gauges(leader_gauge(leading))

    def _add_handler(self, informer: SharedInformer, handler: Handler) -> None:
        informer.add_handler(handler)

        def undo() -> None:
            # The informer has no remove_handler; make the handler inert instead.
            handler.on_add = handler.on_delete = None
            handler.on_update = None

        self._undo.append(undo)

    def detach(self) -> None:
        """Stop listening to the runtime (hooks restored, handlers made inert)."""
        while self._undo:
            self._undo.pop()()


@dataclass
class MetricsHandle:
    """What `start_metrics` started; `await stop()` ends the endpoint and the reporter."""

    metrics: OperatorMetrics
    prometheus: PrometheusServer | None = None
    slf4j: list[Slf4jLogReporter] = field(default_factory=list)

    @property
    def prometheus_port(self) -> int | None:
        return self.prometheus.port if self.prometheus is not None else None

    async def stop(self) -> None:
        for reporter in self.slf4j:
            await reporter.stop()
        if self.prometheus is not None:
            await self.prometheus.stop()
        self.metrics.detach()


async def start_metrics(operator: Any, *, naming: Naming | None = None) -> MetricsHandle:
    """Instrument `operator` (see the module docstring for exactly what is read) and start the
    configured reporters. A bad reporter option is logged and that reporter skipped; a Prometheus port
    that cannot be bound raises OSError."""
    config: OperatorConfig = operator.config
    metrics = OperatorMetrics(config, naming)
    deployments = getattr(operator, "deployments", None)
    session_jobs = getattr(operator, "session_jobs", None)
    metrics.watch_resources(deployments, session_jobs, getattr(operator, "snapshots", None))
    controller = getattr(operator, "controller", None)
    if controller is not None:
        metrics.instrument_controller(controller, FLINK_DEPLOYMENT, deployments)
    session_job_controller = getattr(operator, "session_job_controller", None)
    if session_job_controller is not None:
        metrics.instrument_controller(session_job_controller, FLINK_SESSION_JOB, session_jobs)
    kube = getattr(operator, "kube", None)
    if kube is not None:
        metrics.instrument_kube(kube)
    rest = getattr(operator, "rest", None)
    if rest is not None and hasattr(rest, "observer"):
        metrics.instrument_rest(rest)
    manager = getattr(operator, "manager", None)
    if manager is not None:
        metrics.watch_leader(lambda: bool(manager.leading))

    handle = MetricsHandle(metrics)
    try:
        configured = reporters(config.metrics_config)
    except ValueError as error:
        log.error("bad metrics reporter configuration; no reporter started", error=str(error))
        configured = []
    for reporter in configured:
        if isinstance(reporter, PrometheusReporter):
            if handle.prometheus is not None:
                log.warning("more than one prometheus reporter; ignoring", reporter=reporter.name)
                continue
            server = PrometheusServer(metrics.prometheus, reporter.ports, reporter.host)
            await server.start()
            handle.prometheus = server
        elif isinstance(reporter, Slf4jReporter):
            slf4j = Slf4jLogReporter(metrics.registry, metrics.naming, reporter.interval, reporter.name)
            slf4j.start()
            handle.slf4j.append(slf4j)
        else:
            log.warning(
                "unsupported metrics reporter; skipped", reporter=reporter.name, factory=reporter.factory
            )
    return handle
