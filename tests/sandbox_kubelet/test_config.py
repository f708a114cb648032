"""What a container sees: its environment (downward API, ConfigMap and Secret keys, service links,
`$(VAR)` expansion), volumes at their mountPaths (updated when the ConfigMap changes), its hostname, and
in-cluster API access through the service-account volume and KUBERNETES_SERVICE_HOST over HTTPS."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from tests.sandbox_kubelet.conftest import (
    CONFIGMAPS,
    SECRETS,
    Cluster,
    container_status,
    pod_logs,
    python_container,
)

PRINT_ENV = "import json, os\nprint(json.dumps(dict(os.environ)))\n"


def _on_host(path: str) -> bool:
    return os.path.exists(path)


def _succeeded(pod: dict[str, Any]) -> bool:
    return bool(pod["status"].get("phase") == "Succeeded")


async def _configmap(cluster: Cluster, name: str, data: dict[str, str]) -> None:
    await cluster.kube.create(CONFIGMAPS, {"metadata": {"name": name, "namespace": "default"}, "data": data})


async def test_env_resolution(cluster: Cluster) -> None:
    await _configmap(cluster, "settings", {"mode": "fast", "level": "3"})
    secret = {"password": base64.b64encode(b"s3cret").decode()}
    await cluster.kube.create(
        SECRETS, {"metadata": {"name": "creds", "namespace": "default"}, "data": secret}
    )
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        {
            "name": "OPTIONAL",
            "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x", "optional": True}},
        },
        {
            "name": "MEMORY_MI",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
        },
        {"name": "GREETING", "value": "hello $(POD_NAME) in $(MODE), $$(POD_NAME) stays, $(UNKNOWN) too"},
    ]
    container = python_container(
        "main",
        PRINT_ENV,
        env=env,
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        args=["$(POD_NAME)"],
        resources={"limits": {"memory": "64Mi"}},
    )
    await cluster.create_pod("envy", [container], restartPolicy="Never")
    pod = await cluster.wait_pod("envy", _succeeded, what="Succeeded")
    seen = json.loads(await pod_logs(cluster, "envy"))
    meta = pod["metadata"]
    assert seen["POD_NAME"] == "envy" and seen["POD_NS"] == "default" and seen["POD_UID"] == meta["uid"]
    assert seen["POD_IP"] == pod["status"]["podIP"] and seen["NODE"] == "sandbox" and seen["APP"] == "envy"
    assert seen["MODE"] == "fast" and seen["PASSWORD"] == "s3cret" and "OPTIONAL" not in seen
    assert seen["CFG_mode"] == "fast" and seen["CFG_level"] == "3"
    assert seen["MEMORY_MI"] == "64"
    assert seen["GREETING"] == "hello envy in fast, $(POD_NAME) stays, $(UNKNOWN) too"
    assert seen["HOSTNAME"] == "envy"
    gateway = cluster.network.gateway
    assert seen["KUBERNETES_SERVICE_HOST"] == gateway and seen["KUBERNETES_SERVICE_PORT"] == "6443"
    assert seen["KUBERNETES_PORT"] == f"tcp://{gateway}:6443"


async def test_missing_configmap_is_a_config_error_until_it_exists(cluster: Cluster) -> None:
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "mode"}}}]
    await cluster.create_pod("waits", [python_container("main", PRINT_ENV, env=env)], restartPolicy="Never")

    def config_error(pod: dict[str, Any]) -> bool:
        waiting = container_status(pod).get("state", {}).get("waiting") or {}
        return waiting.get("reason") == "CreateContainerConfigError"

    pod = await cluster.wait_pod("waits", config_error, what="CreateContainerConfigError")
    assert container_status(pod)["state"]["waiting"]["message"] == 'configmap "later" not found'
    assert pod["status"]["phase"] == "Pending"
    await _configmap(cluster, "later", {"mode": "ok"})
    await cluster.wait_pod("waits", _succeeded, what="Succeeded once the ConfigMap exists")
    assert json.loads(await pod_logs(cluster, "waits"))["MODE"] == "ok"


WATCH_CONFIG = """
import os, time
last = None
while True:
    text = open('/etc/app/app.conf').read()
    if text != last:
        print('config:', text, flush=True)
        last = text
    time.sleep(0.1)
"""


CHECK_VOLUMES = """
import os
try:
    open('/etc/app/new', 'w')
except OSError as e:
    print('write:', e.strerror)
