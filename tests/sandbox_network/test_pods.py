"""Pod sandboxes: addresses, isolation, pod<->pod and pod<->host traffic, cleanup and crash recovery."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shutil
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from flinkop.sandbox.network import PodNetwork, commands
from flinkop.sandbox.network.etcfiles import ETC_NETNS
from tests.sandbox_network.support import (
    PY,
    fetch_from_host,
    fetch_in_pod,
    free_cidr,
    http_server,
    in_pod,
    inet_addresses,
    link_names,
    netns_names,
    run,
)

REPO = Path(__file__).resolve().parents[2]


def test_check_available_explains_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    PodNetwork.check_available()  # this machine can: root, iproute2, netns, veth, bridge
    monkeypatch.setattr(commands, "_available", False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(RuntimeError, match=r"needs root"):
        PodNetwork.check_available()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(commands, "_IP_CANDIDATES", ())
    with pytest.raises(RuntimeError, match=r"iproute2"):
        PodNetwork.check_available()


async def test_two_pods_same_port_reachable_from_host_and_each_other(
    network: PodNetwork, tmp_path: Path
) -> None:
    a = await network.add_pod("aaaa1111-0000-4000-8000-000000000001", "default", "pod-a")
    b = await network.add_pod("bbbb2222-0000-4000-8000-000000000002", "default", "pod-b")
    assert a.ip != b.ip
    assert {ipaddress.ip_address(a.ip), ipaddress.ip_address(b.ip)} <= set(network.network.hosts())
    assert network.gateway == str(network.network.network_address + 1)
    assert (a.netns, b.netns) == ("fkp-aaaa1111", "fkp-bbbb2222")
    assert {a.netns, b.netns} <= await netns_names()
    assert network.sandbox(a.uid) == a and network.sandbox("nope") is None
    assert await network.add_pod(a.uid, "default", "pod-a") == a  # idempotent

    route = await in_pod(network, a, "ip", "route", "show", "default")
    assert f"default via {network.gateway}" in route.stdout
    lo = await in_pod(network, a, "ip", "-br", "addr", "show", "dev", "lo")
    assert "127.0.0.1/8" in lo.stdout

    servers = []
    try:
        # the same port in both pods: no collision
        servers.append(await http_server(network, a, tmp_path / "a"))
        servers.append(await http_server(network, b, tmp_path / "b"))
        assert await fetch_from_host(f"http://{a.ip}:8000/who") == "pod-a"
        assert await fetch_from_host(f"http://{b.ip}:8000/who") == "pod-b"
        assert await fetch_in_pod(network, a, f"http://{b.ip}:8000/who") == "pod-b"
        assert await fetch_in_pod(network, b, f"http://{a.ip}:8000/who") == "pod-a"
        # 127.0.0.1 inside a pod is the pod's own loopback
        assert await fetch_in_pod(network, a, "http://127.0.0.1:8000/who") == "pod-a"
        assert await fetch_in_pod(network, b, "http://localhost:8000/who") == "pod-b"

        # pod -> host on any port, through the gateway address
        host_root = tmp_path / "host"
        host_root.mkdir()
        (host_root / "who").write_text("host")
        host = await asyncio.create_subprocess_exec(
            PY, "-m", "http.server", "0", "--bind", network.gateway, "--directory", str(host_root),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert host.stdout is not None
            banner = (await asyncio.wait_for(host.stdout.readline(), 10)).decode()
            port = int(banner.split(" port ")[1].split()[0])
            assert await fetch_in_pod(network, a, f"http://{network.gateway}:{port}/who") == "host"
        finally:
            host.kill()
            await host.wait()
    finally:
        for server in servers:
            await server.stop()

    # names: the pod's own hostname, via glibc (python) and getent, files only
    resolved = await in_pod(network, a, PY, "-c", "import socket; print(socket.gethostbyname('pod-a'))")
    assert resolved.stdout.strip() == a.ip
    assert (await in_pod(network, a, "getent", "hosts", "pod-a")).stdout.split()[0] == a.ip
    nsswitch = await in_pod(network, a, "cat", "/etc/nsswitch.conf")
    assert any(line.split() == ["hosts:", "files"] for line in nsswitch.stdout.splitlines())
    resolv = await in_pod(network, a, "cat", "/etc/resolv.conf")
    directives = [line.split()[0] for line in resolv.stdout.splitlines() if line and not line.startswith("#")]
    assert "nameserver" not in directives and "search default.svc.cluster.local" in resolv.stdout
    unknown = await in_pod(network, a, "getent", "hosts", "nowhere.example.com")
    assert unknown.returncode == 2  # not found, at once: no DNS server to wait for
    # with set_hostname the pod's processes see its own hostname (a new UTS namespace), which resolves
    own = await run(
        *network.exec_prefix(a, set_hostname=True),
        PY, "-c", "import socket; n = socket.gethostname(); print(n, socket.gethostbyname(n))",
    )  # fmt: skip
    assert own.stdout.split() == ["pod-a", a.ip], own.stderr
    assert (await run("hostname")).stdout.strip() != "pod-a"  # the machine's name is untouched

    await network.remove_pod(a.uid)
    await network.remove_pod(a.uid)  # idempotent
    assert network.sandbox(a.uid) is None
    assert a.netns not in await netns_names()
    assert a.host_veth not in await link_names()
    assert not (ETC_NETNS / a.netns).exists()
    c = await network.add_pod("cccc3333-0000-4000-8000-000000000003", "other", "pod-c")
    assert c.ip not in (a.ip, b.ip)  # no quick reuse of a released address


async def test_invalid_input_and_one_network_per_bridge(network: PodNetwork, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hostname"):
        await network.add_pod("dddd4444-0000", "default", "bad host")
    with pytest.raises(ValueError, match="uid"):
        await network.add_pod("../etc", "default", "pod")
    await network.add_pod("eeee5555-0000", "default", "pod-e")
    with pytest.raises(RuntimeError, match="would reuse network namespace"):
        await network.add_pod("eeee5555-1111", "default", "pod-f")
    second = PodNetwork(bridge=network.bridge, cidr=network.cidr, state_dir=tmp_path / "second")
    with pytest.raises(
        RuntimeError, match=rf"bridge {network.bridge} is already managed .*pid {os.getpid()}"
    ):
        await second.start()
    assert network.sandbox("eeee5555-0000") is not None  # untouched


async def test_stop_leaves_nothing_behind(tmp_path: Path, bridge_name: str) -> None:
    PodNetwork.check_available()
    netns_before, links_before, addresses_before = (
        await netns_names(),
        await link_names(),
        await inet_addresses(),
    )
    etc_netns_before = ETC_NETNS.exists()
    network = PodNetwork(bridge=bridge_name, cidr=await free_cidr(), state_dir=tmp_path / "net")
    try:
        await network.start()
        await network.start()  # idempotent
        pods = await asyncio.gather(
            *(network.add_pod(f"{i}abc0000-0000", "default", f"pod-{i}") for i in range(8))
        )
        assert len({p.ip for p in pods}) == 8
        await network.add_address("10.96.254.77")
        assert bridge_name in await link_names()
        assert "10.96.254.77/32" in await inet_addresses(bridge_name)
        assert {p.host_veth for p in pods} <= await link_names()
    finally:
        await network.stop()
    await network.stop()  # idempotent
    assert await netns_names() == netns_before
    assert await link_names() == links_before
    assert await inet_addresses() == addresses_before
    assert ETC_NETNS.exists() == etc_netns_before
    assert not any(p.etc_dir.exists() for p in pods)
    assert not list((tmp_path / "net").rglob("*.json"))


CRASHER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from flinkop.sandbox.network import PodNetwork

    async def main():
        net = PodNetwork(bridge=sys.argv[1], cidr=sys.argv[2], state_dir=Path(sys.argv[3]))
        await net.start()
        pods = [await net.add_pod(f"{i}dead000-0000", "default", f"crash-{i}") for i in range(2)]
        await net.add_address(sys.argv[4])
        print("LEFTOVERS", json.dumps([p.netns for p in pods]), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


async def test_crashed_run_is_cleaned_by_next_start(tmp_path: Path, bridge_name: str) -> None:
    PodNetwork.check_available()
    netns_before, links_before, addresses_before = (
        await netns_names(),
        await link_names(),
        await inet_addresses(),
    )
    cidr, state = await free_cidr(), tmp_path / "state"
    service_ip = "10.96.254.78"
    crasher = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHER, bridge_name, cidr, str(state), service_ip,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    network = PodNetwork(bridge=bridge_name, cidr=cidr, state_dir=state)
    try:
        assert crasher.stdout is not None and crasher.stderr is not None
        line = b""
        while not line.startswith(b"LEFTOVERS "):  # structlog writes to stdout too
            line = await asyncio.wait_for(crasher.stdout.readline(), 20)
            assert line, (await crasher.stderr.read()).decode()
        leftover_netns = set(json.loads(line.split(b" ", 1)[1]))
        crasher.send_signal(signal.SIGKILL)
        await crasher.wait()
        assert leftover_netns <= await netns_names()
        assert f"{service_ip}/32" in await inet_addresses(bridge_name)

        await network.start()  # the lock died with the crashed process; leftovers go
        assert not leftover_netns & await netns_names()
        assert not {n.replace("fkp-", "fkv-") for n in leftover_netns} & await link_names()
        assert await inet_addresses(bridge_name) == {f"{network.gateway}/16"}
        assert not any((ETC_NETNS / n).exists() for n in leftover_netns)
        pod = await network.add_pod("0dead000-0000", "default", "crash-0")  # same uid again works
        assert pod.netns in await netns_names()
    finally:
        if crasher.returncode is None:
            crasher.kill()
            await crasher.wait()
        await network.stop()
        # even if the assertions failed: no leftovers for the next test
        for netns in await netns_names() - netns_before:
            if netns.startswith("fkp-") and "dead" in netns:
                await run("ip", "netns", "del", netns)
        if bridge_name in await link_names():
            await run("ip", "link", "del", bridge_name)
    assert await netns_names() == netns_before
    assert await link_names() == links_before
    assert await inet_addresses() == addresses_before
