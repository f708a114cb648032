"""Fixtures of the FlinkStateSnapshot controller tests: a real Flink 2.3 session cluster running a stateful
streaming job (module-scoped), a sandbox API server with the operator's CRDs (per test), and a harness that
runs the snapshot reconciler over real informer caches.

The harness calls ``reconcile(key)`` itself, as the controller's workers would, so that a test decides
when the next reconcile happens (the controller path is covered by ``test_operator_wiring``). REST clients
reach the local cluster: ``LocalRestClients`` only resolves addresses, every call goes to the real Flink.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from flinkop.config import OperatorConfig
from flinkop.flink.rest import FlinkRestClient
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.reconcilers.context import Services
from flinkop.reconcilers.status import StatusRecorder
from flinkop.runtime import EventRecorder, InformerFactory, Kube, NotFound, Resource, Result, new_api_client
from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.snapshots.controller import FlinkStateSnapshotReconciler
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS
from tests import waiting
from tests.flink_rest.flink_cluster import FlinkCluster, free_port
from tests.flink_rest.running_job import RunningJob, installed_flink_home, running_test_job

JSON = dict[str, Any]
T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
NS = "default"
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
EVENTS = Resource("", "v1", "events", kind="Event")
RETRY_BASE = 0.3  # seconds: the first retry after a failure (10 s in production)


class SnapshotTestCluster(FlinkCluster):
    """The REST tests' cluster, with no periodic checkpoints (only the ones a test triggers) and room in
    the checkpoint history, so a checkpoint's directory stays while a test looks at it."""

    def write_config(self) -> Path:
        conf = super().write_config()
        settings: JSON = yaml.safe_load((conf / "config.yaml").read_text())
        settings["execution.checkpointing.interval"] = "1h"
        settings["execution.checkpointing.num-retained"] = 10
        (conf / "config.yaml").write_text(yaml.safe_dump(settings))
        return conf


@pytest.fixture(scope="module")
def flink_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJob]:
    """A Flink 2.3 session cluster running the REST tests' keyed-state job."""
    cluster = SnapshotTestCluster(installed_flink_home(), tmp_path_factory.mktemp("flink-snapshots"))
    with running_test_job(cluster, rate=20) as job:
        yield job


class LocalRestClients:
    """``RestClients`` for clusters on 127.0.0.1: FlinkDeployment name -> REST URL (any other name: a port
    nobody listens on, i.e. an unreachable JobManager)."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self._dead = f"http://127.0.0.1:{free_port()}"
        self._clients: dict[str, FlinkRestClient] = {}

    def client(self, namespace: str, name: str, port: int) -> FlinkRestClient:
        url = self.urls.get(name, self._dead)
        existing = self._clients.get(url)
        if existing is None:
            existing = self._clients[url] = FlinkRestClient(url, timeout=5.0, retries=0)
        return existing

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()


@dataclass
class Harness:
    kube: Kube
    rest: LocalRestClients
    reconciler: FlinkStateSnapshotReconciler
    snapshot_cache: Any
    deployment_cache: Any
    results: list[Result | None] = field(default_factory=list)

    async def _cached(self, cache: Any, resource: Resource, name: str) -> None:
        """Wait until the informer cache holds the server's current version of ``name`` (or its absence)."""
        try:
            rv = (await self.kube.get(resource, name, NS))["metadata"]["resourceVersion"]
        except NotFound:
            rv = None
        for _ in range(200):
            cached = cache.get(f"{NS}/{name}")
            if (cached is None and rv is None) or (
                cached is not None
                and rv is not None
                and int(cached["metadata"]["resourceVersion"]) >= int(rv)
            ):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the cache never caught up with {resource} {name}")

    async def reconcile(self, name: str) -> Result | None:
        await self._cached(self.snapshot_cache, FLINK_STATE_SNAPSHOTS, name)
        for deployment in list(self.deployment_cache.keys()):
            await self._cached(self.deployment_cache, FLINK_DEPLOYMENTS, deployment.partition("/")[2])
        result = await self.reconciler.reconcile(f"{NS}/{name}")
        self.results.append(result)
        return result

    async def snapshot(self, name: str) -> JSON | None:
        try:
            return await self.kube.get(FLINK_STATE_SNAPSHOTS, name, NS)
        except NotFound:
            return None

    async def drive(
        self, name: str, until: Callable[[JSON | None], bool], timeout: float = 30, what: str = ""
    ) -> JSON | None:
        """Reconcile as the controller would (again after the requested delay, at most 0.3 s here) until
        ``until`` holds for the object on the server."""
        deadline = time.monotonic() + timeout
        while True:
            result = await self.reconcile(name)
            current = await self.snapshot(name)
            if until(current):
                return current
            if time.monotonic() > deadline:
                raise AssertionError(f"{what or name}: not reached within {timeout} s; last: {current}")
            delay = result.requeue_after if result is not None and result.requeue_after is not None else 0.3
            await asyncio.sleep(min(delay, 0.3))

    async def events(self, name: str) -> dict[str, JSON]:
        answer = await self.kube.list(EVENTS, NS, field_selector=f"involvedObject.name={name}")
        return {
            e["reason"]: e
            for e in answer.get("items") or []
            if (e.get("involvedObject") or {}).get("kind") == "FlinkStateSnapshot"
        }


async def install_crds(kube: Kube, *, skip: tuple[str, ...] = ()) -> None:
    for path in sorted((REPO / "deploy" / "crds").glob("*.yml")):
        if path.name.startswith(skip):
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                await kube.create(CRDS, document)
    await asyncio.sleep(0.2)


@pytest.fixture
async def kube() -> AsyncIterator[Kube]:
    async with SandboxApiServer(bookmark_interval=0.5, established_delay=0.02) as server:
        api_client = await new_api_client(server.kubeconfig())
        try:
            yield Kube(api_client)
        finally:
            await api_client.close()


@pytest.fixture
async def harness(kube: Kube) -> AsyncIterator[Harness]:
    await install_crds(kube)
    config = OperatorConfig.from_mapping({"kubernetes.operator.reconcile.interval": "1 s"})
    rest = LocalRestClients()
    services = Services(
        kube=kube,
        events=EventRecorder(kube, "Operator"),
        statuses=StatusRecorder(kube, FLINK_DEPLOYMENTS),
        rest=rest,
        jm_deployments=lambda _key: None,
        operator_config=lambda: config,
    )
    factory = InformerFactory(kube)
    snapshots = factory.informer(FLINK_STATE_SNAPSHOTS, [NS])
    deployments = factory.informer(FLINK_DEPLOYMENTS, [NS])
    factory.start()
    assert await factory.wait_for_sync(10)
    reconciler = FlinkStateSnapshotReconciler(
        services, snapshots.cache.get, deployments.cache.get, retry_base=RETRY_BASE
    )
    try:
        yield Harness(kube, rest, reconciler, snapshots.cache, deployments.cache)
    finally:
        await factory.stop()
        await rest.close()


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    return await waiting.eventually(probe, timeout, what, interval=0.1)
