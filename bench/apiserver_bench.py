"""Workloads for the sandbox API server benchmark (driven by bench/run.py).

The server always runs as a separate process started through the real CLI
(`python -m flinkop sandbox apiserver`), and the client speaks raw HTTP/1.1 with
aiohttp over 127.0.0.1, so the numbers include serialization, routing and the socket.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

JSON = dict[str, Any]
REPO = Path(__file__).resolve().parent.parent
SENT_ANNOTATION = "bench.flinkop.io/sent"
CRD_GROUP, CRD_VERSION, CRD_PLURAL, CRD_KIND = "bench.flinkop.io", "v1", "benchitems", "BenchItem"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
WAIT_TIMEOUT = 10.0  # CRD establishment, watch registration
EVENTS_TIMEOUT = 60.0  # for all watch events to arrive after the last create


class BenchError(RuntimeError):
    """The server misbehaved (wrong status, lost objects or events): the bench run is invalid."""


# -- small helpers ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary_ms(seconds: Sequence[float]) -> JSON:
    """p50/p90/p99/max/mean of latencies given in seconds, reported in milliseconds."""
    if not seconds:
        return {"count": 0}
    return {
        "count": len(seconds),
        "p50": round(percentile(seconds, 50) * 1000, 3),
        "p90": round(percentile(seconds, 90) * 1000, 3),
        "p99": round(percentile(seconds, 99) * 1000, 3),
        "max": round(max(seconds) * 1000, 3),
        "mean": round(sum(seconds) / len(seconds) * 1000, 3),
    }


def read_status_kib(pid: int, field_name: str) -> int:
    """A `kB` field (VmRSS, VmHWM, ...) of /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    raise BenchError(f"{field_name} missing from /proc/{pid}/status")


def mib(kib: int) -> float:
    return round(kib / 1024.0, 2)


def configmap(name: str, data: dict[str, str] | None = None,
              annotations: dict[str, str] | None = None) -> JSON:
    meta: JSON = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"key": "value"}}


