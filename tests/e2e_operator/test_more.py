"""More of the operator end to end on the sandbox cluster (real Flink JVMs, the operator in this process from
outside the cluster; the fixtures are in conftest.py). One cluster for the module; the cases run in order:

* an application on Flink 1.20 (``flink-conf.yaml``) reaching STABLE with its job RUNNING;
* TaskManager pods made by Flink itself through the sandbox API (native mode): a killed TaskManager process
  makes Flink replace its pod, and the job runs again;
* a killed JobManager process: its pod restarts as a kubelet restarts it (``restartPolicy: Always``), and the
  application entrypoint resubmits the job (no HA), which runs again;
* bad specs (unknown flinkVersion, negative parallelism, no jarURI, a bad memory string, an Ingress template
  without a placeholder): ``status.error``, a ``ValidationError`` Warning, no reconcile error, nothing
  deployed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flinkop.operator.app import FLINK_DEPLOYMENTS, Operator
from flinkop.reconcilers.deploy import CONFIGMAPS, DEPLOYMENTS, SERVICES
from flinkop.reconcilers.errors import error_message
from flinkop.runtime import Kube
from tests.processes import java_command_lines

from .conftest import NS
from .helpers import (
    PODS,
    History,
    LogCapture,
    eventually,
    example,
    get_or_none,
    holds,
    java_processes,
    pid_files,
    process_alive,
    reasons,
    rest_of,
    status_of,
    wait_for,
)

JSON = dict[str, Any]
V120 = "more120"
KILL = "morekill"
JM_ENTRYPOINT = "org.apache.flink.kubernetes.entrypoint.KubernetesApplicationClusterEntrypoint"
TM_RUNNER = "org.apache.flink.kubernetes.taskmanager.KubernetesTaskExecutorRunner"
# Without checkpoints Flink does not restart a failed job: the case losing a TaskManager asks for restarts.
RESTARTS = {
    "restart-strategy.type": "fixed-delay",
    "restart-strategy.fixed-delay.attempts": "20",
    "restart-strategy.fixed-delay.delay": "1 s",
}

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


# -- helpers -------------------------------------------------------------------------------------------------


async def wait_status(kube: Kube, name: str, timeout: float, what: str, **expected: Any) -> JSON:
    return status_of(await wait_for(kube, NS, name, timeout, what, **expected))


async def stable_and_running(kube: Kube, name: str, timeout: float, what: str) -> JSON:
    return await wait_status(kube, name, timeout, what, lifecycleState="STABLE", jobStatus__state="RUNNING")


async def running_job(kube: Kube, name: str) -> JSON | None:
    """The cluster's one job once all its tasks run (id, start time); None until then."""
    async with rest_of(kube, NS, name) as rest:
        jobs = await rest.jobs_overview()
    if len(jobs) != 1 or not jobs[0].all_tasks_running:
        return None
    return {"jid": jobs[0].jid, "start_time": jobs[0].start_time}


async def pods_of(kube: Kube, name: str, component: str) -> list[JSON]:
    answer = await kube.list(PODS, NS, label_selector=f"app={name},component={component}")
    return list(answer.get("items") or [])


def pod_ready(pod: JSON) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def restart_count(pod: JSON) -> int:
    return sum(
        int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or []
    )


def jvm_pids(name: str, main_class: str) -> list[int]:
    """From the OS process table: the JVMs of the cluster ``name`` running ``main_class``."""
    return [
        pid
        for pid, line in java_command_lines().items()
        if f"-{name}-" in line and "-Dlog.file=" in line and main_class in line
    ]


async def delete_and_wait(kube: Kube, name: str, cluster_dir: Path, seen: dict[Path, str]) -> None:
    """Delete the FlinkDeployment; every object of its cluster and every process it ran go."""
    seen.update(pid_files(cluster_dir))
    await kube.delete(FLINK_DEPLOYMENTS, name, NS)

    async def gone() -> bool:
        if await get_or_none(kube, FLINK_DEPLOYMENTS, name, NS) is not None:
            return False
        for res in (DEPLOYMENTS, PODS, SERVICES, CONFIGMAPS):
            if (await kube.list(res, NS, label_selector=f"app={name}"))["items"]:
                return False
        return True

    await eventually(gone, 120, f"{name}: the FlinkDeployment and every object of its cluster gone")
    await eventually(
        lambda: holds(not any(process_alive(r) for r in seen.values()) and not java_processes(name)),
        30,
        f"{name}: every container process gone",
    )


