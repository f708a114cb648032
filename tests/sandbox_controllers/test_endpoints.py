"""The Endpoints controller over real HTTP: ready and not-ready addresses, port mapping by number and
by container port name, packing into subsets, labels, and the lifecycle with the Service."""

from __future__ import annotations

import asyncio
from typing import Any

from flinkop.runtime.client import NotFound
from flinkop.runtime.kube import Kube
from flinkop.sandbox.controllers import ControllerManager
from flinkop.sandbox.controllers.common import DEPLOYMENTS, ENDPOINTS, PODS, SERVICES
from tests.sandbox_controllers.conftest import (
    NS,
    FakeKubelet,
    deployment,
    eventually,
    rolled_out,
    set_pod_status,
)

JSON = dict[str, Any]


def pod(name: str, *, app: str = "web", named_port: bool = True, **spec: Any) -> JSON:
    ports = [{"name": "metrics", "containerPort": 9100}]
    if named_port:
        ports.insert(0, {"name": "http", "containerPort": 8080})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1", "ports": ports}], **spec},
    }


def service(name: str, selector: dict[str, str] | None, **spec: Any) -> JSON:
    body: JSON = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "labels": {"tier": "frontend"}},
        "spec": {
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "metrics", "port": 9090, "targetPort": 9100},
            ],
            **spec,
        },
    }
    if selector is not None:
        body["spec"]["selector"] = selector
    return body


def address(p: JSON, **extra: Any) -> JSON:
    m = p["metadata"]
    return {
        "ip": p["status"]["podIP"],
        **extra,
        "targetRef": {"kind": "Pod", "namespace": NS, "name": m["name"], "uid": m["uid"]},
    }


HTTP = {"name": "http", "port": 8080, "protocol": "TCP"}
METRICS = {"name": "metrics", "port": 9100, "protocol": "TCP"}


async def endpoints(kube: Kube, name: str) -> JSON:
    try:
        return await kube.get(ENDPOINTS, name, NS)
    except NotFound:
        raise AssertionError(f"no endpoints {name}") from None


async def test_endpoints_follow_pod_readiness_ports_and_labels(kube: Kube, kcm: ControllerManager) -> None:
    svc = await kube.create(SERVICES, service("web", {"app": "web"}), NS)
    a = await kube.create(PODS, pod("a", hostname="a", subdomain="web", nodeName="sandbox"), NS)
    b = await kube.create(PODS, pod("b"), NS)
    c = await kube.create(PODS, pod("c"), NS)  # never gets an IP
    d = await kube.create(PODS, pod("d", named_port=False), NS)
    await kube.create(PODS, pod("other", app="other"), NS)
    a = await set_pod_status(kube, a, ip="10.244.1.1")
    b = await set_pod_status(kube, b, ready=False, ip="10.244.1.2")
    d = await set_pod_status(kube, d, ip="10.244.1.4")
    assert c["metadata"]["name"] == "c"

    async def first() -> JSON:
        ep = await endpoints(kube, "web")
        # `d` has no port named http, so the two ports are offered by different sets of addresses.
        assert ep.get("subsets") == [
            {
                "addresses": [address(a, hostname="a", nodeName="sandbox")],
                "notReadyAddresses": [address(b)],
                "ports": [HTTP],
            },
            {
                "addresses": [address(a, hostname="a", nodeName="sandbox"), address(d)],
                "notReadyAddresses": [address(b)],
                "ports": [METRICS],
            },
        ], ep.get("subsets")
        return ep

    ep = await eventually(first)
    assert ep["metadata"]["labels"] == {"tier": "frontend"}
    assert not ep["metadata"].get("ownerReferences")
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]
    assert svc["spec"]["clusterIP"] != "None"

    # b turns ready, d goes away: one subset with both ports.
    b = await set_pod_status(kube, b, ready=True)
    await kube.delete(PODS, "d", NS)

    async def second() -> None:
        ep = await endpoints(kube, "web")
        assert ep.get("subsets") == [
            {
                "addresses": [address(a, hostname="a", nodeName="sandbox"), address(b)],
                "ports": [HTTP, METRICS],
            }
        ], ep.get("subsets")

    await eventually(second)

    # a's labels stop matching; b stops being ready.
    await kube.patch(PODS, "a", {"metadata": {"labels": {"app": "gone"}}}, NS)
    await set_pod_status(kube, b, ready=False)

    async def third() -> None:
        ep = await endpoints(kube, "web")
        assert ep.get("subsets") == [{"notReadyAddresses": [address(b)], "ports": [HTTP, METRICS]}], ep.get(
            "subsets"
        )

    await eventually(third)

    # Someone deletes the Endpoints: it comes back. The Service goes: so does the Endpoints.
    await kube.delete(ENDPOINTS, "web", NS)
    await eventually(third)
    await kube.delete(SERVICES, "web", NS)

    async def gone() -> None:
        try:
            await kube.get(ENDPOINTS, "web", NS)
        except NotFound:
            return
        raise AssertionError("endpoints still there")

    await eventually(gone)


async def test_services_without_selector_headless_and_publish_not_ready(
    kube: Kube, kcm: ControllerManager
) -> None:
    manual = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "manual", "namespace": NS},
        "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
    }
    await kube.create(SERVICES, service("manual", None), NS)
    await kube.create(ENDPOINTS, manual, NS)
    headless = service("db", {"app": "db"}, clusterIP="None", ports=[])
    await kube.create(SERVICES, headless, NS)
    await kube.create(SERVICES, service("all", {"app": "db"}, publishNotReadyAddresses=True), NS)
    ready = await set_pod_status(kube, await kube.create(PODS, pod("db-0", app="db"), NS), ip="10.244.2.1")
    starting = await set_pod_status(
        kube, await kube.create(PODS, pod("db-1", app="db"), NS), ready=False, ip="10.244.2.2"
    )

    async def headless_endpoints() -> JSON:
        ep = await endpoints(kube, "db")
        assert ep.get("subsets") == [
            {"addresses": [address(ready)], "notReadyAddresses": [address(starting)]}
        ], ep.get("subsets")
        return ep

    ep = await eventually(headless_endpoints)
    assert ep["metadata"]["labels"] == {"tier": "frontend", "service.kubernetes.io/headless": ""}

    async def published() -> None:
        ep = await endpoints(kube, "all")
        assert ep.get("subsets") == [
            {"addresses": [address(ready), address(starting)], "ports": [HTTP, METRICS]}
        ], ep.get("subsets")

    await eventually(published)
    await asyncio.sleep(0.2)
    left_alone = await kube.get(ENDPOINTS, "manual", NS)  # no selector: its endpoints are the user's
    assert left_alone["subsets"] == manual["subsets"]


async def test_endpoints_of_a_deployment(kube: Kube, kcm: ControllerManager, kubelet: FakeKubelet) -> None:
    await kube.create(SERVICES, service("front", {"app": "front"}), NS)
    body = deployment("front", 2)
    body["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    await kube.create(DEPLOYMENTS, body, NS)
    await eventually(lambda: rolled_out(kube, "front", 2))

    async def two_ready() -> None:
        ep = await endpoints(kube, "front")
        [subset] = ep.get("subsets") or [{}]
        assert len(subset.get("addresses") or []) == 2 and subset.get("ports") == [HTTP, METRICS], subset

    await eventually(two_ready)
