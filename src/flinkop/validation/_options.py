"""The Flink, operator and autoscaler options the validator reads (keys, fallbacks, defaults as upstream).

Flink keys are those of Flink 1.20+, which the upstream operator is built against: the
messages name ``execution.checkpointing.dir`` while ``state.checkpoints.dir`` still works.
"""

from __future__ import annotations

from flinkop.validation._flink_config import ConfigOption

# --- Flink -------------------------------------------------------------------------------------
KUBERNETES_NAMESPACE = "kubernetes.namespace"
KUBERNETES_CLUSTER_ID = "kubernetes.cluster-id"
HA_CLUSTER_ID = "high-availability.cluster-id"

CHECKPOINTS_DIRECTORY = ConfigOption(
    "execution.checkpointing.dir", ("state.checkpoints.dir", "state.backend.fs.checkpointdir")
)
SAVEPOINT_DIRECTORY = ConfigOption(
    "execution.checkpointing.savepoint-dir", ("state.savepoints.dir", "savepoints.state.backend.fs.dir")
)
HA_MODE = ConfigOption("high-availability.type", ("high-availability",), default="NONE")

# JobManager memory (JobManagerOptions); the legacy heap keys are read as the JVM heap.
JM_JVM_HEAP_MEMORY = ConfigOption("jobmanager.memory.heap.size")
JM_TOTAL_FLINK_MEMORY = ConfigOption("jobmanager.memory.flink.size")
JM_TOTAL_PROCESS_MEMORY = ConfigOption("jobmanager.memory.process.size")
JM_LEGACY_HEAP_MEMORY = ConfigOption("jobmanager.heap.size")
JM_LEGACY_HEAP_MEMORY_MB = ConfigOption("jobmanager.heap.mb")

# TaskManager memory (TaskManagerOptions).
TM_TASK_HEAP_MEMORY = ConfigOption("taskmanager.memory.task.heap.size")
TM_MANAGED_MEMORY_SIZE = ConfigOption("taskmanager.memory.managed.size")
TM_TOTAL_FLINK_MEMORY = ConfigOption("taskmanager.memory.flink.size")
TM_TOTAL_PROCESS_MEMORY = ConfigOption("taskmanager.memory.process.size")

# --- Operator (KubernetesOperatorConfigOptions) -------------------------------------------------
_OP = "kubernetes.operator."

DEPLOYMENT_ROLLBACK_ENABLED = ConfigOption(_OP + "deployment.rollback.enabled", default="false")
CLUSTER_HEALTH_CHECK_ENABLED = ConfigOption(_OP + "cluster.health-check.enabled", default="false")
JM_DEPLOYMENT_RECOVERY_ENABLED = ConfigOption(
    _OP + "jm-deployment-recovery.enabled", (_OP + "reconciler.jm-deployment-recovery.enabled",), "true"
)
PERIODIC_SAVEPOINT_INTERVAL = ConfigOption(_OP + "periodic.savepoint.interval", default="")
LAST_STATE_MAX_CHECKPOINT_AGE = ConfigOption(_OP + "job.upgrade.last-state.max.allowed.checkpoint.age")
RECONCILE_INTERVAL = ConfigOption(
    _OP + "reconcile.interval", (_OP + "reconciler.reschedule.interval",), default="60 s"
)
# System keys: read from the operator configuration only, never from a resource's spec.
USER_ARTIFACTS_ALLOWED_SCHEMES = ConfigOption(_OP + "user.artifacts.allowed-schemes", default="https")
USER_ARTIFACTS_DISALLOW_RESTRICTED_HOSTS = ConfigOption(
    _OP + "user.artifacts.disallow-restricted-hosts", default="true"
)

# --- Autoscaler (AutoScalerOptions): job.autoscaler.*, legacy kubernetes.operator.job.autoscaler.*
_AS = "job.autoscaler."


def _autoscaler(key: str, default: str | None = None, *more_fallbacks: str) -> ConfigOption:
    return ConfigOption(_AS + key, (_OP + _AS + key, *more_fallbacks), default)


AUTOSCALER_ENABLED = _autoscaler("enabled", "false")
METRICS_WINDOW = _autoscaler("metrics.window", "15 min")
EXCLUDED_PERIODS = _autoscaler("excluded.periods")
MAX_SCALE_DOWN_FACTOR = _autoscaler("scale-down.max-factor", "0.6")
MAX_SCALE_UP_FACTOR = _autoscaler("scale-up.max-factor", "100000.0")
UTILIZATION_TARGET = ConfigOption(
    _AS + "utilization.target",
    (_OP + _AS + "utilization.target", _OP + _AS + "target.utilization", _AS + "target.utilization"),
    "0.7",
)
TARGET_UTILIZATION_BOUNDARY = _autoscaler("target.utilization.boundary", "0.3")
UTILIZATION_MAX = _autoscaler("utilization.max")
UTILIZATION_MIN = _autoscaler("utilization.min")
OBSERVED_SCALABILITY_COEFFICIENT_MIN = _autoscaler("observed-scalability.coefficient-min", "0.5")
GC_PRESSURE_THRESHOLD = _autoscaler("memory.gc-pressure.threshold", "1.0")
HEAP_USAGE_THRESHOLD = _autoscaler("memory.heap-usage.threshold", "1.0")
