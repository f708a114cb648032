"""Controllers and the manager over real HTTP against the sandbox API server."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio import client

from flinkop.runtime.controller import Controller, Result, SkipObject
from flinkop.runtime.kube import Kube, Resource
from flinkop.runtime.manager import LeaderElectionConfig, Manager
from flinkop.runtime.workqueue import ItemExponentialBackoff
from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import widget

WIDGETS = Resource("example.com", "v1", "widgets", kind="Widget")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_reconcile_contract(
    apiserver: SandboxApiServer, api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    manager = Manager(kube)
    seen: dict[str, int] = {}
    in_flight: set[str] = set()
    overlaps: list[str] = []
    failures = {"default/flaky": 2}

    async def reconcile(key: str) -> Result | None:
        if key in in_flight:
            overlaps.append(key)
        in_flight.add(key)
        try:
            await asyncio.sleep(0.005)
            seen[key] = seen.get(key, 0) + 1
            if failures.get(key, 0) > 0:
                failures[key] -= 1
                raise RuntimeError("transient")
            if key == "default/bad":
                raise SkipObject("spec does not parse")
            if key == "default/periodic" and seen[key] < 3:
                return Result(requeue_after=0.05)
            return None
        finally:
            in_flight.discard(key)

    controller = manager.add(
        Controller(
            "widgets", reconcile, workers=4, rate_limiter_factory=lambda: ItemExponentialBackoff(0.01, 1.0)
        )
    )
    controller.watch(manager.informers.informer(WIDGETS))
    controller.owns(manager.informers.informer(CONFIGMAPS, ["default"]), "Widget", "example.com")
    await manager.start()
    try:
        for name in ("plain", "flaky", "bad", "periodic"):
            await kube.create(WIDGETS, widget(name))
        await _until(lambda: seen.get("default/flaky", 0) >= 3 and seen.get("default/periodic", 0) >= 3)
        assert seen["default/plain"] >= 1
        assert failures["default/flaky"] == 0  # retried with backoff until it succeeded
        bad_runs = seen["default/bad"]

        owner = await kube.get(WIDGETS, "plain", "default")
        before = seen["default/plain"]
        await kube.create(
            CONFIGMAPS,
            {
                "metadata": {
                    "name": "child",
                    "namespace": "default",
                    "ownerReferences": [
                        {
                            "apiVersion": "example.com/v1",
                            "kind": "Widget",
                            "name": "plain",
                            "uid": owner["metadata"]["uid"],
                        }
                    ],
                }
            },
        )
        await _until(lambda: seen["default/plain"] > before)  # an owned object's change wakes its owner

        # Many updates to one key while workers run: never two reconciles of one key at once.
        await asyncio.gather(
            *(kube.patch(WIDGETS, "plain", {"spec": {"n": i}}, "default") for i in range(50))
        )
        await asyncio.sleep(0.3)
        assert overlaps == []
        assert seen["default/bad"] == bad_runs  # skipped objects are not retried by themselves
        ok, detail = manager.healthy()
        assert ok, detail
    finally:
        await manager.stop()


async def test_two_managers_one_leader_and_handover(
    apiserver: SandboxApiServer, api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    acting: dict[str, int] = {"a": 0, "b": 0}

    def build(identity: str) -> Manager:
        election = LeaderElectionConfig(
            namespace="default", identity=identity, lease_duration=2.0, renew_deadline=1.5, retry_period=0.2
        )
        manager = Manager(kube, leader_election=election)

        async def reconcile(key: str) -> None:
            acting[identity] += 1

        manager.add(Controller("widgets", reconcile)).watch(manager.informers.informer(WIDGETS))
        return manager

    a, b = build("a"), build("b")
    await a.start()
    await _until(lambda: a.leading)
    await b.start()
    try:
        await kube.create(WIDGETS, widget("w1"))
        await _until(lambda: acting["a"] >= 1)
        both = 0
        for _ in range(50):
            both += a.leading and b.leading
            await asyncio.sleep(0.01)
        assert both == 0 and not b.leading
        assert b.healthy() == (True, "standby")  # a warm standby is healthy
        assert acting["b"] == 0

        loop = asyncio.get_running_loop()
        released = loop.time()
        await a.stop()  # graceful: drains and releases the lease
        await _until(lambda: b.leading, timeout=5)
        assert loop.time() - released < 1.0
        await _until(lambda: acting["b"] >= 1)  # the new leader reconciles what it cached while standby
    finally:
        await b.stop()
        if a.leading:
            await a.stop()
