"""The ReplicaSet controller over real HTTP, without a Deployment: pods, status, scaling, adoption and
release, terminating pods and minReadySeconds."""

from __future__ import annotations

import re
from typing import Any

from flinkop.runtime.kube import Kube
from flinkop.sandbox.controllers import ControllerManager
from flinkop.sandbox.controllers.common import PODS, REPLICASETS
from flinkop.sandbox.controllers.hashing import SAFE_ALPHABET
from tests.sandbox_controllers.conftest import (
    NS,
    FakeKubelet,
    container,
    eventually,
    is_ready,
    pods_of,
    replicaset,
    set_pod_status,
)

JSON = dict[str, Any]


async def test_replicaset_alone_keeps_its_pods(kube: Kube, kcm: ControllerManager) -> None:
    rs = await kube.create(REPLICASETS, replicaset("solo", 3), NS)

    async def created() -> list[JSON]:
        pods = await pods_of(kube, "solo")
        assert len(pods) == 3
        status = (await kube.get(REPLICASETS, "solo", NS)).get("status")
        assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 1}, status
        return pods

    pods = await eventually(created)
    for pod in pods:
        assert re.fullmatch(f"solo-[{SAFE_ALPHABET}]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["labels"] == {"app": "solo"}
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "solo",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    # Two of three ready; scaling to two removes the one that is not.
    ordered = sorted(pods, key=lambda p: p["metadata"]["name"])
    for pod in ordered[:2]:
        await set_pod_status(kube, pod)

    async def two_ready() -> None:
        status = (await kube.get(REPLICASETS, "solo", NS)).get("status") or {}
        assert status.get("readyReplicas") == 2 and status.get("availableReplicas") == 2, status

    await eventually(two_ready)
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "solo", "namespace": NS}}
    await kube.replace(REPLICASETS, {**scale, "spec": {"replicas": 2}}, subresource="scale")

    async def scaled_down() -> list[JSON]:
        remaining = await pods_of(kube, "solo")
        assert sorted(p["metadata"]["name"] for p in remaining) == sorted(
            p["metadata"]["name"] for p in ordered[:2]
        )
        status = (await kube.get(REPLICASETS, "solo", NS)).get("status") or {}
        assert status["replicas"] == 2 and status["observedGeneration"] == 2, status
        return remaining

    remaining = await eventually(scaled_down)
    assert all(is_ready(p) for p in remaining)

    # A deleted pod is replaced.
    victim = remaining[0]
    await kube.delete(PODS, victim["metadata"]["name"], NS)

    async def replaced() -> None:
        names = {p["metadata"]["name"] for p in await pods_of(kube, "solo")}
        assert len(names) == 2 and victim["metadata"]["name"] not in names

    await eventually(replaced)


async def test_terminating_pods_do_not_count(kube: Kube, kcm: ControllerManager) -> None:
    await kube.create(REPLICASETS, replicaset("term", 2), NS)
    pods = await eventually(lambda: _count(kube, "term", 2))
    held = pods[0]
    name = held["metadata"]["name"]
    await kube.patch(PODS, name, {"metadata": {"finalizers": ["example.com/hold"]}}, NS)
    await kube.delete(PODS, name, NS)

    async def replaced() -> None:
        pods = await pods_of(kube, "term")
        terminating = [p for p in pods if p["metadata"].get("deletionTimestamp")]
        assert len(pods) == 3 and [p["metadata"]["name"] for p in terminating] == [name]
        status = (await kube.get(REPLICASETS, "term", NS)).get("status") or {}
        assert status["replicas"] == 2, status

    await eventually(replaced)
    await kube.patch(PODS, name, {"metadata": {"finalizers": None}}, NS)
    await eventually(lambda: _count(kube, "term", 2))


async def test_orphans_are_adopted_and_pods_that_stop_matching_released(
    kube: Kube, kcm: ControllerManager
) -> None:
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan", "namespace": NS, "labels": {"app": "adopt"}},
        "spec": {"containers": [container()]},
    }
    await kube.create(PODS, orphan, NS)
    rs = await kube.create(REPLICASETS, replicaset("adopt", 2), NS)

    async def adopted() -> None:
        pods = await pods_of(kube, "adopt")
        assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
        for pod in pods:
            [ref] = pod["metadata"].get("ownerReferences") or [{}]
            assert ref.get("uid") == rs["metadata"]["uid"] and ref.get("controller") is True

    await eventually(adopted)
    assert "orphan" in {p["metadata"]["name"] for p in await pods_of(kube, "adopt")}

    await kube.patch(PODS, "orphan", {"metadata": {"labels": {"app": "elsewhere"}}}, NS)

    async def released() -> None:
        pod = await kube.get(PODS, "orphan", NS)
        assert not pod["metadata"].get("ownerReferences"), pod["metadata"]
        pods = await pods_of(kube, "adopt")
        assert len(pods) == 2 and "orphan" not in {p["metadata"]["name"] for p in pods}

    await eventually(released)


async def test_available_only_after_min_ready_seconds(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(REPLICASETS, replicaset("slow", 1, minReadySeconds=2), NS)

    async def ready_not_available() -> None:
        status = (await kube.get(REPLICASETS, "slow", NS)).get("status") or {}
        assert status.get("readyReplicas") == 1, status
        assert "availableReplicas" not in status, status

    await eventually(ready_not_available)

    async def available() -> None:
        status = (await kube.get(REPLICASETS, "slow", NS)).get("status") or {}
        assert status.get("availableReplicas") == 1, status

    await eventually(available, timeout=8)


async def _count(kube: Kube, app: str, n: int) -> list[JSON]:
    pods = await pods_of(kube, app)
    assert len(pods) == n, [p["metadata"]["name"] for p in pods]
    return pods
