"""A one-node sandbox cluster for kubelet tests: the API server in-process (HTTP on 127.0.0.1, HTTPS on
the pod network's gateway for in-cluster clients), a pod network on its own bridge, the service proxy
and the kubelet. Needs root, network namespaces and mount namespaces: it fails when they are missing."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import config

from flinkop.runtime.client import NotFound
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.sandbox.apiserver.tls import create_serving_certificate
from flinkop.sandbox.images import ImageRegistry
from flinkop.sandbox.kubelet.config import KubeletConfig
from flinkop.sandbox.kubelet.kubelet import Kubelet
from flinkop.sandbox.network import PodNetwork, ServiceProxy
from tests.processes import processes_matching as processes_matching

JSON = dict[str, Any]
PODS = Resource("", "v1", "pods", kind="Pod")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", kind="Secret")
BRIDGE = "fkkubelet0"  # not the default bridge: other suites may run a pod network at the same time
CIDR = "10.247.0.0/16"
API_PORT = 6443
PYTHON_IMAGE = "python:3.11"


@dataclass
class Cluster:
    server: SandboxApiServer
    kube: Kube
    network: PodNetwork
    kubelet: Kubelet
    kubeconfig: Path
    tmp: Path

    async def create_pod(self, name: str, containers: list[JSON], **spec: Any) -> JSON:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 5, **spec},
        }
        return await self.kube.create(PODS, body)

    async def pod(self, name: str) -> JSON | None:
        try:
            return await self.kube.get(PODS, name, "default")
        except NotFound:
            return None

    async def wait_pod(
        self, name: str, check: Callable[[JSON], bool], timeout: float = 20.0, what: str = ""
    ) -> JSON:
        """Poll the pod until `check` holds; fail with the last status seen."""
        deadline = time.monotonic() + timeout
        last: JSON | None = None
        while time.monotonic() < deadline:
            last = await self.pod(name)
            if last is not None and check(last):
                return last
            await asyncio.sleep(0.1)
        status = (last or {}).get("status")
        raise AssertionError(f"pod {name}: {what or 'condition'} not reached in {timeout}s; status: {status}")

    async def wait_gone(self, name: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.pod(name) is None:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"pod {name} still exists after {timeout}s")

    async def until(
        self, probe: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await probe():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{what or 'condition'} not reached in {timeout}s")


def python_container(name: str, script: str, **extra: Any) -> JSON:
    return {"name": name, "image": PYTHON_IMAGE, "command": ["python3", "-u", "-c", script], **extra}


def container_status(pod: JSON, name: str | None = None) -> JSON:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if name is None or status.get("name") == name:
            return dict(status)
    return {}


def condition(pod: JSON, type_: str) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return str(cond.get("status"))
    return None


def running_and_ready(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition(pod, "Ready") == "True"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    PodNetwork.check_available()  # raises, saying what is missing: these tests never skip
    network = PodNetwork(bridge=BRIDGE, cidr=CIDR, state_dir=tmp_path / "network")
    await network.start()
    try:
        cert = create_serving_certificate(
            tmp_path / "pki",
            [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            [network.gateway, "127.0.0.1"],
        )
        server = SandboxApiServer(bookmark_interval=0.5, established_delay=0.02)
        server.add_secure_listener(network.gateway, API_PORT, cert)
        async with server:
            kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
            api_client = await config.new_client_from_config_dict(server.kubeconfig())
            kube = Kube(api_client, field_manager="kubelet-test")
            proxy = ServiceProxy(kube, network, api_server=(network.gateway, API_PORT))
            await proxy.start()
            kubelet = Kubelet(
                kube,
                network,
                ImageRegistry(tmp_path / "images", python=Path(sys.executable)),
                KubeletConfig(
                    state_dir=tmp_path / "kubelet",
                    api_port=API_PORT,
                    ca_file=cert.ca_cert,
                    backoff_base=1.0,
                    backoff_cap=4.0,
                    config_retry=0.3,
                ),
            )
            cluster = Cluster(server, kube, network, kubelet, kubeconfig, tmp_path)
            try:
                await kubelet.start()
                yield cluster
            finally:
                await kubelet.stop()
                await cluster.kubelet.stop()  # a test may have replaced it
                await proxy.stop()
                await api_client.close()
    finally:
        await network.stop()


async def kubectl(cluster: Cluster, *args: str, timeout: float = 20.0) -> tuple[int, str, str]:
    """kubectl against the sandbox API server (asynchronously: the server runs in this event loop)."""
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(cluster.kubeconfig),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return int(process.returncode or 0), out.decode(), err.decode()


async def pod_logs(cluster: Cluster, name: str, *args: str) -> str:
    code, out, err = await kubectl(cluster, "logs", name, *args)
    assert code == 0, f"kubectl logs {name} failed: {err}"
    return out
