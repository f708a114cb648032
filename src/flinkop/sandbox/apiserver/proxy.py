"""The API server's proxies: services/{name}/proxy and pods/{name}/proxy to pod IPs, and
pods/{name}/log streamed from the kubelet of the pod's node (as kube-apiserver does)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from flinkop.sandbox.apiserver import errors
from flinkop.sandbox.apiserver.errors import ApiError

if TYPE_CHECKING:
    from flinkop.sandbox.apiserver.server import SandboxApiServer

JSON = dict[str, Any]
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
}
_LOG_PARAMS = ("follow", "tailLines", "previous", "timestamps", "sinceSeconds", "sinceTime", "limitBytes")


def _split_name(name_port: str) -> tuple[str, str, str]:
    """`[scheme:]name[:port]` as kube-apiserver parses proxy names."""
    parts = name_port.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", parts[0], ""


class Proxy:
    def __init__(self, server: SandboxApiServer) -> None:
        self.server = server
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _get(self, group: str, plural: str, namespace: str | None, name: str) -> JSON:
        rtype = self.server.registry.get(group, "v1", plural)
        assert rtype is not None
        return self.server.objects.get(rtype, namespace, name)

    # -- targets -----------------------------------------------------------------------------------
    def service_target(self, namespace: str, name_port: str) -> tuple[str, str, int]:
        scheme, name, port = _split_name(name_port)
        service = self._get("", "services", namespace, name)
        ports = (service.get("spec") or {}).get("ports") or []
        chosen = next(
            (p for p in ports if port in (str(p.get("name", "")), str(p.get("port", ""))) and port),
            ports[0] if ports and not port else None,
        )
        if chosen is None:
            raise errors.not_found("services", "", f"{name}:{port}" if port else name)
        endpoints = self.server.store.get("/endpoints", (namespace, name)) or {}
        for subset in endpoints.get("subsets") or []:
            subset_ports = subset.get("ports") or []
            match = next(
                (p for p in subset_ports if p.get("name", "") == chosen.get("name", "")),
                subset_ports[0] if len(subset_ports) == 1 else None,
            )
            addresses = subset.get("addresses") or []
            if match is not None and addresses:
                # kube-apiserver picks a ready address at random for each proxied request
                return scheme or "http", random.choice(addresses)["ip"], int(match["port"])
        raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')

    def pod_target(self, namespace: str, name_port: str) -> tuple[str, str, int]:
        scheme, name, port = _split_name(name_port)
        pod = self._get("", "pods", namespace, name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise errors.bad_request(f'address not allowed: pod "{name}" has no IP address')
        if port and not port.isdigit():
            named = [
                p
                for c in (pod.get("spec") or {}).get("containers") or []
                for p in c.get("ports") or []
                if p.get("name") == port
            ]
            if not named:
                raise errors.bad_request(f'no such port "{port}" on pod "{name}"')
            port = str(named[0]["containerPort"])
        return scheme or "http", ip, int(port or 80)

    # -- forwarding --------------------------------------------------------------------------------
    async def forward(
        self, request: web.Request, target: tuple[str, str, int], path: str
    ) -> web.StreamResponse:
        scheme, host, port = target
        url = f"{scheme}://{host}:{port}/{path.lstrip('/')}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        try:
            async with self.session.request(
                request.method,
                url,
                params=request.rel_url.query,
                data=body or None,
                headers=headers,
                allow_redirects=False,
                ssl=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            ) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP:
                        response.headers[key] = value
                return await _relay(request, upstream, response)
        except (aiohttp.ClientError, OSError) as exc:
            raise ApiError(503, "ServiceUnavailable", f"error trying to reach service: {exc}") from None

    async def logs(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        pod = self._get("", "pods", namespace, name)
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = request.query.get("container")
        if not container:
            if len(containers) != 1:
                choices = " ".join(str(c) for c in containers)
                raise errors.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{choices}]"
                )
            container = containers[0]
        elif container not in containers:
            init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
            if container not in init:
                raise errors.bad_request(f"container {container} is not valid for pod {name}")
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise errors.bad_request(f'pod "{name}" does not have a host assigned')
        node = self._get("", "nodes", None, node_name)
        status = node.get("status") or {}
        address = next(
            (a["address"] for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None
        )
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        if not address or not port:
            raise ApiError(503, "ServiceUnavailable", f'node "{node_name}" has no kubelet endpoint')
        query = {k: request.query[k] for k in _LOG_PARAMS if k in request.query}
        url = f"http://{address}:{port}/containerLogs/{namespace}/{name}/{container}"
        try:
            async with self.session.get(
                url, params=query, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
            ) as upstream:
                if upstream.status >= 400:
                    text = await upstream.text()
                    raise errors.bad_request(text.strip() or f"kubelet answered {upstream.status}")
                response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
                return await _relay(request, upstream, response)
        except (aiohttp.ClientError, OSError) as exc:
            raise ApiError(503, "ServiceUnavailable", f"error talking to the kubelet: {exc}") from None


async def _relay(
    request: web.Request, upstream: aiohttp.ClientResponse, response: web.StreamResponse
) -> web.StreamResponse:
    """Stream the upstream body as it arrives (followed logs, watch-like endpoints)."""
    await response.prepare(request)
    async for chunk in upstream.content.iter_any():
        await response.write(chunk)
    await response.write_eof()
    return response
