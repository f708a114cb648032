"""Operator memory benchmark: the RSS of `python -m flinkop.operator` idle and with N FlinkDeployments whose
JobManagers are answered by the kubelet's REST stub (benchmark mode, src/flinkop/sandbox/kubelet/stub.py),
with kopf watching the same FlinkDeployments in the same run as the peer baseline.

Usage: python bench/operator_bench.py --output .bench/operator.json [--count 1000] [--no-kopf]
Needs root (the sandbox cluster's pod network) and kopf's venv (.bench/kopf-venv, created when missing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from runtime_bench import DEFAULT_KOPF_VENV, DEFAULT_PEERBENCH, ensure_kopf_venv  # noqa: E402

from flinkop.logs import configure_logging  # noqa: E402
from flinkop.runtime.client import new_api_client  # noqa: E402
from flinkop.runtime.kube import Kube, Resource  # noqa: E402
from flinkop.sandbox.cluster import SandboxCluster  # noqa: E402

JSON = dict[str, Any]
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
DEPLOYMENTS = Resource("flink.apache.org", "v1beta1", "flinkdeployments", kind="FlinkDeployment")
NAMESPACE = "opbench"
TARGET_MIB = 150.0
STUB_IMAGES = ("flink:*",)


def flink_deployment(index: int) -> JSON:
    """examples/basic.yaml with small resources."""
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": f"bench-{index:04d}", "namespace": NAMESPACE},
        "spec": {
            "image": "flink:2.3",
            "flinkVersion": "v2_3",
            "serviceAccount": "flink",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
            "jobManager": {"resource": {"memory": "1024m", "cpu": 0.25}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 0.25}},
            "job": {
                "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
                "parallelism": 2,
                "upgradeMode": "stateless",
            },
        },
    }


# -- /proc ---------------------------------------------------------------------------------------------------
def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process in MiB."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rfind(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass
class Watched:
    """A child process whose memory is sampled every `interval` seconds."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    samples: list[tuple[float, float]] = field(default_factory=list)  # (t, VmRSS MiB)

    @property
    def pid(self) -> int:
        return self.process.pid

    def snapshot(self) -> JSON:
        if self.process.returncode is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
        mem = memory_mib(self.pid)
        return {
            "rss_mib": mem.get("VmRSS"),
            "peak_rss_mib": mem.get("VmHWM"),
            "rss_anon_mib": mem.get("RssAnon"),
            "rss_file_mib": mem.get("RssFile"),
            "cpu_s": round(cpu_seconds(self.pid), 2),
        }

    def window(self, since: float) -> JSON:
        values = [rss for t, rss in self.samples if t >= since]
        if not values:
            return {}
        return {
            "min_mib": min(values),
            "mean_mib": round(sum(values) / len(values), 1),
            "max_mib": max(values),
        }

    async def sample(self, interval: float, started: float) -> None:
        while self.process.returncode is None:
            rss = memory_mib(self.pid).get("VmRSS")
            if rss is not None:
                self.samples.append((round(time.monotonic() - started, 1), rss))
            await asyncio.sleep(interval)

    async def stop(self, grace: float = 30.0) -> int | None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


async def spawn(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Watched:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=str(REPO)
        )
    return Watched(name, process, log_path)


# Diagnostics only (--tracemalloc): the operator's CLI under tracemalloc; SIGUSR1 writes the top allocation
# sites to $BENCH_TRACEMALLOC_OUT. tracemalloc's own bookkeeping inflates the RSS: such a run is not judged.
TRACEMALLOC_MAIN = """
import json, os, signal, sys, tracemalloc
def dump(*_):
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib.*")]
    )
    def top(key, n):
        return [
            {"where": str(s.traceback), "size_kib": round(s.size / 1024, 1), "count": s.count}
            for s in snapshot.statistics(key)[:n]
        ]
    total = sum(s.size for s in snapshot.statistics("filename"))
    with open(os.environ["BENCH_TRACEMALLOC_OUT"], "w") as out:
        json.dump({"traced_mib": round(total / 2**20, 1), "by_file": top("filename", 25),
                   "by_line": top("lineno", 40)}, out, indent=1)
signal.signal(signal.SIGUSR1, dump)
from flinkop.operator.cli import main
sys.exit(main(sys.argv[1:]))
"""


def import_rss_mib(python: str, code: str) -> float:
    """RSS of a fresh interpreter after running `code` (the cost of imports alone)."""
    probe = (
        f"{code}\nfor l in open('/proc/self/status'):\n"
        "    if l.startswith('VmRSS'): print(int(l.split()[1]) / 1024)"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, cwd=str(REPO))
    return round(float(done.stdout.strip().splitlines()[-1]), 1)


# -- the run -------------------------------------------------------------------------------------------------
async def lifecycle_counts(kube: Kube) -> tuple[int, int, dict[str, int]]:
    """(items, STABLE with the job RUNNING, count per lifecycle state)."""
    items = (await kube.list(DEPLOYMENTS, NAMESPACE)).get("items") or []
    states: dict[str, int] = {}
    ready = 0
    for item in items:
        status = item.get("status") or {}
        state = str(status.get("lifecycleState") or "NONE")
        states[state] = states.get(state, 0) + 1
        ready += state == "STABLE" and (status.get("jobStatus") or {}).get("state") == "RUNNING"
    return len(items), ready, states


