"""lastReconciledSpec is written in upstream's format and read in its current and legacy formats."""

from __future__ import annotations

import json

import pytest

from flinkop.api import (
    FlinkDeploymentSpec,
    FlinkSessionJobSpec,
    ReconciledSpecError,
    UpgradeMode,
    deserialize_reconciled_spec,
    serialize_reconciled_spec,
)

SPEC = FlinkDeploymentSpec.model_validate(
    {
        "image": "flink:2.3",
        "flinkVersion": "v2_3",
        "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
        "job": {"jarURI": "local:///opt/flink/job.jar", "parallelism": 2, "upgradeMode": "last-state"},
        "futureField": {"kept": True},
    },
    by_alias=True,
)


def test_written_in_upstreams_layout_with_every_field() -> None:
    text = serialize_reconciled_spec(SPEC, first_deployment=True)
    assert ", " not in text and ": " not in text  # compact, as Jackson writes it
    document = json.loads(text)
    assert list(document) == ["spec", "resource_metadata"]
    assert document["resource_metadata"] == {
        "apiVersion": "flink.apache.org/v1beta1",
        "firstDeployment": True,
    }
    spec = document["spec"]
    assert list(spec)[:4] == ["job", "restartNonce", "flinkConfiguration", "image"]
    assert spec["restartNonce"] is None and spec["job"]["state"] == "running" and spec["job"]["args"] == []
    assert spec["futureField"] == {"kept": True}


def test_round_trip() -> None:
    reconciled = deserialize_reconciled_spec(
        serialize_reconciled_spec(SPEC, first_deployment=False), FlinkDeploymentSpec
    )
    assert reconciled.spec == SPEC
    assert reconciled.metadata.first_deployment is False


def test_reads_what_the_upstream_operator_wrote() -> None:
    text = (
        '{"spec":{"job":{"jarURI":"local:///opt/flink/job.jar","parallelism":2,"entryClass":null,"args":[],'
        '"state":"running","savepointTriggerNonce":null,"initialSavepointPath":null,"checkpointTriggerNonce":null,'
        '"upgradeMode":"savepoint","allowNonRestoredState":null,"savepointRedeployNonce":null},'
        '"restartNonce":null,"flinkConfiguration":{"taskmanager.numberOfTaskSlots":"2"},"image":"flink:1.20",'
        '"imagePullPolicy":null,"serviceAccount":"flink","flinkVersion":"v1_20","ingress":null,"podTemplate":null,'
        '"jobManager":{"resource":{"cpu":1.0,"memory":"2048m","ephemeralStorage":null},"replicas":1,'
        '"podTemplate":null},"taskManager":null,"logConfiguration":null,"mode":null},'
        '"resource_metadata":{"apiVersion":"flink.apache.org/v1beta1","metadata":{"generation":4},'
        '"firstDeployment":false}}'
    )
    reconciled = deserialize_reconciled_spec(text, FlinkDeploymentSpec)
    assert reconciled.spec.job is not None and reconciled.spec.job.upgrade_mode is UpgradeMode.SAVEPOINT
    assert reconciled.spec.job_manager is not None and reconciled.spec.job_manager.resource is not None
    assert reconciled.spec.job_manager.resource.cpu == 1.0
    assert reconciled.metadata.first_deployment is False


def test_reads_the_legacy_format() -> None:
    text = '{"apiVersion":"flink.apache.org/v1beta1","deploymentName":"session","job":{"jarURI":"https://x/j.jar"}}'
    reconciled = deserialize_reconciled_spec(text, FlinkSessionJobSpec)
    assert reconciled.spec.deployment_name == "session"
    assert reconciled.spec.model_extra == {}  # apiVersion is metadata, not a spec field
    assert (reconciled.metadata.api_version, reconciled.metadata.first_deployment) == (
        "flink.apache.org/v1beta1",
        False,
    )


def test_an_unknown_enum_value_written_by_a_newer_operator_is_kept() -> None:
    text = '{"spec":{"job":{"upgradeMode":"blue-green"}},"resource_metadata":{"firstDeployment":false}}'
    job = deserialize_reconciled_spec(text, FlinkSessionJobSpec).spec.job
    assert job is not None and job.upgrade_mode == "blue-green" and not job.upgrade_mode.is_known


@pytest.mark.parametrize("text", ["", "[]", '{"spec":{"job":{"parallelism":"2"}},"resource_metadata":{}}'])
def test_unreadable_documents_are_reconciled_spec_errors(text: str) -> None:
    with pytest.raises(ReconciledSpecError):
        deserialize_reconciled_spec(text, FlinkDeploymentSpec)
