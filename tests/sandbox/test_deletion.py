"""Deletion semantics of the sandbox API server over real HTTP: finalizers, preconditions,
garbage collection (background, foreground, orphan), namespaces, deletecollection, Pods, dryRun.

Every test drives the server through kubernetes_asyncio (raw aiohttp only to read bodies the typed
clients would mangle) and asserts what kube-apiserver and kube-controller-manager do.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import KIND, WIDGET_CRD, G, P, V, widget

pytestmark = pytest.mark.usefixtures("no_server_errors")

JSON = dict[str, Any]
NS = "default"
HOLD = "example.com/hold"
MERGE = "application/merge-patch+json"
NO_FINALIZERS = {"metadata": {"finalizers": None}}
FORGED = "2020-01-01T00:00:00Z"


# -- helpers -----------------------------------------------------------------------------------------


async def eventually(predicate: Callable[[], Awaitable[Any]], what: str, within: float = 5.0) -> Any:
    """Poll until `predicate` returns something truthy (controllers act asynchronously)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


async def is_gone(read: Callable[[], Awaitable[Any]]) -> bool:
    try:
        await read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


async def api_error(call: Awaitable[Any]) -> tuple[int, JSON]:
    with pytest.raises(ApiException) as info:
        await call
    return info.value.status, json.loads(info.value.body)


async def raw(call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """The JSON body of a kubernetes_asyncio call, undeserialized."""
    response = await call(*args, _preload_content=False, **kwargs)
    try:
        return json.loads(await response.read())
    finally:
        response.release()


async def events(
    func: Callable[..., Any], *args: Any, want: int = 100, seconds: int = 1, **kwargs: Any
) -> list[JSON]:
    """Watch events (type and raw object) until `want` arrived or the server ends the stream."""
    out: list[JSON] = []
    w = watch.Watch()
    try:
        async with w.stream(func, *args, timeout_seconds=seconds, **kwargs) as stream:
            async for event in stream:
                out.append({"type": event["type"], "object": event["raw_object"]})
                if len(out) >= want:
                    break
    finally:
        await w.close()
    return out


def ref(owner: JSON, *, block: bool = False) -> JSON:
    meta = owner["metadata"]
    out = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"]}
    if block:
        out["blockOwnerDeletion"] = True
    return out


def owned_cm(name: str, *owners: JSON, ns: str = NS, finalizers: list[str] | None = None) -> JSON:
    meta: JSON = {"name": name, "namespace": ns, "ownerReferences": list(owners)}
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def deployment(name: str) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]},
            },
        },
    }


async def register_widgets(api: client.ApiClient) -> client.CustomObjectsApi:
    ext = client.ApiextensionsV1Api(api)
    await ext.create_custom_resource_definition(WIDGET_CRD)

    async def established() -> bool:
        crd = await ext.read_custom_resource_definition(f"{P}.{G}")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    await eventually(established, "Widget CRD Established")
    return client.CustomObjectsApi(api)


@asynccontextmanager
async def own_server(**kwargs: Any) -> AsyncIterator[tuple[SandboxApiServer, client.ApiClient]]:
    async with SandboxApiServer(**kwargs) as server:
        api = await config.new_client_from_config_dict(server.kubeconfig())
        try:
            yield server, api
        finally:
            await api.close()


def cm_reader(core: client.CoreV1Api, name: str, ns: str = NS) -> Callable[[], Awaitable[Any]]:
    return lambda: core.read_namespaced_config_map(name, ns)


def widget_reader(co: client.CustomObjectsApi, name: str, ns: str = NS) -> Callable[[], Awaitable[Any]]:
    return lambda: co.get_namespaced_custom_object(G, V, ns, P, name)


# -- finalizers ----------------------------------------------------------------------------------------


