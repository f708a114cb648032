"""Stateful lifecycle steps of an application: stop for an upgrade or a suspend, restore, resubmit,
redeploy from a savepoint, roll back, and stop on deletion.

Crash safety: each destructive step is preceded by a status write from which a restarted operator can
finish it. Stop-with-savepoint records its trigger id before asking Flink and its path before anything is
deleted (:mod:`.stop`); a last-state or stateless stop loses nothing when interrupted (a restart that
finds the cluster gone plans the same stop again); a restore records the job id it submits; a rollback
records ROLLING_BACK first. Restores use the newest snapshot the status knows:
``upgradeSavepointPath`` is only ever replaced by a newer one (a new stop, or the observer's newest
retained checkpoint of an ended job).
"""

from __future__ import annotations

from dataclasses import dataclass

from flinkop.api import (
    FlinkDeploymentSpec,
    FlinkJobState,
    JobKind,
    JobState,
    ReconciliationState,
    SnapshotTriggerType,
    UpgradeMode,
    deserialize_reconciled_spec,
)
from flinkop.crashpoints import SAVEPOINT_PATH_RECORDED, crash_point
from flinkop.flink.rest import FlinkClientError, OperationState
from flinkop.observer.checkpoints import observe_terminal_job_snapshot
from flinkop.reconcilers import deploy as objects
from flinkop.reconcilers.actions import (
    MSG_RECOVERY,
    MSG_SUSPENDED,
    _mark_before_deployment,
    _mark_deployed,
    delete_cluster,
    deploy,
)
from flinkop.reconcilers.context import JOB, JOBMANAGER_DEPLOYMENT, ResourceContext
from flinkop.reconcilers.errors import UpgradeFailureError
from flinkop.reconcilers.specs import deployed_spec, last_reconciled_spec, mark_stable
from flinkop.reconcilers.stop import cancel_job, stop_with_savepoint, upgrade_trigger_pending
from flinkop.reconcilers.upgrade_modes import (
    LAST_STATE_DUMMY_SP_PATH,
    StopFacts,
    StopPlan,
    SuspendMode,
    choose_stop,
)
from flinkop.savepoints import record_savepoint, snapshot_resources_enabled
from flinkop.savepoints.kinds import SnapshotKind
from flinkop.savepoints.legacy import reset_trigger
from flinkop.savepoints.settings import savepoint_dir, savepoint_format
from flinkop.snapshots.resources import create_snapshot, snapshot_body

MSG_NO_HA_FOR_LAST_STATE = (
    "HA metadata is not available to restore from last state. It is possible that the job has finished "
    "or terminally failed, or the configmaps have been deleted. Manual restore required."
)
MSG_ROLLBACK = "Rolling back failed deployment."


@dataclass(frozen=True)
class RestorePoint:
    mode: UpgradeMode
    path: str | None = None  # savepoint / checkpoint to start from (mode SAVEPOINT)

    @property
    def keep_job_id(self) -> bool:
        return self.mode == UpgradeMode.LAST_STATE

    @property
    def delete_ha(self) -> bool:
        return self.mode != UpgradeMode.LAST_STATE


# -- bookkeeping ----------------------------------------------------------------------------------------


async def record_upgrade_savepoint(ctx: ResourceContext, location: str) -> None:
    """The upgrade savepoint in the snapshot history: an UPGRADE FlinkStateSnapshot (``alreadyExists``), or
    in legacy mode ``savepointInfo.lastSavepoint`` and its history."""
    fmt = savepoint_format(ctx)
    if snapshot_resources_enabled(ctx):
        body = snapshot_body(
            namespace=ctx.deployment.namespace,
            job_kind=JobKind.FLINK_DEPLOYMENT,
            job_name=ctx.deployment.name,
            checkpoint=False,
            trigger_type=SnapshotTriggerType.UPGRADE,
            now_ms=ctx.now_ms(),
            path=location,
            format_type=fmt,
            dispose_on_delete=bool(ctx.operator.savepoint_dispose_on_delete),
            already_exists=True,
        )
        try:
            await create_snapshot(ctx.services.kube, body)
        except Exception as error:  # the path is in the status already: the history entry is extra
            ctx.log.warning("Could not create the upgrade FlinkStateSnapshot", error=repr(error))
        return
    record_savepoint(
        ctx.deployment.status,
        location,
        trigger_type=SnapshotTriggerType.UPGRADE,
        format_type=fmt,
        time_stamp_ms=ctx.now_ms(),
    )


