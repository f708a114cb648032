"""List and watch semantics of the sandbox apiserver, driven over real HTTP like kube-apiserver clients do.

kubernetes_asyncio does the talking where it can; raw aiohttp checks what the client hides (the HTTP
status of a watch, the exact stream lines, the query spelling).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import KIND, G, P, V, widget

JSON = dict[str, Any]
NS = "default"
MERGE = "application/merge-patch+json"
WIDGETS = f"/apis/{G}/{V}/namespaces/{NS}/{P}"


# -- helpers ----------------------------------------------------------------------------------------


class Stream:
    """A kubernetes_asyncio watch running in the background, collecting its events."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timeout_seconds", 10)  # a server-side timeout: the Watch never reconnects itself
        self.events: list[JSON] = []
        self.ended = False
        self.error: BaseException | None = None
        self.watch = watch.Watch()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(func, args, kwargs))

    async def _run(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            async with self.watch.stream(func, *args, **kwargs) as stream:
                async for event in stream:
                    self.events.append(event)
                    self._changed.set()
        except ApiException as exc:
            self.error = exc
        finally:
            self.ended = True
            self._changed.set()

    @property
    def changes(self) -> list[JSON]:
        """Events other than bookmarks."""
        return [e for e in self.events if e["type"] != "BOOKMARK"]

    async def until(self, predicate: Callable[[Stream], bool], within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while not predicate(self):
            if self.ended:
                raise AssertionError(f"stream ended early (error={self.error!r}); got {summary(self.events)}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; got {summary(self.events)}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def changes_count(self, count: int, within: float = 5.0) -> list[JSON]:
        await self.until(lambda s: len(s.changes) >= count, within)
        return self.changes

    async def end(self, within: float = 5.0) -> list[JSON]:
        """Wait for the server to end the stream."""
        await asyncio.wait_for(asyncio.shield(self._task), within)
        return self.events

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        await self.watch.close()


def rv_of(event: JSON) -> int:
    return int(event["raw_object"]["metadata"]["resourceVersion"])


def name_of(event: JSON) -> str:
    return event["raw_object"]["metadata"].get("name", "")


def summary(events: list[JSON]) -> list[tuple[str, str]]:
    return [(e["type"], name_of(e)) for e in events]


@pytest.fixture
async def http(apiserver: SandboxApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": "Bearer x"}
    async with aiohttp.ClientSession(base_url=apiserver.url, headers=headers) as session:
        yield session


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


async def make_namespaces(core: client.CoreV1Api, *names: str) -> None:
    for name in names:
        await core.create_namespace({"metadata": {"name": name}})


async def read_lines(response: aiohttp.ClientResponse, within: float = 5.0) -> list[JSON]:
    """Every line of a watch stream until the server ends it."""

    async def read() -> list[JSON]:
        out = []
        while line := await response.content.readline():
            out.append(json.loads(line))
        return out

    return await asyncio.wait_for(read(), within)


async def list_rv(widgets: client.CustomObjectsApi, ns: str = NS) -> str:
    return (await widgets.list_namespaced_custom_object(G, V, ns, P))["metadata"]["resourceVersion"]


async def patch_widget(widgets: client.CustomObjectsApi, name: str, body: JSON, ns: str = NS) -> JSON:
    return await widgets.patch_namespaced_custom_object(G, V, ns, P, name, body, _content_type=MERGE)


# -- list -------------------------------------------------------------------------------------------


async def test_list_sorted_by_namespace_then_name_and_scoped_by_url(
    widgets: client.CustomObjectsApi, core: client.CoreV1Api,
) -> None:
    await make_namespaces(core, "zeta", "alpha")
    for ns, name in [("zeta", "b"), ("default", "m"), ("alpha", "z"), ("zeta", "a"), ("alpha", "c"),
                     ("default", "d")]:
        await widgets.create_namespaced_custom_object(G, V, ns, P, widget(name, ns))

    everything = await widgets.list_cluster_custom_object(G, V, P)
    keys = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everything["items"]]
    assert keys == [("alpha", "c"), ("alpha", "z"), ("default", "d"), ("default", "m"), ("zeta", "a"),
                    ("zeta", "b")]

    zeta = await widgets.list_namespaced_custom_object(G, V, "zeta", P)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in zeta["items"]] == [
        ("zeta", "a"), ("zeta", "b")]
    empty = await widgets.list_namespaced_custom_object(G, V, "kube-system", P)
    assert empty["items"] == []


async def test_list_resource_version_is_numeric_and_monotonic(widgets: client.CustomObjectsApi) -> None:
    rv0 = int(await list_rv(widgets))
    created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    rv1 = int(created["metadata"]["resourceVersion"])
    assert rv1 > rv0
    rv2 = int(await list_rv(widgets))
    assert rv2 >= rv1
    patched = await patch_widget(widgets, "a", {"spec": {"size": 2}})
    rv3 = int(patched["metadata"]["resourceVersion"])
    assert rv3 > rv2
    rv4 = int(await list_rv(widgets))
    assert rv4 >= rv3
    await widgets.delete_namespaced_custom_object(G, V, NS, P, "a")
    rv5 = int(await list_rv(widgets))
    assert rv5 > rv4, "a delete is a write: the list RV must move past it"


async def test_typed_list_items_omit_kind_while_custom_resource_items_carry_it(
    widgets: client.CustomObjectsApi, core: client.CoreV1Api, http: aiohttp.ClientSession,
) -> None:
    await core.create_namespaced_config_map(NS, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w"))

    async with http.get(f"/api/v1/namespaces/{NS}/configmaps") as response:
        assert response.status == 200
        cms = await response.json()
    assert (cms["kind"], cms["apiVersion"]) == ("ConfigMapList", "v1")
    assert [i["metadata"]["name"] for i in cms["items"]] == ["cm"]
    for item in cms["items"]:
        assert "kind" not in item and "apiVersion" not in item, item

    async with http.get(WIDGETS) as response:
        assert response.status == 200
        crs = await response.json()
    assert (crs["kind"], crs["apiVersion"]) == (f"{KIND}List", f"{G}/{V}")
    assert [(i["kind"], i["apiVersion"], i["metadata"]["name"]) for i in crs["items"]] == [
        (KIND, f"{G}/{V}", "w")]


LABELLED = {"a": {"env": "prod", "tier": "web"}, "b": {"env": "dev", "tier": "db"}, "c": {"env": "qa"},
            "d": None}


@pytest.mark.parametrize(("selector", "expected"), [
    ("env=prod", ["a"]),
    ("env==prod", ["a"]),
    ("env!=prod", ["b", "c", "d"]),  # != also matches objects without the key
    ("env in (prod,dev)", ["a", "b"]),
    ("env in (prod, qa)", ["a", "c"]),
    ("env notin (prod,dev)", ["c", "d"]),  # notin also matches objects without the key
    ("tier", ["a", "b"]),
    ("!tier", ["c", "d"]),
    ("env!=prod,tier", ["b"]),
    ("env in (prod,qa),!tier", ["c"]),
    ("env=prod,tier=db", []),
    ("tier,env notin (dev)", ["a"]),
])
async def test_label_selector(widgets: client.CustomObjectsApi, selector: str, expected: list[str]) -> None:
    for name, labels in LABELLED.items():
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name, labels=labels))
    found = await widgets.list_namespaced_custom_object(G, V, NS, P, label_selector=selector)
    assert [i["metadata"]["name"] for i in found["items"]] == expected


@pytest.mark.parametrize("selector", [
    "env in (prod", "env in prod", "a=b=c", "env notin", "=prod", "env in ()"])
async def test_malformed_label_selector_is_400(widgets: client.CustomObjectsApi, selector: str) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a", labels={"env": "prod"}))
    with pytest.raises(ApiException) as caught:
        await widgets.list_namespaced_custom_object(G, V, NS, P, label_selector=selector)
    assert caught.value.status == 400
    status = json.loads(caught.value.body)
    assert (status["kind"], status["status"], status["reason"], status["code"]) == (
        "Status", "Failure", "BadRequest", 400)


async def test_field_selector_metadata_name_and_namespace(
    widgets: client.CustomObjectsApi, core: client.CoreV1Api,
) -> None:
    await make_namespaces(core, "other")
    for ns, name in [("default", "a"), ("default", "b"), ("other", "a"), ("other", "c")]:
        await widgets.create_namespaced_custom_object(G, V, ns, P, widget(name, ns))

    def keys(found: JSON) -> list[tuple[str, str]]:
        return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in found["items"]]

    assert keys(await widgets.list_cluster_custom_object(G, V, P, field_selector="metadata.name=a")) == [
        ("default", "a"), ("other", "a")]
    assert keys(await widgets.list_cluster_custom_object(G, V, P, field_selector="metadata.name==a")) == [
        ("default", "a"), ("other", "a")]
    assert keys(await widgets.list_cluster_custom_object(G, V, P, field_selector="metadata.name!=a")) == [
        ("default", "b"), ("other", "c")]
    assert keys(await widgets.list_cluster_custom_object(
        G, V, P, field_selector="metadata.namespace=other")) == [("other", "a"), ("other", "c")]
    assert keys(await widgets.list_cluster_custom_object(
        G, V, P, field_selector="metadata.namespace!=other,metadata.name!=b")) == [("default", "a")]
    assert keys(await widgets.list_namespaced_custom_object(
        G, V, "other", P, field_selector="metadata.name=c")) == [("other", "c")]


