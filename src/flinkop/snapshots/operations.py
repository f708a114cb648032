"""The steps that talk to Flink: trigger a snapshot (TRIGGER_PENDING), follow it (IN_PROGRESS), and the
state changes around them (completed, abandoned, failed).

A trigger carries a trigger id derived from the snapshot's uid and failure count: Flink answers a repeated
trigger with the same id with the operation already running, so a trigger whose status write was lost
(a crash, a conflict) is not taken twice, while a retry after a failure is a new operation.
"""

from __future__ import annotations

import hashlib

from flinkop.api import SavepointFormatType, SnapshotState
from flinkop.flink.rest import OperationFailed, OperationState
from flinkop.snapshots.run import SnapshotRun
from flinkop.snapshots.target import JobTarget

CHECKPOINT_HISTORY_HINT = (
    "Checkpoint {id} completed, but its path was not found in the job's checkpoint history; "
    "raise web.checkpoints.history to keep more checkpoints in it"
)
STALE_STATS_RECHECK = 1.0  # seconds: Flink caches checkpoint statistics for web.refresh-interval


class SnapshotError(Exception):
    """A snapshot that cannot be taken as specified (counted as a failure)."""


def trigger_id_for(uid: str, failures: int) -> str:
    """32 hex digits (a Flink TriggerId), stable for one attempt of one snapshot."""
    return hashlib.sha256(f"{uid}/{failures}".encode()).hexdigest()[:32]


async def abandon(run: SnapshotRun, target: JobTarget | None) -> None:
    ref = run.snapshot.spec.job_reference
    what = f"{ref.kind.value if ref and ref.kind else 'FlinkDeployment'} {ref.name if ref else None}"
    if target is None:
        reason = f"{what} was not found"
    elif target.cluster is None:
        reason = f"the session cluster of {what} was not found"
    else:
        state = target.job_state.value if target.job_state is not None else "unknown"
        reason = f"the job of {what} is not running (job state {state})"
    message = f"{run.kind_word} abandoned: {reason}"
    status = run.snapshot.status
    status.state = SnapshotState.ABANDONED
    status.path = None
    status.error = message
    run.log.warning(message)
    await run.event("Warning", "SnapshotAbandoned", message)


async def fail(run: SnapshotRun, error: BaseException) -> None:
    """FAILED with the error, one more failure counted; whether it is retried is decided by its caller."""
    message = str(error) or type(error).__name__
    status = run.snapshot.status
    status.state = SnapshotState.FAILED
    status.failures += 1
    status.error = message
    status.result_timestamp = run.timestamp()
    run.log.error(f"{run.kind_word} failed", error=message, failures=status.failures)
    await run.event("Warning", f"{run.kind_word}Error", message)


def complete(run: SnapshotRun, path: str) -> None:
    status = run.snapshot.status
    status.state = SnapshotState.COMPLETED
    status.path = path
    status.error = None
    status.result_timestamp = run.timestamp()
    run.log.info(f"{run.kind_word} completed", path=path)


async def trigger(run: SnapshotRun, target: JobTarget | None) -> None:
    """TRIGGER_PENDING -> COMPLETED (an existing savepoint), ABANDONED or IN_PROGRESS."""
    snapshot = run.snapshot
    spec, status = snapshot.spec, snapshot.status
    if spec.savepoint is not None and spec.savepoint.already_exists:
        now = run.timestamp()
        status.trigger_timestamp = now
        complete(run, spec.savepoint.path or "")
        status.result_timestamp = now
        return
    if target is None or not target.running:
        await abandon(run, target)
        return
    assert target.job_id is not None
    client = run.rest(target)
    trigger_id = trigger_id_for(snapshot.metadata.uid or snapshot.name, status.failures)
    if spec.savepoint is not None:
        directory = spec.savepoint.path or target.savepoint_dir
        if not directory:
            raise SnapshotError(
                "No savepoint directory: set spec.savepoint.path or the job's "
                "execution.checkpointing.savepoint-dir (state.savepoints.dir)"
            )
        native = spec.savepoint.format_type == SavepointFormatType.NATIVE
        status.trigger_id = await client.trigger_savepoint(
            target.job_id, directory, format_type="NATIVE" if native else "CANONICAL", trigger_id=trigger_id
        )
    else:
        status.trigger_id = await client.trigger_checkpoint(target.job_id, "FULL", trigger_id=trigger_id)
    status.state = SnapshotState.IN_PROGRESS
    status.trigger_timestamp = run.timestamp()
    status.result_timestamp = None
    run.log.info(f"{run.kind_word} triggered", trigger_id=status.trigger_id, job_id=target.job_id)


async def observe(run: SnapshotRun, target: JobTarget | None) -> None:
    """IN_PROGRESS: abandoned when the job stopped, completed or failed (raised) when Flink says so."""
    status = run.snapshot.status
    if status.state != SnapshotState.IN_PROGRESS:
        return
    if target is None or not target.running:
        await abandon(run, target)
        return
    if not status.trigger_id:
        raise SnapshotError(f"{run.kind_word} in progress without a trigger id")
    assert target.job_id is not None
    client = run.rest(target)
    is_checkpoint = run.snapshot.spec.checkpoint is not None
    if is_checkpoint:
        operation = await client.checkpoint_status(target.job_id, status.trigger_id)
    else:
        operation = await client.savepoint_status(target.job_id, status.trigger_id)
    if operation.state == OperationState.IN_PROGRESS:
        return
    if operation.state == OperationState.FAILED:
        cause = operation.failure_cause
        # no ids in the message: the Warning of a repeated failure aggregates onto the same event
        raise OperationFailed(run.kind_word, cause.message if cause is not None else "unknown failure")
    if not is_checkpoint:
        complete(run, operation.location or "")
        return
    await _complete_checkpoint(run, target, operation.checkpoint_id)


async def _complete_checkpoint(run: SnapshotRun, target: JobTarget, checkpoint_id: int | None) -> None:
    """A checkpoint's path is only in the job's checkpoint statistics."""
    assert target.job_id is not None
    stats = await run.rest(target).checkpoints(target.job_id)
    entries = [*stats.history, *(c for c in (stats.latest.completed,) if c is not None)]
    found = next((c for c in entries if checkpoint_id is not None and c.id == checkpoint_id), None)
    if found is not None and found.external_path:
        complete(run, found.external_path)
        return
    newest = max((c.id for c in entries), default=-1)
    if checkpoint_id is not None and newest < checkpoint_id:
        # statistics older than the checkpoint (cached by the JobManager): look again shortly
        run.requeue_hint = STALE_STATS_RECHECK
        return
    complete(run, "")
    await run.event("Warning", "CheckpointError", CHECKPOINT_HISTORY_HINT.format(id=checkpoint_id))


__all__ = ["SnapshotError", "abandon", "complete", "fail", "observe", "trigger", "trigger_id_for"]
