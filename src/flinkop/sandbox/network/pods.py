"""The pod network: a Linux bridge on the host, one network namespace + veth pair per pod, IPAM.

Everything is recorded in `state_dir` *before* it is created, so the next `start()` after a crash
removes exactly what the crashed run left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import os
import re
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from flinkop.sandbox.network import etcfiles
from flinkop.sandbox.network.commands import (
    GONE_ADDR,
    GONE_LINK,
    GONE_NETNS,
    check_available,
    ip_path,
    run_ip,
    try_ip,
)
from flinkop.sandbox.network.etcfiles import HostsEntry

log = structlog.get_logger("flinkop.sandbox.network")

NETNS_PREFIX = "fkp-"
HOST_VETH_PREFIX = "fkv-"
PEER_VETH_PREFIX = "fkc-"
POD_INTERFACE = "eth0"
_UID = re.compile(r"^[A-Za-z0-9_.-]+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")

HostsProvider = Callable[["PodSandbox"], Sequence[HostsEntry]]


@dataclass(frozen=True)
class PodSandbox:
    """A pod's network namespace and address."""

    uid: str
    namespace: str
    hostname: str
    netns: str
    ip: str

    @property
    def host_veth(self) -> str:
        """The host end of the pod's veth pair (enslaved to the bridge)."""
        return HOST_VETH_PREFIX + self.netns[len(NETNS_PREFIX) :]

    @property
    def etc_dir(self) -> Path:
        """/etc/netns/<netns>: files `ip netns exec` bind-mounts over /etc (hosts, resolv.conf...)."""
        return etcfiles.netns_dir(self.netns)

    @property
    def hosts_file(self) -> Path:
        return self.etc_dir / "hosts"


def netns_name(uid: str) -> str:
    if not _UID.match(uid) or uid.startswith("."):
        raise ValueError(f"pod uid {uid!r} cannot name a network namespace (want [A-Za-z0-9_.-])")
    return NETNS_PREFIX + uid[:8]


class Ipam:
    """Pod addresses from a CIDR: next free address after the last one handed out (no quick reuse)."""

    def __init__(self, network: ipaddress.IPv4Network, reserved: set[ipaddress.IPv4Address]) -> None:
        if network.num_addresses < 4:
            raise ValueError(f"pod CIDR {network} is too small")
        self.network = network
        self._first = int(network.network_address) + 1
        self._last = int(network.broadcast_address) - 1
        self._reserved = {int(a) for a in reserved}
        self._used: set[int] = set()
        self._cursor = self._first

    def allocate(self) -> str:
        size = self._last - self._first + 1
        for step in range(size):
            candidate = self._first + (self._cursor - self._first + step) % size
            if candidate not in self._used and candidate not in self._reserved:
                self._used.add(candidate)
                self._cursor = candidate + 1 if candidate < self._last else self._first
                return str(ipaddress.IPv4Address(candidate))
        raise RuntimeError(f"pod CIDR {self.network} has no free address left")

    def claim(self, address: str) -> None:
        self._used.add(int(ipaddress.IPv4Address(address)))

    def release(self, address: str) -> None:
        self._used.discard(int(ipaddress.IPv4Address(address)))

    @property
    def in_use(self) -> int:
        return len(self._used)


