"""The Flink configuration keys the renderer reads or writes, with Flink's defaults where it needs them."""

from __future__ import annotations

from typing import Final

# -- cluster identity --------------------------------------------------------------------------------------
CLUSTER_ID: Final = "kubernetes.cluster-id"
NAMESPACE: Final = "kubernetes.namespace"
HA_CLUSTER_ID: Final = "high-availability.cluster-id"
HA_TYPE: Final = "high-availability.type"
HA_TYPE_FALLBACKS: Final = ("high-availability", "recovery.mode")
HA_STORAGE_DIR: Final = "high-availability.storageDir"
HA_JOB_MANAGER_PORT_RANGE: Final = "high-availability.jobmanager.port"
FLINK_VERSION: Final = "$internal.flink.version"

# -- deployment target and job ------------------------------------------------------------------------------
TARGET: Final = "execution.target"
TARGET_SESSION: Final = "kubernetes-session"
TARGET_APPLICATION: Final = "kubernetes-application"
TARGET_REMOTE: Final = "remote"
PIPELINE_JARS: Final = "pipeline.jars"
PIPELINE_CLASSPATHS: Final = "pipeline.classpaths"
PIPELINE_NAME: Final = "pipeline.name"
PARALLELISM_OVERRIDES: Final = "pipeline.jobvertex-parallelism-overrides"
DEFAULT_PARALLELISM: Final = "parallelism.default"
NUM_TASK_SLOTS: Final = "taskmanager.numberOfTaskSlots"
APPLICATION_MAIN_CLASS: Final = "$internal.application.main"
APPLICATION_ARGS: Final = "$internal.application.program-args"
PIPELINE_JOB_ID: Final = "$internal.pipeline.job-id"
SHUTDOWN_ON_APPLICATION_FINISH: Final = "execution.shutdown-on-application-finish"
SUBMIT_FAILED_JOB_ON_APPLICATION_ERROR: Final = "execution.submit-failed-job-on-application-error"
CHECKPOINTING_INTERVAL: Final = "execution.checkpointing.interval"
EXTERNALIZED_CHECKPOINT_RETENTION: Final = "execution.checkpointing.externalized-checkpoint-retention"
# Restore settings: renamed in Flink 1.20 (execution.savepoint.* -> execution.state-recovery.*); newer
# versions still read the old names as deprecated keys. Written under the name the version reads.
SAVEPOINT_PATH: Final = "execution.savepoint.path"
SAVEPOINT_PATH_V2: Final = "execution.state-recovery.path"
SAVEPOINT_IGNORE_UNCLAIMED_STATE: Final = "execution.savepoint.ignore-unclaimed-state"
SAVEPOINT_IGNORE_UNCLAIMED_STATE_V2: Final = "execution.state-recovery.ignore-unclaimed-state"
WEB_CANCEL_ENABLE: Final = "web.cancel.enable"
INTERNAL_CLUSTER_EXECUTION_MODE: Final = "internal.cluster.execution-mode"
ENTRY_POINT_CLASS: Final = "kubernetes.internal.jobmanager.entrypoint.class"

# -- standalone ----------------------------------------------------------------------------------------------
STANDALONE_CLUSTER_MODE: Final = "kubernetes.internal.cluster-mode"
STANDALONE_TASKMANAGER_REPLICAS: Final = "kubernetes.internal.taskmanager.replicas"

