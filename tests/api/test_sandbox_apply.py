"""The generated CRDs install on an API server, and what it serves back parses into the models."""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from kubernetes_asyncio import client

from flinkop.api import (
    GROUP,
    RESOURCE_TYPES,
    VERSION,
    FlinkDeployment,
    FlinkJobState,
    ResourceLifecycleState,
    TaskManagerInfo,
    parse_any_resource,
    parse_flink_deployment,
    to_wire,
)

from .conftest import CRD_DIR, EXAMPLES

MERGE_PATCH = "application/merge-patch+json"


async def install_crds(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    names = []
    for path in sorted(CRD_DIR.glob("*.yml")):
        body = yaml.safe_load(path.read_text())
        await ext.create_custom_resource_definition(body)
        names.append(body["metadata"]["name"])
    for name in names:
        for _ in range(200):
            crd = await ext.read_custom_resource_definition(name)
            if any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or []):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"{name} never Established")


async def test_examples_applied_to_the_sandbox_read_back_as_models(api: client.ApiClient) -> None:
    await install_crds(api)
    objects = client.CustomObjectsApi(api)
    applied: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            plural = RESOURCE_TYPES[doc["kind"]].PLURAL
            await objects.create_namespaced_custom_object(GROUP, VERSION, "default", plural, doc)
            applied[(doc["kind"], doc["metadata"]["name"])] = doc
    served = []
    for model in RESOURCE_TYPES.values():
        listing = await objects.list_namespaced_custom_object(GROUP, VERSION, "default", model.PLURAL)
        served += listing["items"]
    assert len(served) == len(applied)
    for item in served:
        resource = parse_any_resource(item)  # server-added metadata (uid, managedFields...) included
        assert resource.metadata.uid and resource.metadata.generation == 1
        example = applied[(resource.kind, resource.name)]
        assert resource.model_dump(mode="json", exclude_unset=True).get("spec") == example.get("spec")


async def test_status_and_scale_subresources_work_with_the_models(api: client.ApiClient) -> None:
    await install_crds(api)
    objects = client.CustomObjectsApi(api)
    doc = yaml.safe_load((EXAMPLES / "basic-reactive.yaml").read_text())
    created = parse_flink_deployment(
        await objects.create_namespaced_custom_object(GROUP, VERSION, "default", FlinkDeployment.PLURAL, doc)
    )

    created.status.lifecycle_state = ResourceLifecycleState.STABLE
    created.status.job_status.state = FlinkJobState.RUNNING
    created.status.task_manager = TaskManagerInfo(
        label_selector="component=taskmanager,app=reactive-example", replicas=2
    )
    body = {
        "metadata": {"resourceVersion": created.metadata.resource_version},
        "status": to_wire(created.status),
    }
    await objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", FlinkDeployment.PLURAL, created.name, body, _content_type=MERGE_PATCH
    )
    scale = await objects.get_namespaced_custom_object_scale(
        GROUP, VERSION, "default", FlinkDeployment.PLURAL, created.name
    )
    assert (scale["spec"]["replicas"], scale["status"]["replicas"]) == (2, 2)
    assert scale["status"]["selector"] == "component=taskmanager,app=reactive-example"

    await objects.patch_namespaced_custom_object_scale(
        GROUP,
        VERSION,
        "default",
        FlinkDeployment.PLURAL,
        created.name,
        {"spec": {"replicas": 4}},
        _content_type=MERGE_PATCH,
    )
    scaled = parse_flink_deployment(
        await objects.get_namespaced_custom_object(
            GROUP, VERSION, "default", FlinkDeployment.PLURAL, created.name
        )
    )
    assert scaled.spec.task_manager is not None and scaled.spec.task_manager.replicas == 4
    assert scaled.status.lifecycle_state is ResourceLifecycleState.STABLE
    assert scaled.status.job_status.state is FlinkJobState.RUNNING
