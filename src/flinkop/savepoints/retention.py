"""Which snapshots retention removes (pure; upstream's savepoint history cleanup).

* Only operator-made PERIODIC and UPGRADE snapshot resources are candidates; manual ones stay.
* Savepoint resources: the oldest go while more than ``max_count`` are left, and any older than the age
  limit; the newest COMPLETED one always stays, and never all of them go. Snapshots still in flight are
  counted but not deleted (their trigger would be lost mid-way).
* Checkpoint resources: the same with ``state.checkpoints.num-retained`` (at least 1) and no age limit.
* The legacy ``savepointHistory``: entries beyond the count left over by the completed savepoint
  resources, or older than the age limit; the last entry stays unless a completed resource exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flinkop.api import Savepoint


@dataclass(frozen=True)
class SnapshotEntry:
    """What retention needs of one FlinkStateSnapshot resource."""

    name: str
    created_ms: int
    completed: bool
    in_flight: bool  # TRIGGER_PENDING or IN_PROGRESS


def snapshots_to_delete(
    entries: Sequence[SnapshotEntry], *, max_count: int, min_created_ms: int | None = None
) -> list[str]:
    """Names to delete, oldest first. ``min_created_ms`` None: no age limit."""
    ordered = sorted(entries, key=lambda e: (e.created_ms, e.name))
    completed = [e for e in ordered if e.completed]
    keep = completed[-1].name if completed else None
    remaining = len(ordered)
    doomed: list[str] = []
    for entry in ordered:
        if remaining <= 1:
            break
        if entry.name == keep or entry.in_flight:
            continue
        too_many = remaining > max_count
        too_old = min_created_ms is not None and entry.created_ms < min_created_ms
        if too_many or too_old:
            doomed.append(entry.name)
            remaining -= 1
    return doomed


def legacy_history_to_dispose(
    history: Sequence[Savepoint], *, max_count: int, min_time_ms: int, completed_resources: int
) -> list[int]:
    """Indexes of ``savepointHistory`` entries to dispose (oldest first). The count is shared with the
    completed savepoint resources that stay."""
    budget = max(0, max_count - completed_resources)
    keep_last = completed_resources == 0
    order = sorted(range(len(history)), key=lambda i: (history[i].time_stamp or 0, i))
    last = order[-1] if order else None
    remaining = len(order)
    doomed: list[int] = []
    for index in order:
        if keep_last and index == last:
            continue
        too_many = remaining > budget
        too_old = (history[index].time_stamp or 0) < min_time_ms
        if too_many or too_old:
            doomed.append(index)
            remaining -= 1
    return doomed


def capped(value: float, threshold: float | None) -> float:
    """A per-resource limit capped by the operator-wide threshold, when one is set."""
    return value if threshold is None else min(value, threshold)


__all__ = ["SnapshotEntry", "capped", "legacy_history_to_dispose", "snapshots_to_delete"]
