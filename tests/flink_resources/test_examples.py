"""Every upstream example FlinkDeployment renders (the examples are read at test time)."""

from __future__ import annotations

from typing import Any

import pytest

from flinkop.api import parse_flink_deployment
from flinkop.flink.resources import render

from .builders import by_kind_name, example_deployments, flat_config, flatten_yaml, main_container

ALL_EXAMPLES = example_deployments()
# the health-check canary is never deployed (it has no spec): every other example must render
EXAMPLES = [(label, document) for label, document in ALL_EXAMPLES if document["metadata"]["name"] != "canary"]


def test_the_examples_are_there() -> None:
    assert len(EXAMPLES) >= 9
    assert any(document["metadata"]["name"] == "canary" for _, document in ALL_EXAMPLES)


@pytest.mark.parametrize(("label", "document"), EXAMPLES, ids=[label for label, _ in EXAMPLES])
def test_example_renders(label: str, document: dict[str, Any]) -> None:
    document = {
        **document,
        "metadata": {**document["metadata"], "namespace": "flink", "uid": "u", "generation": 1},
    }
    dep = parse_flink_deployment(document)
    objects = by_kind_name(render(dep, flat_config(dep)))
    name = dep.name
    jm = objects[("Deployment", name)]
    assert main_container(jm)["image"] == dep.spec.image
    assert ("Service", f"{name}-rest") in objects
    config = flatten_yaml(objects[("ConfigMap", f"flink-config-{name}")]["data"]["config.yaml"])
    assert config["kubernetes.cluster-id"] == name
    assert config["kubernetes.namespace"] == "flink"
    if dep.spec.mode == "standalone":
        assert ("Deployment", f"{name}-taskmanager") in objects
    if dep.spec.ingress is not None:
        assert ("Ingress", name) in objects
