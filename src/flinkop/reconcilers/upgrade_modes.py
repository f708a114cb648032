"""How a running application job is stopped for an upgrade or a suspend, and where its successor restores
from (upstream's "available upgrade mode" decision of ``ApplicationReconciler``), as a pure function.

The user's ``upgradeMode`` is never downgraded to stateless: when the requested mode cannot be carried out
now (no running job to take a savepoint of, no HA metadata), the job is either stopped in a safe stateful
way (last-state through the HA metadata), or the upgrade waits, or it fails with a clear error.

==========================================================  ==================  ===========================
situation                                                   stop (SuspendMode)  restore from
==========================================================  ==================  ===========================
stateless                                                   STATELESS           nothing (empty state)
job terminal (FAILED/FINISHED/CANCELED), no HA metadata or  NOOP                upgradeSavepointPath
  JobManager reachable
job CANCELLING                                              WAIT                -
savepoint, job RUNNING                                      SAVEPOINT           the new savepoint
last-state, flinkVersion changed, RUNNING, savepoint dir    SAVEPOINT           the new savepoint
last-state, RUNNING, no HA metadata or job-cancel enabled   CANCEL              the last checkpoint
last-state, RUNNING, HA metadata                            LAST_STATE          the HA metadata
savepoint, not RUNNING, fallback off and version unchanged  WAIT                -
anything else with HA metadata                              LAST_STATE          the HA metadata
JobManager MISSING/ERROR without HA metadata                FAIL                -
otherwise                                                   WAIT                -
==========================================================  ==================  ===========================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flinkop.api import FlinkJobState, JobManagerDeploymentStatus, UpgradeMode

TERMINAL = frozenset({FlinkJobState.FAILED, FlinkJobState.FINISHED, FlinkJobState.CANCELED})

# upstream's marker in upgradeSavepointPath for "restore from the HA metadata"
LAST_STATE_DUMMY_SP_PATH = "KUBERNETES_OPERATOR_LAST_STATE"


class SuspendMode(StrEnum):
    STATELESS = "stateless"  # cancel if possible, delete the cluster and its HA data
    SAVEPOINT = "savepoint"  # stop-with-savepoint, the terminal JobManager is kept until the next deploy
    CANCEL = "cancel"  # cancel, restore from the last completed checkpoint
    LAST_STATE = "last-state"  # delete the cluster, keep the HA metadata
    NOOP = "noop"  # the job already ended: nothing to stop
    WAIT = "wait"  # not now: look again at the progress-check interval
    FAIL = "fail"  # cannot upgrade without losing state


@dataclass(frozen=True)
class StopFacts:
    requested: UpgradeMode  # the desired spec's upgradeMode
    job_state: FlinkJobState | None
    jm_status: JobManagerDeploymentStatus
    ha_metadata: bool  # the cluster's Kubernetes HA ConfigMaps exist
    savepoint_dir_set: bool
    flink_version_changed: bool
    last_state_fallback: bool = True  # kubernetes.operator.job.upgrade.last-state-fallback.enabled
    last_state_job_cancel: bool = False  # kubernetes.operator.job.upgrade.last-state.job-cancel.enabled


@dataclass(frozen=True)
class StopPlan:
    mode: SuspendMode
    reason: str = ""

    @property
    def restore_mode(self) -> UpgradeMode:
        """The upgradeMode lastReconciledSpec records: how the next deployment restores."""
        if self.mode == SuspendMode.STATELESS:
            return UpgradeMode.STATELESS
        if self.mode == SuspendMode.LAST_STATE:
            return UpgradeMode.LAST_STATE
        return UpgradeMode.SAVEPOINT


MSG_JM_MISSING = (
    "JobManager deployment is missing and HA metadata is not available to make stateful upgrades. "
    "It is possible that the job has finished or terminally failed, or the configmaps have been deleted. "
    "Manual restore required."
)


def choose_stop(f: StopFacts) -> StopPlan:
    if f.requested == UpgradeMode.STATELESS:
        return StopPlan(SuspendMode.STATELESS)
    running = f.job_state == FlinkJobState.RUNNING
    jm_ready = f.jm_status == JobManagerDeploymentStatus.READY
    if f.job_state in TERMINAL and (not f.ha_metadata or jm_ready):
        return StopPlan(SuspendMode.NOOP, "job already terminal")
    if f.job_state == FlinkJobState.CANCELLING:
        return StopPlan(SuspendMode.WAIT, "job is cancelling")
    if running and f.requested == UpgradeMode.SAVEPOINT:
        return StopPlan(SuspendMode.SAVEPOINT)
    if running and f.requested == UpgradeMode.LAST_STATE:
        if f.flink_version_changed and f.savepoint_dir_set:
            return StopPlan(SuspendMode.SAVEPOINT, "flinkVersion changed")
        if not f.ha_metadata or f.last_state_job_cancel:
            return StopPlan(SuspendMode.CANCEL)
        return StopPlan(SuspendMode.LAST_STATE)
    if f.requested == UpgradeMode.SAVEPOINT and not f.last_state_fallback and not f.flink_version_changed:
        return StopPlan(SuspendMode.WAIT, "Job is not running and last-state fallback is disabled")
    if f.ha_metadata:
        return StopPlan(SuspendMode.LAST_STATE, "falling back to the HA metadata")
    if f.jm_status in (JobManagerDeploymentStatus.MISSING, JobManagerDeploymentStatus.ERROR):
        return StopPlan(SuspendMode.FAIL, MSG_JM_MISSING)
    return StopPlan(SuspendMode.WAIT, "waiting for the job to be running or terminal")


__all__ = [
    "LAST_STATE_DUMMY_SP_PATH",
    "MSG_JM_MISSING",
    "TERMINAL",
    "StopFacts",
    "StopPlan",
    "SuspendMode",
    "choose_stop",
]
