"""Pure decisions of the FlinkStateSnapshot controller: retries, requeues, what a deletion needs, and
where a savepoint lives on the local file system. No I/O here."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from flinkop.api import FlinkStateSnapshot, SnapshotState

RETRY_BASE_SECONDS = 10.0
TERMINAL_STATES = frozenset({SnapshotState.COMPLETED, SnapshotState.ABANDONED})
SAVEPOINT_METADATA = "_metadata"


def rfc3339(moment: datetime) -> str:
    """A Kubernetes timestamp (UTC, seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def retry_delay(failures: int, base: float = RETRY_BASE_SECONDS) -> float:
    """10 s, 20 s, 40 s ... after the 1st, 2nd, 3rd failure."""
    return base * (1 << max(failures - 1, 0))


def gives_up(backoff_limit: int, failures: int) -> bool:
    """No more retries once the failures exceed a non-negative backoffLimit (-1: retry forever)."""
    return backoff_limit >= 0 and failures > backoff_limit


def retry_due_in(
    snapshot: FlinkStateSnapshot, now: datetime, base: float = RETRY_BASE_SECONDS
) -> float | None:
    """Seconds until a FAILED snapshot is to be triggered again (<= 0: now); None when it is not retried."""
    status = snapshot.status
    if status.state != SnapshotState.FAILED or gives_up(snapshot.spec.backoff_limit, status.failures):
        return None
    failed_at = parse_rfc3339(status.result_timestamp) or now
    return (failed_at.timestamp() + retry_delay(status.failures, base)) - now.timestamp()


def requeue_after(state: SnapshotState, reconcile_interval: float) -> float | None:
    """Terminal snapshots wait for the next change; the others are looked at every reconcile interval."""
    return None if state in TERMINAL_STATES else reconcile_interval


class Deletion(enum.Enum):
    REMOVE_FINALIZER = "remove"  # nothing to dispose
    WAIT = "wait"  # still in progress: the data may yet be written
    DISPOSE = "dispose"  # a completed savepoint whose data goes with it


def deletion_action(snapshot: FlinkStateSnapshot) -> Deletion:
    spec, status = snapshot.spec, snapshot.status
    if spec.savepoint is None or not spec.savepoint.dispose_on_delete or spec.job_reference is None:
        return Deletion.REMOVE_FINALIZER
    if status.state == SnapshotState.IN_PROGRESS:
        return Deletion.WAIT
    if status.state == SnapshotState.COMPLETED and status.path:
        return Deletion.DISPOSE
    return Deletion.REMOVE_FINALIZER


def local_path(location: str) -> Path | None:
    """The local directory of a ``file:`` (or bare absolute) savepoint location; None for other schemes.

    Flink answers ``file:/x`` (one slash); users write ``file:///x``; ``_metadata`` itself may be given.
    """
    if location.startswith("/"):
        path = Path(location)
    else:
        parsed = urlparse(location)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return None
        path = Path(parsed.path or "/")
    if not path.is_absolute():
        return None
    return path.parent if path.name == SAVEPOINT_METADATA else path


__all__ = [
    "RETRY_BASE_SECONDS",
    "TERMINAL_STATES",
    "Deletion",
    "deletion_action",
    "gives_up",
    "local_path",
    "parse_rfc3339",
    "requeue_after",
    "retry_delay",
    "retry_due_in",
    "rfc3339",
]
