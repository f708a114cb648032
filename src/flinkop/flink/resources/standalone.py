"""Standalone mode: the operator's own ``flink-kubernetes-standalone`` module. The operator creates both
Deployments: the JobManager ``<name>`` (``/docker-entrypoint.sh jobmanager`` for a session cluster,
``standalone-job ...`` for an application) and the TaskManagers ``<name>-taskmanager``
(``/docker-entrypoint.sh taskmanager``), both owned by the FlinkDeployment; Flink creates no pods.

Objects, in creation order: the JobManager Deployment, the internal Service ``<name>`` (always: the
TaskManagers find the JobManager through it), the REST Service ``<name>-rest``, the ConfigMap
``flink-config-<name>``, then the TaskManager Deployment.
"""

from __future__ import annotations

from typing import Any

from flinkop.flink.resources import keys
from flinkop.flink.resources.configmap import flink_config_map, flink_config_volume
from flinkop.flink.resources.context import RenderContext
from flinkop.flink.resources.jobmanager import jobmanager_pod
from flinkop.flink.resources.memory import (
    container_resources,
    process_memory_mb,
    taskmanager_cpu,
)
from flinkop.flink.resources.naming import (
    POD_IP_ARG,
    STANDALONE_APPLICATION_ARG,
    STANDALONE_JOBMANAGER_ARG,
    STANDALONE_TASKMANAGER_ARG,
    TASK_MANAGER_RPC_PORT,
    TASK_MANAGER_RPC_PORT_NAME,
    USER_LIB_PATH,
    USER_LIB_VOLUME,
    common_labels,
    jobmanager_deployment_name,
    jobmanager_selectors,
    taskmanager_deployment_name,
    taskmanager_selectors,
)
from flinkop.flink.resources.native import jobmanager_replicas
from flinkop.flink.resources.options import ResourceRenderError
from flinkop.flink.resources.pods import (
    DEFAULT_SERVICE_ACCOUNT,
    FlinkPod,
    build_deployment,
    container_entrypoint,
    env_secrets,
    image_of,
    image_pull_policy_of,
    init_main_container,
    init_pod,
    log_dir_env,
    mount_flink_conf,
    mount_secrets,
    mount_volume,
    owner_references_from_config,
    port_of,
)
from flinkop.flink.resources.services import internal_service, rest_service


def jobmanager_args(ctx: RenderContext, template_args: list[Any]) -> list[Any]:
    """``CmdStandaloneJobManagerDecorator``: session ``jobmanager [$(_POD_IP_ADDRESS)]`` appended to the
    template's args; application ``standalone-job [--job-classname C] [--allowNonRestoredState]
    [--fromSavepoint P] [--host $(_POD_IP_ADDRESS)] <job args>``."""
    conf = ctx.conf
    if not ctx.is_application:
        args = [*template_args, STANDALONE_JOBMANAGER_ARG]
        if ctx.ha_enabled:
            args.append(POD_IP_ARG)
        return args
    args = [STANDALONE_APPLICATION_ARG]
    main_class = conf.get(keys.APPLICATION_MAIN_CLASS)
    if main_class is not None:
        args += ["--job-classname", main_class]
    if conf.get_bool(keys.SAVEPOINT_IGNORE_UNCLAIMED_STATE_V2, False, keys.SAVEPOINT_IGNORE_UNCLAIMED_STATE):
        args.append("--allowNonRestoredState")
    savepoint = conf.get(keys.SAVEPOINT_PATH_V2, keys.SAVEPOINT_PATH)
    if savepoint is not None:
        args += ["--fromSavepoint", savepoint]
    if ctx.ha_enabled:
        args += ["--host", POD_IP_ARG]
    if conf.contains(keys.APPLICATION_ARGS):
        args += conf.get_list(keys.APPLICATION_ARGS)
    return args