async def test_field_selector_pod_phase_event_involved_object_secret_type(core: client.CoreV1Api) -> None:
    for name in ("p1", "p2", "p3"):
        await core.create_namespaced_pod(NS, {"metadata": {"name": name},
                                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    await core.patch_namespaced_pod_status("p1", NS, {"status": {"phase": "Running"}})
    await core.patch_namespaced_pod_status("p3", NS, {"status": {"phase": "Failed"}})

    async def pods(selector: str) -> list[str]:
        return [p.metadata.name for p in (await core.list_namespaced_pod(NS, field_selector=selector)).items]

    assert await pods("status.phase=Running") == ["p1"]
    assert await pods("status.phase=Pending") == ["p2"]
    assert await pods("status.phase!=Running") == ["p2", "p3"]
    assert await pods("status.phase!=Running,metadata.name!=p3") == ["p2"]

    for name, target in [("e1", "x"), ("e2", "y"), ("e3", "x")]:
        await core.create_namespaced_event(NS, {
            "metadata": {"name": name}, "reason": "Test", "message": "m", "type": "Normal",
            "involvedObject": {"kind": "Pod", "name": target, "namespace": NS}})
    events = await core.list_namespaced_event(NS, field_selector="involvedObject.name=x")
    assert [e.metadata.name for e in events.items] == ["e1", "e3"]
    events = await core.list_namespaced_event(NS, field_selector="involvedObject.name!=x")
    assert [e.metadata.name for e in events.items] == ["e2"]

    await core.create_namespaced_secret(NS, {"metadata": {"name": "s1"}, "stringData": {"k": "v"}})
    await core.create_namespaced_secret(NS, {"metadata": {"name": "s2"}, "type": "example.com/custom",
                                             "stringData": {"k": "v"}})
    opaque = await core.list_namespaced_secret(NS, field_selector="type=Opaque")
    assert [s.metadata.name for s in opaque.items] == ["s1"]
    custom = await core.list_namespaced_secret(NS, field_selector="type=example.com/custom")
    assert [s.metadata.name for s in custom.items] == ["s2"]


@pytest.mark.parametrize(("path", "selector"), [
    (WIDGETS, "spec.size=1"),
    (f"/api/v1/namespaces/{NS}/configmaps", "data.a=1"),
    (f"/api/v1/namespaces/{NS}/secrets", "status.phase=Running"),
])
async def test_unsupported_field_selector_is_400(
    widgets: client.CustomObjectsApi, http: aiohttp.ClientSession, path: str, selector: str,
) -> None:
    for params in ({"fieldSelector": selector}, {"fieldSelector": selector, "watch": "true"}):
        async with http.get(path, params=params) as response:
            assert response.status == 400, params
            status = await response.json()
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "BadRequest", 400)
        assert "field label not supported" in status["message"]
    with pytest.raises(ApiException) as caught:
        await widgets.list_namespaced_custom_object(G, V, NS, P, field_selector="spec.size=1")
    assert caught.value.status == 400
    assert "field label not supported" in json.loads(caught.value.body)["message"]


async def test_limit_and_continue_page_through_a_consistent_list(
    widgets: client.CustomObjectsApi, core: client.CoreV1Api,
) -> None:
    await make_namespaces(core, "other")
    keys = [("default", f"w{i}") for i in range(4)] + [("other", f"w{i}") for i in range(3)]
    for ns, name in keys:
        await widgets.create_namespaced_custom_object(G, V, ns, P, widget(name, ns))

    pages: list[JSON] = []
    token = None
    while True:
        kwargs: JSON = {"limit": 3}
        if token:
            kwargs["_continue"] = token
        page = await widgets.list_cluster_custom_object(G, V, P, **kwargs)
        pages.append(page)
        # unrelated writes between pages move the global RV; pages must still report the first one's
        await core.create_namespaced_config_map(NS, {"metadata": {"name": f"bump{len(pages)}"}})
        token = page["metadata"].get("continue")
        if not token:
            break
        assert len(pages) < 10, "paging does not terminate"

    seen = [(i["metadata"]["namespace"], i["metadata"]["name"]) for p in pages for i in p["items"]]
    assert seen == sorted(keys)  # every item exactly once, in key order
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert {p["metadata"]["resourceVersion"] for p in pages} == {pages[0]["metadata"]["resourceVersion"]}
    assert [p["metadata"].get("remainingItemCount") for p in pages[:2]] == [4, 1]
    assert not pages[-1]["metadata"].get("remainingItemCount")
    current = await widgets.list_cluster_custom_object(G, V, P)
    assert int(current["metadata"]["resourceVersion"]) > int(pages[0]["metadata"]["resourceVersion"])


async def test_continue_pages_are_a_snapshot_at_the_first_page_rv(widgets: client.CustomObjectsApi) -> None:
    """kube-apiserver serves later pages from the first page's revision (etcd read at that RV)."""
    for name in ("a", "b", "c"):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name))
    first = await widgets.list_namespaced_custom_object(G, V, NS, P, limit=1)
    assert [i["metadata"]["name"] for i in first["items"]] == ["a"]
    list_rv = int(first["metadata"]["resourceVersion"])
    # writes between the pages must not show up in them
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("bb"))
    await widgets.delete_namespaced_custom_object(G, V, NS, P, "c")
    await patch_widget(widgets, "b", {"spec": {"size": 9}})
    rest = await widgets.list_namespaced_custom_object(G, V, NS, P, limit=10,
                                                       _continue=first["metadata"]["continue"])
    assert int(rest["metadata"]["resourceVersion"]) == list_rv
    assert [i["metadata"]["name"] for i in rest["items"]] == ["b", "c"]
    assert all(int(i["metadata"]["resourceVersion"]) <= list_rv for i in rest["items"])
    assert rest["items"][0]["spec"] == {"size": 1}


