"""Bad objects give one ResourceParseError naming every bad field; defaults are upstream's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flinkop.api import (
    CheckpointType,
    FlinkDeployment,
    FlinkDeploymentStatus,
    FlinkJobState,
    FlinkSessionJob,
    FlinkStateSnapshot,
    FlinkVersion,
    JobManagerDeploymentStatus,
    JobManagerSpec,
    JobSpec,
    JobState,
    KubernetesDeploymentMode,
    ReconciliationState,
    ResourceParseError,
    SavepointFormatType,
    SnapshotState,
    SnapshotTriggerType,
    UpgradeMode,
    parse_any_resource,
    parse_flink_deployment,
    parse_flink_session_job,
    parse_flink_state_snapshot,
    to_wire,
    unknown_enum_values,
)
from flinkop.api.status import Checkpoint, Savepoint

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "flink.apache.org/v1beta1",
    "kind": "FlinkDeployment",
    "metadata": {"name": "orders", "namespace": "streaming", "generation": 3},
    "spec": {
        "image": "flink:2.3",
        "flinkVersion": "v2_3",
        "serviceAccount": "flink",
        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": 2, "state": {"backend": {"type": "rocksdb"}}},
        "jobManager": {"resources": {"requests": {"cpu": 1, "memory": "1Gi"}}},
        "taskManager": {"replicas": 2, "resource": {"cpu": 0.5, "memory": "2g"}},
        "job": {"jarURI": "local:///opt/flink/job.jar", "parallelism": 2, "upgradeMode": "savepoint"},
    },
    "status": {
        "jobStatus": {"state": "RUNNING", "jobId": "a1b2", "savepointInfo": {"savepointHistory": []}},
        "lifecycleState": "STABLE",
        "jobManagerDeploymentStatus": "READY",
        "reconciliationStatus": {"state": "DEPLOYED", "reconciliationTimestamp": 1700000000000},
        "conditions": [{"type": "Running", "status": "True", "reason": "Running"}],
    },
}


def deployment_with(path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(DEPLOYMENT)
    *parents, leaf = path.split(".")
    node = obj
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return obj


def test_a_deployment_parses_into_typed_fields() -> None:
    deployment = parse_flink_deployment(DEPLOYMENT)
    assert deployment.name == "orders" and deployment.namespace == "streaming"
    assert deployment.spec.flink_version is FlinkVersion.V2_3
    assert deployment.spec.job is not None and deployment.spec.job.upgrade_mode is UpgradeMode.SAVEPOINT
    assert deployment.spec.task_manager is not None and deployment.spec.task_manager.replicas == 2
    assert deployment.status.job_status.state is FlinkJobState.RUNNING
    assert deployment.status.reconciliation_status.state is ReconciliationState.DEPLOYED
    assert deployment.is_application


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.job.parallelism", "2", "spec.job.parallelism: Input should be a valid integer (got '2')"),
        ("spec.job.args", "--fast", "spec.job.args: Input should be a valid list"),
        ("spec.image", 23, "spec.image: Input should be a valid string (got 23)"),
        ("spec.restartNonce", True, "spec.restartNonce: Input should be a valid integer (got True)"),
        ("spec.jobManager.replicas", 1.5, "spec.jobManager.replicas: Input should be a valid integer"),
        (
            "spec.jobManager.resources.requests",
            {"cpu": [1]},
            "spec.jobManager.resources.requests.cpu: Input ",
        ),
        ("spec.taskManager.resource.cpu", "1", "spec.taskManager.resource.cpu: Input should be a number"),
        ("spec.flinkConfiguration", ["a=b"], "spec.flinkConfiguration: Input should be a valid dictionary"),
        (
            "spec.ingress.tls",
            [{"hosts": "a.example.com"}],
            "spec.ingress.tls[0].hosts: Input should be a valid list",
        ),
        (
            "spec.logConfiguration",
            {"log4j-console.properties": 1},
            "spec.logConfiguration.log4j-console.properties",
        ),
        (
            "spec.job.state",
            1,
            "spec.job.state: Input should be a string, one of 'running', 'suspended' (got 1)",
        ),
        ("spec", "nope", "spec: Input should be a valid dictionary"),
        ("metadata.labels", {"app": 1}, "metadata.labels.app: Input should be a valid string (got 1)"),
        (
            "status.conditions",
            [{"observedGeneration": "3"}],
            "status.conditions[0].observedGeneration: Input",
        ),
        (
            "status.clusterInfo",
            {"total-cpu": 2.0},
            "status.clusterInfo.total-cpu: Input should be a valid string",
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_a_parse_error(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ResourceParseError) as caught:
        parse_flink_deployment(deployment_with(path, value))
    assert str(caught.value).startswith("invalid FlinkDeployment streaming/orders: ")
    assert expected in str(caught.value)
    assert (caught.value.kind, caught.value.namespace, caught.value.name) == (
        "FlinkDeployment",
        "streaming",
        "orders",
    )


def test_every_bad_field_is_reported_at_once() -> None:
    obj = deployment_with("spec.job.parallelism", "two")
    obj["spec"]["image"] = 7
    with pytest.raises(ResourceParseError) as caught:
        parse_flink_deployment(obj)
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "spec.job.parallelism",
        "spec.image",
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.job.upgradeMode", "blue-green"),
        ("spec.job.state", "paused"),
        ("spec.flinkVersion", "v3_0"),
        ("spec.mode", "serverless"),
    ],
)
def test_an_unknown_enum_value_in_the_spec_is_a_parse_error(path: str, value: str) -> None:
    with pytest.raises(ResourceParseError) as caught:
        parse_flink_deployment(deployment_with(path, value))
    assert f"{path}: unknown value {value!r} (expected one of " in str(caught.value)


def test_an_unknown_enum_value_in_the_status_is_kept_and_reported() -> None:
    obj = deployment_with("status.jobStatus.state", "RESCALING")
    obj["status"]["lifecycleState"] = "HIBERNATING"
    deployment = parse_flink_deployment(obj)
    state = deployment.status.job_status.state
    assert state == "RESCALING" and state is not None and not state.is_known
    assert deployment.model_dump(mode="json", exclude_unset=True) == obj
    assert [line.split(":")[0] for line in unknown_enum_values(deployment.status, "status")] == [
        "status.jobStatus.state",
        "status.lifecycleState",
    ]


def test_a_known_enum_value_is_the_member_itself() -> None:
    assert UpgradeMode("last-state") is UpgradeMode.LAST_STATE
    assert UpgradeMode("last-state").is_known
    assert not UpgradeMode("LAST_STATE").is_known  # values, not member names, are the wire form


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([1, 2], "invalid FlinkDeployment <unnamed>: expected an object, got list"),
        ({"kind": "FlinkSessionJob", "metadata": {"name": "x"}}, "kind: expected 'FlinkDeployment'"),
        ({"metadata": "orders"}, "metadata: Input should be a valid dictionary"),
    ],
)
def test_objects_of_the_wrong_shape_are_parse_errors(obj: Any, expected: str) -> None:
    with pytest.raises(ResourceParseError, match=expected):
        parse_flink_deployment(obj)


def test_parse_any_resource_picks_the_model_by_kind() -> None:
    assert isinstance(parse_any_resource(DEPLOYMENT), FlinkDeployment)
    session_job = {
        "kind": "FlinkSessionJob",
        "spec": {"deploymentName": "s", "job": {"jarURI": "https://x/j.jar"}},
    }
    assert isinstance(parse_any_resource(session_job), FlinkSessionJob)
    with pytest.raises(ResourceParseError, match="kind: not one of FlinkDeployment, FlinkSessionJob"):
        parse_any_resource({"kind": "Pod", "metadata": {"name": "p"}})


def test_snapshot_and_session_job_parse_errors_name_their_kind() -> None:
    with pytest.raises(
        ResourceParseError, match=r"invalid FlinkStateSnapshot ns/s: spec.jobReference.kind: unknown"
    ):
        parse_flink_state_snapshot(
            {
                "metadata": {"name": "s", "namespace": "ns"},
                "spec": {"jobReference": {"kind": "Job", "name": "j"}},
            }
        )
    with pytest.raises(
        ResourceParseError, match=r"invalid FlinkSessionJob j: spec.deploymentName: Input should"
    ):
        parse_flink_session_job({"metadata": {"name": "j"}, "spec": {"deploymentName": ["a"]}})


def test_unknown_fields_are_kept_and_written_back() -> None:
    obj = deployment_with("spec.job.futureOption", {"nested": [1, "two"]})
    obj["spec"]["futureTopLevel"] = True
    obj["status"]["futureStatus"] = "x"
    obj["metadata"]["labels"] = {"app": "orders"}
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    deployment = parse_flink_deployment(obj)
    assert deployment.model_dump(mode="json", exclude_unset=True) == obj


def test_snake_case_keys_on_the_wire_are_unknown_fields_not_aliases() -> None:
    obj = deployment_with("spec.job.upgrade_mode", "stateless")
    deployment = parse_flink_deployment(obj)
    assert deployment.spec.job is not None and deployment.spec.job.upgrade_mode is UpgradeMode.SAVEPOINT


def test_null_on_a_field_with_a_default_means_the_default() -> None:
    obj = deployment_with("spec.job.upgradeMode", None)
    obj["spec"]["job"]["args"] = None
    obj["spec"]["job"]["entryClass"] = None
    job = parse_flink_deployment(obj).spec.job
    assert job is not None
    assert (job.upgrade_mode, job.args, job.entry_class) == (UpgradeMode.STATELESS, [], None)


def test_defaults_are_upstreams() -> None:
    job = JobSpec()
    assert (job.state, job.upgrade_mode, job.parallelism, job.args) == (
        JobState.RUNNING,
        UpgradeMode.STATELESS,
        0,
        [],
    )
    assert JobManagerSpec().replicas == 1
    status = FlinkDeploymentStatus()
    assert status.job_manager_deployment_status is JobManagerDeploymentStatus.MISSING
    assert status.reconciliation_status.state is ReconciliationState.UPGRADING
    assert status.reconciliation_status.reconciliation_timestamp == 0
    assert (status.cluster_info, status.conditions, status.task_manager) == ({}, [], None)
    assert status.job_status.savepoint_info.last_periodic_savepoint_timestamp == 0
    assert status.job_status.savepoint_info.savepoint_history == []
    assert status.job_status.checkpoint_info.last_periodic_checkpoint_timestamp == 0
    assert (Savepoint().trigger_type, Savepoint().format_type) == (
        SnapshotTriggerType.UNKNOWN,
        SavepointFormatType.UNKNOWN,
    )
    assert Checkpoint().format_type is CheckpointType.UNKNOWN
    snapshot = parse_flink_state_snapshot({"metadata": {"name": "s"}, "spec": {"savepoint": {}}})
    assert snapshot.spec.backoff_limit == -1
    assert snapshot.spec.savepoint is not None
    assert snapshot.spec.savepoint.format_type is SavepointFormatType.CANONICAL
    assert (snapshot.spec.savepoint.dispose_on_delete, snapshot.spec.savepoint.already_exists) == (
        True,
        False,
    )
    assert (snapshot.status.state, snapshot.status.failures) == (SnapshotState.TRIGGER_PENDING, 0)


def test_defaults_apply_to_parsed_objects_without_being_written_back() -> None:
    obj = {"metadata": {"name": "bare"}, "spec": {"job": {"jarURI": "local:///j.jar"}}}
    deployment = parse_flink_deployment(obj)
    assert deployment.spec.job is not None and deployment.spec.job.upgrade_mode is UpgradeMode.STATELESS
    assert deployment.deployment_mode is KubernetesDeploymentMode.NATIVE
    assert deployment.model_dump(mode="json", exclude_unset=True) == obj


def test_models_built_in_python_use_python_names_and_write_wire_names() -> None:
    job = JobSpec(jar_uri="local:///j.jar", upgrade_mode=UpgradeMode.LAST_STATE)
    deployment = FlinkDeployment(spec={"job": job})  # type: ignore[arg-type]
    assert deployment.kind == "FlinkDeployment" and deployment.api_version == "flink.apache.org/v1beta1"
    wire = to_wire(deployment)
    assert wire["spec"]["job"]["jarURI"] == "local:///j.jar"
    assert wire["spec"]["job"]["upgradeMode"] == "last-state"
    assert wire["status"]["jobManagerDeploymentStatus"] == "MISSING"  # defaults written, as upstream does
    assert "entryClass" not in wire["spec"]["job"]  # nulls are not


def test_resource_identity_helpers() -> None:
    assert FlinkDeployment.KIND == "FlinkDeployment" and FlinkDeployment.PLURAL == "flinkdeployments"
    assert FlinkDeployment.finalizer() == "flinkdeployments.flink.apache.org/finalizer"
    assert FlinkStateSnapshot.finalizer() == "flinkstatesnapshots.flink.apache.org/finalizer"


def test_flink_versions_compare_even_when_newer_than_the_enum() -> None:
    assert FlinkVersion.V2_3.is_at_least(FlinkVersion.V1_20)
    assert not FlinkVersion.V1_19.is_at_least(FlinkVersion.V2_0)
    assert FlinkVersion("v2_9").is_at_least(FlinkVersion.V2_4)
    assert not FlinkVersion("latest").is_at_least(FlinkVersion.V1_13)
