"""Kubernetes objects of a FlinkDeployment, as pure functions: spec + effective Flink configuration in,
plain manifest dicts out (``apiVersion``/``kind``/``metadata``/``spec``), deterministic.

``render`` gives every object of a cluster in creation order: the JobManager Deployment first, then the
Services and ConfigMaps (native mode: what Flink's client creates; standalone mode: what the operator's
standalone module creates, ending with the TaskManager Deployment), then the Ingress when
``spec.ingress`` is set and the operator manages ingresses. Once the JobManager Deployment is created,
:func:`adopt` gives the Services and ConfigMaps their ownerReference to it, as Flink's client does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from flinkop.api.deployment import FlinkDeployment
from flinkop.api.enums import KubernetesDeploymentMode
from flinkop.flink.resources import keys
from flinkop.flink.resources.cluster_config import build_cluster_config, is_ha_enabled
from flinkop.flink.resources.configmap import (
    DEFAULT_LOG_CONFIGURATION,
    config_file_name,
    flink_config_map,
    render_config_file,
)
from flinkop.flink.resources.context import RenderContext, render_context
from flinkop.flink.resources.ingress import (
    IngressTemplateError,
    ingress_url,
    render_ingress,
    validate_ingress_template,
)
from flinkop.flink.resources.memory import format_memory_size, parse_memory_size, parse_quantity
from flinkop.flink.resources.naming import deployment_owner_reference
from flinkop.flink.resources.native import render_native
from flinkop.flink.resources.options import FlinkConf, ResourceRenderError
from flinkop.flink.resources.pods import rest_port
from flinkop.flink.resources.podtemplate import merge_pod_templates
from flinkop.flink.resources.standalone import render_standalone

__all__ = [
    "DEFAULT_LOG_CONFIGURATION",
    "IngressTemplateError",
    "RenderContext",
    "ResourceRenderError",
    "adopt",
    "build_cluster_config",
    "config_file_name",
    "flink_config_map",
    "format_memory_size",
    "ingress_url",
    "is_ha_enabled",
    "merge_pod_templates",
    "parse_memory_size",
    "parse_quantity",
    "render",
    "render_cluster",
    "render_config_file",
    "render_context",
    "render_ingress",
    "validate_ingress_template",
]

# Kinds Flink's client hands to the JobManager Deployment's ownership once the Deployment exists.
_ADOPTED_KINDS = frozenset({"Service", "ConfigMap"})


def render(
    deployment: FlinkDeployment,
    flink_config: Mapping[str, str],
    *,
    operator_namespace: str | None = None,
    restore_from: str | None = None,
    allow_non_restored_state: bool | None = None,
    job_id: str | None = None,
    default_log_configuration: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every Kubernetes object of ``deployment``'s cluster, in creation order.

    ``flink_config`` is the effective configuration (operator defaults + ``spec.flinkConfiguration``, flat);
    ``restore_from`` / ``allow_non_restored_state`` / ``job_id`` are the deploy-time choices of the
    reconciler for an application cluster; ``default_log_configuration`` replaces the built-in
    ``log4j-console.properties`` used when ``spec.logConfiguration`` is not set. ``operator_namespace`` is
    accepted for callers that have it; no object depends on it (upstream's neither).
    Raises ResourceRenderError when the spec cannot be deployed.
    """
    del operator_namespace  # nothing upstream renders depends on the operator's namespace
    ctx = render_context(
        deployment,
        flink_config,
        restore_from=restore_from,
        allow_non_restored_state=allow_non_restored_state,
        job_id=job_id,
        default_log_configuration=default_log_configuration,
    )
    objects = render_cluster(ctx)
    manage_ingress = FlinkConf(flink_config).get_bool(keys.INGRESS_MANAGE, True)
    if deployment.spec.ingress is not None and manage_ingress:
        objects.append(render_ingress(deployment, rest_port(ctx.conf)))
    return objects


def render_cluster(ctx: RenderContext) -> list[dict[str, Any]]:
    """The Deployments, Services and ConfigMaps of the cluster (no Ingress)."""
    if ctx.mode == KubernetesDeploymentMode.STANDALONE:
        return render_standalone(ctx)
    return render_native(ctx)


def adopt(
    objects: Sequence[Mapping[str, Any]], jobmanager_deployment: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Copies of ``objects`` where the Services and ConfigMaps are owned by the created JobManager Deployment
    (``apps/v1`` Deployment, its name and uid, controller and blockOwnerDeletion true); other objects are
    returned unchanged."""
    reference = deployment_owner_reference(dict(jobmanager_deployment))
    result = []
    for obj in objects:
        copied = copy.deepcopy(dict(obj))
        if copied.get("kind") in _ADOPTED_KINDS:
            copied.setdefault("metadata", {})["ownerReferences"] = [dict(reference)]
        result.append(copied)
    return result