def jobmanager_deployment(ctx: RenderContext) -> dict[str, Any]:
    conf = ctx.conf
    selectors = jobmanager_selectors(ctx.name, ctx.mode)
    labels = {**selectors, **conf.get_map(keys.JOB_MANAGER_LABELS)}

    annotations = conf.get_map(keys.JOB_MANAGER_ANNOTATIONS)
    flink_pod = jobmanager_pod(ctx, labels)
    template_args = flink_pod.main.get("args")
    flink_pod.main["command"] = [container_entrypoint(conf)]
    flink_pod.main["args"] = jobmanager_args(ctx, template_args if isinstance(template_args, list) else [])
    mount_flink_conf(flink_pod, conf, flink_config_volume(ctx.name, ctx.version, ctx.log_files))
    if ctx.is_application:
        mount_volume(flink_pod, {"name": USER_LIB_VOLUME, "emptyDir": {}}, USER_LIB_PATH)

    return build_deployment(
        name=jobmanager_deployment_name(ctx.name),
        namespace=ctx.namespace,
        labels=labels,
        annotations=annotations,
        owner_references=owner_references_from_config(conf),
        replicas=jobmanager_replicas(ctx),
        selectors=selectors,
        flink_pod=flink_pod,
    )


def taskmanager_replicas(ctx: RenderContext) -> int:
    replicas = ctx.conf.get_int(keys.STANDALONE_TASKMANAGER_REPLICAS, 1)
    if replicas < 1:
        raise ResourceRenderError(
            f"'{keys.STANDALONE_TASKMANAGER_REPLICAS}' should not be configured less than 1."
        )
    return replicas


def taskmanager_deployment(ctx: RenderContext) -> dict[str, Any]:
    conf = ctx.conf
    selectors = taskmanager_selectors(ctx.name, ctx.mode)
    labels = {**conf.get_map(keys.TASK_MANAGER_LABELS), **selectors}
    annotations = conf.get_map(keys.TASK_MANAGER_ANNOTATIONS)

    flink_pod = FlinkPod.from_template(ctx.taskmanager_template)
    init_pod(
        flink_pod,
        conf,
        service_account=conf.get_str(
            keys.TASK_MANAGER_SERVICE_ACCOUNT, DEFAULT_SERVICE_ACCOUNT, keys.SERVICE_ACCOUNT
        ),
        labels=labels,
        annotations=annotations,
        node_selector_key=keys.TASK_MANAGER_NODE_SELECTOR,
        tolerations_key=keys.TASK_MANAGER_TOLERATIONS,
        network=False,
    )
    resources = container_resources(
        flink_pod.main.get("resources"),
        memory_mb=process_memory_mb(conf, jobmanager=False),
        memory_limit_factor=conf.get_float(keys.TASK_MANAGER_MEMORY_LIMIT_FACTOR, 1.0),
        cpu=taskmanager_cpu(conf),
        cpu_limit_factor=conf.get_float(keys.TASK_MANAGER_CPU_LIMIT_FACTOR, 1.0),
    )
    rpc_port = port_of(conf, keys.TASK_MANAGER_RPC_PORT, TASK_MANAGER_RPC_PORT)
    init_main_container(
        flink_pod,
        image=image_of(conf, ctx.version),
        image_pull_policy=image_pull_policy_of(conf),
        resources=resources,
        ports=[{"name": TASK_MANAGER_RPC_PORT_NAME, "containerPort": rpc_port}],
        env=log_dir_env(conf),
    )
    env_secrets(flink_pod, conf)
    mount_secrets(flink_pod, conf)
    flink_pod.main["command"] = [container_entrypoint(conf)]
    flink_pod.main["args"] = [STANDALONE_TASKMANAGER_ARG]
    mount_flink_conf(flink_pod, conf, flink_config_volume(ctx.name, ctx.version, ctx.log_files))

    return build_deployment(
        name=taskmanager_deployment_name(ctx.name),
        namespace=ctx.namespace,
        labels=labels,
        annotations=annotations,
        owner_references=owner_references_from_config(conf),
        replicas=taskmanager_replicas(ctx),
        selectors=selectors,
        flink_pod=flink_pod,
    )


def render_standalone(ctx: RenderContext) -> list[dict[str, Any]]:
    conf = ctx.conf
    labels = common_labels(ctx.name, ctx.mode)
    selectors = jobmanager_selectors(ctx.name, ctx.mode)
    return [
        jobmanager_deployment(ctx),
        internal_service(ctx.name, ctx.namespace, conf, labels=labels, selectors=selectors),
        rest_service(ctx.name, ctx.namespace, conf, labels=labels, selectors=selectors),
        flink_config_map(ctx.deployment, ctx.config, ctx.version, log_files=ctx.log_files),
        taskmanager_deployment(ctx),
    ]
