"""The manager's decisions without I/O: when to trigger, the legacy bookkeeping, nonces and retention."""

from __future__ import annotations

from datetime import UTC, datetime

from flinkop.api import (
    CheckpointType,
    FlinkDeploymentStatus,
    FlinkVersion,
    Savepoint,
    SavepointFormatType,
    SnapshotTriggerType,
)
from flinkop.savepoints import record_savepoint, savepoint_pending
from flinkop.savepoints.kinds import SnapshotKind
from flinkop.savepoints.legacy import (
    checkpoint_pending,
    failure_message,
    grace_period_ended,
    record_checkpoint,
    set_savepoint_trigger,
)
from flinkop.savepoints.nonces import mark_nonce_handled, reconciled_nonce
from flinkop.savepoints.retention import SnapshotEntry, legacy_history_to_dispose, snapshots_to_delete
from flinkop.savepoints.triggers import checkpoint_trigger_supported, cold_last_trigger, wanted_trigger
from tests.reconcilers.builders import app, reconciled

MANUAL, PERIODIC = SnapshotTriggerType.MANUAL, SnapshotTriggerType.PERIODIC


def test_wanted_trigger() -> None:
    assert wanted_trigger(nonce=2, handled_nonce=1, in_progress=False, periodic_due=False) == MANUAL
    assert wanted_trigger(nonce=2, handled_nonce=1, in_progress=False, periodic_due=True) == MANUAL
    assert wanted_trigger(nonce=2, handled_nonce=1, in_progress=True, periodic_due=True) is None
    assert wanted_trigger(nonce=1, handled_nonce=1, in_progress=False, periodic_due=True) == PERIODIC
    assert wanted_trigger(nonce=None, handled_nonce=1, in_progress=False, periodic_due=False) is None
    assert wanted_trigger(nonce=None, handled_nonce=None, in_progress=False, periodic_due=False) is None


def test_checkpoint_triggers_need_flink_1_17() -> None:
    assert checkpoint_trigger_supported(FlinkVersion.V1_17)
    assert checkpoint_trigger_supported(FlinkVersion.V2_3)
    assert not checkpoint_trigger_supported(FlinkVersion.V1_16)
    assert not checkpoint_trigger_supported(None)


def test_cold_last_trigger() -> None:
    def ms(d: datetime) -> int:
        return int(d.timestamp() * 1000)

    created, legacy, snapshot = (datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3))
    assert (
        cold_last_trigger(newest_completed_periodic_ms=ms(snapshot), legacy_periodic_ms=0, created_ms=0)
        == snapshot
    )
    assert (
        cold_last_trigger(
            newest_completed_periodic_ms=None, legacy_periodic_ms=ms(legacy), created_ms=ms(created)
        )
        == legacy
    )
    assert (
        cold_last_trigger(newest_completed_periodic_ms=None, legacy_periodic_ms=0, created_ms=ms(created))
        == created
    )


def test_legacy_savepoint_bookkeeping() -> None:
    status = FlinkDeploymentStatus()
    set_savepoint_trigger(
        status, "t1", trigger_type=PERIODIC, format_type=SavepointFormatType.NATIVE, now_ms=5
    )
    assert savepoint_pending(status)
    info = status.job_status.savepoint_info
    assert (info.trigger_id, info.trigger_timestamp, info.trigger_type) == ("t1", 5, PERIODIC)
    record_savepoint(
        status, "file:/sp/1", trigger_type=PERIODIC, format_type=SavepointFormatType.NATIVE, time_stamp_ms=5
    )
    assert not savepoint_pending(status)
    assert info.trigger_timestamp is None and info.trigger_type is None and info.format_type is None
    assert info.last_savepoint is not None and info.last_savepoint.location == "file:/sp/1"
    assert info.last_periodic_savepoint_timestamp == 5
    # the same location again is not a new savepoint
    record_savepoint(
        status, "file:/sp/1", trigger_type=MANUAL, format_type=SavepointFormatType.NATIVE, time_stamp_ms=9
    )
    record_savepoint(
        status,
        "file:/sp/2",
        trigger_type=SnapshotTriggerType.UPGRADE,
        format_type=SavepointFormatType.CANONICAL,
        time_stamp_ms=10,
    )
    assert [s.location for s in info.savepoint_history] == ["file:/sp/1", "file:/sp/2"]
    assert info.last_periodic_savepoint_timestamp == 5
    document = status.model_dump(mode="json", by_alias=True, exclude_none=False)["jobStatus"]["savepointInfo"]
    assert document["triggerId"] is None and document["triggerTimestamp"] is None
    assert document["lastSavepoint"]["triggerType"] == "UPGRADE"


