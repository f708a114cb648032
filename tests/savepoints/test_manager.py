"""The savepoint manager against a real Flink 2.3 session cluster and the sandbox API server: manual and
periodic savepoints and checkpoints in both tracking modes, history retention, failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from kubernetes_asyncio import client

from flinkop.api import (
    FlinkDeployment,
    FlinkJobState,
    JobKind,
    JobManagerDeploymentStatus,
    ReconciliationState,
    SnapshotTriggerType,
    parse_flink_deployment,
    serialize_reconciled_spec,
)
from flinkop.config import OperatorConfig
from flinkop.flink.rest import FlinkRestClient
from flinkop.operator import FLINK_DEPLOYMENTS
from flinkop.reconcilers.context import ResourceContext, Services
from flinkop.reconcilers.status import StatusRecorder
from flinkop.runtime import EventRecorder, Kube, Resource
from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.savepoints import SavepointManager, savepoint_pending, snapshot_resources_enabled
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS, LABEL_TRIGGER_TYPE, snapshots_of
from tests.reconcilers.builders import app_document
from tests.savepoints.conftest import RunningJob

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False)
EVENTS = Resource("", "v1", "events")
NAMESPACE = "flink"


def local_path(uri: str) -> Path:
    """`file:/x` or `file:///x` -> /x."""
    return Path(urlparse(uri).path)


@dataclass
class Clock:
    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class LocalRest:
    """Every cluster is the local one (the port of the cluster config is not where it listens)."""

    url: str
    clients: list[FlinkRestClient] = field(default_factory=list)

    def client(self, namespace: str, name: str, port: int) -> FlinkRestClient:
        if not self.clients:
            self.clients.append(FlinkRestClient(self.url))
        return self.clients[0]


@dataclass
class Harness:
    kube: Kube
    services: Services
    job: RunningJob
    clock: Clock
    config: dict[str, str]

    def operator_config(self) -> OperatorConfig:
        return OperatorConfig.from_mapping(self.config)

    async def deployment(self, name: str, savepoint_dir: str | None = None, **job: Any) -> ResourceContext:
        """A FlinkDeployment on the API server, deployed and RUNNING the module's job."""
        document = app_document(name, job=job)
        flink_conf = document["spec"]["flinkConfiguration"]
        flink_conf["execution.checkpointing.savepoint-dir"] = (
            savepoint_dir or f"file://{self.job.cluster.work / 'sp' / name}"
        )
        document["metadata"].pop("uid")
        obj = await self.kube.create(FLINK_DEPLOYMENTS, document, NAMESPACE)
        deployment = parse_flink_deployment(obj)
        return self.context(deployment, obj)

    def context(self, deployment: FlinkDeployment, obj: dict[str, Any]) -> ResourceContext:
        status = deployment.status
        last = deployment.spec.model_copy(deep=True)
        assert last.job is not None
        last.job.savepoint_trigger_nonce = None
        last.job.checkpoint_trigger_nonce = None
        status.reconciliation_status.last_reconciled_spec = serialize_reconciled_spec(
            last, first_deployment=False
        )
        status.reconciliation_status.state = ReconciliationState.DEPLOYED
        status.job_manager_deployment_status = JobManagerDeploymentStatus.READY
        status.job_status.job_id = self.job.job_id
        status.job_status.state = FlinkJobState.RUNNING
        return ResourceContext(self.services, deployment, obj, self.operator_config())

    def set_spec_nonce(
        self, ctx: ResourceContext, *, savepoint: int | None = None, checkpoint: int | None = None
    ) -> None:
        job = ctx.deployment.spec.job
        assert job is not None
        if savepoint is not None:
            job.savepoint_trigger_nonce = savepoint
        if checkpoint is not None:
            job.checkpoint_trigger_nonce = checkpoint

    async def events(self, reason: str) -> list[dict[str, Any]]:
        found = await self.kube.list(EVENTS, NAMESPACE)
        return [e for e in found.get("items") or [] if e.get("reason") == reason]


async def until(check: Callable[[], Any], timeout: float = 30, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


@pytest.fixture
async def harness(
    apiserver: SandboxApiServer, api: client.ApiClient, running_job: RunningJob
) -> AsyncIterator[Harness]:
    kube = Kube(api)
    for path in sorted((REPO / "deploy" / "crds").glob("*.yml")):
        await kube.create(CRDS, yaml.safe_load(path.read_text()))
    await kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for path in sorted((REPO / "deploy" / "crds").glob("*.yml")):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]

        async def established(crd_name: str = name) -> bool:
            crd = await kube.get(CRDS, crd_name)
            return any(
                c.get("type") == "Established" and c.get("status") == "True"
                for c in (crd.get("status") or {}).get("conditions") or []
            )

        await until(established, timeout=10, interval=0.02)
    clock = Clock()
    rest = LocalRest(running_job.cluster.url)
    config: dict[str, str] = {}
    harness_holder: list[Harness] = []
    services = Services(
        kube=kube,
        events=EventRecorder(kube),
        statuses=StatusRecorder(kube, FLINK_DEPLOYMENTS),
        rest=rest,
        jm_deployments=lambda key: None,
        operator_config=lambda: harness_holder[0].operator_config(),
        now=clock,
    )
    harness = Harness(kube, services, running_job, clock, config)
    harness_holder.append(harness)
    try:
        yield harness
    finally:
        for rest_client in rest.clients:
            await rest_client.close()


