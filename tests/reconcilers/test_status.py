"""The status recorder: derived fields, writes only on change, optimistic locking and 409 handling."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from flinkop.api import (
    FlinkJobState,
    JobManagerDeploymentStatus,
    ResourceLifecycleState,
    parse_flink_deployment,
)
from flinkop.reconcilers.errors import StatusConflictError
from flinkop.reconcilers.status import StatusRecorder, newer_version, prepare_status
from flinkop.runtime import Conflict, Resource

from .builders import app_document, reconciled

JSON = dict[str, Any]
RES = Resource("flink.apache.org", "v1beta1", "flinkdeployments", kind="FlinkDeployment")
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


class FakeKube:
    """Just enough of Kube for the recorder: a stored object, PUT /status with resourceVersion checks."""

    def __init__(self, obj: JSON) -> None:
        self.stored = copy.deepcopy(obj)
        self.stored["metadata"]["resourceVersion"] = "10"
        self.puts: list[JSON] = []
        self.gets = 0

    def bump(self, **changes: Any) -> None:
        """Someone else writes the object."""
        self.stored.update(changes)
        self.stored["metadata"]["resourceVersion"] = str(int(self.stored["metadata"]["resourceVersion"]) + 1)

    async def replace_status(self, res: Resource, obj: JSON) -> JSON:
        self.puts.append(copy.deepcopy(obj))
        if obj["metadata"]["resourceVersion"] != self.stored["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict", "the object has been modified")
        self.bump(status=copy.deepcopy(obj["status"]))
        return copy.deepcopy(self.stored)

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> JSON:
        self.gets += 1
        return copy.deepcopy(self.stored)


def setup() -> tuple[FakeKube, StatusRecorder, JSON]:
    document = app_document()
    kube = FakeKube(document)
    recorder = StatusRecorder(kube, RES, now=lambda: NOW)  # type: ignore[arg-type]
    return kube, recorder, copy.deepcopy(kube.stored)


def test_prepare_status_fills_lifecycle_and_running_condition() -> None:
    deployment = parse_flink_deployment(app_document())
    status = reconciled(deployment.spec)
    status.job_status.state = FlinkJobState.RUNNING
    wire = prepare_status(status, NOW)
    assert wire["lifecycleState"] == "DEPLOYED"
    assert wire["conditions"] == [
        {
            "type": "Running",
            "status": "True",
            "reason": "Running",
            "message": "Job state RUNNING",
            "lastTransitionTime": "2026-11-26T12:00:00Z",
        }
    ]


async def test_writes_with_the_resource_version_and_only_when_changed() -> None:
    kube, recorder, obj = setup()
    deployment = parse_flink_deployment(obj)
    obj = await recorder.record(deployment, obj)
    assert len(kube.puts) == 1
    assert kube.puts[0]["metadata"]["resourceVersion"] == "10"
    assert obj["status"]["lifecycleState"] == "CREATED"
    assert recorder.is_own_write(obj)
    again = await recorder.record(deployment, obj)
    assert again is obj and len(kube.puts) == 1  # nothing changed: no write
    deployment.status.job_manager_deployment_status = JobManagerDeploymentStatus.DEPLOYING
    obj = await recorder.record(deployment, obj)
    assert len(kube.puts) == 2 and obj["status"]["jobManagerDeploymentStatus"] == "DEPLOYING"


async def test_a_stale_cached_object_is_written_against_the_newest_known_version() -> None:
    kube, recorder, stale = setup()
    deployment = parse_flink_deployment(stale)
    await recorder.record(deployment, stale)
    deployment.status.error = "boom"
    await recorder.record(deployment, stale)  # the informer has not seen our first write yet
    assert kube.puts[-1]["metadata"]["resourceVersion"] == "11"
    assert len(kube.puts) == 2


async def test_a_conflict_from_a_spec_change_is_retried() -> None:
    kube, recorder, obj = setup()
    deployment = parse_flink_deployment(obj)
    obj = await recorder.record(deployment, obj)
    kube.bump(spec={**kube.stored["spec"], "restartNonce": 3})  # the user edits the spec
    deployment.status.error = "x"
    written = await recorder.record(deployment, obj)
    assert kube.gets == 1
    assert written["status"]["error"] == "x"
    assert written["spec"]["restartNonce"] == 3  # the spec on the server is kept


async def test_a_conflict_from_someone_elses_status_write_is_an_error() -> None:
    kube, recorder, obj = setup()
    deployment = parse_flink_deployment(obj)
    obj = await recorder.record(deployment, obj)
    kube.bump(status={**kube.stored["status"], "error": "written by someone else"})
    deployment.status.error = "mine"
    with pytest.raises(StatusConflictError):
        await recorder.record(deployment, obj)


async def test_restore_puts_the_last_written_status_back() -> None:
    _kube, recorder, obj = setup()
    deployment = parse_flink_deployment(obj)
    deployment.status.job_status.job_id = "abc"
    await recorder.record(deployment, obj)
    fresh = parse_flink_deployment(obj)  # the informer's copy, without our write
    assert fresh.status.job_status.job_id is None
    recorder.restore(fresh, obj)
    assert fresh.status.job_status.job_id == "abc"
    assert fresh.status.lifecycle_state == ResourceLifecycleState.CREATED


async def test_the_watch_event_of_an_own_write_is_consumed_once() -> None:
    _kube, recorder, obj = setup()
    deployment = parse_flink_deployment(obj)
    written = await recorder.record(deployment, obj)
    assert recorder.consume_own_write(written)
    assert not recorder.consume_own_write(written)  # a resync of the same object reconciles
    assert not recorder.consume_own_write(obj)  # an older version is not ours


async def test_another_uid_is_another_object() -> None:
    _kube, recorder, obj = setup()
    deployment = parse_flink_deployment(obj)
    deployment.status.error = "old"
    await recorder.record(deployment, obj)
    recreated = copy.deepcopy(obj)
    recreated["metadata"]["uid"] = "uid-2"
    fresh = parse_flink_deployment(recreated)
    recorder.restore(fresh, recreated)
    assert fresh.status.error is None


def test_newer_version() -> None:
    assert newer_version("10", "9") == "10"
    assert newer_version("9", "10") == "10"
    assert newer_version(None, "3") == "3"
    assert newer_version("abc", "10") == "abc"
