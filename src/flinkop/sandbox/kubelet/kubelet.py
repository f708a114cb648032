"""The process kubelet: a general pod runner for the sandbox cluster's node.

It registers the Node, serves container logs, optionally schedules pending pods onto its node, and keeps
one `PodWorker` per pod bound to it (watched with `fieldSelector=spec.nodeName=<node>`). `stop()` kills
every container process and removes every pod sandbox; nothing is left running.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from flinkop.runtime.events import EventRecorder
from flinkop.runtime.informer import Handler, SharedInformer
from flinkop.runtime.kube import Kube
from flinkop.sandbox.images import ImageRegistry
from flinkop.sandbox.kubelet.cgroups import Cgroups
from flinkop.sandbox.kubelet.config import KubeletConfig
from flinkop.sandbox.kubelet.containers import kill_leftovers
from flinkop.sandbox.kubelet.context import PODS, NodeContext
from flinkop.sandbox.kubelet.logs import LogServer
from flinkop.sandbox.kubelet.mountpoints import MountPoints
from flinkop.sandbox.kubelet.node import NodeAgent, host_allocatable
from flinkop.sandbox.kubelet.objects import ObjectSource
from flinkop.sandbox.kubelet.scheduler import Scheduler
from flinkop.sandbox.kubelet.stub import StubPodWorker, StubRestServer, is_stub_pod
from flinkop.sandbox.kubelet.tokens import TokenIssuer
from flinkop.sandbox.kubelet.worker import PodWorker
from flinkop.sandbox.network import PodNetwork

JSON = dict[str, Any]
STOP_TIMEOUT = 15.0
log = structlog.get_logger("flinkop.sandbox.kubelet")


class Kubelet:
    def __init__(self, kube: Kube, network: PodNetwork, images: ImageRegistry, config: KubeletConfig) -> None:
        self.kube = kube
        self.network = network
        self.images = images
        self.config = config
        self.workers: dict[str, PodWorker] = {}  # by pod uid
        self.ctx: NodeContext | None = None
        self.node: NodeAgent | None = None
        self.scheduler: Scheduler | None = None
        self.log_server = LogServer(config.node_ip, config.log_port, self.find_log)
        self.objects = ObjectSource(kube, self._object_changed)
        self.mountpoints = MountPoints(config.state_dir / "mountpoints.json")
        self.cgroups = Cgroups(config.state_dir)
        self.pods = SharedInformer(kube, PODS, field_selector=f"spec.nodeName={config.node_name}")
        self.pods.add_handler(
            Handler(
                on_add=self._pod_seen,
                on_update=lambda _old, new: self._pod_seen(new),
                on_delete=self._pod_gone,
            )
        )
        self._session: aiohttp.ClientSession | None = None
        self.stubs = StubRestServer() if config.stub_images else None  # benchmark mode (stub.py)
        self._resync: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._failed: set[str] = set()  # pods whose worker failed
        self._started = False
        self.log = log.bind(node=config.node_name)

    @property
    def pods_dir(self) -> Path:
        return self.config.state_dir / "pods"

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        if not self.network.started:
            raise RuntimeError("the kubelet needs a started PodNetwork")
        config = self.config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        if self.pods_dir.exists():
            killed = kill_leftovers(self.pods_dir)
            if killed:
                self.log.warning("killed containers left by an earlier kubelet", count=killed)
            shutil.rmtree(self.pods_dir, ignore_errors=True)
        self.mountpoints.cleanup_leftovers()
        if self.cgroups.remove_all():
            self.log.warning("killed container processes left by an earlier kubelet")
        self._started = True
        try:
            await self._start_components()
        except BaseException:
            await self.stop()
            raise
        self.log.info("kubelet started", log_port=self.log_server.port, state_dir=str(config.state_dir))

    async def _start_components(self) -> None:
        config = self.config
        allocatable = host_allocatable(config.state_dir)
        events = EventRecorder(self.kube, component="kubelet", reporting_instance=config.node_name)
        self._session = aiohttp.ClientSession()
        ca_cert = config.ca_file.read_bytes() if config.ca_file is not None else None
        if self.stubs is not None:
            await self.stubs.start()
        if not await self.objects.start():
            raise RuntimeError("kubelet: ConfigMaps, Secrets and Services could not be listed")
        self.ctx = NodeContext(
            kube=self.kube,
            network=self.network,
            images=self.images,
            config=config,
            objects=self.objects,
            events=events,
            session=self._session,
            tokens=TokenIssuer(),
            ca_cert=ca_cert,
            api_host=config.api_host or self.network.gateway,
            allocatable=allocatable,
            mountpoints=self.mountpoints,
            cgroups=self.cgroups,
            stubs=self.stubs,
        )
        port = await self.log_server.start()
        self.node = NodeAgent(
            self.kube,
            config.node_name,
            config.node_ip,
            kubelet_port=port,
            allocatable=allocatable,
            pod_cidr=self.network.cidr,
            heartbeat_interval=config.heartbeat_interval,
            status_interval=config.status_interval,
            lease_duration=config.lease_duration,
        )
        await self.node.register()
        self.node.start()
        self.pods.start()
        if not await self.pods.wait_for_sync(30.0):
            raise RuntimeError("kubelet: pods could not be listed")
        if config.schedule:
            labels = self.node.node()["metadata"]["labels"]
            self.scheduler = Scheduler(self.kube, config.node_name, lambda: dict(labels), events)
            await self.scheduler.start()
        self._resync = asyncio.get_running_loop().create_task(
            self._resync_loop(), name="kubelet volume resync"
        )

    async def stop(self) -> None:
        """Kill every pod's processes, remove every sandbox, stop watching."""
        if not self._started:
            return
        self._started = False
        if self._resync is not None:
            self._resync.cancel()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.pods.stop()
        workers = list(self.workers.values())
        for worker in workers:
            worker.kill("kubelet stopping")
        if workers:
            _done, pending = await asyncio.wait(
                [asyncio.ensure_future(w.wait()) for w in workers], timeout=STOP_TIMEOUT
            )
            if pending:
                self.log.error("pod workers did not finish", count=len(pending))
        self.workers.clear()
        if self.pods_dir.exists():
            kill_leftovers(self.pods_dir)
        await asyncio.to_thread(self.cgroups.remove_all)
        self.mountpoints.cleanup_leftovers()
        if self.stubs is not None:
            await self.stubs.stop()
        await self.objects.stop()
        if self.node is not None:
            await self.node.stop()
        await self.log_server.stop()
        if self.ctx is not None:
            await self.ctx.drain_events()
        if self._session is not None:
            await self._session.close()
        self.log.info("kubelet stopped")

    async def __aenter__(self) -> Kubelet:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- pods --------------------------------------------------------------------------------------
    def _pod_seen(self, pod: JSON) -> None:
        if not self._started or self.ctx is None:
            return
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        if uid in self._failed:
            return  # its worker failed: not retried in a loop; deleting the pod clears it
        stub = self.stubs is not None and is_stub_pod(pod, self.config.stub_images)
        worker = (StubPodWorker if stub else PodWorker)(self.ctx, pod)
        self.workers[uid] = worker
        worker.start()
        task = asyncio.get_running_loop().create_task(self._forget_when_done(uid, worker))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)
        worker.update(pod)

    async def _forget_when_done(self, uid: str, worker: PodWorker) -> None:
        await worker.wait()
        if self.workers.get(uid) is worker:
            del self.workers[uid]
        if worker.failed:
            self._failed.add(uid)

    def _pod_gone(self, pod: JSON) -> None:
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        self._failed.discard(uid)
        worker = self.workers.get(uid)
        if worker is not None:
            worker.kill("pod deleted")

    def _object_changed(self, kind: str, namespace: str, name: str) -> None:
        for worker in list(self.workers.values()):
            if worker.namespace == namespace and worker.references(kind, name):
                worker.refresh()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.volume_resync)
            for worker in list(self.workers.values()):
                worker.refresh()

    # -- logs --------------------------------------------------------------------------------------
    def find_log(
        self, namespace: str, pod: str, container: str, previous: bool
    ) -> tuple[Path, Callable[[], bool]]:
        candidates = [w for w in self.workers.values() if (w.namespace, w.name) == (namespace, pod)]
        if not candidates:
            raise LookupError(f'pod "{pod}" not found on node "{self.config.node_name}"')
        return candidates[-1].log_file(container, previous)
