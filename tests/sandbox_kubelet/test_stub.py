"""The kubelet's benchmark mode: a `flink:*` pod runs no process and gets no network namespace; the
in-process REST stub answers for it, through the API server's service proxy as for a real JobManager."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from flinkop.flink.rest import FlinkRestClient, RestEndpoint
from flinkop.runtime.kube import Resource
from flinkop.sandbox.kubelet.kubelet import Kubelet
from flinkop.sandbox.kubelet.stub import flatten, flink_version, is_stub_pod
from tests.sandbox_kubelet.conftest import CONFIGMAPS, Cluster, container_status, running_and_ready

SERVICES = Resource("", "v1", "services", kind="Service")
ENDPOINTS = Resource("", "v1", "endpoints", kind="Endpoints")
JOB_ID = "0123456789abcdef0123456789abcdef"
CONFIG_YAML = f"""\
$internal:
  pipeline:
    job-id: {JOB_ID}
parallelism:
  default: 4
taskmanager:
  numberOfTaskSlots: 2
rest:
  port: 8081
"""


@pytest.fixture
async def stub_cluster(cluster: Cluster) -> AsyncIterator[Cluster]:
    """The suite's cluster with its kubelet replaced by one in benchmark mode."""
    await cluster.kubelet.stop()
    old = cluster.kubelet
    config = dataclasses.replace(old.config, stub_images=("flink:*",))
    cluster.kubelet = Kubelet(cluster.kube, cluster.network, old.images, config)
    await cluster.kubelet.start()
    yield cluster


def jobmanager_pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "demo"}},
        "spec": {
            "containers": [
                {
                    "name": "flink-main-container",
                    "image": "flink:2.3",
                    "args": ["jobmanager"],
                    "ports": [{"name": "rest", "containerPort": 8081}],
                    "volumeMounts": [{"name": "flink-config-volume", "mountPath": "/opt/flink/conf"}],
                    "startupProbe": {"httpGet": {"path": "/config", "port": "rest"}, "periodSeconds": 1},
                }
            ],
            "volumes": [{"name": "flink-config-volume", "configMap": {"name": "flink-config-demo"}}],
            "terminationGracePeriodSeconds": 5,
        },
    }


async def test_stub_jobmanager_runs_and_answers_through_the_service_proxy(stub_cluster: Cluster) -> None:
    cluster = stub_cluster
    kube = cluster.kube
    await kube.create(
        CONFIGMAPS,
        {"metadata": {"name": "flink-config-demo"}, "data": {"config.yaml": CONFIG_YAML}},
        "default",
    )
    await kube.create(Resource("", "v1", "pods", kind="Pod"), jobmanager_pod("demo-jm"))
    pod = await cluster.wait_pod("demo-jm", running_and_ready, what="Running and Ready")
    ip = pod["status"]["podIP"]
    status = container_status(pod)
    assert status["started"] is True and status["imageID"] == "stub://flink:2.3", status
    assert ip in cluster.network.addresses(), "the stub pod's address is on the bridge"
    assert cluster.network.sandboxes() == [], "a stub pod gets no network namespace"
    stubs = cluster.kubelet.stubs
    assert stubs is not None

    await kube.create(
        SERVICES,
        {"metadata": {"name": "demo-rest"}, "spec": {"ports": [{"name": "rest", "port": 8081}]}},
        "default",
    )
    await kube.create(
        ENDPOINTS,
        {
            "metadata": {"name": "demo-rest"},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "rest", "port": 8081}]}],
        },
        "default",
    )
    client = FlinkRestClient(RestEndpoint.via_service_proxy(kube, "default", "demo-rest", 8081), timeout=5)
    try:
        assert (await client.config()).flink_version == "2.3.0"
        jobs = await client.jobs_overview()
        assert [(j.jid, j.state, j.all_tasks_running) for j in jobs] == [(JOB_ID, "RUNNING", True)]
        assert (await client.job_details(JOB_ID)).all_vertices_running
        checkpoints = await client.checkpoints(JOB_ID)
        assert checkpoints.counts.total == 0 and checkpoints.latest.completed is None
        assert len(await client.taskmanagers()) == 2  # parallelism 4 / 2 slots
        assert (await client.overview()).jobs_running == 1
        assert (await client.exceptions(JOB_ID)).root_exception is None
    finally:
        await client.close()
    assert stubs.requests > 0 and not stubs.unknown, stubs.unknown

    await kube.delete(Resource("", "v1", "pods", kind="Pod"), "demo-jm", "default")
    await cluster.wait_gone("demo-jm")

    async def released() -> bool:
        return ip not in cluster.network.addresses() and not stubs.jobmanagers

    await cluster.until(released, what="stub address and listener released")


def test_stub_helpers() -> None:
    pod = {"spec": {"containers": [{"image": "flink:1.20"}], "initContainers": [{"image": "busybox"}]}}
    assert not is_stub_pod(pod, ("flink:*",))
    assert is_stub_pod(pod, ("flink:*", "busybox"))
    assert not is_stub_pod(pod, ())
    assert flink_version("flink:1.20.5-java17") == "1.20.5"
    assert flink_version("registry/flink:2.3") == "2.3.0"
    assert flatten({"a": {"b": 1, "c": True}, "d": [1, 2]}) == {"a.b": "1", "a.c": "true", "d": "1;2"}
