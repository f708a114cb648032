"""Metrics fed by the runtime's hooks: Kubernetes API requests, reconciles, work queues, leadership.

* ``KubeClientMetrics`` (a `Kube` request observer), system scope, upstream's names:
  ``KubeClient.HttpRequest.Count`` / ``.NumPerSecond`` / ``.<METHOD>.Count``, ``.Failed.Count`` /
  ``.Failed.NumPerSecond`` (no response: connection errors, timeouts), ``.Slow.Count`` (slower than
  ``kubernetes.client.metrics.slow.request.threshold``), ``KubeClient.HttpResponse.Count`` /
  ``.NumPerSecond`` /
  ``.<code>.Count`` / ``.<code>.NumPerSecond``, ``.TimeNanos`` (histogram) and, when response code groups
  are on, ``.<N>xx.Count`` / ``.<N>xx.NumPerSecond``. Watch streams are not single requests and are not
  counted.
* ``ControllerMetrics``: JOSDK-style. Namespace scope ``JOSDK.reconcile.<success|skipped|failed>.TimeSeconds``
  (histogram); resource scope counters ``JOSDK.Resource.Event.Count``, ``JOSDK.Resource.Event.<ADDED|
  UPDATED|DELETED>.Count`` (from the informer), ``JOSDK.Reconciliation.Count``, ``.finished.Count``,
  ``.failed.Count``, ``.retries.Count`` (a reconcile of a key whose previous one failed). A deleted resource's
  resource-scope metrics are dropped. Work queue (system scope, group ``WorkQueue.<controller>``):
  ``Depth`` (gauge), ``Adds.Count``, ``Retries.Count``, ``QueueTimeSeconds`` and ``ProcessingTimeSeconds``
  (histograms).
* ``Leader.IsLeader`` (system gauge): 1 while this process runs the controllers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

from flinkop.metrics.model import SYSTEM, MetricId, MetricRegistry, Scope
from flinkop.runtime.cache import object_key
from flinkop.runtime.informer import Handler
from flinkop.runtime.kube import RequestObserver

JSON = dict[str, Any]
NANOS = 1_000_000_000


class KubeClientMetrics:
    def __init__(
        self,
        registry: MetricRegistry,
        *,
        slow_threshold: float = 5.0,
        response_code_groups: bool = False,
        chained: RequestObserver | None = None,
        group: str = "KubeClient",
    ) -> None:
        """``group``: ``KubeClient`` (upstream's), or ``FlinkRestClient`` for the JobManager REST calls
        (ours: upstream has no metrics of its Flink REST client)."""
        self.group = group
        self.registry = registry
        self.slow_threshold = slow_threshold
        self.response_code_groups = response_code_groups
        self.chained = chained

    def _count(self, path: str) -> None:
        self.registry.counter(MetricId.of(SYSTEM, f"{self.group}.{path}.Count")).inc()

    def _mark(self, path: str) -> None:
        self.registry.meter(MetricId.of(SYSTEM, f"{self.group}.{path}.NumPerSecond")).mark()

    def __call__(self, method: str, resource: str, status: int, seconds: float) -> None:
        if self.chained is not None:
            self.chained(method, resource, status, seconds)
        self._count("HttpRequest")
        self._mark("HttpRequest")
        self._count(f"HttpRequest.{method.upper()}")
        if seconds > self.slow_threshold:
            self._count("HttpRequest.Slow")
        if status <= 0:
            self._count("HttpRequest.Failed")
            self._mark("HttpRequest.Failed")
            return
        self._count("HttpResponse")
        self._mark("HttpResponse")
        self._count(f"HttpResponse.{status}")
        self._mark(f"HttpResponse.{status}")
        if self.response_code_groups:
            self._count(f"HttpResponse.{status // 100}xx")
            self._mark(f"HttpResponse.{status // 100}xx")
        self.registry.histogram(MetricId.of(SYSTEM, f"{self.group}.HttpResponse.TimeNanos")).update(
            seconds * NANOS
        )


def _split(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


class ControllerMetrics:
    """Reconcile, resource-event and work-queue metrics of one controller of one resource kind."""

    def __init__(self, registry: MetricRegistry, controller: str, resource_type: str) -> None:
        self.registry = registry
        self.controller = controller
        self.resource_type = resource_type
        self._failed: set[str] = set()
        self._depth = 0
        self._queue = f"WorkQueue.{controller}"

    # -- reconciles (Controller.key_observer) ------------------------------------------------------------
    def reconciled(self, key: str, outcome: str, seconds: float) -> None:
        if outcome == "cancelled":
            return
        namespace, name = _split(key)
        result = {"success": "success", "skipped": "skipped"}.get(outcome, "failed")
        scope = Scope.namespace(namespace, self.resource_type)
        self.registry.histogram(MetricId.of(scope, f"JOSDK.reconcile.{result}.TimeSeconds")).update(seconds)
        resource = Scope.resource(namespace, name, self.resource_type)
        self.registry.counter(MetricId.of(resource, "JOSDK.Reconciliation.Count")).inc()
        if key in self._failed:
            self.registry.counter(MetricId.of(resource, "JOSDK.Reconciliation.retries.Count")).inc()
        if result == "failed":
            self._failed.add(key)
            self.registry.counter(MetricId.of(resource, "JOSDK.Reconciliation.failed.Count")).inc()
        else:
            self._failed.discard(key)
            self.registry.counter(MetricId.of(resource, "JOSDK.Reconciliation.finished.Count")).inc()

    # -- resource events (informer handler) --------------------------------------------------------------
    def handler(self) -> Handler:
        return Handler(
            on_add=lambda obj: self._event(obj, "ADDED"),
            on_update=lambda _old, new: self._event(new, "UPDATED"),
            on_delete=self._deleted,
        )

    def _event(self, obj: JSON, action: str) -> None:
        namespace, name = _split(object_key(obj))
        scope = Scope.resource(namespace, name, self.resource_type)
        self.registry.counter(MetricId.of(scope, "JOSDK.Resource.Event.Count")).inc()
        self.registry.counter(MetricId.of(scope, f"JOSDK.Resource.Event.{action}.Count")).inc()

    def _deleted(self, obj: JSON) -> None:
        key = object_key(obj)
        namespace, name = _split(key)
        self._failed.discard(key)
        self.registry.remove_scope(Scope.resource(namespace, name, self.resource_type))

    # -- the work queue (QueueMetrics) ---------------------------------------------------------------------
    def on_add(self, key: Hashable) -> None:
        self.registry.counter(MetricId.of(SYSTEM, f"{self._queue}.Adds.Count")).inc()

    def on_get(self, key: Hashable, queued_for_seconds: float) -> None:
        self.registry.histogram(MetricId.of(SYSTEM, f"{self._queue}.QueueTimeSeconds")).update(
            queued_for_seconds
        )

    def on_done(self, key: Hashable, processing_seconds: float) -> None:
        self.registry.histogram(MetricId.of(SYSTEM, f"{self._queue}.ProcessingTimeSeconds")).update(
            processing_seconds
        )

    def on_retry(self, key: Hashable) -> None:
        self.registry.counter(MetricId.of(SYSTEM, f"{self._queue}.Retries.Count")).inc()

    def depth(self, n: int) -> None:
        self._depth = n

    def gauges(self) -> Iterator[tuple[MetricId, float]]:
        yield MetricId.of(SYSTEM, f"{self._queue}.Depth"), self._depth


def leader_gauge(leading: Callable[[], bool]) -> Callable[[], Iterator[tuple[MetricId, float]]]:
    def gauges() -> Iterator[tuple[MetricId, float]]:
        yield MetricId.of(SYSTEM, "Leader.IsLeader"), 1.0 if leading() else 0.0

    return gauges