# -- Flink 1.20 ----------------------------------------------------------------------------------------------


async def test_an_application_on_flink_1_20(
    kube: Kube, operator: Operator, history: History, cluster_dir: Path
) -> None:
    started = time.monotonic()
    await kube.create(FLINK_DEPLOYMENTS, example(V120, NS, image="flink:1.20", flinkVersion="v1_20"), NS)
    status = await stable_and_running(kube, V120, 180, "STABLE with the job RUNNING")
    print(f"\n[timing] Flink 1.20 application STABLE in {time.monotonic() - started:.1f} s")
    lifecycle = [s for s in history.lifecycle(V120) if s in ("CREATED", "DEPLOYED", "STABLE")]
    assert lifecycle == ["CREATED", "DEPLOYED", "STABLE"]
    assert status["jobManagerDeploymentStatus"] == "READY"
    status = await wait_status(
        kube, V120, 30, "Flink 1.20.5 in clusterInfo", clusterInfo__flink___version="1.20.5"
    )

    # Flink 1.x reads flink-conf.yaml: flat `key: value` lines, no config.yaml
    data = (await kube.get(CONFIGMAPS, f"flink-config-{V120}", NS))["data"]
    assert "flink-conf.yaml" in data and "config.yaml" not in data
    lines = data["flink-conf.yaml"].splitlines()
    assert f"kubernetes.cluster-id: {V120}" in lines
    assert "execution.target: kubernetes-application" in lines

    job = await eventually(lambda: running_job(kube, V120), 60, "every task of the 1.20 job running")
    assert job["jid"] == status["jobStatus"]["jobId"]
    async with rest_of(kube, NS, V120) as rest:
        assert (await rest.config()).flink_version == "1.20.5"
    jvms = java_processes(V120)
    assert jvms and all("flink-dist-1.20.5.jar" in cmdline for cmdline in jvms)
    await delete_and_wait(kube, V120, cluster_dir, {})


# -- killed processes ----------------------------------------------------------------------------------------


async def test_taskmanager_pods_come_from_flink_and_a_killed_one_is_replaced(
    kube: Kube, operator: Operator
) -> None:
    document = example(KILL, NS, flinkConfiguration={"taskmanager.numberOfTaskSlots": "1", **RESTARTS})
    await kube.create(FLINK_DEPLOYMENTS, document, NS)
    status = await stable_and_running(kube, KILL, 180, "STABLE with the job RUNNING")
    job = await eventually(lambda: running_job(kube, KILL), 60, "every task running")
    jm = await kube.get(DEPLOYMENTS, KILL, NS)

    # native mode: the operator deployed the JobManager only; the TaskManager pod is Flink's own request
    assert await get_or_none(kube, DEPLOYMENTS, f"{KILL}-taskmanager", NS) is None
    [tm] = await pods_of(kube, KILL, "taskmanager")
    assert tm["metadata"]["name"] == f"{KILL}-taskmanager-1-1"
    assert tm["metadata"]["labels"]["type"] == "flink-native-kubernetes"
    assert [r["uid"] for r in tm["metadata"]["ownerReferences"]] == [jm["metadata"]["uid"]]
    assert tm["spec"]["restartPolicy"] == "Never"
    # created by Flink's own Kubernetes client (its user agent, `kubernetes.client.user-agent`, is "flink")
    creator = (tm["metadata"].get("managedFields") or [{}])[0]
    assert (creator.get("manager"), creator.get("operation")) == ("flink", "Update"), creator

    [pid] = jvm_pids(KILL, TM_RUNNER)
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    async def replaced() -> JSON | None:
        pods = await pods_of(kube, KILL, "taskmanager")
        names = [p["metadata"]["name"] for p in pods]
        if tm["metadata"]["name"] in names or len(pods) != 1 or not pod_ready(pods[0]):
            return None
        return pods[0]

    new_tm = await eventually(replaced, 90, "the killed TaskManager's pod replaced by Flink")
    assert new_tm["metadata"]["name"].startswith(f"{KILL}-taskmanager-1-")
    assert [r["uid"] for r in new_tm["metadata"]["ownerReferences"]] == [jm["metadata"]["uid"]]
    again = await eventually(lambda: running_job(kube, KILL), 90, "every task running again")
    print(
        f"\n[timing] TaskManager killed -> replaced and the job running in {time.monotonic() - started:.1f} s"
    )
    assert again["jid"] == job["jid"] == status["jobStatus"]["jobId"]  # the same job, restarted by Flink
    assert jvm_pids(KILL, TM_RUNNER) and pid not in jvm_pids(KILL, TM_RUNNER)
    await stable_and_running(kube, KILL, 60, "STABLE and RUNNING after the TaskManager loss")
    assert (await kube.get(DEPLOYMENTS, KILL, NS))["metadata"]["uid"] == jm["metadata"]["uid"]


