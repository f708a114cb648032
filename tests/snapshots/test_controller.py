"""The FlinkStateSnapshot controller against a real Flink 2.3 job and the sandbox API server: what a user
sees on the snapshot objects (state, path, labels, events) and on disk."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from flinkop.flink.rest import FlinkRestClient
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.runtime import Kube, SkipObject
from flinkop.snapshots.controller import FINALIZER
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS
from flinkop.snapshots.target import FLINK_SESSION_JOBS

from .conftest import NS, REPO, Harness, RunningJob

pytestmark = pytest.mark.slow
JSON = dict[str, Any]


# -- objects -----------------------------------------------------------------------------------------------
async def deployment(
    kube: Kube, name: str, job_id: str, state: str = "RUNNING", savepoint_dir: str | None = None
) -> JSON:
    """A FlinkDeployment whose status says its job ``job_id`` is ``state`` (the test plays the operator)."""
    body: JSON = yaml.safe_load((REPO / "examples" / "basic.yaml").read_text())
    body["metadata"] = {"name": name, "namespace": NS}
    if savepoint_dir:
        body["spec"]["flinkConfiguration"]["execution.checkpointing.savepoint-dir"] = savepoint_dir
    created = await kube.create(FLINK_DEPLOYMENTS, body, NS)
    created["status"] = {
        "jobManagerDeploymentStatus": "READY",
        "jobStatus": {"jobId": job_id, "state": state, "jobName": name},
    }
    return await kube.replace_status(FLINK_DEPLOYMENTS, created)


async def set_job_state(kube: Kube, name: str, state: str) -> None:
    current = await kube.get(FLINK_DEPLOYMENTS, name, NS)
    current["status"]["jobStatus"]["state"] = state
    await kube.replace_status(FLINK_DEPLOYMENTS, current)


async def create_snapshot(
    kube: Kube,
    name: str,
    job: str | None,
    *,
    savepoint: JSON | None = None,
    checkpoint: bool = False,
    backoff_limit: int | None = None,
    labels: dict[str, str] | None = None,
) -> JSON:
    spec: JSON = {}
    if job is not None:
        spec["jobReference"] = {"kind": "FlinkDeployment", "name": job}
    if checkpoint:
        spec["checkpoint"] = {}
    else:
        spec["savepoint"] = savepoint if savepoint is not None else {}
    if backoff_limit is not None:
        spec["backoffLimit"] = backoff_limit
    meta: JSON = {"name": name, "namespace": NS}
    if labels:
        meta["labels"] = labels
    body = {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkStateSnapshot",
        "metadata": meta,
        "spec": spec,
    }
    return await kube.create(FLINK_STATE_SNAPSHOTS, body, NS)


def status(obj: JSON | None) -> JSON:
    return (obj or {}).get("status") or {}


def state_is(*states: str) -> Any:
    return lambda obj: status(obj).get("state") in states


def gone(obj: JSON | None) -> bool:
    return obj is None


def on_disk(location: str) -> Path:
    """``file:/x`` (Flink writes one slash) -> /x."""
    assert location.startswith("file:/"), location
    return Path("/" + location.removeprefix("file:").lstrip("/"))


async def take_savepoint(job: RunningJob, directory: Path) -> str:
    async with FlinkRestClient(job.url) as rest:
        trigger = await rest.trigger_savepoint(job.job_id, f"file://{directory}")
        done = await rest.wait_for_savepoint(job.job_id, trigger)
    assert done.location
    return done.location


# -- no Flink needed ---------------------------------------------------------------------------------------
async def test_an_existing_savepoint_is_registered_completed_and_labelled(harness: Harness) -> None:
    await create_snapshot(
        harness.kube,
        "existing",
        "some-job",
        savepoint={"path": "file:///data/sp-1", "alreadyExists": True, "disposeOnDelete": False},
        labels={"team": "streaming"},
    )
    result = await harness.reconcile("existing")
    assert result is None  # terminal: nothing more to do
    obj = await harness.snapshot("existing")
    assert obj is not None
    current = status(obj)
    assert current["state"] == "COMPLETED" and current["path"] == "file:///data/sp-1"
    assert current["triggerTimestamp"] == current["resultTimestamp"]
    assert current["triggerTimestamp"].endswith("Z") and current["failures"] == 0
    assert obj["metadata"]["finalizers"] == [FINALIZER]
    assert obj["metadata"]["labels"] == {
        "team": "streaming",
        "snapshot.type": "SAVEPOINT",
        "snapshot.trigger-type": "MANUAL",
        "snapshot.state": "COMPLETED",
        "job-reference.kind": "FlinkDeployment",
        "job-reference.name": "some-job",
    }
    # deleted: disposeOnDelete false, the finalizer simply goes
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "existing", NS)
    await harness.drive("existing", gone, 10, "deleted")


async def test_a_snapshot_of_a_job_that_is_not_running_is_abandoned(harness: Harness) -> None:
    await deployment(harness.kube, "finished", uuid.uuid4().hex, state="FINISHED")
    await create_snapshot(harness.kube, "late", "finished", savepoint={"path": "file:///tmp/nowhere"})
    obj = await harness.drive("late", state_is("ABANDONED"), 10, "ABANDONED")
    current = status(obj)
    assert "not running" in current["error"] and "path" not in current
    assert obj is not None and obj["metadata"]["labels"]["snapshot.state"] == "ABANDONED"
    events = await harness.events("late")
    assert events["SnapshotAbandoned"]["type"] == "Warning"
    assert events["SnapshotAbandoned"]["source"]["component"] == "Snapshot"
    assert harness.results[-1] is None  # terminal


async def test_a_snapshot_of_a_missing_job_is_a_validation_error(harness: Harness) -> None:
    await create_snapshot(harness.kube, "orphan", "no-such-deployment")
    result = await harness.reconcile("orphan")
    assert result is not None and result.requeue_after == 1.0  # retried: the job may yet be created
    current = status(await harness.snapshot("orphan"))
    assert current["state"] == "TRIGGER_PENDING"
    assert current["error"] == "Target for snapshot default/no-such-deployment was not found"
    assert (await harness.events("orphan"))["ValidationError"]["type"] == "Warning"


async def test_deleting_a_snapshot_in_progress_waits_for_it(harness: Harness) -> None:
    # The job's JobManager cannot be reached (no REST URL for "unreachable"): the operation stays unknown.
    await deployment(harness.kube, "unreachable", uuid.uuid4().hex)
    await create_snapshot(harness.kube, "busy", "unreachable", savepoint={"path": "file:///tmp/busy"})
    obj = await harness.kube.get(FLINK_STATE_SNAPSHOTS, "busy", NS)
    obj["metadata"]["finalizers"] = [FINALIZER]
    obj = await harness.kube.replace(FLINK_STATE_SNAPSHOTS, obj)
    obj["status"] = {"state": "IN_PROGRESS", "triggerId": uuid.uuid4().hex, "failures": 0}
    await harness.kube.replace_status(FLINK_STATE_SNAPSHOTS, obj)
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "busy", NS)

    for _ in range(3):
        result = await harness.reconcile("busy")
        assert result is not None and result.requeue_after == 1.0
    waiting = await harness.snapshot("busy")
    assert waiting is not None and waiting["metadata"]["finalizers"] == [FINALIZER]
    assert status(waiting)["state"] == "IN_PROGRESS"

    # the job stops: the snapshot is abandoned and the deletion completes
    await set_job_state(harness.kube, "unreachable", "CANCELED")
    await harness.drive("busy", gone, 10, "deleted once abandoned")
    assert "SnapshotAbandoned" in await harness.events("busy")


async def test_an_unreadable_snapshot_is_reported_and_skipped(harness: Harness) -> None:
    body = {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkStateSnapshot",
        "metadata": {"name": "garbled", "namespace": NS},
        "spec": {"checkpoint": {}, "backoffLimit": "often"},  # a real API server's schema rejects this
    }
    await harness.kube.create(FLINK_STATE_SNAPSHOTS, body, NS)
    with pytest.raises(SkipObject):
        await harness.reconcile("garbled")
    assert "backoffLimit" in (await harness.events("garbled"))["ValidationError"]["message"]


# -- against the real job ----------------------------------------------------------------------------------
async def test_a_manual_savepoint_completes_on_disk_and_is_disposed_on_delete(
    harness: Harness, flink_job: RunningJob, tmp_path: Path
) -> None:
    harness.rest.urls["app"] = flink_job.url
    # no path in the snapshot: the job's configured savepoint directory
    await deployment(harness.kube, "app", flink_job.job_id, savepoint_dir=f"file://{tmp_path}/savepoints")
    await create_snapshot(harness.kube, "manual", "app", labels={"owner": "me"})
    obj = await harness.drive("manual", state_is("COMPLETED"), 30, "savepoint COMPLETED")
    current = status(obj)
    directory = on_disk(current["path"])
    assert directory.parent == tmp_path / "savepoints" and (directory / "_metadata").is_file()
    assert current["triggerId"] and current["triggerTimestamp"] and current["resultTimestamp"]
    assert "error" not in current and current["failures"] == 0
    assert obj is not None and obj["metadata"]["labels"]["owner"] == "me"
    assert obj["metadata"]["labels"]["snapshot.state"] == "COMPLETED"
    assert harness.results[-1] is None  # terminal

    # disposeOnDelete (default true): the JobManager deletes the data, then the finalizer goes
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "manual", NS)
    await harness.drive("manual", gone, 20, "deleted")
    assert not directory.exists()


async def test_a_savepoint_kept_on_delete_stays_on_disk(
    harness: Harness, flink_job: RunningJob, tmp_path: Path
) -> None:
    harness.rest.urls["app"] = flink_job.url
    await deployment(harness.kube, "app", flink_job.job_id)
    target = f"file://{tmp_path}/kept"
    await create_snapshot(
        harness.kube,
        "kept",
        "app",
        savepoint={"path": target, "disposeOnDelete": False, "formatType": "NATIVE"},
    )
    obj = await harness.drive("kept", state_is("COMPLETED"), 30, "savepoint COMPLETED")
    directory = on_disk(status(obj)["path"])
    assert directory.parent == tmp_path / "kept" and (directory / "_metadata").is_file()
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "kept", NS)
    await harness.drive("kept", gone, 10, "deleted")
    assert (directory / "_metadata").is_file()


async def test_a_registered_savepoint_without_its_job_is_deleted_from_the_local_disk(
    harness: Harness, flink_job: RunningJob, tmp_path: Path
) -> None:
    location = await take_savepoint(flink_job, tmp_path / "old")
    directory = on_disk(location)
    await create_snapshot(
        harness.kube, "registered", "long-gone", savepoint={"path": location, "alreadyExists": True}
    )
    await harness.drive("registered", state_is("COMPLETED"), 10, "registered")
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "registered", NS)
    await harness.drive("registered", gone, 10, "deleted")
    assert not directory.exists()


async def test_a_savepoint_nobody_can_dispose_keeps_its_finalizer(harness: Harness, tmp_path: Path) -> None:
    not_a_savepoint = tmp_path / "data"
    not_a_savepoint.mkdir()
    await create_snapshot(
        harness.kube,
        "stuck",
        "long-gone",
        savepoint={"path": f"file://{not_a_savepoint}", "alreadyExists": True},
    )
    await harness.drive("stuck", state_is("COMPLETED"), 10, "registered")
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "stuck", NS)
    result = await harness.reconcile("stuck")
    assert result is not None and result.requeue_after == 1.0
    assert await harness.snapshot("stuck") is not None and not_a_savepoint.is_dir()
    failed = (await harness.events("stuck"))["CleanupFailed"]
    assert failed["type"] == "Warning" and "_metadata" in failed["message"]


async def test_a_checkpoint_completes_with_its_path(harness: Harness, flink_job: RunningJob) -> None:
    harness.rest.urls["app"] = flink_job.url
    await deployment(harness.kube, "app", flink_job.job_id)
    await create_snapshot(harness.kube, "chk", "app", checkpoint=True)
    obj = await harness.drive("chk", state_is("COMPLETED"), 30, "checkpoint COMPLETED")
    path = status(obj)["path"]
    assert on_disk(path).name.startswith("chk-") and (on_disk(path) / "_metadata").is_file()
    assert obj is not None and obj["metadata"]["labels"]["snapshot.type"] == "CHECKPOINT"
    assert "CheckpointError" not in await harness.events("chk")
    # deleting a checkpoint snapshot never touches its data
    await harness.kube.delete(FLINK_STATE_SNAPSHOTS, "chk", NS)
    await harness.drive("chk", gone, 10, "deleted")
    assert (on_disk(path) / "_metadata").is_file()


async def test_a_failing_savepoint_is_retried_up_to_the_backoff_limit(
    harness: Harness, flink_job: RunningJob, tmp_path: Path
) -> None:
    harness.rest.urls["app"] = flink_job.url
    await deployment(harness.kube, "app", flink_job.job_id)
    # /proc refuses new directories, even to root
    unwritable = f"file:///proc/flinkop-{uuid.uuid4().hex[:8]}/savepoints"
    await create_snapshot(harness.kube, "doomed", "app", savepoint={"path": unwritable}, backoff_limit=1)
    obj = await harness.drive("doomed", lambda o: status(o).get("state") == "FAILED", 30, "first failure")
    first = copy.deepcopy(status(obj))
    assert first["failures"] == 1 and first["error"] and first["resultTimestamp"]
    error_event = (await harness.events("doomed"))["SavepointError"]
    assert error_event["type"] == "Warning" and error_event["source"]["component"] == "Snapshot"
    assert obj is not None and obj["metadata"]["labels"]["snapshot.state"] == "FAILED"

    # retried once (backoffLimit 1), then it stays FAILED for good
    obj = await harness.drive(
        "doomed", lambda o: status(o).get("failures") == 2 and status(o).get("state") == "FAILED", 30, "retry"
    )
    assert harness.results[-1] is None
    for _ in range(3):
        assert await harness.reconcile("doomed") is None
    final = status(await harness.snapshot("doomed"))
    assert final["state"] == "FAILED" and final["failures"] == 2

    # the job took no harm: a good savepoint still works
    await create_snapshot(harness.kube, "fine", "app", savepoint={"path": f"file://{tmp_path}/fine"})
    obj = await harness.drive("fine", state_is("COMPLETED"), 30, "savepoint after failures")
    assert (on_disk(status(obj)["path"]) / "_metadata").is_file()


async def test_a_savepoint_of_a_session_job(harness: Harness, flink_job: RunningJob, tmp_path: Path) -> None:
    # the job runs on the session cluster "session"; the snapshot names the FlinkSessionJob
    harness.rest.urls["session"] = flink_job.url
    await deployment(harness.kube, "session", uuid.uuid4().hex, state="RUNNING")
    session_job = await harness.kube.create(
        FLINK_SESSION_JOBS,
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkSessionJob",
            "metadata": {"name": "counter", "namespace": NS},
            "spec": {
                "deploymentName": "session",
                "job": {"jarURI": "local:///job.jar", "parallelism": 1},
                "flinkConfiguration": {"execution.checkpointing.savepoint-dir": f"file://{tmp_path}/sj"},
            },
        },
        NS,
    )
    session_job["status"] = {"jobStatus": {"jobId": flink_job.job_id, "state": "RUNNING"}}
    await harness.kube.replace_status(FLINK_SESSION_JOBS, session_job)
    await harness.kube.create(
        FLINK_STATE_SNAPSHOTS,
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkStateSnapshot",
            "metadata": {"name": "sj-sp", "namespace": NS},
            "spec": {"jobReference": {"kind": "FlinkSessionJob", "name": "counter"}, "savepoint": {}},
        },
        NS,
    )
    obj = await harness.drive("sj-sp", state_is("COMPLETED"), 30, "session job savepoint COMPLETED")
    directory = on_disk(status(obj)["path"])
    assert directory.parent == tmp_path / "sj" and (directory / "_metadata").is_file()
    assert obj is not None and obj["metadata"]["labels"]["job-reference.kind"] == "FlinkSessionJob"
