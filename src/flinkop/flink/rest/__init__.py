"""The Flink JobManager's REST API: a typed asyncio client, its endpoints (direct or through the API
server's service proxy), response models and errors."""

from flinkop.flink.rest.client import FlinkRestClient, wait_for_operation
from flinkop.flink.rest.endpoint import RestEndpoint, endpoint_for, rest_service_name
from flinkop.flink.rest.errors import (
    FlinkClientError,
    FlinkRestError,
    FlinkUnreachable,
    JobNotFound,
    OperationFailed,
    TriggerNotFound,
)
from flinkop.flink.rest.models import (
    TERMINAL_STATES,
    CheckpointConfig,
    CheckpointingStatistics,
    CheckpointStatistics,
    ClusterOverview,
    DashboardConfig,
    JarFile,
    JobDetails,
    JobExceptions,
    JobState,
    JobSummary,
    JobVertex,
    OperationState,
    OperationStatus,
    RestoredCheckpoint,
    TaskManagerInfo,
)

__all__ = [
    "TERMINAL_STATES",
    "CheckpointConfig",
    "CheckpointStatistics",
    "CheckpointingStatistics",
    "ClusterOverview",
    "DashboardConfig",
    "FlinkClientError",
    "FlinkRestClient",
    "FlinkRestError",
    "FlinkUnreachable",
    "JarFile",
    "JobDetails",
    "JobExceptions",
    "JobNotFound",
    "JobState",
    "JobSummary",
    "JobVertex",
    "OperationFailed",
    "OperationState",
    "OperationStatus",
    "RestEndpoint",
    "RestoredCheckpoint",
    "TaskManagerInfo",
    "TriggerNotFound",
    "endpoint_for",
    "rest_service_name",
    "wait_for_operation",
]
