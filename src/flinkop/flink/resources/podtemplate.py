"""Pod templates: merging ``spec.podTemplate`` with the JobManager/TaskManager templates as the upstream
operator does (``FlinkUtils.mergePodTemplates``), and the operator's additions to them.

Merge rules (upstream's JSON tree merge, replicated on plain dicts):
* objects are merged key by key, recursively; the component template wins for scalars;
* two arrays are merged element by element **by index** (the n-th element of the component template is
  merged into the n-th element of the common template, extra elements are appended). A scalar element
  of the common template is kept at an index both arrays have: that is upstream's behaviour;
* with ``kubernetes.operator.pod-template.merge-arrays-by-name: true`` arrays whose elements all have a
  ``name`` are merged **by name** instead (matching elements merged, new names appended in order).
"""

from __future__ import annotations

import copy
from typing import Any

from flinkop.api.deployment import FlinkDeployment
from flinkop.flink.resources.memory import extra_container_resources
from flinkop.flink.resources.naming import MAIN_CONTAINER_NAME, REST_PORT_NAME

# The operator's JobManager startup probe: GET /config on the "rest" port every second, forever.
STARTUP_PROBE: dict[str, Any] = {
    "failureThreshold": 2147483647,
    "httpGet": {"path": "/config", "port": REST_PORT_NAME},
    "periodSeconds": 1,
}


def merge_pod_templates(
    common: dict[str, Any] | None, component: dict[str, Any] | None, *, merge_arrays_by_name: bool = False
) -> dict[str, Any] | None:
    """The common template with the component template merged over it (neither input is modified)."""
    if component is None:
        return copy.deepcopy(common)
    if common is None:
        return copy.deepcopy(component)
    merged = copy.deepcopy(common)
    _merge_into(merged, copy.deepcopy(component), merge_arrays_by_name)
    return merged


def _merge_into(target: Any, source: Any, by_name: bool) -> None:
    if not isinstance(target, dict) or not isinstance(source, dict):
        return  # upstream only descends into objects; anything else keeps the target value
    for key, value in source.items():
        existing = target.get(key)
        if isinstance(existing, list) and isinstance(value, list):
            _merge_arrays(existing, value, by_name)
        elif isinstance(existing, dict):
            _merge_into(existing, value, by_name)
        else:
            target[key] = value


def _names_defined(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def _merge_arrays(target: list[Any], source: list[Any], by_name: bool) -> None:
    if by_name and _names_defined(target) and _names_defined(source):
        grouped: dict[str, Any] = {}
        for item in target:
            grouped[_name_text(item["name"])] = item
        for item in source:
            name = _name_text(item["name"])
            if name in grouped:
                _merge_into(grouped[name], item, by_name)
            else:
                grouped[name] = item
        target[:] = list(grouped.values())
        return
    for index, item in enumerate(source):
        if index >= len(target):
            target.append(item)
        _merge_into(target[index], item, by_name)


def _name_text(name: Any) -> str:
    return name if isinstance(name, str) else str(name)


def _main_container(template: dict[str, Any]) -> dict[str, Any]:
    """The main container of ``template`` (created and appended if missing); ``template`` is modified."""
    spec = template.get("spec")
    if not isinstance(spec, dict):
        spec = template["spec"] = {}
    containers = spec.get("containers")
    if not isinstance(containers, list):
        containers = spec["containers"] = []
    for container in containers:
        if isinstance(container, dict) and container.get("name") == MAIN_CONTAINER_NAME:
            return container
    container = {"name": MAIN_CONTAINER_NAME}
    containers.append(container)
    return container


def add_main_container_resources(
    template: dict[str, Any] | None, extra: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """Put requests/limits (ephemeral storage, GPUs...) on the main container, creating the template or
    the container when needed (upstream's ``applyResourceToPodTemplate``)."""
    if not extra:
        return template
    result = copy.deepcopy(template) if template is not None else {}
    container = _main_container(result)
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    for section in ("limits", "requests"):
        if section in extra:
            current = resources.get(section)
            resources[section] = {**(current if isinstance(current, dict) else {}), **extra[section]}
    return result


def add_startup_probe(template: dict[str, Any] | None) -> dict[str, Any]:
    """The JobManager startup probe on the main container unless it already has one."""
    result = copy.deepcopy(template) if template is not None else {}
    container = _main_container(result)
    if container.get("startupProbe") is None:
        container["startupProbe"] = copy.deepcopy(STARTUP_PROBE)
    return result


def split_main_container(template: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flink's ``loadPodFromTemplateFile``: the pod without its main container, and the main container
    (an empty one when the template has none). The result is a copy."""
    pod = copy.deepcopy(template) if template is not None else {}
    metadata = pod.get("metadata")
    pod["metadata"] = metadata if isinstance(metadata, dict) else {}
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        pod["spec"] = {}
        return pod, {}
    main: dict[str, Any] | None = None
    others: list[Any] = []
    for container in spec.get("containers") or []:
        if isinstance(container, dict) and container.get("name") == MAIN_CONTAINER_NAME:
            main = container  # as in Flink, the last one named flink-main-container wins
        else:
            others.append(container)
    spec["containers"] = others
    return pod, main if main is not None else {}


def jobmanager_pod_template(
    deployment: FlinkDeployment, *, merge_arrays_by_name: bool = False, startup_probe: bool = True
) -> dict[str, Any] | None:
    """The JobManager template the operator hands to Flink: ``spec.podTemplate`` merged with
    ``jobManager.podTemplate``, extra resources on the main container, and the startup probe."""
    spec = deployment.spec
    if spec.job_manager is not None:
        template = merge_pod_templates(
            spec.pod_template, spec.job_manager.pod_template, merge_arrays_by_name=merge_arrays_by_name
        )
        template = add_main_container_resources(template, extra_container_resources(spec.job_manager))
    else:
        template = copy.deepcopy(spec.pod_template)
    if startup_probe:
        template = add_startup_probe(template)
    return template


def taskmanager_pod_template(
    deployment: FlinkDeployment, *, merge_arrays_by_name: bool = False
) -> dict[str, Any] | None:
    """The TaskManager template: ``spec.podTemplate`` merged with ``taskManager.podTemplate`` and extra
    resources on the main container; None when there is nothing to template."""
    spec = deployment.spec
    if spec.task_manager is not None:
        template = merge_pod_templates(
            spec.pod_template, spec.task_manager.pod_template, merge_arrays_by_name=merge_arrays_by_name
        )
        return add_main_container_resources(template, extra_container_resources(spec.task_manager))
    return copy.deepcopy(spec.pod_template)
