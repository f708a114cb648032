"""Pods through their life on the process kubelet: running with their own IP, logs through the API
server, probes, restarts with back-off, restartPolicy Never, init containers, unknown images."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from flinkop.sandbox.kubelet.node import LEASES, NODES
from tests.sandbox_kubelet.conftest import (
    CONFIGMAPS,
    Cluster,
    condition,
    container_status,
    kubectl,
    pod_logs,
    python_container,
    running_and_ready,
)

HTTP_SERVER: dict[str, Any] = {
    "name": "web",
    "image": "python:3.11",
    "command": ["python3", "-m", "http.server", "8080"],
}


async def _get(url: str, attempts: int = 50) -> int:
    for _ in range(attempts):
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                return response.status
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no answer from {url}")


async def test_pods_run_with_their_own_ip_and_serve_logs(cluster: Cluster) -> None:
    await cluster.create_pod("web-a", [HTTP_SERVER])
    await cluster.create_pod("web-b", [HTTP_SERVER])  # the same port: each pod has its own network
    a = await cluster.wait_pod("web-a", running_and_ready, what="Running+Ready")
    b = await cluster.wait_pod("web-b", running_and_ready, what="Running+Ready")
    ip_a, ip_b = a["status"]["podIP"], b["status"]["podIP"]
    assert ip_a != ip_b and ip_a.startswith("10.247.") and ip_b.startswith("10.247.")
    assert a["spec"]["nodeName"] == "sandbox"
    assert condition(a, "PodScheduled") == "True" and condition(a, "Initialized") == "True"
    status = container_status(a, "web")
    assert status["ready"] and status["started"] and status["restartCount"] == 0
    assert "running" in status["state"] and status["containerID"]

    assert await _get(f"http://{ip_a}:8080/") == 200
    assert await _get(f"http://{ip_b}:8080/hello-b") == 404

    # kubectl logs goes to the API server, which proxies to the kubelet's containerLogs endpoint
    logs = await pod_logs(cluster, "web-b")
    assert '"GET /hello-b HTTP/1.1" 404' in logs
    assert "/hello-b" not in await pod_logs(cluster, "web-a")
    stamped = await pod_logs(cluster, "web-b", "--timestamps", "--tail=1")
    assert len(stamped.strip().splitlines()) == 1 and stamped.startswith("20")

    code, out, _ = await kubectl(
        cluster, "get", "node", "sandbox", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    )
    assert code == 0 and out == "True"
    assert await pod_logs(cluster, "web-b", "--limit-bytes=5") == "10.24"

    node = await cluster.kube.get(NODES, "sandbox")
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["Ready"] == "True" and conditions["MemoryPressure"] == "False"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == cluster.kubelet.log_server.port
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "sandbox"
    lease = await cluster.kube.get(LEASES, "sandbox", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "sandbox" and lease["spec"]["renewTime"]


async def test_logs_follow_until_the_container_exits(cluster: Cluster) -> None:
    script = "import time\nfor i in range(5):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"
    await cluster.create_pod("ticker", [python_container("main", script)], restartPolicy="Never")
    await cluster.wait_pod("ticker", lambda p: "running" in container_status(p).get("state", {}))
    out = await pod_logs(cluster, "ticker", "-f")
    assert [line for line in out.splitlines() if line] == [f"tick {i}" for i in range(5)]


async def test_readiness_probe_gates_ready(cluster: Cluster) -> None:
    # ready only once /data/ready exists: an exec probe runs inside the pod's mounts (an emptyDir here)
    script = "import pathlib, time\ntime.sleep(1.5)\npathlib.Path('/data/ready').touch()\ntime.sleep(600)\n"
    probe = {
        "exec": {
            "command": [
                "python3",
                "-c",
                "import os, sys; sys.exit(0 if os.path.exists('/data/ready') else 1)",
            ]
        },
        "periodSeconds": 1,
    }
    container = python_container(
        "main", script, readinessProbe=probe, volumeMounts=[{"name": "data", "mountPath": "/data"}]
    )
    await cluster.create_pod("gated", [container], volumes=[{"name": "data", "emptyDir": {}}])
    pod = await cluster.wait_pod("gated", lambda p: p["status"].get("phase") == "Running")
    assert condition(pod, "Ready") == "False"
    assert container_status(pod)["ready"] is False
    ready = await cluster.wait_pod(
        "gated", running_and_ready, timeout=10, what="Ready after the probe passes"
    )
    assert condition(ready, "ContainersReady") == "True"


async def test_startup_probe_holds_back_started_and_ready(cluster: Cluster) -> None:
    script = (
        "import pathlib, time\ntime.sleep(1.2)\npathlib.Path('/tmp/started-probe').touch()\ntime.sleep(600)\n"
    )
    check = "import os, sys; sys.exit(0 if os.path.exists('/tmp/started-probe') else 1)"
    probe = {"exec": {"command": ["python3", "-c", check]}, "periodSeconds": 1, "failureThreshold": 10}
    scratch = [{"name": "tmp", "mountPath": "/tmp"}]  # a private /tmp over the host's (and the state dir)
    container = python_container("main", script, startupProbe=probe, volumeMounts=scratch)
    await cluster.create_pod("slow-start", [container], volumes=[{"name": "tmp", "emptyDir": {}}])
    pod = await cluster.wait_pod("slow-start", lambda p: "running" in container_status(p).get("state", {}))
    assert container_status(pod)["started"] is False and container_status(pod)["ready"] is False
    pod = await cluster.wait_pod("slow-start", running_and_ready, timeout=10, what="started and ready")
    assert container_status(pod)["started"] is True


async def test_http_readiness_probe(cluster: Cluster) -> None:
    web = {**HTTP_SERVER, "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}}
    web["ports"] = [{"name": "http", "containerPort": 8080}]
    tcp = python_container(
        "tcp",
        "import socket, time\ntime.sleep(1)\ns = socket.socket()\ns.bind(('0.0.0.0', 9000))\ns.listen()\n"
        "time.sleep(600)\n",
        readinessProbe={"tcpSocket": {"port": 9000}, "periodSeconds": 1},
    )
    await cluster.create_pod("probed", [web, tcp])
    pod = await cluster.wait_pod("probed", running_and_ready, timeout=10, what="Ready")
    assert all(s["ready"] for s in pod["status"]["containerStatuses"])


async def test_crashing_container_restarts_with_backoff(cluster: Cluster) -> None:
    script = "import sys\nprint('crashing now', flush=True)\nsys.exit(3)\n"
    started = time.monotonic()
    await cluster.create_pod("crasher", [python_container("main", script)])

    def restarted_twice(pod: dict[str, Any]) -> bool:
        return int(container_status(pod).get("restartCount", 0)) >= 2

    pod = await cluster.wait_pod("crasher", restarted_twice, timeout=20, what="two restarts")
    assert time.monotonic() - started > 0.9  # the first restart is immediate, the second waits 1s (base)
    status = container_status(pod)
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert pod["status"]["phase"] == "Running"  # restartPolicy Always keeps the pod Running
    pod = await cluster.wait_pod(
        "crasher",
        lambda p: (container_status(p)["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff",
        what="CrashLoopBackOff",
    )
    assert "back-off" in container_status(pod)["state"]["waiting"]["message"]
    assert "crashing now" in await pod_logs(cluster, "crasher", "--previous")


async def test_restart_policy_never_fails_with_the_exit_code(cluster: Cluster) -> None:
    await cluster.create_pod(
        "fails", [python_container("main", "import sys; sys.exit(7)")], restartPolicy="Never"
    )
    await cluster.create_pod("works", [python_container("main", "print('done')")], restartPolicy="Never")
    failed = await cluster.wait_pod("fails", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    terminated = container_status(failed)["state"]["terminated"]
    assert terminated["exitCode"] == 7 and terminated["reason"] == "Error"
    assert container_status(failed)["restartCount"] == 0
    assert condition(failed, "Ready") == "False"
    done = await cluster.wait_pod(
        "works", lambda p: p["status"].get("phase") == "Succeeded", what="Succeeded"
    )
    assert container_status(done)["state"]["terminated"]["reason"] == "Completed"
    assert await pod_logs(cluster, "works") == "done\n"
    # the network sandbox goes once every container has exited; the pod IP stays in the status
    await cluster.until(lambda: _no_sandbox(cluster, done["metadata"]["uid"]), what="sandbox removed")
    assert done["status"]["podIP"]


async def _no_sandbox(cluster: Cluster, uid: str) -> bool:
    return cluster.network.sandbox(uid) is None


async def test_liveness_failure_restarts_the_container(cluster: Cluster) -> None:
    container = python_container(
        "main",
        "import time\ntime.sleep(600)\n",
        livenessProbe={"httpGet": {"port": 8081}, "periodSeconds": 1, "failureThreshold": 1},
    )
    await cluster.create_pod("unhealthy", [container], terminationGracePeriodSeconds=1)
    pod = await cluster.wait_pod(
        "unhealthy", lambda p: container_status(p).get("restartCount", 0) >= 1, timeout=15, what="a restart"
    )
    last = container_status(pod)["lastState"]["terminated"]
    assert last["exitCode"] == 143 and last["signal"] == 15  # SIGTERM of the group
    code, out, _ = await kubectl(
        cluster,
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=unhealthy",
        "-o",
        "jsonpath={.items[*].reason}",
    )
    assert code == 0 and "Unhealthy" in out.split() and "Killing" in out.split()


async def test_init_containers_run_first_in_order(cluster: Cluster) -> None:
    mounts = [{"name": "work", "mountPath": "/scratch"}]

    def step(name: str) -> dict[str, Any]:
        return python_container(name, f"open('/scratch/steps', 'a').write('{name} ')", volumeMounts=mounts)

    main = python_container("main", "print(open('/scratch/steps').read() + 'main')", volumeMounts=mounts)
    await cluster.create_pod(
        "init",
        [main],
        initContainers=[step("first"), step("second")],
        volumes=[{"name": "work", "emptyDir": {}}],
        restartPolicy="Never",
    )
    pod = await cluster.wait_pod("init", lambda p: p["status"].get("phase") == "Succeeded", what="Succeeded")
    assert [s["state"]["terminated"]["exitCode"] for s in pod["status"]["initContainerStatuses"]] == [0, 0]
    assert (await pod_logs(cluster, "init")).strip() == "first second main"
    assert (await pod_logs(cluster, "init", "-c", "second")) == ""


async def test_failing_init_container_with_never_fails_the_pod(cluster: Cluster) -> None:
    await cluster.create_pod(
        "badinit",
        [python_container("main", "print('never runs')")],
        initContainers=[python_container("setup", "import sys; sys.exit(2)")],
        restartPolicy="Never",
    )
    pod = await cluster.wait_pod("badinit", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert "terminated" not in container_status(pod)["state"]
    assert condition(pod, "Initialized") == "False"


async def test_unknown_image_reports_err_image_pull(cluster: Cluster) -> None:
    await cluster.create_pod("noimage", [{"name": "main", "image": "registry.example.com/nothing:1.0"}])

    def pull_error(pod: dict[str, Any]) -> bool:
        waiting = container_status(pod).get("state", {}).get("waiting") or {}
        return waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff")

    pod = await cluster.wait_pod("noimage", pull_error, what="ErrImagePull")
    waiting = container_status(pod)["state"]["waiting"]
    assert "registry.example.com/nothing:1.0" in waiting["message"]
    assert pod["status"]["phase"] == "Pending"
    # the kubelet keeps going: another pod still runs
    await cluster.create_pod("fine", [HTTP_SERVER])
    await cluster.wait_pod("fine", running_and_ready, what="Running+Ready")


async def test_missing_command_is_a_start_error(cluster: Cluster) -> None:
    await cluster.create_pod(
        "nocmd",
        [{"name": "main", "image": "python:3.11", "command": ["no-such-binary"]}],
        restartPolicy="Never",
    )
    pod = await cluster.wait_pod("nocmd", lambda p: p["status"].get("phase") == "Failed", what="Failed")
    terminated = container_status(pod)["state"]["terminated"]
    assert terminated["reason"] == "StartError" and terminated["exitCode"] == 128
    assert "executable file not found" in terminated["message"]


async def test_bad_pods_are_reported_and_the_kubelet_keeps_going(cluster: Cluster) -> None:
    await cluster.kube.create(
        CONFIGMAPS, {"metadata": {"name": "cm", "namespace": "default"}, "data": {"k": "v"}}
    )
    mount = [{"name": "v", "mountPath": "/bad-volume"}]
    escaping = {"name": "v", "configMap": {"name": "cm", "items": [{"key": "k", "path": "../../escape"}]}}
    await cluster.create_pod("badvol", [python_container("main", "", volumeMounts=mount)], volumes=[escaping])
    claim = {"name": "v", "persistentVolumeClaim": {"claimName": "data"}}
    await cluster.create_pod("claim", [python_container("main", "", volumeMounts=mount)], volumes=[claim])
    bad_ref = [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.nothing"}}}]
    await cluster.create_pod("badref", [python_container("main", "", env=bad_ref)])
    await cluster.create_pod("fine", [HTTP_SERVER])

    await cluster.wait_pod("fine", running_and_ready, what="Running+Ready")
    pod = await cluster.wait_pod("badref", lambda p: "waiting" in container_status(p).get("state", {}))
    waiting = container_status(pod)["state"]["waiting"]
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": 'unsupported fieldPath: "spec.nothing"',
    }
    for name in ("badvol", "claim"):

        async def failed_mount(name: str = name) -> bool:
            _code, out, _ = await kubectl(
                cluster,
                "get",
                "events",
                "--field-selector",
                f"involvedObject.name={name}",
                "-o",
                "jsonpath={.items[*].reason}",
            )
            return "FailedMount" in out.split()

        await cluster.until(failed_mount, what=f"FailedMount for {name}")
        current = await cluster.pod(name)
        assert current is not None and current["status"]["phase"] == "Pending"
        assert container_status(current)["state"]["waiting"]["reason"] == "ContainerCreating"
    assert not (cluster.tmp / "escape").exists()
