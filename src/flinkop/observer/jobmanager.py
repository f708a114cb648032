"""JobManager Deployment -> ``status.jobManagerDeploymentStatus`` (upstream's
``AbstractFlinkDeploymentObserver.observeJmDeployment``).

Only looked at while the JobManager is not READY:

* previously DEPLOYED_NOT_READY -> READY (the REST API had ``observer.rest-ready.delay`` to come up);
* the Deployment has all its replicas available and the REST API answers -> DEPLOYED_NOT_READY;
* a ``ReplicaFailure``/``FailedCreate`` condition, or a JobManager container waiting in a crash loop or on
  its image -> ERROR (a :class:`DeploymentFailedError` the first time, which the driver records);
* otherwise -> DEPLOYING;
* no Deployment -> MISSING, the job RECONCILING; entering MISSING records "Missing JobManager deployment"
  as the error with a ``Missing`` Warning event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flinkop.api import FlinkJobState, JobManagerDeploymentStatus, JobState
from flinkop.flink.resources.naming import COMPONENT_JOB_MANAGER, LABEL_APP, LABEL_COMPONENT
from flinkop.flink.rest import FlinkRestError, FlinkUnreachable
from flinkop.reconcilers.context import JOBMANAGER_DEPLOYMENT, ResourceContext
from flinkop.reconcilers.deploy import DEPLOYMENTS, PODS
from flinkop.reconcilers.errors import DeploymentFailedError, MissingJobManagerError, error_document
from flinkop.reconcilers.specs import last_reconciled_spec
from flinkop.reconcilers.upgrade import is_job_terminal
from flinkop.runtime import NotFound
from flinkop.runtime.informer import drop_managed_fields

JSON = dict[str, Any]

MISSING_MESSAGE = "Missing JobManager deployment"
# Container waiting reasons that will not fix themselves (upstream's DeploymentFailedException reasons).
FAILED_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "RunContainerError",
        "CreateContainerConfigError",
        "OOMKilled",
    }
)
REST_READY_TIMEOUT = 1.0


def deployment_available(deployment: JSON) -> bool:
    """All the Deployment's replicas exist and are available."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    available = status.get("availableReplicas")
    return available is not None and wanted == status.get("replicas") and wanted == available and wanted > 0


def failed_create(deployment: JSON) -> DeploymentFailedError | None:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "ReplicaFailure" and condition.get("reason") == "FailedCreate":
            return DeploymentFailedError(str(condition.get("message") or "FailedCreate"), "FailedCreate")
    return None


def container_failure(pods: Sequence[JSON]) -> DeploymentFailedError | None:
    """A JobManager container (or init container) waiting for a reason that needs a spec change."""
    for pod in pods:
        status = pod.get("status") or {}
        for container in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]:
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in FAILED_WAITING_REASONS:
                return DeploymentFailedError(str(waiting.get("message") or reason), str(reason))
    return None


def is_suspended_job(ctx: ResourceContext) -> bool:
    """A suspended application whose JobManager is gone on purpose: nothing to look at."""
    deployment = ctx.deployment
    job = deployment.spec.job
    if job is None or job.state != JobState.SUSPENDED:
        return False
    if deployment.status.job_manager_deployment_status != JobManagerDeploymentStatus.MISSING:
        return False
    last = last_reconciled_spec(deployment.status)
    return last is not None and last.job is not None and last.job.state == JobState.SUSPENDED


async def rest_api_answers(ctx: ResourceContext, conf: dict[str, str]) -> bool:
    """The JobManager's REST port takes requests (any HTTP answer from Flink counts)."""
    try:
        await ctx.rest(conf).config(
            timeout=max(REST_READY_TIMEOUT, ctx.base_config.flink_client_timeout / 10)
        )
    except FlinkUnreachable:
        return False
    except FlinkRestError:
        return True
    return True


def cached_jobmanager_deployment(obj: JSON) -> JSON:
    """The informer-cache transform of JobManager Deployments: the operator reads their metadata (owner,
    generation annotation), ``spec.replicas`` and status, never the pod template (most of the object)."""
    obj = drop_managed_fields(obj)
    spec = obj.get("spec")
    if isinstance(spec, dict):
        obj["spec"] = {"replicas": spec.get("replicas", 1)}
    return obj


async def current_jm_deployment(ctx: ResourceContext) -> JSON | None:
    """From the informer cache; a miss is confirmed with the API server (the cache may lag a create)."""
    cached = ctx.jm_deployment
    if cached is not None:
        return cached
    try:
        return await ctx.services.kube.get(DEPLOYMENTS, ctx.deployment.name, ctx.deployment.namespace)
    except NotFound:
        return None


async def jobmanager_pods(ctx: ResourceContext) -> list[JSON]:
    selector = f"{LABEL_APP}={ctx.deployment.name},{LABEL_COMPONENT}={COMPONENT_JOB_MANAGER}"
    found = await ctx.services.kube.list(PODS, ctx.deployment.namespace, label_selector=selector)
    return list(found.get("items") or [])


async def observe_jobmanager(ctx: ResourceContext, conf: dict[str, str]) -> None:
    """Update ``jobManagerDeploymentStatus``; ``conf`` is the deployed cluster's configuration."""
    status = ctx.deployment.status
    previous = status.job_manager_deployment_status
    if is_suspended_job(ctx):
        ctx.log.debug("Skipping observe step for suspended application deployments")
        return
    ctx.log.info(f"Observing JobManager deployment. Previous status: {previous.value}")
    if previous == JobManagerDeploymentStatus.DEPLOYED_NOT_READY:
        ctx.log.info("JobManager deployment is ready")
        status.job_manager_deployment_status = JobManagerDeploymentStatus.READY
        return
    deployment = await current_jm_deployment(ctx)
    if deployment is not None:
        if deployment_available(deployment) and await rest_api_answers(ctx, conf):
            ctx.log.info("JobManager deployment port is ready, waiting for the Flink REST API...")
            status.job_manager_deployment_status = JobManagerDeploymentStatus.DEPLOYED_NOT_READY
            return
        failure = failed_create(deployment) or container_failure(await jobmanager_pods(ctx))
        if failure is not None:
            status.job_status.state = FlinkJobState.RECONCILING
            if previous != JobManagerDeploymentStatus.ERROR:
                raise failure
            return
        ctx.log.info("JobManager is being deployed")
        status.job_manager_deployment_status = JobManagerDeploymentStatus.DEPLOYING
        return
    status.job_manager_deployment_status = JobManagerDeploymentStatus.MISSING
    if not is_job_terminal(status.job_status.state):
        status.job_status.state = FlinkJobState.RECONCILING
    if previous not in (JobManagerDeploymentStatus.MISSING, JobManagerDeploymentStatus.ERROR):
        ctx.log.error(MISSING_MESSAGE)
        status.error = error_document(MissingJobManagerError(MISSING_MESSAGE), ctx.error_limits)
        await ctx.event("Warning", "Missing", MISSING_MESSAGE, JOBMANAGER_DEPLOYMENT)


__all__ = [
    "FAILED_WAITING_REASONS",
    "MISSING_MESSAGE",
    "cached_jobmanager_deployment",
    "container_failure",
    "deployment_available",
    "failed_create",
    "is_suspended_job",
    "observe_jobmanager",
]
