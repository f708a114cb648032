"""Bookkeeping of ``status.reconciliationStatus`` (upstream's ``ReconciliationUtils``), pure functions on
the status model: what was reconciled (``lastReconciledSpec``), what ran stable (``lastStableSpec``), the
reconciliation state, ``observedGeneration`` and ``status.taskManager``.

``lastReconciledSpec`` is written before every deployment attempt with ``state=UPGRADING`` and
``job.state=suspended`` (write-ahead), and again after the deployment with ``state=DEPLOYED`` and the desired
job state. Its ``resource_metadata.firstDeployment`` stays true from the first write-ahead until the first
upgrade (upstream's ``ReconciliationMetadata.from``).
"""

from __future__ import annotations

from flinkop.api import (
    FlinkDeployment,
    FlinkDeploymentSpec,
    FlinkDeploymentStatus,
    FlinkJobState,
    JobState,
    ReconciledSpec,
    ReconciledSpecError,
    ReconciliationState,
    TaskManagerInfo,
    deserialize_reconciled_spec,
    serialize_reconciled_spec,
)
from flinkop.flink.resources.naming import taskmanager_label_selector


def reconciled(status: FlinkDeploymentStatus) -> ReconciledSpec[FlinkDeploymentSpec] | None:
    """lastReconciledSpec with its metadata; None before the first deployment.
    Raises ReconciledSpecError for an unreadable one."""
    text = status.reconciliation_status.last_reconciled_spec
    return None if text is None else deserialize_reconciled_spec(text, FlinkDeploymentSpec)


def last_reconciled_spec(status: FlinkDeploymentStatus) -> FlinkDeploymentSpec | None:
    last = reconciled(status)
    return None if last is None else last.spec


def deployed_spec(status: FlinkDeploymentStatus) -> FlinkDeploymentSpec | None:
    """The spec running now: lastStableSpec after a rollback, else lastReconciledSpec."""
    rs = status.reconciliation_status
    if rs.state == ReconciliationState.ROLLED_BACK and rs.last_stable_spec is not None:
        return deserialize_reconciled_spec(rs.last_stable_spec, FlinkDeploymentSpec).spec
    return last_reconciled_spec(status)


def is_before_first_deployment(status: FlinkDeploymentStatus) -> bool:
    return status.reconciliation_status.last_reconciled_spec is None


def is_stable(status: FlinkDeploymentStatus) -> bool:
    rs = status.reconciliation_status
    return rs.last_reconciled_spec is not None and rs.last_reconciled_spec == rs.last_stable_spec


def mark_stable(status: FlinkDeploymentStatus) -> None:
    rs = status.reconciliation_status
    rs.last_stable_spec = rs.last_reconciled_spec


def _first_deployment(status: FlinkDeploymentStatus) -> bool:
    """``ReconciliationMetadata.from``: before the first deployment, or deployed and still flagged first."""
    rs = status.reconciliation_status
    if rs.last_reconciled_spec is None:
        return True
    if rs.state != ReconciliationState.DEPLOYED:
        return False
    try:
        last = reconciled(status)
    except ReconciledSpecError:
        return False
    return last is not None and last.metadata.first_deployment


def _write_spec(resource: FlinkDeployment, spec: FlinkDeploymentSpec, *, first_deployment: bool) -> None:
    status = resource.status
    status.reconciliation_status.last_reconciled_spec = serialize_reconciled_spec(
        spec, first_deployment=first_deployment
    )
    status.observed_generation = resource.metadata.generation


def taskmanager_info(name: str, job_state: JobState | None, replicas: int) -> TaskManagerInfo:
    """status.taskManager of an application cluster (the scale subresource reads it)."""
    if job_state == JobState.RUNNING:
        return TaskManagerInfo(label_selector=taskmanager_label_selector(name), replicas=replicas)
    return TaskManagerInfo(label_selector="", replicas=0)


def record_spec_reconciliation(
    resource: FlinkDeployment,
    *,
    job_state_after: JobState | None,
    upgrading: bool,
    now_ms: int,
    taskmanagers: int,
) -> None:
    """``updateStatusForSpecReconciliation``: clear the error, stamp the time, set UPGRADING or DEPLOYED
    and record ``resource.spec`` (its job in ``job_state_after``) as lastReconciledSpec."""
    status = resource.status
    rs = status.reconciliation_status
    status.error = None
    rs.reconciliation_timestamp = now_ms
    if rs.state == ReconciliationState.ROLLING_BACK:
        rs.state = ReconciliationState.ROLLING_BACK if upgrading else ReconciliationState.ROLLED_BACK
    else:
        rs.state = ReconciliationState.UPGRADING if upgrading else ReconciliationState.DEPLOYED
    if rs.state in (ReconciliationState.ROLLING_BACK, ReconciliationState.ROLLED_BACK):
        last = reconciled(status)
        if last is not None and last.spec.job is not None and resource.spec.job is not None:
            last.spec.job.upgrade_mode = resource.spec.job.upgrade_mode
            rs.last_reconciled_spec = serialize_reconciled_spec(
                last.spec, first_deployment=last.metadata.first_deployment
            )
        return
    first = _first_deployment(status)
    spec = resource.spec.model_copy(deep=True)
    desired_job = resource.spec.job
    if spec.job is not None and desired_job is not None:
        assert job_state_after is not None
        spec.job.state = job_state_after
        previous = last_reconciled_spec(status) if rs.last_reconciled_spec is not None else None
        if previous is not None and previous.job is not None:
            # pending manual snapshot triggers survive the upgrade
            spec.job.savepoint_trigger_nonce = previous.job.savepoint_trigger_nonce
            spec.job.checkpoint_trigger_nonce = previous.job.checkpoint_trigger_nonce
        status.task_manager = taskmanager_info(resource.name, job_state_after, taskmanagers)
        _write_spec(resource, spec, first_deployment=first)
        if desired_job.state == JobState.SUSPENDED:
            mark_stable(status)  # a job suspended by the user is stable at once
    else:
        _write_spec(resource, spec, first_deployment=first)


