"""Creating and deleting the Kubernetes objects of a Flink cluster (the I/O edge of the reconciler).

Deploy (as Flink's own client does): the JobManager Deployment first, then the Services and ConfigMaps
owned by it (:func:`flinkop.flink.resources.adopt`), then the rest (standalone TaskManager Deployment,
Ingress). Each object is created, or replaced when a leftover of the same name exists.

Delete (upstream's ``deleteClusterDeployment``): with Foreground propagation the JobManager is first
scaled to zero so it shuts down cleanly, then the Deployments are deleted and awaited, all within
``resource.cleanup.timeout``; garbage collection takes every object owned by them (TaskManager pods,
Services, ConfigMaps). HA ConfigMaps are deleted when the HA data must go.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any

import structlog

from flinkop.flink.resources import adopt
from flinkop.flink.resources.naming import (
    COMPONENT_JOB_MANAGER,
    CONFIGMAP_TYPE_HIGH_AVAILABILITY,
    LABEL_APP,
    LABEL_COMPONENT,
    LABEL_CONFIGMAP_TYPE,
    jobmanager_deployment_name,
    taskmanager_deployment_name,
)
from flinkop.runtime import Conflict, Kube, NotFound, Resource

JSON = dict[str, Any]
_HA_CONFIGMAP_NAME = re.compile(r".+-(cluster|[0-9a-f]{32})-config-map")
log = structlog.get_logger("flinkop.reconcilers.deploy")

DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")
SERVICES = Resource("", "v1", "services", kind="Service")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
PODS = Resource("", "v1", "pods", kind="Pod")
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", kind="Ingress")

RESOURCES: dict[tuple[str, str], Resource] = {
    (res.api_version, res.kind): res for res in (DEPLOYMENTS, SERVICES, CONFIGMAPS, PODS, INGRESSES)
}


def resource_of(obj: JSON) -> Resource:
    try:
        return RESOURCES[(str(obj.get("apiVersion")), str(obj.get("kind")))]
    except KeyError:
        raise ValueError(f"no REST resource known for {obj.get('apiVersion')} {obj.get('kind')}") from None


def _keep_immutable(existing: JSON, desired: JSON) -> JSON:
    """A replacement keeps what the server assigned and will not change (a Service's cluster IPs)."""
    result = {**desired, "metadata": {**desired.get("metadata", {})}}
    result["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
    if desired.get("kind") == "Service":
        spec = {**desired.get("spec", {})}
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if field in (existing.get("spec") or {}):
                spec.setdefault(field, existing["spec"][field])
        result["spec"] = spec
    return result


async def create_or_replace(kube: Kube, obj: JSON) -> JSON:
    res = resource_of(obj)
    meta = obj["metadata"]
    try:
        return await kube.create(res, obj, meta.get("namespace"))
    except Conflict:  # AlreadyExists: a leftover of an earlier cluster
        pass
    for _ in range(3):
        existing = await kube.get(res, meta["name"], meta.get("namespace"))
        try:
            return await kube.replace(res, _keep_immutable(existing, obj))
        except Conflict:
            continue
    raise Conflict(409, "Conflict", f"could not replace {res} {meta.get('namespace')}/{meta['name']}")


async def deploy_objects(kube: Kube, objects: Sequence[JSON]) -> JSON:
    """Create the rendered objects of a cluster in order; returns the JobManager Deployment."""
    if not objects or objects[0].get("kind") != "Deployment":
        raise ValueError("the rendered objects must start with the JobManager Deployment")
    jobmanager = await create_or_replace(kube, dict(objects[0]))
    for obj in adopt(objects[1:], jobmanager):
        await create_or_replace(kube, obj)
    return jobmanager


async def _wait_gone(
    kube: Kube, res: Resource, name: str, namespace: str, deadline: float, poll: float
) -> bool:
    while True:
        try:
            await kube.get(res, name, namespace)
        except NotFound:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(poll)


async def _scale_jobmanager_to_zero(
    kube: Kube, namespace: str, name: str, deadline: float, poll: float
) -> None:
    """Stop the JobManager pods first (upstream's shutdownJobManagersBlocking), so Flink exits cleanly."""
    try:
        await kube.patch(DEPLOYMENTS, jobmanager_deployment_name(name), {"spec": {"replicas": 0}}, namespace)
    except NotFound:
        return
    selector = f"{LABEL_APP}={name},{LABEL_COMPONENT}={COMPONENT_JOB_MANAGER}"
    while time.monotonic() < deadline:
        pods = await kube.list(PODS, namespace, label_selector=selector)
        if not pods.get("items"):
            return
        await asyncio.sleep(poll)
    log.warning("JobManager pods still running after scaling to zero", namespace=namespace, name=name)


def is_ha_configmap(item: JSON, name: str) -> bool:
    """A Kubernetes HA ConfigMap of the cluster ``name``: labelled so by Flink 1.x; Flink 2.x labels them
    only ``app``/``type``, so its names are recognised too (``<name>-cluster-config-map`` and the per-job
    ``<name>-<job id>-config-map``)."""
    meta = item.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get(LABEL_CONFIGMAP_TYPE) == CONFIGMAP_TYPE_HIGH_AVAILABILITY:
        return True
    return bool(_HA_CONFIGMAP_NAME.fullmatch(str(meta.get("name") or ""))) and str(
        meta.get("name")
    ).startswith(f"{name}-")


async def ha_configmaps(kube: Kube, namespace: str, name: str) -> list[JSON]:
    found = await kube.list(CONFIGMAPS, namespace, label_selector=f"{LABEL_APP}={name}")
    return [item for item in found.get("items") or [] if is_ha_configmap(item, name)]


async def ha_metadata_available(kube: Kube, namespace: str, name: str) -> bool:
    """True when the cluster's Kubernetes HA ConfigMaps hold a job's checkpoint pointer, i.e. a new
    JobManager with the same job id restores from them."""
    for item in await ha_configmaps(kube, namespace, name):
        if any(key.startswith("checkpointID-") for key in (item.get("data") or {})):
            return True
    return False


async def delete_ha_data(kube: Kube, namespace: str, name: str) -> int:
    """Delete the cluster's Kubernetes HA ConfigMaps; returns how many."""
    deleted = 0
    for item in await ha_configmaps(kube, namespace, name):
        try:
            await kube.delete(CONFIGMAPS, item["metadata"]["name"], namespace)
            deleted += 1
        except NotFound:
            pass
    return deleted


async def delete_cluster(
    kube: Kube,
    namespace: str,
    name: str,
    *,
    standalone: bool = False,
    propagation: str = "Foreground",
    timeout: float = 300.0,
    delete_ha: bool = True,
    poll: float = 0.5,
) -> bool:
    """Delete the cluster's Deployments (and HA data); True when they were gone within ``timeout``."""
    deadline = time.monotonic() + timeout
    log.info("Deleting cluster", propagation=propagation, namespace=namespace, name=name)
    if propagation == "Foreground" and not standalone:
        await _scale_jobmanager_to_zero(kube, namespace, name, deadline, poll)
    names = [jobmanager_deployment_name(name)]
    if standalone:
        names.append(taskmanager_deployment_name(name))
    gone = True
    for deployment in names:
        try:
            await kube.delete(DEPLOYMENTS, deployment, namespace, propagation=propagation)
        except NotFound:
            continue
        gone = await _wait_gone(kube, DEPLOYMENTS, deployment, namespace, deadline, poll) and gone
    if not gone:
        log.warning("cluster Deployments not gone within the cleanup timeout", timeout=timeout)
    if delete_ha:
        await delete_ha_data(kube, namespace, name)
    else:
        log.info("Keeping HA metadata for last-state restore")
    return gone


__all__ = [
    "CONFIGMAPS",
    "DEPLOYMENTS",
    "INGRESSES",
    "PODS",
    "SERVICES",
    "create_or_replace",
    "delete_cluster",
    "delete_ha_data",
    "deploy_objects",
    "ha_configmaps",
    "ha_metadata_available",
    "resource_of",
]
