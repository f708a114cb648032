"""The Operator starts its metrics endpoint and health probe from its configuration (sandbox API server
only, no kubelet), and stops them with itself."""

from __future__ import annotations

import aiohttp

from flinkop.config import OperatorConfig
from flinkop.operator.app import Operator
from flinkop.runtime import Kube

from .conftest import eventually, free_port, put_deployment
from .helpers import deployment


async def test_operator_exposes_metrics_and_health(kube: Kube) -> None:
    metrics_port, health_port = free_port(), free_port()
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.reconcile.interval": "1 s",
            "kubernetes.operator.metrics.reporter.prom.port": str(metrics_port),
            "kubernetes.operator.metrics.reporter.prom.host": "127.0.0.1",
            "kubernetes.operator.health.probe.port": str(health_port),
        }
    )
    operator = Operator(kube, config, namespaces=["default"], in_cluster=False, poll_interval=0.1)
    await operator.start()
    health = operator.health
    assert health is not None and health.port == health_port
    assert operator.metrics is not None
    try:
        await put_deployment(kube, deployment("wired", "default", lifecycle=None))
        async with aiohttp.ClientSession() as session:

            async def scraped() -> str | None:
                async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
                    text = await response.text()
                wanted = (
                    'name="flink-kubernetes-operator",namespace="default",resourcens="default",'
                    'resourcetype="FlinkDeployment"} 1.0',
                    "flink_k8soperator_namespace_resource_JOSDK_Reconciliation_Count{",
                    "flink_k8soperator_namespace_JOSDK_reconcile_",
                    "flink_k8soperator_WorkQueue_flinkdeployment_Depth{",
                    "flink_k8soperator_KubeClient_HttpResponse_TimeNanos_count{",
                )
                return text if all(w in text for w in wanted) else None

            text = await eventually(scraped, 20, "operator metrics on the endpoint")
            assert "flink_k8soperator_namespace_Lifecycle_State_" in text

            async def healthy() -> bool:
                async with session.get(f"http://127.0.0.1:{health.port}/") as response:
                    return response.status == 200 and await response.text() == "OK"

            await eventually(healthy, 10, "the health probe to answer OK")
    finally:
        await operator.stop()
    assert operator.health is None and operator.metrics is None
    assert operator.controller.key_observer is None  # hooks restored
    assert operator.controller.queue_metrics is None
