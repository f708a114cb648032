"""Resources for the validation tests, written as the YAML a user applies (then parsed with flinkop.api)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from flinkop.api import (
    FlinkDeployment,
    FlinkDeploymentSpec,
    FlinkSessionJob,
    FlinkStateSnapshot,
    parse_flink_deployment,
    parse_flink_session_job,
    parse_flink_state_snapshot,
)

Doc = dict[str, Any]
Edit = Callable[[Doc], object]

NAMESPACE = "flink-operator-test"

APPLICATION: Doc = {
    "apiVersion": "flink.apache.org/v1beta1",
    "kind": "FlinkDeployment",
    "metadata": {"name": "test-cluster", "namespace": NAMESPACE},
    "spec": {
        "image": "flink:1.20",
        "flinkVersion": "v1_20",
        "flinkConfiguration": {
            "taskmanager.numberOfTaskSlots": "2",
            "state.checkpoints.dir": "file:///flink-data/checkpoints",
            "state.savepoints.dir": "file:///flink-data/savepoints",
        },
        "serviceAccount": "flink",
        "jobManager": {"resource": {"memory": "2048m", "cpu": 1}, "replicas": 1},
        "taskManager": {"resource": {"memory": "2048m", "cpu": 1}},
        "job": {
            "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
            "parallelism": 2,
            "upgradeMode": "stateless",
        },
    },
}

SESSION_JOB: Doc = {
    "apiVersion": "flink.apache.org/v1beta1",
    "kind": "FlinkSessionJob",
    "metadata": {"name": "test-session-job", "namespace": NAMESPACE},
    "spec": {
        "deploymentName": "test-cluster",
        "job": {
            "jarURI": "https://repo1.maven.org/maven2/org/apache/flink/flink-examples-streaming/1.20.0/"
            "flink-examples-streaming-1.20.0-TopSpeedWindowing.jar",
            "parallelism": 2,
            "upgradeMode": "stateless",
        },
    },
}

SAVEPOINT: Doc = {
    "apiVersion": "flink.apache.org/v1beta1",
    "kind": "FlinkStateSnapshot",
    "metadata": {"name": "test-savepoint", "namespace": NAMESPACE},
    "spec": {
        "jobReference": {"kind": "FlinkDeployment", "name": "test-cluster"},
        "savepoint": {"path": "/flink-data/savepoints-custom"},
        "backoffLimit": 0,
    },
}


def edited(base: Doc, *edits: Edit) -> Doc:
    doc = copy.deepcopy(base)
    for edit in edits:
        edit(doc)
    return doc


def application(*edits: Edit) -> FlinkDeployment:
    return parse_flink_deployment(edited(APPLICATION, *edits))


def session_cluster(*edits: Edit) -> FlinkDeployment:
    return parse_flink_deployment(edited(APPLICATION, lambda d: d["spec"].pop("job"), *edits))


def session_job(*edits: Edit) -> FlinkSessionJob:
    return parse_flink_session_job(edited(SESSION_JOB, *edits))


def savepoint(*edits: Edit) -> FlinkStateSnapshot:
    return parse_flink_state_snapshot(edited(SAVEPOINT, *edits))


def spec_of(*edits: Edit) -> FlinkDeploymentSpec:
    """The spec of an application with these edits, e.g. as the last reconciled spec."""
    return application(*edits).spec


# Small edits, named for what a user changes.


def spec(**fields: Any) -> Edit:
    return lambda d: d["spec"].update(fields)


def job(**fields: Any) -> Edit:
    return lambda d: d["spec"]["job"].update(fields)


def conf(entries: dict[str, Any]) -> Edit:
    """Set flinkConfiguration keys; a value of None removes the key."""

    def apply(d: Doc) -> None:
        configuration = d["spec"].setdefault("flinkConfiguration", {})
        for key, value in entries.items():
            if value is None:
                configuration.pop(key, None)
            else:
                configuration[key] = value

    return apply


def replace_conf(entries: dict[str, Any]) -> Edit:
    return lambda d: d["spec"].update(flinkConfiguration=dict(entries))


def jm(**fields: Any) -> Edit:
    return lambda d: d["spec"].setdefault("jobManager", {}).update(fields)


def tm(**fields: Any) -> Edit:
    return lambda d: d["spec"].setdefault("taskManager", {}).update(fields)


def jm_resource(**fields: Any) -> Edit:
    return lambda d: d["spec"]["jobManager"].setdefault("resource", {}).update(fields)


def tm_resource(**fields: Any) -> Edit:
    return lambda d: d["spec"]["taskManager"].setdefault("resource", {}).update(fields)


def name(value: str) -> Edit:
    return lambda d: d["metadata"].update(name=value)


def labels(**entries: str) -> Edit:
    return lambda d: d["metadata"].setdefault("labels", {}).update(entries)


def remove(*path: str) -> Edit:
    def apply(d: Doc) -> None:
        node = d
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1], None)

    return apply
