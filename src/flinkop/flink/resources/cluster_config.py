"""The Flink configuration a cluster is deployed with: the effective configuration plus the keys the
operator (``FlinkConfigBuilder``, the deploy step) and Flink's Kubernetes client
(``KubernetesClusterDescriptor`` and its decorators) add, in Flink's flat string form.

The input is the effective configuration computed elsewhere (operator defaults, namespace and version
defaults, ``spec.flinkConfiguration``). Operator-only keys (``kubernetes.operator.*``, ``job.autoscaler.*``)
are dropped from the result, as upstream strips them before handing the configuration to Flink.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from flinkop.api.deployment import FlinkDeployment
from flinkop.api.enums import FlinkVersion, KubernetesDeploymentMode, UpgradeMode
from flinkop.flink.resources import keys
from flinkop.flink.resources.memory import resource_config
from flinkop.flink.resources.naming import (
    APPLICATION_ENTRYPOINT_CLASS,
    BLOB_SERVER_PORT,
    GENERATION_ANNOTATION,
    JOB_MANAGER_RPC_PORT,
    REST_PORT,
    SESSION_ENTRYPOINT_CLASS,
    TASK_MANAGER_RPC_PORT,
    internal_service_address,
    jobmanager_owner_reference,
)
from flinkop.flink.resources.options import (
    FlinkConf,
    ResourceRenderError,
    encode_list,
    encode_map,
    encode_map_list,
)

DEFAULT_CHECKPOINTING_INTERVAL = "5 min"
SERVICE_EXPOSED_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "Headless_ClusterIP")


def is_ha_enabled(conf: FlinkConf) -> bool:
    """``HighAvailabilityMode.isHighAvailabilityModeActivated``: any HA type other than NONE."""
    value = conf.get(keys.HA_TYPE, *keys.HA_TYPE_FALLBACKS)
    return value is not None and value.strip() != "" and value.strip().upper() != "NONE"


def is_operator_key(key: str) -> bool:
    return key.startswith(keys.OPERATOR_KEY_PREFIXES)


def flink_version_of(deployment: FlinkDeployment) -> FlinkVersion:
    version = deployment.spec.flink_version
    if version is None or version.major_minor is None:
        raise ResourceRenderError("Flink Version must be defined.")
    return version


def parallelism_of(deployment: FlinkDeployment, conf: FlinkConf) -> int:
    """Upstream's ``getParallelism``: TaskManager replicas x slots, else the largest vertex override, else
    ``job.parallelism``."""
    job = deployment.spec.job
    task_manager = deployment.spec.task_manager
    if task_manager is not None and task_manager.replicas is not None:
        return task_manager.replicas * conf.get_int(keys.NUM_TASK_SLOTS, 1)
    overrides = conf.get_map(keys.PARALLELISM_OVERRIDES)
    if overrides:
        try:
            largest = max(int(value) for value in overrides.values())
        except ValueError:
            raise ResourceRenderError(f"Invalid {keys.PARALLELISM_OVERRIDES}: {overrides}") from None
        if largest > 0:
            return largest
    return job.parallelism if job is not None else 0


def num_task_managers(conf: FlinkConf, parallelism: int) -> int:
    slots = max(conf.get_int(keys.NUM_TASK_SLOTS, 1), 1)
    return (parallelism + slots - 1) // slots


def standalone_jar_uri(jar_uri: str) -> str:
    """``local://`` URIs become ``file://`` for standalone clusters (``pipeline.classpaths``)."""
    parts = urlsplit(jar_uri)
    if parts.scheme == "local":
        return urlunsplit(("file", parts.netloc, parts.path, parts.query, parts.fragment))
    return jar_uri


def recovery_keys(version: FlinkVersion) -> tuple[str, str, str, str]:
    """(restore path key, its other name, ignore-unclaimed-state key, its other name) for ``version``:
    ``execution.state-recovery.*`` from Flink 1.20 on, ``execution.savepoint.*`` before."""
    if version.is_at_least(FlinkVersion.V1_20):
        return (
            keys.SAVEPOINT_PATH_V2,
            keys.SAVEPOINT_PATH,
            keys.SAVEPOINT_IGNORE_UNCLAIMED_STATE_V2,
            keys.SAVEPOINT_IGNORE_UNCLAIMED_STATE,
        )
    return (
        keys.SAVEPOINT_PATH,
        keys.SAVEPOINT_PATH_V2,
        keys.SAVEPOINT_IGNORE_UNCLAIMED_STATE,
        keys.SAVEPOINT_IGNORE_UNCLAIMED_STATE_V2,
    )


