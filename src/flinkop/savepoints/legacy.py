"""Legacy snapshot tracking in ``status.jobStatus.savepointInfo`` / ``checkpointInfo`` (used when
FlinkStateSnapshot resources are off): the pending trigger, the last snapshot and the history (pure).

Upstream's ``SavepointInfo``/``CheckpointInfo`` bookkeeping: a completed snapshot clears the trigger
fields (so ``triggerId`` and ``triggerTimestamp`` read null again, which the e2e tests assert), a periodic
one also stamps ``lastPeriodic*Timestamp``.
"""

from __future__ import annotations

from flinkop.api import (
    Checkpoint,
    CheckpointType,
    FlinkDeploymentStatus,
    Savepoint,
    SavepointFormatType,
    SnapshotTriggerType,
)
from flinkop.savepoints.kinds import SnapshotKind


def savepoint_pending(status: FlinkDeploymentStatus) -> bool:
    """A legacy (manual or periodic) savepoint trigger is in flight. An UPGRADE trigger is the upgrade's
    own stop-with-savepoint (:mod:`flinkop.reconcilers.stop`): it is followed and cleared there."""
    info = status.job_status.savepoint_info
    return info.trigger_id is not None and info.trigger_type != SnapshotTriggerType.UPGRADE


def checkpoint_pending(status: FlinkDeploymentStatus) -> bool:
    return status.job_status.checkpoint_info.trigger_id is not None


def pending(status: FlinkDeploymentStatus, kind: SnapshotKind) -> bool:
    return savepoint_pending(status) if kind == SnapshotKind.SAVEPOINT else checkpoint_pending(status)


def trigger_type_of(status: FlinkDeploymentStatus, kind: SnapshotKind) -> SnapshotTriggerType:
    info = (
        status.job_status.savepoint_info
        if kind == SnapshotKind.SAVEPOINT
        else status.job_status.checkpoint_info
    )
    return info.trigger_type or SnapshotTriggerType.UNKNOWN


def trigger_timestamp_of(status: FlinkDeploymentStatus, kind: SnapshotKind) -> int | None:
    info = (
        status.job_status.savepoint_info
        if kind == SnapshotKind.SAVEPOINT
        else status.job_status.checkpoint_info
    )
    return info.trigger_timestamp


def set_savepoint_trigger(
    status: FlinkDeploymentStatus,
    trigger_id: str,
    *,
    trigger_type: SnapshotTriggerType,
    format_type: SavepointFormatType,
    now_ms: int,
) -> None:
    info = status.job_status.savepoint_info
    info.trigger_id = trigger_id
    info.trigger_timestamp = now_ms
    info.trigger_type = trigger_type
    info.format_type = format_type


def set_checkpoint_trigger(
    status: FlinkDeploymentStatus,
    trigger_id: str,
    *,
    trigger_type: SnapshotTriggerType,
    format_type: CheckpointType,
    now_ms: int,
) -> None:
    info = status.job_status.checkpoint_info
    info.trigger_id = trigger_id
    info.trigger_timestamp = now_ms
    info.trigger_type = trigger_type
    info.format_type = format_type


def reset_trigger(status: FlinkDeploymentStatus, kind: SnapshotKind) -> None:
    info = (
        status.job_status.savepoint_info
        if kind == SnapshotKind.SAVEPOINT
        else status.job_status.checkpoint_info
    )
    info.trigger_id = None
    info.trigger_timestamp = None
    info.trigger_type = None
    info.format_type = None


def record_savepoint(
    status: FlinkDeploymentStatus,
    location: str,
    *,
    trigger_type: SnapshotTriggerType,
    format_type: SavepointFormatType,
    time_stamp_ms: int,
    trigger_nonce: int | None = None,
) -> None:
    """A completed savepoint: ``lastSavepoint``, appended to the history (once per location), and the
    trigger fields cleared."""
    info = status.job_status.savepoint_info
    last = info.last_savepoint
    if last is None or last.location != location:
        savepoint = Savepoint(
            time_stamp=time_stamp_ms,
            location=location,
            trigger_type=trigger_type,
            format_type=format_type,
            trigger_nonce=trigger_nonce,
        )
        info.last_savepoint = savepoint
        info.savepoint_history.append(savepoint.model_copy())
        if trigger_type == SnapshotTriggerType.PERIODIC:
            info.last_periodic_savepoint_timestamp = time_stamp_ms
    reset_trigger(status, SnapshotKind.SAVEPOINT)


def record_checkpoint(
    status: FlinkDeploymentStatus,
    *,
    trigger_type: SnapshotTriggerType,
    format_type: CheckpointType,
    time_stamp_ms: int,
    trigger_nonce: int | None = None,
) -> None:
    info = status.job_status.checkpoint_info
    info.last_checkpoint = Checkpoint(
        time_stamp=time_stamp_ms,
        trigger_type=trigger_type,
        format_type=format_type,
        trigger_nonce=trigger_nonce,
    )
    if trigger_type == SnapshotTriggerType.PERIODIC:
        info.last_periodic_checkpoint_timestamp = time_stamp_ms
    reset_trigger(status, SnapshotKind.CHECKPOINT)


def grace_period_ended(trigger_timestamp_ms: int | None, grace_period_s: float, now_ms: int) -> bool:
    """Failed triggers are retried until the grace period after the trigger is over."""
    if trigger_timestamp_ms is None:
        return True
    return now_ms > trigger_timestamp_ms + int(grace_period_s * 1000)


def failure_message(kind: SnapshotKind, trigger_type: SnapshotTriggerType, nonce: int | None) -> str:
    """The ``SavepointError``/``CheckpointError`` event message (upstream's ``formatErrorMessage``)."""
    if trigger_type == SnapshotTriggerType.PERIODIC:
        return f"Periodic {kind.value} failed"
    return f"{kind.capitalized} failed for {kind.value}TriggerNonce: {nonce}"


def error_reason(kind: SnapshotKind) -> str:
    return "SavepointError" if kind == SnapshotKind.SAVEPOINT else "CheckpointError"


__all__ = [
    "checkpoint_pending",
    "error_reason",
    "failure_message",
    "grace_period_ended",
    "pending",
    "record_checkpoint",
    "record_savepoint",
    "reset_trigger",
    "savepoint_pending",
    "set_checkpoint_trigger",
    "set_savepoint_trigger",
    "trigger_timestamp_of",
    "trigger_type_of",
]
