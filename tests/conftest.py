"""Shared fixtures: an in-process sandbox API server and kubernetes-asyncio clients over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from flinkop.sandbox.apiserver.server import SandboxApiServer

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
G, V, P, KIND = "example.com", "v1", "widgets", "Widget"


def widget(
    name: str,
    ns: str = "default",
    labels: dict[str, str] | None = None,
    finalizers: list[str] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": f"{G}/{V}", "kind": KIND, "metadata": meta, "spec": spec or {"size": 1}}


@pytest.fixture
async def apiserver() -> AsyncIterator[SandboxApiServer]:
    """A fresh server per test: fast to start, nothing leaks between tests."""
    async with SandboxApiServer(bookmark_interval=0.5, established_delay=0.02) as server:
        yield server


@pytest.fixture
async def api(apiserver: SandboxApiServer) -> AsyncIterator[client.ApiClient]:
    api_client = await config.new_client_from_config_dict(apiserver.kubeconfig())
    try:
        yield api_client
    finally:
        await api_client.close()


@pytest.fixture
async def widgets(apiserver: SandboxApiServer, api: client.ApiClient) -> client.CustomObjectsApi:
    """The Widget CRD registered and Established; returns a CustomObjectsApi."""
    import asyncio

    ext = client.ApiextensionsV1Api(api)
    await ext.create_custom_resource_definition(WIDGET_CRD)
    for _ in range(100):
        crd = await ext.read_custom_resource_definition("widgets.example.com")
        conditions = {c.type: c.status for c in (crd.status.conditions or [])}
        if conditions.get("Established") == "True":
            break
        await asyncio.sleep(0.02)
    return client.CustomObjectsApi(api)