class PodNetwork:
    """Bridge `bridge` with the first address of `cidr` (the gateway); pods in network namespaces.

    One PodNetwork per bridge name per machine: a lock (abstract unix socket) enforces it, so a
    second one fails loudly instead of tearing down a live network's pods.
    """

    def __init__(
        self,
        *,
        bridge: str = "flinkop0",
        cidr: str = "10.244.0.0/16",
        state_dir: Path,
        cluster_domain: str = "cluster.local",
    ) -> None:
        if not 0 < len(bridge) <= 15 or "/" in bridge or " " in bridge:
            raise ValueError(f"invalid bridge name {bridge!r} (1-15 characters, no '/' or spaces)")
        self.bridge = bridge
        self.network = ipaddress.IPv4Network(cidr, strict=False)
        self.cidr = str(self.network)
        self.gateway = str(self.network.network_address + 1)
        self.state_dir = Path(state_dir)
        self.cluster_domain = cluster_domain
        self._ipam = Ipam(self.network, {self.network.network_address + 1})
        self._pods: dict[str, PodSandbox] = {}
        self._uid_locks: dict[str, asyncio.Lock] = {}
        self._addresses: set[str] = set()
        self._hosts_provider: HostsProvider | None = None
        self._lock: socket.socket | None = None
        self._started = False
        self.log = log.bind(bridge=bridge, cidr=self.cidr)

    # -- paths -------------------------------------------------------------------------------------
    @property
    def _pods_dir(self) -> Path:
        return self.state_dir / "pods"

    @property
    def _network_file(self) -> Path:
        return self.state_dir / "network.json"

    def _pod_file(self, uid: str) -> Path:
        return self._pods_dir / f"{uid}.json"

    @staticmethod
    def check_available() -> None:
        """Raise RuntimeError saying what is missing (root, `ip`, netns/veth/bridge permissions)."""
        check_available()

    @property
    def started(self) -> bool:
        return self._started

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Create the bridge (idempotent) after removing what a crashed earlier run left behind."""
        if self._started:
            return
        await asyncio.to_thread(check_available)
        self._acquire_lock()
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            await self._clean_leftovers()
            await self._check_no_conflict()
            self._write_network_state()
            await self._ensure_bridge()
        except BaseException:
            self._release_lock()
            raise
        self._started = True
        self.log.info("pod network started", gateway=self.gateway)

    async def stop(self) -> None:
        """Remove every pod namespace and veth, the service addresses and the bridge."""
        if not self._started and self._lock is None:
            return
        errors: list[BaseException] = []
        results = await asyncio.gather(
            *(self.remove_pod(uid) for uid in list(self._pods)), return_exceptions=True
        )
        errors += [r for r in results if isinstance(r, BaseException)]
        try:
            await try_ip("link", "del", self.bridge, missing_ok=GONE_LINK)  # takes its addresses along
        except Exception as exc:
            errors.append(exc)
        self._addresses.clear()
        if not errors:
            with contextlib.suppress(FileNotFoundError):
                self._network_file.unlink()
            with contextlib.suppress(OSError):
                self._pods_dir.rmdir()
        self._started = False
        self._release_lock()
        if errors:
            self.log.error("pod network stop left errors", errors=[str(e) for e in errors])
            raise RuntimeError(f"pod network stop failed: {'; '.join(str(e) for e in errors)}")
        self.log.info("pod network stopped")

    async def __aenter__(self) -> PodNetwork:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- pods --------------------------------------------------------------------------------------
    def sandbox(self, uid: str) -> PodSandbox | None:
        return self._pods.get(uid)

    def sandboxes(self) -> list[PodSandbox]:
        return list(self._pods.values())

    def exec_prefix(self, sandbox: PodSandbox, *, set_hostname: bool = False) -> list[str]:
        """argv prefix running a command inside the pod's network namespace; `ip netns exec` also
        gives it a mount namespace with /etc/netns/<netns>/* bind-mounted over /etc/*.

        With `set_hostname`, the command also gets its own UTS namespace whose hostname is the pod's
        (so `hostname`/`InetAddress.getLocalHost()` give the pod's name, listed in its hosts file)."""
        prefix = [ip_path(), "netns", "exec", sandbox.netns]
        if set_hostname:
            prefix += [sys.executable, "-m", "flinkop.sandbox.network.uts", sandbox.hostname, "--"]
        return prefix

    async def add_pod(self, uid: str, namespace: str, hostname: str) -> PodSandbox:
        """A network namespace `fkp-<uid[:8]>` with lo up and eth0 (a veth into the bridge) holding
        an address from the pod CIDR, a default route via the gateway, and its /etc/netns files.
        Adding a pod that already has a sandbox returns that sandbox."""
        self._require_started()
        if not _HOSTNAME.match(hostname):
            raise ValueError(f"invalid pod hostname {hostname!r}")
        netns = netns_name(uid)
        async with self._uid_lock(uid):
            existing = self._pods.get(uid)
            if existing is not None:
                return existing
            clash = next((p for p in self._pods.values() if p.netns == netns), None)
            if clash is not None:
                raise RuntimeError(f"pod {uid} would reuse network namespace {netns} of pod {clash.uid}")
            sandbox = PodSandbox(uid, namespace, hostname, netns, self._ipam.allocate())
            self._pods[uid] = sandbox
            self._write_pod_state(sandbox)  # recorded before anything exists: a crash leaves no orphans
            try:
                await self._create_sandbox(sandbox)
            except BaseException:
                self.log.warning("pod sandbox creation failed, rolling back", uid=uid, netns=netns)
                self._pods.pop(uid, None)
                try:
                    await asyncio.shield(self._teardown(sandbox))
                except Exception:
                    self.log.exception("rollback of pod sandbox failed", uid=uid, netns=netns)
                raise
            self.log.info("pod sandbox added", uid=uid, namespace=namespace, netns=netns, ip=sandbox.ip)
            return sandbox

    async def remove_pod(self, uid: str) -> None:
        """Delete the pod's veth, namespace and /etc/netns files; a no-op for unknown pods."""
        async with self._uid_lock(uid):
            sandbox = self._pods.get(uid)
            if sandbox is None:
                return
            await self._teardown(sandbox)
            self._pods.pop(uid, None)
            self.log.info("pod sandbox removed", uid=uid, netns=sandbox.netns, ip=sandbox.ip)
        self._uid_locks.pop(uid, None)

    def _uid_lock(self, uid: str) -> asyncio.Lock:
        return self._uid_locks.setdefault(uid, asyncio.Lock())

    async def _create_sandbox(self, sb: PodSandbox) -> None:
        peer = PEER_VETH_PREFIX + sb.netns[len(NETNS_PREFIX) :]
        prefix = self.network.prefixlen
        await run_ip("netns", "add", sb.netns)
        await run_ip("link", "add", sb.host_veth, "type", "veth", "peer", "name", peer)
        await run_ip("link", "set", peer, "netns", sb.netns)
        await run_ip("link", "set", sb.host_veth, "master", self.bridge)
        await run_ip("link", "set", sb.host_veth, "up")
        await run_ip("-n", sb.netns, "link", "set", "lo", "up")
        await run_ip("-n", sb.netns, "link", "set", peer, "name", POD_INTERFACE)
        await run_ip("-n", sb.netns, "addr", "add", f"{sb.ip}/{prefix}", "dev", POD_INTERFACE)
        await run_ip("-n", sb.netns, "link", "set", POD_INTERFACE, "up")
        await run_ip("-n", sb.netns, "route", "add", "default", "via", self.gateway, "dev", POD_INTERFACE)
        etcfiles.write_in_place(
            sb.etc_dir / "resolv.conf", etcfiles.render_resolv_conf(sb.namespace, self.cluster_domain)
        )
        etcfiles.write_in_place(sb.etc_dir / "nsswitch.conf", etcfiles.render_nsswitch())
        self._write_hosts(sb)

    async def _teardown(self, sb: PodSandbox) -> None:
        """Remove a sandbox's kernel objects and files; tolerant of any of them being gone already.

        The host veth goes first: deleting it also deletes eth0 even when processes still hold the
        namespace open (then `ip netns del` only unmounts it)."""
        await try_ip("link", "del", sb.host_veth, missing_ok=GONE_LINK)
        await try_ip("netns", "del", sb.netns, missing_ok=GONE_NETNS)
        etcfiles.remove_netns_dir(sb.netns)
        with contextlib.suppress(FileNotFoundError):
            self._pod_file(sb.uid).unlink()
        self._ipam.release(sb.ip)

    # -- hosts files -------------------------------------------------------------------------------
    def set_hosts_provider(self, provider: HostsProvider | None) -> None:
        """Extra hosts lines per pod (the service proxy's cluster names); applied by refresh_hosts()
        and to every pod added later."""
        self._hosts_provider = provider

    def hosts_content(self, sandbox: PodSandbox) -> str:
        entries = self._hosts_provider(sandbox) if self._hosts_provider is not None else ()
        return etcfiles.render_hosts(sandbox.netns, sandbox.ip, sandbox.hostname, entries)

    def _write_hosts(self, sandbox: PodSandbox) -> bool:
        return etcfiles.write_in_place(sandbox.hosts_file, self.hosts_content(sandbox))

    def refresh_hosts(self) -> int:
        """Rewrite (in place) every pod's hosts file whose content changed; returns how many."""
        changed = 0
        for sandbox in list(self._pods.values()):
            try:
                changed += self._write_hosts(sandbox)
            except OSError:
                self.log.exception("cannot write hosts file", netns=sandbox.netns)
        return changed

    # -- addresses on the bridge (service cluster IPs) ---------------------------------------------
    def addresses(self) -> set[str]:
        return set(self._addresses)

    async def add_address(self, address: str) -> None:
        """Assign `address`/32 to the bridge (a Service's cluster IP), recorded for crash cleanup."""
        self._require_started()
        ipaddress.IPv4Address(address)
        self._addresses.add(address)
        self._write_network_state()
        await run_ip("addr", "replace", f"{address}/32", "dev", self.bridge)

    async def remove_address(self, address: str) -> None:
        await try_ip("addr", "del", f"{address}/32", "dev", self.bridge, missing_ok=GONE_ADDR)
        self._addresses.discard(address)
        if self._started:
            self._write_network_state()

    # -- addresses outside any namespace (the kubelet's stub pods) --------------------------------
    def allocate_ip(self) -> str:
        """A pod address from the CIDR for a pod that gets no namespace; give it back with release_ip."""
        self._require_started()
        return self._ipam.allocate()

    def release_ip(self, address: str) -> None:
        self._ipam.release(address)

    # -- start-up helpers --------------------------------------------------------------------------
    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("PodNetwork.start() has not been called (or stop() was)")

    def _acquire_lock(self) -> None:
        """Hold the bridge's machine-wide lock: an abstract unix socket bound (and listening) under a
        name derived from the bridge. The kernel releases it when the process dies, and it leaves
        no file behind."""
        if self._lock is not None:
            return
        name = f"\0flinkop-network/{self.bridge}"
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(name)
            lock.listen(1)
        except OSError as exc:
            lock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            raise RuntimeError(
                f"bridge {self.bridge} is already managed by another running PodNetwork "
                f"(pid {_lock_holder(name)}); use another bridge name or stop that one"
            ) from None
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    async def _clean_leftovers(self) -> None:
        """Remove the pods and addresses a crashed earlier run recorded in state_dir."""
        if self._pods_dir.is_dir():
            for path in sorted(self._pods_dir.glob("*.json")):
                record = _read_json(path)
                netns = str(record.get("netns") or "")
                if netns.startswith(NETNS_PREFIX):
                    stale = PodSandbox(
                        str(record.get("uid") or path.stem),
                        str(record.get("namespace") or ""),
                        str(record.get("hostname") or ""),
                        netns,
                        str(record.get("ip") or self.gateway),
                    )
                    self.log.info("removing leftover pod sandbox", uid=stale.uid, netns=netns)
                    await try_ip("link", "del", stale.host_veth, missing_ok=GONE_LINK)
                    await try_ip("netns", "del", netns, missing_ok=GONE_NETNS)
                    etcfiles.remove_netns_dir(netns)
                path.unlink(missing_ok=True)
        record = _read_json(self._network_file)
        old_bridge = str(record.get("bridge") or "")
        for address in record.get("addresses") or []:
            if old_bridge:
                self.log.info("removing leftover service address", address=address, bridge=old_bridge)
                await try_ip("addr", "del", f"{address}/32", "dev", old_bridge, missing_ok=GONE_ADDR)
        if old_bridge and old_bridge != self.bridge and await self._link_exists(old_bridge):
            self.log.info("removing leftover bridge of an earlier run", old_bridge=old_bridge)
            await try_ip("link", "del", old_bridge, missing_ok=GONE_LINK)

    async def _check_no_conflict(self) -> None:
        """Refuse a pod CIDR that overlaps an address of another interface (e.g. another bridge)."""
        links = json.loads(await run_ip("-j", "addr", "show") or "[]")
        for link in links:
            name = link.get("ifname")
            if name == self.bridge:
                continue
            for info in link.get("addr_info") or []:
                if info.get("family") != "inet":
                    continue
                theirs = ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                if theirs.prefixlen > 0 and theirs.overlaps(self.network) and not theirs.is_loopback:
                    raise RuntimeError(
                        f"pod CIDR {self.cidr} overlaps {info['local']}/{info['prefixlen']} on interface "
                        f"{name}; choose another cidr (or remove that interface)"
                    )

    async def _link_exists(self, name: str) -> bool:
        return name in await self._links()

    async def _links(self) -> set[str]:
        return {str(link.get("ifname")) for link in json.loads(await run_ip("-j", "link", "show") or "[]")}

    async def _ensure_bridge(self) -> None:
        gateway = f"{self.gateway}/{self.network.prefixlen}"
        if self.bridge not in await self._links():
            await run_ip("link", "add", "name", self.bridge, "type", "bridge")
        else:
            # We hold the bridge's lock, so whatever is still attached is stale.
            for link in json.loads(await run_ip("-j", "link", "show", "master", self.bridge) or "[]"):
                self.log.info("detaching leftover interface from bridge", interface=link.get("ifname"))
                await try_ip("link", "del", str(link.get("ifname")), missing_ok=GONE_LINK)
            for link in json.loads(await run_ip("-j", "addr", "show", "dev", self.bridge) or "[]"):
                for info in link.get("addr_info") or []:
                    if info.get("family") != "inet":
                        continue
                    current = f"{info['local']}/{info['prefixlen']}"
                    if current != gateway:
                        self.log.info("removing leftover address from bridge", address=current)
                        await try_ip("addr", "del", current, "dev", self.bridge, missing_ok=GONE_ADDR)
        await run_ip("addr", "replace", gateway, "dev", self.bridge)
        await run_ip("link", "set", self.bridge, "up")

    # -- state files -------------------------------------------------------------------------------
    def _write_network_state(self) -> None:
        _write_json(
            self._network_file,
            {"bridge": self.bridge, "cidr": self.cidr, "addresses": sorted(self._addresses)},
        )

    def _write_pod_state(self, sandbox: PodSandbox) -> None:
        _write_json(self._pod_file(sandbox.uid), {**asdict(sandbox), "hostVeth": sandbox.host_veth})


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _lock_holder(name: str) -> str:
    """The pid listening on the lock socket (SO_PEERCRED), for the error message."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            probe.connect(name)
            creds = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, _uid, _gid = struct.unpack("3i", creds)
            return str(pid)
    except OSError:
        return "?"
