"""The kubelet's HTTP endpoint for container logs, which the API server's `pods/{name}/log` proxies to:
`GET /containerLogs/{namespace}/{pod}/{container}` with follow, tailLines, previous, timestamps,
sinceSeconds, sinceTime and limitBytes, as `kubectl logs` uses them."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import structlog
from aiohttp import web

from flinkop.sandbox.kubelet.logfile import LogLine, LogReader, parse_timestamp

FindLog = Callable[[str, str, str, bool], tuple[Path, Callable[[], bool]]]  # raises LookupError
FOLLOW_POLL = 0.1
log = structlog.get_logger("flinkop.sandbox.kubelet.logs")


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")


def _int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"invalid {name}: {value!r}") from None


class LogServer:
    def __init__(self, host: str, port: int, find: FindLog) -> None:
        self.host = host
        self.port = port
        self.find = find
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        app.router.add_get("/healthz", self.healthz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])
        log.info("kubelet log endpoint listening", host=self.host, port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        query = request.query
        try:
            path, running = self.find(
                info["namespace"], info["pod"], info["container"], _flag(query.get("previous"))
            )
        except LookupError as exc:
            return web.Response(status=400, text=str(exc.args[0] if exc.args else exc))
        follow = _flag(query.get("follow"))
        timestamps = _flag(query.get("timestamps"))
        tail = _int(query.get("tailLines"), "tailLines")
        limit = _int(query.get("limitBytes"), "limitBytes")
        since = self._since(query.get("sinceSeconds"), query.get("sinceTime"))
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        stream = _Output(response, timestamps, since, limit)
        reader = LogReader(path)
        alive = running()
        lines = reader.read(final=not alive)
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        try:
            await stream.write(lines)
            while follow and alive and not stream.full:
                await asyncio.sleep(FOLLOW_POLL)
                alive = running()
                await stream.write(reader.read(final=not alive))
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        await response.write_eof()
        return response

    @staticmethod
    def _since(seconds: str | None, time: str | None) -> dt.datetime | None:
        value = _int(seconds, "sinceSeconds")
        if value is not None:
            return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=value)
        if time:
            try:
                return parse_timestamp(time)
            except ValueError:
                raise web.HTTPBadRequest(text=f"invalid sinceTime: {time!r}") from None
        return None


class _Output:
    def __init__(
        self, response: web.StreamResponse, timestamps: bool, since: dt.datetime | None, limit: int | None
    ) -> None:
        self.response = response
        self.timestamps = timestamps
        self.since = since
        self.remaining = limit
        self.full = False

    async def write(self, lines: list[LogLine]) -> None:
        chunk = bytearray()
        for line in lines:
            if self.since is not None and parse_timestamp(line.timestamp) < self.since:
                continue
            data = (line.timestamp.encode() + b" " if self.timestamps else b"") + line.content
            if self.remaining is not None:
                data = data[: self.remaining]
                self.remaining -= len(data)
            chunk += data
            if self.remaining is not None and self.remaining <= 0:
                self.full = True
                break
        if chunk:
            await self.response.write(bytes(chunk))
