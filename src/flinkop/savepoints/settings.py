"""What the manager reads from the configuration of one FlinkDeployment."""

from __future__ import annotations

from dataclasses import dataclass

from flinkop.api import CheckpointType, SavepointFormatType
from flinkop.flink.resources.options import FlinkConf
from flinkop.reconcilers.context import ResourceContext
from flinkop.reconcilers.specs import last_reconciled_spec
from flinkop.savepoints.retention import capped

# Flink 1.20+ names first, the older ones as fallbacks.
SAVEPOINT_DIR_KEYS = ("execution.checkpointing.savepoint-dir", "state.savepoints.dir")
NUM_RETAINED_KEYS = ("execution.checkpointing.num-retained", "state.checkpoints.num-retained")


def snapshot_resources_enabled(ctx: ResourceContext) -> bool:
    """FlinkStateSnapshot resources are used when the CRD was found at start and both the operator
    configuration and the resource's own configuration enable them."""
    return (
        ctx.services.snapshot_crd_installed
        and ctx.base_config.snapshot_resource_enabled
        and ctx.operator.snapshot_resource_enabled
    )


def deployed_config(ctx: ResourceContext) -> dict[str, str]:
    """The configuration of the cluster as deployed (its savepoint dir, rest port, retained checkpoints)."""
    spec = last_reconciled_spec(ctx.deployment.status)
    return ctx.cluster_config(spec if spec is not None else ctx.deployment.spec)


def savepoint_dir(conf: dict[str, str]) -> str | None:
    value = FlinkConf(conf).get(*SAVEPOINT_DIR_KEYS)
    return value.strip() or None if value is not None else None


def checkpoints_retained(conf: dict[str, str]) -> int:
    try:
        return max(1, FlinkConf(conf).get_int(NUM_RETAINED_KEYS[0], 1, NUM_RETAINED_KEYS[1]))
    except ValueError:
        return 1


def savepoint_format(ctx: ResourceContext) -> SavepointFormatType:
    return SavepointFormatType(ctx.operator.savepoint_format_type)


def checkpoint_type(ctx: ResourceContext) -> CheckpointType:
    return CheckpointType(ctx.operator.checkpoint_type)


@dataclass(frozen=True)
class HistoryLimits:
    max_count: int
    max_age_s: float


def history_limits(ctx: ResourceContext) -> HistoryLimits:
    """The resource's limits, capped by the operator-wide thresholds when those are set."""
    op, base = ctx.operator, ctx.base_config
    count = int(capped(op.savepoint_history_max_count, base.savepoint_history_max_count_threshold))
    age = capped(op.savepoint_history_max_age, base.savepoint_history_max_age_threshold)
    return HistoryLimits(max_count=max(count, 1), max_age_s=age)


__all__ = [
    "HistoryLimits",
    "checkpoint_type",
    "checkpoints_retained",
    "deployed_config",
    "history_limits",
    "savepoint_dir",
    "savepoint_format",
    "snapshot_resources_enabled",
]
