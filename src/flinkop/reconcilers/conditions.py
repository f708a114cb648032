"""status.conditions: the one ``Running`` condition (upstream's ``ConditionUtils``), pure.

Application cluster: True iff the job is RUNNING; reason the job state capitalised (``Running``,
``Reconciling``), message ``Job state <STATE>``. Session cluster: True iff the JobManager is READY; reason
and message from the JobManager deployment status. ``lastTransitionTime`` changes only when the condition's
status flips.
"""

from __future__ import annotations

from datetime import datetime

from flinkop.api import Condition, FlinkDeploymentStatus, JobManagerDeploymentStatus
from flinkop.reconcilers.lifecycle import reconciled_job_state

RUNNING = "Running"

JM_CONDITIONS: dict[str, tuple[str, str, str]] = {
    JobManagerDeploymentStatus.READY: (
        "True",
        "JobManagerReady",
        "JobManager is running and ready to receive REST API calls",
    ),
    JobManagerDeploymentStatus.MISSING: (
        "False",
        "JobManagerDeploymentMissing",
        "JobManager deployment not found",
    ),
    JobManagerDeploymentStatus.DEPLOYING: (
        "False",
        "JobManagerIsDeploying",
        "JobManager process is starting up",
    ),
    JobManagerDeploymentStatus.DEPLOYED_NOT_READY: (
        "False",
        "DeployedNotReady",
        "JobManager is running but not ready yet to receive REST API calls",
    ),
    JobManagerDeploymentStatus.ERROR: ("False", "Error", "JobManager deployment failed"),
}


def _timestamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def running_condition(status: FlinkDeploymentStatus, now: datetime) -> list[Condition]:
    """The conditions the status should carry now (the existing list when nothing can be said yet)."""
    last = status.reconciliation_status.last_reconciled_spec
    if last is None:
        return list(status.conditions)
    if reconciled_job_state(last) is not None:
        state = status.job_status.state
        if state is None:
            return list(status.conditions)
        name = str(state.value)
        new = Condition(
            type=RUNNING,
            status="True" if name == "RUNNING" else "False",
            reason=name[:1].upper() + name[1:].lower(),
            message=f"Job state {name}",
        )
    else:
        cond_status, reason, message = JM_CONDITIONS.get(
            status.job_manager_deployment_status, ("False", "Error", "JobManager deployment failed")
        )
        new = Condition(type=RUNNING, status=cond_status, reason=reason, message=message)
    existing = status.conditions[0] if status.conditions else None
    if existing is not None and existing.status == new.status and existing.last_transition_time:
        new.last_transition_time = existing.last_transition_time
    else:
        new.last_transition_time = _timestamp(now)
    return [new]


__all__ = ["JM_CONDITIONS", "RUNNING", "running_condition"]
