"""Names, labels, annotations, ports and paths of the Kubernetes objects of a Flink cluster.

Every value here is the one Flink's native Kubernetes client
(``org.apache.flink.kubernetes.utils.Constants``), the operator's standalone module
(``StandaloneKubernetesUtils``) or the operator itself uses, so that objects made by flinkop are found by
the same selectors and names as objects made by the upstream operator.
"""

from __future__ import annotations

from typing import Any, Final

from flinkop.api.deployment import FlinkDeployment
from flinkop.api.enums import KubernetesDeploymentMode
from flinkop.api.resource import API_VERSION

# -- kinds and API versions --------------------------------------------------------------------------------
CORE_API_VERSION: Final = "v1"
APPS_API_VERSION: Final = "apps/v1"
NETWORKING_API_VERSION: Final = "networking.k8s.io/v1"

# -- containers, volumes, files ----------------------------------------------------------------------------
MAIN_CONTAINER_NAME: Final = "flink-main-container"
FLINK_CONF_VOLUME: Final = "flink-config-volume"
CONFIG_MAP_PREFIX: Final = "flink-config-"
FLINK_CONF_DIR_IN_POD: Final = "/opt/flink/conf"  # default of kubernetes.flink.conf.dir
CONFIG_FILE_LOG4J_NAME: Final = "log4j-console.properties"
CONFIG_FILE_LOGBACK_NAME: Final = "logback-console.xml"
LOG_CONFIG_FILE_NAMES: Final = (CONFIG_FILE_LOGBACK_NAME, CONFIG_FILE_LOG4J_NAME)  # order of the volume items
CONFIG_FILE_V2: Final = "config.yaml"  # Flink >= 2.0 ("standard YAML")
CONFIG_FILE_V1: Final = "flink-conf.yaml"  # Flink 1.x (flat "key: value" lines)

TASK_MANAGER_POD_TEMPLATE_FILE_NAME: Final = "taskmanager-pod-template.yaml"
POD_TEMPLATE_DIR_IN_POD: Final = "/opt/flink/pod-template"
POD_TEMPLATE_CONFIG_MAP_PREFIX: Final = "pod-template-"
POD_TEMPLATE_VOLUME: Final = "pod-template-volume"

USER_LIB_VOLUME: Final = "user-lib-dir"  # standalone application clusters
USER_LIB_PATH: Final = "/opt/flink/usrlib"

# -- entrypoints -------------------------------------------------------------------------------------------
DEFAULT_CONTAINER_ENTRYPOINT: Final = "/docker-entrypoint.sh"  # default of kubernetes.entry.path
KUBERNETES_JOB_MANAGER_SCRIPT: Final = "kubernetes-jobmanager.sh"
KUBERNETES_TASK_MANAGER_SCRIPT: Final = "kubernetes-taskmanager.sh"
STANDALONE_JOBMANAGER_ARG: Final = "jobmanager"
STANDALONE_APPLICATION_ARG: Final = "standalone-job"
STANDALONE_TASKMANAGER_ARG: Final = "taskmanager"
SESSION_ENTRYPOINT_CLASS: Final = "org.apache.flink.kubernetes.entrypoint.KubernetesSessionClusterEntrypoint"
APPLICATION_ENTRYPOINT_CLASS: Final = (
    "org.apache.flink.kubernetes.entrypoint.KubernetesApplicationClusterEntrypoint"
)

# -- environment -------------------------------------------------------------------------------------------
ENV_POD_IP_ADDRESS: Final = "_POD_IP_ADDRESS"
POD_IP_FIELD_PATH: Final = "status.podIP"
ENV_FLINK_LOG_DIR: Final = "FLINK_LOG_DIR"
POD_IP_ARG: Final = f"$({ENV_POD_IP_ADDRESS})"  # expanded by the kubelet in standalone HA args

# -- labels ------------------------------------------------------------------------------------------------
LABEL_APP: Final = "app"
LABEL_TYPE: Final = "type"
LABEL_COMPONENT: Final = "component"
TYPE_NATIVE: Final = "flink-native-kubernetes"
TYPE_STANDALONE: Final = "flink-standalone-kubernetes"
COMPONENT_JOB_MANAGER: Final = "jobmanager"
COMPONENT_TASK_MANAGER: Final = "taskmanager"
COMPONENT_INGRESS: Final = "ingress"
LABEL_CONFIGMAP_TYPE: Final = "configmap-type"
CONFIGMAP_TYPE_HIGH_AVAILABILITY: Final = "high-availability"

# -- annotations -------------------------------------------------------------------------------------------
# On the JobManager Deployment and its pods: the CR generation the cluster was deployed from.
GENERATION_ANNOTATION: Final = "flinkdeployment.flink.apache.org/generation"

