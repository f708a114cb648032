"""Native mode: what Flink's own client (``kubernetes-session.sh`` / ``run-application``, i.e.
``KubernetesClusterDescriptor`` and ``KubernetesJobManagerFactory``) creates for a cluster. The JobManager
pod runs Flink's unmodified entrypoint
(``kubernetes-jobmanager.sh kubernetes-session|kubernetes-application``) and Flink itself creates the
TaskManager pods, from the ``pod-template-<name>`` ConfigMap when there is one.

Objects, in creation order: the JobManager Deployment ``<name>`` (owned by the FlinkDeployment), then the
internal Service ``<name>`` (not with HA: the JobManager is reached by pod IP), the REST Service
``<name>-rest``, the ConfigMap ``flink-config-<name>`` and, with a TaskManager template,
``pod-template-<name>``.
Flink's client gives the objects after the Deployment an ownerReference to it once it exists: see
:func:`flinkop.flink.resources.adopt`.
"""

from __future__ import annotations

from typing import Any

from flinkop.flink.resources import keys
from flinkop.flink.resources.configmap import flink_config_map, flink_config_volume, pod_template_config_map
from flinkop.flink.resources.context import RenderContext
from flinkop.flink.resources.jobmanager import jobmanager_pod
from flinkop.flink.resources.naming import (
    KUBERNETES_JOB_MANAGER_SCRIPT,
    POD_TEMPLATE_DIR_IN_POD,
    POD_TEMPLATE_VOLUME,
    TASK_MANAGER_POD_TEMPLATE_FILE_NAME,
    common_labels,
    jobmanager_deployment_name,
    jobmanager_selectors,
    pod_template_config_map_name,
)
from flinkop.flink.resources.options import ResourceRenderError
from flinkop.flink.resources.pods import (
    build_deployment,
    container_entrypoint,
    mount_flink_conf,
    mount_volume,
    owner_references_from_config,
)
from flinkop.flink.resources.services import internal_service, rest_service


def jobmanager_replicas(ctx: RenderContext) -> int:
    replicas = ctx.conf.get_int(keys.JOB_MANAGER_REPLICAS, 1)
    if replicas < 1:
        raise ResourceRenderError(f"'{keys.JOB_MANAGER_REPLICAS}' should not be configured less than one.")
    if replicas > 1 and not ctx.ha_enabled:
        raise ResourceRenderError("High availability should be enabled when starting standby JobManagers.")
    return replicas


def jobmanager_start_args(ctx: RenderContext) -> list[str]:
    """``bash -c "kubernetes-jobmanager.sh <execution.target> <kubernetes.jobmanager.entrypoint.args>"``."""
    target = ctx.conf.get_str(keys.TARGET, keys.TARGET_SESSION)
    entrypoint_args = ctx.conf.get_str(keys.JOB_MANAGER_ENTRYPOINT_ARGS, "")
    return ["bash", "-c", f"{KUBERNETES_JOB_MANAGER_SCRIPT} {target} {entrypoint_args}"]


def pod_template_volume(cluster_id: str) -> dict[str, Any]:
    return {
        "name": POD_TEMPLATE_VOLUME,
        "configMap": {
            "name": pod_template_config_map_name(cluster_id),
            "items": [
                {"key": TASK_MANAGER_POD_TEMPLATE_FILE_NAME, "path": TASK_MANAGER_POD_TEMPLATE_FILE_NAME}
            ],
        },
    }


def jobmanager_deployment(ctx: RenderContext) -> dict[str, Any]:
    conf = ctx.conf
    selectors = jobmanager_selectors(ctx.name, ctx.mode)
    labels = {**conf.get_map(keys.JOB_MANAGER_LABELS), **selectors}

    annotations = conf.get_map(keys.JOB_MANAGER_ANNOTATIONS)
    flink_pod = jobmanager_pod(ctx, labels)
    flink_pod.main["command"] = [container_entrypoint(conf)]
    flink_pod.main["args"] = jobmanager_start_args(ctx)
    mount_flink_conf(flink_pod, conf, flink_config_volume(ctx.name, ctx.version, ctx.log_files))
    if ctx.taskmanager_template is not None:
        mount_volume(flink_pod, pod_template_volume(ctx.name), POD_TEMPLATE_DIR_IN_POD)

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


def render_native(ctx: RenderContext) -> list[dict[str, Any]]:
    conf = ctx.conf
    labels = common_labels(ctx.name, ctx.mode)
    selectors = jobmanager_selectors(ctx.name, ctx.mode)
    objects = [jobmanager_deployment(ctx)]
    if not ctx.ha_enabled:
        objects.append(internal_service(ctx.name, ctx.namespace, conf, labels=labels, selectors=selectors))
    objects.append(rest_service(ctx.name, ctx.namespace, conf, labels=labels, selectors=selectors))
    objects.append(flink_config_map(ctx.deployment, ctx.config, ctx.version, log_files=ctx.log_files))
    if ctx.taskmanager_template is not None:
        objects.append(pod_template_config_map(ctx.name, ctx.namespace, ctx.mode, ctx.taskmanager_template))
    return objects
