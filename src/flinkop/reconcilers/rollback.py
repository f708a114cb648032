"""Whether a FlinkDeployment rolls back to its last stable spec (``kubernetes.operator.deployment.rollback
.enabled``, upstream's ``shouldRollBack``).

A reconcile without a new spec change rolls back when the reconciled spec has not become stable within
``deployment.readiness.timeout`` of its reconciliation, a stable spec that was running exists, the Flink
version is the same, and the state can be carried over: HA metadata to restore from, the stable spec was
stateless, or the new JobManager never became ready and the last upgrade took a savepoint.
"""

from __future__ import annotations

from flinkop.api import (
    FlinkDeploymentSpec,
    JobManagerDeploymentStatus,
    JobState,
    ReconciledSpecError,
    ReconciliationState,
    UpgradeMode,
    deserialize_reconciled_spec,
)
from flinkop.reconcilers import deploy as objects
from flinkop.reconcilers.context import ResourceContext
from flinkop.reconcilers.specs import is_stable, last_reconciled_spec


async def should_rollback(ctx: ResourceContext) -> bool:
    status = ctx.deployment.status
    rs = status.reconciliation_status
    if not ctx.operator.rollback_enabled or rs.state != ReconciliationState.DEPLOYED:
        return False
    if rs.last_stable_spec is None or is_stable(status):
        return False
    try:
        stable = deserialize_reconciled_spec(rs.last_stable_spec, FlinkDeploymentSpec).spec
        current = last_reconciled_spec(status)
    except ReconciledSpecError:
        return False
    if current is None or (stable.job is not None and stable.job.state == JobState.SUSPENDED):
        return False
    if current.job is not None and current.job.state == JobState.SUSPENDED:
        return False
    if stable.flink_version != current.flink_version:
        return False
    if rs.reconciliation_timestamp + ctx.operator.readiness_timeout * 1000 > ctx.now_ms():
        return False
    desired = ctx.deployment.spec.job
    if stable.job is None or desired is None or desired.upgrade_mode == UpgradeMode.STATELESS:
        return True
    d = ctx.deployment
    if await objects.ha_metadata_available(ctx.services.kube, d.namespace, d.name):
        return True
    never_ready = status.job_manager_deployment_status != JobManagerDeploymentStatus.READY
    deployed_mode = current.job.upgrade_mode if current.job is not None else None
    return never_ready and deployed_mode == UpgradeMode.SAVEPOINT


__all__ = ["should_rollback"]
