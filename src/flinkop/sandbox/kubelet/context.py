"""What every pod worker shares: the API client, the network, images, settings and helpers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from flinkop.runtime.events import EventRecorder, EventType
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.images import ImageRegistry
from flinkop.sandbox.kubelet.cgroups import Cgroups
from flinkop.sandbox.kubelet.config import KubeletConfig
from flinkop.sandbox.kubelet.mountpoints import MountPoints
from flinkop.sandbox.kubelet.objects import ObjectSource
from flinkop.sandbox.kubelet.tokens import TokenIssuer
from flinkop.sandbox.network import PodNetwork

if TYPE_CHECKING:
    from flinkop.sandbox.kubelet.stub import StubRestServer

JSON = dict[str, Any]
PODS = Resource("", "v1", "pods", kind="Pod")
log = structlog.get_logger("flinkop.sandbox.kubelet")


@dataclass
class NodeContext:
    kube: Kube
    network: PodNetwork
    images: ImageRegistry
    config: KubeletConfig
    objects: ObjectSource
    events: EventRecorder
    session: aiohttp.ClientSession  # probes
    tokens: TokenIssuer
    ca_cert: bytes | None
    api_host: str
    allocatable: dict[str, Decimal]
    mountpoints: MountPoints
    cgroups: Cgroups
    stubs: StubRestServer | None = None  # benchmark mode: the REST stub answering for stub pods
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def event(self, pod: JSON, type_: EventType, reason: str, message: str) -> None:
        """Record an Event about the pod in the background (best effort, never blocks a pod)."""
        involved = {"apiVersion": "v1", "kind": "Pod", "metadata": pod.get("metadata") or {}}
        task = asyncio.get_running_loop().create_task(self.events.record(involved, type_, reason, message))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain_events(self, timeout: float = 2.0) -> None:
        if self._background:
            _done, pending = await asyncio.wait(set(self._background), timeout=timeout)
            for task in pending:
                task.cancel()
