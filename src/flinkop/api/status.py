"""Status of FlinkDeployment and FlinkSessionJob: job, snapshots, reconciliation, conditions."""

from __future__ import annotations

from pydantic import Field

from flinkop.api.base import WireModel
from flinkop.api.enums import (
    CheckpointType,
    FlinkJobState,
    JobManagerDeploymentStatus,
    ReconciliationState,
    ResourceLifecycleState,
    SavepointFormatType,
    SnapshotTriggerType,
)


class Savepoint(WireModel):
    time_stamp: int | None = None
    location: str | None = None
    trigger_type: SnapshotTriggerType = SnapshotTriggerType.UNKNOWN
    format_type: SavepointFormatType = SavepointFormatType.UNKNOWN
    trigger_nonce: int | None = None


class SavepointInfo(WireModel):
    """Legacy savepoint tracking, used when FlinkStateSnapshot resources are disabled."""

    last_savepoint: Savepoint | None = None
    trigger_id: str | None = None
    trigger_timestamp: int | None = None
    trigger_type: SnapshotTriggerType | None = None
    format_type: SavepointFormatType | None = None
    savepoint_history: list[Savepoint] = Field(default_factory=list)
    last_periodic_savepoint_timestamp: int = 0


class Checkpoint(WireModel):
    time_stamp: int | None = None
    trigger_type: SnapshotTriggerType = SnapshotTriggerType.UNKNOWN
    format_type: CheckpointType = CheckpointType.UNKNOWN
    trigger_nonce: int | None = None


class CheckpointInfo(WireModel):
    """Legacy checkpoint tracking, used when FlinkStateSnapshot resources are disabled."""

    last_checkpoint: Checkpoint | None = None
    trigger_id: str | None = None
    trigger_timestamp: int | None = None
    trigger_type: SnapshotTriggerType | None = None
    format_type: CheckpointType | None = None
    last_periodic_checkpoint_timestamp: int = 0


class JobStatus(WireModel):
    job_name: str | None = None
    job_id: str | None = None
    state: FlinkJobState | None = None
    start_time: str | None = Field(default=None, description="Epoch milliseconds, as a string.")
    update_time: str | None = Field(default=None, description="Epoch milliseconds, as a string.")
    upgrade_savepoint_path: str | None = Field(
        default=None, description="Savepoint or checkpoint to restore from on the next upgrade or resume."
    )
    savepoint_info: SavepointInfo = Field(default_factory=SavepointInfo)
    checkpoint_info: CheckpointInfo = Field(default_factory=CheckpointInfo)


class ReconciliationStatus(WireModel):
    reconciliation_timestamp: int = 0
    last_reconciled_spec: str | None = Field(
        default=None,
        description="JSON of the last reconciled spec, with the resource metadata it was reconciled with.",
    )
    last_stable_spec: str | None = Field(
        default=None, description="Copy of lastReconciledSpec once it ran stable; the rollback target."
    )
    state: ReconciliationState = ReconciliationState.UPGRADING


class Condition(WireModel):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None
    observed_generation: int | None = None


class TaskManagerInfo(WireModel):
    """Feeds the scale subresource of FlinkDeployment."""

    label_selector: str | None = None
    replicas: int | None = None


class CommonStatus(WireModel):
    job_status: JobStatus = Field(default_factory=JobStatus)
    error: str | None = Field(default=None, description="Last error, as a JSON document.")
    observed_generation: int | None = None
    lifecycle_state: ResourceLifecycleState | None = None
    reconciliation_status: ReconciliationStatus = Field(default_factory=ReconciliationStatus)


class FlinkDeploymentStatus(CommonStatus):
    cluster_info: dict[str, str] = Field(default_factory=dict)
    job_manager_deployment_status: JobManagerDeploymentStatus = JobManagerDeploymentStatus.MISSING
    task_manager: TaskManagerInfo | None = None
    conditions: list[Condition] = Field(default_factory=list)


class FlinkSessionJobStatus(CommonStatus):
    pass
