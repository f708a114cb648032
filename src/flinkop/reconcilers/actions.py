"""Carrying out a reconcile decision (:mod:`.upgrade`) on one FlinkDeployment: deploy, stop, restore,
redeploy, recover and clean up clusters, keeping ``status.reconciliationStatus`` as upstream does (the
status is written before anything destructive).
"""

from __future__ import annotations

import uuid

from flinkop.api import (
    FlinkDeploymentSpec,
    FlinkJobState,
    JobManagerDeploymentStatus,
    JobState,
    KubernetesDeploymentMode,
    Savepoint,
    SnapshotTriggerType,
    UpgradeMode,
)
from flinkop.flink.resources import keys, render
from flinkop.reconcilers import deploy as objects
from flinkop.reconcilers.config import taskmanager_count, with_spec
from flinkop.reconcilers.context import JOB, JOBMANAGER_DEPLOYMENT, ResourceContext
from flinkop.reconcilers.specs import (
    deployed_spec,
    is_before_first_deployment,
    last_reconciled_spec,
    mark_before_deployment,
    mark_deployed,
)
from flinkop.reconcilers.upgrade import (
    Decision,
    effective_upgrade_mode,
    first_deployment_upgrade_mode,
    is_job_terminal,
)

MSG_SUBMIT = "Starting deployment"
MSG_SUSPENDED = "Suspending existing deployment."
MSG_RECOVERY = "Recovering lost deployment"


def _taskmanagers(ctx: ResourceContext, spec: FlinkDeploymentSpec) -> int:
    return taskmanager_count(ctx.cluster_config(spec))


def _mark_before_deployment(ctx: ResourceContext) -> None:
    mark_before_deployment(
        ctx.deployment, now_ms=ctx.now_ms(), taskmanagers=_taskmanagers(ctx, ctx.deployment.spec)
    )


def _mark_deployed(ctx: ResourceContext) -> None:
    mark_deployed(ctx.deployment, now_ms=ctx.now_ms(), taskmanagers=_taskmanagers(ctx, ctx.deployment.spec))


def _warn_unsupported_mode(ctx: ResourceContext, requested: UpgradeMode) -> UpgradeMode:
    mode = effective_upgrade_mode(requested)
    if mode != requested:
        ctx.log.warning(f"upgradeMode {requested.value} is not supported yet, using {mode.value}")
    return mode


# -- the cluster ---------------------------------------------------------------------------------------


async def delete_cluster(ctx: ResourceContext, *, delete_ha: bool) -> None:
    """Delete the cluster and wait for it (``deleteClusterDeployment``); JobManager MISSING afterwards."""
    deployment = ctx.deployment
    status = deployment.status
    running = deployed_spec(status) if not is_before_first_deployment(status) else None
    mode = (running or deployment.spec).mode or KubernetesDeploymentMode.NATIVE
    op = ctx.base_config
    await objects.delete_cluster(
        ctx.services.kube,
        deployment.namespace,
        deployment.name,
        standalone=mode == KubernetesDeploymentMode.STANDALONE,
        propagation=op.deletion_propagation,
        timeout=op.resource_cleanup_timeout,
        delete_ha=delete_ha,
        poll=ctx.services.poll_interval,
    )
    status.job_manager_deployment_status = JobManagerDeploymentStatus.MISSING
    if not is_job_terminal(status.job_status.state):
        status.job_status.state = FlinkJobState.FINISHED


async def deploy(ctx: ResourceContext, spec: FlinkDeploymentSpec, *, restore_from: str | None = None) -> None:
    """Submit a cluster for ``spec``: an application cluster gets a fresh job id (recorded first)."""
    deployment = ctx.deployment
    status = deployment.status
    conf = ctx.render_config(spec)
    job_id: str | None = None
    if spec.job is not None:
        if status.job_manager_deployment_status != JobManagerDeploymentStatus.MISSING:
            ctx.log.info("Deleting cluster with terminated application before new deployment")
            await delete_cluster(ctx, delete_ha=True)
            await ctx.record_status()
        fixed = conf.get(keys.PIPELINE_JOB_ID)
        job_id = fixed or uuid.uuid4().hex
        if status.job_status.job_id != job_id:
            status.job_status.job_id = job_id
            ctx.log.info(f"Assigning JobId override to {job_id}")
        await ctx.record_status()  # recorded before submission, so a retry reuses it
    await ctx.event("Normal", "Submit", MSG_SUBMIT, JOBMANAGER_DEPLOYMENT)
    rendered = render(with_spec(deployment, spec), conf, restore_from=restore_from, job_id=job_id)
    await objects.deploy_objects(ctx.services.kube, rendered)
    if spec.job is not None:
        status.job_status.state = FlinkJobState.RECONCILING
    status.job_manager_deployment_status = JobManagerDeploymentStatus.DEPLOYING


