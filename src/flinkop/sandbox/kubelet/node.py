"""The node: registration of Node "sandbox" (labels, addresses, capacity, conditions, the kubelet
endpoint, nodeInfo), its heartbeat Lease in kube-node-lease, and periodic status updates."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import platform
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from flinkop import __version__
from flinkop.runtime.client import ApiError, Conflict, NotFound
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.kubelet.status import now

JSON = dict[str, Any]
NODES = Resource("", "v1", "nodes", namespaced=False, kind="Node")
LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
LEASE_NAMESPACE = "kube-node-lease"
KUBELET_VERSION = "v1.31.0-sandbox"
MAX_PODS = 110
log = structlog.get_logger("flinkop.sandbox.kubelet.node")


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _memory_bytes() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _read(path: str) -> str:
    with contextlib.suppress(OSError):
        return Path(path).read_text().strip()
    return ""


def host_allocatable(state_dir: Path) -> dict[str, Decimal]:
    """What the host offers: CPUs, memory and the disk under the state directory."""
    disk = shutil.disk_usage(state_dir if state_dir.exists() else Path("/"))
    return {
        "cpu": Decimal(os.cpu_count() or 1),
        "memory": Decimal(_memory_bytes()),
        "ephemeral-storage": Decimal(disk.total),
        "pods": Decimal(MAX_PODS),
    }


def _quantities(resources: dict[str, Decimal]) -> dict[str, str]:
    out = {}
    for name, value in resources.items():
        if name in ("memory", "ephemeral-storage"):
            out[name] = f"{int(value) // 1024}Ki"
        else:
            out[name] = str(int(value))
    return out


def _microtime() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeAgent:
    def __init__(
        self,
        kube: Kube,
        name: str,
        address: str,
        *,
        kubelet_port: int,
        allocatable: dict[str, Decimal],
        pod_cidr: str | None = None,
        heartbeat_interval: float = 10.0,
        status_interval: float = 60.0,
        lease_duration: int = 40,
    ) -> None:
        self.kube = kube
        self.name = name
        self.address = address
        self.kubelet_port = kubelet_port
        self.allocatable = allocatable
        self.pod_cidr = pod_cidr
        self.heartbeat_interval = heartbeat_interval
        self.status_interval = status_interval
        self.lease_duration = lease_duration
        self._task: asyncio.Task[None] | None = None
        self._transitions: dict[str, str] = {}
        self.log = log.bind(node=name)

    # -- the Node object -----------------------------------------------------------------------------
    def node(self) -> JSON:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": _arch(),
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": _arch(),
            "node.kubernetes.io/instance-type": "sandbox",
        }
        spec: JSON = {}
        if self.pod_cidr:
            spec = {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": spec,
        }

    def _condition(self, type_: str, status: str, reason: str, message: str) -> JSON:
        heartbeat = now()
        since = self._transitions.setdefault(f"{type_}={status}", heartbeat)
        return {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": since,
        }

    def status(self) -> JSON:
        resources = _quantities(self.allocatable)
        uname = platform.uname()
        return {
            "addresses": [
                {"type": "InternalIP", "address": self.address},
                {"type": "Hostname", "address": self.name},
            ],
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                self._condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                self._condition(
                    "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
                ),
                self._condition(
                    "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"
                ),
                self._condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {
                "machineID": _read("/etc/machine-id"),
                "systemUUID": _read("/sys/class/dmi/id/product_uuid"),
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": uname.release,
                "osImage": _os_image(),
                "containerRuntimeVersion": f"sandbox://{__version__}",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION,
                "operatingSystem": "linux",
                "architecture": _arch(),
            },
        }

    async def register(self) -> None:
        """Create the Node (or take over an existing one) and write its status."""
        try:
            await self.kube.create(NODES, self.node())
            self.log.info("node registered")
        except Conflict:
            await self.kube.patch(
                NODES, self.name, {"metadata": {"labels": self.node()["metadata"]["labels"]}}
            )
        await self.update_status()
        await self.renew_lease()

    async def update_status(self) -> None:
        await self.kube.patch(NODES, self.name, {"status": self.status()}, subresource="status")

    # -- the heartbeat -------------------------------------------------------------------------------
    async def renew_lease(self) -> None:
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": self.lease_duration,
            "renewTime": _microtime(),
        }
        try:
            lease = await self.kube.get(LEASES, self.name, LEASE_NAMESPACE)
        except NotFound:
            node = await self.kube.get(NODES, self.name)
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node["metadata"]["uid"]}
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE, "ownerReferences": [owner]},
                "spec": spec,
            }
            await self.kube.create(LEASES, body)
            return
        lease["spec"] = {**(lease.get("spec") or {}), **spec}
        await self.kube.replace(LEASES, lease)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._heartbeat(), name="node heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _heartbeat(self) -> None:
        since_status = 0.0
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            since_status += self.heartbeat_interval
            try:
                await self.renew_lease()
                if since_status >= self.status_interval:
                    since_status = 0.0
                    await self.update_status()
            except NotFound:  # the Node was deleted: register again, as the kubelet does
                with contextlib.suppress(ApiError):
                    await self.register()
            except ApiError as exc:
                self.log.warning("node heartbeat failed", error=str(exc))


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"