async def test_a_killed_jobmanager_restarts_in_its_pod_and_the_job_recovers(
    kube: Kube, operator: Operator, cluster_dir: Path
) -> None:
    before = await eventually(lambda: running_job(kube, KILL), 60, "every task running")
    jm = await kube.get(DEPLOYMENTS, KILL, NS)
    [pod] = await pods_of(kube, KILL, "jobmanager")
    assert restart_count(pod) == 0
    [pid] = jvm_pids(KILL, JM_ENTRYPOINT)
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    async def restarted() -> JSON | None:
        pods = await pods_of(kube, KILL, "jobmanager")
        if len(pods) != 1 or restart_count(pods[0]) < 1 or not pod_ready(pods[0]):
            return None
        return pods[0]

    again = await eventually(restarted, 60, "the JobManager container restarted in its pod")
    assert again["metadata"]["uid"] == pod["metadata"]["uid"]  # the same pod: the kubelet restarted it
    assert restart_count(again) == 1
    terminated = (again["status"]["containerStatuses"][0].get("lastState") or {}).get("terminated") or {}
    assert terminated.get("exitCode") == 137, again["status"]["containerStatuses"]

    async def resubmitted() -> JSON | None:
        job = await running_job(kube, KILL)
        return job if job is not None and job["start_time"] > before["start_time"] else None

    job = await eventually(resubmitted, 120, "the job resubmitted by the restarted JobManager, running")
    print(f"\n[timing] JobManager killed -> the job running again in {time.monotonic() - started:.1f} s")
    assert job["jid"] == before["jid"]  # the operator's fixed job id: the entrypoint submits the same job
    assert jvm_pids(KILL, JM_ENTRYPOINT) and pid not in jvm_pids(KILL, JM_ENTRYPOINT)
    status = await stable_and_running(kube, KILL, 60, "STABLE and RUNNING after the JobManager restart")
    assert status["jobStatus"]["jobId"] == before["jid"]
    # the kubelet's restart did it: the operator neither redeployed nor recovered the cluster
    assert (await kube.get(DEPLOYMENTS, KILL, NS))["metadata"]["uid"] == jm["metadata"]["uid"]
    assert "RecoverDeployment" not in await reasons(kube, NS, KILL)
    await delete_and_wait(kube, KILL, cluster_dir, {})


# -- bad specs -----------------------------------------------------------------------------------------------


def _unknown_version(spec: JSON) -> None:
    spec["flinkVersion"] = "v9_9"


def _negative_parallelism(spec: JSON) -> None:
    spec["job"]["parallelism"] = -2


def _no_jar(spec: JSON) -> None:
    del spec["job"]["jarURI"]


def _bad_memory(spec: JSON) -> None:
    spec["taskManager"]["resource"]["memory"] = "2 gigs"


def _ingress_without_placeholder(spec: JSON) -> None:
    spec["ingress"] = {"template": "flink.example.com", "className": "nginx"}


