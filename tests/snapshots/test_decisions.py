"""The pure decisions of the snapshot controller: retries, requeues, deletions, local paths."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flinkop.api import (
    FlinkStateSnapshot,
    JobKind,
    SnapshotState,
    SnapshotTriggerType,
    parse_flink_state_snapshot,
)
from flinkop.snapshots.decisions import (
    Deletion,
    deletion_action,
    gives_up,
    local_path,
    requeue_after,
    retry_delay,
    retry_due_in,
)
from flinkop.snapshots.operations import trigger_id_for
from flinkop.snapshots.resources import cached_snapshots_of, snapshot_body

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def snapshot(spec: dict[str, Any], status: dict[str, Any] | None = None) -> FlinkStateSnapshot:
    return parse_flink_state_snapshot(
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkStateSnapshot",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"jobReference": {"kind": "FlinkDeployment", "name": "job"}, **spec},
            "status": status or {},
        }
    )


def test_retry_delays_double() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]


def test_backoff_limit() -> None:
    assert not gives_up(-1, 100)
    assert gives_up(0, 1)
    assert not gives_up(2, 2) and gives_up(2, 3)


def test_a_failed_snapshot_is_retried_after_its_delay() -> None:
    failed = snapshot(
        {"savepoint": {}}, {"state": "FAILED", "failures": 2, "resultTimestamp": "2025-01-01T11:59:50Z"}
    )
    assert retry_due_in(failed, NOW) == 10.0  # 20 s after 11:59:50
    limited = snapshot({"savepoint": {}, "backoffLimit": 1}, {"state": "FAILED", "failures": 2})
    assert retry_due_in(limited, NOW) is None


def test_terminal_states_are_not_requeued() -> None:
    assert requeue_after(SnapshotState.COMPLETED, 60) is None
    assert requeue_after(SnapshotState.ABANDONED, 60) is None
    assert requeue_after(SnapshotState.IN_PROGRESS, 60) == 60
    assert requeue_after(SnapshotState.FAILED, 60) == 60


def test_what_a_deletion_needs() -> None:
    done = {"state": "COMPLETED", "path": "file:/sp"}
    assert deletion_action(snapshot({"savepoint": {}}, done)) == Deletion.DISPOSE
    assert (
        deletion_action(snapshot({"savepoint": {"disposeOnDelete": False}}, done))
        == Deletion.REMOVE_FINALIZER
    )
    assert deletion_action(snapshot({"checkpoint": {}}, done)) == Deletion.REMOVE_FINALIZER
    assert deletion_action(snapshot({"savepoint": {}}, {"state": "IN_PROGRESS"})) == Deletion.WAIT
    for state in ("FAILED", "TRIGGER_PENDING", "ABANDONED"):
        assert deletion_action(snapshot({"savepoint": {}}, {"state": state})) == Deletion.REMOVE_FINALIZER
    assert deletion_action(snapshot({"savepoint": {}}, {"state": "COMPLETED"})) == Deletion.REMOVE_FINALIZER


def test_local_paths() -> None:
    assert local_path("file:/data/sp-1") == Path("/data/sp-1")
    assert local_path("file:///data/sp-1/_metadata") == Path("/data/sp-1")
    assert local_path("/data/sp-1") == Path("/data/sp-1")
    assert local_path("s3://bucket/sp-1") is None
    assert local_path("file://otherhost/sp-1") is None
    assert local_path("relative/sp") is None


def test_trigger_ids_are_stable_per_attempt() -> None:
    first = trigger_id_for("uid-1", 0)
    assert len(first) == 32 and int(first, 16) >= 0
    assert first == trigger_id_for("uid-1", 0) != trigger_id_for("uid-1", 1)


def test_cached_snapshots_of_picks_the_jobs_readable_snapshots_oldest_first() -> None:
    def body(namespace: str, job: str, now_ms: int, created: str) -> dict[str, Any]:
        document = snapshot_body(
            namespace=namespace,
            job_kind=JobKind.FLINK_DEPLOYMENT,
            job_name=job,
            checkpoint=False,
            trigger_type=SnapshotTriggerType.PERIODIC,
            now_ms=now_ms,
        )
        document["metadata"]["creationTimestamp"] = created
        return document

    newer = body("ns", "app", 2, "2026-01-01T00:00:02Z")
    older = body("ns", "app", 1, "2026-01-01T00:00:01Z")
    unreadable = body("ns", "app", 3, "2026-01-01T00:00:03Z")
    unreadable["spec"]["backoffLimit"] = {"not": "a number"}
    other_job = body("ns", "other", 4, "2026-01-01T00:00:04Z")
    other_namespace = body("elsewhere", "app", 5, "2026-01-01T00:00:05Z")
    found = cached_snapshots_of(
        [newer, other_job, unreadable, older, other_namespace], "ns", JobKind.FLINK_DEPLOYMENT, "app"
    )
    assert [s.name for s in found] == ["app-savepoint-periodic-1", "app-savepoint-periodic-2"]
