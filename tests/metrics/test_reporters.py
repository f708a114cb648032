"""Reporter configuration, and the slf4j-style log reporter's block."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from flinkop.config import OperatorConfig
from flinkop.metrics import MetricId, MetricRegistry, Scope, Slf4jLogReporter, report_text, reporters
from flinkop.metrics.reporters import PrometheusReporter, Slf4jReporter, UnsupportedReporter, parse_ports

from .helpers import NAMING

SEED = {  # the chart's defaultConfiguration block
    "kubernetes.operator.metrics.reporter.slf4j.factory.class": (
        "org.apache.flink.metrics.slf4j.Slf4jReporterFactory"
    ),
    "kubernetes.operator.metrics.reporter.slf4j.interval": "5 MINUTE",
    "kubernetes.operator.reconcile.interval": "15 s",
    "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
}


def test_seed_configuration_runs_only_the_slf4j_reporter() -> None:
    # plain metrics.* keys are for Flink clusters, not the operator
    assert reporters(OperatorConfig.from_mapping(SEED).metrics_config) == [Slf4jReporter("slf4j", 300.0)]


def test_prometheus_reporter_rules() -> None:
    def parse(raw: dict[str, str]) -> list[object]:
        return list(reporters(OperatorConfig.from_mapping(raw).metrics_config))

    prefix = "kubernetes.operator.metrics.reporter."
    factory = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
    assert parse({prefix + "prom.factory.class": factory}) == [PrometheusReporter("prom", (9999,))]
    assert parse({prefix + "prom.class": "org.apache.flink.metrics.prometheus.PrometheusReporter"}) == [
        PrometheusReporter("prom", (9999,))
    ]
    assert parse({prefix + "prom.port": "9250-9252"}) == [PrometheusReporter("prom", (9250, 9251, 9252))]
    assert parse({prefix + "prom.factory.class": factory, prefix + "prom.host": "127.0.0.1"}) == [
        PrometheusReporter("prom", (9999,), "127.0.0.1")
    ]
    push = "org.apache.flink.metrics.prometheus.PrometheusPushGatewayReporterFactory"
    assert parse({prefix + "pg.factory.class": push}) == [UnsupportedReporter("pg", push)]
    both = {prefix + "prom.factory.class": factory, prefix + "slf4j.factory.class": "x.Slf4jReporterFactory"}
    assert [r.name for r in parse(both)] == ["prom", "slf4j"]  # type: ignore[attr-defined]
    assert parse({**both, "kubernetes.operator.metrics.reporters": "slf4j"}) == [Slf4jReporter("slf4j", 10.0)]
    with pytest.raises(ValueError):
        parse_ports("70000")


def registry_with_one_of_each() -> MetricRegistry:
    registry = MetricRegistry()
    registry.counter(MetricId.of(Scope(), "KubeClient.HttpRequest.Count")).inc(3)
    registry.meter(MetricId.of(Scope(), "KubeClient.HttpRequest.NumPerSecond")).mark(6)
    registry.histogram(MetricId.of(Scope(), "FlinkDeployment.Lifecycle.State.STABLE.TimeSeconds")).update(4)
    registry.add_gauges(lambda: [(MetricId.of(Scope.namespace("ns1", "FlinkDeployment"), "Count"), 2)])
    return registry


def test_report_block() -> None:
    text = report_text(registry_with_one_of_each(), NAMING)
    lines = text.splitlines()
    system = "testhost.k8soperator.flink-operator.flink-kubernetes-operator.system"
    namespace = "testhost.k8soperator.flink-operator.flink-kubernetes-operator.namespace.ns1.FlinkDeployment"
    assert lines[1].startswith("=====") and "Starting metrics report" in lines[1]
    assert lines[-1].endswith("=====") and "Finished metrics report" in lines[-1]
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(f"-- {s} "))
        for s in ("Counters", "Gauges", "Meters", "Histograms")
    ]
    assert order == sorted(order)
    assert f"{system}.KubeClient.HttpRequest.Count: 3" in lines
    assert f"{namespace}.Count: 2" in lines
    assert f"{system}.KubeClient.HttpRequest.NumPerSecond: 0.1" in lines
    histogram = next(line for line in lines if "STABLE.TimeSeconds" in line)
    assert histogram.startswith(
        f"{system}.FlinkDeployment.Lifecycle.State.STABLE.TimeSeconds: count=1, min=4"
    )
    assert histogram.endswith("p999=4")


async def test_slf4j_reporter_logs_at_its_interval() -> None:
    reporter = Slf4jLogReporter(registry_with_one_of_each(), NAMING, interval=0.05)
    with structlog.testing.capture_logs() as captured:
        reporter.start()
        await asyncio.sleep(0.2)
        await reporter.stop()
    reports = [entry for entry in captured if "Starting metrics report" in entry["event"]]
    assert len(reports) >= 2
    block = reports[0]["event"]
    assert "-- Counters" in block and "-- Gauges" in block and "-- Histograms" in block
    assert ".system.KubeClient.HttpRequest.Count: 3" in block
    assert reports[0]["log_level"] == "info"