async def _ha_metadata(ctx: ResourceContext, *, with_checkpoint: bool = True) -> bool:
    kube, d = ctx.services.kube, ctx.deployment
    if with_checkpoint:
        return await objects.ha_metadata_available(kube, d.namespace, d.name)
    return bool(await objects.ha_configmaps(kube, d.namespace, d.name))


# -- stop -----------------------------------------------------------------------------------------------


async def plan_stop(ctx: ResourceContext) -> StopPlan:
    deployment = ctx.deployment
    job = deployment.spec.job
    assert job is not None
    status = deployment.status
    running_spec = deployed_spec(status) or deployment.spec
    requested = job.upgrade_mode
    ha = False
    if requested != UpgradeMode.STATELESS:
        ha = await _ha_metadata(ctx)
    op = ctx.operator
    return choose_stop(
        StopFacts(
            requested=requested,
            job_state=status.job_status.state,
            jm_status=status.job_manager_deployment_status,
            ha_metadata=ha,
            savepoint_dir_set=savepoint_dir(ctx.cluster_config(deployment.spec)) is not None,
            flink_version_changed=running_spec.flink_version != deployment.spec.flink_version,
            last_state_fallback=bool(op.last_state_fallback_enabled),
            last_state_job_cancel=bool(op.last_state_job_cancel_enabled),
        )
    )


async def _stop_running_job(ctx: ResourceContext, plan: StopPlan, *, drain: bool) -> None:
    """Stop the deployed job as planned (the status says how far it got)."""
    status = ctx.deployment.status
    running_spec = deployed_spec(status) or ctx.deployment.spec
    conf = ctx.cluster_config(running_spec)
    job_id = status.job_status.job_id
    if plan.mode == SuspendMode.SAVEPOINT:
        assert job_id is not None, "a running job has a job id"
        location = await stop_with_savepoint(ctx, conf, job_id, drain=drain)
        await record_upgrade_savepoint(ctx, location)
    elif plan.mode == SuspendMode.NOOP and upgrade_trigger_pending(ctx) and job_id is not None:
        await _settle_upgrade_trigger(ctx, conf, job_id)
    elif plan.mode == SuspendMode.CANCEL:
        assert job_id is not None, "a running job has a job id"
        await cancel_job(ctx, conf, job_id, timeout=ctx.operator.flink_cancel_timeout)
        await observe_terminal_job_snapshot(ctx, conf, job_id)


async def _settle_upgrade_trigger(ctx: ResourceContext, conf: dict[str, str], job_id: str) -> None:
    """The job ended while an upgrade savepoint was recorded as in flight (the operator died waiting for
    it): take that savepoint's location if Flink completed it, and clear the trigger either way."""
    info = ctx.deployment.status.job_status.savepoint_info
    assert info.trigger_id is not None
    try:
        result = await ctx.rest(conf).savepoint_status(job_id, info.trigger_id)
    except FlinkClientError as error:
        ctx.log.warning("The recorded upgrade savepoint is unknown to the JobManager", error=str(error))
        result = None
    location = result.operation.location if result is not None and result.operation is not None else None
    reset_trigger(ctx.deployment.status, SnapshotKind.SAVEPOINT)
    if result is not None and result.state == OperationState.COMPLETED and location:
        ctx.log.info(f"Job suspended with savepoint {location} before the operator restarted")
        ctx.deployment.status.job_status.upgrade_savepoint_path = location
        await record_upgrade_savepoint(ctx, location)


