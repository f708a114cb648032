"""Container probes (startup, liveness, readiness): httpGet to the pod IP, tcpSocket, and exec inside the
container's namespaces, with the kubelet's thresholds and timing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

JSON = dict[str, Any]
MAX_BODY = 10 * 1024


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: JSON, kind: str) -> ProbeTiming:
        success = int(probe.get("successThreshold") or 1)
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=success if kind == "readiness" else 1,  # must be 1 for liveness/startup
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


class ProbeTarget(Protocol):
    """What a probe needs from the container it checks."""

    @property
    def pod_ip(self) -> str: ...

    def port(self, port: int | str) -> int: ...

    async def exec(self, command: list[str], timeout: float) -> tuple[int, str]: ...


async def _http(
    probe: JSON, target: ProbeTarget, session: aiohttp.ClientSession, timeout: float
) -> tuple[bool, str]:
    scheme = str(probe.get("scheme") or "HTTP").lower()
    host = str(probe.get("host") or target.pod_ip)
    port = target.port(probe.get("port") or 80)
    path = str(probe.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.31", "Accept": "*/*"}
    for header in probe.get("httpHeaders") or []:
        headers[str(header.get("name"))] = str(header.get("value", ""))
    try:
        async with session.get(
            url, headers=headers, ssl=False, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            body = await response.content.read(MAX_BODY)
            if 200 <= response.status < 400:
                return True, ""
            text = body.decode(errors="replace")
            return False, f"HTTP probe failed with statuscode: {response.status}" + (
                f": {text}" if text else ""
            )
    except TimeoutError:
        return (
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        )
    except (aiohttp.ClientError, OSError) as exc:
        return False, f'Get "{url}": {exc}'


async def _tcp(probe: JSON, target: ProbeTarget, timeout: float) -> tuple[bool, str]:
    host = str(probe.get("host") or target.pod_ip)
    port = target.port(probe.get("port") or 0)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (TimeoutError, OSError) as exc:
        return False, f"dial tcp {host}:{port}: {exc or 'i/o timeout'}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def _exec(probe: JSON, target: ProbeTarget, timeout: float) -> tuple[bool, str]:
    command = [str(c) for c in probe.get("command") or []]
    if not command:
        return False, "exec probe has no command"
    code, output = await target.exec(command, timeout)
    if code == 0:
        return True, ""
    return False, output.strip() or f"command {command!r} exited with {code}"


async def probe_once(
    probe: JSON, target: ProbeTarget, session: aiohttp.ClientSession, timeout: float
) -> tuple[bool, str]:
    """One run of the probe: (success, message)."""
    try:
        if isinstance(probe.get("httpGet"), dict):
            return await _http(probe["httpGet"], target, session, timeout)
        if isinstance(probe.get("tcpSocket"), dict):
            return await _tcp(probe["tcpSocket"], target, timeout)
        if isinstance(probe.get("exec"), dict):
            return await _exec(probe["exec"], target, timeout)
        if "grpc" in probe:
            return False, "grpc probes are not supported by the sandbox kubelet"
        return False, "probe has no handler"
    except ValueError as exc:  # a named port that does not exist, a bad value
        return False, str(exc)


Changed = Callable[[str, bool, str], Awaitable[None]]  # kind, result, message


class Prober:
    """Runs one probe of one container every period; `result` is its verdict under the thresholds.

    readiness starts False, liveness True, startup False. `on_change` hears each change of the verdict
    and, for failures, every failed run (the kubelet's Unhealthy events)."""

    def __init__(
        self,
        kind: str,
        probe: JSON,
        target: ProbeTarget,
        session: aiohttp.ClientSession,
        on_change: Changed,
        on_failure: Changed | None = None,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.timing = ProbeTiming.of(probe, kind)
        self.target = target
        self.session = session
        self.on_change = on_change
        self.on_failure = on_failure
        self.result = kind == "liveness"
        self._successes = 0
        self._failures = 0

    async def run(self) -> None:
        await asyncio.sleep(self.timing.initial_delay)
        while True:
            ok, message = await probe_once(self.probe, self.target, self.session, self.timing.timeout)
            await self._record(ok, message)
            if self.kind == "startup" and self.result:
                return  # a startup probe stops once it succeeded
            await asyncio.sleep(self.timing.period)

    async def _record(self, ok: bool, message: str) -> None:
        if ok:
            self._successes += 1
            self._failures = 0
            if not self.result and self._successes >= self.timing.success_threshold:
                self.result = True
                await self.on_change(self.kind, True, "")
            return
        self._failures += 1
        self._successes = 0
        if self.on_failure is not None:
            await self.on_failure(self.kind, False, message)
        if self._failures >= self.timing.failure_threshold and (self.result or self.kind != "readiness"):
            self.result = False
            await self.on_change(self.kind, False, message)
