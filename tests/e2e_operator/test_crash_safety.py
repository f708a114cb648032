"""The operator dies in the middle of a savepoint upgrade: at each step of it in turn.

The operator runs as its own process (``python -m flinkop.operator --kubeconfig ...``) against the sandbox
cluster with real Flink 2.3 JVMs. For every crash point of the savepoint upgrade (:mod:`flinkop.crashpoints`:
trigger recorded, stop sent, savepoint completed, path recorded, old cluster deleted, new cluster
submitted) the operator is started with ``FLINKOP_CRASH_AT=<point>``, the job's parallelism is changed, the
process dies at that point (exit code 99, as abruptly as a SIGKILL), and a fresh operator process finishes
the upgrade. Each time: the upgrade completes, the job restores from the savepoint this very upgrade took
(never an older one), its counters continue, and nothing is left over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from flinkop.crashpoints import ENV, EXIT_CODE, SAVEPOINT_UPGRADE_POINTS
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.runtime import Kube
from flinkop.sandbox.cluster import SandboxCluster

from .conftest import NS, OPERATOR_CONFIG
from .helpers import SERVICE_ACCOUNTS, get_or_none, status_of
from .processes import OperatorProcess
from .stateful import (
    assert_continued,
    counts_when_every_key_counts,
    jobmanager_log,
    pods_of,
    stateful_app,
    wait_for,
    wait_stable_running,
)

JSON = dict[str, Any]
APP = "crashy"

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def conf_dir(cluster_dir: Path) -> Path:
    directory = cluster_dir / "operator-conf"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in OPERATOR_CONFIG.items()))
    return directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def operators(
    cluster: SandboxCluster, conf_dir: Path, cluster_dir: Path
) -> AsyncIterator[list[OperatorProcess]]:
    """Every operator process started by the module (the last one is stopped at the end)."""
    started: list[OperatorProcess] = []
    yield started
    for process in started:
        await process.stop()


async def start_operator(
    cluster: SandboxCluster, conf_dir: Path, operators: list[OperatorProcess], crash_at: str | None = None
) -> OperatorProcess:
    for running in operators:
        await running.stop()  # one operator at a time
    env = {ENV: crash_at} if crash_at else {}
    process = OperatorProcess(
        cluster.kubeconfig, conf_dir, conf_dir.parent / f"operator-{len(operators)}.log", env
    )
    await process.start()
    operators.append(process)
    return process


async def test_the_application_runs_with_a_savepoint_upgrade_mode(
    cluster: SandboxCluster, kube: Kube, conf_dir: Path, data_dir: Path, operators: list[OperatorProcess]
) -> None:
    await kube.create(
        SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flink"}}, NS
    )
    await start_operator(cluster, conf_dir, operators)
    await kube.create(FLINK_DEPLOYMENTS, stateful_app(APP, NS, data_dir, upgrade_mode="savepoint"), NS)
    await wait_stable_running(kube, NS, APP)


@pytest.mark.parametrize("point", SAVEPOINT_UPGRADE_POINTS)
async def test_the_operator_killed_during_a_savepoint_upgrade_finishes_it_after_a_restart(
    cluster: SandboxCluster,
    kube: Kube,
    conf_dir: Path,
    data_dir: Path,
    operators: list[OperatorProcess],
    point: str,
) -> None:
    obj = await get_or_none(kube, FLINK_DEPLOYMENTS, APP, NS)
    assert obj is not None
    old = status_of(obj)
    parallelism = 2 if obj["spec"]["job"]["parallelism"] == 1 else 1
    generation = int(obj["metadata"]["generation"]) + 1
    _, before = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, APP, at_least=5)

    crashing = await start_operator(cluster, conf_dir, operators, crash_at=point)
    await kube.patch(FLINK_DEPLOYMENTS, APP, {"spec": {"job": {"parallelism": parallelism}}}, NS)
    code = await crashing.wait(180)
    assert code == EXIT_CODE, (
        f"the operator did not die at {point} (exit {code}):\n{crashing.output()[-3000:]}"
    )
    assert "crash point reached" in crashing.output() and point in crashing.output()

    await start_operator(cluster, conf_dir, operators)
    upgraded = status_of(
        await wait_for(
            kube,
            NS,
            APP,
            240,
            f"the upgrade finished after a crash at {point}",
            lifecycleState="STABLE",
            jobStatus__state="RUNNING",
            observedGeneration=generation,
        )
    )
    savepoint = upgraded["jobStatus"]["upgradeSavepointPath"]
    assert savepoint and savepoint != old["jobStatus"].get("upgradeSavepointPath"), "no new savepoint"
    info = upgraded["jobStatus"].get("savepointInfo") or {}
    assert not info.get("triggerId"), f"the upgrade trigger was left pending: {info}"
    log = await jobmanager_log(cluster.kubeconfig, kube, NS, APP)
    assert f"Starting job {upgraded['jobStatus']['jobId']} from savepoint {savepoint}" in log
    first, _ = await counts_when_every_key_counts(cluster.kubeconfig, kube, NS, APP)
    assert_continued(before, first, f"upgrade with a crash at {point}")
    assert len(await pods_of(kube, NS, APP, "jobmanager")) == 1
    spec = (await get_or_none(kube, FLINK_DEPLOYMENTS, APP, NS) or {})["spec"]
    assert spec["job"]["parallelism"] == parallelism
