"""A real Prometheus server (the Debian ``prometheus`` binary) scrapes the operator's endpoint, fed by real
informers over the sandbox API server; its query API returns the FlinkDeployment count and lifecycle series.

CI must have the binary (``apt-get install -y prometheus``): the test fails, never skips, without it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from flinkop.api.enums import FlinkJobState, JobManagerDeploymentStatus, ResourceLifecycleState
from flinkop.config import OperatorConfig
from flinkop.metrics import Naming, start_metrics
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.runtime import Controller, Kube, Manager, Result

from .conftest import eventually, free_port, put_deployment, set_lifecycle
from .helpers import deployment

JSON = dict[str, Any]


@pytest.fixture
async def prometheus_server(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    """Yields (Prometheus' port, its config file); the test writes the config before the first reload."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus binary is missing: apt-get install -y prometheus (CI's .ci/run must too)")
    yield free_port(), tmp_path


async def run_prometheus(tmp_path: Path, port: int, target_port: int) -> asyncio.subprocess.Process:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: flinkop\n"
        "    scrape_interval: 1s\n"
        "    scrape_timeout: 900ms\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    return await asyncio.create_subprocess_exec(
        str(shutil.which("prometheus")),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=log,
        stderr=log,
    )


async def query(session: aiohttp.ClientSession, port: int, promql: str) -> list[JSON]:
    async with session.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": promql}) as response:
        body = await response.json()
    assert body["status"] == "success", body
    result: list[JSON] = body["data"]["result"]
    return result


async def test_prometheus_scrapes_resource_metrics(kube: Kube, prometheus_server: tuple[int, Path]) -> None:
    prom_port, tmp_path = prometheus_server
    metrics_port = free_port()
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.metrics.reporter.prom.factory.class": (
                "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
            ),
            "kubernetes.operator.metrics.reporter.prom.port": str(metrics_port),
            "kubernetes.operator.metrics.reporter.prom.host": "127.0.0.1",
        }
    )
    manager = Manager(kube)
    informer = manager.informers.informer(FLINK_DEPLOYMENTS, ["default", "team-a"])

    async def reconcile(key: str) -> Result:
        return Result()

    controller = manager.add(Controller("flinkdeployment", reconcile))
    controller.watch(informer)
    operator = SimpleNamespace(
        config=config, kube=kube, deployments=informer, controller=controller, manager=manager
    )
    handle = await start_metrics(operator, naming=Naming(host="pytest", namespace="flink-operator"))
    assert handle.prometheus_port == metrics_port
    await put_deployment(kube, deployment("stable-app", "default", lifecycle=ResourceLifecycleState.STABLE))
    await put_deployment(
        kube,
        deployment(
            "new-app",
            "default",
            lifecycle=ResourceLifecycleState.DEPLOYED,
            jm=JobManagerDeploymentStatus.DEPLOYED_NOT_READY,
            job=FlinkJobState.CREATED,
            cluster_info={"flink-version": "1.20.1"},
        ),
    )
    await manager.start()
    process = await run_prometheus(tmp_path, prom_port, metrics_port)
    try:
        async with aiohttp.ClientSession() as session:

            async def count() -> list[JSON]:
                return await query(
                    session, prom_port, 'flink_k8soperator_namespace_Count{resourcetype="FlinkDeployment"}'
                )

            found = await eventually(count, 60, "the FlinkDeployment count in Prometheus")
            assert len(found) == 1
            series = found[0]["metric"]
            assert series["resourcens"] == "default"
            assert series["host"] == "pytest"
            assert series["namespace"] == "flink-operator"
            assert series["name"] == "flink-kubernetes-operator"
            assert found[0]["value"][1] == "2"

            stable = await query(
                session,
                prom_port,
                'flink_k8soperator_namespace_Lifecycle_State_STABLE_Count{resourcens="default"}',
            )
            assert [s["value"][1] for s in stable] == ["1"]

            # the deployed one becomes STABLE: a transition Prometheus sees on a later scrape
            await set_lifecycle(kube, "new-app", "default", ResourceLifecycleState.STABLE)

            async def two_stable() -> bool:
                rows = await query(
                    session,
                    prom_port,
                    'flink_k8soperator_namespace_Lifecycle_State_STABLE_Count{resourcens="default"} == 2',
                )
                return bool(rows)

            await eventually(two_stable, 30, "two STABLE deployments in Prometheus")
            stabilization = await eventually(
                lambda: query(
                    session,
                    prom_port,
                    "flink_k8soperator_FlinkDeployment_Lifecycle_Transition_Stabilization_TimeSeconds_count",
                ),
                30,
                "the Stabilization transition histogram",
            )
            assert stabilization[0]["value"][1] == "1"
            version = await query(
                session, prom_port, 'flink_k8soperator_namespace_FlinkVersion_Count{FlinkVersion="1.20.1"}'
            )
            assert [s["value"][1] for s in version] == ["1"]
            requests = await query(session, prom_port, "flink_k8soperator_KubeClient_HttpRequest_Count")
            assert float(requests[0]["value"][1]) >= 1
            process_metrics = await query(session, prom_port, "process_resident_memory_bytes")
            assert float(process_metrics[0]["value"][1]) > 0
            leader = await query(session, prom_port, "flink_k8soperator_Leader_IsLeader")
            assert leader[0]["value"][1] == "1"
    finally:
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()
                await process.wait()
        await handle.stop()
        await manager.stop()
