"""The operator against the sandbox API server alone (no kubelet, no Flink, no root): the paths a healthy
Flink cluster does not take. The test plays the cluster: it writes the JobManager pod a kubelet would run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flinkop.config import OperatorConfig
from flinkop.operator.app import FLINK_DEPLOYMENTS, Operator
from flinkop.reconcilers.deploy import CONFIGMAPS, DEPLOYMENTS
from flinkop.runtime import Kube, Resource, new_api_client
from flinkop.sandbox.apiserver.server import SandboxApiServer

from .helpers import PODS, eventually, example, get_or_none, reasons, status_of

JSON = dict[str, Any]
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
REPO = Path(__file__).resolve().parents[2]
NS = "default"


@pytest.fixture
async def kube() -> AsyncIterator[Kube]:
    async with SandboxApiServer(bookmark_interval=0.5, established_delay=0.02) as server:
        api_client = await new_api_client(server.kubeconfig())
        kube = Kube(api_client)
        for path in sorted((REPO / "deploy" / "crds").glob("*.yml")):
            for document in yaml.safe_load_all(path.read_text()):
                if document and document.get("kind") == "CustomResourceDefinition":
                    await kube.create(CRDS, document)
        await asyncio.sleep(0.2)
        try:
            yield kube
        finally:
            await api_client.close()


@pytest.fixture
async def operator(kube: Kube) -> AsyncIterator[Operator]:
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.reconcile.interval": "1 s",
            "kubernetes.operator.observer.progress-check.interval": "500 ms",
        }
    )
    op = Operator(kube, config, namespaces=[NS], in_cluster=False, poll_interval=0.1)
    await op.start()
    try:
        yield op
    finally:
        await op.stop()


async def status(kube: Kube, name: str) -> JSON:
    return status_of(await get_or_none(kube, FLINK_DEPLOYMENTS, name, NS))


async def test_an_unsupported_flink_version_is_only_reported(kube: Kube, operator: Operator) -> None:
    await kube.create(FLINK_DEPLOYMENTS, example("old", NS, flinkVersion="v1_14"), NS)
    found = await eventually(lambda: reasons(kube, NS, "old"), 10, "the UnsupportedFlinkVersion event")
    assert (
        found["UnsupportedFlinkVersion"]["message"]
        == "Flink version v1_14 is not supported by this operator version"
    )
    await asyncio.sleep(1)
    assert await status(kube, "old") == {}
    assert await get_or_none(kube, DEPLOYMENTS, "old", NS) is None


async def test_a_crash_looping_jobmanager_is_an_error_until_the_spec_changes(
    kube: Kube, operator: Operator
) -> None:
    await kube.create(FLINK_DEPLOYMENTS, example("crashy", NS), NS)

    async def deploying() -> JSON | None:
        current = await status(kube, "crashy")
        return current if current.get("jobManagerDeploymentStatus") == "DEPLOYING" else None

    await eventually(deploying, 10, "DEPLOYING")
    jm = await kube.get(DEPLOYMENTS, "crashy", NS)
    assert (await kube.get(CONFIGMAPS, "flink-config-crashy", NS))["metadata"]["ownerReferences"][0][
        "uid"
    ] == (jm["metadata"]["uid"])
    # what a kubelet reports for a JobManager that keeps crashing
    pod = await kube.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "crashy-jm", "labels": {"app": "crashy", "component": "jobmanager"}},
            "spec": {"containers": [{"name": "flink-main-container", "image": "flink:2.3"}]},
        },
        NS,
    )
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}
    pod["status"] = {
        "phase": "Running",
        "containerStatuses": [{"name": "flink-main-container", "state": {"waiting": waiting}}],
    }
    await kube.replace_status(PODS, pod)

    async def errored() -> JSON | None:
        current = await status(kube, "crashy")
        return current if current.get("jobManagerDeploymentStatus") == "ERROR" else None

    current = await eventually(errored, 10, "JobManager ERROR")
    error = json.loads(current["error"])
    assert error["type"] == "org.apache.flink.kubernetes.operator.exception.DeploymentFailedException"
    assert error["message"] == "back-off 10s restarting failed container"
    assert error["additionalMetadata"] == {"reason": "CrashLoopBackOff"}
    assert current["jobStatus"]["state"] == "RECONCILING"
    found = await reasons(kube, NS, "crashy")
    assert found["CrashLoopBackOff"]["type"] == "Warning"

    # nothing happens until the spec changes; then the cluster is replaced
    await asyncio.sleep(1.5)
    assert (await kube.get(DEPLOYMENTS, "crashy", NS))["metadata"]["uid"] == jm["metadata"]["uid"]
    await kube.delete(PODS, "crashy-jm", NS, grace_period=0)
    await kube.patch(FLINK_DEPLOYMENTS, "crashy", {"spec": {"restartNonce": 7}}, NS)

    async def redeployed() -> JSON | None:
        current = await status(kube, "crashy")
        replaced = await get_or_none(kube, DEPLOYMENTS, "crashy", NS)
        if replaced is None or replaced["metadata"]["uid"] == jm["metadata"]["uid"]:
            return None
        return current if current.get("observedGeneration") == 2 and "error" not in current else None

    current = await eventually(redeployed, 15, "a new cluster for the new spec")
    assert current["jobManagerDeploymentStatus"] == "DEPLOYING"
    assert current["reconciliationStatus"]["state"] == "DEPLOYED"


async def test_a_deleted_deployment_whose_spec_became_unreadable_is_still_cleaned_up(
    kube: Kube, operator: Operator
) -> None:
    """The CRD schema of a real API server would refuse the bad value; the sandbox's stores it, so the
    operator meets a spec it cannot read on a resource that already has its finalizer and a cluster."""
    await kube.create(FLINK_DEPLOYMENTS, example("unreadable", NS), NS)

    async def deployed() -> bool:
        obj = await get_or_none(kube, FLINK_DEPLOYMENTS, "unreadable", NS)
        has_finalizer = bool(((obj or {}).get("metadata") or {}).get("finalizers"))
        return has_finalizer and await get_or_none(kube, DEPLOYMENTS, "unreadable", NS) is not None

    await eventually(deployed, 20, "the finalizer added and the JobManager Deployment created")
    await kube.patch(FLINK_DEPLOYMENTS, "unreadable", {"spec": {"flinkVersion": {"not": "a version"}}}, NS)
    await kube.delete(FLINK_DEPLOYMENTS, "unreadable", NS)

    async def gone() -> bool:
        return (
            await get_or_none(kube, FLINK_DEPLOYMENTS, "unreadable", NS) is None
            and await get_or_none(kube, DEPLOYMENTS, "unreadable", NS) is None
        )

    await eventually(gone, 30, "the resource and its cluster deleted")
