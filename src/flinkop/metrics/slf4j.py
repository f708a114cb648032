"""A log reporter in the shape of Flink's Slf4jReporter: every interval one log record holding a block of
every metric, by kind::

    =========================== Starting metrics report ===========================

    -- Counters -------------------------------------------------------------------
    <scope>.<groups>.<name>: 3

    -- Gauges ---------------------------------------------------------------------
    ...
    -- Meters ---------------------------------------------------------------------
    <scope>.KubeClient.HttpRequest.NumPerSecond: 0.25
    -- Histograms -----------------------------------------------------------------
    <scope>.<name>: count=2, min=..., max=..., mean=..., stddev=..., p50=..., ..., p999=...
    =========================== Finished metrics report ===========================

Names are the dotted identifiers of the configured scope formats (see `naming`).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from flinkop.metrics.model import MetricRegistry, Sample
from flinkop.metrics.naming import Naming

log = structlog.get_logger("flinkop.metrics.slf4j")
WIDTH = 80
SECTIONS = (("counter", "Counters"), ("gauge", "Gauges"), ("meter", "Meters"), ("histogram", "Histograms"))


def _banner(text: str) -> str:
    side = (WIDTH - len(text) - 2) // 2
    line = f"{'=' * side} {text} {'=' * side}"
    return line + "=" * (WIDTH - 1 - len(line))


def _section(title: str) -> str:
    head = f"-- {title} "
    return head + "-" * (WIDTH - 1 - len(head))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _line(name: str, sample: Sample) -> str:
    stats = sample.stats
    if stats is None:
        return f"{name}: {_number(sample.value)}"
    q = stats.quantiles
    return (
        f"{name}: count={stats.count}, min={_number(stats.min)}, max={_number(stats.max)}, "
        f"mean={_number(stats.mean)}, stddev={_number(stats.stddev)}, p50={_number(q[0.5])}, "
        f"p75={_number(q[0.75])}, p95={_number(q[0.95])}, p98={_number(q[0.98])}, "
        f"p99={_number(q[0.99])}, p999={_number(q[0.999])}"
    )


def report_text(registry: MetricRegistry, naming: Naming) -> str:
    by_kind: dict[str, list[str]] = {kind: [] for kind, _ in SECTIONS}
    for sample in registry.samples():
        by_kind.setdefault(sample.kind, []).append(_line(naming.identifier(sample.id), sample))
    lines = ["", _banner("Starting metrics report")]
    for kind, title in SECTIONS:
        lines += ["", _section(title), *sorted(by_kind[kind])]
    lines.append(_banner("Finished metrics report"))
    return "\n".join(lines)


class Slf4jLogReporter:
    """Logs the report every `interval` seconds (first after one interval, as Flink) until stopped."""

    def __init__(
        self, registry: MetricRegistry, naming: Naming, interval: float, name: str = "slf4j"
    ) -> None:
        self.registry = registry
        self.naming = naming
        self.interval = max(interval, 0.001)
        self.name = name
        self._task: asyncio.Task[None] | None = None

    def report(self) -> None:
        log.info(report_text(self.registry, self.naming), reporter=self.name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.report()
            except Exception:  # a broken gauge must not stop the reporter
                log.exception("metrics report failed", reporter=self.name)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"metrics-{self.name}")
            log.info("slf4j metrics reporter started", reporter=self.name, interval=self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
