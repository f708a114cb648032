"""Benchmark mode of the kubelet: JobManager pods answered by one in-process Flink REST stub.

Off by default. With ``KubeletConfig(stub_images=("flink:*",))`` (``SandboxCluster(stub_images=...)``) every
pod whose containers all use a matching image is a *stub pod*: it gets no network namespace and runs no
process, so a thousand FlinkDeployments cost a thousand small records in the kubelet, not a thousand JVMs.

* **Address.** A stub pod gets an address from the pod CIDR (the same IPAM as other pods), assigned as a /32
  to the pod bridge on the host, the way Service cluster IPs are. The API server's service proxy, the
  sandbox's service proxy (cluster IPs) and pods in their namespaces reach it like any pod IP.
* **Containers.** A container "runs" from the moment the pod's volumes are set up until the pod halts (or a
  restart is due): status, events and the kubelet's own probes (the operator's startup probe ``GET /config``
  on the ``rest`` port) work as for real containers; exec probes fail (there is no process).
* **REST.** One aiohttp application serves Flink's REST API for all stub pods. A container that declares the
  REST port of its Flink configuration (``rest.bind-port``, else ``rest.port``, default 8081) among its
  ``ports`` gets a listener on ``<pod IP>:<port>``; the connection's local address says which JobManager
  answers. Other containers (TaskManagers, sidecars) just run.
* **Flink configuration.** Read where Flink reads it: the file ``config.yaml`` (or ``flink-conf.yaml``) in
  ``$FLINK_CONF_DIR`` (default ``/opt/flink/conf``) as mounted into the container, i.e. the operator's
  ``flink-config-<name>`` ConfigMap.
* **The cluster.** ``/config`` and ``/overview`` report the Flink version of the image tag (``flink:2.3`` ->
  2.3.0); an application cluster (``$internal.pipeline.job-id`` set) has one job with that id, RUNNING with
  all its tasks, no checkpoints and no exceptions; a session cluster has no jobs. ``/taskmanagers`` lists
  ``ceil(parallelism.default / taskmanager.numberOfTaskSlots)`` virtual TaskManagers (no pods). Cancelling
  the job (``PATCH /jobs/:id``) turns it CANCELED. Anything else answers 404 as Flink does, and is counted
  in ``StubRestServer.unknown``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml
from aiohttp import web

from flinkop.runtime.events import NORMAL, WARNING
from flinkop.sandbox.kubelet.containers import Exit
from flinkop.sandbox.kubelet.containerspec import container_id
from flinkop.sandbox.kubelet.env import ConfigError
from flinkop.sandbox.kubelet.runner import ContainerRunner
from flinkop.sandbox.kubelet.status import now
from flinkop.sandbox.kubelet.volumes import VolumeError
from flinkop.sandbox.kubelet.worker import PodWorker

JSON = dict[str, Any]
Address = tuple[str, int]
DEFAULT_CONF_DIR = "/opt/flink/conf"
CONFIG_FILES = ("config.yaml", "flink-conf.yaml")
DEFAULT_FLINK_VERSION = "2.3.0"
SIGTERM_EXIT = 143
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")

log = structlog.get_logger("flinkop.sandbox.kubelet.stub")


def is_stub_pod(pod: JSON, patterns: tuple[str, ...]) -> bool:
    """Whether every container (and init container) of the pod uses an image matching a pattern."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return (
        bool(patterns)
        and bool(containers)
        and all(any(fnmatch.fnmatchcase(str(c.get("image") or ""), p) for p in patterns) for c in containers)
    )