def build_cluster_config(
    deployment: FlinkDeployment,
    flink_config: Mapping[str, str],
    *,
    restore_from: str | None = None,
    allow_non_restored_state: bool | None = None,
    job_id: str | None = None,
) -> dict[str, str]:
    """The configuration the cluster of ``deployment`` is deployed with (sorted by key).

    ``restore_from``: savepoint/checkpoint path an application cluster starts from
    (``execution.state-recovery.path``, ``execution.savepoint.path`` before Flink 1.20); when None, a
    restore path inherited from the effective configuration is removed, as upstream does.
    ``allow_non_restored_state``: overrides ``spec.job.allowNonRestoredState``.
    ``job_id``: the job id of an application cluster (``$internal.pipeline.job-id``).
    """
    spec = deployment.spec
    name, namespace = deployment.name, deployment.namespace
    if not name or not namespace:
        raise ResourceRenderError("The FlinkDeployment must have a name and a namespace.")
    version = flink_version_of(deployment)
    mode = deployment.deployment_mode
    standalone = mode == KubernetesDeploymentMode.STANDALONE
    job = spec.job

    conf: dict[str, str] = dict(flink_config)

    def set_default(key: str, value: str) -> None:
        if key not in conf:
            conf[key] = value

    # applyFlinkConfiguration
    set_default(keys.REST_SERVICE_EXPOSED_TYPE, "ClusterIP")
    set_default(keys.WEB_CANCEL_ENABLE, "false")
    conf[keys.FLINK_VERSION] = version.value

    # applyImage / applyImagePullPolicy / applyServiceAccount
    if spec.image and spec.image.strip():
        image_key = (
            keys.CONTAINER_IMAGE if version.is_at_least(FlinkVersion.V1_17) else keys.CONTAINER_IMAGE_LEGACY
        )
        conf[image_key] = spec.image
        other = keys.CONTAINER_IMAGE_LEGACY if image_key == keys.CONTAINER_IMAGE else keys.CONTAINER_IMAGE
        conf.pop(other, None)  # one name only, the one the version reads
    if spec.image_pull_policy and spec.image_pull_policy.strip():
        if spec.image_pull_policy not in ("Always", "IfNotPresent", "Never"):
            raise ResourceRenderError(f"Invalid imagePullPolicy: {spec.image_pull_policy}")
        conf[keys.CONTAINER_IMAGE_PULL_POLICY] = spec.image_pull_policy
    if spec.service_account is not None:
        conf[keys.SERVICE_ACCOUNT] = spec.service_account

    # applyJobManagerSpec / applyTaskManagerSpec
    if spec.job_manager is not None:
        conf.update(resource_config(spec.job_manager, jobmanager=True, flink_version=version))
        if spec.job_manager.replicas > 0:
            conf[keys.JOB_MANAGER_REPLICAS] = str(spec.job_manager.replicas)
    if spec.task_manager is not None:
        conf.update(resource_config(spec.task_manager, jobmanager=False, flink_version=version))
        if spec.task_manager.replicas is not None and spec.task_manager.replicas > 0:
            conf[keys.STANDALONE_TASKMANAGER_REPLICAS] = str(spec.task_manager.replicas)
    if job is not None and standalone and keys.STANDALONE_TASKMANAGER_REPLICAS not in conf:
        tm_count = num_task_managers(FlinkConf(conf), parallelism_of(deployment, FlinkConf(conf)))
        conf[keys.STANDALONE_TASKMANAGER_REPLICAS] = str(tm_count)

    # applyJobOrSessionSpec
    if job is not None:
        conf[keys.TARGET] = keys.TARGET_APPLICATION
        if job.jar_uri is not None:
            conf[keys.PIPELINE_JARS] = encode_list([job.jar_uri])
        conf[keys.DEFAULT_PARALLELISM] = str(parallelism_of(deployment, FlinkConf(conf)))
        conf[keys.SHUTDOWN_ON_APPLICATION_FINISH] = "false"
        set_default(keys.SUBMIT_FAILED_JOB_ON_APPLICATION_ERROR, "true")
        # applyJobConfig
        set_default(keys.PIPELINE_NAME, name)
        if job.upgrade_mode == UpgradeMode.LAST_STATE:
            set_default(keys.CHECKPOINTING_INTERVAL, DEFAULT_CHECKPOINTING_INTERVAL)
        set_default(keys.EXTERNALIZED_CHECKPOINT_RETENTION, "RETAIN_ON_CANCELLATION")
        path_key, other_path_key, ignore_key, other_ignore_key = recovery_keys(version)
        allow = job.allow_non_restored_state if allow_non_restored_state is None else allow_non_restored_state
        if allow is not None:
            conf[ignore_key] = "true" if allow else "false"
            conf.pop(other_ignore_key, None)
        if job.entry_class is not None:
            conf[keys.APPLICATION_MAIN_CLASS] = job.entry_class
        conf[keys.APPLICATION_ARGS] = encode_list(job.args)
        # deploy step: restore path and job id
        conf.pop(other_path_key, None)
        if restore_from:
            conf[path_key] = restore_from
        else:
            conf.pop(path_key, None)
        if job_id:
            conf[keys.PIPELINE_JOB_ID] = job_id
    else:
        conf[keys.TARGET] = keys.TARGET_SESSION
    if standalone:
        conf[keys.TARGET] = keys.TARGET_REMOTE
        conf[keys.STANDALONE_CLUSTER_MODE] = "SESSION" if job is None else "APPLICATION"
        if job is not None and job.jar_uri is not None:
            conf[keys.PIPELINE_CLASSPATHS] = encode_list([standalone_jar_uri(job.jar_uri)])

    # build(): cluster identity
    conf[keys.NAMESPACE] = namespace
    conf[keys.CLUSTER_ID] = name
    ha = is_ha_enabled(FlinkConf(conf))
    if ha:
        conf[keys.HA_CLUSTER_ID] = name

    # deploy step: owner reference and generation annotation of the JobManager Deployment
    if deployment.metadata.uid:
        conf[keys.JOB_MANAGER_OWNER_REFERENCE] = encode_map_list([_owner_reference_option(deployment)])
    if deployment.metadata.generation is not None:
        annotations = FlinkConf(conf).get_map(keys.JOB_MANAGER_ANNOTATIONS)
        annotations[GENERATION_ANNOTATION] = str(deployment.metadata.generation)
        conf[keys.JOB_MANAGER_ANNOTATIONS] = encode_map(annotations)

    # Flink's client (KubernetesClusterDescriptor.deployClusterInternal and the decorators)
    if not standalone:
        conf[keys.INTERNAL_CLUSTER_EXECUTION_MODE] = "NORMAL"
        conf[keys.ENTRY_POINT_CLASS] = (
            APPLICATION_ENTRYPOINT_CLASS if job is not None else SESSION_ENTRYPOINT_CLASS
        )
    _fix_port(conf, keys.BLOB_SERVER_PORT, BLOB_SERVER_PORT)
    _fix_port(conf, keys.TASK_MANAGER_RPC_PORT, TASK_MANAGER_RPC_PORT)
    _fix_port(conf, keys.REST_BIND_PORT, REST_PORT, fallback_key=keys.REST_PORT)
    if ha:
        rpc_port = FlinkConf(conf).get_int(keys.JOB_MANAGER_RPC_PORT, JOB_MANAGER_RPC_PORT)
        _fix_port(conf, keys.HA_JOB_MANAGER_PORT_RANGE, rpc_port)
    if standalone or not ha:
        # The internal Service exists: TaskManagers reach the JobManager through it.
        conf[keys.JOB_MANAGER_RPC_ADDRESS] = internal_service_address(name, namespace)

    exposed = conf[keys.REST_SERVICE_EXPOSED_TYPE]
    if exposed not in SERVICE_EXPOSED_TYPES:
        raise ResourceRenderError(
            f"Could not parse value '{exposed}' for key '{keys.REST_SERVICE_EXPOSED_TYPE}': "
            f"expected one of {', '.join(SERVICE_EXPOSED_TYPES)}"
        )
    return {key: conf[key] for key in sorted(conf) if not is_operator_key(key)}


def _owner_reference_option(deployment: FlinkDeployment) -> dict[str, str]:
    reference = jobmanager_owner_reference(deployment)
    order = ("apiVersion", "kind", "name", "uid", "blockOwnerDeletion", "controller")
    return {key: _option_text(reference[key]) for key in order}


def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fix_port(conf: dict[str, str], key: str, fixed: int, *, fallback_key: str | None = None) -> None:
    """``checkAndUpdatePortConfigOption``: Kubernetes needs fixed ports; 0 or unset becomes ``fixed``."""
    value = conf.get(key)
    if value is None and fallback_key is not None:
        value = conf.get(fallback_key)
    if value is None:
        if fallback_key is None:
            conf[key] = str(fixed)
        return
    try:
        port = int(value.strip())
    except ValueError:
        raise ResourceRenderError(
            f"{key} should be specified to a fixed port. Do not support a range of ports."
        ) from None
    if port == 0:
        conf[key] = str(fixed)
