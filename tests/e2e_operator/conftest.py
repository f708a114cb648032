"""Fixtures shared by the operator end-to-end modules on the sandbox cluster: one cluster per module (real
Flink JVMs), the operator in the test process running from *outside* the cluster (a kubeconfig; the
JobManager REST APIs through the API server's service proxy), its log lines, and the FlinkDeployments'
status history. Request them from a module marked ``pytest.mark.asyncio(loop_scope="module")``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog
import yaml

from flinkop.config import OperatorConfig
from flinkop.operator.app import Operator
from flinkop.runtime import Kube, new_api_client
from flinkop.sandbox.cluster import SandboxCluster
from flinkop.sandbox.network import PodNetwork

from .helpers import REPO, SERVICE_ACCOUNTS, History, LogCapture, capture_logs, watch_history

NS = "default"
FAST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"


def _java_opts() -> str:
    """The JVM options the Flink image ships in its config.yaml (Java 17 module opens), which the operator
    passes on as upstream's Helm chart does (``env.java.default-opts.all`` for Flink 1.19+)."""
    conf = REPO / ".sandbox/images/flink-2.3.0/site/pyflink/conf/config.yaml"
    if not conf.exists():
        return ""
    return str(yaml.safe_load(conf.read_text())["env"]["java"]["opts"]["all"])


OPERATOR_CONFIG = {
    "kubernetes.operator.reconcile.interval": "2 s",
    "kubernetes.operator.observer.progress-check.interval": "1 s",
    "kubernetes.operator.observer.rest-ready.delay": "1 s",
    "kubernetes.operator.flink.client.timeout": "5 s",
    "kubernetes.operator.resource.cleanup.timeout": "90 s",
    # several operators (in this process and as child processes) may run at once: any free port
    "kubernetes.operator.health.probe.port": "0",
    "kubernetes.operator.default-configuration.flink-version.v1_19+.env.java.default-opts.all": _java_opts(),
    "kubernetes.operator.default-configuration.flink-version.v1_19+.env.java.opts.all": FAST_JVM,
}


@pytest.fixture(scope="module")
def cluster_dir(request: pytest.FixtureRequest) -> Any:
    # The sandbox needs root and network namespaces; a machine without them fails loudly, never skips.
    assert os.geteuid() == 0, "the sandbox cluster needs root (network and mount namespaces)"
    PodNetwork.check_available()
    module = request.module.__name__.rpartition(".")[2].removeprefix("test_").replace("_", "-")
    directory = Path(f"/tmp/flinkop-e2e-{module}-{os.getpid()}")
    shutil.rmtree(directory, ignore_errors=True)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def data_dir(cluster_dir: Path) -> Path:
    """The host directory stateful tests mount into their Flink pods (checkpoints, savepoints, HA)."""
    directory = cluster_dir / "flink-data"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(cluster_dir: Path) -> AsyncIterator[SandboxCluster]:
    # Our own bridge and pod range, as other suites may run a sandbox at the same time. (Service cluster
    # IPs still come from one range in every sandbox: two sandboxes at once fight over them.)
    async with SandboxCluster(cluster_dir, bridge="fkop0", cidr="10.249.0.0/16") as sandbox:
        yield sandbox


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kube(cluster: SandboxCluster) -> AsyncIterator[Kube]:
    api_client = await new_api_client(str(cluster.kubeconfig))  # http://127.0.0.1: outside the cluster
    try:
        yield Kube(api_client, field_manager="e2e-user")
    finally:
        await api_client.close()


@pytest.fixture(scope="module")
def logs() -> Any:
    capture = capture_logs()
    yield capture
    structlog.reset_defaults()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def operator(cluster: SandboxCluster, kube: Kube, logs: LogCapture) -> AsyncIterator[Operator]:
    await kube.create(
        SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flink"}}, NS
    )
    api_client = await new_api_client(str(cluster.kubeconfig))
    op = Operator(
        Kube(api_client, field_manager="flinkop-operator"),
        OperatorConfig.from_mapping(OPERATOR_CONFIG),
        namespaces=[NS],
        in_cluster=False,
        poll_interval=0.25,
    )
    await op.start()
    try:
        yield op
    finally:
        await op.stop()
        await api_client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def history(kube: Kube, operator: Operator) -> AsyncIterator[History]:
    recorded = History()
    task = asyncio.get_running_loop().create_task(watch_history(kube, NS, recorded))
    yield recorded
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
