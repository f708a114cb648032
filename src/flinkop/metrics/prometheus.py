"""The Prometheus side: a prometheus-client Collector over the metric registry, and its HTTP endpoint.

As Flink's Prometheus reporter exposes them: counters, meters and gauges are Prometheus gauges (a meter
reports its rate), histograms are summaries with the quantiles 0.5 ... 0.999 and ``_count`` (Flink's
histograms keep no sum). Every value is computed when Prometheus scrapes.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator, Sequence

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from flinkop.metrics.model import MetricRegistry
from flinkop.metrics.naming import Naming

log = structlog.get_logger("flinkop.metrics.prometheus")


class OperatorCollector(Collector):
    """Every metric of a `MetricRegistry`, named for Prometheus."""

    def __init__(self, registry: MetricRegistry, naming: Naming) -> None:
        self.registry = registry
        self.naming = naming

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for sample in self.registry.samples():
            name, labels = self.naming.prometheus(sample.id)
            kind = "summary" if sample.stats is not None else "gauge"
            family = families.get(name)
            if family is None:
                family = families[name] = Metric(
                    name, f"{self.naming.identifier(sample.id)} ({sample.kind})", kind
                )
            elif family.type != kind:
                continue  # a name clash between kinds: keep the first
            if sample.stats is None:
                family.add_sample(name, labels, sample.value)
                continue
            family.add_sample(name + "_count", labels, float(sample.stats.count))
            for q, value in sample.stats.quantiles.items():
                family.add_sample(name, {**labels, "quantile": str(q)}, value)
        yield from families.values()


class PrometheusServer:
    """``GET`` on any path answers the registry in the Prometheus text format."""

    def __init__(self, registry: CollectorRegistry, ports: Sequence[int], host: str = "0.0.0.0") -> None:
        self.registry = registry
        self.ports = tuple(ports)
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> int:
        """Listen on the first free port of `ports`; returns the port (the real one for port 0)."""
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        error: OSError | None = None
        for port in self.ports:
            site = web.TCPSite(runner, self.host, port)
            try:
                await site.start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    await runner.cleanup()
                    raise
                error = exc
                continue
            self._runner = runner
            self.port = _bound_port(runner, port)
            log.info("prometheus metrics endpoint listening", host=self.host, port=self.port)
            return self.port
        await runner.cleanup()
        raise OSError(errno.EADDRINUSE, f"no free port for the metrics endpoint in {self.ports}") from error

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
