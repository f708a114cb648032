"""Sandbox cluster benchmark: pod start latency (create -> Ready, plain image) and a Flink session
cluster cold start (FlinkDeployment applied -> JobManager REST answering), median of N.

Usage: python bench/cluster_bench.py --output .bench/cluster.json [--runs 5]
Needs root (pods get network namespaces) and the Flink images from `make setup`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from flinkop.config.keys import OperatorConfig  # noqa: E402
from flinkop.flink.rest import FlinkRestClient, FlinkUnreachable, RestEndpoint  # noqa: E402
from flinkop.logs import configure_logging  # noqa: E402
from flinkop.operator.app import Operator  # noqa: E402
from flinkop.runtime.client import NotFound, new_api_client  # noqa: E402
from flinkop.runtime.kube import Kube, Resource  # noqa: E402
from flinkop.sandbox.cluster import SandboxCluster  # noqa: E402

PODS = Resource("", "v1", "pods", kind="Pod")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
DEPLOYMENTS = Resource("flink.apache.org", "v1beta1", "flinkdeployments", kind="FlinkDeployment")


def _java_opts() -> str:
    conf = REPO / ".sandbox/images/flink-2.3.0/site/pyflink/conf/config.yaml"
    return str(yaml.safe_load(conf.read_text())["env"]["java"]["opts"]["all"]) if conf.exists() else ""


OPERATOR_CONFIG = {
    "kubernetes.operator.reconcile.interval": "2 s",
    "kubernetes.operator.observer.progress-check.interval": "1 s",
    "kubernetes.operator.observer.rest-ready.delay": "1 s",
    "kubernetes.operator.default-configuration.flink-version.v1_19+.env.java.default-opts.all": _java_opts(),
    "kubernetes.operator.default-configuration.flink-version.v1_19+.env.java.opts.all": (
        "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"
    ),
}


async def _until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s")
        await asyncio.sleep(0.05)


async def pod_start(kube: Kube, index: int) -> float:
    name = f"bench-pod-{index}"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "python:3.11",
                    "command": ["python3", "-c", "import time; time.sleep(600)"],
                }
            ]
        },
    }
    started = time.monotonic()
    await kube.create(PODS, pod)

    async def ready() -> bool:
        status = (await kube.get(PODS, name, "default")).get("status") or {}
        return any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )

    await _until(ready, 60)
    elapsed = time.monotonic() - started
    await kube.delete(PODS, name, "default", grace_period=0)

    async def gone() -> bool:
        try:
            await kube.get(PODS, name, "default")
        except NotFound:
            return True
        return False

    await _until(gone, 60)
    return elapsed


async def session_cold_start(kube: Kube, index: int) -> float:
    name = f"bench-session-{index}"
    deployment = {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "image": "flink:2.3",
            "flinkVersion": "v2_3",
            "serviceAccount": "flink",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
            "jobManager": {"resource": {"memory": "1024m", "cpu": 0.5}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 0.5}},
        },
    }
    started = time.monotonic()
    await kube.create(DEPLOYMENTS, deployment)
    client = FlinkRestClient(RestEndpoint.via_service_proxy(kube, "default", f"{name}-rest", 8081), timeout=2)

    async def answering() -> bool:
        try:
            await client.overview()
        except FlinkUnreachable:
            return False
        return True

    try:
        await _until(answering, 120)
    finally:
        await client.close()
    elapsed = time.monotonic() - started
    await kube.delete(DEPLOYMENTS, name, "default")

    async def gone() -> bool:
        try:
            await kube.get(DEPLOYMENTS, name, "default")
        except NotFound:
            return True
        return False

    await _until(gone, 120)
    return elapsed


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(samples), 3),
        "min_s": round(min(samples), 3),
        "max_s": round(max(samples), 3),
        "samples_s": [round(s, 3) for s in samples],
    }


async def run(runs: int, directory: Path) -> dict[str, Any]:
    async with SandboxCluster(directory) as cluster:
        api_client = await new_api_client(str(cluster.kubeconfig))
        operator_client = await new_api_client(str(cluster.kubeconfig))
        kube = Kube(api_client, field_manager="bench")
        try:
            await kube.create(SERVICE_ACCOUNTS, {"metadata": {"name": "flink"}}, "default")
            pods = [await pod_start(kube, i) for i in range(runs)]
            operator = Operator(
                Kube(operator_client, field_manager="flinkop-operator"),
                OperatorConfig.from_mapping(OPERATOR_CONFIG),
                namespaces=["default"],
                in_cluster=False,
            )
            await operator.start()
            try:
                sessions = [await session_cold_start(kube, i) for i in range(runs)]
            finally:
                await operator.stop()
        finally:
            await api_client.close()
            await operator_client.close()
    return {
        "pod_start_create_to_ready": _summary(pods),
        "flink_session_cold_start_apply_to_rest": _summary(sessions),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=".bench/cluster.json")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default=".bench/cluster")
    args = parser.parse_args()
    configure_logging("WARNING")
    results = asyncio.run(run(args.runs, Path(args.dir)))
    report = {
        "benchmark": "sandbox-cluster",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": args.runs,
        **results,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