async def test_delete_with_finalizer_marks_object_then_clearing_finalizers_removes_it(
    widgets: client.CustomObjectsApi,
) -> None:
    created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w1", finalizers=[HOLD]))
    rv0 = created["metadata"]["resourceVersion"]

    deleting = await widgets.delete_namespaced_custom_object(G, V, NS, P, "w1")
    meta = deleting["metadata"]
    assert deleting["kind"] == KIND, "DELETE with pending finalizers returns the object, not a Status"
    assert meta["deletionTimestamp"].endswith("Z")
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["finalizers"] == [HOLD]
    assert int(meta["resourceVersion"]) > int(rv0)
    stored = await widgets.get_namespaced_custom_object(G, V, NS, P, "w1")
    assert stored["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    assert stored["metadata"]["resourceVersion"] == meta["resourceVersion"]

    # A repeated DELETE changes nothing: same resourceVersion, same timestamp, no event.
    again = await widgets.delete_namespaced_custom_object(G, V, NS, P, "w1")
    assert again["metadata"]["resourceVersion"] == meta["resourceVersion"]
    assert again["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    seen = await events(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv0)
    assert [e["type"] for e in seen] == ["MODIFIED"], seen
    assert seen[0]["object"]["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]

    # Clearing the finalizers removes the object; the PATCH answers with its final state.
    final = await widgets.patch_namespaced_custom_object(
        G, V, NS, P, "w1", NO_FINALIZERS, _content_type=MERGE
    )
    assert final["metadata"]["name"] == "w1"
    assert not final["metadata"].get("finalizers")
    assert await is_gone(widget_reader(widgets, "w1"))
    gone = await events(
        widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=meta["resourceVersion"], want=1
    )
    assert [e["type"] for e in gone] == ["DELETED"], gone
    assert gone[0]["object"]["metadata"]["name"] == "w1"


async def test_new_finalizer_on_deleting_object_is_invalid(widgets: client.CustomObjectsApi) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w1", finalizers=[HOLD]))
    await widgets.delete_namespaced_custom_object(G, V, NS, P, "w1")
    status, body = await api_error(
        widgets.patch_namespaced_custom_object(
            G, V, NS, P, "w1", {"metadata": {"finalizers": [HOLD, "example.com/late"]}}, _content_type=MERGE
        )
    )
    assert status == 422
    assert body["kind"] == "Status" and body["reason"] == "Invalid"
    assert "no new finalizers can be added if the object is being deleted" in body["message"]
    stored = await widgets.get_namespaced_custom_object(G, V, NS, P, "w1")
    assert stored["metadata"]["finalizers"] == [HOLD]


async def _update_attempt(call: Awaitable[Any]) -> None:
    """kube-apiserver either keeps the stored value or rejects the update as Invalid; both are fine."""
    try:
        await call
    except ApiException as exc:
        assert exc.status == 422, exc.body


async def test_client_cannot_set_or_clear_deletion_timestamp(widgets: client.CustomObjectsApi) -> None:
    live = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("live"))
    forged = {
        **live,
        "metadata": {**live["metadata"], "deletionTimestamp": FORGED, "deletionGracePeriodSeconds": 0},
        "spec": {"size": 2},
    }
    await _update_attempt(widgets.replace_namespaced_custom_object(G, V, NS, P, "live", forged))
    await _update_attempt(
        widgets.patch_namespaced_custom_object(
            G, V, NS, P, "live", {"metadata": {"deletionTimestamp": FORGED}}, _content_type=MERGE
        )
    )
    stored = await widgets.get_namespaced_custom_object(G, V, NS, P, "live")
    assert "deletionTimestamp" not in stored["metadata"]
    assert "deletionGracePeriodSeconds" not in stored["metadata"]

    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("dying", finalizers=[HOLD]))
    dying = await widgets.delete_namespaced_custom_object(G, V, NS, P, "dying")
    stamp = dying["metadata"]["deletionTimestamp"]
    cleared = {
        **dying,
        "metadata": {
            k: v
            for k, v in dying["metadata"].items()
            if k not in ("deletionTimestamp", "deletionGracePeriodSeconds")
        },
    }
    await _update_attempt(widgets.replace_namespaced_custom_object(G, V, NS, P, "dying", cleared))
    await _update_attempt(
        widgets.patch_namespaced_custom_object(
            G, V, NS, P, "dying", {"metadata": {"deletionTimestamp": None}}, _content_type=MERGE
        )
    )
    await _update_attempt(
        widgets.patch_namespaced_custom_object(
            G, V, NS, P, "dying", {"metadata": {"deletionTimestamp": FORGED}}, _content_type=MERGE
        )
    )
    stored = await widgets.get_namespaced_custom_object(G, V, NS, P, "dying")
    assert stored["metadata"]["deletionTimestamp"] == stamp
    assert stored["metadata"]["deletionGracePeriodSeconds"] == 0


async def test_delete_preconditions_mismatch_is_conflict(widgets: client.CustomObjectsApi) -> None:
    created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w1"))
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]

    status, body = await api_error(
        widgets.delete_namespaced_custom_object(
            G, V, NS, P, "w1", body={"preconditions": {"uid": str(uuid.uuid4())}}
        )
    )
    assert (status, body["reason"]) == (409, "Conflict")
    assert "Precondition failed: UID in precondition" in body["message"]

    status, body = await api_error(
        widgets.delete_namespaced_custom_object(
            G, V, NS, P, "w1", body={"preconditions": {"resourceVersion": str(int(rv) + 1000)}}
        )
    )
    assert (status, body["reason"]) == (409, "Conflict")
    assert "Precondition failed: ResourceVersion in precondition" in body["message"]
    unchanged = await widgets.get_namespaced_custom_object(G, V, NS, P, "w1")
    assert unchanged["metadata"]["resourceVersion"] == rv

    done = await widgets.delete_namespaced_custom_object(
        G, V, NS, P, "w1", body={"preconditions": {"uid": uid, "resourceVersion": rv}}
    )
    assert done["kind"] == "Status" and done["status"] == "Success"
    assert await is_gone(widget_reader(widgets, "w1"))