async def test_legacy_manual_savepoint_and_checkpoint_end_to_end(harness: Harness) -> None:
    harness.config["kubernetes.operator.snapshot.resource.enabled"] = "false"
    ctx = await harness.deployment("legacy")
    assert not snapshot_resources_enabled(ctx)
    manager = SavepointManager()
    assert not await manager.trigger(ctx), "no nonce, no schedule: nothing to trigger"

    harness.set_spec_nonce(ctx, savepoint=1)
    assert await manager.trigger(ctx)
    info = ctx.deployment.status.job_status.savepoint_info
    assert info.trigger_id and info.trigger_timestamp and info.trigger_type == SnapshotTriggerType.MANUAL
    assert savepoint_pending(ctx.deployment.status)
    assert not await manager.trigger(ctx), "one savepoint at a time"

    async def completed() -> bool:
        await manager.observe(ctx)
        return info.last_savepoint is not None

    await until(completed)
    last = info.last_savepoint
    assert last is not None and last.location and last.trigger_nonce == 1
    assert local_path(last.location).is_dir() and (local_path(last.location) / "_metadata").is_file()
    assert str(harness.job.cluster.work / "sp" / "legacy") in last.location
    assert info.trigger_id is None and info.trigger_timestamp is None
    assert [s.location for s in info.savepoint_history] == [last.location]
    assert not await manager.trigger(ctx), "the nonce is handled"

    # a manual checkpoint (Flink >= 1.17)
    harness.set_spec_nonce(ctx, checkpoint=4)
    assert await manager.trigger(ctx)
    cinfo = ctx.deployment.status.job_status.checkpoint_info
    assert cinfo.trigger_id is not None

    async def checkpointed() -> bool:
        await manager.observe(ctx)
        return cinfo.last_checkpoint is not None

    await until(checkpointed)
    assert cinfo.last_checkpoint is not None and cinfo.last_checkpoint.trigger_nonce == 4
    assert cinfo.trigger_id is None
    document = ctx.deployment.status.model_dump(mode="json", by_alias=True)["jobStatus"]
    assert document["savepointInfo"]["triggerId"] is None
    assert document["savepointInfo"]["triggerTimestamp"] is None


async def test_snapshot_resource_manual_nonce(harness: Harness) -> None:
    ctx = await harness.deployment("crmode")
    assert snapshot_resources_enabled(ctx)
    harness.set_spec_nonce(ctx, savepoint=5)
    manager = SavepointManager()
    harness.clock.offset = timedelta()
    assert await manager.trigger(ctx)
    snapshots = await snapshots_of(harness.kube, NAMESPACE, JobKind.FLINK_DEPLOYMENT, "crmode")
    assert len(snapshots) == 1
    snapshot = snapshots[0]
    assert snapshot.name.startswith("crmode-savepoint-manual-")
    created_ms = int(snapshot.name.rsplit("-", 1)[1])
    assert abs(created_ms - ctx.now_ms()) < 10_000
    assert snapshot.spec.savepoint is not None
    assert snapshot.spec.savepoint.path == f"file://{harness.job.cluster.work / 'sp' / 'crmode'}"
    assert snapshot.spec.savepoint.dispose_on_delete is False and not snapshot.spec.savepoint.already_exists
    assert (snapshot.metadata.labels or {})[LABEL_TRIGGER_TYPE] == "MANUAL"
    # the nonce is handled at once; no legacy trigger is recorded
    assert not savepoint_pending(ctx.deployment.status)
    text = ctx.deployment.status.reconciliation_status.last_reconciled_spec
    assert text is not None and '"savepointTriggerNonce":5' in text
    assert not await manager.trigger(ctx)
    # the resource's own configuration can turn snapshot resources off
    overrides = ctx.deployment.spec.flink_configuration
    assert overrides is not None
    overrides["kubernetes.operator.snapshot.resource.enabled"] = "false"
    assert not snapshot_resources_enabled(ctx)


async def _complete(harness: Harness, name: str) -> None:
    """Act as the snapshot controller: mark the snapshot COMPLETED."""
    patch = {"status": {"state": "COMPLETED", "path": "file:/nowhere"}}
    await harness.kube.patch(FLINK_STATE_SNAPSHOTS, name, patch, NAMESPACE, subresource="status")
    labels = {"metadata": {"labels": {"snapshot.state": "COMPLETED"}}}
    await harness.kube.patch(FLINK_STATE_SNAPSHOTS, name, labels, NAMESPACE)