BAD_SPECS: list[tuple[str, Callable[[JSON], None], str]] = [
    (
        "version",
        _unknown_version,
        "Invalid spec: spec.flinkVersion: unknown value 'v9_9' (expected one of 'v1_13', 'v1_14', 'v1_15', "
        "'v1_16', 'v1_17', 'v1_18', 'v1_19', 'v1_20', 'v2_0', 'v2_1', 'v2_2', 'v2_3', 'v2_4')",
    ),
    ("parallelism", _negative_parallelism, "Job parallelism must be larger than 0"),
    (
        "jar",
        _no_jar,
        "Jar URI must be defined: set spec.job.jarURI (e.g. local:///opt/flink/usrlib/my-job.jar), or "
        "spec.job.entryClass for a job jar already on the image's classpath",
    ),
    (
        "memory",
        _bad_memory,
        "TaskManager resource memory parse error: Invalid quantity format passed to parse",
    ),
    (
        "ingress",
        _ingress_without_placeholder,
        "Ingress template(flink.example.com) must contain a {{name}} or {{namespace}} placeholder, "
        "e.g. '{{name}}.{{namespace}}.flink.k8s.io' or '/{{namespace}}/{{name}}(/|$)(.*)'",
    ),
]


@pytest.mark.parametrize(("case", "spoil", "message"), BAD_SPECS, ids=[case for case, _, _ in BAD_SPECS])
async def test_a_bad_spec_is_reported_and_nothing_is_deployed(
    kube: Kube, operator: Operator, logs: LogCapture, case: str, spoil: Callable[[JSON], None], message: str
) -> None:
    name = f"morebad-{case}"
    document = example(name, NS)
    spoil(document["spec"])
    await kube.create(FLINK_DEPLOYMENTS, document, NS)

    status = await wait_status(kube, name, 30, "FAILED with an error", lifecycleState="FAILED")
    assert error_message(status["error"]) == message
    assert "ValidationException" in status["error"]
    found = await eventually(lambda: reasons(kube, NS, name), 10, "the ValidationError event")
    assert found["ValidationError"]["type"] == "Warning"
    assert found["ValidationError"]["message"] == message
    await asyncio.sleep(2)  # a few reconciles more: still nothing deployed, no reconcile error
    for res in (DEPLOYMENTS, SERVICES, CONFIGMAPS, PODS):
        assert not (await kube.list(res, NS, label_selector=f"app={name}"))["items"], res
    assert await get_or_none(kube, DEPLOYMENTS, name, NS) is None
    assert not logs.messages(event="reconcile failed", resource=f"{NS}/{name}")
    assert not [e for e in logs.entries if e.get("exc_info") and e.get("name") == name]

    await kube.delete(FLINK_DEPLOYMENTS, name, NS)
    await eventually(
        lambda: _absent(kube, name), 30, f"{name}: deleted (the operator removes its finalizer, if any)"
    )


async def _absent(kube: Kube, name: str) -> bool:
    return await get_or_none(kube, FLINK_DEPLOYMENTS, name, NS) is None


async def test_the_operator_still_deploys_after_the_bad_specs(kube: Kube, operator: Operator) -> None:
    """No crash: the same operator takes a good spec to a deployed cluster right after, and the cluster is
    deleted again."""
    name = "moregood"
    await kube.create(FLINK_DEPLOYMENTS, example(name, NS), NS)
    await wait_status(kube, name, 60, "deployed", reconciliationStatus__state="DEPLOYED")
    assert await get_or_none(kube, DEPLOYMENTS, name, NS) is not None
    await kube.delete(FLINK_DEPLOYMENTS, name, NS)

    async def gone() -> bool:
        if await get_or_none(kube, FLINK_DEPLOYMENTS, name, NS) is not None:
            return False
        return not (await kube.list(PODS, NS, label_selector=f"app={name}"))["items"]

    await eventually(gone, 90, f"{name}: deleted")
    await eventually(lambda: holds(not java_processes(name)), 30, f"{name}: its processes gone")
