"""Informers over real HTTP against the sandbox API server, through dropped watches and compaction."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio import client

from flinkop.runtime.cache import BY_NAMESPACE, by_label, object_key
from flinkop.runtime.informer import Handler, SharedInformer, drop_managed_fields
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import widget

WIDGETS = Resource("example.com", "v1", "widgets", kind="Widget")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")


class Recorder:
    """A handler that remembers the last state seen per key and checks revision order."""

    def __init__(self) -> None:
        self.last: dict[str, dict[str, Any] | None] = {}
        self.last_rv: dict[str, int] = {}
        self.out_of_order: list[tuple[str, int, int]] = []

    def _saw(self, obj: dict[str, Any], state: dict[str, Any] | None) -> None:
        key = object_key(obj)
        rv = int(obj["metadata"]["resourceVersion"])
        if rv < self.last_rv.get(key, 0):
            self.out_of_order.append((key, self.last_rv[key], rv))
        self.last_rv[key] = rv
        self.last[key] = state

    def handler(self) -> Handler:
        return Handler(
            on_add=lambda o: self._saw(o, o),
            on_update=lambda _old, new: self._saw(new, new),
            on_delete=lambda o: self._saw(o, None),
        )


async def _eventually(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_store_converges_through_dropped_watches_and_compaction(
    apiserver: SandboxApiServer, api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    informer = SharedInformer(kube, WIDGETS, watch_timeout=(30, 60))
    first, second = Recorder(), Recorder()
    informer.add_handler(first.handler())
    informer.add_handler(second.handler())
    informer.start()
    assert await informer.wait_for_sync(10)

    writes = 0

    async def disrupt() -> None:
        nonlocal writes
        writes += 1
        if writes % 100 == 0:
            apiserver.drop_watches()
            if writes % 300 == 0:
                apiserver.compact()  # old revisions are gone: the reflector must list again

    sem = asyncio.Semaphore(16)

    async def churn(i: int) -> None:
        async with sem:
            name = f"w{i:04d}"
            await kube.create(WIDGETS, widget(name))
            await disrupt()
            await kube.patch(WIDGETS, name, {"spec": {"size": i, "round": 2}}, "default")
            await disrupt()
            if i % 3 == 0:
                await kube.delete(WIDGETS, name, "default")
                await disrupt()

    try:
        await asyncio.gather(*(churn(i) for i in range(1000)))
        listed = await kube.list(WIDGETS, "default")
        # The cache holds objects through its transform (managedFields dropped by default).
        expected = {object_key(o): drop_managed_fields(o) for o in listed["items"]}
        assert len(expected) == 1000 - 334

        def converged() -> None:
            cached = {object_key(o): o for o in informer.cache.values()}
            assert cached == expected
            for recorder in (first, second):
                finals = {k: v for k, v in recorder.last.items() if v is not None}
                assert finals == expected
                deleted = {k for k, v in recorder.last.items() if v is None}
                assert deleted == {f"default/w{i:04d}" for i in range(0, 1000, 3)}

        await _eventually(converged)
        assert first.out_of_order == [] and second.out_of_order == []
    finally:
        await informer.stop()


async def test_namespaces_indexers_and_late_handlers(
    apiserver: SandboxApiServer, api: client.ApiClient
) -> None:
    kube = Kube(api)
    for ns in ("team-a", "team-b", "team-c"):
        await kube.create(Resource("", "v1", "namespaces", namespaced=False), {"metadata": {"name": ns}})
        await kube.create(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": ns, "labels": {"app": ns}}})
    informer = SharedInformer(kube, CONFIGMAPS, ["team-a", "team-b"], indexers={"app": by_label("app")})
    informer.start()
    try:
        assert await informer.wait_for_sync(10)
        assert sorted(informer.cache.keys()) == ["team-a/cfg", "team-b/cfg"]
        assert [o["metadata"]["namespace"] for o in informer.cache.by_index("app", "team-b")] == ["team-b"]
        assert informer.cache.get("team-a/cfg")["kind"] == "ConfigMap"  # type: ignore[index]

        late = Recorder()
        informer.add_handler(late.handler())  # replays the cache as adds
        assert set(late.last) == {"team-a/cfg", "team-b/cfg"}

        await informer.set_namespaces(["team-b", "team-c"])
        assert await informer.wait_for_sync(10)
        await _eventually(lambda: _assert_equal(sorted(informer.cache.keys()), ["team-b/cfg", "team-c/cfg"]))
        assert late.last["team-a/cfg"] is None  # forgotten objects are reported as deleted
        assert [o["metadata"]["name"] for o in informer.cache.by_index(BY_NAMESPACE, "team-c")] == ["cfg"]
    finally:
        await informer.stop()


def _assert_equal(a: Any, b: Any) -> None:
    assert a == b


async def test_handler_errors_and_api_faults_do_not_stop_the_informer(
    apiserver: SandboxApiServer, api: client.ApiClient
) -> None:
    kube = Kube(api)
    informer = SharedInformer(kube, CONFIGMAPS, ["default"])
    seen: list[str] = []

    def explode(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(Handler(on_add=explode))
    informer.add_handler(Handler(on_add=lambda o: seen.append(o["metadata"]["name"])))
    apiserver.add_fault(path="/api/v1/namespaces/default/configmaps$", method="GET", code=503, times=3)
    informer.start()
    try:
        assert await informer.wait_for_sync(30)
        assert informer.errors >= 1
        await kube.create(CONFIGMAPS, {"metadata": {"name": "after", "namespace": "default"}})
        await _eventually(lambda: _assert_equal("after" in seen, True))
    finally:
        await informer.stop()


async def test_the_default_transform_drops_managed_fields_and_can_be_turned_off(
    apiserver: SandboxApiServer, api: client.ApiClient
) -> None:
    kube = Kube(api)
    await kube.create(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "b"}})
    assert (await kube.get(CONFIGMAPS, "cfg", "default"))["metadata"]["managedFields"]
    lean = SharedInformer(kube, CONFIGMAPS, ["default"])
    full = SharedInformer(kube, CONFIGMAPS, ["default"], transform=None)
    for informer in (lean, full):
        informer.start()
    try:
        assert await lean.wait_for_sync(10) and await full.wait_for_sync(10)
        assert "managedFields" not in lean.cache.get("default/cfg")["metadata"]  # type: ignore[index]
        assert full.cache.get("default/cfg")["metadata"]["managedFields"]  # type: ignore[index]
        assert lean.cache.get("default/cfg")["data"] == {"a": "b"}  # type: ignore[index]
    finally:
        await lean.stop()
        await full.stop()