async def wait_all_stable(kube: Kube, count: int, timeout: float, progress: list[JSON], t0: float) -> float:
    started = time.monotonic()
    while True:
        _total, ready, states = await lifecycle_counts(kube)
        progress.append({"t_s": round(time.monotonic() - t0, 1), "stable_running": ready, "states": states})
        if ready >= count:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{ready}/{count} STABLE+RUNNING after {timeout:.0f} s: {states}")
        await asyncio.sleep(2.0)


async def create_all(kube: Kube, count: int, concurrency: int = 16) -> None:
    queue = list(range(count))

    async def creator() -> None:
        while queue:
            await kube.create(DEPLOYMENTS, flink_deployment(queue.pop()), NAMESPACE)

    await asyncio.gather(*(creator() for _ in range(concurrency)))


def log(message: str) -> None:
    print(f"[operator-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(args: argparse.Namespace) -> tuple[Path, str | None, JSON]:
    """The work directory with the operator's conf dir, kopf's python, and the import costs."""
    workdir = Path(args.dir).resolve()
    conf_dir = workdir / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "config.yaml").write_text(
        f"kubernetes.operator.reconcile.interval: {args.reconcile_interval:g} s\n"
        "kubernetes.operator.health.probe.port: 0\n"
    )
    (workdir / "kopf-events.log").unlink(missing_ok=True)
    (workdir / "tracemalloc.json").unlink(missing_ok=True)
    kopf_python = None
    if not args.no_kopf:
        ensure_kopf_venv(args.kopf_venv)
        kopf_python = str(args.kopf_venv / "bin" / "python")
    imports = {
        "python_bare_mib": import_rss_mib(sys.executable, "pass"),
        "flinkop_operator_imports_mib": import_rss_mib(
            sys.executable, "import flinkop.operator.cli, flinkop.operator.app"
        ),
    }
    if kopf_python is not None:
        imports["kopf_imports_mib"] = import_rss_mib(kopf_python, "import kopf")
    return workdir, kopf_python, imports


