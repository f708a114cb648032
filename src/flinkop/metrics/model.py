"""The operator's metric model, after Flink's metric system: metrics live in a scope (system, namespace or
resource), under groups, with a name; reporters turn them into Prometheus series or log lines.

A group is a plain name (``Lifecycle``) or a key/value pair (``("FlinkVersion", "1.20.1")``): labelling
reporters (Prometheus) put the key into the metric name and the value into a label, the others put both
into the dotted identifier, as Flink does for key/value groups.

Kinds, as in Flink: a counter (a count), a meter (events per second over the last minute), a histogram
(a bounded reservoir of the latest samples with its quantiles) and a gauge (a value read when reported).
Everything runs on the operator's event loop; nothing here is thread safe.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

Group = str | tuple[str, str]
Clock = Callable[[], float]

QUANTILES = (0.5, 0.75, 0.95, 0.98, 0.99, 0.999)
"""The quantiles a histogram reports (Flink's histogram statistics)."""

METER_SPAN = 60
"""Seconds a meter's rate is averaged over (Flink's MeterView default)."""


class ScopeKind(StrEnum):
    SYSTEM = "system"
    NAMESPACE = "namespace"
    RESOURCE = "resource"


@dataclass(frozen=True)
class Scope:
    """Where a metric lives: the operator as a whole, one namespace and resource kind, or one resource."""

    kind: ScopeKind = ScopeKind.SYSTEM
    resource_namespace: str = ""
    resource_type: str = ""
    resource_name: str = ""

    @classmethod
    def namespace(cls, namespace: str, resource_type: str) -> Scope:
        return cls(ScopeKind.NAMESPACE, namespace, resource_type)

    @classmethod
    def resource(cls, namespace: str, name: str, resource_type: str) -> Scope:
        return cls(ScopeKind.RESOURCE, namespace, resource_type, name)


SYSTEM = Scope()


@dataclass(frozen=True)
class MetricId:
    scope: Scope
    groups: tuple[Group, ...]
    name: str

    @classmethod
    def of(cls, scope: Scope, path: str, *kv: tuple[str, str]) -> MetricId:
        """``MetricId.of(scope, "Lifecycle.State.STABLE.Count")``; key/value groups go before the name."""
        *groups, name = path.split(".")
        return cls(scope, (*groups, *kv), name)


class Counter:
    kind = "counter"

    def __init__(self) -> None:
        self.count = 0

    def inc(self, n: int = 1) -> None:
        self.count += n

    def value(self) -> float:
        return float(self.count)


class Meter:
    """Events per second over the last ``METER_SPAN`` seconds, counted in one-second buckets."""

    kind = "meter"

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, events], oldest first
        self.count = 0

    def mark(self, n: int = 1) -> None:
        self.count += n
        second = int(self._clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([second, n])
        self._trim(second)

    def _trim(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - METER_SPAN:
            self._buckets.popleft()

    def rate(self) -> float:
        self._trim(int(self._clock()))
        return sum(events for _, events in self._buckets) / METER_SPAN

    def value(self) -> float:
        return self.rate()


@dataclass(frozen=True)
class HistogramStats:
    count: int
    min: float
    max: float
    mean: float
    stddev: float
    quantiles: dict[float, float]


class Histogram:
    """The latest ``size`` samples (a sliding window, as Flink's operator histograms) and the total count."""

    kind = "histogram"

    def __init__(self, size: int = 1000) -> None:
        self._samples: deque[float] = deque(maxlen=max(1, size))
        self.count = 0

    def update(self, value: float) -> None:
        self.count += 1
        self._samples.append(value)

    def stats(self) -> HistogramStats:
        values = sorted(self._samples)
        if not values:
            return HistogramStats(self.count, 0.0, 0.0, 0.0, 0.0, {q: 0.0 for q in QUANTILES})
        mean = sum(values) / len(values)
        variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
        return HistogramStats(
            self.count,
            values[0],
            values[-1],
            mean,
            math.sqrt(variance),
            {q: quantile(values, q) for q in QUANTILES},
        )


def quantile(ordered: list[float], q: float) -> float:
    """The `q` quantile of sorted values, interpolating linearly between neighbours."""
    if not ordered:
        return 0.0
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


Metric = Counter | Meter | Histogram


@dataclass(frozen=True)
class Sample:
    """One metric as a reporter sees it: a counter, meter or gauge value, or histogram statistics."""

    id: MetricId
    kind: str  # counter | meter | gauge | histogram
    value: float = 0.0
    stats: HistogramStats | None = None


GaugeSource = Callable[[], Iterable[tuple[MetricId, float]]]
"""Computes gauges when reported (e.g. counts over an informer cache)."""


@dataclass
class MetricRegistry:
    """Metrics kept by the operator (counters, meters, histograms) plus gauge sources read at report time."""

    histogram_size: int = 1000
    clock: Clock = time.monotonic
    _metrics: dict[MetricId, Metric] = field(default_factory=dict)
    _gauges: list[GaugeSource] = field(default_factory=list)

    def counter(self, metric: MetricId) -> Counter:
        found = self._metrics.get(metric)
        if not isinstance(found, Counter):
            found = self._metrics[metric] = Counter()
        return found

    def meter(self, metric: MetricId) -> Meter:
        found = self._metrics.get(metric)
        if not isinstance(found, Meter):
            found = self._metrics[metric] = Meter(self.clock)
        return found

    def histogram(self, metric: MetricId) -> Histogram:
        found = self._metrics.get(metric)
        if not isinstance(found, Histogram):
            found = self._metrics[metric] = Histogram(self.histogram_size)
        return found

    def add_gauges(self, source: GaugeSource) -> None:
        self._gauges.append(source)

    def remove_scope(self, scope: Scope) -> None:
        """Forget every kept metric of one scope (a deleted resource)."""
        for metric in [m for m in self._metrics if m.scope == scope]:
            del self._metrics[metric]

    def __len__(self) -> int:
        return len(self._metrics)

    def samples(self) -> Iterator[Sample]:
        for metric_id, metric in list(self._metrics.items()):
            if isinstance(metric, Histogram):
                yield Sample(metric_id, "histogram", float(metric.count), metric.stats())
            else:
                yield Sample(metric_id, metric.kind, metric.value())
        for source in self._gauges:
            for metric_id, value in source():
                yield Sample(metric_id, "gauge", float(value))
