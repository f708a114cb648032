"""The observe step of one FlinkDeployment reconcile: facts about the cluster into the status
(upstream's ``AbstractFlinkResourceObserver`` + ``AbstractFlinkDeploymentObserver``).

Nothing is observed before the first deployment or during a rollback. During an upgrade, a JobManager
Deployment already carrying the upgrade's generation means the upgrade went through without being recorded:
it is recorded now; otherwise observation waits (and a first deployment that never came up is forgotten so
it is tried again). Then: the JobManager Deployment while it is not READY; the job (application) or the
REST API (session) once it is; ``clusterInfo``; and errors are cleared once the cluster is healthy and stable.
"""

from __future__ import annotations

from flinkop.api import FlinkJobState, JobManagerDeploymentStatus, ReconciliationState
from flinkop.flink.resources.naming import GENERATION_ANNOTATION
from flinkop.observer.cluster import observe_cluster_info, observe_session
from flinkop.observer.job import observe_job
from flinkop.observer.jobmanager import current_jm_deployment, observe_jobmanager
from flinkop.reconcilers.context import ResourceContext
from flinkop.reconcilers.specs import (
    clear_if_first_deployment,
    deployed_spec,
    is_stable,
    mark_already_upgraded,
)

READY = JobManagerDeploymentStatus.READY


async def _record_if_already_upgraded(ctx: ResourceContext) -> None:
    status = ctx.deployment.status
    deployment = await current_jm_deployment(ctx)
    if deployment is None:
        return
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    deployed = annotations.get(GENERATION_ANNOTATION)
    target = status.observed_generation if status.observed_generation is not None else -1
    if deployed is not None and deployed == str(target):
        ctx.log.info("Pending upgrade is already deployed, updating status.")
        mark_already_upgraded(status)
        status.job_manager_deployment_status = JobManagerDeploymentStatus.DEPLOYING
    else:
        ctx.log.warning(
            f"Running deployment generation {deployed} doesn't match upgrade target generation {target}."
        )


async def ready_to_observe(ctx: ResourceContext) -> bool:
    rs = ctx.deployment.status.reconciliation_status
    if rs.last_reconciled_spec is None:
        ctx.log.debug("Skipping observe before first deployment")
        return False
    if rs.state == ReconciliationState.ROLLING_BACK:
        ctx.log.debug("Skipping observe during rollback operation")
        return False
    if rs.state == ReconciliationState.UPGRADING:
        await _record_if_already_upgraded(ctx)
        if rs.state == ReconciliationState.UPGRADING:
            clear_if_first_deployment(ctx.deployment.status)
            ctx.log.debug("Skipping observe before resource is deployed during upgrade")
            return False
    return True


def clear_errors_if_healthy(ctx: ResourceContext) -> None:
    status = ctx.deployment.status
    if (
        status.job_manager_deployment_status != JobManagerDeploymentStatus.ERROR
        and status.job_status.state != FlinkJobState.FAILED
        and is_stable(status)
    ):
        status.error = None


async def observe(ctx: ResourceContext) -> None:
    """Update ``ctx.deployment.status`` with what the cluster looks like now."""
    if not await ready_to_observe(ctx):
        return
    status = ctx.deployment.status
    deployed = deployed_spec(status)  # after a rollback: the stable spec that runs
    conf = ctx.cluster_config(deployed if deployed is not None else ctx.deployment.spec)
    if status.job_manager_deployment_status != READY:
        await observe_jobmanager(ctx, conf)
    if status.job_manager_deployment_status == READY:
        if deployed is not None and deployed.job is not None:
            _found, unreachable = await observe_job(ctx)
        else:
            unreachable = not await observe_session(ctx, conf)
        if unreachable:
            await observe_jobmanager(ctx, conf)
    if status.job_manager_deployment_status == READY:
        await observe_cluster_info(ctx, conf)
    clear_errors_if_healthy(ctx)


__all__ = ["clear_errors_if_healthy", "observe", "ready_to_observe"]
