"""FlinkStateSnapshot: one savepoint or checkpoint of a FlinkDeployment or FlinkSessionJob."""

from __future__ import annotations

from pydantic import Field

from flinkop.api.base import WireModel
from flinkop.api.enums import JobKind, SavepointFormatType, SnapshotState
from flinkop.api.resource import CustomResource


class JobReference(WireModel):
    kind: JobKind | None = None
    name: str | None = Field(default=None, description="Name of the resource, in the snapshot's namespace.")


class SavepointSpec(WireModel):
    path: str | None = Field(
        default=None, description="Target directory; defaults to the job's configured savepoint directory."
    )
    format_type: SavepointFormatType = SavepointFormatType.CANONICAL
    dispose_on_delete: bool = Field(
        default=True, description="Dispose the savepoint data when this is deleted."
    )
    already_exists: bool = Field(
        default=False, description="Register the existing savepoint at path instead of triggering one."
    )


class CheckpointSpec(WireModel):
    """Empty on purpose: ``checkpoint: {}`` asks for a full checkpoint."""


class FlinkStateSnapshotSpec(WireModel):
    job_reference: JobReference | None = None
    savepoint: SavepointSpec | None = Field(
        default=None, description="Set exactly one of savepoint and checkpoint."
    )
    checkpoint: CheckpointSpec | None = Field(
        default=None, description="Set exactly one of savepoint and checkpoint."
    )
    backoff_limit: int = Field(default=-1, description="Retries before FAILED; -1 retries forever.")

    @property
    def is_savepoint(self) -> bool:
        return self.savepoint is not None


class FlinkStateSnapshotStatus(WireModel):
    state: SnapshotState = SnapshotState.TRIGGER_PENDING
    trigger_id: str | None = None
    trigger_timestamp: str | None = Field(default=None, description="RFC 3339 time of the trigger.")
    result_timestamp: str | None = Field(default=None, description="RFC 3339 time of completion or failure.")
    path: str | None = None
    error: str | None = None
    failures: int = 0


class FlinkStateSnapshot(CustomResource):
    PLURAL = "flinkstatesnapshots"

    kind: str = "FlinkStateSnapshot"
    spec: FlinkStateSnapshotSpec = Field(default_factory=FlinkStateSnapshotSpec)
    status: FlinkStateSnapshotStatus = Field(default_factory=FlinkStateSnapshotStatus)
