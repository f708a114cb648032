"""The cluster behind a READY JobManager: ``status.clusterInfo`` and the session cluster's REST API.

``clusterInfo`` (upstream's ``getClusterInfo``): ``flink-version`` and ``flink-revision`` from ``/config``;
``total-cpu`` and ``total-memory`` from the cluster configuration times the JobManager replicas and the
TaskManagers registered now; ``state-size`` of the job's last completed checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from flinkop.api import ReconciliationState
from flinkop.config.values import java_double_str
from flinkop.flink.resources import keys
from flinkop.flink.resources.memory import jobmanager_cpu, process_memory_mb, taskmanager_cpu
from flinkop.flink.resources.options import FlinkConf
from flinkop.flink.rest import FlinkClientError, FlinkRestClient, FlinkUnreachable
from flinkop.reconcilers.context import ResourceContext
from flinkop.reconcilers.specs import mark_stable

FLINK_VERSION = "flink-version"
FLINK_REVISION = "flink-revision"
TOTAL_CPU = "total-cpu"
TOTAL_MEMORY = "total-memory"
STATE_SIZE = "state-size"


def cluster_resources(conf: Mapping[str, str], taskmanagers: int) -> dict[str, str]:
    """``total-cpu`` and ``total-memory`` of a cluster with ``taskmanagers`` TaskManagers (pure)."""
    view = FlinkConf(conf)
    jm_replicas = view.get_int(keys.JOB_MANAGER_REPLICAS, 1)
    jm_cpu = jobmanager_cpu(view) * view.get_float(keys.JOB_MANAGER_CPU_LIMIT_FACTOR, 1.0) * jm_replicas
    tm_cpu = taskmanager_cpu(view) * view.get_float(keys.TASK_MANAGER_CPU_LIMIT_FACTOR, 1.0) * taskmanagers
    mib = 1024.0**2
    jm_memory = round(
        process_memory_mb(view, jobmanager=True)
        * mib
        * view.get_float(keys.JOB_MANAGER_MEMORY_LIMIT_FACTOR, 1.0)
        * jm_replicas
    )
    tm_memory = round(
        process_memory_mb(view, jobmanager=False)
        * mib
        * view.get_float(keys.TASK_MANAGER_MEMORY_LIMIT_FACTOR, 1.0)
        * taskmanagers
    )
    return {TOTAL_CPU: java_double_str(jm_cpu + tm_cpu), TOTAL_MEMORY: str(jm_memory + tm_memory)}


async def cluster_info(rest: FlinkRestClient, conf: Mapping[str, str], job_id: str | None) -> dict[str, str]:
    info: dict[str, str] = {}
    dashboard = await rest.config()
    if dashboard.flink_version is not None:
        info[FLINK_VERSION] = dashboard.flink_version
    if dashboard.flink_revision is not None:
        info[FLINK_REVISION] = dashboard.flink_revision
    if job_id is not None:
        try:
            checkpoints = await rest.checkpoints(job_id)
            completed = checkpoints.latest.completed
            if completed is not None and completed.state_size is not None:
                info[STATE_SIZE] = str(completed.state_size)
        except FlinkClientError:
            pass
    taskmanagers = len(await rest.taskmanagers())
    info.update(cluster_resources(conf, taskmanagers))
    return info


async def observe_cluster_info(ctx: ResourceContext, conf: dict[str, str]) -> None:
    status = ctx.deployment.status
    job_id = status.job_status.job_id if ctx.deployment.spec.job is not None else None
    try:
        status.cluster_info.update(await cluster_info(ctx.rest(conf), conf, job_id))
    except Exception as error:  # cluster info is informative only
        ctx.log.warning("Exception while fetching cluster info", error=repr(error))


async def observe_session(ctx: ResourceContext, conf: dict[str, str]) -> bool:
    """A session cluster whose REST API answers is stable. Returns False on a timeout (the caller looks at
    the JobManager Deployment again)."""
    try:
        await ctx.rest(conf).config()
    except FlinkClientError as error:
        ctx.log.error("REST service in session cluster timed out", error=str(error))
        return not isinstance(error, FlinkUnreachable)
    rs = ctx.deployment.status.reconciliation_status
    if rs.state == ReconciliationState.DEPLOYED:
        mark_stable(ctx.deployment.status)
    return True


__all__ = ["cluster_info", "cluster_resources", "observe_cluster_info", "observe_session"]
