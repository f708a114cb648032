"""Fixtures for the controller-manager tests: the sandbox API server over real HTTP, the controller
manager on top of it, and a stand-in kubelet that reports pods Running and Ready (there is no real
kubelet here: tests play it by writing pod status)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from kubernetes_asyncio import client

from flinkop.runtime.client import ApiError
from flinkop.runtime.kube import Kube
from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.sandbox.controllers import ControllerManager
from flinkop.sandbox.controllers.common import DEPLOYMENTS, PODS, REPLICASETS

JSON = dict[str, Any]
T = TypeVar("T")
NS = "default"
_ips = itertools.count(10)


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_ip() -> str:
    n = next(_ips)
    return f"10.244.{n // 250}.{n % 250 + 2}"


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0, what: str = "") -> T:
    """Run `check` until it returns without failing (an assertion, or a field or item not there yet);
    its result is returned."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except (AssertionError, KeyError, ValueError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or check.__name__}: {exc}") from exc
        await asyncio.sleep(0.03)


def is_ready(pod: JSON) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


async def set_pod_status(kube: Kube, pod: JSON, *, ready: bool = True, ip: str | None = None) -> JSON:
    """What a kubelet reports: Running with an IP, and the Ready condition."""
    ip = ip or (pod.get("status") or {}).get("podIP") or next_ip()
    now = stamp()
    flag = "True" if ready else "False"
    status = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "hostIP": "10.244.0.1",
        "startTime": now,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
    }
    meta = pod["metadata"]
    return await kube.patch(PODS, meta["name"], {"status": status}, meta["namespace"], subresource="status")


class FakeKubelet:
    """Makes every pod of a namespace Running and Ready `delay` seconds after it first sees it."""

    def __init__(self, kube: Kube, namespace: str = NS, delay: float = 0.0) -> None:
        self.kube = kube
        self.namespace = namespace
        self.delay = delay
        self.enabled = True
        self._seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> FakeKubelet:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            if self.enabled:
                pods = (await self.kube.list(PODS, self.namespace))["items"]
                now = time.monotonic()
                for pod in pods:
                    uid = pod["metadata"]["uid"]
                    first = self._seen.setdefault(uid, now)
                    if is_ready(pod) or pod["metadata"].get("deletionTimestamp") or now - first < self.delay:
                        continue
                    with contextlib.suppress(ApiError):
                        await set_pod_status(self.kube, pod)
            await asyncio.sleep(0.02)


@pytest.fixture
async def kube(api: client.ApiClient) -> Kube:
    return Kube(api, field_manager="test")


@pytest.fixture
async def kcm(apiserver: SandboxApiServer, api: client.ApiClient) -> AsyncIterator[ControllerManager]:
    manager = ControllerManager(Kube(api), resync_period=None)
    await manager.start()
    try:
        yield manager
    finally:
        await manager.stop()


@pytest.fixture
async def kubelet(kube: Kube) -> AsyncIterator[FakeKubelet]:
    fake = FakeKubelet(kube).start()
    try:
        yield fake
    finally:
        await fake.stop()


def container(image: str = "registry.example/app:1", **extra: Any) -> JSON:
    return {"name": "app", "image": image, **extra}


def deployment(name: str, replicas: int = 3, *, image: str = "registry.example/app:1", **spec: Any) -> JSON:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"team": "flink"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container(image)]}},
            **spec,
        },
    }


def replicaset(name: str, replicas: int = 2, **spec: Any) -> JSON:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}},
            **spec,
        },
    }


async def pods_of(kube: Kube, app: str) -> list[JSON]:
    items: list[JSON] = (await kube.list(PODS, NS, label_selector=f"app={app}"))["items"]
    return items


async def replicasets_of(kube: Kube, app: str) -> list[JSON]:
    items: list[JSON] = (await kube.list(REPLICASETS, NS, label_selector=f"app={app}"))["items"]
    return sorted(
        items,
        key=lambda rs: int(
            rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0")
        ),
    )


async def rolled_out(kube: Kube, name: str, replicas: int) -> JSON:
    """The Deployment once its latest generation is fully rolled out and available."""
    d = await kube.get(DEPLOYMENTS, name, NS)
    status = d.get("status") or {}
    assert status.get("observedGeneration") == d["metadata"]["generation"], status
    for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        assert status.get(field, 0) == replicas, (field, status)
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    assert conditions.get("Progressing", {}).get("reason") == "NewReplicaSetAvailable", conditions
    return d