# -- garbage collection ------------------------------------------------------------------------------


async def test_background_gc_collects_dependents_asynchronously() -> None:
    # A slow controller loop makes "asynchronous" observable without racing.
    async with own_server(established_delay=0.4) as (_server, api):
        co = await register_widgets(api)
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        owner_w = await co.create_namespaced_custom_object(G, V, NS, P, widget("owner"))
        dep = await raw(apps.create_namespaced_deployment, NS, deployment("owner-d"))
        await core.create_namespaced_config_map(NS, owned_cm("by-widget", ref(owner_w)))
        await core.create_namespaced_config_map(NS, owned_cm("by-deploy", ref(dep, block=True)))
        await core.create_namespaced_config_map(NS, {"metadata": {"name": "bystander"}})
        await asyncio.sleep(0.5)  # let the collector go idle, so the deletes start a fresh delay

        gone_w = await co.delete_namespaced_custom_object(G, V, NS, P, "owner")  # Background is the default
        assert gone_w["kind"] == "Status" and gone_w["status"] == "Success"
        gone_d = await raw(apps.delete_namespaced_deployment, "owner-d", NS, propagation_policy="Background")
        assert gone_d["kind"] == "Status" and gone_d["status"] == "Success"
        # The owners are gone at once; their dependents only once the collector gets to them.
        assert await is_gone(widget_reader(co, "owner"))
        assert await is_gone(lambda: apps.read_namespaced_deployment("owner-d", NS))
        await core.read_namespaced_config_map("by-widget", NS)
        await core.read_namespaced_config_map("by-deploy", NS)

        await eventually(lambda: is_gone(cm_reader(core, "by-widget")), "by-widget collected")
        await eventually(lambda: is_gone(cm_reader(core, "by-deploy")), "by-deploy collected")
        await core.read_namespaced_config_map("bystander", NS)


async def test_dependent_with_two_owners_survives_until_both_are_gone(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api)
    one = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("one"))
    two = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("two"))
    await core.create_namespaced_config_map(NS, owned_cm("shared", ref(one), ref(two)))

    await widgets.delete_namespaced_custom_object(G, V, NS, P, "one")

    async def pruned() -> bool:
        refs = (await raw(core.read_namespaced_config_map, "shared", NS))["metadata"].get("ownerReferences")
        return refs == [ref(two)]

    await eventually(pruned, "the reference to the dead owner is pruned")
    await asyncio.sleep(0.2)
    shared = await raw(core.read_namespaced_config_map, "shared", NS)
    assert shared["metadata"]["ownerReferences"] == [ref(two)], "the live owner's reference must stay"

    await widgets.delete_namespaced_custom_object(G, V, NS, P, "two")
    await eventually(lambda: is_gone(cm_reader(core, "shared")), "shared collected after its last owner")


async def test_foreground_deletion_waits_for_dependents(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api)
    owner = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("owner"))
    await core.create_namespaced_config_map(NS, owned_cm("held", ref(owner, block=True), finalizers=[HOLD]))

    deleting = await widgets.delete_namespaced_custom_object(
        G, V, NS, P, "owner", propagation_policy="Foreground"
    )
    assert deleting["kind"] == KIND
    assert "foregroundDeletion" in deleting["metadata"]["finalizers"]
    assert deleting["metadata"].get("deletionTimestamp")

    async def dependent_deleting() -> bool:
        cm = await raw(core.read_namespaced_config_map, "held", NS)
        return bool(cm["metadata"].get("deletionTimestamp"))

    await eventually(dependent_deleting, "the collector deletes the dependent")
    await asyncio.sleep(0.2)
    still = await widgets.get_namespaced_custom_object(G, V, NS, P, "owner")
    assert "foregroundDeletion" in still["metadata"]["finalizers"], "owner must wait for its dependents"

    await core.patch_namespaced_config_map("held", NS, NO_FINALIZERS, _content_type=MERGE)
    assert await is_gone(cm_reader(core, "held"))
    await eventually(
        lambda: is_gone(widget_reader(widgets, "owner")),
        "the foreground owner is removed once its dependents are gone",
    )


