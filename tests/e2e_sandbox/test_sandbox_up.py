"""`flinkop sandbox up` as a user runs it, driven with kubectl: a plain-image Deployment becomes
processes with their own IPs, behind a Service, scaled, rolled, crashing and deleted."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.processes import processes_matching

pytestmark = pytest.mark.slow

PORT = 8123  # unique to this test, to find its processes in the OS process table
WEB = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: python:3.11
        command: [python3, -u, -m, http.server, "{PORT}"]
        ports: [{{containerPort: {PORT}, name: http}}]
        readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""
CRASHER = """
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - {name: main, image: "python:3.11", command: [python3, -c, "print('crashing'); raise SystemExit(3)"]}
"""


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.kubeconfig = directory / "kubeconfig"
        self.kubectl_path = shutil.which("kubectl")
        assert self.kubectl_path, "kubectl is missing: .ci/run installs it"

    async def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        assert self.kubectl_path is not None
        proc = await asyncio.create_subprocess_exec(
            self.kubectl_path,
            "--kubeconfig",
            str(self.kubeconfig),
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {err.decode()}")
        return out.decode() + ("" if check else err.decode())

    async def json(self, *args: str) -> Any:
        return json.loads(await self.kubectl(*args, "-o", "json"))

    async def until(self, check: Any, timeout: float = 60.0, what: str = "") -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = await check()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}")
            await asyncio.sleep(0.3)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    directory = tmp_path / "sandbox"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flinkop",
        "sandbox",
        "up",
        "--dir",
        str(directory),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, f"sandbox up exited early:\n{''.join(lines)}"
            lines.append(line)
            if line.startswith("sandbox up: export KUBECONFIG="):
                break
        drain = asyncio.create_task(proc.stdout.read())
        yield Cluster(directory)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    await drain
    assert proc.returncode == 0, "".join(lines)
    assert processes_matching(str(directory)) == [], "processes of the sandbox are left behind"
    assert processes_matching(f"http.server {PORT}") == []
    netns = await asyncio.create_subprocess_exec("ip", "netns", "list", stdout=asyncio.subprocess.PIPE)
    out, _ = await netns.communicate()
    assert "fkp-" not in out.decode()


async def test_sandbox_up_runs_a_plain_deployment(cluster: Cluster) -> None:
    assert yaml.safe_load(cluster.kubeconfig.read_text())["current-context"]
    nodes = await cluster.json("get", "nodes")
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["sandbox"]
    conditions = {c["type"]: c["status"] for c in nodes["items"][0]["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert "Ready" in (await cluster.kubectl("get", "nodes")).split("\n")[1]
    crds = await cluster.json("get", "crd")
    assert {c["metadata"]["name"] for c in crds["items"]} >= {
        "flinkdeployments.flink.apache.org",
        "flinksessionjobs.flink.apache.org",
        "flinkstatesnapshots.flink.apache.org",
    }

    await cluster.kubectl("apply", "-f", "-", stdin=WEB)
    await cluster.kubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=90s")
    pods = (await cluster.json("get", "pods", "-l", "app=web"))["items"]
    assert len(pods) == 2
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 2 and all(ip.startswith("10.244.") for ip in ips)
    assert all(p["status"]["phase"] == "Running" for p in pods)
    table = await cluster.kubectl("get", "pods", "-l", "app=web")
    assert table.count("1/1") == 2 and table.count("Running") == 2
    assert len(processes_matching(f"http.server {PORT}")) >= 2  # real processes

    async def served() -> bool:
        logs = await cluster.kubectl("logs", pods[0]["metadata"]["name"], check=False)
        return f"Serving HTTP on 0.0.0.0 port {PORT}" in logs

    await cluster.until(served, 30, "kubectl logs")

    server = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server}/api/v1/namespaces/default/services/web:http/proxy/") as response,
    ):
        assert response.status == 200
        assert "Directory listing" in await response.text()

    await cluster.kubectl("scale", "deployment/web", "--replicas=3")

    async def ready_replicas(count: int) -> Any:
        async def check() -> bool:
            dep = await cluster.json("get", "deployment", "web")
            return bool(
                dep["status"].get("readyReplicas") == count and dep["status"].get("replicas") == count
            )

        return check

    await cluster.until(await ready_replicas(3), 60, "3 ready replicas")
    await cluster.kubectl("scale", "deployment/web", "--replicas=1")
    await cluster.until(await ready_replicas(1), 60, "1 ready replica")

    before = {p["metadata"]["name"] for p in (await cluster.json("get", "pods", "-l", "app=web"))["items"]}
    await cluster.kubectl("set", "env", "deployment/web", "ROLL=2")
    await cluster.kubectl("rollout", "status", "deployment/web", "--timeout=90s")

    async def replaced() -> bool:
        items = (await cluster.json("get", "pods", "-l", "app=web"))["items"]
        names = {p["metadata"]["name"] for p in items}
        return len(items) == 1 and not (names & before)

    await cluster.until(replaced, 60, "pods replaced by the rolling update")

    await cluster.kubectl("apply", "-f", "-", stdin=CRASHER)

    async def restarted() -> bool:
        pod = await cluster.json("get", "pod", "crasher")
        statuses = pod["status"].get("containerStatuses") or []
        return bool(statuses and statuses[0].get("restartCount", 0) >= 2)

    await cluster.until(restarted, 60, "crash restarts")
    pod = await cluster.json("get", "pod", "crasher")
    status = pod["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert "crashing" in await cluster.kubectl("logs", "crasher", "--previous")

    await cluster.kubectl("delete", "deployment", "web", "--wait=true")
    await cluster.kubectl("delete", "pod", "crasher", "--wait=true", "--timeout=60s")

    async def no_processes() -> bool:
        return processes_matching(f"http.server {PORT}") == []

    await cluster.until(no_processes, 60, "web processes to end")
