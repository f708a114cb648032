"""status.reconciliationStatus bookkeeping: write-ahead, deployed, stable, first deployment, validation."""

from __future__ import annotations

import json

from flinkop.api import FlinkJobState, JobState, ReconciliationState, UpgradeMode
from flinkop.reconcilers import specs

from .builders import app, reconciled


def document(text: str | None) -> dict[str, object]:
    assert text is not None
    loaded: dict[str, object] = json.loads(text)
    return loaded


def test_first_deployment_write_ahead_then_deployed() -> None:
    deployment = app()
    specs.mark_before_deployment(deployment, now_ms=1000, taskmanagers=1)
    rs = deployment.status.reconciliation_status
    first = document(rs.last_reconciled_spec)
    assert rs.state == ReconciliationState.UPGRADING
    assert first["spec"]["job"]["state"] == "suspended"  # type: ignore[index]
    assert first["resource_metadata"] == {"apiVersion": "flink.apache.org/v1beta1", "firstDeployment": True}
    assert deployment.status.observed_generation == 1
    assert deployment.status.task_manager is not None and deployment.status.task_manager.replicas == 0

    specs.mark_deployed(deployment, now_ms=2000, taskmanagers=1)
    deployed = document(rs.last_reconciled_spec)
    assert rs.state == ReconciliationState.DEPLOYED and rs.reconciliation_timestamp == 2000
    assert deployed["spec"]["job"]["state"] == "running"  # type: ignore[index]
    assert deployed["resource_metadata"]["firstDeployment"] is True  # type: ignore[index]
    assert deployment.status.task_manager is not None
    assert deployment.status.task_manager.label_selector == "component=taskmanager,app=basic"
    assert deployment.status.task_manager.replicas == 1
    assert rs.last_stable_spec is None


def test_an_upgrade_is_no_longer_the_first_deployment() -> None:
    deployment = app()
    deployment.status = reconciled(deployment.spec, first=True)
    specs.mark_before_deployment(deployment, now_ms=1, taskmanagers=1)
    assert document(deployment.status.reconciliation_status.last_reconciled_spec)["resource_metadata"] == {
        "apiVersion": "flink.apache.org/v1beta1",
        "firstDeployment": False,
    }


def test_snapshot_trigger_nonces_survive_an_upgrade() -> None:
    deployment = app(job={"savepointTriggerNonce": 1})
    deployment.status = reconciled(deployment.spec)
    assert deployment.spec.job is not None
    deployment.spec.job.savepoint_trigger_nonce = 2
    specs.mark_deployed(deployment, now_ms=1, taskmanagers=1)
    last = specs.last_reconciled_spec(deployment.status)
    assert last is not None and last.job is not None and last.job.savepoint_trigger_nonce == 1


def test_a_user_suspended_job_is_stable_at_once() -> None:
    deployment = app(job={"state": "suspended"})
    deployment.status = reconciled(deployment.spec)
    specs.mark_deployed(deployment, now_ms=1, taskmanagers=1)
    assert specs.is_stable(deployment.status)
    assert deployment.status.task_manager is not None and deployment.status.task_manager.replicas == 0


def test_running_and_finished_jobs_make_the_spec_stable() -> None:
    status = reconciled(app().spec)
    status.job_status.state = FlinkJobState.RECONCILING
    specs.check_and_update_stable_spec(status)
    assert not specs.is_stable(status)
    status.job_status.state = FlinkJobState.RUNNING
    specs.check_and_update_stable_spec(status)
    assert specs.is_stable(status)
    finished = reconciled(app().spec)
    finished.job_status.state = FlinkJobState.FINISHED
    specs.check_and_update_stable_spec(finished)
    assert specs.is_stable(finished)
    upgrading = reconciled(app().spec, state=ReconciliationState.UPGRADING)
    upgrading.job_status.state = FlinkJobState.RUNNING
    specs.check_and_update_stable_spec(upgrading)
    assert not specs.is_stable(upgrading)


def test_metadata_update_keeps_the_spec() -> None:
    deployment = app()
    deployment.status = reconciled(deployment.spec, first=True)
    before = deployment.status.reconciliation_status.last_reconciled_spec
    specs.update_reconciliation_metadata(deployment)  # deployed and first: unchanged
    assert deployment.status.reconciliation_status.last_reconciled_spec == before


def test_a_cancelled_job_marks_the_reconciled_job_suspended() -> None:
    status = reconciled(app().spec, first=True)
    specs.mark_job_suspended(status)
    last = specs.reconciled(status)
    assert last is not None and last.spec.job is not None
    assert last.spec.job.state == JobState.SUSPENDED and not last.metadata.first_deployment


def test_an_upgrade_found_deployed_is_recorded() -> None:
    status = reconciled(app().spec, state=ReconciliationState.UPGRADING, job_state="suspended")
    specs.mark_already_upgraded(status)
    last = specs.last_reconciled_spec(status)
    assert status.reconciliation_status.state == ReconciliationState.DEPLOYED
    assert last is not None and last.job is not None and last.job.state == JobState.RUNNING
    assert status.job_status.state == FlinkJobState.RECONCILING


def test_a_failed_first_deployment_is_forgotten() -> None:
    status = reconciled(app().spec, state=ReconciliationState.UPGRADING, first=True)
    specs.clear_if_first_deployment(status)
    assert status.reconciliation_status.last_reconciled_spec is None
    later = reconciled(app().spec, state=ReconciliationState.UPGRADING, first=False)
    specs.clear_if_first_deployment(later)
    assert later.reconciliation_status.last_reconciled_spec is not None


def test_validation_error_resets_to_the_last_reconciled_spec() -> None:
    deployment = app()
    assert not specs.reset_spec_for_validation_error(deployment)  # nothing reconciled yet
    good = app()
    deployment = app(job={"parallelism": 0, "upgradeMode": "savepoint"})
    deployment.metadata.generation = 5
    deployment.status = reconciled(good.spec, state=ReconciliationState.UPGRADING, job_state="suspended")
    deployment.status.observed_generation = 4
    assert specs.reset_spec_for_validation_error(deployment)
    assert deployment.spec.job is not None
    assert deployment.spec.job.parallelism == 2 and deployment.spec.job.state == JobState.RUNNING
    assert deployment.spec.job.upgrade_mode == UpgradeMode.STATELESS
    assert deployment.metadata.generation == 4


def test_same_spec() -> None:
    assert specs.same_spec(app().spec, app().spec)
    assert not specs.same_spec(app().spec, app(job={"parallelism": 3}).spec)
    assert not specs.same_spec(app().spec, None)