async def test_continue_token_after_compaction_is_410_expired(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi,
) -> None:
    for i in range(5):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(f"w{i}"))
    first = await widgets.list_namespaced_custom_object(G, V, NS, P, limit=2)
    token = first["metadata"]["continue"]
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("later"))
    apiserver.compact()
    with pytest.raises(ApiException) as caught:
        await widgets.list_namespaced_custom_object(G, V, NS, P, limit=2, _continue=token)
    assert caught.value.status == 410
    status = json.loads(caught.value.body)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)


# -- watch ------------------------------------------------------------------------------------------


async def test_watch_without_rv_sends_synthetic_added_then_live_events(
    widgets: client.CustomObjectsApi,
) -> None:
    for name in ("b", "a"):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name))
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P)
    try:
        events = await stream.changes_count(2)
        assert sorted(summary(events)) == [("ADDED", "a"), ("ADDED", "b")]
        for event in events:
            assert (event["raw_object"]["kind"], event["raw_object"]["apiVersion"]) == (KIND, f"{G}/{V}")
        patched = await patch_widget(widgets, "a", {"spec": {"size": 5}})
        created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("c"))
        await widgets.delete_namespaced_custom_object(G, V, NS, P, "b")
        events = await stream.changes_count(5)
        assert summary(events[2:]) == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b")]
        assert rv_of(events[2]) == int(patched["metadata"]["resourceVersion"])
        assert events[2]["raw_object"]["spec"] == {"size": 5}
        assert rv_of(events[3]) == int(created["metadata"]["resourceVersion"])
    finally:
        await stream.close()


