"""FlinkStateSnapshot validation."""

from __future__ import annotations

from flinkop.api import CustomResource, FlinkStateSnapshot, SnapshotState
from flinkop.validation.rules import is_canary


def validate_snapshot(snapshot: FlinkStateSnapshot, target: CustomResource | None) -> str | None:
    """None if ``snapshot`` is valid, else the first problem.

    ``target``: the FlinkDeployment or FlinkSessionJob its ``jobReference`` names (in the
    snapshot's namespace), None if it does not exist. A missing target only matters while the
    snapshot is still to be triggered.
    """
    if is_canary(snapshot):
        return None
    spec = snapshot.spec
    if (spec.savepoint is None) == (spec.checkpoint is None):
        return "Exactly one of checkpoint or savepoint configurations has to be set."
    if spec.savepoint is not None and spec.savepoint.already_exists:
        return None  # an existing savepoint is registered as is: nothing else to check
    if spec.job_reference is None:
        return "Job reference must be supplied for this snapshot"
    if target is None and snapshot.status.state == SnapshotState.TRIGGER_PENDING:
        namespace = snapshot.metadata.namespace
        name = spec.job_reference.name
        return (
            f"Target for snapshot {'null' if namespace is None else namespace}/"
            f"{'null' if name is None else name} was not found"
        )
    return None