async def run(args: argparse.Namespace, workdir: Path, kopf_python: str | None, imports: JSON) -> JSON:
    conf_dir = workdir / "conf"
    result: JSON = {"imports": imports}
    async with SandboxCluster(workdir / "cluster", stub_images=STUB_IMAGES) as cluster:
        assert (
            cluster.kubelet is not None and cluster.kubelet.stubs is not None and cluster.network is not None
        )
        api_client = await new_api_client(str(cluster.kubeconfig))
        kube = Kube(api_client, field_manager="operator-bench")
        procs: list[Watched] = []
        samplers: list[asyncio.Task[None]] = []
        t0 = time.monotonic()
        try:
            await kube.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
            await kube.create(SERVICE_ACCOUNTS, {"metadata": {"name": "flink"}}, NAMESPACE)
            operator = await spawn(
                "flinkop",
                [
                    sys.executable,
                    *(
                        ["-X", "tracemalloc=1", "-c", TRACEMALLOC_MAIN]
                        if args.tracemalloc
                        else ["-m", "flinkop.operator"]
                    ),
                    "--kubeconfig",
                    str(cluster.kubeconfig),
                    "--conf-dir",
                    str(conf_dir),
                    "--namespace",
                    NAMESPACE,
                ],
                workdir / "operator.log",
                {"PYTHONPATH": str(REPO / "src"), "BENCH_TRACEMALLOC_OUT": str(workdir / "tracemalloc.json")},
            )
            procs.append(operator)
            if kopf_python is not None:
                kopf_argv = [kopf_python, "-m", "kopf", "run", "--standalone", "--namespace", NAMESPACE]
                kopf_argv += ["--quiet", str(args.peerbench / "kopf_operator.py")]
                kopf_log = workdir / "kopf-events.log"
                env = {"KUBECONFIG": str(cluster.kubeconfig), "BENCH_LOG": str(kopf_log), "BENCH_STATUS": "0"}
                procs.append(await spawn("kopf", kopf_argv, workdir / "kopf.log", env))
            samplers = [asyncio.ensure_future(p.sample(0.5, t0)) for p in procs]

            log(f"operators started; idle for {args.idle_seconds:.0f} s")
            await asyncio.sleep(args.idle_seconds)
            idle = {p.name: p.snapshot() for p in procs}
            log(f"idle: {json.dumps(idle)}")

            log(f"creating {args.count} FlinkDeployments")
            created = time.monotonic()
            await create_all(kube, args.count)
            create_s = time.monotonic() - created
            progress: list[JSON] = []
            stable_s = await wait_all_stable(kube, args.count, args.timeout, progress, t0)
            to_stable = time.monotonic() - created
            at_stable = {p.name: p.snapshot() for p in procs}
            log(f"all {args.count} STABLE in {to_stable:.1f} s: {json.dumps(at_stable)}")

            steady_s = args.steady_intervals * args.reconcile_interval
            log(f"steady state for {steady_s:.0f} s ({args.steady_intervals} reconcile intervals)")
            steady_from = time.monotonic() - t0
            await asyncio.sleep(steady_s)
            _total, ready, states = await lifecycle_counts(kube)
            steady = {p.name: {**p.snapshot(), "window": p.window(steady_from)} for p in procs}
            log(f"steady: {json.dumps(steady)}")
            if args.tracemalloc:
                operator.process.send_signal(signal.SIGUSR1)
                dump = workdir / "tracemalloc.json"
                for _ in range(120):
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(OSError, ValueError):
                        result["tracemalloc"] = json.loads(dump.read_text())
                        break
            stubs = cluster.kubelet.stubs
            result.update(
                {
                    "idle": idle,
                    "all_stable": at_stable,
                    "steady": steady,
                    "steady_still_stable_running": ready,
                    "steady_states": states,
                    "create_seconds": round(create_s, 1),
                    "time_to_all_stable_s": round(to_stable, 1),
                    "time_after_creates_to_all_stable_s": round(stable_s, 1),
                    "stable_progress": progress[:: max(1, len(progress) // 30)] + progress[-1:],
                    "stub": {
                        "rest_requests": stubs.requests,
                        "unserved_paths": dict(stubs.unknown),
                        "jobmanagers": len(stubs.jobmanagers),
                        "pod_network_namespaces": len(cluster.network.sandboxes()),
                    },
                    "rss_series_mib": {
                        p.name: p.samples[:: max(1, len(p.samples) // 120)] + p.samples[-1:] for p in procs
                    },
                }
            )
        finally:
            for sampler in samplers:
                sampler.cancel()
            exits = {p.name: await p.stop() for p in procs}
            result["exit_codes"] = exits
            await api_client.close()
    return result


def _ratio(ours: Any, theirs: Any) -> float | None:
    return (
        round(ours / theirs, 2)
        if isinstance(ours, int | float) and isinstance(theirs, int | float) and theirs
        else None
    )


def report(args: argparse.Namespace, result: JSON) -> JSON:
    ours_key, peer_key = "flinkop", "kopf"
    figures: JSON = {}
    for phase in ("idle", "all_stable", "steady"):
        for name in (ours_key, peer_key):
            snap = (result.get(phase) or {}).get(name)
            if snap:
                figures.setdefault(name, {})[f"{phase}_rss_mib"] = snap["rss_mib"]
    for name in (ours_key, peer_key):
        steady = (result.get("steady") or {}).get(name)
        if steady:
            figures[name]["peak_rss_mib"] = steady["peak_rss_mib"]
            figures[name]["cpu_s"] = steady["cpu_s"]
    ours = figures.get(ours_key, {})
    theirs = figures.get(peer_key, {})
    ratios = {k: _ratio(ours.get(k), theirs.get(k)) for k in ours if k in theirs}
    worst = max(ours.get("peak_rss_mib", 0.0), ours.get("steady_rss_mib", 0.0))
    return {
        "benchmark": "operator-memory",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "parameters": {
            "count": args.count,
            "reconcile_interval_s": args.reconcile_interval,
            "idle_seconds": args.idle_seconds,
            "steady_intervals": args.steady_intervals,
            "stub_images": list(STUB_IMAGES),
            "peer": None if args.no_kopf else "kopf 1.45.2 (peerbench kopf_operator.py, BENCH_STATUS=0)",
        },
        "figures_mib": figures,
        "ratio_flinkop_over_kopf": ratios,
        "time_to_all_stable_s": result.get("time_to_all_stable_s"),
        "target": {
            "rss_mib_with_count": TARGET_MIB,
            "flinkop_peak_rss_mib": ours.get("peak_rss_mib"),
            "flinkop_steady_rss_mib": ours.get("steady_rss_mib"),
            "pass": None if args.tracemalloc else bool(ours) and worst < TARGET_MIB,
        },
        "details": result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=".bench/operator.json")
    parser.add_argument("--count", type=int, default=1000, help="FlinkDeployments (use 50 for a quick check)")
    parser.add_argument("--dir", default=".bench/operator")
    parser.add_argument("--reconcile-interval", type=float, default=15.0, help="seconds (the seed's 15 s)")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--steady-intervals", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0, help="for all to become STABLE")
    parser.add_argument("--no-kopf", action="store_true", help="skip the kopf peer")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="diagnostics: top allocation sites at steady state (not judged)",
    )
    parser.add_argument("--kopf-venv", type=Path, default=DEFAULT_KOPF_VENV)
    parser.add_argument("--peerbench", type=Path, default=DEFAULT_PEERBENCH)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("operator_bench.py needs root (the sandbox cluster's pod network)", file=sys.stderr)
        return 1
    configure_logging("WARNING")
    result = asyncio.run(run(args, *prepare(args)))
    out = report(args, result)
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    summary = {
        k: out[k] for k in ("figures_mib", "ratio_flinkop_over_kopf", "time_to_all_stable_s", "target")
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
