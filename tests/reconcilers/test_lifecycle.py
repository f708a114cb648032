"""lifecycleState is derived from the rest of the status, in upstream's order of rules."""

from __future__ import annotations

import pytest

from flinkop.api import (
    FlinkDeploymentStatus,
    FlinkJobState,
    FlinkSessionJobStatus,
    JobManagerDeploymentStatus,
    ReconciliationState,
    ResourceLifecycleState,
)
from flinkop.reconcilers.lifecycle import MANUAL_RESTORE_MARKERS, lifecycle_state, reconciled_job_state

from .builders import app, reconciled

L = ResourceLifecycleState


def test_never_deployed_is_created_or_failed_with_an_error() -> None:
    status = FlinkDeploymentStatus()
    assert lifecycle_state(status) == L.CREATED
    status.error = '{"type":"x","message":"bad"}'
    assert lifecycle_state(status) == L.FAILED


@pytest.mark.parametrize("kept", [L.DELETING, L.DELETED])
def test_deleting_and_deleted_are_kept(kept: ResourceLifecycleState) -> None:
    status = reconciled(app().spec, stable=True)
    status.lifecycle_state = kept
    assert lifecycle_state(status) == kept


def test_upgrading_and_rolling_back_come_from_the_reconciliation_state() -> None:
    spec = app().spec
    assert lifecycle_state(reconciled(spec, state=ReconciliationState.UPGRADING)) == L.UPGRADING
    assert lifecycle_state(reconciled(spec, state=ReconciliationState.ROLLING_BACK)) == L.ROLLING_BACK


def test_a_suspended_reconciled_job_is_suspended_before_anything_else() -> None:
    status = reconciled(app().spec, job_state="suspended", stable=True)
    status.job_status.state = FlinkJobState.FAILED
    assert lifecycle_state(status) == L.SUSPENDED


def test_a_failed_job_is_failed() -> None:
    status = reconciled(app().spec, stable=True)
    status.job_status.state = FlinkJobState.FAILED
    assert lifecycle_state(status) == L.FAILED


@pytest.mark.parametrize("marker", MANUAL_RESTORE_MARKERS)
@pytest.mark.parametrize("jm", [JobManagerDeploymentStatus.MISSING, JobManagerDeploymentStatus.ERROR])
def test_a_missing_jobmanager_needing_manual_restore_is_failed(
    marker: str, jm: JobManagerDeploymentStatus
) -> None:
    status = reconciled(app().spec, stable=True)
    status.job_manager_deployment_status = jm
    status.error = f'{{"message":"JobManager deployment is missing. {marker}"}}'
    assert lifecycle_state(status) == L.FAILED


def test_a_ready_jobmanager_with_a_manual_restore_error_is_not_failed() -> None:
    status = reconciled(app().spec, stable=True)
    status.job_manager_deployment_status = JobManagerDeploymentStatus.READY
    status.error = "Manual restore required."
    assert lifecycle_state(status) == L.STABLE


def test_rolled_back_stable_and_deployed() -> None:
    spec = app().spec
    assert lifecycle_state(reconciled(spec, state=ReconciliationState.ROLLED_BACK)) == L.ROLLED_BACK
    assert lifecycle_state(reconciled(spec, stable=True)) == L.STABLE
    assert lifecycle_state(reconciled(spec)) == L.DEPLOYED


def test_session_job_status_skips_the_jobmanager_rule() -> None:
    status = FlinkSessionJobStatus()
    status.reconciliation_status.last_reconciled_spec = (
        '{"spec":{"job":{"state":"running"}},"resource_metadata":{}}'
    )
    status.reconciliation_status.state = ReconciliationState.DEPLOYED
    status.error = "Manual restore required."
    assert lifecycle_state(status) == L.DEPLOYED


def test_reconciled_job_state_reads_both_formats() -> None:
    assert (
        reconciled_job_state('{"spec":{"job":{"state":"suspended"}},"resource_metadata":{}}') == "suspended"
    )
    assert (
        reconciled_job_state('{"apiVersion":"flink.apache.org/v1beta1","job":{"state":"running"}}')
        == "running"
    )
    assert reconciled_job_state('{"spec":{"job":null},"resource_metadata":{}}') is None
    assert reconciled_job_state("not json") is None
    assert reconciled_job_state(None) is None