async def stop_job(ctx: ResourceContext) -> bool:
    """Stop the running job for an upgrade (the new spec is then recorded UPGRADING with the job
    suspended, deployed by the next reconcile) or a suspend (recorded DEPLOYED, suspended). False when the
    job cannot be stopped yet (look again at the progress-check interval)."""
    job = ctx.deployment.spec.job
    assert job is not None
    plan = await plan_stop(ctx)
    if plan.mode == SuspendMode.WAIT:
        ctx.log.info(f"Job is not ready for an upgrade yet: {plan.reason}")
        return False
    if plan.mode == SuspendMode.FAIL:
        raise UpgradeFailureError(plan.reason)
    if job.state == JobState.RUNNING:
        ctx.log.info("Upgrading/Restarting running job, suspending first...")
    ctx.log.info(f"Job is in running state, ready for upgrade with {plan.mode.value}", reason=plan.reason)
    if plan.mode != SuspendMode.NOOP:
        await ctx.event("Normal", "Suspended", MSG_SUSPENDED, JOBMANAGER_DEPLOYMENT)
    # Stops whose result is a snapshot happen first: until their path is recorded the job counts as running.
    await _stop_running_job(ctx, plan, drain=False)  # drain is for deletions only
    job.upgrade_mode = plan.restore_mode  # what lastReconciledSpec records: how the next deploy restores
    if plan.mode == SuspendMode.LAST_STATE:
        ctx.deployment.status.job_status.upgrade_savepoint_path = (
            ctx.deployment.status.job_status.upgrade_savepoint_path or LAST_STATE_DUMMY_SP_PATH
        )
    if plan.mode in (SuspendMode.STATELESS, SuspendMode.LAST_STATE):
        # Nothing to lose here: a restart that finds the cluster gone plans the same stop again. Deleting
        # first means a SUSPENDED status never shows a JobManager that is still there.
        await delete_cluster(ctx, delete_ha=plan.mode == SuspendMode.STATELESS)
    if job.state == JobState.RUNNING:
        _mark_before_deployment(ctx)
    else:
        _mark_deployed(ctx)
    await ctx.record_status()
    if plan.mode == SuspendMode.SAVEPOINT:
        crash_point(SAVEPOINT_PATH_RECORDED)
    return True


# -- restore --------------------------------------------------------------------------------------------


def _savepoint_path(ctx: ResourceContext) -> str | None:
    job_status = ctx.deployment.status.job_status
    path = job_status.upgrade_savepoint_path
    if path and path != LAST_STATE_DUMMY_SP_PATH:
        return path
    last = job_status.savepoint_info.last_savepoint
    return last.location if last is not None and last.location else None


async def restore_point(ctx: ResourceContext, mode: UpgradeMode) -> RestorePoint:
    if mode == UpgradeMode.STATELESS:
        return RestorePoint(UpgradeMode.STATELESS)
    if mode == UpgradeMode.LAST_STATE:
        if not await _ha_metadata(ctx, with_checkpoint=False):
            raise UpgradeFailureError(MSG_NO_HA_FOR_LAST_STATE, reason="RestoreFailed")
        return RestorePoint(UpgradeMode.LAST_STATE)
    path = _savepoint_path(ctx)
    if path is None:
        ctx.log.warning("No savepoint or checkpoint is known to restore from, starting with empty state")
    return RestorePoint(UpgradeMode.SAVEPOINT, path)


async def deploy_restoring(ctx: ResourceContext, spec: FlinkDeploymentSpec, point: RestorePoint) -> None:
    await deploy(ctx, spec, restore_from=point.path, keep_job_id=point.keep_job_id, delete_ha=point.delete_ha)


async def restore_job(ctx: ResourceContext) -> None:
    """Start the suspended job with the desired spec, restoring as it was suspended (stateless only when
    the user asks for it now)."""
    job = ctx.deployment.spec.job
    assert job is not None
    last = last_reconciled_spec(ctx.deployment.status)
    if job.upgrade_mode != UpgradeMode.STATELESS and last is not None and last.job is not None:
        job.upgrade_mode = last.job.upgrade_mode
    point = await restore_point(ctx, job.upgrade_mode)
    _mark_before_deployment(ctx)
    await ctx.record_status()
    await deploy_restoring(ctx, ctx.deployment.spec, point)
    _mark_deployed(ctx)


async def resubmit(ctx: ResourceContext) -> None:
    """Deploy the deployed spec again (JobManager recovery, restart of a failed job), with the state it
    can be restored from: the HA metadata when there is any, else the newest known savepoint/checkpoint
    (stateless: empty state)."""
    spec = deployed_spec(ctx.deployment.status)
    assert spec is not None
    if spec.job is None:
        ctx.log.info("Recovering session cluster")
        await deploy(ctx, spec)
        return
    ctx.log.info("Resubmitting Flink job...")
    mode = spec.job.upgrade_mode
    if mode != UpgradeMode.STATELESS and await _ha_metadata(ctx):
        mode = UpgradeMode.LAST_STATE
    elif mode == UpgradeMode.LAST_STATE:
        mode = UpgradeMode.SAVEPOINT
    await deploy_restoring(ctx, spec, await restore_point(ctx, mode))


async def recover(ctx: ResourceContext) -> None:
    await ctx.event("Warning", "RecoverDeployment", MSG_RECOVERY, JOB)
    await resubmit(ctx)


