"""Typed responses of the Flink REST API, as observed on Flink 2.3.0 and 1.20.5.

Every model accepts fields it does not declare (`extra="allow"`) and defaults every optional field, so
a newer or older JobManager that adds or drops a field still parses. Field names follow Flink's JSON
through aliases: it mixes `kebab-case` (`start-time`), `camelCase` (`slotsNumber`) and `snake_case`
(`external_path`), sometimes within one response.

Differences between the versions that matter here:
* 2.x adds `applicationId` to the jar run response and `application-id` to job details (the
  application layer: in session mode it equals the job id); 1.20 has neither.
* 2.x dropped the legacy `root-exception`/`timestamp`/`all-exceptions` of `/jobs/:id/exceptions`;
  `JobExceptions.root_exception` reads the exception history on both.
* 2.x adds `jobType`/`schedulerType`/`pending-operators` to job summaries and details.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_CAUSED_BY = re.compile(r"^Caused by: (.+)$", re.MULTILINE)


class FlinkModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class JobState(StrEnum):
    INITIALIZING = "INITIALIZING"
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"
    RESTARTING = "RESTARTING"
    SUSPENDED = "SUSPENDED"
    RECONCILING = "RECONCILING"


# Globally terminal: the job will not run again in this cluster (SUSPENDED is only locally terminal).
TERMINAL_STATES = frozenset({JobState.FAILED, JobState.CANCELED, JobState.FINISHED})


# -- cluster ------------------------------------------------------------------------------------------------
class ClusterOverview(FlinkModel):
    """GET /overview."""

    taskmanagers: int = 0
    slots_total: int = Field(default=0, alias="slots-total")
    slots_available: int = Field(default=0, alias="slots-available")
    jobs_running: int = Field(default=0, alias="jobs-running")
    jobs_finished: int = Field(default=0, alias="jobs-finished")
    jobs_cancelled: int = Field(default=0, alias="jobs-cancelled")
    jobs_failed: int = Field(default=0, alias="jobs-failed")
    flink_version: str | None = Field(default=None, alias="flink-version")
    flink_commit: str | None = Field(default=None, alias="flink-commit")


class DashboardFeatures(FlinkModel):
    web_submit: bool = Field(default=False, alias="web-submit")
    web_cancel: bool = Field(default=False, alias="web-cancel")
    web_rescale: bool = Field(default=False, alias="web-rescale")
    web_history: bool = Field(default=False, alias="web-history")


class DashboardConfig(FlinkModel):
    """GET /config: the web UI's configuration, with the Flink version and the enabled features
    (`web-submit` is false in application mode)."""

    refresh_interval: int | None = Field(default=None, alias="refresh-interval")
    timezone_name: str | None = Field(default=None, alias="timezone-name")
    timezone_offset: int | None = Field(default=None, alias="timezone-offset")
    flink_version: str | None = Field(default=None, alias="flink-version")
    flink_revision: str | None = Field(default=None, alias="flink-revision")
    features: DashboardFeatures = Field(default_factory=DashboardFeatures)


class TaskManagerInfo(FlinkModel):
    id: str
    path: str | None = None
    data_port: int | None = Field(default=None, alias="dataPort")
    slots_number: int = Field(default=0, alias="slotsNumber")
    free_slots: int = Field(default=0, alias="freeSlots")
    time_since_last_heartbeat: int | None = Field(default=None, alias="timeSinceLastHeartbeat")
    hardware: dict[str, Any] = Field(default_factory=dict)
    total_resource: dict[str, Any] = Field(default_factory=dict, alias="totalResource")
    free_resource: dict[str, Any] = Field(default_factory=dict, alias="freeResource")
    memory_configuration: dict[str, Any] = Field(default_factory=dict, alias="memoryConfiguration")


class TaskManagerList(FlinkModel):
    """GET /taskmanagers."""

    taskmanagers: list[TaskManagerInfo] = Field(default_factory=list)


# -- jobs ---------------------------------------------------------------------------------------------------
class JobSummary(FlinkModel):
    """One entry of GET /jobs/overview (fresher than /jobs/:id, which is served from a cache)."""

    jid: str
    name: str = ""
    state: str
    start_time: int = Field(default=-1, alias="start-time")
    end_time: int = Field(default=-1, alias="end-time")
    duration: int | None = None
    last_modification: int | None = Field(default=None, alias="last-modification")
    tasks: dict[str, int] = Field(default_factory=dict)
    job_type: str | None = Field(default=None, alias="jobType")

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def all_tasks_running(self) -> bool:
        """RUNNING with every task running: the job state turns RUNNING before its tasks are deployed."""
        total = self.tasks.get("total", 0)
        return self.state == JobState.RUNNING and total > 0 and self.tasks.get("running", 0) == total


class JobVertex(FlinkModel):
    id: str
    name: str = ""
    parallelism: int = 0
    max_parallelism: int | None = Field(default=None, alias="maxParallelism")
    status: str = ""
    start_time: int = Field(default=-1, alias="start-time")
    end_time: int = Field(default=-1, alias="end-time")
    duration: int | None = None
    tasks: dict[str, int] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)


class JobDetails(FlinkModel):
    """GET /jobs/:jobid (served from the ExecutionGraph cache: up to `web.refresh-interval` stale)."""

    jid: str
    name: str = ""
    state: str
    start_time: int = Field(default=-1, alias="start-time")
    end_time: int = Field(default=-1, alias="end-time")
    duration: int | None = None
    now: int | None = None
    max_parallelism: int | None = Field(default=None, alias="maxParallelism")
    job_type: str | None = Field(default=None, alias="job-type")
    application_id: str | None = Field(default=None, alias="application-id")  # 2.x only
    timestamps: dict[str, int] = Field(default_factory=dict)
    vertices: list[JobVertex] = Field(default_factory=list)
    status_counts: dict[str, int] = Field(default_factory=dict, alias="status-counts")
    plan: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def parallelism(self) -> dict[str, int]:
        """Parallelism per vertex name."""
        return {vertex.name: vertex.parallelism for vertex in self.vertices}

    @property
    def all_vertices_running(self) -> bool:
        return (
            self.state == JobState.RUNNING
            and bool(self.vertices)
            and all(vertex.status == JobState.RUNNING for vertex in self.vertices)
        )


# -- jars ---------------------------------------------------------------------------------------------------
class JarEntryPoint(FlinkModel):
    name: str
    description: str | None = None


class JarFile(FlinkModel):
    id: str
    name: str = ""
    uploaded: int | None = None
    entry: list[JarEntryPoint] = Field(default_factory=list)


class JarList(FlinkModel):
    """GET /jars."""

    address: str | None = None
    files: list[JarFile] = Field(default_factory=list)


class JarUpload(FlinkModel):
    """POST /jars/upload; the jar id is the basename of `filename`."""

    filename: str
    status: str = ""

    @property
    def jar_id(self) -> str:
        return self.filename.rsplit("/", 1)[-1]


class JarRun(FlinkModel):
    """POST /jars/:jarid/run."""

    jobid: str
    application_id: str | None = Field(default=None, alias="applicationId")  # 2.x only


# -- asynchronous operations (savepoint, stop-with-savepoint, checkpoint) ------------------------------------
class OperationState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # never sent by Flink: COMPLETED with a failure-cause


class FailureCause(FlinkModel):
    class_name: str | None = Field(default=None, alias="class")
    stack_trace: str | None = Field(default=None, alias="stack-trace")
    serialized_throwable: str | None = Field(default=None, alias="serialized-throwable")

    @property
    def message(self) -> str:
        """The innermost `Caused by:` line of the stack trace, else its first line."""
        trace = self.stack_trace or ""
        causes = _CAUSED_BY.findall(trace)
        if causes:
            return str(causes[-1]).strip()
        first = trace.strip().splitlines()
        return first[0].strip() if first else (self.class_name or "unknown failure")

    def mentions(self, text: str) -> bool:
        return text in (self.stack_trace or "") or text in (self.class_name or "")


class QueueStatus(FlinkModel):
    id: str


class OperationInfo(FlinkModel):
    location: str | None = None  # savepoints: "file:/..." (one slash, whatever was requested)
    checkpoint_id: int | None = Field(default=None, alias="checkpointId")  # manual checkpoints
    failure_cause: FailureCause | None = Field(default=None, alias="failure-cause")


class OperationStatus(FlinkModel):
    """GET /jobs/:jobid/savepoints/:triggerid (savepoint and stop) or /jobs/:jobid/checkpoints/:triggerid.

    Flink has no FAILED status: a failed operation is COMPLETED with a `failure-cause`; `state` tells the
    three apart.
    """

    status: QueueStatus
    operation: OperationInfo | None = None

    @property
    def state(self) -> OperationState:
        if self.status.id == OperationState.IN_PROGRESS:
            return OperationState.IN_PROGRESS
        if self.operation is not None and self.operation.failure_cause is not None:
            return OperationState.FAILED
        return OperationState.COMPLETED

    @property
    def done(self) -> bool:
        return self.state != OperationState.IN_PROGRESS

    @property
    def location(self) -> str | None:
        return self.operation.location if self.operation else None

    @property
    def checkpoint_id(self) -> int | None:
        return self.operation.checkpoint_id if self.operation else None

    @property
    def failure_cause(self) -> FailureCause | None:
        return self.operation.failure_cause if self.operation else None


class TriggerResponse(FlinkModel):
    request_id: str = Field(alias="request-id")


# -- checkpoints --------------------------------------------------------------------------------------------
class CheckpointCounts(FlinkModel):
    restored: int = 0
    total: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0


class CheckpointStatistics(FlinkModel):
    """One checkpoint or savepoint (`latest.completed`, `latest.savepoint`, `latest.failed`, `history`)."""

    id: int
    status: str = ""
    class_name: str | None = Field(default=None, alias="className")
    is_savepoint: bool = False
    savepoint_format: str | None = Field(default=None, alias="savepointFormat")
    checkpoint_type: str | None = None  # CHECKPOINT, SAVEPOINT, SYNC_SAVEPOINT (stop-with-savepoint)
    trigger_timestamp: int | None = None
    latest_ack_timestamp: int | None = None
    checkpointed_size: int | None = None
    state_size: int | None = None
    end_to_end_duration: int | None = None
    num_subtasks: int | None = None
    num_acknowledged_subtasks: int | None = None
    external_path: str | None = None
    discarded: bool | None = None
    failure_timestamp: int | None = None
    failure_message: str | None = None


class RestoredCheckpoint(FlinkModel):
    id: int
    restore_timestamp: int | None = None
    is_savepoint: bool = False  # also true for a restore from a retained checkpoint: don't rely on it
    external_path: str | None = None


class LatestCheckpoints(FlinkModel):
    completed: CheckpointStatistics | None = None
    savepoint: CheckpointStatistics | None = None
    failed: CheckpointStatistics | None = None
    restored: RestoredCheckpoint | None = None


class CheckpointingStatistics(FlinkModel):
    """GET /jobs/:jobid/checkpoints."""

    counts: CheckpointCounts = Field(default_factory=CheckpointCounts)
    summary: dict[str, Any] = Field(default_factory=dict)
    latest: LatestCheckpoints = Field(default_factory=LatestCheckpoints)
    history: list[CheckpointStatistics] = Field(default_factory=list)


class Externalization(FlinkModel):
    enabled: bool = False
    delete_on_cancellation: bool = True


class CheckpointConfig(FlinkModel):
    """GET /jobs/:jobid/checkpoints/config."""

    mode: str | None = None
    interval: int | None = None
    timeout: int | None = None
    min_pause: int | None = None
    max_concurrent: int | None = None
    externalization: Externalization = Field(default_factory=Externalization)
    state_backend: str | None = None
    checkpoint_storage: str | None = None
    unaligned_checkpoints: bool | None = None
    tolerable_failed_checkpoints: int | None = None


# -- exceptions ---------------------------------------------------------------------------------------------
class ExceptionInfo(FlinkModel):
    exception_name: str = Field(default="", alias="exceptionName")
    stacktrace: str = ""
    timestamp: int | None = None
    task_name: str | None = Field(default=None, alias="taskName")
    endpoint: str | None = None
    task_manager_id: str | None = Field(default=None, alias="taskManagerId")
    failure_labels: dict[str, str] = Field(default_factory=dict, alias="failureLabels")

    @property
    def message(self) -> str:
        """The first line of the stack trace: `<exception class>: <message>`."""
        first = self.stacktrace.strip().splitlines()
        return first[0].strip() if first else self.exception_name


class ExceptionHistoryEntry(ExceptionInfo):
    concurrent_exceptions: list[ExceptionInfo] = Field(default_factory=list, alias="concurrentExceptions")


class ExceptionHistory(FlinkModel):
    entries: list[ExceptionHistoryEntry] = Field(default_factory=list)
    truncated: bool = False


class JobExceptions(FlinkModel):
    """GET /jobs/:jobid/exceptions: the failure history, newest first.

    1.x also sends the deprecated `root-exception`, `timestamp` and `all-exceptions`; 2.x only
    `exceptionHistory`. Use `root_exception` / `root_exception_timestamp`, which read either.
    """

    exception_history: ExceptionHistory = Field(default_factory=ExceptionHistory, alias="exceptionHistory")
    legacy_root_exception: str | None = Field(default=None, alias="root-exception")
    legacy_timestamp: int | None = Field(default=None, alias="timestamp")
    all_exceptions: list[dict[str, Any]] = Field(default_factory=list, alias="all-exceptions")

    @property
    def latest(self) -> ExceptionHistoryEntry | None:
        entries = self.exception_history.entries
        return max(entries, key=lambda e: e.timestamp or 0) if entries else None

    @property
    def root_exception(self) -> str | None:
        """The stack trace of the most recent failure, or None if the job never failed."""
        latest = self.latest
        return latest.stacktrace if latest is not None else self.legacy_root_exception

    @property
    def root_exception_timestamp(self) -> int | None:
        latest = self.latest
        return latest.timestamp if latest is not None else self.legacy_timestamp

    @property
    def causes(self) -> list[ExceptionInfo]:
        """The most recent failure and the task failures that came with it (the user code's exceptions)."""
        latest = self.latest
        return [] if latest is None else [latest, *latest.concurrent_exceptions]


__all__ = [
    "TERMINAL_STATES",
    "CheckpointConfig",
    "CheckpointCounts",
    "CheckpointStatistics",
    "CheckpointingStatistics",
    "ClusterOverview",
    "DashboardConfig",
    "DashboardFeatures",
    "ExceptionHistory",
    "ExceptionHistoryEntry",
    "ExceptionInfo",
    "Externalization",
    "FailureCause",
    "FlinkModel",
    "JarEntryPoint",
    "JarFile",
    "JarList",
    "JarRun",
    "JarUpload",
    "JobDetails",
    "JobExceptions",
    "JobState",
    "JobSummary",
    "JobVertex",
    "LatestCheckpoints",
    "OperationInfo",
    "OperationState",
    "OperationStatus",
    "QueueStatus",
    "RestoredCheckpoint",
    "TaskManagerInfo",
    "TaskManagerList",
    "TriggerResponse",
]
