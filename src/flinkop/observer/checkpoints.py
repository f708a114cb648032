"""The newest completed snapshot of an ended job -> ``status.jobStatus.upgradeSavepointPath`` (upstream's
``SnapshotObserver`` for terminal jobs).

A job that stopped without the operator recording a savepoint (it failed, it was cancelled, or the operator
died between Flink finishing a stop-with-savepoint and writing its path) is restored from the newest
retained checkpoint or savepoint its JobManager still knows of: never from an older one.
"""

from __future__ import annotations

from flinkop.flink.rest import CheckpointingStatistics, FlinkClientError
from flinkop.flink.rest.models import CheckpointStatistics
from flinkop.reconcilers.context import ResourceContext


def newest_retained(stats: CheckpointingStatistics) -> CheckpointStatistics | None:
    """The completed checkpoint or savepoint with the highest id that has an external path."""
    latest = stats.latest
    candidates = [
        c
        for c in (latest.completed, latest.savepoint, *stats.history)
        if c is not None and c.external_path and c.status.upper() in ("", "COMPLETED")
    ]
    return max(candidates, key=lambda c: c.id, default=None)


async def observe_terminal_job_snapshot(ctx: ResourceContext, conf: dict[str, str], job_id: str) -> None:
    job_status = ctx.deployment.status.job_status
    try:
        stats = await ctx.rest(conf).checkpoints(job_id)
    except FlinkClientError as error:
        ctx.log.warning("Could not read the checkpoints of the ended job", error=str(error))
        return
    newest = newest_retained(stats)
    if newest is None or newest.external_path == job_status.upgrade_savepoint_path:
        return
    ctx.log.info(
        f"Updating upgradeSavepointPath to {newest.external_path} (checkpoint {newest.id} of the ended job)"
    )
    job_status.upgrade_savepoint_path = newest.external_path


__all__ = ["newest_retained", "observe_terminal_job_snapshot"]
