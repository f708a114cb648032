"""Spec changes classified as upstream's @SpecDiff annotations do, and the SpecChanged message."""

from __future__ import annotations

from flinkop.api import FlinkDeploymentSpec
from flinkop.reconcilers.diff import DiffType, spec_changed_message, spec_diff

from .builders import app


def spec(**changes: object) -> FlinkDeploymentSpec:
    return app(**changes).spec  # type: ignore[arg-type]


def test_no_change() -> None:
    diff = spec_diff(spec(), spec())
    assert diff.type == DiffType.IGNORE and str(diff) == ""


def test_parallelism_is_an_upgrade_in_native_mode() -> None:
    diff = spec_diff(spec(), spec(job={"parallelism": 4}))
    assert diff.type == DiffType.UPGRADE
    assert str(diff) == "Diff: FlinkDeploymentSpec[job.parallelism : 2 -> 4]"
    assert spec_changed_message(diff) == (
        "UPGRADE change(s) detected (Diff: FlinkDeploymentSpec[job.parallelism : 2 -> 4]), "
        "starting reconciliation."
    )


def test_parallelism_is_a_scale_in_standalone_mode() -> None:
    diff = spec_diff(spec(mode="standalone"), spec(mode="standalone", job={"parallelism": 4}))
    assert diff.type == DiffType.SCALE


def test_ignored_fields() -> None:
    for job in ({"upgradeMode": "savepoint"}, {"savepointTriggerNonce": 3}, {"initialSavepointPath": "/sp"}):
        diff = spec_diff(spec(), spec(job=job))
        assert diff.type == DiffType.IGNORE, job
        assert diff.diffs  # listed, but not acted on
    operator_key = spec(
        flinkConfiguration={"taskmanager.numberOfTaskSlots": "2", "kubernetes.operator.x": "1"}
    )
    assert spec_diff(spec(), operator_key).type == DiffType.IGNORE


def test_restart_nonce() -> None:
    diff = spec_diff(spec(), spec(restartNonce=1))
    assert diff.type == DiffType.UPGRADE
    assert str(diff) == "Diff: FlinkDeploymentSpec[restartNonce : null -> 1]"
    assert spec_diff(spec(restartNonce=1), spec()).type == DiffType.IGNORE  # a change to null is ignored


def test_flink_configuration_keys() -> None:
    diff = spec_diff(spec(), spec(flinkConfiguration={"taskmanager.numberOfTaskSlots": "4"}))
    assert diff.type == DiffType.UPGRADE
    assert str(diff) == "Diff: FlinkDeploymentSpec[flinkConfiguration.taskmanager.numberOfTaskSlots : 2 -> 4]"
    overrides = spec(
        flinkConfiguration={
            "taskmanager.numberOfTaskSlots": "2",
            "pipeline.jobvertex-parallelism-overrides": "a:1",
        }
    )
    assert spec_diff(spec(), overrides).type == DiffType.SCALE


def test_nested_objects_and_savepoint_redeploy() -> None:
    resources = spec(jobManager={"resource": {"memory": "2048m", "cpu": 1}})
    diff = spec_diff(spec(), resources)
    assert str(diff) == "Diff: FlinkDeploymentSpec[jobManager.resource.memory : 1024m -> 2048m]"
    redeploy = spec_diff(spec(), spec(job={"savepointRedeployNonce": 1, "initialSavepointPath": "/sp"}))
    assert redeploy.type == DiffType.SAVEPOINT_REDEPLOY


def test_removed_object_is_shown_folded() -> None:
    with_ingress = spec(ingress={"template": "/{{namespace}}/{{name}}"})
    assert str(spec_diff(with_ingress, spec())) == "Diff: FlinkDeploymentSpec[ingress : {..} -> null]"