async def test_watch_from_list_rv_replays_only_later_changes(widgets: client.CustomObjectsApi) -> None:
    for name in ("a", "b"):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name))
    rv = await list_rv(widgets)
    await patch_widget(widgets, "a", {"spec": {"size": 2}})
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("c"))
    await widgets.delete_namespaced_custom_object(G, V, NS, P, "b")
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv)
    try:
        events = await stream.changes_count(3)
        assert summary(events) == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b")]
        assert all(rv_of(e) > int(rv) for e in events)
        marker = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("marker"))
        events = await stream.changes_count(4)
        # nothing else (no synthetic ADDED for a or b) came before the marker
        assert summary(events) == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b"), ("ADDED", "marker")]
        assert rv_of(events[3]) == int(marker["metadata"]["resourceVersion"])
    finally:
        await stream.close()


async def test_resume_after_stream_end_loses_and_duplicates_nothing(widgets: client.CustomObjectsApi) -> None:
    for name in ("a", "b", "c"):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name))
    first = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=1)
    await first.changes_count(3)
    await patch_widget(widgets, "a", {"spec": {"size": 2}})
    await first.changes_count(4)
    await first.end()
    assert first.error is None
    assert summary(first.events)[3] == ("MODIFIED", "a")
    last_rv = first.watch.resource_version
    assert int(last_rv) == rv_of(first.events[-1])

    # 20 writes while no watch is open
    expected: list[tuple[str, str]] = []
    write_rvs: list[int] = []
    for i in range(8):
        obj = await widgets.create_namespaced_custom_object(G, V, NS, P, widget(f"n{i}"))
        expected.append(("ADDED", f"n{i}"))
        write_rvs.append(int(obj["metadata"]["resourceVersion"]))
    for i in range(8):
        obj = await patch_widget(widgets, f"n{i}", {"spec": {"size": 10 + i}})
        expected.append(("MODIFIED", f"n{i}"))
        write_rvs.append(int(obj["metadata"]["resourceVersion"]))
    for i in range(4):
        await widgets.delete_namespaced_custom_object(G, V, NS, P, f"n{i}")
        expected.append(("DELETED", f"n{i}"))

    second = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=last_rv,
                    timeout_seconds=1)
    events = await second.end()
    assert second.error is None
    assert summary(events) == expected
    rvs = [rv_of(e) for e in events]
    assert rvs[:16] == write_rvs
    assert rvs == sorted(set(rvs)) and rvs[0] > int(last_rv)