def kib_payload(index: int, size: int = 1024) -> dict[str, str]:
    """About `size` bytes of distinct string data (distinct so nothing is interned or shared)."""
    seed = f"{index:08d}-"
    return {"payload": (seed * (size // len(seed) + 1))[:size]}


def custom_resource(name: str, index: int) -> JSON:
    return {"apiVersion": f"{CRD_GROUP}/{CRD_VERSION}", "kind": CRD_KIND, "metadata": {"name": name},
            "spec": {"size": index, "mode": "small"}}


def bench_crd() -> JSON:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{CRD_PLURAL}.{CRD_GROUP}"},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {"plural": CRD_PLURAL, "singular": CRD_KIND.lower(), "kind": CRD_KIND},
            "versions": [{
                "name": CRD_VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


def collection_path(namespace: str, group: str = "", version: str = "v1", plural: str = "configmaps") -> str:
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    return f"{prefix}/namespaces/{namespace}/{plural}"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# -- the server process ----------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """`python -m flinkop sandbox apiserver --port 0 --portfile F` as a child process."""

    workdir: Path
    extra_args: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    _log: Any = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "apiserver.log"

    def rss_kib(self) -> int:
        return read_status_kib(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (/proc/<pid>/stat)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; utime, stime are fields 14, 15
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def hwm_kib(self) -> int:
        return read_status_kib(self.pid, "VmHWM")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def launch(self) -> None:
        portfile = self.workdir / "port"
        portfile.unlink(missing_ok=True)
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "flinkop", "sandbox", "apiserver", "--port", "0",
                   "--portfile", str(portfile), *self.extra_args]
        self.process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        """Wait for the portfile, then for /readyz to answer."""
        assert self.process is not None
        portfile = self.workdir / "port"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"apiserver exited with {self.process.returncode}:\n{self.log_tail()}")
            text = portfile.read_text().strip() if portfile.exists() else ""
            if text.isdigit():
                self.port = int(text)
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientConnectionError:
                    pass
            await asyncio.sleep(0.05)
        raise BenchError(f"apiserver not ready after {STARTUP_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; always closes the log."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(STOP_TIMEOUT)
            return self.process.returncode if self.process is not None else None
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


def new_session(concurrency: int) -> aiohttp.ClientSession:
    """A keep-alive client: at most `concurrency` pooled connections to the server."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False,
                                     use_dns_cache=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60),
                                 headers={"User-Agent": "flinkop-bench/1"})


@asynccontextmanager
async def running_server(concurrency: int, extra_args: Sequence[str] = ()) -> AsyncIterator[
        tuple[ServerProcess, aiohttp.ClientSession]]:
    """A fresh server subprocess and a client session for it; the process is stopped in all cases."""
    with tempfile.TemporaryDirectory(prefix="flinkop-bench-") as tmp:
        server = ServerProcess(Path(tmp), extra_args)
        try:
            server.launch()
            async with new_session(concurrency) as session:
                await server.wait_ready(session)
                yield server, session
        finally:
            server.stop()


# -- HTTP building blocks --------------------------------------------------------------------------------


@dataclass
class CreateResult:
    statuses: list[int]
    latencies: list[float]
    wall_seconds: float
    failures: list[str]

    def check(self, expected: int, what: str) -> None:
        bad = [s for s in self.statuses if s != 201]
        if len(self.statuses) != expected or bad:
            detail = "; ".join(self.failures[:5])
            raise BenchError(f"{what}: {len(self.statuses) - len(bad)}/{expected} creates answered 201 "
                             f"(other statuses: {sorted(set(bad))}) {detail}")


async def post_json(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, str]:
    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
        text = await resp.read()
        return resp.status, "" if resp.status == 201 else text[:300].decode(errors="replace")


async def create_many(session: aiohttp.ClientSession, url: str, bodies: Sequence[bytes],
                      concurrency: int) -> CreateResult:
    """POST every pre-serialized body with `concurrency` workers sharing one keep-alive pool."""
    statuses: list[int] = []
    latencies: list[float] = []
    failures: list[str] = []
    next_index = iter(range(len(bodies)))

    async def worker() -> None:
        for i in next_index:
            start = time.perf_counter()
            status, error = await post_json(session, url, bodies[i])
            latencies.append(time.perf_counter() - start)
            statuses.append(status)
            if error:
                failures.append(f"#{i}: {status} {error}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return CreateResult(statuses, latencies, time.perf_counter() - start, failures)


async def list_items(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    """(number of items, list resourceVersion)."""
    async with session.get(url) as resp:
        if resp.status != 200:
            raise BenchError(f"LIST {url} answered {resp.status}: {(await resp.text())[:300]}")
        body = await resp.json()
    return len(body["items"]), body["metadata"]["resourceVersion"]


async def create_namespace(session: aiohttp.ClientSession, base: str, name: str) -> None:
    status, error = await post_json(session, f"{base}/api/v1/namespaces", dumps({"metadata": {"name": name}}))
    if status != 201:
        raise BenchError(f"creating namespace {name}: {status} {error}")


async def register_crd(session: aiohttp.ClientSession, base: str) -> None:
    """Create the bench CRD and wait until it is Established and its collection is served."""
    crds = f"{base}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    items = base + collection_path("default", CRD_GROUP, CRD_VERSION, CRD_PLURAL)
    status, error = await post_json(session, crds, dumps(bench_crd()))
    if status != 201:
        raise BenchError(f"creating CRD: {status} {error}")
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        async with session.get(f"{crds}/{CRD_PLURAL}.{CRD_GROUP}") as resp:
            crd = await resp.json()
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            async with session.get(items) as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise BenchError("the bench CRD did not become Established")


# -- 1. create throughput --------------------------------------------------------------------------------


@dataclass
class CreateRound:
    rate: float
    wall_seconds: float
    latencies: list[float]
    server_cpu_seconds: float
    client_cpu_seconds: float


async def create_round(n: int, concurrency: int, warmup: int) -> CreateRound:
    """One round on a fresh server: warm-up creates elsewhere, then N timed creates into `default`."""
    async with running_server(concurrency) as (server, session):
        await create_namespace(session, server.url, "bench-warmup")
        warm = [dumps(configmap(f"warm-{i:05d}")) for i in range(warmup)]
        warm_result = await create_many(session, server.url + collection_path("bench-warmup"), warm,
                                        concurrency)
        warm_result.check(warmup, "warm-up creates")

        url = server.url + collection_path("default")
        bodies = [dumps(configmap(f"cm-{i:05d}", {"index": str(i), "kind": "bench"})) for i in range(n)]
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        result = await create_many(session, url, bodies, concurrency)
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
        result.check(n, "creates")
        listed, _rv = await list_items(session, url)
        if listed != n:
            raise BenchError(f"LIST after {n} creates returned {listed} items")
        return CreateRound(n / result.wall_seconds, result.wall_seconds, result.latencies, server_cpu,
                           client_cpu)


async def bench_creates(n: int, concurrency: int, warmup: int, rounds: int) -> JSON:
    """`rounds` rounds of N ConfigMap creates, each on a fresh server; the median round's rate is reported.

    Every create must answer 201 and a LIST afterwards must return exactly N items.
    """
    results = [await create_round(n, concurrency, warmup) for _ in range(rounds)]
    rates = sorted(r.rate for r in results)
    server_cpu = sum(r.server_cpu_seconds for r in results)
    client_cpu = sum(r.client_cpu_seconds for r in results)
    return {
        "creates_per_second": round(statistics.median(rates), 1),
        "rounds_creates_per_second": [round(r.rate, 1) for r in results],
        "n": n,
        "rounds": rounds,
        "concurrency": concurrency,
        "warmup_creates": warmup,
        "wall_seconds": [round(r.wall_seconds, 3) for r in results],
        "latency_ms": latency_summary_ms([lat for r in results for lat in r.latencies]),
        "server_cpu_ms_per_create": round(server_cpu * 1000 / (n * rounds), 4),
        # The rate one fully busy server core could sustain: less noisy than wall time on a shared box.
        "server_cpu_bound_creates_per_second": round(n * rounds / server_cpu, 1) if server_cpu else None,
        "client_cpu_ms_per_create": round(client_cpu * 1000 / (n * rounds), 4),
        "all_201": True,
        "list_items": n,
    }


# -- 2. watch fan-out ------------------------------------------------------------------------------------


@dataclass
class WatchLog:
    """Raw lines as they arrived; parsed only after the run so parsing never delays reading."""

    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    headers_received: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def watch_stream(session: aiohttp.ClientSession, url: str, expected: int, log: WatchLog) -> None:
    """Read newline-delimited watch events until `expected` lines arrived (or we are cancelled)."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with session.get(url, timeout=timeout) as resp:
        if resp.status != 200:
            raise BenchError(f"watch {url} answered {resp.status}: {(await resp.text())[:300]}")
        log.headers_received.set()
        while len(log.arrivals) < expected:
            line = await resp.content.readline()
            arrived = time.time()
            if not line:
                break  # the server ended the stream
            log.arrivals.append((arrived, line))
    log.done.set()


async def wait_for_watchers(session: aiohttp.ClientSession, base: str, count: int) -> None:
    """Until the server reports `count` registered watchers (sandbox stats endpoint)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        async with session.get(f"{base}/sandbox/stats") as resp:
            if (await resp.json()).get("watchers", 0) >= count:
                return
        await asyncio.sleep(0.02)
    raise BenchError(f"the server did not register {count} watchers")


async def timestamped_creates(session: aiohttp.ClientSession, url: str, n: int,
                              concurrency: int) -> tuple[list[float], list[int]]:
    """Create N ConfigMaps, each annotated with time.time() taken just before its POST."""
    latencies: list[float] = []
    statuses: list[int] = []
    next_index = iter(range(n))

    async def worker() -> None:
        for i in next_index:
            sent = time.time()
            body = dumps(configmap(f"w-{i:05d}", {"index": str(i)}, {SENT_ANNOTATION: repr(sent)}))
            start = time.perf_counter()
            status, _error = await post_json(session, url, body)
            latencies.append(time.perf_counter() - start)
            statuses.append(status)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses


def event_latencies(logs: Iterable[WatchLog]) -> tuple[list[float], int, set[str]]:
    """(arrival - sent for every ADDED event, events counted, other event types seen)."""
    latencies: list[float] = []
    others: set[str] = set()
    for log in logs:
        for arrived, line in log.arrivals:
            event = json.loads(line)
            if event.get("type") != "ADDED":
                others.add(str(event.get("type")))
                continue
            sent = float(event["object"]["metadata"]["annotations"][SENT_ANNOTATION])
            latencies.append(arrived - sent)
    return latencies, len(latencies), others


async def bench_watch_fanout(watchers: int, n: int, concurrency: int) -> JSON:
    """`watchers` watches on a fresh namespace, N timestamped creates; latency of all watchers*N events."""
    namespace = "bench-watch"
    async with running_server(watchers + concurrency + 2) as (server, session):
        await create_namespace(session, server.url, namespace)
        url = server.url + collection_path(namespace)
        _count, list_rv = await list_items(session, url)
        logs = [WatchLog() for _ in range(watchers)]
        watch_url = f"{url}?watch=1&resourceVersion={list_rv}"
        tasks = [asyncio.create_task(watch_stream(session, watch_url, n, log)) for log in logs]
        try:
            headers = asyncio.gather(*(log.headers_received.wait() for log in logs))
            await asyncio.wait_for(headers, WAIT_TIMEOUT)
            await wait_for_watchers(session, server.url, watchers)
            start = time.perf_counter()
            create_latencies, statuses = await timestamped_creates(session, url, n, concurrency)
            create_wall = time.perf_counter() - start
            if len(statuses) != n or any(s != 201 for s in statuses):
                raise BenchError(f"watch fan-out creates: statuses {sorted(set(statuses))}, "
                                 f"{len(statuses)}/{n}")
            done, _pending = await asyncio.wait(tasks, timeout=EVENTS_TIMEOUT)
            for task in done:
                task.result()  # surface a watcher's BenchError
            all_done_wall = time.perf_counter() - start
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        latencies, received, others = event_latencies(logs)
        expected = watchers * n
        if received != expected or others:
            per_watcher = [len(log.arrivals) for log in logs]
            raise BenchError(f"watch fan-out: {received}/{expected} ADDED events arrived "
                             f"(per watcher {per_watcher}, other event types {sorted(others)})")
        summary = latency_summary_ms(latencies)
        return {
            "watchers": watchers,
            "creates": n,
            "create_concurrency": concurrency,
            "events_expected": expected,
            "events_received": received,
            "latency_ms": summary,
            "create_latency_ms": latency_summary_ms(create_latencies),
            "creates_wall_seconds": round(create_wall, 3),
            "all_events_wall_seconds": round(all_done_wall, 3),
            "events_per_second": round(expected / all_done_wall, 1),
        }


# -- 3. memory per object --------------------------------------------------------------------------------


async def settle(seconds: float = 0.3) -> None:
    """Let the server finish in-flight work (controllers, keep-alive bookkeeping) before reading RSS."""
    await asyncio.sleep(seconds)


async def warm_up(session: aiohttp.ClientSession, url: str, bodies: Sequence[bytes],
                  concurrency: int) -> None:
    """Exercise the create path once so one-off costs (lazy imports, caches) stay out of the slope."""
    result = await create_many(session, url, bodies, concurrency)
    result.check(len(bodies), "memory warm-up")


async def measure_memory(server: ServerProcess, session: aiohttp.ClientSession, url: str,
                         bodies: Sequence[bytes], concurrency: int, what: str, chunks: int = 5) -> JSON:
    """RSS before, after each of `chunks` slices of creates, and after a LIST that verifies them all.

    The per-object figure uses the RSS read before the LIST: serializing a LIST of N objects
    allocates temporary memory that the allocator keeps, which is a LIST cost, not a stored-object cost.
    """
    await settle()
    before = server.rss_kib()
    curve: list[float] = []
    size = math.ceil(len(bodies) / chunks)
    for start in range(0, len(bodies), size):
        part = bodies[start:start + size]
        result = await create_many(session, url, part, concurrency)
        result.check(len(part), what)
        curve.append(mib(server.rss_kib()))
    await settle()
    after = server.rss_kib()
    listed, _rv = await list_items(session, url)
    if listed != len(bodies):
        raise BenchError(f"{what}: LIST returned {listed} of {len(bodies)} items")
    await settle()
    after_list = server.rss_kib()
    return {
        "objects": len(bodies),
        "mib_per_1000_objects": round((after - before) / 1024.0 / (len(bodies) / 1000.0), 3),
        "rss_before_mib": mib(before),
        "rss_after_mib": mib(after),
        "rss_delta_mib": mib(after - before),
        "rss_curve_mib": curve,
        "rss_after_list_mib": mib(after_list),
        "peak_rss_mib": mib(server.hwm_kib()),
        "body_bytes_per_object": round(sum(len(b) for b in bodies) / len(bodies)),
    }


async def bench_memory_configmaps(n: int, concurrency: int, data_size: int, warmup: int) -> JSON:
    async with running_server(concurrency) as (server, session):
        start_rss = server.rss_kib()
        await create_namespace(session, server.url, "bench-warmup")
        warm = [dumps(configmap(f"warm-{i:05d}", kib_payload(i, data_size))) for i in range(warmup)]
        await warm_up(session, server.url + collection_path("bench-warmup"), warm, concurrency)
        bodies = [dumps(configmap(f"mem-{i:05d}", kib_payload(i, data_size))) for i in range(n)]
        result = await measure_memory(server, session, server.url + collection_path("default"), bodies,
                                      concurrency, "configmaps (memory)")
        return {"rss_at_start_mib": mib(start_rss), "warmup_objects": warmup,
                "data_bytes_per_object": data_size, **result}


async def bench_memory_custom_resources(n: int, concurrency: int, warmup: int) -> JSON:
    async with running_server(concurrency) as (server, session):
        start_rss = server.rss_kib()
        await register_crd(session, server.url)
        await create_namespace(session, server.url, "bench-warmup")
        warm = [dumps(custom_resource(f"warm-{i:05d}", i)) for i in range(warmup)]
        warm_url = server.url + collection_path("bench-warmup", CRD_GROUP, CRD_VERSION, CRD_PLURAL)
        await warm_up(session, warm_url, warm, concurrency)
        bodies = [dumps(custom_resource(f"item-{i:05d}", i)) for i in range(n)]
        url = server.url + collection_path("default", CRD_GROUP, CRD_VERSION, CRD_PLURAL)
        result = await measure_memory(server, session, url, bodies, concurrency, "custom resources (memory)")
        return {"rss_at_start_mib": mib(start_rss), "warmup_objects": warmup,
                "crd": f"{CRD_PLURAL}.{CRD_GROUP}", **result}


def load_average() -> list[float]:
    """1/5/15-minute load averages: other work on the box skews every timing here."""
    return [round(x, 2) for x in os.getloadavg()]


def machine_facts() -> JSON:
    uname = os.uname()
    return {
        "cpu_count": os.cpu_count(),
        "sched_affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python_version": sys.version.split()[0],
        "python_implementation": sys.implementation.name,
        "aiohttp_version": aiohttp.__version__,
        "platform": f"{uname.sysname} {uname.release} {uname.machine}",
    }
