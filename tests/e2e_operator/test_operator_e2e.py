"""The operator end to end: real Flink 2.3 JVMs on the sandbox cluster, the operator in this process
running from *outside* the cluster (a kubeconfig; the JobManager REST APIs through the API server's
service proxy). One cluster for the whole module; the cases run in order and share it.

What a user of the upstream operator would check: lifecycle CREATED -> DEPLOYED -> STABLE, the job
RUNNING, TaskManager pods made by Flink itself, upstream's object names and labels, a stateless upgrade
on a parallelism change, a restart on ``restartNonce``, a session cluster, an invalid spec, and that
deleting a FlinkDeployment leaves no object and no process behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flinkop.operator.app import FLINK_DEPLOYMENTS, Operator
from flinkop.reconcilers.deploy import CONFIGMAPS, DEPLOYMENTS, SERVICES
from flinkop.runtime import Kube
from flinkop.sandbox.cluster import SandboxCluster

from .conftest import NS, OPERATOR_CONFIG
from .helpers import (
    NAMESPACES,
    PODS,
    SERVICE_ACCOUNTS,
    History,
    LogCapture,
    events_of,
    eventually,
    example,
    get_or_none,
    holds,
    java_processes,
    pid_files,
    process_alive,
    reasons,
    rest_of,
    session_example,
    status_of,
    wait_for,
)

JSON = dict[str, Any]
APP = "opapp"
SESSION = "opsession"
BAD = "opbad"

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

# The fixtures (cluster_dir, cluster, kube, logs, operator, history) are in conftest.py.


@pytest.fixture(scope="module")
def seen_processes() -> dict[Path, str]:
    """Every container process the kubelet recorded for our clusters (checked gone at the end)."""
    return {}


async def flink_deployment(kube: Kube, name: str) -> JSON:
    obj = await get_or_none(kube, FLINK_DEPLOYMENTS, name, NS)
    assert obj is not None, f"FlinkDeployment {name} is gone"
    return obj


async def wait_status(kube: Kube, name: str, timeout: float, what: str, **expected: Any) -> JSON:
    return status_of(await wait_for(kube, NS, name, timeout, what, **expected))


async def running_job(kube: Kube, name: str) -> JSON | None:
    """The job of the cluster (id and per-vertex parallelism) once every vertex runs; None until then."""
    async with rest_of(kube, NS, name) as rest:
        jobs = await rest.jobs_overview()
        if len(jobs) != 1:
            return None
        details = await rest.job_details(jobs[0].jid)
        if not details.all_vertices_running:
            return None
        return {"jid": details.jid, "parallelism": details.parallelism}


async def taskmanager_pods(kube: Kube, name: str) -> list[JSON]:
    answer = await kube.list(PODS, NS, label_selector=f"app={name},component=taskmanager")
    return [pod for pod in answer.get("items") or [] if not pod["metadata"].get("deletionTimestamp")]


# -- the cases --------------------------------------------------------------------------------------------


async def test_application_deploys_and_becomes_stable(
    kube: Kube,
    operator: Operator,
    history: History,
    logs: LogCapture,
    seen_processes: dict[Path, str],
    cluster_dir: Path,
) -> None:
    started = time.monotonic()
    await kube.create(FLINK_DEPLOYMENTS, example(APP, NS), NS)
    status = await wait_status(
        kube, APP, 180, "STABLE with the job RUNNING", lifecycleState="STABLE", jobStatus__state="RUNNING"
    )
    elapsed = time.monotonic() - started
    print(f"\n[timing] application deployed and STABLE in {elapsed:.1f} s")

    lifecycle = history.lifecycle(APP)
    assert [s for s in lifecycle if s in ("CREATED", "DEPLOYED", "STABLE")] == [
        "CREATED",
        "DEPLOYED",
        "STABLE",
    ]
    assert status["jobManagerDeploymentStatus"] == "READY"
    assert status["reconciliationStatus"]["state"] == "DEPLOYED"
    assert status["observedGeneration"] == 1
    assert (
        status["reconciliationStatus"]["lastStableSpec"]
        == status["reconciliationStatus"]["lastReconciledSpec"]
    )
    assert status["taskManager"] == {"labelSelector": f"component=taskmanager,app={APP}", "replicas": 1}
    assert status["clusterInfo"]["flink-version"] == "2.3.0"
    assert status["conditions"][0]["type"] == "Running" and status["conditions"][0]["status"] == "True"
    assert status["jobStatus"]["jobName"]
    obj = await flink_deployment(kube, APP)
    assert obj["metadata"]["finalizers"] == ["flinkdeployments.flink.apache.org/finalizer"]

    # objects named and labelled as upstream's (Flink's native client's)
    jm = await kube.get(DEPLOYMENTS, APP, NS)
    assert jm["metadata"]["labels"] == {
        "app": APP,
        "type": "flink-native-kubernetes",
        "component": "jobmanager",
    }
    assert jm["metadata"]["annotations"]["flinkdeployment.flink.apache.org/generation"] == "1"
    assert [(r["kind"], r["name"]) for r in jm["metadata"]["ownerReferences"]] == [("FlinkDeployment", APP)]
    for res, name in ((SERVICES, APP), (SERVICES, f"{APP}-rest"), (CONFIGMAPS, f"flink-config-{APP}")):
        owned = await kube.get(res, name, NS)
        assert owned["metadata"]["labels"] == {"type": "flink-native-kubernetes", "app": APP}
        assert [r["uid"] for r in owned["metadata"]["ownerReferences"]] == [jm["metadata"]["uid"]]
    assert "config.yaml" in (await kube.get(CONFIGMAPS, f"flink-config-{APP}", NS))["data"]

    # TaskManager pods created by Flink itself, owned by the JobManager Deployment
    tms = await eventually(lambda: taskmanager_pods(kube, APP), 30, "TaskManager pods")
    for pod in tms:
        assert pod["metadata"]["name"].startswith(f"{APP}-taskmanager-")
        assert [r["uid"] for r in pod["metadata"]["ownerReferences"]] == [jm["metadata"]["uid"]]

    job = await eventually(lambda: running_job(kube, APP), 60, "all vertices running")
    assert job["jid"] == status["jobStatus"]["jobId"]
    assert set(job["parallelism"].values()) == {1}

    found = await reasons(kube, NS, APP)
    assert found["Submit"]["message"] == "Starting deployment"
    assert found["JobStatusChanged"]["type"] == "Normal"
    assert "Job status changed from RECONCILING to RUNNING" in logs.messages(name=APP)
    await eventually(
        lambda: holds("Resource fully reconciled, nothing to do..." in logs.messages(name=APP)),
        10,
        "the nothing-to-do log line",
    )
    seen_processes.update(pid_files(cluster_dir))
    assert java_processes(APP), "the cluster's JVMs run"

    # steady state (the TaskManager counted in clusterInfo): reconciles go on, every 2 s here, writing nothing
    one_tm = str((1024 + 1024) * 1024**2)

    async def counted() -> bool:
        info = status_of(await flink_deployment(kube, APP)).get("clusterInfo") or {}
        return bool(info.get("total-memory") == one_tm)

    await eventually(counted, 30, "clusterInfo counting the TaskManager")
    version = (await flink_deployment(kube, APP))["metadata"]["resourceVersion"]
    seen = len(history.statuses.get(APP, []))
    reconciles = len(logs.messages(name=APP, event="Resource fully reconciled, nothing to do..."))
    await asyncio.sleep(5)
    assert len(logs.messages(name=APP, event="Resource fully reconciled, nothing to do...")) > reconciles
    written = history.statuses.get(APP, [])[seen - 1 :]
    assert (await flink_deployment(kube, APP))["metadata"]["resourceVersion"] == version, written


async def test_parallelism_change_is_a_stateless_upgrade(
    kube: Kube, operator: Operator, history: History, seen_processes: dict[Path, str], cluster_dir: Path
) -> None:
    before = status_of(await flink_deployment(kube, APP))
    old_jm = await kube.get(DEPLOYMENTS, APP, NS)
    started = time.monotonic()
    await kube.patch(FLINK_DEPLOYMENTS, APP, {"spec": {"job": {"parallelism": 2}}}, NS)

    async def upgraded() -> JSON | None:
        status = status_of(await flink_deployment(kube, APP))
        if status.get("observedGeneration") != 2 or status.get("lifecycleState") != "STABLE":
            return None
        return status if status["jobStatus"].get("state") == "RUNNING" else None

    status = await eventually(upgraded, 180, "the upgraded job RUNNING and STABLE")
    print(f"\n[timing] stateless upgrade to parallelism 2 in {time.monotonic() - started:.1f} s")
    assert status["jobStatus"]["jobId"] != before["jobStatus"]["jobId"]
    job = await eventually(lambda: running_job(kube, APP), 60, "all vertices running")
    assert job["jid"] == status["jobStatus"]["jobId"]
    assert set(job["parallelism"].values()) == {2}
    new_jm = await kube.get(DEPLOYMENTS, APP, NS)
    assert new_jm["metadata"]["uid"] != old_jm["metadata"]["uid"]  # the cluster was redeployed
    assert new_jm["metadata"]["annotations"]["flinkdeployment.flink.apache.org/generation"] == "2"
    assert "UPGRADING" in history.lifecycle(APP)

    found = await reasons(kube, NS, APP)
    assert found["SpecChanged"]["message"] == (
        "UPGRADE change(s) detected (Diff: FlinkDeploymentSpec[job.parallelism : 1 -> 2]), "
        "starting reconciliation."
    )
    assert found["Suspended"]["message"] == "Suspending existing deployment."
    seen_processes.update(pid_files(cluster_dir))


async def test_restart_nonce_restarts_the_job(
    kube: Kube, operator: Operator, seen_processes: dict[Path, str], cluster_dir: Path
) -> None:
    before = status_of(await flink_deployment(kube, APP))
    old_jm = await kube.get(DEPLOYMENTS, APP, NS)
    started = time.monotonic()
    await kube.patch(FLINK_DEPLOYMENTS, APP, {"spec": {"restartNonce": 1}}, NS)

    async def restarted() -> JSON | None:
        status = status_of(await flink_deployment(kube, APP))
        if status.get("observedGeneration") != 3 or status.get("lifecycleState") != "STABLE":
            return None
        return status if status["jobStatus"].get("state") == "RUNNING" else None

    status = await eventually(restarted, 180, "the restarted job RUNNING and STABLE")
    print(f"\n[timing] restartNonce restart in {time.monotonic() - started:.1f} s")
    assert status["jobStatus"]["jobId"] != before["jobStatus"]["jobId"]
    assert (await kube.get(DEPLOYMENTS, APP, NS))["metadata"]["uid"] != old_jm["metadata"]["uid"]
    events = [e for e in await events_of(kube, NS, APP) if e["reason"] == "SpecChanged"]
    assert any("restartNonce : null -> 1" in e["message"] for e in events)
    await eventually(lambda: running_job(kube, APP), 60, "all vertices running")
    seen_processes.update(pid_files(cluster_dir))


async def test_a_lost_jobmanager_deployment_is_recovered(
    kube: Kube, operator: Operator, seen_processes: dict[Path, str], cluster_dir: Path
) -> None:
    before = status_of(await flink_deployment(kube, APP))
    lost = await kube.get(DEPLOYMENTS, APP, NS)
    started = time.monotonic()
    await kube.delete(DEPLOYMENTS, APP, NS)

    async def recovered() -> JSON | None:
        jm = await get_or_none(kube, DEPLOYMENTS, APP, NS)
        if jm is None or jm["metadata"]["uid"] == lost["metadata"]["uid"]:
            return None
        status = status_of(await flink_deployment(kube, APP))
        if status["jobStatus"].get("jobId") == before["jobStatus"]["jobId"]:
            return None
        return status if status["jobStatus"].get("state") == "RUNNING" else None

    status = await eventually(recovered, 120, "a new JobManager Deployment and the job RUNNING again")
    print(f"\n[timing] lost JobManager Deployment recovered in {time.monotonic() - started:.1f} s")
    found = await reasons(kube, NS, APP)
    assert found["Missing"]["message"] == "Missing JobManager deployment"
    assert found["RecoverDeployment"]["message"] == "Recovering lost deployment"
    assert found["RecoverDeployment"]["type"] == "Warning"
    assert status["observedGeneration"] == 3  # a recovery is no spec change
    await eventually(lambda: running_job(kube, APP), 60, "all vertices running")
    await wait_status(kube, APP, 30, "STABLE again without an error", lifecycleState="STABLE")
    assert "error" not in status_of(await flink_deployment(kube, APP))
    seen_processes.update(pid_files(cluster_dir))


async def test_suspend_and_resume(
    kube: Kube, operator: Operator, seen_processes: dict[Path, str], cluster_dir: Path
) -> None:
    started = time.monotonic()
    await kube.patch(FLINK_DEPLOYMENTS, APP, {"spec": {"job": {"state": "suspended"}}}, NS)
    status = await wait_status(kube, APP, 90, "SUSPENDED", lifecycleState="SUSPENDED", observedGeneration=4)
    print(f"\n[timing] suspended in {time.monotonic() - started:.1f} s")
    assert status["jobManagerDeploymentStatus"] == "MISSING"
    assert status["taskManager"] == {"labelSelector": "", "replicas": 0}
    await eventually(lambda: holds(not java_processes(APP)), 30, "no JVM of the suspended cluster")
    assert await get_or_none(kube, DEPLOYMENTS, APP, NS) is None

    started = time.monotonic()
    await kube.patch(FLINK_DEPLOYMENTS, APP, {"spec": {"job": {"state": "running"}}}, NS)
    status = await wait_status(
        kube, APP, 120, "resumed, RUNNING and STABLE", lifecycleState="STABLE", jobStatus__state="RUNNING"
    )
    print(f"\n[timing] resumed in {time.monotonic() - started:.1f} s")
    assert status["observedGeneration"] == 5
    await eventually(lambda: running_job(kube, APP), 60, "all vertices running")
    seen_processes.update(pid_files(cluster_dir))


async def test_deleting_the_application_removes_every_object_and_process(
    kube: Kube, operator: Operator, seen_processes: dict[Path, str], cluster_dir: Path
) -> None:
    seen_processes.update(pid_files(cluster_dir))
    assert seen_processes, "the kubelet recorded the cluster's processes"
    started = time.monotonic()
    await kube.delete(FLINK_DEPLOYMENTS, APP, NS)

    async def all_gone() -> bool:
        if await get_or_none(kube, FLINK_DEPLOYMENTS, APP, NS) is not None:
            return False
        for res in (DEPLOYMENTS, PODS, SERVICES, CONFIGMAPS):
            if (await kube.list(res, NS, label_selector=f"app={APP}"))["items"]:
                return False
        return True

    await eventually(all_gone, 120, "the FlinkDeployment and every object of its cluster gone")
    print(f"\n[timing] deletion of the application in {time.monotonic() - started:.1f} s")
    await eventually(
        lambda: holds(not any(process_alive(r) for r in seen_processes.values())),
        30,
        "every container process of the cluster gone",
    )
    assert not java_processes(APP)
    found = await reasons(kube, NS, APP)
    assert found["Cleanup"]["message"] == "Cleaning up FlinkDeployment"


async def test_session_cluster_becomes_ready_without_a_job(
    kube: Kube, operator: Operator, history: History, cluster_dir: Path
) -> None:
    started = time.monotonic()
    await kube.create(FLINK_DEPLOYMENTS, session_example(SESSION, NS), NS)
    status = await wait_status(
        kube,
        SESSION,
        180,
        "JobManager READY and STABLE",
        jobManagerDeploymentStatus="READY",
        lifecycleState="STABLE",
    )
    print(f"\n[timing] session cluster READY in {time.monotonic() - started:.1f} s")
    assert "state" not in status["jobStatus"] and "jobId" not in status["jobStatus"]
    assert status.get("taskManager") is None
    assert status["conditions"][0]["reason"] == "JobManagerReady"
    async with rest_of(kube, NS, SESSION) as rest:
        assert await rest.jobs_overview() == []
    assert not await taskmanager_pods(kube, SESSION)  # no job: Flink starts no TaskManager
    processes = pid_files(cluster_dir)

    await kube.delete(FLINK_DEPLOYMENTS, SESSION, NS)

    async def gone() -> bool:
        if await get_or_none(kube, FLINK_DEPLOYMENTS, SESSION, NS) is not None:
            return False
        return not (await kube.list(DEPLOYMENTS, NS, label_selector=f"app={SESSION}"))["items"]

    await eventually(gone, 90, "the session cluster gone")
    await eventually(lambda: holds(not java_processes(SESSION)), 30, "the session JobManager process gone")
    assert all(not process_alive(r) for r in processes.values())


async def test_an_invalid_spec_is_reported_and_nothing_is_deployed(kube: Kube, operator: Operator) -> None:
    bad = example(BAD, NS)
    bad["spec"]["job"]["parallelism"] = 0
    await kube.create(FLINK_DEPLOYMENTS, bad, NS)
    status = await wait_status(kube, BAD, 30, "FAILED with an error", lifecycleState="FAILED")
    assert "Job parallelism must be larger than 0" in status["error"]
    assert "ValidationException" in status["error"]
    event = await eventually(lambda: reasons(kube, NS, BAD), 10, "the ValidationError event")
    assert event["ValidationError"]["type"] == "Warning"
    assert event["ValidationError"]["message"] == "Job parallelism must be larger than 0"
    await asyncio.sleep(2)
    assert await get_or_none(kube, DEPLOYMENTS, BAD, NS) is None
    assert not (await kube.list(CONFIGMAPS, NS, label_selector=f"app={BAD}"))["items"]

    # fixing the spec deploys it; deleting it then leaves nothing
    await kube.patch(FLINK_DEPLOYMENTS, BAD, {"spec": {"job": {"parallelism": 1}}}, NS)
    fixed = await wait_status(
        kube, BAD, 60, "deployed once valid", reconciliationStatus__state="DEPLOYED", observedGeneration=2
    )
    assert "error" not in fixed
    assert await get_or_none(kube, DEPLOYMENTS, BAD, NS) is not None
    await kube.delete(FLINK_DEPLOYMENTS, BAD, NS)  # while its JobManager starts

    async def gone() -> bool:
        if await get_or_none(kube, FLINK_DEPLOYMENTS, BAD, NS) is not None:
            return False
        return not (await kube.list(PODS, NS, label_selector=f"app={BAD}"))["items"]

    await eventually(gone, 90, "the fixed deployment deleted")
    await eventually(lambda: holds(not java_processes(BAD)), 30, "its processes gone")


async def test_the_operator_command_runs_against_the_sandbox(
    cluster: SandboxCluster, kube: Kube, operator: Operator, tmp_path: Path
) -> None:
    """`flinkop operator --kubeconfig K --conf-dir D --namespace NS` as its own process, from outside the
    cluster: it reconciles a session cluster in its namespace, and stops cleanly on SIGTERM."""
    namespace = "opcli"
    await kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    await kube.create(
        SERVICE_ACCOUNTS,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flink"}},
        namespace,
    )
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in OPERATOR_CONFIG.items()))
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flinkop.operator",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--conf-dir",
        str(conf_dir),
        "--namespace",
        namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    output = bytearray()

    async def read() -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            output.extend(chunk)

    reader = asyncio.get_running_loop().create_task(read())
    try:
        document = session_example("opclisession", namespace)
        await kube.create(FLINK_DEPLOYMENTS, document, namespace)

        async def stable() -> bool:
            obj = await get_or_none(kube, FLINK_DEPLOYMENTS, "opclisession", namespace)
            return status_of(obj).get("lifecycleState") == "STABLE"

        await eventually(stable, 120, "the session cluster reconciled by the operator process to STABLE")
        await kube.delete(FLINK_DEPLOYMENTS, "opclisession", namespace)
        await eventually(
            lambda: _absent(kube, "opclisession", namespace), 90, "the session cluster deleted by the process"
        )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        await reader
    text = output.decode(errors="replace")
    assert code == 0, text[-3000:]
    assert "Setting default configuration to {" in text
    assert "Resource fully reconciled, nothing to do..." in text
    assert "opclisession" in text


async def _absent(kube: Kube, name: str, namespace: str) -> bool:
    if await get_or_none(kube, FLINK_DEPLOYMENTS, name, namespace) is not None:
        return False
    return not (await kube.list(DEPLOYMENTS, namespace, label_selector=f"app={name}"))["items"]
