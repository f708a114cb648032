"""Small builders of FlinkDeployments and statuses for the reconciler unit tests."""

from __future__ import annotations

from typing import Any

from flinkop.api import (
    FlinkDeployment,
    FlinkDeploymentSpec,
    FlinkDeploymentStatus,
    ReconciliationState,
    parse_flink_deployment,
    serialize_reconciled_spec,
)


def app_document(name: str = "basic", **spec: Any) -> dict[str, Any]:
    job = {
        "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
        "parallelism": 2,
        "upgradeMode": "stateless",
        **spec.pop("job", {}),
    }
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": name, "namespace": "flink", "uid": "uid-1", "generation": 1},
        "spec": {
            "image": "flink:2.3",
            "flinkVersion": "v2_3",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
            "jobManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "job": job,
            **spec,
        },
    }


def app(name: str = "basic", **spec: Any) -> FlinkDeployment:
    return parse_flink_deployment(app_document(name, **spec))


def session(name: str = "session") -> FlinkDeployment:
    document = app_document(name)
    del document["spec"]["job"]
    return parse_flink_deployment(document)


def reconciled(
    spec: FlinkDeploymentSpec,
    *,
    state: ReconciliationState = ReconciliationState.DEPLOYED,
    job_state: str | None = None,
    stable: bool = False,
    first: bool = False,
) -> FlinkDeploymentStatus:
    spec = spec.model_copy(deep=True)
    if job_state is not None and spec.job is not None:
        spec.job.state = job_state  # type: ignore[assignment]
    text = serialize_reconciled_spec(spec, first_deployment=first)
    status = FlinkDeploymentStatus()
    status.reconciliation_status.last_reconciled_spec = text
    status.reconciliation_status.state = state
    if stable:
        status.reconciliation_status.last_stable_spec = text
    return status