async def test_bookmarks_carry_a_resumable_rv(widgets: client.CustomObjectsApi) -> None:
    rv = await list_rv(widgets)
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv,
                    allow_watch_bookmarks=True)
    try:
        created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
        await stream.until(lambda s: any(e["type"] == "BOOKMARK" for e in s.events[1:]) and bool(s.changes))
    finally:
        await stream.close()
    assert summary(stream.changes) == [("ADDED", "a")]
    bookmark = next(e for e in stream.events if e["type"] == "BOOKMARK")
    assert stream.events.index(bookmark) > stream.events.index(stream.changes[0])
    bookmark_rv = bookmark["raw_object"]["metadata"]["resourceVersion"]
    assert int(bookmark_rv) >= int(created["metadata"]["resourceVersion"])
    assert bookmark["raw_object"]["kind"] == KIND

    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("b"))
    await patch_widget(widgets, "a", {"spec": {"size": 3}})
    resumed = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=bookmark_rv)
    try:
        events = await resumed.changes_count(2)
        assert summary(events) == [("ADDED", "b"), ("MODIFIED", "a")]
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("marker"))
        assert summary(await resumed.changes_count(3))[2] == ("ADDED", "marker")
    finally:
        await resumed.close()


async def test_timeout_seconds_ends_the_stream_without_bookmarks_unless_asked(
    widgets: client.CustomObjectsApi,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    started = time.monotonic()
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=1)
    await stream.changes_count(1)
    # a write after the bookmark interval (0.5 s) has passed: bookmarks were not requested, none may come
    await asyncio.sleep(0.6)
    await patch_widget(widgets, "a", {"spec": {"size": 2}})
    events = await stream.end(within=6)
    assert time.monotonic() - started >= 0.9
    assert stream.error is None
    assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a")]


async def test_expired_rv_is_an_error_event_in_a_200_stream(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi, http: aiohttp.ClientSession,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    old_rv = await list_rv(widgets)
    await patch_widget(widgets, "a", {"spec": {"size": 2}})
    apiserver.compact()
    await patch_widget(widgets, "a", {"spec": {"size": 3}})
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("b"))

    async with http.get(WIDGETS, params={"watch": "1", "resourceVersion": old_rv,
                                         "timeoutSeconds": "5"}) as response:
        assert response.status == 200
        lines = await read_lines(response)
    assert len(lines) == 1, lines
    assert lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert (status["kind"], status["apiVersion"], status["status"], status["reason"], status["code"]) == (
        "Status", "v1", "Failure", "Expired", 410)
    assert status["message"].startswith(f"too old resource version: {old_rv}")

    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=old_rv,
                    timeout_seconds=5)
    await stream.end()
    assert isinstance(stream.error, ApiException) and stream.error.status == 410
    assert stream.events == []

    # "watch forever" mode (no timeout_seconds) retries once with the same RV, then raises too
    forever = watch.Watch()
    with pytest.raises(ApiException) as caught:
        async with forever.stream(widgets.list_namespaced_custom_object, G, V, NS, P,
                                  resource_version=old_rv):
            await asyncio.wait_for(forever.next(), 5)
    assert caught.value.status == 410
    await forever.close()


async def test_label_selector_transitions_become_deleted_and_added(widgets: client.CustomObjectsApi) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("s", labels={"watched": "yes"}))
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("other", labels={"watched": "no"}))
    rv = (await widgets.list_namespaced_custom_object(G, V, NS, P, label_selector="watched=yes"))[
        "metadata"]["resourceVersion"]
    leave = await patch_widget(widgets, "s", {"metadata": {"labels": {"watched": "no"}}})
    unseen = await patch_widget(widgets, "s", {"spec": {"size": 7}})
    enter = await patch_widget(widgets, "s", {"metadata": {"labels": {"watched": "yes"}}})
    await patch_widget(widgets, "other", {"spec": {"size": 9}})
    change = await patch_widget(widgets, "s", {"spec": {"size": 8}})
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv,
                    label_selector="watched=yes")
    try:
        events = await stream.changes_count(3)
        assert summary(events) == [("DELETED", "s"), ("ADDED", "s"), ("MODIFIED", "s")]
        assert [rv_of(e) for e in events] == [
            int(o["metadata"]["resourceVersion"]) for o in (leave, enter, change)]
        assert int(unseen["metadata"]["resourceVersion"]) not in [rv_of(e) for e in events]
        # live transitions too, with the other object entering the selector
        await patch_widget(widgets, "other", {"metadata": {"labels": {"watched": "yes"}}})
        await patch_widget(widgets, "s", {"metadata": {"labels": {"watched": None}}})
        events = await stream.changes_count(5)
        assert summary(events[3:]) == [("ADDED", "other"), ("DELETED", "s")]
    finally:
        await stream.close()


