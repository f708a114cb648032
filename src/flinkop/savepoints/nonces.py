"""Manual trigger nonces: ``spec.job.{savepoint,checkpoint}TriggerNonce`` against the value in
lastReconciledSpec (pure). A nonce is *handled* once lastReconciledSpec carries the spec's value."""

from __future__ import annotations

from flinkop.api import FlinkDeployment, FlinkDeploymentSpec, FlinkDeploymentStatus, serialize_reconciled_spec
from flinkop.reconcilers.specs import reconciled
from flinkop.savepoints.kinds import SnapshotKind


def nonce_of(spec: FlinkDeploymentSpec | None, kind: SnapshotKind) -> int | None:
    job = spec.job if spec is not None else None
    if job is None:
        return None
    return job.savepoint_trigger_nonce if kind == SnapshotKind.SAVEPOINT else job.checkpoint_trigger_nonce


def reconciled_nonce(status: FlinkDeploymentStatus, kind: SnapshotKind) -> int | None:
    last = reconciled(status)
    return nonce_of(last.spec if last is not None else None, kind)


def nonce_changed(nonce: int | None, handled: int | None) -> bool:
    """A new manual trigger: a non-null nonce other than the handled one."""
    return nonce is not None and nonce != handled


def mark_nonce_handled(deployment: FlinkDeployment, kind: SnapshotKind) -> None:
    """Copy the spec's nonce into lastReconciledSpec, keeping its metadata."""
    status = deployment.status
    last = reconciled(status)
    if last is None or last.spec.job is None:
        return
    nonce = nonce_of(deployment.spec, kind)
    if kind == SnapshotKind.SAVEPOINT:
        last.spec.job.savepoint_trigger_nonce = nonce
    else:
        last.spec.job.checkpoint_trigger_nonce = nonce
    status.reconciliation_status.last_reconciled_spec = serialize_reconciled_spec(
        last.spec, first_deployment=last.metadata.first_deployment
    )


__all__ = ["mark_nonce_handled", "nonce_changed", "nonce_of", "reconciled_nonce"]
