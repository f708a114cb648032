"""Small builders shared by the flink_resources tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from flinkop.api import FlinkDeployment, parse_flink_deployment

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "anchor" / "examples"

BASIC_SPEC: dict[str, Any] = {
    "image": "flink:2.3",
    "flinkVersion": "v2_3",
    "serviceAccount": "flink",
    "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
    "jobManager": {"resources": {"requests": {"memory": "2048m", "cpu": "1"}}},
    "taskManager": {"resources": {"requests": {"memory": "2048m", "cpu": "1"}}},
}
JOB: dict[str, Any] = {
    "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
    "parallelism": 2,
    "upgradeMode": "stateless",
}


def deployment(
    name: str = "my-dep",
    namespace: str = "default",
    *,
    job: dict[str, Any] | None = None,
    uid: str | None = "uid-1234",
    generation: int | None = 7,
    **spec: Any,
) -> FlinkDeployment:
    """A FlinkDeployment from BASIC_SPEC with ``spec`` keys (wire names) replaced; ``job`` makes it an
    application cluster."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if uid is not None:
        metadata["uid"] = uid
    if generation is not None:
        metadata["generation"] = generation
    body = {**BASIC_SPEC, **spec}
    if job is not None:
        body["job"] = job
    body = {key: value for key, value in body.items() if value is not None}
    return parse_flink_deployment(
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkDeployment",
            "metadata": metadata,
            "spec": body,
        }
    )


def flat_config(deployment: FlinkDeployment) -> dict[str, str]:
    """spec.flinkConfiguration flattened the way the operator does (nested maps joined with '.', lists with
    ';'), standing in for the effective configuration computed elsewhere."""
    result: dict[str, str] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                visit(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list):
            result[prefix] = ";".join(str(item) for item in value)
        elif isinstance(value, bool):
            result[prefix] = "true" if value else "false"
        else:
            result[prefix] = str(value)

    visit("", deployment.spec.flink_configuration or {})
    return result


def by_kind_name(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}


def main_container(deployment_obj: dict[str, Any]) -> dict[str, Any]:
    containers = deployment_obj["spec"]["template"]["spec"]["containers"]
    matches: list[dict[str, Any]] = [c for c in containers if c["name"] == "flink-main-container"]
    assert len(matches) == 1
    return matches[0]


def env_map(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def flatten_yaml(text: str) -> dict[str, Any]:
    """Flink 2.x's reading of config.yaml: nested maps flattened with '.'."""
    result: dict[str, Any] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                visit(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            result[prefix] = value

    visit("", yaml.safe_load(text))
    return result


def example_deployments() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "FlinkDeployment":
                found.append((f"{path.name}:{document['metadata']['name']}", document))
    return found
