"""How a running job is stopped for an upgrade, per upgrade mode and situation (ANCHOR-INVENTORY 2.6)."""

from __future__ import annotations

import dataclasses

import pytest

from flinkop.api import FlinkJobState, JobManagerDeploymentStatus, UpgradeMode
from flinkop.reconcilers.lifecycle import MANUAL_RESTORE_MARKERS
from flinkop.reconcilers.upgrade_modes import MSG_JM_MISSING, StopFacts, SuspendMode, choose_stop

JM = JobManagerDeploymentStatus
RUNNING = StopFacts(
    requested=UpgradeMode.SAVEPOINT,
    job_state=FlinkJobState.RUNNING,
    jm_status=JM.READY,
    ha_metadata=True,
    savepoint_dir_set=True,
    flink_version_changed=False,
)


def facts(**changes: object) -> StopFacts:
    return dataclasses.replace(RUNNING, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"requested": UpgradeMode.STATELESS}, SuspendMode.STATELESS),
        ({"requested": UpgradeMode.STATELESS, "job_state": FlinkJobState.FAILED}, SuspendMode.STATELESS),
        ({}, SuspendMode.SAVEPOINT),
        ({"ha_metadata": False}, SuspendMode.SAVEPOINT),
        ({"requested": UpgradeMode.LAST_STATE}, SuspendMode.LAST_STATE),
        ({"requested": UpgradeMode.LAST_STATE, "ha_metadata": False}, SuspendMode.CANCEL),
        ({"requested": UpgradeMode.LAST_STATE, "last_state_job_cancel": True}, SuspendMode.CANCEL),
        ({"requested": UpgradeMode.LAST_STATE, "flink_version_changed": True}, SuspendMode.SAVEPOINT),
        ({"job_state": FlinkJobState.FINISHED}, SuspendMode.NOOP),
        (
            {"job_state": FlinkJobState.FAILED, "ha_metadata": False, "jm_status": JM.MISSING},
            SuspendMode.NOOP,
        ),
        ({"job_state": FlinkJobState.CANCELLING}, SuspendMode.WAIT),
        ({"job_state": FlinkJobState.RECONCILING, "jm_status": JM.DEPLOYING}, SuspendMode.LAST_STATE),
        (
            {"job_state": FlinkJobState.RECONCILING, "jm_status": JM.DEPLOYING, "last_state_fallback": False},
            SuspendMode.WAIT,
        ),
        (
            {"job_state": FlinkJobState.RECONCILING, "jm_status": JM.MISSING, "ha_metadata": False},
            SuspendMode.FAIL,
        ),
        (
            {"job_state": FlinkJobState.RECONCILING, "jm_status": JM.DEPLOYING, "ha_metadata": False},
            SuspendMode.WAIT,
        ),
    ],
)
def test_the_stop_mode(changes: dict[str, object], expected: SuspendMode) -> None:
    assert choose_stop(facts(**changes)).mode == expected


def test_a_stateful_mode_is_never_downgraded_to_stateless() -> None:
    for mode in UpgradeMode.SAVEPOINT, UpgradeMode.LAST_STATE:
        for state in FlinkJobState:
            for ha in True, False:
                for jm in JM:
                    plan = choose_stop(facts(requested=mode, job_state=state, ha_metadata=ha, jm_status=jm))
                    assert plan.mode != SuspendMode.STATELESS
                    assert plan.restore_mode != UpgradeMode.STATELESS


def test_the_missing_jobmanager_message_makes_the_lifecycle_failed() -> None:
    assert all(marker in MSG_JM_MISSING for marker in MANUAL_RESTORE_MARKERS)
