"""Client mistakes get kube-apiserver's 4xx answers; none is a 500 and none loses a stored object."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flinkop.sandbox.apiserver.server import SandboxApiServer

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "metadata",
                    "spec",
                    "status",
                    "kind",
                    "apiVersion",
                    "name",
                    "data",
                    "op",
                    "path",
                    "value",
                    "finalizers",
                    "labels",
                    "resourceVersion",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "text/plain",
    ]
)
TARGETS = st.sampled_from(
    [
        ("POST", "/api/v1/namespaces/default/configmaps"),
        ("PUT", "/api/v1/namespaces/default/configmaps/keep"),
        ("PATCH", "/api/v1/namespaces/default/configmaps/keep"),
        ("PATCH", "/api/v1/namespaces/default/configmaps/keep?fieldManager=fuzz"),
        ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale"),
        ("PUT", "/apis/apps/v1/namespaces/default/deployments/web/status"),
        ("POST", "/apis/apps/v1/namespaces/default/deployments"),
        ("DELETE", "/api/v1/namespaces/default/configmaps/absent"),
        ("POST", "/api/v1/namespaces"),
        ("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
        ("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(b"),
        ("GET", "/api/v1/namespaces/default/configmaps?watch=maybe"),
        ("GET", "/api/v1/namespaces/default/configmaps?limit=x"),
        ("GET", "/api/v1/namespaces/default/configmaps?continue=bm90LWEtdG9rZW4"),
        ("GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.unknown=1"),
        ("POST", "/api/v1/namespaces/default/nothings"),
    ]
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        },
    },
}


@pytest.fixture
async def seeded(apiserver: SandboxApiServer) -> SandboxApiServer:
    async with aiohttp.ClientSession(apiserver.url) as http:
        for path, body in [
            ("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "keep"}, "data": {"k": "v"}}),
            ("/apis/apps/v1/namespaces/default/deployments", DEPLOYMENT),
        ]:
            async with http.post(path, json=body) as response:
                assert response.status == 201
    return apiserver


async def _snapshot(http: aiohttp.ClientSession) -> Any:
    async with http.get("/api/v1/namespaces/default/configmaps/keep") as response:
        assert response.status == 200
        return await response.json()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=TARGETS, content_type=CONTENT_TYPES, body=JSON_VALUES | st.binary(max_size=64))
async def test_random_requests_never_get_500(
    seeded: SandboxApiServer, target: tuple[str, str], content_type: str, body: Any
) -> None:
    method, path = target
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with aiohttp.ClientSession(seeded.url) as http:
        before = await _snapshot(http)
        async with http.request(method, path, data=raw, headers={"Content-Type": content_type}) as response:
            text = await response.text()
            assert response.status < 500, f"{method} {path} [{content_type}] {raw[:200]!r} -> {text[:300]}"
            if response.status >= 400:
                status = json.loads(text)
                assert status["kind"] == "Status" and status["code"] == response.status, text
                assert status["reason"], text
        after = await _snapshot(http)
        if method in ("PUT", "PATCH") and "/keep" in path and response.status < 300:
            return  # a valid write may change it
        assert after == before


async def _call(
    server: SandboxApiServer,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.request(method, path, data=body, headers={"Content-Type": content_type}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_known_mistakes_get_kube_apiserver_answers(seeded: SandboxApiServer) -> None:
    cases: list[tuple[str, str, bytes | None, str, int, str]] = [
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            b"{not json",
            "application/json",
            400,
            "BadRequest",
        ),
        ("POST", "/api/v1/namespaces/default/configmaps", b"a: [b", "application/yaml", 400, "BadRequest"),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}).encode(),
            "application/json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json.dumps({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "s"}}).encode(),
            "application/json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            json.dumps({"metadata": {}}).encode(),
            "application/json",
            422,
            "Invalid",
        ),
        ("POST", "/api/v1/namespaces/default/widgets", b"{}", "application/json", 404, "NotFound"),
        (
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            json.dumps({"metadata": {"name": "a"}}).encode(),
            "application/json",
            404,
            "NotFound",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/keep",
            b"{}",
            "application/json-patch+json",
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/keep",
            b"{}",
            "text/plain",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/keep",
            b"{}",
            "application/apply-patch+yaml",
            400,
            "BadRequest",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/configmaps/keep",
            json.dumps({"metadata": {"name": "other"}}).encode(),
            "application/json",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods?fieldSelector=spec.bogus%3D1",
            None,
            "application/json",
            400,
            "BadRequest",
        ),
        ("GET", "/api/v1/namespaces/default/configmaps/absent", None, "application/json", 404, "NotFound"),
    ]
    for method, path, body, ctype, code, reason in cases:
        status, answer = await _call(seeded, method, path, body, ctype)
        assert (status, answer.get("reason")) == (code, reason), (method, path, body, answer)
        assert answer["kind"] == "Status" and answer["status"] == "Failure"
