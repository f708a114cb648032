"""When to reconcile a FlinkDeployment again (upstream's ``ReconciliationUtils.toUpdateControl`` and
``rescheduleAfter``), pure."""

from __future__ import annotations

from dataclasses import dataclass

from flinkop.api import FlinkDeploymentStatus, FlinkJobState, JobManagerDeploymentStatus, ReconciliationState


@dataclass(frozen=True)
class Intervals:
    """Seconds: ``reconcile.interval``, ``observer.progress-check.interval`` and
    ``observer.rest-ready.delay``."""

    reconcile: float = 60.0
    progress_check: float = 10.0
    rest_ready_delay: float = 10.0


_STARTED = (ReconciliationState.UPGRADING, ReconciliationState.ROLLING_BACK)


def reschedule_after(
    status: FlinkDeploymentStatus, previous_state: ReconciliationState, intervals: Intervals
) -> float:
    """Seconds until the next reconcile after a completed one."""
    if status.job_status.state == FlinkJobState.CANCELLING:
        return intervals.progress_check
    current = status.reconciliation_status.state
    if current != previous_state and current in _STARTED:
        return 0.0  # an upgrade just started: carry on at once
    jm = status.job_manager_deployment_status
    if jm == JobManagerDeploymentStatus.DEPLOYING:
        return intervals.progress_check
    if jm == JobManagerDeploymentStatus.DEPLOYED_NOT_READY:
        return intervals.rest_ready_delay
    if jm == JobManagerDeploymentStatus.READY and status.job_status.savepoint_info.trigger_id:
        return intervals.progress_check  # a legacy savepoint is in progress
    return intervals.reconcile


__all__ = ["Intervals", "reschedule_after"]