async def test_selector_leave_deleted_carries_previous_content_with_new_rv(
    widgets: client.CustomObjectsApi, core: client.CoreV1Api,
) -> None:
    """kube-apiserver's cacheWatcher: a leaving object's DELETED is PrevObject stamped with the event's RV."""
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("s", labels={"watched": "yes"}))
    await core.create_namespaced_pod(NS, {"metadata": {"name": "p"},
                                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    await core.patch_namespaced_pod_status("p", NS, {"status": {"phase": "Running"}})
    rv = await list_rv(widgets)
    labelled = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv,
                      label_selector="watched=yes")
    phased = Stream(core.list_namespaced_pod, NS, resource_version=rv, field_selector="status.phase=Running")
    try:
        left = await patch_widget(widgets, "s", {"metadata": {"labels": {"watched": "no"}},
                                                 "spec": {"size": 3}})
        finished = await core.patch_namespaced_pod_status("p", NS, {"status": {"phase": "Succeeded"}})
        [gone] = await labelled.changes_count(1)
        [done] = await phased.changes_count(1)
    finally:
        await labelled.close()
        await phased.close()
    assert summary([gone, done]) == [("DELETED", "s"), ("DELETED", "p")]
    assert rv_of(gone) == int(left["metadata"]["resourceVersion"])
    assert rv_of(done) == int(finished.metadata.resource_version)
    # the content is the last state that matched the selector
    assert gone["raw_object"]["metadata"]["labels"] == {"watched": "yes"}
    assert gone["raw_object"]["spec"] == {"size": 1}
    assert done["raw_object"]["status"]["phase"] == "Running"


async def test_field_selector_watch_on_pod_phase(core: client.CoreV1Api) -> None:
    for name in ("p", "q"):
        await core.create_namespaced_pod(NS, {"metadata": {"name": name},
                                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    stream = Stream(core.list_namespaced_pod, NS, field_selector="status.phase=Running")
    try:
        await core.patch_namespaced_pod_status("p", NS, {"status": {"phase": "Running"}})
        await core.patch_namespaced_pod("q", NS, {"metadata": {"labels": {"x": "y"}}})
        await core.patch_namespaced_pod_status("p", NS, {"status": {"phase": "Succeeded"}})
        await core.patch_namespaced_pod_status("q", NS, {"status": {"phase": "Running"}})
        events = await stream.changes_count(3)
        assert summary(events) == [("ADDED", "p"), ("DELETED", "p"), ("ADDED", "q")]
        assert events[0]["raw_object"]["status"]["phase"] == "Running"
    finally:
        await stream.close()


async def test_watch_a_single_object_by_field_selector_name(core: client.CoreV1Api) -> None:
    for name in ("a", "b", "ab"):
        await core.create_namespaced_config_map(NS, {"metadata": {"name": name}, "data": {"v": "0"}})
    stream = Stream(core.list_namespaced_config_map, NS, field_selector="metadata.name=a")
    try:
        assert summary(await stream.changes_count(1)) == [("ADDED", "a")]
        await core.patch_namespaced_config_map("b", NS, {"data": {"v": "1"}})
        await core.patch_namespaced_config_map("ab", NS, {"data": {"v": "1"}})
        await core.patch_namespaced_config_map("a", NS, {"data": {"v": "1"}})
        await core.delete_namespaced_config_map("b", NS)
        await core.delete_namespaced_config_map("a", NS)
        events = await stream.changes_count(3)
        assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
        assert events[1]["raw_object"]["data"] == {"v": "1"}
        # watch events carry kind and apiVersion even for typed resources
        assert all((e["raw_object"]["kind"], e["raw_object"]["apiVersion"]) == ("ConfigMap", "v1")
                   for e in events)
    finally:
        await stream.close()


async def test_deleted_event_carries_last_state_with_a_newer_rv(widgets: client.CustomObjectsApi) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("d", labels={"k": "v"}))
    rv = await list_rv(widgets)
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv)
    try:
        patched = await patch_widget(widgets, "d", {"spec": {"size": 2, "color": "red"}})
        await widgets.delete_namespaced_custom_object(G, V, NS, P, "d")
        events = await stream.changes_count(2)
    finally:
        await stream.close()
    assert summary(events) == [("MODIFIED", "d"), ("DELETED", "d")]
    modified, deleted = events
    assert rv_of(modified) == int(patched["metadata"]["resourceVersion"])
    assert rv_of(deleted) > rv_of(modified)
    last = deleted["raw_object"]
    assert (last["kind"], last["apiVersion"]) == (KIND, f"{G}/{V}")
    assert last["spec"] == {"size": 2, "color": "red"}
    assert last["metadata"]["labels"] == {"k": "v"}
    assert last["metadata"]["uid"] == patched["metadata"]["uid"]


async def test_deleted_after_finalizer_removal_follows_modified(widgets: client.CustomObjectsApi) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("f", finalizers=["example.com/hold"]))
    rv = await list_rv(widgets)
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv)
    try:
        deleting = await widgets.delete_namespaced_custom_object(G, V, NS, P, "f")
        await patch_widget(widgets, "f", {"metadata": {"finalizers": None}})
        events = await stream.changes_count(2)
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("marker"))
        events = await stream.changes_count(3)
    finally:
        await stream.close()
    # emptying the finalizers deletes at once (kube-apiserver's errEmptiedFinalizers): no MODIFIED for it
    assert summary(events) == [("MODIFIED", "f"), ("DELETED", "f"), ("ADDED", "marker")]
    assert events[0]["raw_object"]["metadata"].get("deletionTimestamp")
    assert rv_of(events[0]) == int(deleting["metadata"]["resourceVersion"])
    assert rv_of(events[1]) > rv_of(events[0])
    last = events[1]["raw_object"]["metadata"]
    assert last.get("deletionTimestamp") and not last.get("finalizers")


