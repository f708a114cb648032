"""Running iproute2's `ip` from asyncio, and the up-front check that this machine can build a pod network."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Sequence

import structlog

log = structlog.get_logger("flinkop.sandbox.network")

_IP_CANDIDATES = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
_available = False


class IpCommandError(RuntimeError):
    """`ip ...` exited non-zero; carries the command line and its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(
            f"`{' '.join(self.argv)}` failed (exit {returncode}): {self.stderr or '(no stderr)'}"
        )


def ip_binary() -> str | None:
    """The path of iproute2's `ip`, or None when it is not installed."""
    found = shutil.which("ip")
    if found:
        return found
    for candidate in _IP_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def ip_path() -> str:
    path = ip_binary()
    if path is None:
        raise RuntimeError(_NO_IP)
    return path


async def run_ip(*args: str, stdin: bytes | None = None) -> str:
    """Run `ip <args>`; stdout on success, IpCommandError (with stderr) otherwise."""
    argv = [ip_path(), *args]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate(stdin)
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        raise IpCommandError(argv, proc.returncode or 0, err.decode(errors="replace"))
    return out.decode(errors="replace")


async def try_ip(*args: str, missing_ok: Sequence[str] = ()) -> bool:
    """Run `ip <args>` where failure is expected when the object is already gone.

    Returns False when stderr contains one of `missing_ok`; any other failure raises.
    """
    try:
        await run_ip(*args)
    except IpCommandError as exc:
        if any(marker in exc.stderr for marker in missing_ok):
            return False
        raise
    return True


# stderr fragments of iproute2 meaning "nothing to delete"
GONE_LINK = ("Cannot find device", "does not exist")
GONE_NETNS = ("No such file or directory", "Cannot remove namespace file")
GONE_ADDR = ("Cannot assign requested address", "Cannot find device")

_NO_ROOT = (
    "the flinkop sandbox pod network needs root (effective uid 0): it creates a Linux bridge, one network "
    "namespace per pod (`ip netns add`) and veth pairs, and writes /etc/netns/<netns>/hosts. "
    "Run the sandbox (and its tests) as root, e.g. with sudo or in a container running as root."
)
_NO_IP = (
    "the flinkop sandbox pod network needs iproute2's `ip` command, which is not on PATH nor in "
    "/usr/sbin or /sbin. Install iproute2 (Debian/Ubuntu: `apt-get install -y iproute2`; "
    "Fedora/RHEL: `dnf install -y iproute`; Alpine: `apk add iproute2`)."
)


def _probe(ip: str, create: list[str], delete: list[str], what: str, hint: str) -> None:
    result = subprocess.run([ip, *create], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"the flinkop sandbox pod network cannot create {what}: `ip {' '.join(create)}` failed: "
            f"{result.stderr.strip() or f'exit {result.returncode}'}. {hint}"
        )
    subprocess.run([ip, *delete], capture_output=True, text=True, check=False)


def check_available() -> None:
    """Raise RuntimeError saying exactly what is missing when this machine cannot host a pod network:
    not root, no `ip`, /etc not writable, or network namespaces, veth pairs or bridges not permitted.

    Callers (the kubelet, the tests) fail loudly on it; nothing is skipped. Probes run once per process.
    """
    global _available
    if _available:
        return
    if os.geteuid() != 0:
        raise RuntimeError(_NO_ROOT)
    ip = ip_binary()
    if ip is None:
        raise RuntimeError(_NO_IP)
    if not os.access("/etc", os.W_OK):
        raise RuntimeError(
            "the flinkop sandbox pod network writes per-pod hosts files under /etc/netns/ (which "
            "`ip netns exec` bind-mounts over /etc/hosts), but /etc is not writable here."
        )
    tag = str(os.getpid() % 10_000_000)
    privileges = (
        "The process needs CAP_NET_ADMIN and CAP_SYS_ADMIN in the host network namespace (in Docker: "
        "--privileged, or --cap-add NET_ADMIN --cap-add SYS_ADMIN with a writable /run)."
    )
    _probe(
        ip,
        ["netns", "add", f"fkp-check-{tag}"],
        ["netns", "del", f"fkp-check-{tag}"],
        "network namespaces",
        privileges + " `ip netns add` also needs to mount under /run/netns.",
    )
    _probe(
        ip,
        ["link", "add", f"fkpchkb{tag}", "type", "bridge"],
        ["link", "del", f"fkpchkb{tag}"],
        "a Linux bridge",
        privileges + " The kernel needs bridge support (CONFIG_BRIDGE / `modprobe bridge`).",
    )
    _probe(
        ip,
        ["link", "add", f"fkpchkv{tag}", "type", "veth", "peer", "name", f"fkpchkp{tag}"],
        ["link", "del", f"fkpchkv{tag}"],
        "veth pairs",
        privileges + " The kernel needs veth support (CONFIG_VETH / `modprobe veth`).",
    )
    _available = True
