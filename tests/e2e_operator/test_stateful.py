"""Stateful jobs end to end: real Flink 2.3 JVMs on the sandbox cluster, a keyed counting job whose counters
are its state, checkpoints, savepoints and Kubernetes HA on a shared hostPath volume. The operator runs in
this process from outside the cluster. One cluster for the module; the cases run in order.

Each case checks state continuity in the job's own output: after a restore every key's counter continues
from its saved value, while a stateless start begins again at 1.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from flinkop.operator.app import FLINK_DEPLOYMENTS, Operator
from flinkop.reconcilers.deploy import CONFIGMAPS, DEPLOYMENTS
from flinkop.runtime import Kube
from flinkop.sandbox.cluster import SandboxCluster
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS

from .conftest import NS
from .helpers import eventually, get_or_none, reasons, status_of
from .stateful import (
    assert_continued,
    counts_when_every_key_counts,
    host_path,
    jobmanager_log,
    kubectl,
    pods_of,
    stateful_app,
    wait_for,
    wait_stable_running,
)

JSON = dict[str, Any]
RUNBOOK = "savepoint-job"  # the name the runbook's commands use
LAST_STATE = "laststate"
BROKEN_SAVEPOINTS = "spfail"
ROLLBACK = "rollback"

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


async def status(kube: Kube, name: str) -> JSON:
    obj = await get_or_none(kube, FLINK_DEPLOYMENTS, name, NS)
    assert obj is not None, f"FlinkDeployment {name} is gone"
    return status_of(obj)


async def patch(kube: Kube, name: str, job: JSON | None = None, **spec: Any) -> None:
    body: JSON = dict(spec)
    if job is not None:
        body["job"] = job
    await kube.patch(FLINK_DEPLOYMENTS, name, {"spec": body}, NS)


async def job_id(kube: Kube, name: str) -> str:
    return str((await status(kube, name))["jobStatus"]["jobId"])


def last_reconciled(status: JSON) -> JSON:
    return dict(json.loads(status["reconciliationStatus"]["lastReconciledSpec"])["spec"])


async def ha_configmaps(kube: Kube, name: str) -> list[str]:
    """Names of the cluster's Kubernetes HA ConfigMaps (Flink 2.x: ``<name>-cluster-config-map`` and
    ``<name>-<job id>-config-map``, labelled ``app`` only)."""
    answer = await kube.list(CONFIGMAPS, NS, label_selector=f"app={name}")
    names = [str(item["metadata"]["name"]) for item in answer.get("items") or []]
    return [
        n for n in names if n.endswith("-config-map") and not n.startswith(("flink-config-", "pod-template-"))
    ]


# -- the runbook: suspend with a savepoint, delete, re-create from it ------------------------------------


async def test_runbook_suspend_with_savepoint_delete_and_recreate_from_it(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    await kube.create(FLINK_DEPLOYMENTS, stateful_app(RUNBOOK, NS, data_dir, upgrade_mode="stateless"), NS)
    await wait_stable_running(kube, NS, RUNBOOK)
    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK, at_least=10)

    await kubectl(
        cluster.kubeconfig,
        "-n",
        NS,
        "patch",
        f"flinkdeployment/{RUNBOOK}",
        "--type=merge",
        "-p",
        '{"spec": {"job": {"state": "suspended", "upgradeMode": "savepoint"}}}',
    )
    suspended = await wait_for(kube, NS, RUNBOOK, 120, "SUSPENDED", lifecycleState="SUSPENDED")
    savepoint = status_of(suspended)["jobStatus"]["upgradeSavepointPath"]
    assert savepoint, "the suspend recorded no savepoint"
    assert (host_path(savepoint, data_dir) / "_metadata").is_file(), savepoint
    assert last_reconciled(status_of(suspended))["job"]["upgradeMode"] == "savepoint"
    assert "Suspended" in await reasons(kube, NS, RUNBOOK)

    await kubectl(cluster.kubeconfig, "-n", NS, "delete", "flinkdeployment", RUNBOOK, "--wait=false")

    async def gone() -> bool:
        return await get_or_none(kube, FLINK_DEPLOYMENTS, RUNBOOK, NS) is None

    await eventually(gone, 90, "the suspended deployment deleted")
    document = stateful_app(RUNBOOK, NS, data_dir, upgrade_mode="savepoint")
    document["spec"]["job"]["initialSavepointPath"] = f"{savepoint}/_metadata"
    await kube.create(FLINK_DEPLOYMENTS, document, NS)
    restored = await wait_stable_running(kube, NS, RUNBOOK)
    assert status_of(restored)["jobStatus"]["upgradeSavepointPath"] == f"{savepoint}/_metadata"
    log = await jobmanager_log(cluster.kubeconfig, kube, NS, RUNBOOK)
    started = f"Starting job {status_of(restored)['jobStatus']['jobId']} from savepoint {savepoint}/_metadata"
    assert started in log, "the JobManager log does not show the restore from the savepoint"
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK)
    assert_continued(before, first, "re-created from the savepoint")


async def test_savepoint_upgrade_on_a_parallelism_change(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    old = await status(kube, RUNBOOK)
    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK, at_least=5)
    await patch(kube, RUNBOOK, job={"parallelism": 2})
    upgraded = status_of(
        await wait_for(
            kube,
            NS,
            RUNBOOK,
            180,
            "upgraded to parallelism 2 and STABLE",
            lifecycleState="STABLE",
            jobStatus__state="RUNNING",
            observedGeneration=2,
        )
    )
    savepoint = upgraded["jobStatus"]["upgradeSavepointPath"]
    assert savepoint and savepoint != old["jobStatus"]["upgradeSavepointPath"]
    assert (host_path(savepoint, data_dir) / "_metadata").is_file()
    assert upgraded["jobStatus"]["jobId"] != old["jobStatus"]["jobId"]
    assert last_reconciled(upgraded)["job"]["parallelism"] == 2
    log = await jobmanager_log(cluster.kubeconfig, kube, NS, RUNBOOK)
    assert f"Starting job {upgraded['jobStatus']['jobId']} from savepoint {savepoint}" in log
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK)
    assert_continued(before, first, "savepoint upgrade")
    found = await reasons(kube, NS, RUNBOOK)
    assert {"SpecChanged", "Suspended", "Submit"} <= set(found)


@pytest.mark.parametrize("mode", ["savepoint", "stateless"])
async def test_suspend_and_resume(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path, mode: str
) -> None:
    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK, at_least=5)
    await patch(kube, RUNBOOK, job={"state": "suspended", "upgradeMode": mode})
    suspended = status_of(await wait_for(kube, NS, RUNBOOK, 120, "SUSPENDED", lifecycleState="SUSPENDED"))
    assert last_reconciled(suspended)["job"]["upgradeMode"] == mode
    await patch(kube, RUNBOOK, job={"state": "running"})
    await wait_stable_running(kube, NS, RUNBOOK)
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK)
    if mode == "stateless":
        assert set(first.values()) == {1}, f"a stateless resume starts with empty state: {first}"
    else:
        assert_continued(before, first, f"resumed after a {mode} suspend")


# -- manual and periodic snapshots ---------------------------------------------------------------------


async def snapshots_of(kube: Kube, name: str, trigger_type: str | None = None) -> list[JSON]:
    selector = f"job-reference.name={name}"
    if trigger_type:
        selector += f",snapshot.trigger-type={trigger_type}"
    answer = await kube.list(FLINK_STATE_SNAPSHOTS, NS, label_selector=selector)
    return list(answer.get("items") or [])


async def test_savepoint_trigger_nonce_gives_a_completed_snapshot_resource(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    jid = await job_id(kube, RUNBOOK)
    await patch(kube, RUNBOOK, job={"savepointTriggerNonce": 1})

    async def completed() -> JSON | None:
        found = await snapshots_of(kube, RUNBOOK, "MANUAL")
        done = [s for s in found if (s.get("status") or {}).get("state") == "COMPLETED"]
        return done[0] if done else None

    snapshot = await eventually(completed, 120, "a COMPLETED manual FlinkStateSnapshot")
    name = snapshot["metadata"]["name"]
    assert name.startswith(f"{RUNBOOK}-savepoint-manual-") and name.rsplit("-", 1)[1].isdigit()
    labels = snapshot["metadata"]["labels"]
    assert labels["snapshot.type"] == "SAVEPOINT" and labels["snapshot.state"] == "COMPLETED"
    assert labels["job-reference.kind"] == "FlinkDeployment"
    path = snapshot["status"]["path"]
    assert (host_path(path, data_dir) / "_metadata").is_file(), path
    current = await status(kube, RUNBOOK)
    assert last_reconciled(current)["job"]["savepointTriggerNonce"] == 1
    assert current["jobStatus"]["jobId"] == jid and current["jobStatus"]["state"] == "RUNNING"


async def test_checkpoint_trigger_nonce_gives_a_completed_checkpoint_resource(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    await patch(kube, RUNBOOK, job={"checkpointTriggerNonce": 1})

    async def completed() -> JSON | None:
        found = [s for s in await snapshots_of(kube, RUNBOOK, "MANUAL") if "checkpoint" in s["spec"]]
        done = [s for s in found if (s.get("status") or {}).get("state") == "COMPLETED"]
        return done[0] if done else None

    snapshot = await eventually(completed, 120, "a COMPLETED manual checkpoint FlinkStateSnapshot")
    assert snapshot["metadata"]["name"].startswith(f"{RUNBOOK}-checkpoint-manual-")
    assert snapshot["metadata"]["labels"]["snapshot.type"] == "CHECKPOINT"
    path = snapshot["status"]["path"]
    # the path of that checkpoint (its data goes once newer checkpoints subsume it: num-retained 1)
    assert path.startswith(f"file:/flink-data/{RUNBOOK}/checkpoints/") and "/chk-" in path, path
    assert last_reconciled(await status(kube, RUNBOOK))["job"]["checkpointTriggerNonce"] == 1


async def test_savepoint_trigger_nonce_in_legacy_mode_fills_savepoint_info(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    before = len(await snapshots_of(kube, RUNBOOK))
    await patch(
        kube,
        RUNBOOK,
        flinkConfiguration={"kubernetes.operator.snapshot.resource.enabled": "false"},
        job={"savepointTriggerNonce": 2},
    )

    async def recorded() -> JSON | None:
        info = (await status(kube, RUNBOOK))["jobStatus"].get("savepointInfo") or {}
        last = info.get("lastSavepoint") or {}
        if last.get("triggerNonce") != 2 or info.get("triggerId") or info.get("triggerTimestamp"):
            return None
        return info

    info = await eventually(recorded, 120, "savepointInfo.lastSavepoint of nonce 2, trigger fields null")
    last = info["lastSavepoint"]
    assert last["triggerType"] == "MANUAL" and last["location"]
    assert (host_path(last["location"], data_dir) / "_metadata").is_file()
    assert any(entry["location"] == last["location"] for entry in info["savepointHistory"])
    assert len(await snapshots_of(kube, RUNBOOK)) == before, "legacy mode creates no FlinkStateSnapshot"


async def test_periodic_savepoints_are_taken_and_old_ones_pruned(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    await patch(
        kube,
        RUNBOOK,
        flinkConfiguration={
            "kubernetes.operator.snapshot.resource.enabled": "true",
            "kubernetes.operator.periodic.savepoint.interval": "3s",
            "kubernetes.operator.savepoint.history.max.count": "2",
        },
    )
    seen: set[str] = set()

    async def several_taken_two_kept() -> bool:
        periodic = await snapshots_of(kube, RUNBOOK, "PERIODIC")
        seen.update(s["metadata"]["name"] for s in periodic)
        completed = [s for s in periodic if (s.get("status") or {}).get("state") == "COMPLETED"]
        return len(seen) >= 4 and len(completed) <= 2 and len(periodic) <= 3 and bool(completed)

    await eventually(several_taken_two_kept, 120, "periodic savepoints taken and pruned to 2", interval=0.5)
    await patch(kube, RUNBOOK, flinkConfiguration={"kubernetes.operator.periodic.savepoint.interval": ""})
    assert all(name.startswith(f"{RUNBOOK}-savepoint-periodic-") for name in seen)
    kept = [s for s in await snapshots_of(kube, RUNBOOK, "PERIODIC") if s["metadata"]["name"] in seen]
    for snapshot in kept:
        path = (snapshot.get("status") or {}).get("path")
        if path:
            assert (host_path(path, data_dir) / "_metadata").is_file()
    assert await snapshots_of(kube, RUNBOOK, "MANUAL"), "manual snapshots are never pruned"


async def test_savepoint_redeploy_nonce_starts_from_the_given_savepoint(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    manual = [
        s
        for s in await snapshots_of(kube, RUNBOOK, "MANUAL")
        if "savepoint" in s["spec"] and (s.get("status") or {}).get("path")
    ]
    assert manual, "the manual snapshot of the earlier case"
    path = manual[0]["status"]["path"]
    old_jid = await job_id(kube, RUNBOOK)
    await patch(kube, RUNBOOK, job={"savepointRedeployNonce": 1, "initialSavepointPath": path})

    async def redeployed() -> JSON | None:
        current = await status(kube, RUNBOOK)
        fresh = current["jobStatus"]["jobId"] != old_jid and current["jobStatus"]["state"] == "RUNNING"
        return current if fresh and current.get("lifecycleState") == "STABLE" else None

    current = await eventually(redeployed, 180, "redeployed from the given savepoint")
    assert current["jobStatus"]["upgradeSavepointPath"] == path
    log = await jobmanager_log(cluster.kubeconfig, kube, NS, RUNBOOK)
    assert f"Starting job {current['jobStatus']['jobId']} from savepoint {path}" in log
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, RUNBOOK)
    assert all(count > 1 for count in first.values()), f"not restored from {path}: {first}"


# -- last-state ----------------------------------------------------------------------------------------


async def test_last_state_upgrade_and_suspend_restore_from_the_ha_metadata(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    await kube.create(
        FLINK_DEPLOYMENTS, stateful_app(LAST_STATE, NS, data_dir, upgrade_mode="last-state"), NS
    )
    await wait_stable_running(kube, NS, LAST_STATE)
    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, LAST_STATE, at_least=10)
    await asyncio.sleep(5)  # two checkpoints (every 2 s) cover `before`
    jid = await job_id(kube, LAST_STATE)

    await patch(kube, LAST_STATE, job={"parallelism": 2})
    upgraded = status_of(
        await wait_for(
            kube,
            NS,
            LAST_STATE,
            180,
            "last-state upgrade STABLE",
            lifecycleState="STABLE",
            jobStatus__state="RUNNING",
            observedGeneration=2,
        )
    )
    assert upgraded["jobStatus"]["jobId"] == jid, "last-state keeps the job id its HA metadata belongs to"
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, LAST_STATE)
    assert_continued(before, first, "last-state upgrade")

    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, LAST_STATE, at_least=10)
    await asyncio.sleep(5)
    await patch(kube, LAST_STATE, job={"state": "suspended"})
    await wait_for(kube, NS, LAST_STATE, 120, "SUSPENDED", lifecycleState="SUSPENDED")

    async def jobmanager_gone() -> bool:
        return not (await kube.list(DEPLOYMENTS, NS, label_selector=f"app={LAST_STATE}"))["items"]

    await eventually(jobmanager_gone, 90, "the JobManager Deployment deleted by the last-state suspend")
    kept = await ha_configmaps(kube, LAST_STATE)
    assert f"{LAST_STATE}-{jid}-config-map" in kept, f"a last-state suspend keeps the HA metadata: {kept}"
    await patch(kube, LAST_STATE, job={"state": "running"})
    await wait_stable_running(kube, NS, LAST_STATE)
    assert await job_id(kube, LAST_STATE) == jid
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, LAST_STATE)
    assert_continued(before, first, "resumed after a last-state suspend")
    await kube.delete(FLINK_DEPLOYMENTS, LAST_STATE, NS)


# -- a savepoint that fails ----------------------------------------------------------------------------


async def test_a_failing_savepoint_keeps_the_job_running_and_holds_the_upgrade(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    await kube.create(FLINK_DEPLOYMENTS, stateful_app(BROKEN_SAVEPOINTS, NS, data_dir), NS)
    running = status_of(await wait_stable_running(kube, NS, BROKEN_SAVEPOINTS))
    jid = running["jobStatus"]["jobId"]
    # A file where the savepoint directory should be: Flink cannot create it (even as root).
    blocker = data_dir / BROKEN_SAVEPOINTS / "savepoints"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")

    await patch(kube, BROKEN_SAVEPOINTS, job={"parallelism": 2})

    async def savepoint_error() -> JSON | None:
        found = await reasons(kube, NS, BROKEN_SAVEPOINTS)
        return found.get("SavepointError")

    event = await eventually(savepoint_error, 120, "a SavepointError event")
    assert event["type"] == "Warning"
    failed = await status(kube, BROKEN_SAVEPOINTS)
    assert "Savepoint failed" in (failed.get("error") or ""), failed.get("error")
    assert failed["jobStatus"]["jobId"] == jid
    assert last_reconciled(failed)["job"]["parallelism"] == 1, "no upgrade on a missing savepoint"
    await asyncio.sleep(3)
    after = await status(kube, BROKEN_SAVEPOINTS)
    assert after["jobStatus"]["state"] == "RUNNING" and after["jobStatus"]["jobId"] == jid
    assert len(await pods_of(kube, NS, BROKEN_SAVEPOINTS, "jobmanager")) == 1

    blocker.unlink()  # the directory can be made again: the next attempt goes through
    upgraded = status_of(
        await wait_for(
            kube,
            NS,
            BROKEN_SAVEPOINTS,
            240,
            "upgraded once savepoints work",
            lifecycleState="STABLE",
            jobStatus__state="RUNNING",
            observedGeneration=2,
        )
    )
    assert upgraded["jobStatus"]["upgradeSavepointPath"]
    await kube.delete(FLINK_DEPLOYMENTS, BROKEN_SAVEPOINTS, NS)


# -- rollback ------------------------------------------------------------------------------------------


async def test_a_bad_image_is_rolled_back_to_the_last_stable_spec(
    cluster: SandboxCluster, kube: Kube, operator: Operator, data_dir: Path
) -> None:
    document = stateful_app(
        ROLLBACK,
        NS,
        data_dir,
        conf={
            "kubernetes.operator.deployment.rollback.enabled": "true",
            "kubernetes.operator.deployment.readiness.timeout": "20s",
        },
    )
    await kube.create(FLINK_DEPLOYMENTS, document, NS)
    await wait_stable_running(kube, NS, ROLLBACK)
    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, ROLLBACK, at_least=5)

    await patch(kube, ROLLBACK, image="flink:no-such-tag")
    rolled_back = status_of(
        await wait_for(
            kube,
            NS,
            ROLLBACK,
            240,
            "ROLLED_BACK with the job RUNNING",
            lifecycleState="ROLLED_BACK",
            jobStatus__state="RUNNING",
        )
    )
    assert rolled_back["reconciliationStatus"]["state"] == "ROLLED_BACK"
    found = await reasons(kube, NS, ROLLBACK)
    assert found["Rollback"]["message"] == "Rolling back failed deployment."
    jm = await pods_of(kube, NS, ROLLBACK, "jobmanager")
    assert [p["spec"]["containers"][0]["image"] for p in jm] == ["flink:2.3"]
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, ROLLBACK)
    assert_continued(before, first, "rolled back")
    await kube.delete(FLINK_DEPLOYMENTS, ROLLBACK, NS)
