"""Our examples and the upstream operator's examples parse into the models and round-trip exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flinkop.api import FlinkDeployment, FlinkSessionJob, FlinkStateSnapshot, FlinkVersion, parse_any_resource

from .conftest import EXAMPLES, SHARED


def flink_documents(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file:index, document) for every flink.apache.org document under root."""
    found = []
    for path in sorted(root.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("flink.apache.org/"):
                found.append((f"{path.relative_to(root)}:{index}", doc))
    return found


OURS = flink_documents(EXAMPLES)
# Read in place (never copied): collected lazily so a missing ../shared fails in the fixture.
UPSTREAM = flink_documents(SHARED / "anchor" / "examples") if SHARED.is_dir() else []


@pytest.mark.parametrize(("where", "doc"), OURS, ids=[where for where, _ in OURS])
def test_our_example_parses_and_round_trips(where: str, doc: dict[str, Any]) -> None:
    resource = parse_any_resource(doc)
    assert resource.model_dump(mode="json", exclude_unset=True) == doc


def test_upstream_examples_parse_and_round_trip(shared: Path) -> None:
    assert UPSTREAM, f"no examples found under {shared}/anchor/examples"
    for where, doc in UPSTREAM:
        resource = parse_any_resource(doc)
        assert resource.model_dump(mode="json", exclude_unset=True) == doc, where


def test_examples_cover_what_upstream_examples_cover() -> None:
    names = {where.split(":")[0] for where, _ in OURS}
    assert names >= {
        "basic.yaml",
        "basic-checkpoint-ha.yaml",
        "basic-ingress.yaml",
        "advanced-ingress.yaml",
        "basic-reactive.yaml",
        "basic-session-deployment-only.yaml",
        "basic-session-deployment-and-job.yaml",
        "basic-session-job-only.yaml",
        "pod-template.yaml",
        "custom-logging.yaml",
        "canary.yaml",
        "snapshot/savepoint-job-defaults.yaml",
        "snapshot/savepoint-job-full-spec.yaml",
        "snapshot/checkpoint.yaml",
        "snapshot/savepoint-already-exists.yaml",
        "snapshot/job-from-savepoint.yaml",
    }


def test_example_deployments_run_the_sandbox_flink() -> None:
    for where, doc in OURS:
        resource = parse_any_resource(doc)
        if isinstance(resource, FlinkDeployment) and doc.get("spec"):
            assert resource.spec.flink_version is FlinkVersion.V2_3, where
            assert resource.spec.image == "flink:2.3", where


def test_example_references_resolve() -> None:
    resources = [parse_any_resource(doc) for _, doc in OURS]
    sessions = {r.name for r in resources if isinstance(r, FlinkDeployment) and not r.is_application}
    deployments = {r.name for r in resources if isinstance(r, FlinkDeployment)}
    for resource in resources:
        if isinstance(resource, FlinkSessionJob):
            assert resource.spec.deployment_name in sessions, resource.name
        if isinstance(resource, FlinkStateSnapshot) and resource.spec.job_reference is not None:
            assert resource.spec.job_reference.name in deployments, resource.name