def test_legacy_checkpoint_bookkeeping() -> None:
    status = FlinkDeploymentStatus()
    status.job_status.checkpoint_info.trigger_id = "c"
    assert checkpoint_pending(status)
    record_checkpoint(
        status, trigger_type=MANUAL, format_type=CheckpointType.FULL, time_stamp_ms=7, trigger_nonce=3
    )
    info = status.job_status.checkpoint_info
    assert not checkpoint_pending(status)
    assert info.last_checkpoint is not None and info.last_checkpoint.trigger_nonce == 3
    assert info.last_periodic_checkpoint_timestamp == 0


def test_grace_period_and_messages() -> None:
    assert not grace_period_ended(1_000, 60, 61_000)
    assert grace_period_ended(1_000, 60, 61_001)
    assert grace_period_ended(None, 60, 0)
    assert (
        failure_message(SnapshotKind.SAVEPOINT, MANUAL, 3) == "Savepoint failed for savepointTriggerNonce: 3"
    )
    assert failure_message(SnapshotKind.SAVEPOINT, PERIODIC, None) == "Periodic savepoint failed"
    assert (
        failure_message(SnapshotKind.CHECKPOINT, MANUAL, 4)
        == "Checkpoint failed for checkpointTriggerNonce: 4"
    )
    assert failure_message(SnapshotKind.CHECKPOINT, PERIODIC, None) == "Periodic checkpoint failed"


def test_nonce_handled_in_last_reconciled_spec_keeping_its_metadata() -> None:
    deployment = app(job={"savepointTriggerNonce": 7, "checkpointTriggerNonce": 2})
    deployment.status = reconciled(app().spec, first=True)
    assert reconciled_nonce(deployment.status, SnapshotKind.SAVEPOINT) is None
    mark_nonce_handled(deployment, SnapshotKind.SAVEPOINT)
    assert reconciled_nonce(deployment.status, SnapshotKind.SAVEPOINT) == 7
    assert reconciled_nonce(deployment.status, SnapshotKind.CHECKPOINT) is None
    text = deployment.status.reconciliation_status.last_reconciled_spec
    assert text is not None and '"firstDeployment":true' in text
    mark_nonce_handled(deployment, SnapshotKind.CHECKPOINT)
    assert reconciled_nonce(deployment.status, SnapshotKind.CHECKPOINT) == 2


def entry(name: str, created: int, *, completed: bool = True, in_flight: bool = False) -> SnapshotEntry:
    return SnapshotEntry(name, created, completed, in_flight)


def test_retention_by_count_keeps_the_newest() -> None:
    entries = [entry(f"s{i}", i) for i in range(5)]
    assert snapshots_to_delete(entries, max_count=2) == ["s0", "s1", "s2"]
    assert snapshots_to_delete(entries, max_count=10) == []


def test_retention_by_age_keeps_the_newest_completed_and_never_all() -> None:
    entries = [entry("a", 1), entry("b", 2), entry("c", 3, completed=False)]
    # all too old: the newest completed (b) stays; c, failed, goes
    assert snapshots_to_delete(entries, max_count=10, min_created_ms=100) == ["a", "c"]
    failed = [entry("x", 1, completed=False), entry("y", 2, completed=False)]
    assert snapshots_to_delete(failed, max_count=10, min_created_ms=100) == ["x"]


def test_retention_leaves_snapshots_in_flight() -> None:
    entries = [entry("a", 1, completed=False, in_flight=True), entry("b", 2), entry("c", 3)]
    assert snapshots_to_delete(entries, max_count=1) == ["b"]


def test_legacy_history_pruning() -> None:
    history = [Savepoint(time_stamp=t, location=f"file:/sp/{t}") for t in (10, 20, 30, 40)]
    assert legacy_history_to_dispose(history, max_count=2, min_time_ms=0, completed_resources=0) == [0, 1]
    # the count is shared with the completed savepoint resources
    assert legacy_history_to_dispose(history, max_count=3, min_time_ms=0, completed_resources=2) == [0, 1, 2]
    # too old: all but the last, which stays unless a completed resource exists
    assert legacy_history_to_dispose(history, max_count=10, min_time_ms=100, completed_resources=0) == [
        0,
        1,
        2,
    ]
    assert legacy_history_to_dispose(history, max_count=10, min_time_ms=100, completed_resources=1) == [
        0,
        1,
        2,
        3,
    ]