async def test_events_arrive_in_strict_rv_order_across_concurrent_writes(
    core: client.CoreV1Api, api: client.ApiClient,
) -> None:
    rv = (await core.list_namespaced_config_map(NS)).metadata.resource_version
    stream = Stream(core.list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=30)
    try:
        created = await asyncio.gather(*(
            core.create_namespaced_config_map(NS, {"metadata": {"name": f"cm-{i:03d}"},
                                                   "data": {"i": str(i)}})
            for i in range(120)))
        patched = await asyncio.gather(*(
            core.patch_namespaced_config_map(f"cm-{i:03d}", NS, {"data": {"i": "x"}}) for i in range(80)))
        events = await stream.changes_count(200, within=15)
    finally:
        await stream.close()
    assert len(events) == 200
    rvs = [rv_of(e) for e in events]
    assert all(a < b for a, b in itertools.pairwise(rvs)), "events out of RV order"
    expected = {(("ADDED", o.metadata.name), int(o.metadata.resource_version)) for o in created}
    expected |= {(("MODIFIED", o.metadata.name), int(o.metadata.resource_version)) for o in patched}
    assert {((e["type"], name_of(e)), rv_of(e)) for e in events} == expected


async def test_send_initial_events_then_initial_events_end_bookmark(core: client.CoreV1Api) -> None:
    await make_namespaces(core, "init")
    for name in ("c2", "c1", "c3"):
        await core.create_namespaced_config_map("init", {"metadata": {"name": name}})
    listed = await core.list_namespaced_config_map("init")
    names = {c.metadata.name for c in listed.items}
    assert {"c1", "c2", "c3"} <= names
    stream = Stream(core.list_namespaced_config_map, "init", send_initial_events=True,
                    resource_version_match="NotOlderThan", allow_watch_bookmarks=True)
    try:
        await stream.until(lambda s: any(e["type"] == "BOOKMARK" for e in s.events))
        first = stream.events[:len(names) + 1]
        assert [e["type"] for e in first] == ["ADDED"] * len(names) + ["BOOKMARK"], summary(stream.events)
        assert {name_of(e) for e in first[:-1]} == names
        bookmark = first[-1]["raw_object"]
        assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(bookmark["metadata"]["resourceVersion"]) >= int(listed.metadata.resource_version)
        await core.patch_namespaced_config_map("c1", "init", {"data": {"a": "b"}})
        events = await stream.changes_count(len(names) + 1)
        assert summary(events[-1:]) == [("MODIFIED", "c1")]
    finally:
        await stream.close()


async def test_send_initial_events_on_custom_resources_over_raw_http(
    widgets: client.CustomObjectsApi, http: aiohttp.ClientSession,
) -> None:
    for name in ("a", "b"):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(name))
    params = {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true", "timeoutSeconds": "5"}
    async with http.get(WIDGETS, params=params) as response:
        assert response.status == 200
        lines = [json.loads(await asyncio.wait_for(response.content.readline(), 5)) for _ in range(3)]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in lines[:2]] in (
        [("ADDED", "a"), ("ADDED", "b")], [("ADDED", "b"), ("ADDED", "a")])
    assert lines[2]["type"] == "BOOKMARK"
    assert lines[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_watch_of_an_unknown_resource_is_404(
    widgets: client.CustomObjectsApi, http: aiohttp.ClientSession,
) -> None:
    stream = Stream(widgets.list_namespaced_custom_object, G, V, NS, "gizmos")
    await stream.end()
    assert isinstance(stream.error, ApiException) and stream.error.status == 404
    async with http.get(f"/apis/{G}/{V}/namespaces/{NS}/gizmos", params={"watch": "true"}) as response:
        assert response.status == 404
        status = await response.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "NotFound", 404)


