"""Every upstream example (and ours) is valid: what upstream accepts, flinkop accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flinkop.api import (
    CustomResource,
    FlinkDeployment,
    FlinkSessionJob,
    FlinkStateSnapshot,
    parse_any_resource,
)
from flinkop.validation import validate_deployment, validate_session_job, validate_snapshot

REPO = Path(__file__).resolve().parents[2]
ANCHOR_EXAMPLES = REPO.parent / "shared" / "anchor" / "examples"
OUR_EXAMPLES = REPO / "examples"


def resources(root: Path) -> list[tuple[str, CustomResource]]:
    """(file:index, resource) for every Flink resource in the YAML files under root, read at test time."""
    found = []
    for path in sorted(root.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("flink.apache.org/"):
                found.append((f"{path.relative_to(root)}:{index}", parse_any_resource(doc)))
    return found


def validate_all(found: list[tuple[str, CustomResource]]) -> dict[str, str]:
    """Validate each resource as the operator would, with the deployments of the same files as targets."""
    deployments = {r.name: r for _, r in found if isinstance(r, FlinkDeployment)}
    errors = {}
    for where, resource in found:
        message = None
        if isinstance(resource, FlinkDeployment):
            message = validate_deployment(resource, None)
        elif isinstance(resource, FlinkSessionJob):
            message = validate_session_job(resource, deployments.get(resource.spec.deployment_name or ""))
        elif isinstance(resource, FlinkStateSnapshot):
            reference = resource.spec.job_reference
            target = deployments.get(reference.name or "") if reference else None
            message = validate_snapshot(resource, target)
        if message is not None:
            errors[where] = message
    return errors


def test_upstream_examples_are_valid() -> None:
    if not ANCHOR_EXAMPLES.is_dir():
        pytest.fail(f"{ANCHOR_EXAMPLES} is missing: check ../shared out beside the repo")
    found = resources(ANCHOR_EXAMPLES)
    kinds = {type(r).__name__ for _, r in found}
    assert kinds >= {"FlinkDeployment", "FlinkSessionJob", "FlinkStateSnapshot"}
    assert validate_all(found) == {}


def test_our_examples_are_valid() -> None:
    assert validate_all(resources(OUR_EXAMPLES)) == {}


def test_upstream_examples_stay_valid_when_reapplied() -> None:
    """Re-applying an unchanged example over its own last reconciled spec passes too."""
    for where, resource in resources(ANCHOR_EXAMPLES):
        if isinstance(resource, FlinkDeployment):
            assert validate_deployment(resource, resource.spec) is None, where
        elif isinstance(resource, FlinkSessionJob):
            assert validate_session_job(resource, None, resource.spec) is None, where