print(sorted(f for f in os.listdir('/etc/app') if not f.startswith('..')))
print(oct(os.stat('/etc/app/app.conf').st_mode & 0o777))
print(open('/etc/one/renamed').read())
"""


async def test_configmap_volume_at_its_mount_path_is_updated(cluster: Cluster) -> None:
    await _configmap(cluster, "app", {"app.conf": "v1", "other": "x"})
    probe = CHECK_VOLUMES
    mounts = [{"name": "config", "mountPath": "/etc/app"}, {"name": "one", "mountPath": "/etc/one"}]
    volumes = [
        {"name": "config", "configMap": {"name": "app", "defaultMode": 0o600}},
        {"name": "one", "configMap": {"name": "app", "items": [{"key": "other", "path": "renamed"}]}},
    ]
    await cluster.create_pod(
        "cfg", [python_container("main", probe, volumeMounts=mounts)], volumes=volumes, restartPolicy="Never"
    )
    await cluster.wait_pod("cfg", _succeeded, what="Succeeded")
    lines = (await pod_logs(cluster, "cfg")).splitlines()
    assert lines == ["write: Read-only file system", "['app.conf', 'other']", "0o600", "x"]
    assert not _on_host("/etc/app/app.conf")  # mounted in the container only

    volumes = [{"name": "config", "configMap": {"name": "app"}}]
    watcher = python_container(
        "main", WATCH_CONFIG, volumeMounts=[{"name": "config", "mountPath": "/etc/app"}]
    )
    await cluster.create_pod("watcher", [watcher], volumes=volumes)
    await cluster.wait_pod("watcher", lambda p: p["status"].get("phase") == "Running")

    async def shows(text: str) -> bool:
        return f"config: {text}" in await pod_logs(cluster, "watcher")

    await cluster.until(lambda: shows("v1"), what="v1 in the container")
    await cluster.kube.patch(CONFIGMAPS, "app", {"data": {"app.conf": "v2"}}, "default")
    await cluster.until(lambda: shows("v2"), timeout=10, what="v2 in the container after the update")


IN_CLUSTER = """
import asyncio, os, socket
from kubernetes_asyncio import client, config

SA = '/var/run/secrets/kubernetes.io/serviceaccount'
print('files', sorted(f for f in os.listdir(SA) if not f.startswith('..')))
print('namespace', open(SA + '/namespace').read())
print('hostname', socket.gethostname())
print('resolves', socket.gethostbyname('kubernetes.default.svc'))

async def main():
    config.load_incluster_config()
    async with client.ApiClient() as api:
        namespaces = await client.CoreV1Api(api).list_namespace()
        print('namespaces', ' '.join(sorted(n.metadata.name for n in namespaces.items)))
        me = await client.CoreV1Api(api).read_namespaced_pod(os.environ['HOSTNAME'], 'default')
        print('me', me.status.pod_ip)

asyncio.run(main())
"""


async def test_in_cluster_client_uses_the_service_account(cluster: Cluster) -> None:
    await cluster.create_pod("incluster", [python_container("main", IN_CLUSTER)], restartPolicy="Never")
    pod = await cluster.wait_pod("incluster", lambda p: p["status"].get("phase") in ("Succeeded", "Failed"))
    logs = await pod_logs(cluster, "incluster")
    assert pod["status"]["phase"] == "Succeeded", logs
    lines = dict(line.split(" ", 1) for line in logs.splitlines())
    assert lines["files"] == "['ca.crt', 'namespace', 'token']"
    assert lines["namespace"] == "default" and lines["hostname"] == "incluster"
    assert lines["resolves"]  # the service proxy's name for the API server
    assert "default" in lines["namespaces"].split() and "kube-system" in lines["namespaces"].split()
    assert lines["me"] == pod["status"]["podIP"]


async def test_no_service_account_files_when_automount_is_off(cluster: Cluster) -> None:
    script = "import os\nprint(os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount/token'))\n"
    await cluster.create_pod(
        "nosa", [python_container("main", script)], restartPolicy="Never", automountServiceAccountToken=False
    )
    await cluster.wait_pod("nosa", _succeeded, what="Succeeded")
    assert (await pod_logs(cluster, "nosa")).strip() == "False"


PRINT_DOWNWARD = """
print(open('/info/labels').read())
print(open('/info/name').read())
print(open('/all/a').read())
print(open('/all/ns').read())
print(len(open('/all/tok').read()) > 20)
"""


async def test_downward_api_and_projected_volumes(cluster: Cluster) -> None:
    await _configmap(cluster, "proj", {"a": "from-configmap"})
    script = PRINT_DOWNWARD
    volumes = [
        {
            "name": "info",
            "downwardAPI": {
                "items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                ]
            },
        },
        {
            "name": "all",
            "projected": {
                "sources": [
                    {"configMap": {"name": "proj"}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                        }
                    },
                    {"serviceAccountToken": {"path": "tok", "audience": "vault"}},
                ]
            },
        },
    ]
    mounts = [{"name": "info", "mountPath": "/info"}, {"name": "all", "mountPath": "/all"}]
    await cluster.create_pod(
        "downward",
        [python_container("main", script, volumeMounts=mounts)],
        volumes=volumes,
        restartPolicy="Never",
    )
    await cluster.wait_pod("downward", _succeeded, what="Succeeded")
    assert (await pod_logs(cluster, "downward")).splitlines() == [
        'app="downward"',
        "downward",
        "from-configmap",
        "default",
        "True",
    ]
