"""What one reconcile of one FlinkStateSnapshot works with: the typed snapshot (its status is what the steps
read and write), the raw object (its latest version, for writes and events) and the shared services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from flinkop.api import FlinkStateSnapshot
from flinkop.config import OperatorConfig
from flinkop.flink.rest import FlinkRestClient
from flinkop.reconcilers.context import Services
from flinkop.runtime.events import EventType
from flinkop.snapshots.decisions import rfc3339
from flinkop.snapshots.resources import snapshot_labels
from flinkop.snapshots.target import JobTarget
from flinkop.snapshots.writer import SnapshotWriter

JSON = dict[str, Any]
SNAPSHOT = "Snapshot"  # the event component of everything about a snapshot
log = structlog.get_logger("flinkop.snapshots")


@dataclass
class SnapshotRun:
    services: Services
    writer: SnapshotWriter
    snapshot: FlinkStateSnapshot
    obj: JSON
    operator: OperatorConfig
    requeue_hint: float | None = None  # a step that wants to look again sooner than the reconcile interval
    log: Any = field(default_factory=lambda: log)

    @property
    def key(self) -> str:
        return f"{self.snapshot.namespace}/{self.snapshot.name}"

    @property
    def kind_word(self) -> str:
        return "Checkpoint" if self.snapshot.spec.checkpoint is not None else "Savepoint"

    def now(self) -> datetime:
        return self.services.now()

    def timestamp(self) -> str:
        return rfc3339(self.services.now())

    def rest(self, target: JobTarget) -> FlinkRestClient:
        """The REST client of the JobManager running the target's job."""
        assert target.cluster is not None
        return self.services.rest.client(target.cluster.namespace, target.cluster.name, target.rest_port)

    async def event(self, type_: EventType, reason: str, message: str) -> None:
        self.log.info("event", type=type_, reason=reason, message=message)
        await self.services.events.record(self.obj, type_, reason, message, SNAPSHOT)

    async def write_status(self) -> None:
        self.obj = await self.writer.status(self.snapshot, self.obj)

    async def refresh_labels(self) -> None:
        self.obj = await self.writer.metadata(self.obj, labels=snapshot_labels(self.snapshot))

    async def set_finalizers(self, finalizers: list[str]) -> None:
        self.obj = await self.writer.metadata(self.obj, finalizers=finalizers)

    @property
    def finalizers(self) -> list[str]:
        return list((self.obj.get("metadata") or {}).get("finalizers") or [])


__all__ = ["SNAPSHOT", "SnapshotRun"]
