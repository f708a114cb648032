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


async def test_bad_objects_are_logged_and_skipped(apiserver: SandboxApiServer, api: client.ApiClient) -> None:
    """Wrong types and unknown enum values in the cache never stop the informer or a worker."""
    import yaml
    from structlog.testing import capture_logs

    from flinkop.api import parse_flink_deployment
    from flinkop.api.parsing import ResourceParseError
    from tests.conftest import REPO

    kube = Kube(api)
    crds = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
    crd = yaml.safe_load((REPO / "deploy/crds/flinkdeployments.flink.apache.org-v1.yml").read_text())
    await kube.create(crds, crd)
    deployments = Resource("flink.apache.org", "v1beta1", "flinkdeployments", kind="FlinkDeployment")
    await _until(
        lambda: apiserver.registry.get("flink.apache.org", "v1beta1", "flinkdeployments") is not None
    )

    def deployment(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkDeployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"image": "flink:2.3", "flinkVersion": "v2_3", "serviceAccount": "flink", **spec},
        }

    reconciled: list[str] = []

    async def reconcile(key: str) -> None:
        name = key.split("/")[1]
        obj = informer.cache.get(key)
        if obj is None:
            return
        try:
            parse_flink_deployment(obj)
        except ResourceParseError as exc:
            raise SkipObject(str(exc)) from exc
        reconciled.append(name)

    manager = Manager(kube)
    informer = manager.informers.informer(deployments)
    manager.add(Controller("flinkdeployments", reconcile, workers=2)).watch(informer)
    with capture_logs() as logs:
        await manager.start()
        try:
            await kube.create(deployments, deployment("good-1"))
            await kube.create(deployments, deployment("wrong-type", job={"parallelism": "two"}))
            await kube.create(deployments, deployment("unknown-enum", job={"upgradeMode": "teleport"}))
            await kube.create(deployments, deployment("good-2", flinkConfiguration={"a": "b"}))
            await _until(lambda: sorted(reconciled) == ["good-1", "good-2"] and len(informer.cache) == 4)
            await _until(
                lambda: len({e["resource"] for e in logs if e.get("event") == "object skipped"}) == 2
            )
            skipped = {e["resource"]: e["reason"] for e in logs if e.get("event") == "object skipped"}
            assert "spec.job.parallelism" in skipped["default/wrong-type"]
            assert (
                "teleport" in skipped["default/unknown-enum"]
                or "upgradeMode" in skipped["default/unknown-enum"]
            )
            # The rest keep flowing after the bad ones.
            await kube.create(deployments, deployment("good-3"))
            await _until(lambda: "good-3" in reconciled)
            assert manager.healthy()[0]
        finally:
            await manager.stop()