async def restart_failed(ctx: ResourceContext) -> None:
    ctx.log.info("Stopping failed Flink job...")
    await delete_cluster(ctx, delete_ha=False)
    ctx.deployment.status.error = None
    await resubmit(ctx)


# -- savepoint redeploy, rollback, deletion ----------------------------------------------------------------


async def savepoint_redeploy(ctx: ResourceContext) -> None:
    """``savepointRedeployNonce``: drop the running job and its state, start from ``initialSavepointPath``;
    the new spec is stable at once (there is nothing to roll back to)."""
    job = ctx.deployment.spec.job
    assert job is not None and job.initial_savepoint_path
    ctx.log.info("Redeploying from savepoint", path=job.initial_savepoint_path)
    await ctx.event("Normal", "Suspended", MSG_SUSPENDED, JOBMANAGER_DEPLOYMENT)
    job.upgrade_mode = UpgradeMode.SAVEPOINT
    ctx.deployment.status.job_status.upgrade_savepoint_path = job.initial_savepoint_path
    _mark_before_deployment(ctx)
    await ctx.record_status()
    await delete_cluster(ctx, delete_ha=True)
    if job.state == JobState.RUNNING:
        await deploy(ctx, ctx.deployment.spec, restore_from=job.initial_savepoint_path)
    _mark_deployed(ctx)
    mark_stable(ctx.deployment.status)


async def rollback(ctx: ResourceContext) -> None:
    """Deploy lastStableSpec again (ROLLING_BACK, then ROLLED_BACK): statelessly when the user's upgradeMode
    is stateless, else from the HA metadata when there is any, else from the newest known savepoint."""
    status = ctx.deployment.status
    rs = status.reconciliation_status
    assert rs.last_stable_spec is not None
    stable = deserialize_reconciled_spec(rs.last_stable_spec, FlinkDeploymentSpec).spec
    if rs.state != ReconciliationState.ROLLING_BACK:
        await ctx.event("Warning", "Rollback", MSG_ROLLBACK, JOBMANAGER_DEPLOYMENT)
        rs.state = ReconciliationState.ROLLING_BACK
        await ctx.record_status()
    # The user's current upgradeMode says whether state is carried over: lastStableSpec records the mode of
    # its own deployment (a first deployment is recorded stateless).
    desired = ctx.deployment.spec.job
    if stable.job is None or desired is None or desired.upgrade_mode == UpgradeMode.STATELESS:
        point = RestorePoint(UpgradeMode.STATELESS)
    elif await _ha_metadata(ctx):
        point = RestorePoint(UpgradeMode.LAST_STATE)
    else:
        point = RestorePoint(UpgradeMode.SAVEPOINT, _savepoint_path(ctx))
    await delete_cluster(ctx, delete_ha=point.delete_ha)
    await ctx.record_status()
    await deploy_restoring(ctx, stable, point)
    rs.state = ReconciliationState.ROLLED_BACK
    rs.reconciliation_timestamp = ctx.now_ms()
    status.error = None


async def cleanup(ctx: ResourceContext) -> None:
    """The resource is being deleted: with ``job.savepoint-on-deletion`` a running job is stopped with a
    savepoint first (its path stays in the UPGRADE snapshot / savepoint history); then the cluster and its
    HA data are deleted."""
    status = ctx.deployment.status
    job_running = status.job_status.state == FlinkJobState.RUNNING
    last = last_reconciled_spec(status) if status.reconciliation_status.last_reconciled_spec else None
    deployed_running = last is not None and last.job is not None and last.job.state == JobState.RUNNING
    if ctx.operator.savepoint_on_deletion and job_running and deployed_running and status.job_status.job_id:
        conf = ctx.cluster_config(deployed_spec(status) or ctx.deployment.spec)
        location = await stop_with_savepoint(
            ctx, conf, status.job_status.job_id, drain=bool(ctx.operator.drain_on_savepoint_deletion)
        )
        await record_upgrade_savepoint(ctx, location)
        await ctx.record_status()
    await delete_cluster(ctx, delete_ha=True)


__all__ = [
    "MSG_NO_HA_FOR_LAST_STATE",
    "MSG_ROLLBACK",
    "RestorePoint",
    "cleanup",
    "plan_stop",
    "record_upgrade_savepoint",
    "recover",
    "restart_failed",
    "restore_job",
    "restore_point",
    "resubmit",
    "rollback",
    "savepoint_redeploy",
    "stop_job",
]
