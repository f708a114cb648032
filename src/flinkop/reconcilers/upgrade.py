"""What one reconcile does with a FlinkDeployment, decided from its spec and observed status (pure).

Upstream's ``AbstractFlinkResourceReconciler.reconcile`` / ``AbstractJobReconciler`` /
``ApplicationReconciler`` / ``SessionReconciler`` flow as a decision table:

==========================  ===============================================  ============================
situation                   application                                      session cluster
==========================  ===============================================  ============================
never deployed              FIRST_DEPLOY (nothing when submitted suspended)  FIRST_DEPLOY
spec change, same as        RECORD_DEPLOYED                                  RECORD_DEPLOYED
deployed spec
spec change (>= SCALE, or   job running: STOP (then redeploy next loop) or   REDEPLOY (delete + deploy)
UPGRADING)                  SUSPEND; job suspended: RESTORE when desired
                            running, else RECORD_DEPLOYED
no spec change              RESTART_FAILED (job.restart.failed), RECOVER     RECOVER (JM lost), else NONE
                            (JM lost), DELETE_TERMINAL_JM (shutdown TTL),
                            else NONE
==========================  ===============================================  ============================

How a running job is stopped and where its successor restores from depends on the upgrade mode and on
what can be done right now: :mod:`.upgrade_modes`. A ``savepointRedeployNonce`` change (SAVEPOINT_REDEPLOY)
redeploys from ``initialSavepointPath``; a reconcile that finds a rollback under way (ROLLING_BACK) carries
it on; whether a rollback starts is :mod:`.rollback`'s decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flinkop.api import (
    FlinkJobState,
    JobManagerDeploymentStatus,
    JobState,
    ReconciliationState,
    UpgradeMode,
)
from flinkop.reconcilers.diff import DiffType

GLOBALLY_TERMINAL_JOB_STATES = frozenset(
    {FlinkJobState.FAILED, FlinkJobState.CANCELED, FlinkJobState.FINISHED}
)


class Action(StrEnum):
    NONE = "none"  # fully reconciled
    FIRST_DEPLOY = "first-deploy"
    RECORD_DEPLOYED = "record-deployed"  # the desired spec is what runs: record it, touch nothing
    STOP = "stop"  # stop the running job for an upgrade; it is deployed again by the next reconcile
    SUSPEND = "suspend"  # stop the running job, the user wants it suspended
    RESTORE = "restore"  # start the suspended job with the desired spec
    REDEPLOY = "redeploy"  # session cluster: delete and deploy again
    RECOVER = "recover"  # the JobManager Deployment is gone: deploy the deployed spec again
    RESTART_FAILED = "restart-failed"  # job.restart.failed: delete the failed cluster and resubmit
    DELETE_TERMINAL_JM = "delete-terminal-jm"  # jm-deployment.shutdown-ttl passed for a finished job
    SAVEPOINT_REDEPLOY = "savepoint-redeploy"  # savepointRedeployNonce: redeploy from initialSavepointPath
    ROLLBACK = "rollback"  # deploy lastStableSpec (started, or found under way)


@dataclass(frozen=True)
class Situation:
    """Everything the decision depends on."""

    application: bool
    before_first_deployment: bool
    desired_job_state: JobState | None  # spec.job.state (None: session cluster)
    deployed_job_state: JobState | None  # lastReconciledSpec's job.state
    reconciliation_state: ReconciliationState
    diff_type: DiffType
    spec_equals_deployed: bool
    jm_status: JobManagerDeploymentStatus
    job_state: FlinkJobState | None
    upgrade_mode: UpgradeMode = UpgradeMode.STATELESS  # the desired spec's
    ha_enabled: bool = False
    jm_recovery_enabled: bool = True
    restart_failed_enabled: bool = False
    shutdown_ttl_passed: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    spec_changed: bool = False
    upgrade_mode: UpgradeMode | None = None  # the mode the job is stopped / restored with

    @property
    def acts(self) -> bool:
        return self.action != Action.NONE


def first_deployment_upgrade_mode(initial_savepoint_path: str | None) -> UpgradeMode:
    """Recorded in lastReconciledSpec at the first deployment: savepoint when starting from one."""
    return UpgradeMode.SAVEPOINT if initial_savepoint_path else UpgradeMode.STATELESS


def is_spec_changed(diff_type: DiffType, reconciliation_state: ReconciliationState) -> bool:
    return diff_type != DiffType.IGNORE or reconciliation_state == ReconciliationState.UPGRADING


def is_job_terminal(job_state: FlinkJobState | None) -> bool:
    return job_state in GLOBALLY_TERMINAL_JOB_STATES


def should_recover(s: Situation) -> bool:
    """``shouldRecoverDeployment``: the JobManager Deployment is gone though the cluster should run."""
    if s.jm_status != JobManagerDeploymentStatus.MISSING or not s.jm_recovery_enabled:
        return False
    if not s.application:
        return True
    if s.deployed_job_state != JobState.RUNNING or is_job_terminal(s.job_state):
        return False
    return s.ha_enabled or s.upgrade_mode == UpgradeMode.STATELESS


def decide(s: Situation) -> Decision:
    if s.before_first_deployment:
        if s.application and s.desired_job_state == JobState.SUSPENDED:
            return Decision(Action.NONE)
        return Decision(Action.FIRST_DEPLOY)

    changed = is_spec_changed(s.diff_type, s.reconciliation_state)
    if changed:
        in_flight = s.reconciliation_state in (
            ReconciliationState.UPGRADING,
            ReconciliationState.ROLLING_BACK,
        )
        if not in_flight and s.spec_equals_deployed:
            return Decision(Action.RECORD_DEPLOYED, spec_changed=True)
        if not s.application:
            return Decision(Action.REDEPLOY, spec_changed=True)
        if s.diff_type == DiffType.SAVEPOINT_REDEPLOY:
            return Decision(Action.SAVEPOINT_REDEPLOY, spec_changed=True, upgrade_mode=UpgradeMode.SAVEPOINT)
        mode = s.upgrade_mode
        if s.deployed_job_state == JobState.RUNNING:
            action = Action.SUSPEND if s.desired_job_state == JobState.SUSPENDED else Action.STOP
            return Decision(action, spec_changed=True, upgrade_mode=mode)
        if s.desired_job_state == JobState.RUNNING:
            return Decision(Action.RESTORE, spec_changed=True, upgrade_mode=mode)
        return Decision(Action.RECORD_DEPLOYED, spec_changed=True)

    if s.reconciliation_state == ReconciliationState.ROLLING_BACK:
        return Decision(Action.ROLLBACK)
    if s.application and s.job_state == FlinkJobState.FAILED and s.restart_failed_enabled:
        return Decision(Action.RESTART_FAILED)
    if should_recover(s):
        return Decision(Action.RECOVER)
    if (
        s.application
        and is_job_terminal(s.job_state)
        and s.jm_status != JobManagerDeploymentStatus.MISSING
        and s.shutdown_ttl_passed
    ):
        return Decision(Action.DELETE_TERMINAL_JM)
    return Decision(Action.NONE)


__all__ = [
    "GLOBALLY_TERMINAL_JOB_STATES",
    "Action",
    "Decision",
    "Situation",
    "decide",
    "first_deployment_upgrade_mode",
    "is_job_terminal",
    "is_spec_changed",
    "should_recover",
]