async def test_foreground_deletion_removes_dependents_then_owner(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api)
    owner = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("owner"))
    await core.create_namespaced_config_map(NS, owned_cm("dep", ref(owner, block=True)))
    deleting = await widgets.delete_namespaced_custom_object(
        G, V, NS, P, "owner", body={"propagationPolicy": "Foreground"}
    )
    assert deleting["metadata"]["finalizers"] == ["foregroundDeletion"]
    await eventually(lambda: is_gone(cm_reader(core, "dep")), "dependent deleted")
    await eventually(lambda: is_gone(widget_reader(widgets, "owner")), "foreground owner removed")


@pytest.mark.parametrize(
    "options",
    [{"propagationPolicy": "Orphan"}, {"orphanDependents": True}],
    ids=["propagationPolicy", "orphanDependents"],
)
async def test_orphan_deletion_strips_owner_references(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
    options: JSON,
) -> None:
    core = client.CoreV1Api(api)
    owner = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("owner"))
    other = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("other"))
    await core.create_namespaced_config_map(NS, owned_cm("only", ref(owner)))
    await core.create_namespaced_config_map(NS, owned_cm("both", ref(owner), ref(other)))

    delete_options = {"kind": "DeleteOptions", "apiVersion": "v1", **options}
    deleting = await widgets.delete_namespaced_custom_object(G, V, NS, P, "owner", body=delete_options)
    assert deleting["kind"] == KIND
    assert "orphan" in deleting["metadata"]["finalizers"]
    await eventually(lambda: is_gone(widget_reader(widgets, "owner")), "orphaning owner removed")
    await asyncio.sleep(0.2)
    only = await raw(core.read_namespaced_config_map, "only", NS)
    assert not only["metadata"].get("ownerReferences")
    both = await raw(core.read_namespaced_config_map, "both", NS)
    assert both["metadata"]["ownerReferences"] == [ref(other)]


async def test_gc_disabled_keeps_dependents() -> None:
    async with own_server(gc=False, established_delay=0.02) as (_server, api):
        core = client.CoreV1Api(api)
        owner = await raw(core.create_namespaced_config_map, NS, {"metadata": {"name": "owner"}})
        fg_owner = await raw(core.create_namespaced_config_map, NS, {"metadata": {"name": "fg-owner"}})
        await core.create_namespaced_config_map(NS, owned_cm("dep", ref(owner)))
        await core.create_namespaced_config_map(NS, owned_cm("fg-dep", ref(fg_owner, block=True)))
        dangling = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
        await core.create_namespaced_config_map(NS, owned_cm("orphaned", dangling))

        await core.delete_namespaced_config_map("owner", NS)
        await raw(core.delete_namespaced_config_map, "fg-owner", NS, propagation_policy="Foreground")
        await asyncio.sleep(0.3)
        dep = await raw(core.read_namespaced_config_map, "dep", NS)
        assert dep["metadata"]["ownerReferences"] == [ref(owner)]
        await core.read_namespaced_config_map("orphaned", NS)
        await core.read_namespaced_config_map("fg-dep", NS)
        # Without a collector nothing finishes a foreground deletion (envtest behaves the same).
        stuck = await raw(core.read_namespaced_config_map, "fg-owner", NS)
        assert stuck["metadata"]["finalizers"] == ["foregroundDeletion"]