async def test_periodic_snapshots_with_retention(harness: Harness) -> None:
    harness.config["kubernetes.operator.periodic.savepoint.interval"] = "2 s"
    harness.config["kubernetes.operator.savepoint.history.max.count"] = "2"
    ctx = await harness.deployment("periodic", savepointTriggerNonce=1)
    manager = SavepointManager()
    assert await manager.trigger(ctx), "the manual one first"
    manual = [
        s.name for s in await snapshots_of(harness.kube, NAMESPACE, JobKind.FLINK_DEPLOYMENT, "periodic")
    ]
    assert len(manual) == 1 and "-manual-" in manual[0]
    periodic: list[str] = []
    deadline = time.monotonic() + 9
    while time.monotonic() < deadline:
        before = {
            s.name for s in await snapshots_of(harness.kube, NAMESPACE, JobKind.FLINK_DEPLOYMENT, "periodic")
        }
        if await manager.trigger(ctx):
            after = await snapshots_of(harness.kube, NAMESPACE, JobKind.FLINK_DEPLOYMENT, "periodic")
            new = [s.name for s in after if s.name not in before]
            assert len(new) == 1 and "-savepoint-periodic-" in new[0]
            periodic.append(new[0])
            await _complete(harness, new[0])
        await manager.observe(ctx)
        await asyncio.sleep(0.25)
    assert 3 <= len(periodic) <= 6, periodic  # every 2 s over ~9 s; the first one 2 s after the manual
    names = {
        s.name for s in await snapshots_of(harness.kube, NAMESPACE, JobKind.FLINK_DEPLOYMENT, "periodic")
    }
    assert names == {manual[0], *periodic[-2:]}, "max.count periodic ones kept, the manual one never deleted"

    # A new process starts from the newest completed periodic snapshot (under 4 s old), not from the
    # resource's creation (over 9 s ago): with a 5 s interval nothing is due yet.
    harness.config["kubernetes.operator.periodic.savepoint.interval"] = "5 s"
    ctx = ResourceContext(harness.services, ctx.deployment, ctx.obj, harness.operator_config())
    assert not await SavepointManager().trigger(ctx)
    harness.clock.offset = timedelta(seconds=6)
    assert await SavepointManager().trigger(ctx)


async def test_legacy_history_pruning_disposes_savepoints(harness: Harness) -> None:
    harness.config["kubernetes.operator.snapshot.resource.enabled"] = "false"
    ctx = await harness.deployment("history")
    manager = SavepointManager()
    info = ctx.deployment.status.job_status.savepoint_info
    for nonce in (1, 2, 3):
        harness.set_spec_nonce(ctx, savepoint=nonce)
        assert await manager.trigger(ctx)

        async def done() -> bool:
            await manager.observe(ctx)
            return not savepoint_pending(ctx.deployment.status)

        await until(done)
    locations = [s.location or "" for s in info.savepoint_history]
    assert len(locations) == 3 and all(local_path(p).is_dir() for p in locations)

    harness.config["kubernetes.operator.savepoint.history.max.count"] = "1"
    ctx = ResourceContext(harness.services, ctx.deployment, ctx.obj, harness.operator_config())
    await manager.observe(ctx)
    assert [s.location for s in info.savepoint_history] == [locations[-1]]
    assert not local_path(locations[0]).exists() and not local_path(locations[1]).exists()
    assert local_path(locations[2]).is_dir()


async def test_unwritable_savepoint_dir(harness: Harness) -> None:
    harness.config["kubernetes.operator.snapshot.resource.enabled"] = "false"
    blocker = harness.job.cluster.work / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    ctx = await harness.deployment("broken", savepoint_dir=f"file://{blocker}/sp", savepointTriggerNonce=7)
    status = ctx.deployment.status
    manager = SavepointManager()

    async def failed() -> bool:
        await manager.observe(ctx)
        return not savepoint_pending(status)

    assert await manager.trigger(ctx)
    await until(failed)
    events = await harness.events("SavepointError")
    assert [e["message"] for e in events] == ["Savepoint failed for savepointTriggerNonce: 7"]
    assert events[0]["type"] == "Warning"
    assert status.job_status.savepoint_info.last_savepoint is None
    # within the grace period the nonce stays unhandled: triggered again
    assert await manager.trigger(ctx)
    harness.clock.offset = timedelta(minutes=2)  # past the grace period
    await until(failed)
    assert not await manager.trigger(ctx), "given up after the grace period: the nonce is handled"
    events = await harness.events("SavepointError")
    assert events and events[0]["count"] == 2
    async with FlinkRestClient(harness.job.cluster.url) as rest:
        jobs = {job.jid: job.state for job in await rest.jobs_overview()}
    assert jobs[harness.job.job_id] == "RUNNING"


async def test_pending_trigger_abandoned_when_the_job_stops(harness: Harness) -> None:
    harness.config["kubernetes.operator.snapshot.resource.enabled"] = "false"
    ctx = await harness.deployment("abandoned", savepointTriggerNonce=3)
    manager = SavepointManager()
    assert await manager.trigger(ctx)
    ctx.deployment.status.job_status.state = FlinkJobState.FAILED
    await manager.observe(ctx)
    assert not savepoint_pending(ctx.deployment.status)
    events = await harness.events("SavepointError")
    assert [e["message"] for e in events] == ["Savepoint failed for savepointTriggerNonce: 3"]
    ctx.deployment.status.job_status.state = FlinkJobState.RUNNING
    assert not await manager.trigger(ctx), "an abandoned manual trigger is not retried"
