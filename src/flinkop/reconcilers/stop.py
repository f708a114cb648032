"""Stopping a running application job in the way a :class:`~.upgrade_modes.StopPlan` says, crash-safely.

Stop-with-savepoint is the step whose result must never be lost. Its trigger id is chosen here and written
to ``status.jobStatus.savepointInfo`` (``triggerType: UPGRADE``) *before* Flink is asked; Flink accepts a
caller-chosen trigger id and treats a repeated request with it as the same operation. An operator that
died anywhere in between therefore finds the trigger id in the status and asks Flink for that operation's
result (a stopped job's JobManager keeps running: ``execution.shutdown-on-application-finish: false``).
Once the savepoint exists its path is written to ``upgradeSavepointPath`` before anything else happens.

A savepoint that fails leaves the job running: the trigger is cleared, ``SavepointError`` is reported and
the upgrade stops there (:class:`~.errors.UpgradeFailureError`); the next reconcile tries again.
"""

from __future__ import annotations

import asyncio
import uuid

from flinkop.api import FlinkJobState, SavepointFormatType, SnapshotTriggerType
from flinkop.config.units import parse_duration
from flinkop.crashpoints import (
    SAVEPOINT_COMPLETED,
    SAVEPOINT_TRIGGER_RECORDED,
    SAVEPOINT_TRIGGERED,
    crash_point,
)
from flinkop.flink.rest import FlinkClientError, JobNotFound, OperationFailed, TriggerNotFound
from flinkop.flink.rest.client import SavepointFormat
from flinkop.reconcilers.context import JOB, ResourceContext
from flinkop.reconcilers.errors import UpgradeFailureError
from flinkop.savepoints.kinds import SnapshotKind
from flinkop.savepoints.legacy import reset_trigger, set_savepoint_trigger
from flinkop.savepoints.settings import savepoint_dir, savepoint_format

CHECKPOINT_TIMEOUT_KEYS = ("execution.checkpointing.timeout", "execution.checkpointing.checkpoint-timeout")
DEFAULT_SAVEPOINT_TIMEOUT = 600.0  # Flink's default checkpoint timeout, 10 min


def savepoint_timeout(conf: dict[str, str]) -> float:
    for key in CHECKPOINT_TIMEOUT_KEYS:
        if conf.get(key):
            try:
                return parse_duration(conf[key])
            except ValueError:
                break  # the validator reports it; the default keeps the upgrade going
    return DEFAULT_SAVEPOINT_TIMEOUT


def upgrade_trigger_pending(ctx: ResourceContext) -> bool:
    info = ctx.deployment.status.job_status.savepoint_info
    return bool(info.trigger_id) and info.trigger_type == SnapshotTriggerType.UPGRADE


def _clear_trigger(ctx: ResourceContext) -> None:
    reset_trigger(ctx.deployment.status, SnapshotKind.SAVEPOINT)


async def _record_trigger(ctx: ResourceContext, format_type: SavepointFormatType) -> str:
    info = ctx.deployment.status.job_status.savepoint_info
    if upgrade_trigger_pending(ctx):
        assert info.trigger_id is not None
        ctx.log.info(f"Resuming the upgrade savepoint {info.trigger_id} recorded in the status")
        return info.trigger_id
    trigger_id = uuid.uuid4().hex
    set_savepoint_trigger(
        ctx.deployment.status,
        trigger_id,
        trigger_type=SnapshotTriggerType.UPGRADE,
        format_type=format_type,
        now_ms=ctx.now_ms(),
    )
    await ctx.record_status()  # write-ahead: a restarted operator asks Flink about this very trigger
    crash_point(SAVEPOINT_TRIGGER_RECORDED)
    return trigger_id


async def _fail(ctx: ResourceContext, message: str) -> UpgradeFailureError:
    _clear_trigger(ctx)
    await ctx.event("Warning", "SavepointError", message, JOB)
    return UpgradeFailureError(message, reason="SavepointError")


async def stop_with_savepoint(ctx: ResourceContext, conf: dict[str, str], job_id: str, *, drain: bool) -> str:
    """Stop the job with a savepoint; its location. The job is FINISHED afterwards (recorded in the status
    by the caller together with the path)."""
    format_type = savepoint_format(ctx)
    trigger_id = await _record_trigger(ctx, format_type)
    rest = ctx.rest(conf)
    target = savepoint_dir(conf)
    try:
        try:
            await rest.savepoint_status(job_id, trigger_id)
        except TriggerNotFound:
            ctx.log.info(
                "Stopping the job with a savepoint", target=target, trigger_id=trigger_id, drain=drain
            )
            wire: SavepointFormat = "NATIVE" if format_type == SavepointFormatType.NATIVE else "CANONICAL"
            await rest.stop_with_savepoint(
                job_id, target, drain=drain, format_type=wire, trigger_id=trigger_id
            )
            crash_point(SAVEPOINT_TRIGGERED)
        result = await rest.wait_for_savepoint(job_id, trigger_id, timeout=savepoint_timeout(conf))
    except OperationFailed as error:
        raise await _fail(ctx, f"Savepoint failed: {error.cause.splitlines()[0]}") from None
    except JobNotFound:
        raise await _fail(ctx, f"Savepoint failed: job {job_id} is not known to the JobManager") from None
    except TimeoutError:
        raise await _fail(
            ctx,
            "Timed out waiting for the savepoint of the upgrade; increase "
            "execution.checkpointing.timeout if savepoints need longer",
        ) from None
    except FlinkClientError:
        raise  # the JobManager is unreachable: the trigger stays recorded, the next reconcile asks again
    location = result.operation.location if result.operation is not None else None
    if not location:
        raise await _fail(ctx, "Savepoint failed: Flink reported no location")
    crash_point(SAVEPOINT_COMPLETED)
    _clear_trigger(ctx)
    status = ctx.deployment.status
    status.job_status.upgrade_savepoint_path = location
    status.job_status.state = FlinkJobState.FINISHED
    ctx.log.info(f"Job successfully suspended with savepoint {location}")
    return location


async def cancel_job(ctx: ResourceContext, conf: dict[str, str], job_id: str, *, timeout: float) -> None:
    """Cancel the job and wait until it is CANCELED (its last checkpoint is then the restore point)."""
    rest = ctx.rest(conf)
    try:
        await rest.cancel(job_id)
    except JobNotFound:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        details = await rest.job_details(job_id)
        if details.state in ("CANCELED", "FAILED", "FINISHED"):
            ctx.deployment.status.job_status.state = FlinkJobState(details.state)
            return
        await asyncio.sleep(ctx.services.poll_interval)
    raise UpgradeFailureError(f"Job {job_id} did not reach CANCELED within {timeout:.0f} s")


__all__ = [
    "cancel_job",
    "savepoint_timeout",
    "stop_with_savepoint",
    "upgrade_trigger_pending",
]
