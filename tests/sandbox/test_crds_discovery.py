"""Discovery, OpenAPI and CustomResourceDefinition registration on the sandbox API server, over real
HTTP as kubectl, kubernetes_asyncio's DynamicClient and operator frameworks see them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient

from tests.conftest import KIND, WIDGET_CRD, G, P, V, widget

pytestmark = pytest.mark.usefixtures("no_server_errors")

JSON = dict[str, Any]
NS = "default"
SCHEMA = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}


# -- helpers -----------------------------------------------------------------------------------------


async def get_json(http: aiohttp.ClientSession, path: str, status: int = 200) -> Any:
    async with http.get(path) as response:
        assert response.status == status, f"GET {path}: {response.status} {await response.text()}"
        assert response.content_type == "application/json"
        return await response.json()


async def eventually(predicate: Callable[[], Awaitable[Any]], what: str, within: float = 5.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


async def api_error(call: Awaitable[Any]) -> tuple[int, JSON]:
    with pytest.raises(ApiException) as info:
        await call
    return info.value.status, json.loads(info.value.body)


def crd(
    group: str,
    plural: str,
    kind: str,
    versions: list[str],
    *,
    storage: str | None = None,
    scope: str = "Namespaced",
    short: list[str] | None = None,
) -> JSON:
    storage = storage or versions[0]
    names: JSON = {"plural": plural, "singular": kind.lower(), "kind": kind}
    if short:
        names["shortNames"] = short
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": names,
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": v == storage,
                    "schema": SCHEMA,
                    "subresources": {"status": {}},
                }
                for v in versions
            ],
        },
    }


async def establish(ext: client.ApiextensionsV1Api, body: JSON) -> JSON:
    await ext.create_custom_resource_definition(body)
    name = body["metadata"]["name"]

    async def established() -> JSON | None:
        got = await raw_crd(ext, name)
        conditions = {c["type"]: c["status"] for c in got.get("status", {}).get("conditions") or []}
        return got if conditions.get("Established") == "True" else None

    result: JSON = await eventually(established, f"{name} Established")
    return result


async def raw_crd(ext: client.ApiextensionsV1Api, name: str) -> JSON:
    response = await ext.read_custom_resource_definition(name, _preload_content=False)
    try:
        body: JSON = json.loads(await response.read())
        return body
    finally:
        response.release()


# -- discovery ---------------------------------------------------------------------------------------


async def test_version_and_healthz(http: aiohttp.ClientSession, api: client.ApiClient) -> None:
    version = await get_json(http, "/version")
    assert version["major"] == "1" and version["minor"].isdigit()
    assert version["gitVersion"].startswith("v1.")
    info = await client.VersionApi(api).get_code()
    assert info.git_version == version["gitVersion"]
    async with http.get("/healthz") as response:
        assert response.status == 200 and await response.text() == "ok"


async def test_core_discovery(http: aiohttp.ClientSession, api: client.ApiClient) -> None:
    versions = await get_json(http, "/api")
    assert versions["kind"] == "APIVersions" and versions["versions"] == ["v1"]
    assert (await client.CoreApi(api).get_api_versions()).versions == ["v1"]

    doc = await get_json(http, "/api/v1")
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    resources = {r["name"]: r for r in doc["resources"]}
    pods = resources["pods"]
    assert pods["namespaced"] is True and pods["kind"] == "Pod" and pods["singularName"] == "pod"
    assert set(pods["verbs"]) >= VERBS
    assert pods["shortNames"] == ["po"]
    assert resources["pods/status"]["kind"] == "Pod"
    assert set(resources["pods/status"]["verbs"]) == {"get", "patch", "update"}
    assert resources["namespaces"]["namespaced"] is False
    assert resources["configmaps"]["shortNames"] == ["cm"] and resources["configmaps"]["kind"] == "ConfigMap"
    assert "configmaps/status" not in resources
    assert "leases" not in resources and "deployments" not in resources


async def test_group_discovery(http: aiohttp.ClientSession) -> None:
    groups = await get_json(http, "/apis")
    assert groups["kind"] == "APIGroupList"
    by_name = {g["name"]: g for g in groups["groups"]}
    assert "" not in by_name, "the core group is served at /api, not /apis"
    assert by_name["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert {"groupVersion": "apps/v1", "version": "v1"} in by_name["apps"]["versions"]
    for name in (
        "coordination.k8s.io",
        "events.k8s.io",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
    ):
        assert name in by_name, name

    apps = await get_json(http, "/apis/apps")
    assert apps["kind"] == "APIGroup" and apps["name"] == "apps"
    assert apps["preferredVersion"]["groupVersion"] == "apps/v1"

    doc = await get_json(http, "/apis/apps/v1")
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "apps/v1"
    resources = {r["name"]: r for r in doc["resources"]}
    assert resources["deployments"]["kind"] == "Deployment"
    assert resources["deployments"]["shortNames"] == ["deploy"]
    scale = resources["deployments/scale"]
    assert scale["kind"] == "Scale" and set(scale["verbs"]) >= {"get", "update", "patch"}
    assert "deployments/status" in resources


async def test_version_priority_orders_ga_beta_alpha(
    http: aiohttp.ClientSession,
    api: client.ApiClient,
) -> None:
    body = crd(
        "prio.example.com", "gizmos", "Gizmo", ["v1alpha1", "v2beta1", "v1", "v1beta1", "v2"], storage="v1"
    )
    await establish(client.ApiextensionsV1Api(api), body)
    expected = ["v2", "v1", "v2beta1", "v1beta1", "v1alpha1"]
    group = await get_json(http, "/apis/prio.example.com")
    assert [v["version"] for v in group["versions"]] == expected
    assert group["preferredVersion"] == {"groupVersion": "prio.example.com/v2", "version": "v2"}
    listed = {g["name"]: g for g in (await get_json(http, "/apis"))["groups"]}["prio.example.com"]
    assert [v["version"] for v in listed["versions"]] == expected
    assert listed["preferredVersion"]["version"] == "v2"
    for version in expected:
        doc = await get_json(http, f"/apis/prio.example.com/{version}")
        assert [r["name"] for r in doc["resources"]] == ["gizmos", "gizmos/status"]


# -- CRD registration --------------------------------------------------------------------------------


async def test_crd_name_must_be_plural_dot_group(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    bad = json.loads(json.dumps(WIDGET_CRD))
    bad["metadata"]["name"] = "gadgets.example.com"
    status, body = await api_error(ext.create_custom_resource_definition(bad))
    assert (status, body["reason"]) == (422, "Invalid")
    assert any(c.get("field") == "metadata.name" for c in body["details"]["causes"])

    nameless = json.loads(json.dumps(WIDGET_CRD))
    del nameless["spec"]["names"]
    status, body = await api_error(ext.create_custom_resource_definition(nameless))
    assert (status, body["reason"]) == (422, "Invalid")
    assert {c.get("field") for c in body["details"]["causes"]} & {"spec.names.plural", "spec.names.kind"}

    status, _ = await api_error(ext.read_custom_resource_definition("gadgets.example.com"))
    assert status == 404


async def test_crd_becomes_established_asynchronously_but_is_discoverable_at_once(
    http: aiohttp.ClientSession,
    api: client.ApiClient,
) -> None:
    ext = client.ApiextensionsV1Api(api)
    created = await ext.create_custom_resource_definition(WIDGET_CRD, _preload_content=False)
    body = json.loads(await created.read())
    assert created.status == 201
    conditions = {c["type"]: c["status"] for c in (body.get("status") or {}).get("conditions") or []}
    assert conditions.get("Established") != "True", "Established must come later, from a controller"
    assert body["metadata"]["generation"] == 1

    # Discovery shows the group right away (Helm re-reads it right after applying CRDs).
    groups = {g["name"]: g for g in (await get_json(http, "/apis"))["groups"]}
    assert groups[G]["preferredVersion"] == {"groupVersion": f"{G}/{V}", "version": V}
    resources = {r["name"]: r for r in (await get_json(http, f"/apis/{G}/{V}"))["resources"]}
    assert resources[P]["kind"] == KIND and resources[P]["namespaced"] is True
    assert resources[P]["shortNames"] == ["wd"] and resources[P]["singularName"] == "widget"
    assert set(resources[P]["verbs"]) >= VERBS
    assert f"{P}/status" in resources and f"{P}/scale" in resources

    async def ready() -> JSON | None:
        crd_now = await raw_crd(ext, f"{P}.{G}")
        got = {c["type"]: c for c in crd_now["status"].get("conditions") or []}
        if (
            got.get("Established", {}).get("status") == "True"
            and got.get("NamesAccepted", {}).get("status") == "True"
        ):
            return crd_now
        return None

    crd_now: JSON = await eventually(ready, "NamesAccepted and Established")
    status = crd_now["status"]
    assert status["acceptedNames"]["plural"] == P and status["acceptedNames"]["kind"] == KIND
    assert status["acceptedNames"]["shortNames"] == ["wd"]
    assert status["storedVersions"] == [V]
    typed = await ext.read_custom_resource_definition(f"{P}.{G}")
    assert typed.status.accepted_names.kind == KIND


async def test_cluster_scoped_crd(http: aiohttp.ClientSession, api: client.ApiClient) -> None:
    await establish(
        client.ApiextensionsV1Api(api), crd("cluster.example.com", "things", "Thing", ["v1"], scope="Cluster")
    )
    co = client.CustomObjectsApi(api)
    thing = {
        "apiVersion": "cluster.example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t1"},
        "spec": {"x": 1},
    }
    created = await co.create_cluster_custom_object("cluster.example.com", "v1", "things", thing)
    assert "namespace" not in created["metadata"]
    got = await co.get_cluster_custom_object("cluster.example.com", "v1", "things", "t1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = await co.list_cluster_custom_object("cluster.example.com", "v1", "things")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["t1"]

    doc = await get_json(http, "/apis/cluster.example.com/v1")
    assert {r["name"]: r for r in doc["resources"]}["things"]["namespaced"] is False
    status, body = await api_error(
        co.get_namespaced_custom_object("cluster.example.com", "v1", NS, "things", "t1")
    )
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")


async def test_multi_version_crd_rewrites_api_version_only(api: client.ApiClient) -> None:
    await establish(
        client.ApiextensionsV1Api(api),
        crd("multi.example.com", "gadgets", "Gadget", ["v1", "v1beta1"], storage="v1"),
    )
    co = client.CustomObjectsApi(api)
    body = {
        "apiVersion": "multi.example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": NS},
        "spec": {"colour": "red"},
    }
    created = await co.create_namespaced_custom_object("multi.example.com", "v1", NS, "gadgets", body)
    assert created["apiVersion"] == "multi.example.com/v1"

    old = await co.get_namespaced_custom_object("multi.example.com", "v1beta1", NS, "gadgets", "g1")
    assert old["apiVersion"] == "multi.example.com/v1beta1"
    assert old["metadata"]["uid"] == created["metadata"]["uid"]
    assert old["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert old["spec"] == created["spec"] and old["kind"] == "Gadget"
    listed = await co.list_namespaced_custom_object("multi.example.com", "v1beta1", NS, "gadgets")
    assert [(i["apiVersion"], i["metadata"]["name"]) for i in listed["items"]] == [
        ("multi.example.com/v1beta1", "g1")
    ]

    # Written at v1beta1, the same object is read back at v1.
    beta = {**body, "apiVersion": "multi.example.com/v1beta1", "metadata": {"name": "g2", "namespace": NS}}
    await co.create_namespaced_custom_object("multi.example.com", "v1beta1", NS, "gadgets", beta)
    again = await co.get_namespaced_custom_object("multi.example.com", "v1", NS, "gadgets", "g2")
    assert again["apiVersion"] == "multi.example.com/v1" and again["spec"] == {"colour": "red"}


async def test_crd_deletion_removes_instances_closes_watches_and_unregisters(
    widgets: client.CustomObjectsApi,
    http: aiohttp.ClientSession,
    api: client.ApiClient,
) -> None:
    ext = client.ApiextensionsV1Api(api)
    for name in ("w1", "w2"):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name))

    seen: list[tuple[str, str]] = []
    started = asyncio.Event()

    async def follow() -> None:
        w = watch.Watch()
        try:
            stream_of = w.stream(widgets.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=60)
            async with stream_of as stream:
                async for event in stream:
                    seen.append((event["type"], event["raw_object"]["metadata"]["name"]))
                    if len(seen) == 2:
                        started.set()
        finally:
            await w.close()

    watcher = asyncio.create_task(follow())
    await asyncio.wait_for(started.wait(), 5)
    assert seen == [("ADDED", "w1"), ("ADDED", "w2")]

    await ext.delete_custom_resource_definition(f"{P}.{G}")
    await asyncio.wait_for(watcher, 5)  # the server ends the stream well before its timeout
    assert sorted(seen[2:]) == [("DELETED", "w1"), ("DELETED", "w2")], seen

    async def crd_gone() -> bool:
        try:
            await ext.read_custom_resource_definition(f"{P}.{G}")
        except ApiException as exc:
            return exc.status == 404
        return False

    await eventually(crd_gone, "the CRD is removed")
    status, body = await api_error(widgets.list_namespaced_custom_object(G, V, NS, P))
    assert (status, body["kind"]) == (404, "Status")
    status, _ = await api_error(widgets.create_namespaced_custom_object(G, V, NS, P, widget("late")))
    assert status == 404
    await get_json(http, f"/apis/{G}/{V}", status=404)
    await get_json(http, f"/apis/{G}", status=404)
    assert G not in {g["name"] for g in (await get_json(http, "/apis"))["groups"]}

    # Re-registering starts empty: the old instances were deleted, not hidden.
    await establish(ext, WIDGET_CRD)
    assert (await widgets.list_namespaced_custom_object(G, V, NS, P))["items"] == []


async def test_dynamic_client_resolves_custom_resource_kind(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
    tmp_path: Path,
) -> None:
    dyn = await DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
    resource = await dyn.resources.get(api_version=f"{G}/{V}", kind=KIND)
    assert resource.name == P and resource.namespaced is True and resource.kind == KIND
    created = await dyn.create(resource, body=widget("dyn"), namespace=NS)
    assert created.metadata.name == "dyn"
    got = await dyn.get(resource, name="dyn", namespace=NS)
    assert got.metadata.uid == created.metadata.uid
    assert "watch" in resource.verbs and "status" in resource.subresources
    cm = await dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert cm.name == "configmaps" and cm.namespaced is True
    deploy = await dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deploy.name == "deployments"


async def test_openapi_v3(http: aiohttp.ClientSession, widgets: client.CustomObjectsApi) -> None:
    index = await get_json(http, "/openapi/v3")
    paths = index["paths"]
    assert paths["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1")
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1")

    doc = await get_json(http, url)
    assert doc["openapi"].startswith("3.")
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    gvk = {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert patch["x-kubernetes-group-version-kind"] == gvk
    parameters = [*item.get("parameters", []), *patch.get("parameters", [])]
    assert "fieldValidation" in {p.get("name") for p in parameters}

    async def crd_listed() -> bool:
        return f"apis/{G}/{V}" in (await get_json(http, "/openapi/v3"))["paths"]

    await eventually(crd_listed, "the CRD's group version in /openapi/v3")


async def test_unknown_group_version_resource_is_404_status(
    http: aiohttp.ClientSession,
    api: client.ApiClient,
) -> None:
    for path in (
        "/apis/nope.example.com",
        "/apis/nope.example.com/v1",
        "/apis/apps/v9",
        "/apis/apps/v9/deployments",
        "/api/v2",
        "/api/v1/nopes",
        "/api/v1/namespaces/default/nopes",
        "/apis/apps/v1/namespaces/default/nopes/x",
    ):
        body = await get_json(http, path, status=404)
        assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404, path
    status, body = await api_error(
        client.CustomObjectsApi(api).list_namespaced_custom_object("nope.example.com", "v1", NS, "nopes")
    )
    assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
