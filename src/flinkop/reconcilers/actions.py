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
    KubernetesDeploymentMode,
    Savepoint,
    SnapshotTriggerType,
)
from flinkop.crashpoints import CLUSTER_SUBMITTED, OLD_CLUSTER_DELETED, crash_point
from flinkop.flink.resources import is_ha_enabled, keys, render
from flinkop.flink.resources.options import FlinkConf
from flinkop.reconcilers import deploy as objects
from flinkop.reconcilers.config import taskmanager_count, with_spec
from flinkop.reconcilers.context import JOBMANAGER_DEPLOYMENT, ResourceContext
from flinkop.reconcilers.specs import (
    deployed_spec,
    is_before_first_deployment,
    mark_before_deployment,
    mark_deployed,
)
from flinkop.reconcilers.upgrade import (
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


JOB_RESULT_STORE_PATH = "job-result-store.storage-path"
JOB_RESULT_STORE_DELETE_ON_COMMIT = "job-result-store.delete-on-commit"


def isolate_job_results(conf: dict[str, str], cluster_id: str) -> None:
    """Every application deployment gets its own job result store: a job that ended in an earlier
    deployment (a stop-with-savepoint FINISHES it) must not make the new one look recovered or done."""
    storage = conf.get(keys.HA_STORAGE_DIR)
    if not storage or not is_ha_enabled(FlinkConf(conf)):
        return
    conf[JOB_RESULT_STORE_PATH] = f"{storage.rstrip('/')}/job-result-store/{cluster_id}/{uuid.uuid4()}"
    conf[JOB_RESULT_STORE_DELETE_ON_COMMIT] = "false"


async def deploy(
    ctx: ResourceContext,
    spec: FlinkDeploymentSpec,
    *,
    restore_from: str | None = None,
    keep_job_id: bool = False,
    delete_ha: bool = True,
) -> None:
    """Submit a cluster for ``spec``: an application cluster gets a fresh job id (recorded first), or keeps
    its job id (``keep_job_id``: last-state, the HA metadata of that id is what it restores from)."""
    deployment = ctx.deployment
    status = deployment.status
    conf = ctx.render_config(spec)
    job_id: str | None = None
    if spec.job is not None:
        isolate_job_results(conf, deployment.name)
        if status.job_manager_deployment_status != JobManagerDeploymentStatus.MISSING:
            ctx.log.info("Deleting cluster with terminated application before new deployment")
            await delete_cluster(ctx, delete_ha=delete_ha)
            await ctx.record_status()
            crash_point(OLD_CLUSTER_DELETED)
        elif delete_ha:
            await objects.delete_ha_data(ctx.services.kube, deployment.namespace, deployment.name)
        fixed = conf.get(keys.PIPELINE_JOB_ID)
        kept = status.job_status.job_id if keep_job_id else None
        job_id = fixed or kept or uuid.uuid4().hex
        if status.job_status.job_id != job_id:
            status.job_status.job_id = job_id
            ctx.log.info(f"Assigning JobId override to {job_id}")
        await ctx.record_status()  # recorded before submission, so a retry reuses it
    if restore_from:
        ctx.log.info(f"Restoring job from savepoint {restore_from}")
    await ctx.event("Normal", "Submit", MSG_SUBMIT, JOBMANAGER_DEPLOYMENT)
    rendered = render(with_spec(deployment, spec), conf, restore_from=restore_from, job_id=job_id)
    await objects.deploy_objects(ctx.services.kube, rendered)
    crash_point(CLUSTER_SUBMITTED)
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
            deployment.status.job_status.upgrade_savepoint_path = path
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


async def redeploy_session(ctx: ResourceContext) -> None:
    await delete_cluster(ctx, delete_ha=True)
    _mark_before_deployment(ctx)
    await ctx.record_status()
    await deploy(ctx, ctx.deployment.spec)
    _mark_deployed(ctx)


async def delete_terminal_jobmanager(ctx: ResourceContext) -> None:
    ctx.log.info("Removing JobManager deployment for terminal application.")
    await delete_cluster(ctx, delete_ha=False)


__all__ = [
    "MSG_RECOVERY",
    "MSG_SUBMIT",
    "MSG_SUSPENDED",
    "delete_cluster",
    "delete_terminal_jobmanager",
    "deploy",
    "first_deploy",
    "record_deployed",
    "redeploy_session",
]
