"""Sandbox apiserver test controls: scripted faults, latency and compaction, in-process and over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import G, P, V, widget

JSON = dict[str, Any]
NS = "default"
MERGE = "application/merge-patch+json"
WIDGETS = f"/apis/{G}/{V}/namespaces/{NS}/{P}"
REASONS = {500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests"}


@pytest.fixture
async def http(apiserver: SandboxApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=apiserver.url) as session:
        yield session


def status_of(exc: ApiException) -> JSON:
    status = json.loads(exc.body)
    assert (status["kind"], status["apiVersion"], status["status"]) == ("Status", "v1", "Failure"), status
    assert status["code"] == exc.status, status
    return status


async def names(widgets: client.CustomObjectsApi, ns: str = NS) -> list[str]:
    listed = await widgets.list_namespaced_custom_object(G, V, ns, P)
    return [i["metadata"]["name"] for i in listed["items"]]


@pytest.mark.parametrize("code", [500, 503, 429])
async def test_injected_error_answers_with_a_status_body(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi, http: aiohttp.ClientSession, code: int,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    apiserver.add_fault(path=WIDGETS, method="GET", code=code, times=2, retry_after=7)

    with pytest.raises(ApiException) as caught:
        await widgets.list_namespaced_custom_object(G, V, NS, P)
    assert caught.value.status == code
    status = status_of(caught.value)
    assert status["reason"] == REASONS[code]

    async with http.get(WIDGETS) as response:
        assert response.status == code
        assert response.content_type == "application/json"
        body = await response.json()
        retry_after = response.headers.get("Retry-After")
    assert (body["kind"], body["reason"], body["code"]) == ("Status", REASONS[code], code)
    if code == 429:
        assert retry_after == "7"
        assert caught.value.headers["Retry-After"] == "7"
        assert body["details"]["retryAfterSeconds"] == 7

    # times=2 is used up: the same request now succeeds
    assert await names(widgets) == ["a"]


async def test_failed_create_stores_nothing_and_a_retry_succeeds(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi,
) -> None:
    before = await widgets.list_namespaced_custom_object(G, V, NS, P)
    apiserver.add_fault(path=f"{WIDGETS}$", method="POST", code=500, times=1)
    with pytest.raises(ApiException) as caught:
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w"))
    assert caught.value.status == 500
    assert status_of(caught.value)["reason"] == "InternalError"

    with pytest.raises(ApiException) as missing:
        await widgets.get_namespaced_custom_object(G, V, NS, P, "w")
    assert missing.value.status == 404
    after = await widgets.list_namespaced_custom_object(G, V, NS, P)
    assert after["items"] == []
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], "create wrote"

    created = await widgets.create_namespaced_custom_object(G, V, NS, P, widget("w"))
    assert int(created["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    fetched = await widgets.get_namespaced_custom_object(G, V, NS, P, "w")
    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]


async def test_faults_never_lose_or_change_stored_objects(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi,
) -> None:
    originals = {}
    for i in range(5):
        obj = await widgets.create_namespaced_custom_object(G, V, NS, P, widget(f"w{i}", spec={"size": i}))
        originals[obj["metadata"]["name"]] = obj
    apiserver.add_fault(path="^/apis/", code=500, times=4)
    attempts = [
        widgets.list_namespaced_custom_object(G, V, NS, P),
        widgets.patch_namespaced_custom_object(G, V, NS, P, "w1", {"spec": {"size": 99}},
                                               _content_type=MERGE),
        widgets.delete_namespaced_custom_object(G, V, NS, P, "w2"),
        widgets.get_namespaced_custom_object(G, V, NS, P, "w3"),
    ]
    for attempt in attempts:
        with pytest.raises(ApiException) as caught:
            await attempt
        assert caught.value.status == 500
    listed = await widgets.list_namespaced_custom_object(G, V, NS, P)
    assert {i["metadata"]["name"]: i for i in listed["items"]} == originals


async def test_times_limits_the_failures_and_zero_means_until_cleared(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    apiserver.add_fault(path=WIDGETS, method="GET", code=503, times=3)
    outcomes = []
    for _ in range(5):
        try:
            await widgets.list_namespaced_custom_object(G, V, NS, P)
            outcomes.append(200)
        except ApiException as exc:
            outcomes.append(exc.status)
    assert outcomes == [503, 503, 503, 200, 200]

    apiserver.add_fault(path=WIDGETS, method="GET", code=500)
    for _ in range(6):
        with pytest.raises(ApiException) as caught:
            await widgets.get_namespaced_custom_object(G, V, NS, P, "a")
        assert caught.value.status == 500
    apiserver.clear_faults()
    assert (await widgets.get_namespaced_custom_object(G, V, NS, P, "a"))["metadata"]["name"] == "a"


async def test_non_matching_requests_are_unaffected(
    apiserver: SandboxApiServer, api: client.ApiClient, widgets: client.CustomObjectsApi,
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": "other"}})
    apiserver.add_fault(path=WIDGETS, method="POST", code=500)

    # another path, another method on the same path, the same resource in another namespace
    await core.create_namespaced_config_map(NS, {"metadata": {"name": "cm"}})
    assert await names(widgets) == []
    await widgets.create_namespaced_custom_object(G, V, "other", P, widget("x", "other"))
    assert await names(widgets, "other") == ["x"]
    # while the matching request still fails
    with pytest.raises(ApiException) as caught:
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("y"))
    assert caught.value.status == 500
    assert await names(widgets) == []


async def test_latency_delays_answers(apiserver: SandboxApiServer, widgets: client.CustomObjectsApi) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    apiserver.add_fault(path=WIDGETS, method="GET", latency=0.3)
    started = time.monotonic()
    assert await names(widgets) == ["a"]
    assert time.monotonic() - started >= 0.3

    apiserver.clear_faults()
    apiserver.add_fault(path=f"{WIDGETS}$", method="POST", latency=0.25, code=503, times=1)
    started = time.monotonic()
    with pytest.raises(ApiException) as caught:
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("b"))
    assert time.monotonic() - started >= 0.25
    assert caught.value.status == 503
    assert await names(widgets) == ["a"]


async def test_fault_on_a_watch_fails_it_before_the_stream(
    apiserver: SandboxApiServer, widgets: client.CustomObjectsApi,
) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    apiserver.add_fault(path=WIDGETS, method="GET", code=503, times=1)
    failing = watch.Watch()
    with pytest.raises(ApiException) as caught:
        async with failing.stream(widgets.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=5):
            await asyncio.wait_for(failing.next(), 5)
    assert caught.value.status == 503
    await failing.close()

    working = watch.Watch()
    async with working.stream(widgets.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=5):
        event = await asyncio.wait_for(working.next(), 5)
    await working.close()
    assert (event["type"], event["raw_object"]["metadata"]["name"]) == ("ADDED", "a")


async def test_fault_rules_over_http(widgets: client.CustomObjectsApi, http: aiohttp.ClientSession) -> None:
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("a"))
    rule = {"path": WIDGETS, "method": "GET", "code": 429, "times": 2, "retryAfter": 4}
    async with http.post("/sandbox/faults", json=rule) as response:
        assert response.status == 201
        created = await response.json()
    assert {k: created[k] for k in rule} == rule
    async with http.get("/sandbox/faults") as response:
        assert response.status == 200
        listed = await response.json()
    assert [{k: r[k] for k in rule} for r in listed] == [rule]

    with pytest.raises(ApiException) as caught:
        await widgets.list_namespaced_custom_object(G, V, NS, P)
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "4"
    assert status_of(caught.value)["reason"] == "TooManyRequests"

    async with http.delete("/sandbox/faults") as response:
        assert response.status == 200
    async with http.get("/sandbox/faults") as response:
        assert await response.json() == []
    # one of the two failures was still pending: clearing removed it
    assert await names(widgets) == ["a"]


async def test_latency_rule_over_http(widgets: client.CustomObjectsApi, http: aiohttp.ClientSession) -> None:
    async with http.post("/sandbox/faults", json={"path": WIDGETS, "latency": 0.3}) as response:
        assert response.status == 201
    started = time.monotonic()
    assert await names(widgets) == []
    assert time.monotonic() - started >= 0.3
    async with http.post("/sandbox/faults",
                         json={"path": f"{WIDGETS}$", "method": "POST", "code": 500, "times": 1}) as response:
        assert response.status == 201
    with pytest.raises(ApiException) as caught:
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget("b"))
    assert caught.value.status == 500
    assert status_of(caught.value)["reason"] == "InternalError"
    await widgets.create_namespaced_custom_object(G, V, NS, P, widget("b"))
    assert await names(widgets) == ["b"]


async def test_compact_over_http_expires_old_resource_versions(
    widgets: client.CustomObjectsApi, http: aiohttp.ClientSession,
) -> None:
    for i in range(4):
        await widgets.create_namespaced_custom_object(G, V, NS, P, widget(f"w{i}"))
    page = await widgets.list_namespaced_custom_object(G, V, NS, P, limit=2)
    old_rv, token = page["metadata"]["resourceVersion"], page["metadata"]["continue"]
    fresh = Watch410Probe(widgets)
    # before compaction the old RV is still good
    assert await fresh.first_event(old_rv, then_write="pre") == ("ADDED", "pre")

    async with http.post("/sandbox/compact") as response:
        assert response.status == 200
        compacted = await response.json()
    assert int(compacted["resourceVersion"]) > int(old_rv)
    await widgets.patch_namespaced_custom_object(G, V, NS, P, "w0", {"spec": {"size": 5}},
                                                 _content_type=MERGE)

    async with http.get(WIDGETS, params={"watch": "true", "resourceVersion": old_rv,
                                         "timeoutSeconds": "5"}) as response:
        assert response.status == 200
        lines = (await asyncio.wait_for(response.read(), 5)).splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in events] == [
        ("ERROR", 410, "Expired")]

    with pytest.raises(ApiException) as caught:
        await fresh.first_event(old_rv)
    assert caught.value.status == 410

    with pytest.raises(ApiException) as expired:
        await widgets.list_namespaced_custom_object(G, V, NS, P, limit=2, _continue=token)
    assert expired.value.status == 410
    assert status_of(expired.value)["reason"] == "Expired"

    # a watch from the current RV still works
    current = (await widgets.list_namespaced_custom_object(G, V, NS, P))["metadata"]["resourceVersion"]
    assert await fresh.first_event(current, then_write="post") == ("ADDED", "post")


class Watch410Probe:
    """Opens a kubernetes_asyncio watch from an RV and returns its first (type, name)."""

    def __init__(self, widgets: client.CustomObjectsApi) -> None:
        self.widgets = widgets

    async def first_event(self, rv: str, then_write: str | None = None) -> tuple[str, str]:
        w = watch.Watch()
        try:
            async with w.stream(self.widgets.list_namespaced_custom_object, G, V, NS, P, resource_version=rv,
                                timeout_seconds=5):
                if then_write:
                    await self.widgets.create_namespaced_custom_object(G, V, NS, P, widget(then_write))
                while True:
                    event = await asyncio.wait_for(w.next(), 5)
                    name = event["raw_object"]["metadata"].get("name", "")
                    if event["type"] != "BOOKMARK" and (then_write is None or name == then_write):
                        return event["type"], name
        finally:
            await w.close()