# -- images, accounts, pods ----------------------------------------------------------------------------------
CONTAINER_IMAGE: Final = "kubernetes.container.image.ref"
CONTAINER_IMAGE_LEGACY: Final = "kubernetes.container.image"
CONTAINER_IMAGE_PULL_POLICY: Final = "kubernetes.container.image.pull-policy"
CONTAINER_IMAGE_PULL_SECRETS: Final = "kubernetes.container.image.pull-secrets"
SERVICE_ACCOUNT: Final = "kubernetes.service-account"
JOB_MANAGER_SERVICE_ACCOUNT: Final = "kubernetes.jobmanager.service-account"
TASK_MANAGER_SERVICE_ACCOUNT: Final = "kubernetes.taskmanager.service-account"
JOB_MANAGER_REPLICAS: Final = "kubernetes.jobmanager.replicas"
JOB_MANAGER_LABELS: Final = "kubernetes.jobmanager.labels"
TASK_MANAGER_LABELS: Final = "kubernetes.taskmanager.labels"
JOB_MANAGER_ANNOTATIONS: Final = "kubernetes.jobmanager.annotations"
TASK_MANAGER_ANNOTATIONS: Final = "kubernetes.taskmanager.annotations"
JOB_MANAGER_NODE_SELECTOR: Final = "kubernetes.jobmanager.node-selector"
TASK_MANAGER_NODE_SELECTOR: Final = "kubernetes.taskmanager.node-selector"
JOB_MANAGER_TOLERATIONS: Final = "kubernetes.jobmanager.tolerations"
TASK_MANAGER_TOLERATIONS: Final = "kubernetes.taskmanager.tolerations"
JOB_MANAGER_OWNER_REFERENCE: Final = "kubernetes.jobmanager.owner.reference"
JOB_MANAGER_ENTRYPOINT_ARGS: Final = "kubernetes.jobmanager.entrypoint.args"
JOB_MANAGER_POD_TEMPLATE: Final = "kubernetes.pod-template-file.jobmanager"
TASK_MANAGER_POD_TEMPLATE: Final = "kubernetes.pod-template-file.taskmanager"
CONTAINER_ENTRYPOINT: Final = "kubernetes.entry.path"
FLINK_CONF_DIR: Final = "kubernetes.flink.conf.dir"
FLINK_LOG_DIR: Final = "kubernetes.flink.log.dir"
HOST_NETWORK_ENABLED: Final = "kubernetes.hostnetwork.enabled"
SECRETS: Final = "kubernetes.secrets"
ENV_SECRET_KEY_REF: Final = "kubernetes.env.secretKeyRef"
MASTER_ENV_PREFIX: Final = "containerized.master.env."

# -- services ------------------------------------------------------------------------------------------------
REST_SERVICE_EXPOSED_TYPE: Final = "kubernetes.rest-service.exposed.type"
REST_SERVICE_ANNOTATIONS: Final = "kubernetes.rest-service.annotations"
REST_PORT: Final = "rest.port"
REST_BIND_PORT: Final = "rest.bind-port"
JOB_MANAGER_RPC_ADDRESS: Final = "jobmanager.rpc.address"
JOB_MANAGER_RPC_PORT: Final = "jobmanager.rpc.port"
BLOB_SERVER_PORT: Final = "blob.server.port"
TASK_MANAGER_RPC_PORT: Final = "taskmanager.rpc.port"

# -- resources -----------------------------------------------------------------------------------------------
JOB_MANAGER_CPU: Final = "kubernetes.jobmanager.cpu.amount"
JOB_MANAGER_CPU_LEGACY: Final = "kubernetes.jobmanager.cpu"
TASK_MANAGER_CPU: Final = "kubernetes.taskmanager.cpu.amount"
TASK_MANAGER_CPU_LEGACY: Final = "kubernetes.taskmanager.cpu"
JOB_MANAGER_CPU_LIMIT_FACTOR: Final = "kubernetes.jobmanager.cpu.limit-factor"
JOB_MANAGER_MEMORY_LIMIT_FACTOR: Final = "kubernetes.jobmanager.memory.limit-factor"
TASK_MANAGER_CPU_LIMIT_FACTOR: Final = "kubernetes.taskmanager.cpu.limit-factor"
TASK_MANAGER_MEMORY_LIMIT_FACTOR: Final = "kubernetes.taskmanager.memory.limit-factor"
JOB_MANAGER_PROCESS_MEMORY: Final = "jobmanager.memory.process.size"
TASK_MANAGER_PROCESS_MEMORY: Final = "taskmanager.memory.process.size"

# -- keys that stay on the client side (FlinkConfMountDecorator removes them from the cluster's file) --------
CLIENT_SIDE_KEYS: Final = (
    "kubernetes.config.file",
    "$internal.deployment.config-dir",
    "rest.bind-address",
    "jobmanager.bind-host",
    "taskmanager.bind-host",
    "taskmanager.host",
)

# -- operator keys read by the renderer (stripped before the config goes to Flink) ---------------------------
OPERATOR_KEY_PREFIXES: Final = ("kubernetes.operator.", "job.autoscaler.")
POD_TEMPLATE_MERGE_BY_NAME: Final = "kubernetes.operator.pod-template.merge-arrays-by-name"
JM_STARTUP_PROBE_ENABLED: Final = "kubernetes.operator.jm-deployment.startup.probe.enabled"
INGRESS_MANAGE: Final = "kubernetes.operator.ingress.manage"

# -- list- and list-of-map-typed keys the renderer writes (structured in config.yaml for Flink 2.x) ----------
LIST_KEYS: Final = frozenset({PIPELINE_JARS, PIPELINE_CLASSPATHS, APPLICATION_ARGS})
MAP_LIST_KEYS: Final = frozenset({JOB_MANAGER_OWNER_REFERENCE})