async def test_namespaced_watch_sees_only_its_namespace(
    widgets: client.CustomObjectsApi, core: client.CoreV1Api,
) -> None:
    await make_namespaces(core, "other")
    await widgets.create_namespaced_custom_object(G, V, "other", P, widget("pre", "other"))
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("pre"))
    cluster_rv = (await widgets.list_cluster_custom_object(G, V, P))["metadata"]["resourceVersion"]
    scoped = Stream(widgets.list_namespaced_custom_object, G, V, NS, P)
    everywhere = Stream(widgets.list_cluster_custom_object, G, V, P, resource_version=cluster_rv)
    try:
        assert summary(await scoped.changes_count(1)) == [("ADDED", "pre")]
        await widgets.create_namespaced_custom_object(G, V, "other", P, widget("x", "other"))
        await patch_widget(widgets, "pre", {"spec": {"size": 2}}, ns="other")
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("y"))
        events = await scoped.changes_count(2)
        assert summary(events) == [("ADDED", "pre"), ("ADDED", "y")]
        assert all(e["raw_object"]["metadata"]["namespace"] == NS for e in events)
        events = await everywhere.changes_count(3)
        assert [(e["type"], e["raw_object"]["metadata"]["namespace"], name_of(e)) for e in events] == [
            ("ADDED", "other", "x"), ("MODIFIED", "other", "pre"), ("ADDED", NS, "y")]
    finally:
        await scoped.close()
        await everywhere.close()


@pytest.mark.parametrize("value", ["1", "true", "True"])
async def test_watch_query_spellings_all_watch(
    widgets: client.CustomObjectsApi, http: aiohttp.ClientSession, value: str,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    async with http.get(WIDGETS, params={"watch": value, "timeoutSeconds": "5"}) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        event = json.loads(await asyncio.wait_for(response.content.readline(), 5))
    assert event["type"] == "ADDED"
    assert (event["object"]["kind"], event["object"]["metadata"]["name"]) == (KIND, "a")


async def test_watch_false_and_watch_path_prefix(
    widgets: client.CustomObjectsApi, http: aiohttp.ClientSession,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    async with http.get(WIDGETS, params={"watch": "false"}) as response:
        assert response.status == 200
        body = await response.json()
    assert body["kind"] == f"{KIND}List"
    prefixed = f"/apis/{G}/{V}/watch/namespaces/{NS}/{P}"
    async with http.get(prefixed, params={"timeoutSeconds": "5"}) as response:
        assert response.status == 200
        event = json.loads(await asyncio.wait_for(response.content.readline(), 5))
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "a")


async def _wait_watchers(apiserver: SandboxApiServer, count: int) -> None:
    for _ in range(250):
        if apiserver.store.watcher_count() >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {apiserver.store.watcher_count()} watches registered, wanted {count}")


async def test_drop_watches_ends_every_open_stream(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi, core: client.CoreV1Api,
    http: aiohttp.ClientSession,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    for how in ("in-process", "http"):
        raw_cr = await http.get(WIDGETS, params={"watch": "true", "timeoutSeconds": "60"})
        raw_pods = await http.get("/api/v1/pods", params={"watch": "true", "timeoutSeconds": "60"})
        typed = Stream(core.list_namespaced_config_map, NS, timeout_seconds=60)
        try:
            assert (raw_cr.status, raw_pods.status) == (200, 200)
            await _wait_watchers(apiserver, 3)
            if how == "in-process":
                assert apiserver.drop_watches() == 3
            else:
                async with http.post("/sandbox/watches/drop") as response:
                    assert response.status == 200
                    assert (await response.json())["dropped"] == 3
            cr_lines = await read_lines(raw_cr, within=3)
            assert [(e["type"], e["object"]["metadata"]["name"]) for e in cr_lines] == [("ADDED", "a")]
            await read_lines(raw_pods, within=3)
            await typed.end(within=3)
            assert typed.error is None
        finally:
            raw_cr.release()
            raw_pods.release()
            await typed.close()
        for _ in range(100):
            if apiserver.store.watcher_count() == 0:
                break
            await asyncio.sleep(0.02)
        assert apiserver.store.watcher_count() == 0, how