def mark_before_deployment(resource: FlinkDeployment, *, now_ms: int, taskmanagers: int) -> None:
    """Write-ahead before a deployment attempt: UPGRADING, the job recorded as suspended."""
    record_spec_reconciliation(
        resource, job_state_after=JobState.SUSPENDED, upgrading=True, now_ms=now_ms, taskmanagers=taskmanagers
    )


def mark_deployed(resource: FlinkDeployment, *, now_ms: int, taskmanagers: int) -> None:
    """After a successful deployment (or a suspend): DEPLOYED with the desired job state."""
    job = resource.spec.job
    record_spec_reconciliation(
        resource,
        job_state_after=job.state if job is not None else None,
        upgrading=False,
        now_ms=now_ms,
        taskmanagers=taskmanagers,
    )


def update_reconciliation_metadata(resource: FlinkDeployment) -> None:
    """No spec change: refresh lastReconciledSpec's metadata (and observedGeneration) if it changed."""
    status = resource.status
    last = reconciled(status)
    if last is None:
        return
    first = _first_deployment(status)
    if last.metadata.first_deployment == first:
        return
    status.reconciliation_status.last_reconciled_spec = serialize_reconciled_spec(
        last.spec, first_deployment=first
    )
    status.observed_generation = resource.metadata.generation


def mark_job_suspended(status: FlinkDeploymentStatus) -> None:
    """The job was cancelled: lastReconciledSpec's job becomes suspended (no longer first deployment)."""
    last = reconciled(status)
    if last is None or last.spec.job is None:
        return
    last.spec.job.state = JobState.SUSPENDED
    status.reconciliation_status.last_reconciled_spec = serialize_reconciled_spec(
        last.spec, first_deployment=False
    )


def mark_already_upgraded(status: FlinkDeploymentStatus) -> None:
    """An upgrade whose deployment exists but was not recorded: DEPLOYED, the job running (RECONCILING)."""
    last = reconciled(status)
    if last is None:
        return
    if last.spec.job is not None:
        last.spec.job.state = JobState.RUNNING
        status.job_status.state = FlinkJobState.RECONCILING
    status.reconciliation_status.state = ReconciliationState.DEPLOYED
    status.reconciliation_status.last_reconciled_spec = serialize_reconciled_spec(
        last.spec, first_deployment=last.metadata.first_deployment
    )


def clear_if_first_deployment(status: FlinkDeploymentStatus) -> None:
    """A first deployment that never came up: forget it, so that it is attempted again."""
    last = reconciled(status)
    if last is not None and last.metadata.first_deployment:
        status.reconciliation_status.last_reconciled_spec = None
        status.reconciliation_status.state = ReconciliationState.UPGRADING


def check_and_update_stable_spec(status: FlinkDeploymentStatus) -> None:
    """A deployed job observed RUNNING (or FINISHED on its own) makes the reconciled spec stable."""
    if status.reconciliation_status.state != ReconciliationState.DEPLOYED:
        return
    job_state = status.job_status.state
    if job_state == FlinkJobState.RUNNING:
        mark_stable(status)
        return
    last = last_reconciled_spec(status)
    if (
        last is not None
        and last.job is not None
        and last.job.state == JobState.RUNNING
        and job_state == FlinkJobState.FINISHED
    ):
        mark_stable(status)


def reset_spec_for_validation_error(resource: FlinkDeployment) -> bool:
    """An invalid new spec: carry on with the last reconciled spec (its job running if an upgrade was in
    flight) and the generation it was reconciled at. False when nothing was ever reconciled."""
    status = resource.status
    last = reconciled(status)
    if last is None:
        return False
    resource.spec = last.spec
    if (
        status.reconciliation_status.state
        in (ReconciliationState.UPGRADING, ReconciliationState.ROLLING_BACK)
        and resource.spec.job is not None
    ):
        resource.spec.job.state = JobState.RUNNING
    resource.metadata.generation = status.observed_generation
    return True


def same_spec(a: FlinkDeploymentSpec | None, b: FlinkDeploymentSpec | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.model_dump(mode="json", by_alias=True) == b.model_dump(mode="json", by_alias=True)


__all__ = [
    "check_and_update_stable_spec",
    "clear_if_first_deployment",
    "deployed_spec",
    "is_before_first_deployment",
    "is_stable",
    "last_reconciled_spec",
    "mark_already_upgraded",
    "mark_before_deployment",
    "mark_deployed",
    "mark_job_suspended",
    "mark_stable",
    "reconciled",
    "record_spec_reconciliation",
    "reset_spec_for_validation_error",
    "same_spec",
    "taskmanager_info",
    "update_reconciliation_metadata",
]
