"""A sandbox API server with the flinkop CRDs, a Kube client over it, and helpers to write FlinkDeployments
with a given status."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes_asyncio import client

from flinkop.api import FlinkDeployment
from flinkop.api.base import to_wire
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.runtime import Conflict, Kube, Resource
from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests import waiting

JSON = dict[str, Any]
T = TypeVar("T")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def kube(apiserver: SandboxApiServer, api: client.ApiClient) -> AsyncIterator[Kube]:
    kube = Kube(api)
    for path in sorted((REPO / "deploy" / "crds").glob("*.yml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                await kube.create(CRDS, document)
    await eventually(lambda: _served(kube), 10, "the FlinkDeployment CRD served")
    yield kube


async def _served(kube: Kube) -> bool:
    await kube.list(FLINK_DEPLOYMENTS, "default")
    return True


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    return await waiting.eventually(probe, timeout, what, interval=0.1)


async def put_deployment(kube: Kube, model: FlinkDeployment) -> JSON:
    """Create the FlinkDeployment, then write its status through the status subresource."""
    body = to_wire(model)
    status = body.pop("status", None)
    created = await kube.create(FLINK_DEPLOYMENTS, body)
    if not status:
        return created
    meta = created["metadata"]
    for _ in range(10):  # an operator under test may write the object (its finalizer) in between
        try:
            return await kube.replace_status(FLINK_DEPLOYMENTS, {**created, "status": status})
        except Conflict:
            created = await kube.get(FLINK_DEPLOYMENTS, meta["name"], meta.get("namespace"))
    raise AssertionError(f"could not write the status of {meta['name']}")


async def set_lifecycle(kube: Kube, name: str, namespace: str, state: str) -> JSON:
    current = await kube.get(FLINK_DEPLOYMENTS, name, namespace)
    current.setdefault("status", {})["lifecycleState"] = state
    return await kube.replace_status(FLINK_DEPLOYMENTS, current)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
