"""Model objects for the metrics tests: FlinkDeployments and FlinkStateSnapshots built with the pydantic
models and turned into the JSON the informer caches."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flinkop.api import FlinkDeployment, FlinkStateSnapshot
from flinkop.api.base import to_wire
from flinkop.api.enums import FlinkJobState, JobManagerDeploymentStatus, ResourceLifecycleState
from flinkop.api.status import FlinkDeploymentStatus, JobStatus
from flinkop.metrics.naming import Naming

JSON = dict[str, Any]
NAMING = Naming(host="testhost", namespace="flink-operator", name="flink-kubernetes-operator")


def deployment(
    name: str,
    namespace: str = "default",
    *,
    lifecycle: ResourceLifecycleState | None = ResourceLifecycleState.STABLE,
    jm: JobManagerDeploymentStatus = JobManagerDeploymentStatus.READY,
    job: FlinkJobState | None = FlinkJobState.RUNNING,
    cluster_info: dict[str, str] | None = None,
) -> FlinkDeployment:
    model = FlinkDeployment.model_validate(
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkDeployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"flinkVersion": "v1_20", "image": "flink:1.20"},
        }
    )
    model.status = FlinkDeploymentStatus(
        lifecycle_state=lifecycle,
        job_manager_deployment_status=jm,
        job_status=JobStatus(state=job),
        cluster_info=cluster_info or {},
    )
    return model


def snapshot(name: str, namespace: str, *, savepoint: bool, state: str) -> JSON:
    spec: JSON = {"savepoint": {"path": "/tmp/sp"}} if savepoint else {"checkpoint": {}}
    model = FlinkStateSnapshot.model_validate(
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkStateSnapshot",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"jobReference": {"kind": "FlinkDeployment", "name": "x"}, **spec},
            "status": {"state": state},
        }
    )
    return to_wire(model)


def wire(model: FlinkDeployment) -> JSON:
    return to_wire(model)


def scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a registry, keyed by (name, labels)."""
    text = generate_latest(registry).decode()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def labels(**extra: str) -> frozenset[tuple[str, str]]:
    base = {"host": "testhost", "namespace": "flink-operator", "name": "flink-kubernetes-operator"}
    return frozenset({**base, **extra}.items())


def ns_labels(
    resourcens: str, resourcetype: str = "FlinkDeployment", **extra: str
) -> frozenset[tuple[str, str]]:
    return labels(resourcens=resourcens, resourcetype=resourcetype, **extra)
