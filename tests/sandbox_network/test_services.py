"""The service proxy against the in-process sandbox API server: cluster IPs, hosts-file names,
forwarding to endpoints (changes, round robin, none), headless services, the `kubernetes` service."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from flinkop.runtime.kube import Kube
from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.sandbox.network import PodNetwork, ServiceProxy
from flinkop.sandbox.network.proxy import ENDPOINTS, SERVICES
from tests.sandbox_network.support import (
    COUNT_SERVER,
    PY,
    RESOLVER,
    PodProcess,
    eventually,
    fetch_from_host,
    fetch_in_pod,
    http_server,
    in_pod,
    inet_addresses,
    run,
)

JSON = dict[str, Any]
# Explicit cluster IPs, distinct per process: this machine may run a sandbox or other tests meanwhile.
IP_BASE = f"10.96.{200 + os.getpid() % 50}"


def service(name: str, ports: list[JSON], cluster_ip: str, namespace: str = "default") -> JSON:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"clusterIP": cluster_ip, "ports": ports, "selector": {"app": name}},
    }


def endpoints(name: str, addresses: list[JSON], ports: list[JSON], namespace: str = "default") -> JSON:
    subsets = [{"addresses": addresses, "ports": ports}] if addresses else []
    return {"metadata": {"name": name, "namespace": namespace}, "subsets": subsets}


async def set_endpoints(kube: Kube, name: str, addresses: list[JSON], ports: list[JSON]) -> None:
    current = await kube.get(ENDPOINTS, name, "default")
    current["subsets"] = endpoints(name, addresses, ports)["subsets"]
    await kube.replace(ENDPOINTS, current)


@pytest.fixture
async def proxy(
    apiserver: SandboxApiServer, api: client.ApiClient, network: PodNetwork
) -> AsyncIterator[ServiceProxy]:
    service_proxy = ServiceProxy(Kube(api), network, api_server=("127.0.0.1", apiserver.port))
    await service_proxy.start()
    try:
        yield service_proxy
    finally:
        await service_proxy.stop()


async def connect_count(address: str, port: int, payload: bytes) -> str:
    """Send `payload`, half-close, read the answer to EOF (the backend answers only after our EOF)."""
    reader, writer = await asyncio.open_connection(address, port)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        return (await asyncio.wait_for(reader.read(), 20)).decode()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_service_names_and_forwarding(
    api: client.ApiClient, network: PodNetwork, proxy: ServiceProxy, tmp_path: Path
) -> None:
    kube = Kube(api)
    a = await network.add_pod("a0000001-0000", "default", "pod-a")
    b = await network.add_pod("b0000002-0000", "default", "pod-b")
    c = await network.add_pod("c0000003-0000", "team", "pod-c")
    web_ip = f"{IP_BASE}.10"
    http = [{"name": "http", "port": 8000}]
    processes: list[PodProcess] = []
    try:
        processes += [
            await http_server(network, a, tmp_path / "a"),
            await http_server(network, b, tmp_path / "b"),
        ]
        # the kubernetes service is there from the start and forwards to the API server
        assert ("10.96.0.1", 443) in proxy.listening()
        assert (
            "10.96.0.1\tkubernetes.default.svc.cluster.local kubernetes.default.svc"
            in c.hosts_file.read_text()
        )
        assert '"gitVersion"' in await fetch_in_pod(network, c, "http://kubernetes.default.svc:443/version")

        resolver = await PodProcess.start(network, b, PY, "-c", RESOLVER)  # running before the Service
        processes.append(resolver)
        inode = b.hosts_file.stat().st_ino
        assert (await resolver.ask("web.default.svc.cluster.local")).startswith("ERR")

        await kube.create(
            SERVICES, service("web", [{"name": "http", "port": 80, "targetPort": 8000}], web_ip)
        )
        await kube.create(ENDPOINTS, endpoints("web", [{"ip": a.ip}], http))

        async def host_reaches(who: str) -> None:
            assert await fetch_from_host(f"http://{web_ip}/who") == who

        await eventually(lambda: host_reaches("pod-a"))
        assert f"{web_ip}/32" in await inet_addresses(network.bridge)

        async def resolver_sees_service() -> None:
            assert await resolver.ask("web.default.svc.cluster.local") == web_ip

        await eventually(resolver_sees_service)  # through its bind mount: rewritten in place
        assert b.hosts_file.stat().st_ino == inode

        for name in ("web.default.svc.cluster.local", "web.default.svc", "web.default", "web"):
            got = await in_pod(network, b, PY, "-c", f"import socket; print(socket.gethostbyname({name!r}))")
            assert got.stdout.strip() == web_ip, (name, got)
        getent = await in_pod(network, b, "getent", "hosts", "web.default.svc.cluster.local")
        assert getent.stdout.split()[0] == web_ip
        # another namespace: qualified names only
        assert (await in_pod(network, c, "getent", "hosts", "web.default")).stdout.split()[0] == web_ip
        assert (await in_pod(network, c, "getent", "hosts", "web")).returncode == 2

        assert await fetch_in_pod(network, b, "http://web.default.svc.cluster.local/who") == "pod-a"
        assert await fetch_in_pod(network, a, "http://web/who") == "pod-a"  # a pod reaching itself
        assert await fetch_in_pod(network, c, f"http://{web_ip}:80/who") == "pod-a"

        # endpoints change -> traffic moves
        await set_endpoints(kube, "web", [{"ip": b.ip}], http)
        await eventually(lambda: host_reaches("pod-b"))
        assert proxy.backends("default", "web", "http") == [(b.ip, 8000)]

        # two endpoints: round robin
        await set_endpoints(kube, "web", [{"ip": a.ip}, {"ip": b.ip}], http)

        async def both_serve() -> None:
            seen = {await fetch_from_host(f"http://{web_ip}/who") for _ in range(4)}
            assert seen == {"pod-a", "pod-b"}

        await eventually(both_serve)

        # no ready endpoint (not-ready addresses do not count): connections are reset at once
        current = await kube.get(ENDPOINTS, "web", "default")
        current["subsets"] = [{"notReadyAddresses": [{"ip": a.ip}], "ports": http}]
        await kube.replace(ENDPOINTS, current)
        await eventually(lambda: _reset(f"http://{web_ip}/who"))
        assert (await fetch_in_pod(network, b, "http://web/who")).startswith("ERR")

        # headless: names resolve straight to the ready pod IPs, with per-pod hostnames
        await kube.create(SERVICES, service("db", [{"port": 5432}], "None"))
        await kube.create(
            ENDPOINTS,
            {
                "metadata": {"name": "db", "namespace": "default"},
                "subsets": [
                    {
                        "addresses": [{"ip": a.ip, "hostname": "db-0"}, {"ip": b.ip, "hostname": "db-1"}],
                        "notReadyAddresses": [{"ip": c.ip, "hostname": "db-2"}],
                        "ports": [{"port": 5432}],
                    }
                ],
            },
        )

        async def headless_resolves() -> None:
            got = await in_pod(network, c, "getent", "ahostsv4", "db.default.svc.cluster.local")
            assert {line.split()[0] for line in got.stdout.splitlines()} == {a.ip, b.ip}

        await eventually(headless_resolves)
        assert (await in_pod(network, c, "getent", "hosts", "db-1.db.default.svc")).stdout.split()[0] == b.ip
        assert (await in_pod(network, a, "getent", "hosts", "db-0.db")).stdout.split()[0] == a.ip
        assert (await in_pod(network, a, "getent", "hosts", "db-2.db")).returncode == 2
        assert not any(address.startswith(IP_BASE) and port == 5432 for address, port in proxy.listening())

        # service deleted -> address, listener and names go
        await kube.delete(SERVICES, "web", "default")

        async def web_gone() -> None:
            assert f"{web_ip}/32" not in await inet_addresses(network.bridge)
            assert (web_ip, 80) not in proxy.listening()
            assert "web.default" not in b.hosts_file.read_text()

        await eventually(web_gone)
        assert (await resolver.ask("web.default.svc.cluster.local")).startswith("ERR")
        assert b.hosts_file.stat().st_ino == inode
    finally:
        for process in processes:
            await process.stop()


async def _reset(url: str) -> None:
    answer = await fetch_from_host(url)
    assert answer.startswith("ERR") and ("reset" in answer or "RemoteDisconnected" in answer), answer


async def test_streaming_half_close_and_named_ports(
    api: client.ApiClient, network: PodNetwork, proxy: ServiceProxy, tmp_path: Path
) -> None:
    kube = Kube(api)
    a = await network.add_pod("a1000001-0000", "default", "pod-a")
    b = await network.add_pod("b1000002-0000", "default", "pod-b")
    multi_ip = f"{IP_BASE}.20"
    ports = [
        {"name": "http", "port": 80, "targetPort": 8000},
        {"name": "count", "port": 9000, "targetPort": "count"},
    ]
    processes: list[PodProcess] = []
    try:
        processes.append(await http_server(network, a, tmp_path / "a"))
        processes.append(await PodProcess.start(network, a, PY, "-c", COUNT_SERVER, "9100", "pod-a"))
        await kube.create(SERVICES, service("multi", ports, multi_ip))
        await kube.create(
            ENDPOINTS,
            endpoints(
                "multi", [{"ip": a.ip}], [{"name": "count", "port": 9100}, {"name": "http", "port": 8000}]
            ),
        )

        async def ready() -> None:
            assert await fetch_from_host(f"http://{multi_ip}/who") == "pod-a"

        await eventually(ready)
        payload = os.urandom(4 * 1024 * 1024)
        answers = await asyncio.gather(*(connect_count(multi_ip, 9000, payload) for _ in range(3)))
        assert answers == [f"pod-a {len(payload)}"] * 3
        # from a pod, by name
        script = (
            "import socket; s = socket.create_connection(('multi', 9000)); s.sendall(b'x' * 100000); "
            "s.shutdown(socket.SHUT_WR); print(s.makefile('rb').read().decode())"
        )
        got = await in_pod(network, b, PY, "-c", script)
        assert got.stdout.strip() == "pod-a 100000", got.stderr
        # a dead endpoint next to a live one: connections skip it
        await set_endpoints(
            kube,
            "multi",
            [{"ip": b.ip}, {"ip": a.ip}],
            [{"name": "count", "port": 9100}, {"name": "http", "port": 8000}],
        )
        await eventually(lambda: _backends(proxy, [(b.ip, 9100), (a.ip, 9100)]))
        for _ in range(3):
            assert await connect_count(multi_ip, 9000, b"abc") == "pod-a 3"
    finally:
        for process in processes:
            await process.stop()

    await proxy.stop()  # also the fixture's stop: idempotent
    assert await inet_addresses(network.bridge) == {f"{network.gateway}/{network.network.prefixlen}"}
    assert "kubernetes.default" not in a.hosts_file.read_text()
    assert f"{a.ip}\tpod-a" in a.hosts_file.read_text()


async def _backends(proxy: ServiceProxy, expected: list[tuple[str, int]]) -> None:
    assert proxy.backends("default", "multi", "count") == expected


@pytest.mark.slow
async def test_jvm_resolves_through_the_hosts_file(network: PodNetwork, tmp_path: Path) -> None:
    """The JVM's resolver (getaddrinfo through nsswitch `hosts: files`) sees the pod's hosts file, and
    with its own UTS namespace `InetAddress.getLocalHost()` is the pod."""
    source = tmp_path / "Resolve.java"
    source.write_text(
        "import java.net.*;"
        " public class Resolve { public static void main(String[] a) throws Exception { for (String n : a) {"
        " try { System.out.println(InetAddress.getByName(n).getHostAddress()); }"
        ' catch (UnknownHostException e) { System.out.println("unknown"); } }'
        " System.out.println(InetAddress.getLocalHost().getHostAddress()); } }"
    )
    pod = await network.add_pod("f0000001-0000", "default", "jvm-pod")
    network.set_hosts_provider(
        lambda _sb: [
            ("10.96.7.7", ["web.default.svc.cluster.local", "web.default.svc", "web.default", "web"])
        ]
    )
    network.refresh_hosts()
    names = ["web.default.svc.cluster.local", "web", "jvm-pod", "x.invalid"]
    got = await run(*network.exec_prefix(pod, set_hostname=True), "java", str(source), *names, timeout=60)
    assert got.stdout.split() == ["10.96.7.7", "10.96.7.7", pod.ip, "unknown", pod.ip], got.stderr