async def test_dependent_of_nonexistent_owner_is_collected(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    await core.create_namespaced_config_map(NS, owned_cm("orphaned", ghost))
    await eventually(lambda: is_gone(cm_reader(core, "orphaned")), "dependent of a missing owner collected")


# -- namespaces, collections, pods, dryRun ---------------------------------------------------------


async def test_namespace_deletion_terminates_content_then_namespace(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": "doomed"}})
    await core.create_namespaced_config_map("doomed", {"metadata": {"name": "cm"}})
    await core.create_namespaced_secret("doomed", {"metadata": {"name": "s"}, "stringData": {"a": "b"}})
    await widgets.create_namespaced_custom_object(
        G, V, "doomed", P, widget("held", ns="doomed", finalizers=[HOLD])
    )

    terminating = await raw(core.delete_namespace, "doomed")
    assert terminating["kind"] == "Namespace"
    assert terminating["status"]["phase"] == "Terminating"
    assert terminating["metadata"].get("deletionTimestamp")

    late = {"metadata": {"name": "late"}}
    status, body = await api_error(core.create_namespaced_config_map("doomed", late))
    assert (status, body["reason"]) == (403, "Forbidden")
    assert "because it is being terminated" in body["message"]

    await eventually(lambda: is_gone(cm_reader(core, "cm", "doomed")), "configmap deleted")
    await eventually(lambda: is_gone(lambda: core.read_namespaced_secret("s", "doomed")), "secret deleted")
    held = await widgets.get_namespaced_custom_object(G, V, "doomed", P, "held")
    assert held["metadata"].get("deletionTimestamp"), "the namespace controller deletes it too"
    await asyncio.sleep(0.2)
    ns = await raw(core.read_namespace, "doomed")
    assert ns["status"]["phase"] == "Terminating", "the namespace waits for the finalizer-holding object"

    await widgets.patch_namespaced_custom_object(
        G, V, "doomed", P, "held", NO_FINALIZERS, _content_type=MERGE
    )
    await eventually(lambda: is_gone(lambda: core.read_namespace("doomed")), "namespace removed")
    status, body = await api_error(core.read_namespace("doomed"))
    assert (status, body["reason"]) == (404, "NotFound")


async def test_delete_collection_honours_label_selector(
    widgets: client.CustomObjectsApi,
    api: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api)
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name, labels={"tier": tier}))
        await core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": {"tier": tier}}})
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("plain"))

    await widgets.delete_collection_namespaced_custom_object(G, V, NS, P, label_selector="tier=web")
    left = await widgets.list_namespaced_custom_object(G, V, NS, P)
    assert sorted(i["metadata"]["name"] for i in left["items"]) == ["c", "plain"]

    await core.delete_collection_namespaced_config_map(NS, label_selector="tier in (db)")
    cms = await core.list_namespaced_config_map(NS)
    names = {i.metadata.name for i in cms.items}
    assert {"a", "b"} <= names and "c" not in names


async def test_pod_deletion_depends_on_node_binding(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    container = {"name": "main", "image": "busybox:1.36"}
    await core.create_namespaced_pod(
        NS, {"metadata": {"name": "unbound"}, "spec": {"containers": [container]}}
    )
    removed = await raw(core.delete_namespaced_pod, "unbound", NS)
    assert removed["kind"] == "Status" and removed["status"] == "Success"
    assert await is_gone(lambda: core.read_namespaced_pod("unbound", NS))

    await core.create_namespaced_pod(
        NS, {"metadata": {"name": "bound"}, "spec": {"nodeName": "node-1", "containers": [container]}}
    )
    graceful = await raw(core.delete_namespaced_pod, "bound", NS)
    assert graceful["kind"] == "Pod"
    assert graceful["metadata"].get("deletionTimestamp")
    assert graceful["metadata"]["deletionGracePeriodSeconds"] == 30
    await asyncio.sleep(0.1)
    still = await raw(core.read_namespaced_pod, "bound", NS)
    assert still["metadata"]["deletionTimestamp"] == graceful["metadata"]["deletionTimestamp"]

    # The kubelet finishes the deletion with gracePeriodSeconds=0.
    final = await raw(core.delete_namespaced_pod, "bound", NS, grace_period_seconds=0)
    assert final["kind"] == "Status" and final["status"] == "Success"
    assert await is_gone(lambda: core.read_namespaced_pod("bound", NS))


async def test_dry_run_delete_keeps_object(widgets: client.CustomObjectsApi, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w1"))
    answer = await widgets.delete_namespaced_custom_object(G, V, NS, P, "w1", dry_run="All")
    assert answer["kind"] == "Status" and answer["status"] == "Success"
    stored = await widgets.get_namespaced_custom_object(G, V, NS, P, "w1")
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w2", finalizers=[HOLD]))
    marked = await widgets.delete_namespaced_custom_object(G, V, NS, P, "w2", dry_run="All")
    assert marked["metadata"].get("deletionTimestamp")
    kept_w2 = await widgets.get_namespaced_custom_object(G, V, NS, P, "w2")
    assert "deletionTimestamp" not in kept_w2["metadata"]

    cm = await raw(core.create_namespaced_config_map, NS, {"metadata": {"name": "cm"}})
    await core.delete_namespaced_config_map("cm", NS, dry_run="All")
    kept = await raw(core.read_namespaced_config_map, "cm", NS)
    assert kept["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
