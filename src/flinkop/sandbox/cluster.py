"""`flinkop sandbox up`: the whole sandbox cluster in one process — API server, controller
manager, pod network with the service proxy, and the kubelet — until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import structlog
import yaml

from flinkop.runtime.client import new_api_client
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.sandbox.apiserver.tls import create_serving_certificate
from flinkop.sandbox.controllers.manager import ControllerManager
from flinkop.sandbox.images import ImageRegistry
from flinkop.sandbox.kubelet.config import KubeletConfig
from flinkop.sandbox.kubelet.kubelet import Kubelet
from flinkop.sandbox.network import PodNetwork, ServiceProxy

log = structlog.get_logger("flinkop.sandbox")
REPO = Path(__file__).resolve().parents[3]
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
SECURE_PORT = 6443
# Names in-cluster clients may use for the API server (the `kubernetes` Service's names and IP).
API_NAMES = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
]


@dataclass
class SandboxCluster:
    directory: Path
    port: int = 0
    images_root: Path = field(default_factory=lambda: REPO / ".sandbox" / "images")
    crds_dir: Path | None = field(default_factory=lambda: REPO / "deploy" / "crds")
    bridge: str = "flinkop0"
    cidr: str = "10.244.0.0/16"
    stub_images: tuple[str, ...] = ()  # benchmark mode of the kubelet (kubelet/stub.py); off by default

    def __post_init__(self) -> None:
        self.directory = self.directory.resolve()
        self.kubeconfig = self.directory / "kubeconfig"
        self._stack = contextlib.AsyncExitStack()
        self.apiserver: SandboxApiServer | None = None
        self.network: PodNetwork | None = None
        self.kubelet: Kubelet | None = None

    async def start(self) -> SandboxCluster:
        PodNetwork.check_available()
        self.directory.mkdir(parents=True, exist_ok=True)
        await self._take_machine_lock()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _take_machine_lock(self, timeout: float = 900.0) -> None:
        """One sandbox cluster per machine: Service cluster IPs (10.96.0.0/12) are bound on the host,
        so a second cluster would steal the first one's traffic. A second one waits its turn."""
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = asyncio.get_running_loop().time() + timeout
        waited = False
        while True:
            try:
                lock.bind("\0flinkop-sandbox-cluster")  # abstract: no file, released when the process dies
                break
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    lock.close()
                    raise RuntimeError("another sandbox cluster is running on this machine") from None
                if not waited:
                    log.info("waiting for another sandbox cluster on this machine to stop")
                    waited = True
                await asyncio.sleep(0.5)
        self._stack.callback(lock.close)

    async def _start(self) -> None:
        stack = self._stack
        network = PodNetwork(bridge=self.bridge, cidr=self.cidr, state_dir=self.directory / "network")
        await network.start()
        stack.push_async_callback(network.stop)
        self.network = network
        pki = create_serving_certificate(
            self.directory / "pki", API_NAMES, ["127.0.0.1", network.gateway, "10.96.0.1"]
        )
        apiserver = SandboxApiServer("127.0.0.1", self.port, history_size=10000, bookmark_interval=30.0)
        apiserver.add_secure_listener(network.gateway, SECURE_PORT, pki)
        await apiserver.start()
        stack.push_async_callback(apiserver.stop)
        self.apiserver = apiserver
        apiserver.write_kubeconfig(self.kubeconfig)

        api_client = await new_api_client(apiserver.kubeconfig())
        stack.push_async_callback(api_client.close)
        kube = Kube(api_client, field_manager="flinkop-sandbox")
        await self._install_crds(kube)

        controllers = ControllerManager(kube)
        await controllers.start()
        stack.push_async_callback(controllers.stop)
        proxy = ServiceProxy(kube, network, api_server=(network.gateway, SECURE_PORT))
        await proxy.start()
        stack.push_async_callback(proxy.stop)
        kubelet = Kubelet(
            kube,
            network,
            ImageRegistry(self.images_root),
            KubeletConfig(
                state_dir=self.directory / "kubelet",
                ca_file=pki.ca_cert,
                api_port=SECURE_PORT,
                stub_images=self.stub_images,
            ),
        )
        await kubelet.start()
        stack.push_async_callback(kubelet.stop)
        self.kubelet = kubelet
        log.info(
            "sandbox cluster ready", kubeconfig=str(self.kubeconfig), api=apiserver.url, pod_network=self.cidr
        )

    async def _install_crds(self, kube: Kube) -> None:
        if self.crds_dir is None or not self.crds_dir.is_dir():
            return
        for path in sorted(self.crds_dir.glob("*.y*ml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    await kube.create(CRDS, doc)

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> SandboxCluster:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def run_until_signalled(cluster: SandboxCluster) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with cluster:
        print(f"sandbox up: export KUBECONFIG={cluster.kubeconfig}", flush=True)
        await stop.wait()
    log.info("sandbox cluster stopped")
