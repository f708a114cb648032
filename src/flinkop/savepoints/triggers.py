"""Whether to trigger a snapshot now (pure; upstream's ``shouldTriggerSnapshot``)."""

from __future__ import annotations

from datetime import UTC, datetime

from flinkop.api import FlinkVersion, SnapshotTriggerType
from flinkop.savepoints.nonces import nonce_changed
from flinkop.savepoints.schedule import Schedule

# Triggering checkpoints through the REST API came with Flink 1.17.
CHECKPOINT_TRIGGER_SINCE = FlinkVersion.V1_17


def wanted_trigger(
    *,
    nonce: int | None,
    handled_nonce: int | None,
    in_progress: bool,
    periodic_due: bool,
) -> SnapshotTriggerType | None:
    """MANUAL for a new nonce, else PERIODIC when the schedule is due; nothing while one is in flight."""
    if in_progress:
        return None
    if nonce_changed(nonce, handled_nonce):
        return SnapshotTriggerType.MANUAL
    if periodic_due:
        return SnapshotTriggerType.PERIODIC
    return None


def periodic_due(schedule: Schedule | None, last_trigger: datetime, now: datetime) -> bool:
    return schedule is not None and schedule.due(last_trigger, now)


def checkpoint_trigger_supported(version: FlinkVersion | None) -> bool:
    return version is not None and version.is_known and version.is_at_least(CHECKPOINT_TRIGGER_SINCE)


def cold_last_trigger(
    *, newest_completed_periodic_ms: int | None, legacy_periodic_ms: int, created_ms: int
) -> datetime:
    """The last periodic trigger when the in-memory cache knows nothing: the newest completed periodic
    snapshot resource, else the later of the legacy timestamp and the resource's creation."""
    if newest_completed_periodic_ms is not None:
        chosen = newest_completed_periodic_ms
    else:
        chosen = max(legacy_periodic_ms, created_ms)
    return datetime.fromtimestamp(chosen / 1000, UTC)


__all__ = [
    "CHECKPOINT_TRIGGER_SINCE",
    "checkpoint_trigger_supported",
    "cold_last_trigger",
    "periodic_due",
    "wanted_trigger",
]
