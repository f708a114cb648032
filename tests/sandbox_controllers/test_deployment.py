"""The Deployment controller over real HTTP: ReplicaSets and pods, status, scaling, both strategies,
garbage collection, revision history, progress deadline and pausing."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from flinkop.runtime.events import EVENTS
from flinkop.runtime.kube import Kube
from flinkop.sandbox.controllers import ControllerManager
from flinkop.sandbox.controllers.common import DEPLOYMENTS, PODS, REPLICASETS
from flinkop.sandbox.controllers.hashing import SAFE_ALPHABET, pod_template_hash
from tests.sandbox_controllers.conftest import (
    NS,
    FakeKubelet,
    container,
    deployment,
    eventually,
    is_ready,
    pods_of,
    replicasets_of,
    rolled_out,
)

JSON = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HASH = re.compile(f"^[{SAFE_ALPHABET}]+$")


def conditions(obj: JSON) -> dict[str, JSON]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


async def test_deployment_creates_replicaset_and_pods(kube: Kube, kcm: ControllerManager) -> None:
    created = await kube.create(DEPLOYMENTS, deployment("web", 3), NS)
    template_hash = pod_template_hash(created["spec"]["template"])
    assert HASH.match(template_hash)

    async def three_pods() -> tuple[JSON, list[JSON]]:
        rss = await replicasets_of(kube, "web")
        assert len(rss) == 1
        pods = await pods_of(kube, "web")
        assert len(pods) == 3
        return rss[0], pods

    rs, pods = await eventually(three_pods)
    assert rs["metadata"]["name"] == f"web-{template_hash}"
    assert rs["metadata"]["labels"] == {"app": "web", "pod-template-hash": template_hash}
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": template_hash}}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": template_hash}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": created["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    annotations = rs["metadata"]["annotations"]
    assert annotations[REVISION] == "1"
    assert annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert annotations["deployment.kubernetes.io/max-replicas"] == "4"  # 3 + ceil(25% of 3)
    for pod in pods:
        assert re.fullmatch(f"web-{template_hash}-[{SAFE_ALPHABET}]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["generateName"] == f"web-{template_hash}-"
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": template_hash}
        [ref] = pod["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": rs["metadata"]["name"],
            "uid": rs["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert pod["spec"]["containers"][0]["image"] == "registry.example/app:1"

    async def unavailable() -> JSON:
        d = await kube.get(DEPLOYMENTS, "web", NS)
        status = d.get("status") or {}
        assert status.get("replicas") == 3 and status.get("updatedReplicas") == 3, status
        assert status.get("unavailableReplicas") == 3 and "availableReplicas" not in status, status
        assert conditions(d)["Available"]["status"] == "False"
        return d

    d = await eventually(unavailable)
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert conditions(d)["Available"]["reason"] == "MinimumReplicasUnavailable"
    assert conditions(d)["Progressing"]["status"] == "True"
    assert conditions(d)["Progressing"]["reason"] in ("NewReplicaSetCreated", "ReplicaSetUpdated")

    kubelet = FakeKubelet(kube).start()
    try:
        d = await eventually(lambda: rolled_out(kube, "web", 3))
    finally:
        await kubelet.stop()
    assert "unavailableReplicas" not in d["status"]
    available = conditions(d)["Available"]
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert available["message"] == "Deployment has minimum availability."
    progressing = conditions(d)["Progressing"]
    assert progressing["status"] == "True"
    assert progressing["message"] == f'ReplicaSet "web-{template_hash}" has successfully progressed.'
    assert [c["type"] for c in d["status"]["conditions"]] == ["Available", "Progressing"]

    async def rs_status() -> JSON:
        status = (await kube.get(REPLICASETS, f"web-{template_hash}", NS)).get("status") or {}
        assert status == {
            "replicas": 3,
            "fullyLabeledReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "observedGeneration": 1,
        }, status
        return status

    await eventually(rs_status)
    reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in (await kube.list(EVENTS, NS))["items"]}
    assert ("Deployment", "ScalingReplicaSet") in reasons
    assert ("ReplicaSet", "SuccessfulCreate") in reasons


async def test_scale_through_spec_and_scale_subresource(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("scaled", 2), NS)
    await eventually(lambda: rolled_out(kube, "scaled", 2))

    await kube.patch(DEPLOYMENTS, "scaled", {"spec": {"replicas": 5}}, NS)
    await eventually(lambda: rolled_out(kube, "scaled", 5))
    [rs] = await replicasets_of(kube, "scaled")
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "7"
    assert len(await pods_of(kube, "scaled")) == 5

    scale = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "scaled", "namespace": NS},
        "spec": {"replicas": 1},
    }
    await kube.replace(DEPLOYMENTS, scale, subresource="scale")

    async def scaled_down() -> None:
        await rolled_out(kube, "scaled", 1)
        assert len(await pods_of(kube, "scaled")) == 1
        current = await kube.request("GET", DEPLOYMENTS.path(NS, "scaled", "scale"))
        assert current["spec"]["replicas"] == 1 and current["status"]["replicas"] == 1, current

    await eventually(scaled_down)
    [rs] = await replicasets_of(kube, "scaled")
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "1"
    assert rs["metadata"]["annotations"][REVISION] == "1"  # scaling is not a new revision


async def test_rolling_update_keeps_capacity_and_surges_by_one(kube: Kube, kcm: ControllerManager) -> None:
    replicas = 3
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await kube.create(DEPLOYMENTS, deployment("roll", replicas, strategy=strategy), NS)
    kubelet = FakeKubelet(kube, delay=0.1).start()
    samples: list[tuple[int, int]] = []

    async def sample() -> None:
        while True:
            pods = await pods_of(kube, "roll")
            samples.append((len(pods), sum(1 for p in pods if is_ready(p))))
            await asyncio.sleep(0.005)

    try:
        await eventually(lambda: rolled_out(kube, "roll", replicas))
        [old] = await replicasets_of(kube, "roll")
        sampler = asyncio.get_running_loop().create_task(sample())
        try:
            await kube.patch(
                DEPLOYMENTS,
                "roll",
                {"spec": {"template": {"spec": {"containers": [container("registry.example/app:2")]}}}},
                NS,
            )

            async def done() -> list[JSON]:
                await rolled_out(kube, "roll", replicas)
                rss = await replicasets_of(kube, "roll")
                assert len(rss) == 2
                assert [rs["spec"]["replicas"] for rs in rss] == [0, replicas]
                assert rss[0]["status"]["replicas"] == 0
                pods = await pods_of(kube, "roll")
                assert len(pods) == replicas
                return rss

            rss = await eventually(done, timeout=25)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
    finally:
        await kubelet.stop()

    assert rss[0]["metadata"]["uid"] == old["metadata"]["uid"]
    assert rss[0]["metadata"]["annotations"][REVISION] == "1"
    assert rss[1]["metadata"]["annotations"][REVISION] == "2"
    d = await kube.get(DEPLOYMENTS, "roll", NS)
    assert d["metadata"]["annotations"][REVISION] == "2"
    new_hash = rss[1]["metadata"]["labels"]["pod-template-hash"]
    assert new_hash == pod_template_hash(d["spec"]["template"])
    for pod in await pods_of(kube, "roll"):
        assert pod["metadata"]["labels"]["pod-template-hash"] == new_hash
        assert pod["spec"]["containers"][0]["image"] == "registry.example/app:2"
    assert len(samples) > 10
    assert max(total for total, _ in samples) <= replicas + 1, samples
    assert min(ready for _, ready in samples) >= replicas, samples
    assert any(total == replicas + 1 for total, _ in samples)  # it did surge


async def test_recreate_removes_old_pods_before_creating_new(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("recreate", 2, strategy={"type": "Recreate"}), NS)
    await eventually(lambda: rolled_out(kube, "recreate", 2))
    [old] = await replicasets_of(kube, "recreate")
    old_hash = old["metadata"]["labels"]["pod-template-hash"]
    events: list[tuple[int, str, str, str]] = []  # (revision, resource, type, template hash)

    async def watch(resource: Any) -> None:
        listed = await kube.list(resource, NS)
        async for event in kube.watch(resource, NS, resource_version=listed["metadata"]["resourceVersion"]):
            obj = event["object"]
            labels = obj["metadata"].get("labels") or {}
            if labels.get("app") == "recreate":
                events.append(
                    (
                        int(obj["metadata"]["resourceVersion"]),
                        resource.plural,
                        event["type"],
                        labels.get("pod-template-hash", ""),
                    )
                )

    watchers = [asyncio.get_running_loop().create_task(watch(r)) for r in (PODS, REPLICASETS)]
    await asyncio.sleep(0.1)
    try:
        await kube.patch(
            DEPLOYMENTS,
            "recreate",
            {"spec": {"template": {"spec": {"containers": [container("registry.example/app:2")]}}}},
            NS,
        )

        async def done() -> None:
            d = await rolled_out(kube, "recreate", 2)
            assert d["metadata"]["annotations"][REVISION] == "2"
            rss = await replicasets_of(kube, "recreate")
            assert [rs["spec"]["replicas"] for rs in rss] == [0, 2]

        await eventually(done)
    finally:
        for task in watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    events.sort()
    old_pods_deleted = [
        rv for rv, res, kind, h in events if res == "pods" and kind == "DELETED" and h == old_hash
    ]
    new_rs_added = [
        rv for rv, res, kind, h in events if res == "replicasets" and kind == "ADDED" and h != old_hash
    ]
    new_pods_added = [
        rv for rv, res, kind, h in events if res == "pods" and kind == "ADDED" and h != old_hash
    ]
    assert len(old_pods_deleted) == 2 and len(new_rs_added) == 1 and len(new_pods_added) == 2, events
    assert max(old_pods_deleted) < new_rs_added[0] < min(new_pods_added), events


async def test_deleting_the_deployment_collects_replicasets_and_pods(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("doomed", 2), NS)
    await eventually(lambda: rolled_out(kube, "doomed", 2))
    await kube.delete(DEPLOYMENTS, "doomed", NS)

    async def gone() -> None:
        assert await replicasets_of(kube, "doomed") == []
        assert await pods_of(kube, "doomed") == []

    await eventually(gone)


async def test_revision_history_limit_deletes_the_oldest_empty_replicasets(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("history", 1, revisionHistoryLimit=1), NS)
    await eventually(lambda: rolled_out(kube, "history", 1))
    for version in (2, 3, 4):
        patch = {
            "spec": {"template": {"spec": {"containers": [container(f"registry.example/app:{version}")]}}}
        }
        await kube.patch(DEPLOYMENTS, "history", patch, NS)
        await eventually(lambda: rolled_out(kube, "history", 1))

    async def pruned() -> list[JSON]:
        rss = await replicasets_of(kube, "history")
        assert [rs["metadata"]["annotations"][REVISION] for rs in rss] == ["3", "4"]
        return rss

    old, current = await eventually(pruned)
    assert old["spec"]["replicas"] == 0 and current["spec"]["replicas"] == 1
    assert old["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/app:3"


async def test_progress_deadline_exceeded_when_pods_never_become_ready(
    kube: Kube, kcm: ControllerManager
) -> None:
    await kube.create(DEPLOYMENTS, deployment("stuck", 2, progressDeadlineSeconds=1), NS)

    async def timed_out() -> JSON:
        d = await kube.get(DEPLOYMENTS, "stuck", NS)
        progressing = conditions(d).get("Progressing") or {}
        assert progressing.get("reason") == "ProgressDeadlineExceeded", d.get("status")
        return d

    d = await eventually(timed_out, timeout=10)
    [rs] = await replicasets_of(kube, "stuck")
    progressing = conditions(d)["Progressing"]
    assert progressing["status"] == "False"
    assert progressing["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
    available = conditions(d)["Available"]
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert d["status"]["unavailableReplicas"] == 2

    async def two_pods() -> None:
        assert len(await pods_of(kube, "stuck")) == 2

    await eventually(two_pods)

    # Pods that become ready later still complete the rollout.
    kubelet = FakeKubelet(kube).start()
    try:
        d = await eventually(lambda: rolled_out(kube, "stuck", 2))
    finally:
        await kubelet.stop()
    assert conditions(d)["Progressing"]["status"] == "True"


async def test_paused_deployment_is_not_rolled_out_until_resumed(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("paused", 2), NS)
    await eventually(lambda: rolled_out(kube, "paused", 2))
    await kube.patch(DEPLOYMENTS, "paused", {"spec": {"paused": True}}, NS)

    async def paused() -> None:
        d = await kube.get(DEPLOYMENTS, "paused", NS)
        progressing = conditions(d)["Progressing"]
        assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused"), progressing

    await eventually(paused)
    patch = {
        "spec": {"replicas": 3, "template": {"spec": {"containers": [container("registry.example/app:2")]}}}
    }
    await kube.patch(DEPLOYMENTS, "paused", patch, NS)

    async def scaled_not_rolled() -> None:
        rss = await replicasets_of(kube, "paused")
        assert len(rss) == 1 and rss[0]["spec"]["replicas"] == 3, rss
        assert len(await pods_of(kube, "paused")) == 3

    await eventually(scaled_not_rolled)  # a paused Deployment still scales
    await asyncio.sleep(0.3)
    assert len(await replicasets_of(kube, "paused")) == 1

    await kube.patch(DEPLOYMENTS, "paused", {"spec": {"paused": False}}, NS)

    async def resumed() -> None:
        d = await rolled_out(kube, "paused", 3)
        assert d["metadata"]["annotations"][REVISION] == "2"

    await eventually(resumed)


async def test_scaling_mid_rollout_is_proportional(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("prop", 4), NS)  # maxSurge 25% -> 1, maxUnavailable 25% -> 1
    await eventually(lambda: rolled_out(kube, "prop", 4))
    kubelet.enabled = False  # the new version never becomes ready
    patch = {"spec": {"template": {"spec": {"containers": [container("registry.example/app:2")]}}}}
    await kube.patch(DEPLOYMENTS, "prop", patch, NS)

    async def stalled() -> None:
        rss = await replicasets_of(kube, "prop")
        assert [rs["spec"]["replicas"] for rs in rss] == [3, 2], rss

    await eventually(stalled)
    await asyncio.sleep(0.2)
    await stalled()  # no further progress without available new pods

    await kube.patch(DEPLOYMENTS, "prop", {"spec": {"replicas": 8}}, NS)

    async def spread() -> list[JSON]:
        rss = await replicasets_of(kube, "prop")
        # 5 pods allowed before (4 + 1 surge), 10 now (8 + 2): both grow by 10/5.
        assert [rs["spec"]["replicas"] for rs in rss] == [6, 4], [rs["spec"]["replicas"] for rs in rss]
        return rss

    rss = await eventually(spread)
    for rs in rss:
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "8"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "10"
    kubelet.enabled = True
    await eventually(lambda: rolled_out(kube, "prop", 8))


async def test_recreated_deployment_adopts_orphaned_replicaset(
    kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet
) -> None:
    await kube.create(DEPLOYMENTS, deployment("again", 2), NS)
    await eventually(lambda: rolled_out(kube, "again", 2))
    [rs] = await replicasets_of(kube, "again")
    pods = {p["metadata"]["uid"] for p in await pods_of(kube, "again")}
    await kube.delete(DEPLOYMENTS, "again", NS, propagation="Orphan")

    async def orphaned() -> None:
        assert not (await kube.get(REPLICASETS, rs["metadata"]["name"], NS))["metadata"].get(
            "ownerReferences"
        )

    await eventually(orphaned)
    created = await kube.create(DEPLOYMENTS, deployment("again", 2), NS)

    async def adopted() -> JSON:
        [current] = await replicasets_of(kube, "again")
        [ref] = current["metadata"].get("ownerReferences") or [{}]
        assert ref.get("uid") == created["metadata"]["uid"], current["metadata"]
        return await rolled_out(kube, "again", 2)

    d = await eventually(adopted)
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert {p["metadata"]["uid"] for p in await pods_of(kube, "again")} == pods  # the same pods, kept
