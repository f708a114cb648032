"""Benchmarks: `python bench/run.py --output .bench/results.json [--quick] [--only apiserver|runtime]`.

Part 1, the sandbox API server (`--only apiserver`). Three workloads, each against a fresh
`flinkop sandbox apiserver` subprocess:

1. create throughput: N ConfigMap POSTs over keep-alive connections (creates/s as the median of a
   few rounds, latency percentiles, server and client CPU per create);
2. watch fan-out: W watchers on a namespace, N timestamped creates, send-to-arrival latency per event
   (paced creates for the target, plus an informative burst run at high create concurrency);
3. memory: server RSS before/after storing N ~1 KiB ConfigMaps, and N small custom resources.

Part 2, the operator runtime (`--only runtime`, bench/runtime_bench.py): flinkop.runtime and kopf 1.45
side by side through ../shared/tools/peerbench, in the same run against one sandbox API server; the
JSON's `runtime` section.

Correctness failures (a non-201 create, a short LIST, a lost watch event; a runtime scenario that
cannot run) exit with code 1. Performance targets are only reported (pass/fail flags in the JSON);
they never fail the run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import apiserver_bench as ab  # a sibling module, found through the path set above
import runtime_bench as rb

JSON = dict[str, Any]
TARGET_CREATES_PER_SECOND = 2000.0
TARGET_FANOUT_P99_MS = 50.0


@dataclass(frozen=True)
class Params:
    creates: int = 3000
    create_rounds: int = 3
    create_concurrency: int = 32
    warmup_creates: int = 200
    watchers: int = 10
    watch_creates: int = 1000
    watch_create_concurrency: int = 4
    watch_burst_concurrency: int = 32  # informative second fan-out run under saturating load; 0 skips it
    memory_objects: int = 5000
    memory_data_bytes: int = 1024
    memory_warmup_objects: int = 100

    @classmethod
    def quick(cls) -> Params:
        return cls(creates=500, create_rounds=1, warmup_creates=50, watch_creates=200, memory_objects=1000)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path(".bench/results.json"), help="JSON results file")
    parser.add_argument("--quick", action="store_true", help="smaller run (smoke test, a few seconds)")
    parser.add_argument("--creates", type=int, help="ConfigMaps to create in the throughput test")
    parser.add_argument("--rounds", type=int, help="rounds of the throughput test (median reported)")
    parser.add_argument("--concurrency", type=int, help="client concurrency of the throughput test")
    parser.add_argument("--watch-concurrency", type=int, help="client concurrency of the fan-out creates")
    parser.add_argument("--only", choices=("apiserver", "runtime"), help="run one part of the benchmark")
    rb.add_arguments(parser)
    return parser.parse_args(argv)


def params_from(args: argparse.Namespace) -> Params:
    base = Params.quick() if args.quick else Params()
    overrides = {
        "creates": args.creates, "create_rounds": args.rounds, "create_concurrency": args.concurrency,
        "watch_create_concurrency": args.watch_concurrency,
    }
    values = {**asdict(base), **{k: v for k, v in overrides.items() if v is not None}}
    return Params(**values)


async def run_all(params: Params) -> JSON:
    timings: JSON = {}

    async def timed(name: str, coro: Any) -> JSON:
        print(f"  running {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        result: JSON = await coro
        timings[name] = round(time.perf_counter() - start, 2)
        return result

    creates = await timed("creates", ab.bench_creates(params.creates, params.create_concurrency,
                                                      params.warmup_creates, params.create_rounds))
    fanout = await timed("watch_fanout", ab.bench_watch_fanout(params.watchers, params.watch_creates,
                                                               params.watch_create_concurrency))
    burst = None
    if params.watch_burst_concurrency:
        burst = await timed("watch_fanout_burst", ab.bench_watch_fanout(
            params.watchers, params.watch_creates, params.watch_burst_concurrency))
    cms = await timed("memory_configmaps", ab.bench_memory_configmaps(
        params.memory_objects, params.create_concurrency, params.memory_data_bytes,
        params.memory_warmup_objects))
    crs = await timed("memory_custom_resources", ab.bench_memory_custom_resources(
        params.memory_objects, params.create_concurrency, params.memory_warmup_objects))
    return {
        "creates_per_second": creates,
        "watch_fanout": fanout,
        "watch_fanout_burst": burst,
        "memory_per_1000_objects": {
            "configmaps_1kib": cms,
            "custom_resources_small": crs,
        },
        "phase_seconds": timings,
    }


def targets(results: JSON) -> JSON:
    rate = results["creates_per_second"]["creates_per_second"]
    p99 = results["watch_fanout"]["latency_ms"]["p99"]
    return {
        "creates_per_second": {"target": f">= {TARGET_CREATES_PER_SECOND:g}/s", "actual": rate,
                               "pass": rate >= TARGET_CREATES_PER_SECOND},
        "watch_fanout_p99_ms": {"target": f"< {TARGET_FANOUT_P99_MS:g} ms", "actual": p99,
                                "pass": p99 < TARGET_FANOUT_P99_MS},
    }


def report(params: Params, results: JSON, wall: float, load_before: list[float]) -> JSON:
    return {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {**ab.machine_facts(), "load_average_before": load_before,
                    "load_average_after": ab.load_average()},
        "parameters": asdict(params),
        **results,
        "targets": targets(results),
        "total_seconds": round(wall, 2),
    }


def _latency(ms: JSON) -> str:
    return f"p50 {ms['p50']:.2f} ms, p99 {ms['p99']:.2f} ms, max {ms['max']:.2f} ms"


def summary(doc: JSON) -> str:
    c, w = doc["creates_per_second"], doc["watch_fanout"]
    mem = doc["memory_per_1000_objects"]
    m = doc["machine"]
    burst = doc.get("watch_fanout_burst")
    lines = [
        f"sandbox apiserver bench  ({m['cpu_count']} CPUs, Python {m['python_version']}, {doc['timestamp']})",
        f"  creates:      {c['creates_per_second']:.1f} creates/s (median of rounds "
        f"{c['rounds_creates_per_second']}; n={c['n']}, concurrency={c['concurrency']})",
        f"                request latency {_latency(c['latency_ms'])}",
        f"                CPU per create: server {c['server_cpu_ms_per_create']:.3f} ms, "
        f"client {c['client_cpu_ms_per_create']:.3f} ms",
        f"  watch fanout: send->arrival {_latency(w['latency_ms'])}  "
        f"({w['events_received']}/{w['events_expected']} events, "
        f"{w['watchers']} watchers, create concurrency {w['create_concurrency']})",
    ]
    if burst:
        lines.append(f"  fanout burst: send->arrival {_latency(burst['latency_ms'])}  "
                     f"(create concurrency {burst['create_concurrency']}; informative, not a target)")
    kinds = (("configmaps ~1KiB", "configmaps_1kib"), ("custom resources", "custom_resources_small"))
    for label, key in kinds:
        r = mem[key]
        lines.append(
            f"  memory {label:17s}: {r['mib_per_1000_objects']:6.2f} MiB/1000 objects  "
            f"(RSS MiB: start {r['rss_at_start_mib']:.1f}, before load {r['rss_before_mib']:.1f}, "
            f"after {r['objects']} objects {r['rss_after_mib']:.1f}, "
            f"after LIST {r['rss_after_list_mib']:.1f}, peak {r['peak_rss_mib']:.1f})")
    lines.append("  targets:")
    for name, t in doc["targets"].items():
        lines.append(f"    {'PASS' if t['pass'] else 'FAIL'}  {name}: {t['actual']} (target {t['target']})")
    lines.append(f"  total {doc['total_seconds']:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = ab.load_average()
    start = time.perf_counter()
    doc: JSON = {}
    failed = False
    if args.only != "runtime":
        params = params_from(args)
        try:
            results = asyncio.run(run_all(params))
        except ab.BenchError as exc:
            print(f"BENCH FAILED: {exc}", file=sys.stderr)
            return 1
        doc = report(params, results, time.perf_counter() - start, load_before)
    else:
        doc = {"timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "machine": {**ab.machine_facts(), "load_average_before": load_before}}
    if args.only != "apiserver":
        print("  running runtime (flinkop.runtime vs kopf, peerbench) ...", file=sys.stderr, flush=True)
        try:
            doc["runtime"] = rb.run_runtime_bench(rb.params_from(args), peerbench=args.peerbench,
                                                  kopf_venv=args.kopf_venv, keep_workdir=args.runtime_workdir)
        except rb.RuntimeBenchError as exc:
            print(f"RUNTIME BENCH FAILED: {exc}", file=sys.stderr)
            doc["runtime"] = {"error": str(exc)}
            failed = True
        doc["machine"]["load_average_after"] = ab.load_average()
        doc["total_seconds"] = round(time.perf_counter() - start, 2)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    if args.only != "runtime":
        print(summary(doc))
    if "runtime" in doc and "error" not in doc["runtime"]:
        print(rb.summary(doc["runtime"]))
    print(f"  results written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