# -- ports -------------------------------------------------------------------------------------------------
REST_PORT: Final = 8081
JOB_MANAGER_RPC_PORT: Final = 6123
BLOB_SERVER_PORT: Final = 6124
TASK_MANAGER_RPC_PORT: Final = 6122
REST_PORT_NAME: Final = "rest"
JOB_MANAGER_RPC_PORT_NAME: Final = "jobmanager-rpc"
BLOB_SERVER_PORT_NAME: Final = "blobserver"
TASK_MANAGER_RPC_PORT_NAME: Final = "taskmanager-rpc"

# -- object names ------------------------------------------------------------------------------------------
REST_SERVICE_SUFFIX: Final = "-rest"
TASK_MANAGER_DEPLOYMENT_SUFFIX: Final = "-taskmanager"


def jobmanager_deployment_name(cluster_id: str) -> str:
    return cluster_id


def taskmanager_deployment_name(cluster_id: str) -> str:
    """The standalone TaskManager Deployment."""
    return cluster_id + TASK_MANAGER_DEPLOYMENT_SUFFIX


def internal_service_name(cluster_id: str) -> str:
    """The headless Service for JobManager RPC and blob traffic."""
    return cluster_id


def rest_service_name(cluster_id: str) -> str:
    return cluster_id + REST_SERVICE_SUFFIX


def config_map_name(cluster_id: str) -> str:
    """The ConfigMap holding the Flink config file and the log config files."""
    return CONFIG_MAP_PREFIX + cluster_id


def pod_template_config_map_name(cluster_id: str) -> str:
    """Native mode: the ConfigMap holding the TaskManager pod template the JobManager reads."""
    return POD_TEMPLATE_CONFIG_MAP_PREFIX + cluster_id


def ingress_name(cluster_id: str) -> str:
    return cluster_id


def rest_service_host(cluster_id: str, namespace: str) -> str:
    """The in-cluster DNS name of the REST Service, as the operator uses it."""
    return f"{rest_service_name(cluster_id)}.{namespace}"


def internal_service_address(cluster_id: str, namespace: str) -> str:
    """jobmanager.rpc.address when the internal Service is used: ``<name>.<namespace>``."""
    return f"{internal_service_name(cluster_id)}.{namespace}"


# -- label sets --------------------------------------------------------------------------------------------


def type_label(mode: KubernetesDeploymentMode) -> str:
    return TYPE_STANDALONE if mode == KubernetesDeploymentMode.STANDALONE else TYPE_NATIVE


def common_labels(cluster_id: str, mode: KubernetesDeploymentMode) -> dict[str, str]:
    """``type`` and ``app``: on the Services and ConfigMaps of a cluster."""
    return {LABEL_TYPE: type_label(mode), LABEL_APP: cluster_id}


def jobmanager_selectors(cluster_id: str, mode: KubernetesDeploymentMode) -> dict[str, str]:
    return {**common_labels(cluster_id, mode), LABEL_COMPONENT: COMPONENT_JOB_MANAGER}


def taskmanager_selectors(cluster_id: str, mode: KubernetesDeploymentMode) -> dict[str, str]:
    return {**common_labels(cluster_id, mode), LABEL_COMPONENT: COMPONENT_TASK_MANAGER}


def taskmanager_label_selector(cluster_id: str) -> str:
    """status.taskManager.labelSelector of a running cluster."""
    return f"{LABEL_COMPONENT}={COMPONENT_TASK_MANAGER},{LABEL_APP}={cluster_id}"


# -- owner references --------------------------------------------------------------------------------------


def resource_owner_reference(
    deployment: FlinkDeployment, *, controller: bool, block_owner_deletion: bool
) -> dict[str, Any]:
    """An ownerReference to the FlinkDeployment itself."""
    return {
        "apiVersion": deployment.api_version or API_VERSION,
        "kind": deployment.kind or FlinkDeployment.KIND,
        "name": deployment.name,
        "uid": deployment.metadata.uid or "",
        "controller": controller,
        "blockOwnerDeletion": block_owner_deletion,
    }


def jobmanager_owner_reference(deployment: FlinkDeployment) -> dict[str, Any]:
    """What the operator puts in kubernetes.jobmanager.owner.reference: the JobManager Deployment (and the
    standalone TaskManager Deployment) are owned by the CR, blockOwnerDeletion true, controller false."""
    return resource_owner_reference(deployment, controller=False, block_owner_deletion=True)


def ingress_owner_reference(deployment: FlinkDeployment) -> dict[str, Any]:
    """The Ingress is owned by the CR as its controller."""
    return resource_owner_reference(deployment, controller=True, block_owner_deletion=True)


def deployment_owner_reference(jm_deployment: dict[str, Any]) -> dict[str, Any]:
    """The ownerReference Flink's client puts on a cluster's Services and ConfigMaps (and Flink on its
    TaskManager pods) once the JobManager Deployment exists: controller and blockOwnerDeletion true."""
    metadata = jm_deployment.get("metadata") or {}
    return {
        "apiVersion": jm_deployment.get("apiVersion", APPS_API_VERSION),
        "kind": jm_deployment.get("kind", "Deployment"),
        "name": metadata.get("name", ""),
        "uid": metadata.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }
