"""Which reporters the operator runs, from ``kubernetes.operator.metrics.reporter.<name>.*``.

The operator reads its metric settings as Flink reads ``metrics.*`` (``OperatorConfig.metrics_config``
re-keys ``kubernetes.operator.metrics.X`` to ``metrics.X``; plain ``metrics.X`` keys are for Flink clusters).
A reporter ``<name>`` is configured by ``metrics.reporter.<name>.factory.class`` or ``.class``; with
``metrics.reporters`` set (a comma list) only the listed names run. A reporter is

* **Prometheus** when its (factory) class names Prometheus (``PrometheusReporterFactory`` /
  ``PrometheusReporter``; not the push gateway), or when it has no class but a ``.port`` (so
  ``kubernetes.operator.metrics.reporter.prom.port: 9999`` alone turns the endpoint on). It serves on
  ``.port`` (default 9999; a range ``9250-9260`` takes the first free port) on all interfaces, or on
  ``.host`` when set (a flinkop addition).
* **slf4j** when its class names Slf4j (``Slf4jReporterFactory`` / ``Slf4jReporter``). It logs every
  ``.interval`` (Flink's ``metrics.reporter.<name>.interval``, default ``10 SECONDS``).

Other reporters (JMX, Graphite, Datadog, ...) are logged as unsupported and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flinkop.config.units import parse_duration

DEFAULT_PROMETHEUS_PORT = "9999"
DEFAULT_INTERVAL = "10 SECONDS"
_REPORTER_KEY = re.compile(r"^metrics\.reporter\.([^.]+)\.(.+)$")


@dataclass(frozen=True)
class PrometheusReporter:
    name: str
    ports: tuple[int, ...]
    host: str = "0.0.0.0"


@dataclass(frozen=True)
class Slf4jReporter:
    name: str
    interval: float


@dataclass(frozen=True)
class UnsupportedReporter:
    name: str
    factory: str


Reporter = PrometheusReporter | Slf4jReporter | UnsupportedReporter


def parse_ports(text: str) -> tuple[int, ...]:
    """``9999``, ``9250-9260`` or a comma list of both, as Flink's port ranges."""
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if not 0 <= first <= last <= 65535:
            raise ValueError(f"bad port range {part!r}")
        ports.extend(range(first, last + 1))
    if not ports:
        raise ValueError(f"no port in {text!r}")
    return tuple(ports)


def reporters(metrics_config: Mapping[str, str]) -> list[Reporter]:
    """The configured reporters, from ``OperatorConfig.metrics_config``; raises ValueError on a bad
    port or interval."""
    options: dict[str, dict[str, str]] = {}
    for key, value in metrics_config.items():
        match = _REPORTER_KEY.match(key)
        if match:
            options.setdefault(match.group(1), {})[match.group(2)] = value
    listed = metrics_config.get("metrics.reporters")
    wanted = {n.strip() for n in listed.split(",") if n.strip()} if listed else None
    out: list[Reporter] = []
    for name in sorted(options):
        if wanted is not None and name not in wanted:
            continue
        opts = options[name]
        factory = opts.get("factory.class") or opts.get("class") or ""
        lowered = factory.lower()
        if ("prometheus" in lowered and "pushgateway" not in lowered) or (not factory and "port" in opts):
            ports = parse_ports(opts.get("port") or DEFAULT_PROMETHEUS_PORT)
            out.append(PrometheusReporter(name, ports, opts.get("host") or "0.0.0.0"))
        elif "slf4j" in lowered:
            out.append(Slf4jReporter(name, parse_duration(opts.get("interval") or DEFAULT_INTERVAL)))
        elif factory:
            out.append(UnsupportedReporter(name, factory))
    return out