def flink_version(image: str) -> str:
    """The Flink version of an image tag: `flink:2.3` -> 2.3.0, `flink:1.20.5-java17` -> 1.20.5."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    match = _VERSION.match(tag)
    if match is None:
        return DEFAULT_FLINK_VERSION
    major, minor, patch = match.groups()
    return f"{major}.{minor}.{patch or 0}"


def flatten(document: Any, prefix: str = "") -> dict[str, str]:
    """A Flink config file (nested or flat YAML) as flat `key -> string value`."""
    flat: dict[str, str] = {}
    if not isinstance(document, dict):
        return flat
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, list):
            flat[name] = ";".join(str(v) for v in value)
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        elif value is not None:
            flat[name] = str(value)
    return flat


def read_flink_config(conf_dir: Path) -> dict[str, str]:
    for name in CONFIG_FILES:
        path = conf_dir / name
        if path.is_file():
            return flatten(yaml.safe_load(path.read_text()))
    raise ConfigError(f"no {' or '.join(CONFIG_FILES)} in the Flink configuration directory")


def _int(conf: dict[str, str], key: str, default: int) -> int:
    try:
        return int(conf.get(key, default))
    except ValueError:
        return default


@dataclass
class StubJobManager:
    """What one stub JobManager reports."""

    namespace: str
    pod: str
    conf: dict[str, str]
    flink_version: str
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    job_state: str = "RUNNING"

    @property
    def job_id(self) -> str | None:
        return self.conf.get("$internal.pipeline.job-id")

    @property
    def job_name(self) -> str:
        return self.conf.get("pipeline.name") or f"{self.pod.rsplit('-', 2)[0]} (stub job)"

    @property
    def parallelism(self) -> int:
        return max(1, _int(self.conf, "parallelism.default", 1))

    @property
    def slots(self) -> int:
        return max(1, _int(self.conf, "taskmanager.numberOfTaskSlots", 1))

    @property
    def taskmanagers(self) -> int:
        return math.ceil(self.parallelism / self.slots) if self.job_id else 0

    # -- answers -----------------------------------------------------------------------------------
    def dashboard_config(self) -> JSON:
        return {
            "refresh-interval": 3000,
            "timezone-name": "Coordinated Universal Time",
            "timezone-offset": 0,
            "flink-version": self.flink_version,
            "flink-revision": "stub @ sandbox",
            "features": {
                "web-submit": False,
                "web-cancel": False,
                "web-rescale": False,
                "web-history": False,
            },
        }

    def overview(self) -> JSON:
        slots = self.taskmanagers * self.slots
        running = int(self.job_id is not None and self.job_state == "RUNNING")
        return {
            "taskmanagers": self.taskmanagers,
            "slots-total": slots,
            "slots-available": slots - (self.parallelism if running else 0),
            "jobs-running": running,
            "jobs-finished": 0,
            "jobs-cancelled": int(self.job_state == "CANCELED"),
            "jobs-failed": 0,
            "flink-version": self.flink_version,
            "flink-commit": "stub",
        }

    def _tasks(self) -> dict[str, int]:
        state = self.job_state.lower() if self.job_state in ("RUNNING", "CANCELED") else "running"
        return {"total": self.parallelism, state: self.parallelism}

    def job_summary(self) -> JSON:
        ended = self.job_state != "RUNNING"
        now_ms = int(time.time() * 1000)
        return {
            "jid": self.job_id,
            "name": self.job_name,
            "state": self.job_state,
            "start-time": self.started_ms,
            "end-time": now_ms if ended else -1,
            "duration": now_ms - self.started_ms,
            "last-modification": self.started_ms,
            "tasks": self._tasks(),
            "jobType": "STREAMING",
        }

    def job_details(self) -> JSON:
        summary = self.job_summary()
        vertex = {
            "id": "cbc357ccb763df2852fee8c4fc7d55f2",
            "name": "Source: stub -> Sink: stub",
            "parallelism": self.parallelism,
            "maxParallelism": 128,
            "status": self.job_state,
            "start-time": self.started_ms,
            "end-time": summary["end-time"],
            "duration": summary["duration"],
            "tasks": {"RUNNING" if self.job_state == "RUNNING" else self.job_state: self.parallelism},
            "metrics": {},
        }
        return {
            **{k: v for k, v in summary.items() if k not in ("tasks", "jobType", "last-modification")},
            "now": int(time.time() * 1000),
            "maxParallelism": 128,
            "job-type": "STREAMING",
            "timestamps": {
                "INITIALIZING": self.started_ms,
                "CREATED": self.started_ms,
                "RUNNING": self.started_ms,
            },
            "vertices": [vertex],
            "status-counts": {self.job_state: 1},
            "plan": {"jid": self.job_id, "name": self.job_name, "type": "STREAMING", "nodes": []},
        }

    def taskmanager_list(self) -> JSON:
        return {
            "taskmanagers": [
                {
                    "id": f"{self.pod}-taskmanager-1-{i + 1}",
                    "path": f"pekko.tcp://flink@{self.pod}-taskmanager-1-{i + 1}:6122/user/rpc/taskmanager_0",
                    "dataPort": 6121,
                    "slotsNumber": self.slots,
                    "freeSlots": 0,
                    "timeSinceLastHeartbeat": int(time.time() * 1000),
                    "hardware": {"cpuCores": 1, "physicalMemory": 1 << 30, "freeMemory": 1 << 29},
                }
                for i in range(self.taskmanagers)
            ]
        }


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _not_found(path: str) -> web.Response:
    return _json({"errors": ["Not found: " + path]}, 404)


class StubRestServer:
    """Flink's REST API for every stub JobManager, in the kubelet's process: a listener per JobManager."""

    def __init__(self) -> None:
        self.jobmanagers: dict[Address, StubJobManager] = {}
        self.requests = 0
        self.unknown: Counter[str] = Counter()  # "METHOD /path" the stub does not serve
        self._sites: dict[Address, web.TCPSite] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()

    async def stop(self) -> None:
        for address in list(self._sites):
            await self.remove(address)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.unknown:
            log.warning("REST stub: requests it did not serve", paths=dict(self.unknown))

    async def add(self, address: Address, jobmanager: StubJobManager) -> None:
        """Listen on `address` for `jobmanager` (OSError when the address cannot be bound)."""
        if self._runner is None:
            raise RuntimeError("StubRestServer.start() has not been called")
        await self.remove(address)
        site = web.TCPSite(self._runner, address[0], address[1], reuse_address=True, backlog=128)
        await site.start()
        self._sites[address] = site
        self.jobmanagers[address] = jobmanager

    async def remove(self, address: Address) -> None:
        self.jobmanagers.pop(address, None)
        site = self._sites.pop(address, None)
        if site is not None:
            await site.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
        jobmanager = self.jobmanagers.get((sockname[0], sockname[1])) if sockname else None
        if jobmanager is None:
            return _json(
                {"errors": ["Service temporarily unavailable due to an ongoing leader election."]}, 503
            )
        answer = self._answer(jobmanager, request.method, request.path.rstrip("/") or "/")
        if answer is None:
            self.unknown[f"{request.method} {request.path}"] += 1
            return _not_found(request.path)
        return answer

    @staticmethod
    def _answer(jm: StubJobManager, method: str, path: str) -> web.Response | None:
        parts = path.strip("/").split("/")
        if method == "GET":
            if path == "/config":
                return _json(jm.dashboard_config())
            if path == "/overview":
                return _json(jm.overview())
            if path == "/taskmanagers":
                return _json(jm.taskmanager_list())
            if path == "/jobmanager/config":
                return _json([{"key": k, "value": v} for k, v in sorted(jm.conf.items())])
            if path == "/jobs/overview":
                return _json({"jobs": [jm.job_summary()] if jm.job_id else []})
            if path == "/jobs":
                return _json({"jobs": [{"id": jm.job_id, "status": jm.job_state}] if jm.job_id else []})
        if len(parts) >= 2 and parts[0] == "jobs" and parts[1] != "overview":
            if parts[1] != jm.job_id:
                return _json({"errors": [f"Job {parts[1]} not found"]}, 404)
            rest = "/".join(parts[2:])
            if method == "PATCH" and rest == "":
                jm.job_state = "CANCELED"
                return _json({}, 202)
            if method != "GET":
                return None
            if rest == "":
                return _json(jm.job_details())
            if rest == "checkpoints":
                return _json(
                    {
                        "counts": {"restored": 0, "total": 0, "in_progress": 0, "completed": 0, "failed": 0},
                        "summary": {},
                        "latest": {"completed": None, "savepoint": None, "failed": None, "restored": None},
                        "history": [],
                    }
                )
            if rest == "checkpoints/config":
                return _json({"mode": "exactly_once", "externalization": {"enabled": False}})
            if rest == "exceptions":
                return _json({"exceptionHistory": {"entries": [], "truncated": False}})
        if method == "DELETE" and path == "/cluster":
            return _json({}, 202)
        return None


class StubContainerRunner(ContainerRunner):
    """A container of a stub pod: no process; the REST stub listens for it when it declares the REST port."""

    async def run(self) -> bool:
        worker = self.worker
        while not worker.halt.is_set():
            exit_ = await self._serve()
            if exit_ is None or worker.halt.is_set() or not self._should_restart(exit_):
                break
            self.forced_restart = False
            self.record.restart_count += 1
        return self.record.exit_code == 0

    def _conf_dir(self) -> Path | None:
        """The host path mounted at the container's Flink configuration directory (None: not mounted)."""
        env = {str(e.get("name")): str(e.get("value") or "") for e in self.spec.get("env") or []}
        target = (env.get("FLINK_CONF_DIR") or DEFAULT_CONF_DIR).rstrip("/")
        for mount in self.worker.volumes.mounts(self.worker.pod, self.spec, env):
            if mount.target.rstrip("/") == target:
                return Path(mount.source)
        return None

    def _jobmanager(self) -> tuple[Address, StubJobManager] | None:
        conf_dir = self._conf_dir()
        if conf_dir is None:
            return None
        conf = read_flink_config(conf_dir)
        port = _int(conf, "rest.bind-port", 0) or _int(conf, "rest.port", 8081)
        declared = {int(p.get("containerPort") or 0) for p in self.spec.get("ports") or []}
        if port not in declared:
            return None
        worker = self.worker
        jobmanager = StubJobManager(worker.namespace, worker.name, conf, flink_version(self.record.image))
        return (worker.runtime.pod_ip, port), jobmanager

    async def _serve(self) -> Exit | None:
        """One instance; None when the pod halted before it started."""
        worker = self.worker
        ctx = worker.ctx
        assert ctx.stubs is not None
        cid = container_id(worker.uid, self.name, self.record.restart_count)
        while True:
            try:
                serving = None if self.init else self._jobmanager()
                break
            except (ConfigError, VolumeError, OSError, yaml.YAMLError) as exc:
                self.record.waiting("CreateContainerConfigError", str(exc))
                worker.mark_dirty()
                worker.event(WARNING, "Failed", f"Error: {exc}")
            if not await worker.sleep(ctx.config.config_retry, wake=True):
                return None
        if serving is not None:
            try:
                await ctx.stubs.add(*serving)
            except OSError as exc:
                message = f"REST stub cannot listen on {serving[0][0]}:{serving[0][1]}: {exc}"
                self.record.container_id = cid
                self.record.terminated(128, reason="StartError", message=message)
                worker.mark_dirty()
                await worker.sleep(ctx.config.config_retry)
                return Exit(128, None, now(), message)
        try:
            self.record.running(cid, f"stub://{self.record.image}", now())
            worker.event(NORMAL, "Started", f"Started container {self.name} (REST stub)")
            if self.init:
                exit_ = Exit(0, None, now())
            else:
                if "startupProbe" not in self.spec:
                    self.record.started = True
                    self.record.ready = "readinessProbe" not in self.spec
                self._start_probes()
                worker.mark_dirty()
                self.log.debug("stub container running", rest=serving[0] if serving else None)
                exit_ = await self._until_stopped()
        finally:
            self._stop_probes()
            if serving is not None:
                await ctx.stubs.remove(serving[0])
        self.record.terminated(exit_.code, signal=exit_.signal, finished_at=exit_.finished_at)
        if self.init:
            self.record.ready = True
        worker.mark_dirty()
        return exit_

    async def _until_stopped(self) -> Exit:
        """Until the pod halts or a restart is due (liveness, spec change): stops at once, as on SIGTERM."""
        self.restart.clear()
        waiters = [asyncio.ensure_future(self.worker.halt.wait()), asyncio.ensure_future(self.restart.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not self.worker.halt.is_set():
            self.worker.event(NORMAL, "Killing", self.restart_reason)
        return Exit(SIGTERM_EXIT, None, now())


class StubPodWorker(PodWorker):
    """A stub pod: a pod address on the bridge instead of a network namespace, stub containers."""

    runner_class = StubContainerRunner

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stub_ip: str | None = None

    async def _create_sandbox(self) -> bool:
        network = self.ctx.network
        attempt = 0
        while not self.halt.is_set():
            address = network.allocate_ip()
            try:
                await network.add_address(address)
            except Exception as exc:
                network.release_ip(address)
                attempt += 1
                self.log.warning("cannot add the stub pod's address", error=str(exc), attempt=attempt)
                self.event(WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
                if not await self.sleep(min(30.0, self.ctx.config.config_retry * attempt)):
                    return False
                continue
            self.stub_ip = address
            self.runtime.pod_ip = address
            self.runtime.sandbox_ready = True
            self.mark_dirty()
            return True
        return False

    async def _release_sandbox(self) -> None:
        address, self.stub_ip = self.stub_ip, None
        if address is None:
            return
        self.runtime.sandbox_ready = False
        self.mark_dirty()
        network = self.ctx.network
        try:
            await network.remove_address(address)
        except Exception as exc:
            self.log.warning("cannot remove the stub pod's address", error=str(exc))
        network.release_ip(address)
