"""The files `ip netns exec` bind-mounts over /etc inside a pod: hosts, resolv.conf, nsswitch.conf.

Running pods see /etc/netns/<netns>/hosts through a bind mount of its inode, so updates rewrite the
file in place (same inode) instead of replacing it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

ETC_NETNS = Path("/etc/netns")
HOST_NSSWITCH = Path("/etc/nsswitch.conf")

HostsEntry = tuple[str, Sequence[str]]  # (address, names)

_LOCALHOST = (
    ("127.0.0.1", ("localhost",)),
    ("::1", ("localhost", "ip6-localhost", "ip6-loopback")),
    ("fe00::0", ("ip6-localnet",)),
    ("fe00::0", ("ip6-mcastprefix",)),
    ("fe00::1", ("ip6-allnodes",)),
    ("fe00::2", ("ip6-allrouters",)),
)
_MINIMAL_NSSWITCH = """passwd:         files
group:          files
shadow:         files
gshadow:        files
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
"""
_HOSTS_LINE = re.compile(r"^\s*hosts\s*:.*$", re.MULTILINE)


def render_hosts(netns: str, ip: str, hostname: str, entries: Iterable[HostsEntry]) -> str:
    lines = [
        f"# Pod network hosts file of {netns}, managed by flinkop (cluster DNS = this file).",
        "# Rewritten in place when Services, Endpoints or pods change; edits are lost.",
    ]
    lines += [f"{addr}\t{' '.join(names)}" for addr, names in _LOCALHOST]
    lines.append(f"{ip}\t{hostname}")
    lines += [f"{addr}\t{' '.join(names)}" for addr, names in entries if names]
    return "\n".join(lines) + "\n"


def render_resolv_conf(namespace: str, cluster_domain: str) -> str:
    return (
        "# flinkop sandbox pod: names resolve from /etc/hosts only (nsswitch `hosts: files`);\n"
        "# there is no cluster DNS server, so no nameserver is listed.\n"
        f"search {namespace}.svc.{cluster_domain} svc.{cluster_domain} {cluster_domain}\n"
        "options ndots:5\n"
    )


def render_nsswitch(host_nsswitch: Path = HOST_NSSWITCH) -> str:
    """The host's nsswitch.conf with `hosts: files` (no DNS: lookups never wait for a nameserver)."""
    try:
        text = host_nsswitch.read_text()
    except OSError:
        text = _MINIMAL_NSSWITCH
    line = "hosts:          files"
    if _HOSTS_LINE.search(text):
        return _HOSTS_LINE.sub(line, text)
    return text.rstrip("\n") + "\n" + line + "\n"


def netns_dir(netns: str) -> Path:
    return ETC_NETNS / netns


def write_in_place(path: Path, content: str) -> bool:
    """Write `content` into `path` keeping its inode (bind mounts of it see the change).

    The new bytes go over the old ones and the tail is then truncated, so a concurrent reader never
    sees an empty file. Returns False when the file already had exactly this content.
    """
    data = content.encode()
    for attempt in range(3):  # another network may rmdir an empty /etc/netns between mkdir and open
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    try:
        current = b""
        while chunk := os.read(fd, 1 << 16):
            current += chunk
        if current == data:
            return False
        os.lseek(fd, 0, os.SEEK_SET)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    return True


def remove_netns_dir(netns: str) -> None:
    shutil.rmtree(netns_dir(netns), ignore_errors=True)
    try:
        ETC_NETNS.rmdir()  # only when empty: other tools' (or other networks') files stay
    except OSError:
        pass
