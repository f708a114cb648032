"""Service and pod proxies, pod logs through the node's kubelet endpoint, bindings, and HTTPS
for in-cluster clients."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio import client, config

from flinkop.sandbox.apiserver.server import SandboxApiServer
from flinkop.sandbox.apiserver.tls import create_serving_certificate


@pytest.fixture
async def backend() -> AsyncIterator[int]:
    """An HTTP server standing in for a pod's process, on 127.0.0.1."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "body": body.decode(),
                "auth": request.headers.get("Authorization"),
            },
            headers={"X-Backend": "yes"},
        )

    async def container_logs(request: web.Request) -> web.Response:
        info = request.match_info
        return web.Response(
            text=f"log of {info['ns']}/{info['pod']}/{info['container']} "
            f"tail={request.query.get('tailLines')}\n"
        )

    app = web.Application()
    app.router.add_route("GET", "/containerLogs/{ns}/{pod}/{container}", container_logs)
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port
    await runner.cleanup()


async def _call(server: SandboxApiServer, method: str, path: str, **kw: Any) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession(server.url) as http, http.request(method, path, **kw) as response:
        text = await response.text()
        try:
            parsed: Any = await response.json(content_type=None)
        except ValueError:
            parsed = text
        return response.status, parsed, response.headers


async def test_service_proxy_reaches_a_ready_endpoint(
    apiserver: SandboxApiServer, api: client.ApiClient, backend: int
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
    )
    status, body, _ = await _call(apiserver, "GET", "/api/v1/namespaces/default/services/web:http/proxy/")
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    assert 'no endpoints available for service "web"' in body["message"]

    await core.create_namespaced_endpoints(
        "default",
        {
            "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": backend}]}],
        },
    )
    for path in (
        "/api/v1/namespaces/default/services/web:http/proxy/jobs/overview",
        "/api/v1/namespaces/default/services/web:80/proxy/jobs/overview",
        "/api/v1/namespaces/default/services/http:web:http/proxy/jobs/overview",
    ):
        status, body, headers = await _call(
            apiserver, "POST", path + "?a=1", data=b'{"x": 1}', headers={"Authorization": "Bearer t"}
        )
        assert status == 200, body
        assert body == {
            "method": "POST",
            "path": "/jobs/overview",
            "query": {"a": "1"},
            "body": '{"x": 1}',
            "auth": None,
        }  # the API server's credentials are not passed on
        assert headers["X-Backend"] == "yes"
    status, body, _ = await _call(apiserver, "GET", "/api/v1/namespaces/default/services/nope/proxy/")
    assert status == 404


async def test_pod_proxy_binding_and_logs(
    apiserver: SandboxApiServer, api: client.ApiClient, backend: int
) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p1"},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "python:3.11",
                        "ports": [{"name": "web", "containerPort": backend}],
                    }
                ]
            },
        },
    )
    status, body, _ = await _call(apiserver, "GET", "/api/v1/namespaces/default/pods/p1/log")
    assert status == 400 and "does not have a host assigned" in body["message"]

    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "p1"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "sandbox"},
    }
    status, body, _ = await _call(
        apiserver, "POST", "/api/v1/namespaces/default/pods/p1/binding", json=binding
    )
    assert status == 201, body
    pod = await core.read_namespaced_pod("p1", "default")
    assert pod.spec.node_name == "sandbox"
    assert [(c.type, c.status) for c in pod.status.conditions] == [("PodScheduled", "True")]
    status, body, _ = await _call(
        apiserver, "POST", "/api/v1/namespaces/default/pods/p1/binding", json=binding
    )
    assert status == 409 and "already assigned" in body["message"]

    await core.patch_namespaced_pod_status("p1", "default", {"status": {"podIP": "127.0.0.1"}})
    status, body, _ = await _call(apiserver, "GET", "/api/v1/namespaces/default/pods/p1:web/proxy/x")
    assert status == 200 and body["path"] == "/x"

    await core.create_node({"metadata": {"name": "sandbox"}})
    await core.patch_node_status(
        "sandbox",
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": backend}},
            }
        },
    )
    log = await core.read_namespaced_pod_log("p1", "default", tail_lines=5)
    assert log == "log of default/p1/main tail=5\n"
    status, body, _ = await _call(apiserver, "GET", "/api/v1/namespaces/default/pods/p1/log?container=other")
    assert status == 400 and "not valid for pod p1" in body["message"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_https_listener_serves_in_cluster_clients(tmp_path: Path) -> None:
    cert = create_serving_certificate(
        tmp_path / "pki", ["kubernetes.default.svc", "localhost"], ["127.0.0.1"]
    )
    server = SandboxApiServer()
    port = _free_port()
    server.add_secure_listener("127.0.0.1", port, cert)
    async with server:
        assert server.secure_urls == [f"https://127.0.0.1:{port}"]
        token = tmp_path / "token"
        token.write_text("any-token")
        configuration = client.Configuration()
        config.load_incluster_config(
            client_configuration=configuration,
            token_filename=str(token),
            cert_filename=str(cert.ca_cert),
            environ={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(port)},
        )
        async with client.ApiClient(configuration) as api:
            namespaces = await client.CoreV1Api(api).list_namespace()
            assert "default" in [n.metadata.name for n in namespaces.items]
    # The same files are reused when the names are unchanged, so clients keep trusting the CA.
    again = create_serving_certificate(
        tmp_path / "pki", ["kubernetes.default.svc", "localhost"], ["127.0.0.1"]
    )
    assert again.ca_cert.read_bytes() == cert.ca_cert.read_bytes()
