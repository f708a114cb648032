"""Rescheduling, the Running condition, status.error documents, and the observer's pure parts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flinkop.api import FlinkDeploymentStatus, FlinkJobState, JobManagerDeploymentStatus, ReconciliationState
from flinkop.flink.rest import JobSummary
from flinkop.observer import (
    apply_job_summary,
    container_failure,
    deployment_available,
    failed_create,
    find_job,
)
from flinkop.observer.cluster import cluster_resources
from flinkop.reconcilers.conditions import running_condition
from flinkop.reconcilers.errors import DeploymentFailedError, JobFailure, ValidationError, error_document
from flinkop.reconcilers.schedule import Intervals, reschedule_after

from .builders import app, reconciled, session

JM = JobManagerDeploymentStatus
INTERVALS = Intervals(reconcile=60, progress_check=10, rest_ready_delay=5)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


# -- rescheduling ------------------------------------------------------------------------------------------


def at(jm: JobManagerDeploymentStatus, **kwargs: object) -> FlinkDeploymentStatus:
    status = reconciled(app().spec)
    status.job_manager_deployment_status = jm
    for key, value in kwargs.items():
        setattr(status.job_status, key, value)
    return status


def test_reschedule_by_jobmanager_status() -> None:
    deployed = ReconciliationState.DEPLOYED
    assert reschedule_after(at(JM.DEPLOYING), deployed, INTERVALS) == 10
    assert reschedule_after(at(JM.DEPLOYED_NOT_READY), deployed, INTERVALS) == 5
    assert reschedule_after(at(JM.READY), deployed, INTERVALS) == 60
    assert reschedule_after(at(JM.MISSING), deployed, INTERVALS) == 60
    assert reschedule_after(at(JM.ERROR), deployed, INTERVALS) == 60


def test_reschedule_cancelling_and_upgrade_start() -> None:
    cancelling = at(JM.READY, state=FlinkJobState.CANCELLING)
    assert reschedule_after(cancelling, ReconciliationState.DEPLOYED, INTERVALS) == 10
    upgrading = reconciled(app().spec, state=ReconciliationState.UPGRADING)
    assert reschedule_after(upgrading, ReconciliationState.DEPLOYED, INTERVALS) == 0
    upgrading.job_manager_deployment_status = JM.MISSING
    assert reschedule_after(upgrading, ReconciliationState.UPGRADING, INTERVALS) == 60
    pending = at(JM.READY)
    pending.job_status.savepoint_info.trigger_id = "t"
    assert reschedule_after(pending, ReconciliationState.DEPLOYED, INTERVALS) == 10


# -- the Running condition ---------------------------------------------------------------------------------


def test_application_condition_and_transition_time() -> None:
    status = reconciled(app().spec)
    status.job_status.state = FlinkJobState.RECONCILING
    [first] = running_condition(status, NOW)
    assert (first.status, first.reason, first.message) == ("False", "Reconciling", "Job state RECONCILING")
    status.conditions = [first]
    later = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    status.job_status.state = FlinkJobState.FAILING
    [same] = running_condition(status, later)
    assert same.last_transition_time == "2026-11-26T12:00:00Z"  # still False: time kept
    status.job_status.state = FlinkJobState.RUNNING
    [running] = running_condition(status, later)
    assert running.status == "True" and running.last_transition_time == "2026-11-26T13:00:00Z"


def test_session_condition() -> None:
    status = reconciled(session().spec)
    status.job_manager_deployment_status = JM.READY
    [condition] = running_condition(status, NOW)
    assert (condition.status, condition.reason) == ("True", "JobManagerReady")
    status.job_manager_deployment_status = JM.DEPLOYING
    assert running_condition(status, NOW)[0].reason == "JobManagerIsDeploying"


def test_no_condition_before_the_first_deployment() -> None:
    assert running_condition(FlinkDeploymentStatus(), NOW) == []


# -- status.error ------------------------------------------------------------------------------------------


def test_validation_error_document() -> None:
    assert json.loads(error_document(ValidationError("Job parallelism must be larger than 0"))) == {
        "type": "org.apache.flink.kubernetes.operator.exception.ValidationException",
        "message": "Job parallelism must be larger than 0",
        "throwableList": [],
    }


def test_deployment_failure_and_causes() -> None:
    try:
        try:
            raise OSError("disk")
        except OSError as cause:
            raise DeploymentFailedError("back-off restarting", "CrashLoopBackOff") from cause
    except DeploymentFailedError as error:
        document = json.loads(error_document(error))
    assert document["additionalMetadata"] == {"reason": "CrashLoopBackOff"}
    assert document["throwableList"] == [{"type": "builtins.OSError", "message": "disk"}]


def test_job_failure_from_a_stack_trace() -> None:
    failure = JobFailure.from_stacktrace("java.lang.RuntimeException: boom\n\tat x.y(Z.java:1)")
    assert (failure.java_type, failure.message) == ("java.lang.RuntimeException", "boom")


# -- observer, pure parts ----------------------------------------------------------------------------------


def test_deployment_available() -> None:
    ready = {"spec": {"replicas": 1}, "status": {"replicas": 1, "availableReplicas": 1}}
    assert deployment_available(ready)
    assert not deployment_available({"spec": {"replicas": 1}, "status": {"replicas": 1}})
    assert not deployment_available(
        {"spec": {"replicas": 1}, "status": {"replicas": 2, "availableReplicas": 1}}
    )


def test_deployment_failures() -> None:
    failed = {
        "status": {"conditions": [{"type": "ReplicaFailure", "reason": "FailedCreate", "message": "quota"}]}
    }
    error = failed_create(failed)
    assert error is not None and error.reason == "FailedCreate"
    crashing = {
        "status": {
            "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff", "message": "m"}}}]
        }
    }
    error = container_failure([crashing])
    assert error is not None and error.reason == "CrashLoopBackOff"
    assert container_failure([{"status": {"containerStatuses": [{"state": {"running": {}}}]}}]) is None


def test_job_summary_applied() -> None:
    status = reconciled(app().spec)
    status.job_status.job_id = "j1"
    status.job_status.state = FlinkJobState.RECONCILING
    jobs = [
        JobSummary.model_validate(
            {"jid": "j1", "name": "State machine job", "state": "RUNNING", "start-time": 5}
        )
    ]
    job = find_job(jobs, "j1")
    assert job is not None and find_job(jobs, "other") is None
    change = apply_job_summary(status, job, now_ms=99)
    assert change is not None and change.message == "Job status changed from RECONCILING to RUNNING"
    assert (status.job_status.job_name, status.job_status.start_time, status.job_status.update_time) == (
        "State machine job",
        "5",
        "99",
    )
    assert apply_job_summary(status, job, now_ms=100) is None
    assert status.job_status.update_time == "99"


def test_cancelled_job_change() -> None:
    status = reconciled(app().spec)
    status.job_status.state = FlinkJobState.CANCELLING
    change = apply_job_summary(status, JobSummary.model_validate({"jid": "j", "state": "FAILED"}), now_ms=1)
    assert change is not None and change.cancelled


def test_cluster_resources() -> None:
    conf = {
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.memory.process.size": "2048m",
        "kubernetes.jobmanager.cpu.amount": "0.5",
        "kubernetes.taskmanager.cpu.amount": "1.0",
    }
    assert cluster_resources(conf, 2) == {
        "total-cpu": "2.5",
        "total-memory": str((1024 + 2 * 2048) * 1024**2),
    }
