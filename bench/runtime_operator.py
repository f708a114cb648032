"""flinkop.runtime operator for the peerbench harness (../shared/tools/peerbench, driver.py).

Run (bench/runtime_bench.py and the driver do this for you):

    KUBECONFIG=... BENCH_LOG=/tmp/x.log [BENCH_STATUS=1] [BENCH_GC_LOG=1] \
        .venv/bin/python bench/runtime_operator.py

What it is: the smallest real operator on `flinkop.runtime`: a `Manager` (no leader election), one
`SharedInformer` on flinkdeployments.flink.apache.org/v1beta1 across all namespaces (every object
cached in full), and one `Controller` whose reconcile gets a key from the work queue, reads the
object from the informer cache and logs one line. The driver measures the time from its PATCH to
that reconcile.

Log contract (peerbench README / kopf_operator.py), one tab-separated line per reconcile:

    lat_ns  namespace/name  resourceVersion  sent_ns  recv_ns  type

`recv_ns` is taken at reconcile entry, `sent_ns` is the `bench/sent-ns` annotation of the *cached*
object at that moment. The work queue collapses updates of a key that arrive while it waits, so one
reconcile may stand for several updates: the driver reports the superseded ones as `coalesced`.
`type` is SYNC for a key's first reconcile, UPDATE after it, DELETE when the object is gone (the
driver does not read it). Lines are buffered and written every BENCH_FLUSH_S seconds and at exit.

Environment:
    KUBECONFIG, BENCH_LOG, BENCH_NAMESPACE (recorded only: the informer watches all namespaces)
    BENCH_STATUS=1      merge-patch /status {observed, benchSentNs} when the annotation differs from
                        status.benchSentNs (the write's own MODIFIED event then writes nothing)
    BENCH_GC_LOG=1      '#gc <generation> <start_ns> <pause_us>' for gen-2 and > 2 ms collections
    BENCH_FLUSH_S       [0.05]
    BENCH_WORKERS       [4] controller workers
    BENCH_GC_TUNE       [1] flinkop.runtime.gctune: collector held until the caches synced, then a freeze
                        then and every BENCH_GC_FREEZE_S; 0 = the collector left alone
    BENCH_GC_FREEZE_S   [1.0] freeze interval
    BENCH_GC_COLLECT    [2] generation collected before each periodic freeze (gctune collect_generation);
                        "none" for no collection
    BENCH_CACHE_TRANSFORM [none] experiment, see TransformingKube: strip-managed-fields,intern-keys
    BENCH_PAGE_SIZE     experiment: the informer's LIST page size instead of the runtime's 500
    BENCH_PROFILE       write a cProfile of the run to this file
    BENCH_GC_STARTUP    [hold] hold: no cyclic GC from start until the first freeze (the caches fill with
                        acyclic JSON); normal: collector left alone until then
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from importlib import metadata
from typing import Any, TextIO

ANNOTATION = "bench/sent-ns"
LOG_PATH = os.environ.get("BENCH_LOG", "/tmp/peerbench/flinkop-events.log")
NAMESPACE = os.environ.get("BENCH_NAMESPACE", "")


def _flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() not in ("", "0", "false", "no", "off")


STATUS = _flag("BENCH_STATUS")
GC_LOG = _flag("BENCH_GC_LOG")
FLUSH_S = float(os.environ.get("BENCH_FLUSH_S", "0.05") or 0.05)
WORKERS = int(os.environ.get("BENCH_WORKERS", "4") or 4)
GC_TUNE = _flag("BENCH_GC_TUNE", "1")
GC_FREEZE_S = float(os.environ.get("BENCH_GC_FREEZE_S", "1.0") or 1.0)
_collect = os.environ.get("BENCH_GC_COLLECT", "2").strip().lower()
GC_COLLECT: int | None = None if _collect in ("none", "") else int(_collect)
GC_STARTUP = os.environ.get("BENCH_GC_STARTUP", "hold").strip().lower()

if GC_TUNE and GC_STARTUP == "hold":
    # Off from the first line: importing flinkop.runtime (kubernetes_asyncio included) is a third of
    # the start-up. gctune.hold_collections() below records it; the first freeze turns it back on.
    gc.disable()

_buf: list[str] = []
_fh: TextIO = open(LOG_PATH, "a", buffering=1 << 20)  # the process's lifetime


def _write_meta() -> None:
    try:
        version = metadata.version("flinkop")
    except metadata.PackageNotFoundError:
        version = "unknown"
    meta = {
        "framework": "flinkop-runtime",
        "version": version,
        "python": sys.version.split()[0],
        "status_writes": STATUS,
        "flush_s": FLUSH_S,
        "gc_log": GC_LOG,
        "workers": WORKERS,
        "gc_tune": GC_TUNE,
        "gc_freeze_s": GC_FREEZE_S if GC_TUNE else 0,
        "gc_collect_generation": GC_COLLECT,
        "gc_startup": GC_STARTUP if GC_TUNE else "normal",
        "gc_threshold": gc.get_threshold(),
        "namespace": NAMESPACE or "*",
        "cache_transform": os.environ.get("BENCH_CACHE_TRANSFORM", "none"),
        "pid": os.getpid(),
    }
    _fh.write("#meta " + json.dumps(meta) + "\n")
    _fh.flush()


_write_meta()  # first line, before the (slow) imports below: the contract wants it first


def _phase(name: str) -> None:
    """'#phase <name> <time_ns>': where the initial sync goes (the driver skips '#' lines)."""
    _buf.append(f"#phase {name} {time.time_ns()}\n")


_phase("main_started")


def _install_gc_log() -> None:
    """'#gc <generation> <start_ns> <pause_us>' for every gen-2 collection and every one over 2 ms."""
    started = [0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.time_ns()
            return
        pause = time.time_ns() - started[0]
        if info["generation"] == 2 or pause > 2_000_000:
            _buf.append(f"#gc {info['generation']} {started[0]} {pause // 1000}\n")

    gc.callbacks.append(callback)


if GC_LOG:
    _install_gc_log()

# The runtime under test (imported after the meta line; its import time counts in initial sync).
from flinkop.logs import configure_logging  # noqa: E402
from flinkop.runtime import gctune  # noqa: E402
from flinkop.runtime.client import new_api_client  # noqa: E402
from flinkop.runtime.controller import Controller, Result  # noqa: E402
from flinkop.runtime.informer import SharedInformer  # noqa: E402
from flinkop.runtime.kube import Kube, Resource  # noqa: E402
from flinkop.runtime.manager import Manager  # noqa: E402

if GC_TUNE and GC_STARTUP == "hold":
    gctune.hold_collections()  # until the first freeze, right after the caches synced (see amain)
_phase("imports_done")
PAGE_SIZE = int(os.environ.get("BENCH_PAGE_SIZE", "0") or 0)
CACHE_TRANSFORM = os.environ.get("BENCH_CACHE_TRANSFORM", "none").strip().lower()
FLINKDEPLOYMENTS = Resource("flink.apache.org", "v1beta1", "flinkdeployments", kind="FlinkDeployment")


def _flush() -> None:
    if _buf:
        items = _buf[:]  # a GC callback may append meanwhile: remove only what is written
        del _buf[: len(items)]
        _fh.write("".join(items))
    _fh.flush()


async def _flusher() -> None:
    while True:
        await asyncio.sleep(FLUSH_S)
        _flush()


def _interned(value: Any) -> Any:
    """The same JSON with every dict key interned: one str per distinct key in the process."""
    if isinstance(value, dict):
        return {sys.intern(k): _interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(v) for v in value]
    return value


def _transform(obj: dict[str, Any]) -> dict[str, Any]:
    if "strip-managed-fields" in CACHE_TRANSFORM:
        (obj.get("metadata") or {}).pop("managedFields", None)
    if "intern-keys" in CACHE_TRANSFORM:
        obj = _interned(obj)
    return obj


class TransformingKube(Kube):
    """Experiment, not the stock runtime (BENCH_CACHE_TRANSFORM=strip-managed-fields,intern-keys):
    transform listed and watched objects before the informer caches them, like client-go's informer
    `SetTransform` / controller-runtime's `TransformStripManagedFields`. The runtime has no transform
    hook yet, so this wraps the client the informer reads through. `strip-managed-fields` drops
    metadata.managedFields (server bookkeeping a reconcile never reads); `intern-keys` shares one
    str per distinct dict key (json.loads makes new key strings for every watch event)."""

    async def list(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        page = await super().list(*args, **kwargs)
        page["items"] = [_transform(item) for item in page.get("items") or ()]
        return page

    async def watch(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async for event in super().watch(*args, **kwargs):
            if isinstance(event.get("object"), dict) and event.get("type") != "BOOKMARK":
                event["object"] = _transform(event["object"])
            yield event


class BenchOperator:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.manager = Manager(kube, drain_timeout=5.0)
        self.informer: SharedInformer = self.manager.informers.informer(FLINKDEPLOYMENTS)
        if PAGE_SIZE:  # experiment: the factory gives every informer the default page size (500)
            self.informer.page_size = PAGE_SIZE
        self.controller = Controller("peerbench", self.reconcile, workers=WORKERS)
        self.controller.watch(self.informer)
        self.manager.add(self.controller)
        self.reconciled: set[str] = set()
        self.status_writes = 0
        self.reconciles = 0

    async def reconcile(self, key: str) -> Result | None:
        recv_ns = time.time_ns()
        self.reconciles += 1
        obj = self.informer.cache.get(key)
        if obj is None:
            self.reconciled.discard(key)
            _buf.append(f"-1\t{key}\t\t0\t{recv_ns}\tDELETE\n")
            return None
        meta = obj["metadata"]
        sent = (meta.get("annotations") or {}).get(ANNOTATION) or "0"
        sent_ns = int(sent) if sent.isdigit() else 0
        if key in self.reconciled:
            kind = "UPDATE"
        else:
            kind = "SYNC"
            self.reconciled.add(key)
        lat = recv_ns - sent_ns if sent_ns else -1
        _buf.append(f"{lat}\t{key}\t{meta.get('resourceVersion')}\t{sent_ns}\t{recv_ns}\t{kind}\n")
        if STATUS and sent_ns and (obj.get("status") or {}).get("benchSentNs") != sent:
            self.status_writes += 1
            await self.kube.patch(
                FLINKDEPLOYMENTS,
                meta["name"],
                {"status": {"observed": self.status_writes, "benchSentNs": sent}},
                meta.get("namespace"),
                subresource="status",
            )
        return None


async def amain() -> None:
    configure_logging(os.environ.get("BENCH_LOG_LEVEL", "WARNING"))
    api_client = await new_api_client(os.environ.get("KUBECONFIG"))
    flusher = asyncio.get_running_loop().create_task(_flusher())
    gc_task: asyncio.Task[None] | None = None
    operator: BenchOperator | None = None
    try:
        kube_class = TransformingKube if CACHE_TRANSFORM not in ("", "none") else Kube
        operator = BenchOperator(kube_class(api_client, field_manager="flinkop-peerbench"))
        manager = operator.manager
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        _phase("client_ready")
        await manager.start()  # caches synced, controller workers started
        _phase("caches_synced")
        if GC_TUNE:
            # The cache holds every object now: freeze it (without a collection when held since
            # start), re-enable the collector, and keep freezing what arrives.
            gc_task = gctune.start_gc_tuning(GC_FREEZE_S, collect_generation=GC_COLLECT)
        await stop.wait()
        await manager.stop()
    finally:
        if operator is not None:
            _buf.append(f"#stats reconciles={operator.reconciles} status_writes={operator.status_writes} "
                        f"cached={len(operator.informer.cache)} informer_errors={operator.informer.errors}\n")
        if gc_task is not None:
            await gctune.stop_gc_tuning(gc_task)
            st = gctune.stats(count_frozen=True)
            _buf.append(
                f"#gctune freezes={st.freezes} collected={st.collected} frozen={st.frozen} "
                f"max_pause_ms={st.max_pause_s * 1e3:.2f}\n"
            )
        flusher.cancel()
        _flush()
        await api_client.close()


def main() -> int:
    profile_path = os.environ.get("BENCH_PROFILE")
    try:
        if profile_path:  # cProfile of the whole run, for finding where the time goes
            import cProfile

            profiler = cProfile.Profile()
            try:
                profiler.runcall(asyncio.run, amain())
            finally:
                profiler.dump_stats(profile_path)
        else:
            asyncio.run(amain())
    finally:
        _flush()
        _fh.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