# -- decisions ------------------------------------------------------------------------------------------


async def first_deploy(ctx: ResourceContext) -> None:
    deployment = ctx.deployment
    spec = deployment.spec
    restore_from: str | None = None
    if spec.job is not None:
        path = spec.job.initial_savepoint_path
        if path:
            deployment.status.job_status.savepoint_info.last_savepoint = Savepoint(
                time_stamp=ctx.now_ms(), location=path, trigger_type=SnapshotTriggerType.UNKNOWN
            )
            restore_from = path
        spec.job.upgrade_mode = first_deployment_upgrade_mode(path)
    ctx.log.info("Deploying for the first time")
    _mark_before_deployment(ctx)
    await ctx.record_status()
    await deploy(ctx, spec, restore_from=restore_from)
    _mark_deployed(ctx)


async def record_deployed(ctx: ResourceContext) -> None:
    ctx.log.info("The new spec matches the currently deployed last stable spec. No upgrade needed.")
    _mark_deployed(ctx)


async def stop_job(ctx: ResourceContext, decision: Decision) -> None:
    """Stop the running job (stateless: delete the cluster and its HA data); the new spec is recorded
    UPGRADING (deployed by the next reconcile) or, when the user suspends, DEPLOYED."""
    job = ctx.deployment.spec.job
    assert job is not None
    if job.state == JobState.RUNNING:
        ctx.log.info("Upgrading/Restarting running job, suspending first...")
    mode = _warn_unsupported_mode(ctx, decision.upgrade_mode or job.upgrade_mode)
    await ctx.event("Normal", "Suspended", MSG_SUSPENDED, JOBMANAGER_DEPLOYMENT)
    job.upgrade_mode = mode  # the mode the job was stopped with is what lastReconciledSpec records
    await delete_cluster(ctx, delete_ha=True)
    if job.state == JobState.RUNNING:
        _mark_before_deployment(ctx)
    else:
        _mark_deployed(ctx)


async def restore_job(ctx: ResourceContext) -> None:
    """Start the suspended job with the desired spec, in the mode it was suspended with."""
    job = ctx.deployment.spec.job
    assert job is not None
    last = last_reconciled_spec(ctx.deployment.status)
    if job.upgrade_mode != UpgradeMode.STATELESS and last is not None and last.job is not None:
        job.upgrade_mode = last.job.upgrade_mode
    _warn_unsupported_mode(ctx, job.upgrade_mode)
    _mark_before_deployment(ctx)
    await ctx.record_status()
    await deploy(ctx, ctx.deployment.spec)
    _mark_deployed(ctx)


async def redeploy_session(ctx: ResourceContext) -> None:
    await delete_cluster(ctx, delete_ha=True)
    _mark_before_deployment(ctx)
    await ctx.record_status()
    await deploy(ctx, ctx.deployment.spec)
    _mark_deployed(ctx)


async def resubmit(ctx: ResourceContext) -> None:
    """Deploy the deployed spec again (stateless: an empty state, a new job id)."""
    spec = deployed_spec(ctx.deployment.status)
    assert spec is not None
    ctx.log.info("Resubmitting Flink job..." if spec.job is not None else "Recovering session cluster")
    await deploy(ctx, spec)


async def recover(ctx: ResourceContext) -> None:
    await ctx.event("Warning", "RecoverDeployment", MSG_RECOVERY, JOB)
    await resubmit(ctx)


async def restart_failed(ctx: ResourceContext) -> None:
    ctx.log.info("Stopping failed Flink job...")
    await delete_cluster(ctx, delete_ha=False)
    ctx.deployment.status.error = None
    await resubmit(ctx)


async def delete_terminal_jobmanager(ctx: ResourceContext) -> None:
    ctx.log.info("Removing JobManager deployment for terminal application.")
    await delete_cluster(ctx, delete_ha=False)


async def cleanup(ctx: ResourceContext) -> None:
    """The resource is being deleted: stop the job (stateless) and delete the cluster with its HA data."""
    if ctx.operator.savepoint_on_deletion and ctx.deployment.spec.job is not None:
        ctx.log.warning(
            "kubernetes.operator.job.savepoint-on-deletion is not supported yet, deleting statelessly"
        )
    await delete_cluster(ctx, delete_ha=True)


__all__ = [
    "MSG_RECOVERY",
    "MSG_SUBMIT",
    "MSG_SUSPENDED",
    "cleanup",
    "delete_cluster",
    "delete_terminal_jobmanager",
    "deploy",
    "first_deploy",
    "record_deployed",
    "recover",
    "redeploy_session",
    "restart_failed",
    "restore_job",
    "resubmit",
    "stop_job",
]
