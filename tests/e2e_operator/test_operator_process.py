"""The operator as a platform team runs it: two replicas with leader election, watched namespaces, and a
dynamic configuration change, against the sandbox cluster with real Flink 2.3 JVMs. The operators are
child processes (``python -m flinkop.operator``) configured from a conf dir, as in a pod.

* Two replicas: exactly one acts; when it is killed the other takes the Lease and finds the running
  deployment fully reconciled, without restarting its job.
* Watched namespaces: a same-named FlinkDeployment in an unwatched namespace is never touched.
* Dynamic configuration: the operator ConfigMap is patched, its new content lands in the conf dir (what
  the kubelet's ConfigMap volume refresh does in a pod), the operator logs ``Setting default
  configuration to {...}`` and starts watching the added namespace, without a restart.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.reconcilers.deploy import CONFIGMAPS, DEPLOYMENTS
from flinkop.runtime import Kube, NotFound, Resource
from flinkop.sandbox.cluster import SandboxCluster

from .conftest import OPERATOR_CONFIG
from .helpers import (
    NAMESPACES,
    PODS,
    SERVICE_ACCOUNTS,
    events_of,
    eventually,
    example,
    get_or_none,
    session_example,
    status_of,
)
from .processes import OperatorProcess

JSON = dict[str, Any]
LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
LEASE = "flink-operator-lease"
TEAM_A, TEAM_B = "team-a", "team-b"
APP = "ha-app"
TWIN = "twin"
NOTHING_TO_DO = "Resource fully reconciled, nothing to do..."
CONFIG = {
    **OPERATOR_CONFIG,
    "kubernetes.operator.watched.namespaces": TEAM_A,
    "kubernetes.operator.leader-election.enabled": "true",
    "kubernetes.operator.leader-election.lease-name": LEASE,
    "kubernetes.operator.leader-election.lease-duration": "6 s",
    "kubernetes.operator.leader-election.renew-deadline": "4 s",
    "kubernetes.operator.leader-election.retry-period": "1 s",
    "kubernetes.operator.dynamic.config.check.interval": "2 s",
    "kubernetes.operator.dynamic.namespaces.enabled": "true",  # upstream's switch for live namespace changes
}

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


def config_yaml(config: dict[str, str]) -> str:
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items())  # JSON is YAML


@pytest.fixture(scope="module")
def conf_dir(cluster_dir: Path) -> Path:
    directory = cluster_dir / "operator-conf"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(config_yaml(CONFIG))
    return directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def replicas(
    cluster: SandboxCluster, kube: Kube, conf_dir: Path
) -> AsyncIterator[list[OperatorProcess]]:
    for namespace in TEAM_A, TEAM_B:
        await kube.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
        await kube.create(
            SERVICE_ACCOUNTS,
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flink"}},
            namespace,
        )
    processes = [
        OperatorProcess(
            cluster.kubeconfig,
            conf_dir,
            conf_dir.parent / f"operator-{index}.log",
            env={"POD_NAME": f"flinkop-{index}"},
            namespaces=None,  # from the configuration, so that a dynamic change applies
        )
        for index in (1, 2)
    ]
    yield processes
    for process in processes:
        await process.stop()
        print(f"--- {process.log_file.name} (last lines)\n" + "\n".join(process.output().splitlines()[-40:]))


async def lease_holder(kube: Kube) -> str | None:
    try:
        lease = await kube.get(LEASES, LEASE, "default")
    except NotFound:
        return None
    return (lease.get("spec") or {}).get("holderIdentity")


async def wait_stable(kube: Kube, name: str, namespace: str, timeout: float = 180) -> JSON:
    async def probe() -> JSON | None:
        status = status_of(await get_or_none(kube, FLINK_DEPLOYMENTS, name, namespace))
        return status if status.get("lifecycleState") == "STABLE" else None

    return await eventually(probe, timeout, f"{namespace}/{name} STABLE")


async def test_two_replicas_one_acts_and_the_other_takes_over_without_restarting_the_job(
    kube: Kube, replicas: list[OperatorProcess]
) -> None:
    first, second = replicas
    await first.start()

    async def holder(identity: str) -> bool:
        return await lease_holder(kube) == identity

    await eventually(lambda: holder("flinkop-1"), 60, "the first replica leading")
    await second.start()
    await kube.create(FLINK_DEPLOYMENTS, example(APP, TEAM_A), TEAM_A)
    status = await wait_stable(kube, APP, TEAM_A)
    job_id = status["jobStatus"]["jobId"]
    jobmanagers = await kube.list(PODS, TEAM_A, label_selector=f"app={APP},component=jobmanager")
    pod_uids = {p["metadata"]["uid"] for p in jobmanagers["items"]}
    assert APP in first.output()
    assert APP not in second.output(), "the standby replica reconciled"
    assert await lease_holder(kube) == "flinkop-1"

    await first.kill()
    await eventually(lambda: holder("flinkop-2"), 60, "the second replica taking the Lease")

    async def reconciled_by_second() -> bool:
        return any(APP in line and NOTHING_TO_DO in line for line in second.output().splitlines())

    await eventually(reconciled_by_second, 60, "the new leader finding the deployment fully reconciled")
    after = status_of(await get_or_none(kube, FLINK_DEPLOYMENTS, APP, TEAM_A))
    assert after["jobStatus"]["jobId"] == job_id and after["jobStatus"]["state"] == "RUNNING"
    assert after["lifecycleState"] == "STABLE"
    jobmanagers = await kube.list(PODS, TEAM_A, label_selector=f"app={APP},component=jobmanager")
    assert {p["metadata"]["uid"] for p in jobmanagers["items"]} == pod_uids, "the JobManager was restarted"
    assert not any("Deploying" in line and APP in line for line in second.output().splitlines())


async def test_unwatched_namespaces_are_untouched_until_the_configuration_adds_them(
    kube: Kube, replicas: list[OperatorProcess], conf_dir: Path
) -> None:
    leader = replicas[1]
    assert leader.running
    for namespace in TEAM_A, TEAM_B:
        await kube.create(FLINK_DEPLOYMENTS, session_example(TWIN, namespace), namespace)
    await wait_stable(kube, TWIN, TEAM_A)
    untouched = await get_or_none(kube, FLINK_DEPLOYMENTS, TWIN, TEAM_B)
    assert untouched is not None
    assert not untouched.get("status"), "an unwatched namespace's resource got a status"
    assert not untouched["metadata"].get("finalizers")
    assert not (await kube.list(DEPLOYMENTS, TEAM_B))["items"]
    assert not await events_of(kube, TEAM_B, TWIN)

    # The operator's ConfigMap is patched; the kubelet would refresh the mounted file: the test does.
    document = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flink-operator-config"}}
    document["data"] = {"config.yaml": config_yaml(CONFIG)}
    await kube.create(CONFIGMAPS, document, "default")
    widened = {**CONFIG, "kubernetes.operator.watched.namespaces": f"{TEAM_A},{TEAM_B}"}
    await kube.patch(
        CONFIGMAPS, "flink-operator-config", {"data": {"config.yaml": config_yaml(widened)}}, "default"
    )
    mounted = await kube.get(CONFIGMAPS, "flink-operator-config", "default")
    (conf_dir / "config.yaml").write_text(mounted["data"]["config.yaml"])

    async def logged() -> bool:
        return any(
            "Setting default configuration to {" in line and f"{TEAM_A},{TEAM_B}" in line
            for line in leader.output().splitlines()
        )

    await eventually(logged, 30, "the exact reload line with the new watched namespaces")
    await wait_stable(kube, TWIN, TEAM_B)
    assert leader.running, "the operator restarted on a configuration change"
