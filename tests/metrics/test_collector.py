"""The metric registry and its Prometheus collector, fed with FlinkDeployment and FlinkStateSnapshot
models."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from flinkop.api.enums import FlinkJobState, JobManagerDeploymentStatus, ResourceLifecycleState
from flinkop.config import OperatorConfig
from flinkop.metrics import (
    MetricId,
    MetricRegistry,
    OperatorCollector,
    OperatorMetrics,
    ResourceGauges,
    Scope,
)
from flinkop.metrics.instruments import ControllerMetrics, KubeClientMetrics
from flinkop.metrics.lifecycle import LifecycleTracker
from flinkop.metrics.model import Histogram, Meter
from flinkop.runtime.cache import Cache
from flinkop.runtime.informer import Handler

from .helpers import NAMING, deployment, labels, ns_labels, scrape, snapshot, wire

S = ResourceLifecycleState


def exposed(registry: MetricRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    prom = CollectorRegistry(auto_describe=False)
    prom.register(OperatorCollector(registry, NAMING))
    return scrape(prom)


def test_resource_gauges_per_namespace() -> None:
    objects = [
        wire(
            deployment(
                "a",
                "ns1",
                cluster_info={
                    "flink-version": "1.20.1",
                    "total-cpu": "2.5",
                    "total-memory": "2147483648",
                    "state-size": "1000",
                },
            )
        ),
        wire(
            deployment(
                "b",
                "ns1",
                lifecycle=S.UPGRADING,
                jm=JobManagerDeploymentStatus.DEPLOYING,
                job=FlinkJobState.RECONCILING,
                cluster_info={"flink-version": "2.1.0", "total-cpu": "1", "total-memory": "1024"},
            )
        ),
        wire(deployment("c", "ns2", lifecycle=S.FAILED, jm=JobManagerDeploymentStatus.ERROR, job=None)),
        wire(deployment("d", "ns2", lifecycle=None, cluster_info={"flink-version": "weird"})),
    ]
    snapshots = [
        snapshot("s1", "ns1", savepoint=True, state="COMPLETED"),
        snapshot("s2", "ns1", savepoint=True, state="FAILED"),
        snapshot("c1", "ns1", savepoint=False, state="IN_PROGRESS"),
    ]
    registry = MetricRegistry()
    registry.add_gauges(ResourceGauges(deployments=lambda: objects, snapshots=lambda: snapshots))
    got = exposed(registry)

    assert got[("flink_k8soperator_namespace_Count", ns_labels("ns1"))] == 2
    assert got[("flink_k8soperator_namespace_Count", ns_labels("ns2"))] == 2
    assert got[("flink_k8soperator_namespace_Lifecycle_State_STABLE_Count", ns_labels("ns1"))] == 1
    assert got[("flink_k8soperator_namespace_Lifecycle_State_UPGRADING_Count", ns_labels("ns1"))] == 1
    assert got[("flink_k8soperator_namespace_Lifecycle_State_FAILED_Count", ns_labels("ns1"))] == 0
    assert got[("flink_k8soperator_namespace_Lifecycle_State_FAILED_Count", ns_labels("ns2"))] == 1
    # no lifecycleState written yet: CREATED
    assert got[("flink_k8soperator_namespace_Lifecycle_State_CREATED_Count", ns_labels("ns2"))] == 1
    assert got[("flink_k8soperator_namespace_JmDeploymentStatus_READY_Count", ns_labels("ns1"))] == 1
    assert got[("flink_k8soperator_namespace_JmDeploymentStatus_DEPLOYING_Count", ns_labels("ns1"))] == 1
    assert got[("flink_k8soperator_namespace_JmDeploymentStatus_ERROR_Count", ns_labels("ns2"))] == 1
    assert got[("flink_k8soperator_namespace_JobStatus_RUNNING_Count", ns_labels("ns1"))] == 1
    assert got[("flink_k8soperator_namespace_JobStatus_RECONCILING_Count", ns_labels("ns1"))] == 1
    version = "flink_k8soperator_namespace_FlinkVersion_Count"
    minor = "flink_k8soperator_namespace_FlinkMinorVersion_Count"
    assert got[(version, ns_labels("ns1", FlinkVersion="1.20.1"))] == 1
    assert got[(version, ns_labels("ns1", FlinkVersion="2.1.0"))] == 1
    assert got[(minor, ns_labels("ns1", FlinkMinorVersion="1.20"))] == 1
    assert got[(version, ns_labels("ns2", FlinkVersion="UNKNOWN"))] == 1
    assert got[(minor, ns_labels("ns2", FlinkMinorVersion="UNKNOWN"))] == 1
    assert got[(minor, ns_labels("ns2", FlinkMinorVersion="MALFORMED"))] == 1
    assert got[("flink_k8soperator_namespace_ResourceUsage_Cpu", ns_labels("ns1"))] == 3.5
    assert got[("flink_k8soperator_namespace_ResourceUsage_Memory", ns_labels("ns1"))] == 2147484672
    assert got[("flink_k8soperator_namespace_ResourceUsage_StateSize", ns_labels("ns1"))] == 1000

    snap = "FlinkStateSnapshot"
    assert got[("flink_k8soperator_namespace_Savepoint_Count", ns_labels("ns1", snap))] == 2
    assert got[("flink_k8soperator_namespace_Checkpoint_Count", ns_labels("ns1", snap))] == 1
    assert got[("flink_k8soperator_namespace_Savepoint_State_COMPLETED_Count", ns_labels("ns1", snap))] == 1
    assert got[("flink_k8soperator_namespace_Savepoint_State_FAILED_Count", ns_labels("ns1", snap))] == 1
    assert (
        got[("flink_k8soperator_namespace_Checkpoint_State_IN_PROGRESS_Count", ns_labels("ns1", snap))] == 1
    )

    objects.clear()  # a namespace that had resources keeps reporting, with zeros
    got = exposed(registry)
    assert got[("flink_k8soperator_namespace_Count", ns_labels("ns2"))] == 0
    assert got[("flink_k8soperator_namespace_Lifecycle_State_FAILED_Count", ns_labels("ns2"))] == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lifecycle_state_and_transition_histograms() -> None:
    registry = MetricRegistry()
    clock = Clock()
    tracker = LifecycleTracker(registry, "FlinkDeployment", clock=clock)

    def go(state: ResourceLifecycleState, after: float) -> None:
        clock.now += after
        tracker.seen(wire(deployment("app", "ns1", lifecycle=state)))

    go(S.CREATED, 0)
    go(S.UPGRADING, 1)  # first deployment
    go(S.DEPLOYED, 2)
    go(S.STABLE, 10)
    go(S.UPGRADING, 100)  # a spec change
    go(S.DEPLOYED, 3)
    go(S.STABLE, 20)
    go(S.UPGRADING, 50)  # suspend
    go(S.SUSPENDED, 4)
    go(S.UPGRADING, 60)  # resume
    go(S.DEPLOYED, 5)
    go(S.STABLE, 7)

    def hist(path: str, scope: Scope | None = None) -> Histogram:
        if scope is None:
            return registry.histogram(MetricId.of(Scope(), f"FlinkDeployment.{path}"))
        return registry.histogram(MetricId.of(scope, path))

    def values(h: Histogram) -> list[float]:
        return sorted(h._samples)

    assert values(hist("Lifecycle.Transition.Submission.TimeSeconds")) == [2, 3, 5]
    assert values(hist("Lifecycle.Transition.Stabilization.TimeSeconds")) == [7, 10, 20]
    assert values(hist("Lifecycle.Transition.Upgrade.TimeSeconds")) == [23]
    assert values(hist("Lifecycle.Transition.Suspend.TimeSeconds")) == [4]
    assert values(hist("Lifecycle.Transition.Resume.TimeSeconds")) == [12]
    assert values(hist("Lifecycle.Transition.Rollback.TimeSeconds")) == []
    assert values(hist("Lifecycle.State.STABLE.TimeSeconds")) == [50, 100]
    assert values(hist("Lifecycle.State.SUSPENDED.TimeSeconds")) == [60]
    namespace = Scope.namespace("ns1", "FlinkDeployment")
    assert values(hist("Lifecycle.Transition.Upgrade.TimeSeconds", namespace)) == [23]

    got = exposed(registry)
    name = "flink_k8soperator_FlinkDeployment_Lifecycle_Transition_Stabilization_TimeSeconds"
    assert got[(name + "_count", labels())] == 3
    assert got[(name, labels(quantile="0.5"))] == 10
    ns_name = "flink_k8soperator_namespace_Lifecycle_State_STABLE_TimeSeconds"
    assert got[(ns_name + "_count", ns_labels("ns1"))] == 2

    tracker.deleted(wire(deployment("app", "ns1")))
    go(S.STABLE, 1)  # a new object of that name starts afresh: nothing recorded
    assert hist("Lifecycle.State.STABLE.TimeSeconds").count == 2


def test_kube_client_metrics() -> None:
    registry = MetricRegistry()
    seen: list[tuple[str, str, int, float]] = []
    observe = KubeClientMetrics(
        registry, slow_threshold=1.0, response_code_groups=True, chained=lambda *a: seen.append(a)
    )
    observe("GET", "flinkdeployments.flink.apache.org", 200, 0.01)
    observe("PUT", "flinkdeployments.flink.apache.org", 409, 0.02)
    observe("GET", "pods", 200, 2.0)
    observe("POST", "pods", 0, 30.0)  # no response
    assert len(seen) == 4
    got = exposed(registry)
    k = "flink_k8soperator_KubeClient_"
    assert got[(k + "HttpRequest_Count", labels())] == 4
    assert got[(k + "HttpRequest_GET_Count", labels())] == 2
    assert got[(k + "HttpRequest_POST_Count", labels())] == 1
    assert got[(k + "HttpRequest_Failed_Count", labels())] == 1
    assert got[(k + "HttpRequest_Slow_Count", labels())] == 2
    assert got[(k + "HttpResponse_Count", labels())] == 3
    assert got[(k + "HttpResponse_200_Count", labels())] == 2
    assert got[(k + "HttpResponse_409_Count", labels())] == 1
    assert got[(k + "HttpResponse_2xx_Count", labels())] == 2
    assert got[(k + "HttpResponse_4xx_Count", labels())] == 1
    assert got[(k + "HttpRequest_NumPerSecond", labels())] == 4 / 60
    assert got[(k + "HttpResponse_TimeNanos_count", labels())] == 3
    assert got[(k + "HttpResponse_TimeNanos", labels(quantile="0.999"))] > 1.9e9


def test_controller_metrics_count_reconciles_events_and_queue() -> None:
    registry = MetricRegistry()
    metrics = ControllerMetrics(registry, "flinkdeployment", "FlinkDeployment")
    registry.add_gauges(metrics.gauges)
    handler = metrics.handler()
    obj = wire(deployment("app", "ns1"))
    assert handler.on_add is not None and handler.on_update is not None and handler.on_delete is not None
    handler.on_add(obj)
    handler.on_update(obj, obj)
    metrics.reconciled("ns1/app", "error", 0.5)
    metrics.reconciled("ns1/app", "success", 0.25)
    metrics.reconciled("ns1/app", "cancelled", 0.1)
    metrics.on_add("ns1/app")
    metrics.on_get("ns1/app", 0.01)
    metrics.on_done("ns1/app", 0.2)
    metrics.on_retry("ns1/app")
    metrics.depth(3)
    got = exposed(registry)
    resource = ns_labels("ns1", resourcename="app")
    r = "flink_k8soperator_namespace_resource_JOSDK_"
    assert got[(r + "Resource_Event_Count", resource)] == 2
    assert got[(r + "Resource_Event_ADDED_Count", resource)] == 1
    assert got[(r + "Resource_Event_UPDATED_Count", resource)] == 1
    assert got[(r + "Reconciliation_Count", resource)] == 2
    assert got[(r + "Reconciliation_failed_Count", resource)] == 1
    assert got[(r + "Reconciliation_finished_Count", resource)] == 1
    assert got[(r + "Reconciliation_retries_Count", resource)] == 1
    n = "flink_k8soperator_namespace_JOSDK_reconcile_"
    assert got[(n + "success_TimeSeconds_count", ns_labels("ns1"))] == 1
    assert got[(n + "failed_TimeSeconds_count", ns_labels("ns1"))] == 1
    q = "flink_k8soperator_WorkQueue_flinkdeployment_"
    assert got[(q + "Depth", labels())] == 3
    assert got[(q + "Adds_Count", labels())] == 1
    assert got[(q + "Retries_Count", labels())] == 1
    assert got[(q + "QueueTimeSeconds_count", labels())] == 1
    assert got[(q + "ProcessingTimeSeconds_count", labels())] == 1

    handler.on_delete(obj)  # a deleted resource's metrics go away
    assert not any(name.startswith(r) for name, _ in exposed(registry))


def test_meter_rate_window() -> None:
    clock = Clock()
    meter = Meter(clock)
    for _ in range(30):
        meter.mark()
    assert meter.rate() == 0.5
    clock.now += 30
    meter.mark(30)
    assert meter.rate() == 1.0
    clock.now += 45
    assert meter.rate() == 0.5
    clock.now += 60
    assert meter.rate() == 0.0
    assert meter.count == 60


def test_histogram_keeps_a_window() -> None:
    histogram = Histogram(size=3)
    for value in (100, 1, 2, 3):
        histogram.update(value)
    stats = histogram.stats()
    assert stats.count == 4
    assert (stats.min, stats.max, stats.mean) == (1, 3, 2)
    assert stats.quantiles[0.5] == 2


class FakeInformer:
    def __init__(self, objects: list[dict[str, object]]) -> None:
        self.cache = Cache()
        for obj in objects:
            self.cache.put(obj)  # type: ignore[arg-type]
        self.handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)


def test_operator_metrics_respects_switches_and_process_metrics() -> None:
    informer = FakeInformer([wire(deployment("a", "ns1"))])
    off = OperatorMetrics(
        OperatorConfig.from_mapping(
            {
                "kubernetes.operator.resource.metrics.enabled": "false",
                "kubernetes.operator.resource.lifecycle.metrics.enabled": "false",
                "kubernetes.operator.jvm.metrics.enabled": "false",
            }
        ),
        NAMING,
    )
    off.watch_resources(informer)  # type: ignore[arg-type]
    assert scrape(off.prometheus) == {}
    assert informer.handlers == []

    on = OperatorMetrics(OperatorConfig.from_mapping({}), NAMING)
    on.watch_resources(informer)  # type: ignore[arg-type]
    got = scrape(on.prometheus)
    assert got[("flink_k8soperator_namespace_Count", ns_labels("ns1"))] == 1
    assert any(name.startswith("process_") for name, _ in got)
    assert len(informer.handlers) == 1
    on.detach()
    assert informer.handlers[0].on_add is None
