"""status.lifecycleState, derived from the rest of the status as upstream's
``CommonStatus.getLifecycleState`` does every time the status is written (pure)."""

from __future__ import annotations

import json
from typing import Any

from flinkop.api import (
    CommonStatus,
    FlinkDeploymentStatus,
    FlinkJobState,
    JobManagerDeploymentStatus,
    JobState,
    ReconciliationState,
    ResourceLifecycleState,
)

# Fragments of error messages that mean a human has to restore the job (upstream's list).
MANUAL_RESTORE_MARKERS = (
    "Manual restore required.",
    "It is possible that the job has finished or terminally failed, or the configmaps have been deleted.",
    "HA metadata is not available",
)

TERMINAL_LIFECYCLE_STATES = frozenset(
    {
        ResourceLifecycleState.SUSPENDED,
        ResourceLifecycleState.STABLE,
        ResourceLifecycleState.ROLLED_BACK,
        ResourceLifecycleState.FAILED,
        ResourceLifecycleState.DELETED,
    }
)


def reconciled_job_state(last_reconciled_spec: str | None) -> str | None:
    """``job.state`` of a lastReconciledSpec JSON string (current or legacy format); None for a session
    cluster or an unreadable string."""
    if not last_reconciled_spec:
        return None
    try:
        document: Any = json.loads(last_reconciled_spec)
    except json.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    spec = document.get("spec") if "resource_metadata" in document else document
    job = spec.get("job") if isinstance(spec, dict) else None
    state = job.get("state") if isinstance(job, dict) else None
    return state if isinstance(state, str) else (JobState.RUNNING.value if isinstance(job, dict) else None)


def lifecycle_state(status: CommonStatus) -> ResourceLifecycleState:
    """The lifecycle state of a FlinkDeployment or FlinkSessionJob with this status."""
    current = status.lifecycle_state
    if current in (ResourceLifecycleState.DELETING, ResourceLifecycleState.DELETED):
        return current
    reconciliation = status.reconciliation_status
    last = reconciliation.last_reconciled_spec
    if last is None:
        return ResourceLifecycleState.FAILED if status.error else ResourceLifecycleState.CREATED
    if reconciliation.state == ReconciliationState.UPGRADING:
        return ResourceLifecycleState.UPGRADING
    if reconciliation.state == ReconciliationState.ROLLING_BACK:
        return ResourceLifecycleState.ROLLING_BACK
    if reconciled_job_state(last) == JobState.SUSPENDED:
        return ResourceLifecycleState.SUSPENDED
    if status.job_status.state == FlinkJobState.FAILED:
        return ResourceLifecycleState.FAILED
    if isinstance(status, FlinkDeploymentStatus) and _needs_manual_restore(status):
        return ResourceLifecycleState.FAILED
    if reconciliation.state == ReconciliationState.ROLLED_BACK:
        return ResourceLifecycleState.ROLLED_BACK
    if last == reconciliation.last_stable_spec:
        return ResourceLifecycleState.STABLE
    return ResourceLifecycleState.DEPLOYED


def _needs_manual_restore(status: FlinkDeploymentStatus) -> bool:
    jm = status.job_manager_deployment_status
    if jm not in (JobManagerDeploymentStatus.MISSING, JobManagerDeploymentStatus.ERROR):
        return False
    error = status.error or ""
    return any(marker in error for marker in MANUAL_RESTORE_MARKERS)


__all__ = ["MANUAL_RESTORE_MARKERS", "TERMINAL_LIFECYCLE_STATES", "lifecycle_state", "reconciled_job_state"]
