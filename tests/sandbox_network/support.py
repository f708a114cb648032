"""Helpers for the pod network tests: subprocesses, HTTP from the host and from inside pods."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from flinkop.sandbox.network import PodNetwork, PodSandbox

PY = sys.executable

# Runs inside a pod: GET a URL, print the body (or "ERR <exception>").
FETCH = """
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    print(opener.open(sys.argv[1], timeout=5).read().decode(), end="")
except Exception as exc:
    print(f"ERR {exc!r}", end="")
"""

# Runs inside a pod: read until EOF, then answer with the byte count (needs half-close to work).
COUNT_SERVER = """
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(8)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    total = 0
    while chunk := conn.recv(65536):
        total += len(chunk)
    conn.sendall(f"{sys.argv[2]} {total}".encode())
    conn.close()
"""

# Runs inside a pod and keeps running: resolves each name read from stdin (sees hosts file updates).
RESOLVER = """
import socket, sys
print("ready", flush=True)
for line in sys.stdin:
    try:
        print(socket.gethostbyname(line.strip()), flush=True)
    except OSError as exc:
        print(f"ERR {exc}", flush=True)
"""


async def run(*argv: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode or 0, out.decode(), err.decode())


async def ip_json(*args: str) -> Any:
    result = await run("ip", "-j", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout or "[]")


async def netns_names() -> set[str]:
    result = await run("ip", "netns", "list")
    return {line.split()[0] for line in result.stdout.splitlines() if line.strip()}


async def link_names() -> set[str]:
    return {link["ifname"] for link in await ip_json("link", "show")}


async def inet_addresses(dev: str | None = None) -> set[str]:
    links = await ip_json("addr", "show", *(["dev", dev] if dev else []))
    return {
        f"{info['local']}/{info['prefixlen']}"
        for link in links
        for info in link.get("addr_info", [])
        if info.get("family") == "inet"
    }


async def free_cidr() -> str:
    """A /16 in 10.200-10.239 that no interface here uses (tests may run beside a live sandbox)."""
    used = [ipaddress.IPv4Network(a, strict=False) for a in await inet_addresses()]
    start = os.getpid() % 40
    for i in range(40):
        candidate = ipaddress.IPv4Network(f"10.{200 + (start + i) % 40}.0.0/16")
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise RuntimeError("no free 10.2xx.0.0/16 for a test pod network")


async def in_pod(network: PodNetwork, sandbox: PodSandbox, *argv: str) -> subprocess.CompletedProcess[str]:
    return await run(*network.exec_prefix(sandbox), *argv)


async def fetch_in_pod(network: PodNetwork, sandbox: PodSandbox, url: str) -> str:
    result = await in_pod(network, sandbox, PY, "-c", FETCH, url)
    return result.stdout or f"ERR rc={result.returncode} {result.stderr}"


def _fetch(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            body: bytes = response.read()
            return body.decode()
    except Exception as exc:
        return f"ERR {exc!r}"


async def fetch_from_host(url: str) -> str:
    return await asyncio.to_thread(_fetch, url)


async def eventually(check: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await check()
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


class PodProcess:
    """A long-running process inside a pod (`ip netns exec` execs it: the pid is the process itself)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls, network: PodNetwork, sandbox: PodSandbox, *argv: str, wait_line: str | None = "ready"
    ) -> PodProcess:
        proc = await asyncio.create_subprocess_exec(
            *network.exec_prefix(sandbox),
            *argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        process = cls(proc)
        if wait_line is not None:
            line = await process.readline()
            assert line == wait_line, f"{argv}: expected {wait_line!r}, got {line!r}"
        return process

    async def readline(self, timeout: float = 10.0) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        return line.decode().strip()

    async def ask(self, text: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.readline()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


def _write_who(root: Path, name: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "who").write_text(name)


async def http_server(network: PodNetwork, sandbox: PodSandbox, root: Path, port: int = 8000) -> PodProcess:
    """`python3 -m http.server <port>` in the pod serving `root` (with a `who` file naming the pod);
    returns once it answers from the host."""
    await asyncio.to_thread(_write_who, root, sandbox.hostname)
    process = await PodProcess.start(
        network,
        sandbox,
        PY,
        "-m",
        "http.server",
        str(port),
        "--bind",
        "0.0.0.0",
        "--directory",
        str(root),
        wait_line=None,
    )

    async def answers() -> None:
        assert process.proc.returncode is None, "http.server exited"
        assert await fetch_from_host(f"http://{sandbox.ip}:{port}/who") == sandbox.hostname

    try:
        await eventually(answers, timeout=15)
    except BaseException:
        await process.stop()
        raise
    return process
