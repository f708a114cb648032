"""The reconcile decision table (stateless upgrades, suspend/resume, recovery)."""

from __future__ import annotations

import dataclasses

import pytest

from flinkop.api import FlinkJobState, JobManagerDeploymentStatus, JobState, ReconciliationState, UpgradeMode
from flinkop.reconcilers.diff import DiffType
from flinkop.reconcilers.upgrade import (
    Action,
    Situation,
    decide,
    first_deployment_upgrade_mode,
    should_recover,
)

RUNNING, SUSPENDED = JobState.RUNNING, JobState.SUSPENDED
JM = JobManagerDeploymentStatus

STEADY = Situation(
    application=True,
    before_first_deployment=False,
    desired_job_state=RUNNING,
    deployed_job_state=RUNNING,
    reconciliation_state=ReconciliationState.DEPLOYED,
    diff_type=DiffType.IGNORE,
    spec_equals_deployed=True,
    jm_status=JM.READY,
    job_state=FlinkJobState.RUNNING,
)


def situation(**changes: object) -> Situation:
    return dataclasses.replace(STEADY, **changes)  # type: ignore[arg-type]


def test_first_deployment() -> None:
    assert decide(situation(before_first_deployment=True)).action == Action.FIRST_DEPLOY
    assert decide(situation(before_first_deployment=True, desired_job_state=SUSPENDED)).action == Action.NONE
    session = situation(application=False, desired_job_state=None, before_first_deployment=True)
    assert decide(session).action == Action.FIRST_DEPLOY


def test_nothing_changed_is_nothing_to_do() -> None:
    decision = decide(STEADY)
    assert decision.action == Action.NONE and not decision.spec_changed


@pytest.mark.parametrize("diff", [DiffType.SCALE, DiffType.UPGRADE])
def test_a_change_of_a_running_job_stops_it_for_the_upgrade(diff: DiffType) -> None:
    decision = decide(situation(diff_type=diff, spec_equals_deployed=False))
    assert decision.action == Action.STOP
    assert decision.spec_changed and decision.upgrade_mode == UpgradeMode.STATELESS


def test_suspending_a_running_job() -> None:
    decision = decide(
        situation(diff_type=DiffType.UPGRADE, spec_equals_deployed=False, desired_job_state=SUSPENDED)
    )
    assert decision.action == Action.SUSPEND


def test_an_upgrade_in_flight_restores_the_job() -> None:
    s = situation(
        reconciliation_state=ReconciliationState.UPGRADING,
        deployed_job_state=SUSPENDED,
        spec_equals_deployed=False,
        jm_status=JM.MISSING,
        job_state=FlinkJobState.FINISHED,
    )
    decision = decide(s)
    assert decision.action == Action.RESTORE and decision.spec_changed


def test_upgrading_is_a_change_even_without_a_diff() -> None:
    s = situation(reconciliation_state=ReconciliationState.UPGRADING, deployed_job_state=SUSPENDED)
    assert decide(s).action == Action.RESTORE


def test_resuming_and_staying_suspended() -> None:
    resume = situation(diff_type=DiffType.UPGRADE, spec_equals_deployed=False, deployed_job_state=SUSPENDED)
    assert decide(resume).action == Action.RESTORE
    stay = dataclasses.replace(resume, desired_job_state=SUSPENDED)
    assert decide(stay).action == Action.RECORD_DEPLOYED


def test_a_change_back_to_the_deployed_spec_is_only_recorded() -> None:
    assert decide(situation(diff_type=DiffType.UPGRADE)).action == Action.RECORD_DEPLOYED
    upgrading = situation(diff_type=DiffType.UPGRADE, reconciliation_state=ReconciliationState.UPGRADING)
    assert decide(upgrading).action != Action.RECORD_DEPLOYED


def test_a_session_cluster_change_redeploys_it() -> None:
    s = situation(application=False, desired_job_state=None, deployed_job_state=None, job_state=None)
    assert decide(dataclasses.replace(s, diff_type=DiffType.UPGRADE, spec_equals_deployed=False)).action == (
        Action.REDEPLOY
    )
    assert decide(s).action == Action.NONE


def test_stateful_modes_are_carried_to_the_stop() -> None:
    for mode in UpgradeMode.SAVEPOINT, UpgradeMode.LAST_STATE, UpgradeMode.STATELESS:
        decision = decide(
            situation(diff_type=DiffType.UPGRADE, spec_equals_deployed=False, upgrade_mode=mode)
        )
        assert (decision.action, decision.upgrade_mode) == (Action.STOP, mode)


def test_a_savepoint_redeploy_nonce_redeploys_from_the_initial_savepoint() -> None:
    s = situation(diff_type=DiffType.SAVEPOINT_REDEPLOY, spec_equals_deployed=False)
    assert decide(s).action == Action.SAVEPOINT_REDEPLOY


def test_a_rollback_under_way_is_carried_on() -> None:
    s = situation(reconciliation_state=ReconciliationState.ROLLING_BACK, jm_status=JM.MISSING)
    assert decide(s).action == Action.ROLLBACK


def test_a_lost_jobmanager_of_a_stateful_job_is_recovered_only_with_ha() -> None:
    lost = situation(
        jm_status=JM.MISSING, job_state=FlinkJobState.RECONCILING, upgrade_mode=UpgradeMode.SAVEPOINT
    )
    assert decide(lost).action == Action.NONE
    assert decide(dataclasses.replace(lost, ha_enabled=True)).action == Action.RECOVER


def test_first_deployment_upgrade_mode() -> None:
    assert first_deployment_upgrade_mode(None) == UpgradeMode.STATELESS
    assert first_deployment_upgrade_mode("file:///sp/savepoint-1") == UpgradeMode.SAVEPOINT


class TestRecovery:
    LOST = situation(jm_status=JM.MISSING, job_state=FlinkJobState.RECONCILING)

    def test_a_lost_jobmanager_of_a_running_stateless_job_is_recovered(self) -> None:
        assert decide(self.LOST).action == Action.RECOVER

    def test_not_when_recovery_is_disabled(self) -> None:
        assert decide(dataclasses.replace(self.LOST, jm_recovery_enabled=False)).action == Action.NONE

    def test_not_for_a_suspended_or_terminal_job(self) -> None:
        assert not should_recover(dataclasses.replace(self.LOST, deployed_job_state=SUSPENDED))
        assert not should_recover(dataclasses.replace(self.LOST, job_state=FlinkJobState.FINISHED))

    def test_a_lost_session_cluster_is_recovered(self) -> None:
        s = dataclasses.replace(self.LOST, application=False, desired_job_state=None, deployed_job_state=None)
        assert decide(s).action == Action.RECOVER

    def test_an_erroring_jobmanager_needs_a_spec_change(self) -> None:
        assert decide(dataclasses.replace(self.LOST, jm_status=JM.ERROR)).action == Action.NONE


def test_a_failed_job_is_restarted_only_when_asked() -> None:
    failed = situation(job_state=FlinkJobState.FAILED)
    assert decide(failed).action == Action.NONE
    assert decide(dataclasses.replace(failed, restart_failed_enabled=True)).action == Action.RESTART_FAILED


def test_a_terminal_jobmanager_is_deleted_after_the_shutdown_ttl() -> None:
    finished = situation(job_state=FlinkJobState.FINISHED)
    assert decide(finished).action == Action.NONE
    assert decide(dataclasses.replace(finished, shutdown_ttl_passed=True)).action == Action.DELETE_TERMINAL_JM
