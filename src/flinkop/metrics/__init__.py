"""The operator's own metrics: upstream's metric names on a Prometheus endpoint and an slf4j-style log
reporter (ANCHOR-INVENTORY section 5). `start_metrics(operator)` wires everything."""

from flinkop.metrics.lifecycle import LifecycleTracker
from flinkop.metrics.model import MetricId, MetricRegistry, Scope, ScopeKind
from flinkop.metrics.naming import Naming
from flinkop.metrics.operator_metrics import MetricsHandle, OperatorMetrics, start_metrics
from flinkop.metrics.prometheus import OperatorCollector, PrometheusServer
from flinkop.metrics.queue import QueueProgress, attach_queue_listener, detach_queue_listener
from flinkop.metrics.reporters import PrometheusReporter, Slf4jReporter, reporters
from flinkop.metrics.resources import ResourceGauges
from flinkop.metrics.slf4j import Slf4jLogReporter, report_text

__all__ = [
    "LifecycleTracker",
    "MetricId",
    "MetricRegistry",
    "MetricsHandle",
    "Naming",
    "OperatorCollector",
    "OperatorMetrics",
    "PrometheusReporter",
    "PrometheusServer",
    "QueueProgress",
    "ResourceGauges",
    "Scope",
    "ScopeKind",
    "Slf4jLogReporter",
    "Slf4jReporter",
    "attach_queue_listener",
    "detach_queue_listener",
    "report_text",
    "reporters",
    "start_metrics",
]
