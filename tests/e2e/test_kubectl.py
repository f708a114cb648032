"""kubectl, a real Go client nobody here wrote, against the sandbox API server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import WIDGET_CRD

pytestmark = pytest.mark.slow

KUBECTL = shutil.which("kubectl")


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        if KUBECTL is None:
            raise AssertionError(
                "kubectl is not installed: the sandbox must be tested with a real client "
                "(.ci/run installs it)"
            )
        self.kubeconfig = kubeconfig

    async def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = await asyncio.create_subprocess_exec(
            KUBECTL,
            "--kubeconfig",
            str(self.kubeconfig),
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {err.decode()}")
        return out.decode() + (err.decode() if not check else "")

    async def json(self, *args: str) -> Any:
        return json.loads(await self.run(*args, "-o", "json"))


@pytest.fixture
async def kubectl(apiserver: SandboxApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl(apiserver.write_kubeconfig(tmp_path / "kubeconfig"))


WIDGET_YAML = """
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  labels: {app: demo}
spec:
  size: 1
"""


async def _apply_crd(kubectl: Kubectl, tmp_path: Path) -> None:
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(WIDGET_CRD))
    out = await kubectl.run("apply", "--validate=false", "-f", str(crd_file))
    assert "widgets.example.com created" in out
    await kubectl.run("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")


async def test_apply_get_patch_delete_custom_resource(kubectl: Kubectl, tmp_path: Path) -> None:
    await _apply_crd(kubectl, tmp_path)
    cr_file = tmp_path / "w1.yaml"
    cr_file.write_text(WIDGET_YAML)
    assert "widget.example.com/w1 created" in await kubectl.run(
        "apply", "--validate=false", "-f", str(cr_file)
    )
    # A second apply computes a patch from last-applied-configuration and finds nothing to do.
    assert "unchanged" in await kubectl.run("apply", "--validate=false", "-f", str(cr_file))

    got = yaml.safe_load(await kubectl.run("get", "widgets", "w1", "-o", "yaml"))
    assert got["spec"] == {"size": 1}
    assert got["metadata"]["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]

    await kubectl.run(
        "apply",
        "--validate=false",
        "-f",
        "-",
        stdin=WIDGET_YAML.replace("name: w1", "name: w2").replace("app: demo", "app: other"),
    )
    by_label = await kubectl.json("get", "wd", "-l", "app=demo")
    assert [i["metadata"]["name"] for i in by_label["items"]] == ["w1"]

    await kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":3}}')
    await kubectl.run(
        "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}'
    )
    got = await kubectl.json("get", "widget", "w1")
    assert got["spec"]["size"] == 3
    assert got["status"]["phase"] == "Ready"
    assert got["metadata"]["generation"] == 2  # the status patch did not bump it

    assert 'widget.example.com "w1" deleted' in await kubectl.run("delete", "widget", "w1")
    missing = await kubectl.run("get", "widget", "w1", check=False)
    assert 'widgets.example.com "w1" not found' in missing


async def test_get_watch_streams_events(kubectl: Kubectl, tmp_path: Path) -> None:
    await _apply_crd(kubectl, tmp_path)
    await kubectl.run("apply", "--validate=false", "-f", "-", stdin=WIDGET_YAML)
    assert KUBECTL is not None
    watch = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubectl.kubeconfig),
        "get",
        "widgets",
        "-w",
        "--output-watch-events",
        "-o",
        'jsonpath={.type} {.object.metadata.name} {.object.spec.size}{"\\n"}',
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert watch.stdout is not None
    try:
        first = await asyncio.wait_for(watch.stdout.readline(), 10)
        assert first.decode().split() == ["ADDED", "w1", "1"]
        await kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":5}}')
        second = await asyncio.wait_for(watch.stdout.readline(), 10)
        assert second.decode().split() == ["MODIFIED", "w1", "5"]
        await kubectl.run("delete", "widget", "w1")
        third = await asyncio.wait_for(watch.stdout.readline(), 10)
        assert third.decode().split()[:2] == ["DELETED", "w1"]
    finally:
        watch.kill()
        await watch.wait()


async def test_core_kinds_and_strategic_merge(kubectl: Kubectl) -> None:
    await kubectl.run("create", "namespace", "team-a")
    await kubectl.run("-n", "team-a", "create", "configmap", "c1", "--from-literal=a=b")
    await kubectl.run("-n", "team-a", "patch", "configmap", "c1", "-p", '{"data":{"c":"d"}}')
    cm = await kubectl.json("-n", "team-a", "get", "configmap", "c1")
    assert cm["data"] == {"a": "b", "c": "d"}

    await kubectl.run("-n", "team-a", "create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    await kubectl.run("-n", "team-a", "set", "env", "deployment/web", "MODE=blue")
    deployment = await kubectl.json("-n", "team-a", "get", "deployment", "web")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "MODE", "value": "blue"}]
    assert deployment["metadata"]["generation"] == 2
    await kubectl.run("-n", "team-a", "scale", "deployment/web", "--replicas=4")
    scaled = await kubectl.json("-n", "team-a", "get", "deployment", "web")
    assert scaled["spec"]["replicas"] == 4

    await kubectl.run("delete", "namespace", "team-a", "--wait=true", "--timeout=20s")
    gone = await kubectl.run("get", "namespace", "team-a", check=False)
    assert 'namespaces "team-a" not found' in gone


async def test_server_side_apply_records_managed_fields(kubectl: Kubectl, tmp_path: Path) -> None:
    await _apply_crd(kubectl, tmp_path)
    await kubectl.run("apply", "--server-side", "--field-manager=team", "-f", "-", stdin=WIDGET_YAML)
    got = await kubectl.json("get", "widget", "w1", "--show-managed-fields")
    managers = {entry["manager"]: entry for entry in got["metadata"]["managedFields"]}
    assert managers["team"]["operation"] == "Apply"
    assert "f:size" in managers["team"]["fieldsV1"]["f:spec"]


async def test_errors_reach_kubectl_as_status(kubectl: Kubectl) -> None:
    out = await kubectl.run("get", "configmap", "nope", check=False)
    assert 'configmaps "nope" not found' in out
    bad = await kubectl.run("create", "configmap", "Bad_Name", check=False)
    assert "Invalid value" in bad and "RFC 1123" in bad
    await kubectl.run("create", "configmap", "dup")
    dup = await kubectl.run("create", "configmap", "dup", check=False)
    assert 'configmaps "dup" already exists' in dup


async def test_get_prints_server_side_tables(kubectl: Kubectl, tmp_path: Path) -> None:
    """kubectl asks for meta.k8s.io Tables: built-in columns, and a CRD's additionalPrinterColumns."""
    await kubectl.run("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    out = await kubectl.run("get", "deployment", "web")
    assert out.split("\n")[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert out.split("\n")[1].split()[:4] == ["web", "0/2", "0", "0"]
    await kubectl.run("run", "p1", "--image=busybox")
    pods = await kubectl.run("get", "pods", "-o", "wide")
    assert pods.split("\n")[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods.split("\n")[1].split()[:4] == ["p1", "0/1", "Pending", "0"]

    crd = {
        **WIDGET_CRD,
        "spec": {
            **WIDGET_CRD["spec"],
            "versions": [
                {
                    **WIDGET_CRD["spec"]["versions"][0],
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    ],
                }
            ],
        },
    }
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(crd))
    await kubectl.run("apply", "--validate=false", "-f", str(crd_file))
    await kubectl.run("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
    await kubectl.run("apply", "--validate=false", "-f", "-", stdin=WIDGET_YAML)
    await kubectl.run(
        "patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}'
    )
    widgets = await kubectl.run("get", "widgets")
    assert widgets.split("\n")[0].split() == ["NAME", "SIZE", "PHASE"]
    assert widgets.split("\n")[1].split() == ["w1", "1", "Ready"]
