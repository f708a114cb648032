"""The real Helm v4 engine (helm-python-sdk) installs, upgrades, lists and uninstalls a chart."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from flinkop.sandbox.apiserver.server import SandboxApiServer

pytestmark = pytest.mark.slow

CHART = Path(__file__).parent / "charts" / "demo"
NS = "demo"


def _helm() -> Any:
    try:
        import helm_python
    except ImportError as exc:  # a missing engine is a broken set-up, never a skip
        raise AssertionError("helm-python-sdk is not installed; run `make setup`") from exc
    return helm_python


async def _missing(read: Any, *args: str) -> bool:
    try:
        await read(*args)
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


async def test_install_upgrade_list_uninstall(
    apiserver: SandboxApiServer, api: client.ApiClient, tmp_path: Path
) -> None:
    helm = _helm()
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    cfg = helm.Config(kubeconfig_path=str(kubeconfig), namespace=NS, qps=1000, burst_limit=1000)
    core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    try:
        await asyncio.to_thread(cfg.check_reachable)
        release = await asyncio.to_thread(
            cfg.install, str(CHART), "rel", {"message": "v1"}, create_namespace=True, timeout=60
        )
        assert (release["revision"], release["status"]) == (1, "deployed")

        deployment = await apps.read_namespaced_deployment("rel-web", NS)
        env = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env}
        assert env == {"MESSAGE": "v1", "FOO": "bar"}
        assert deployment.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
        assert deployment.metadata.annotations["meta.helm.sh/release-name"] == "rel"
        managers = {m.manager: m.operation for m in deployment.metadata.managed_fields}
        assert "Apply" in managers.values()
        assert (await core.read_namespaced_config_map("rel-config", NS)).data == {"message": "v1"}
        assert (await core.read_namespaced_service("rel-web", NS)).spec.cluster_ip
        await core.read_namespaced_service_account("rel-sa", NS)
        await rbac.read_namespaced_role("rel-role", NS)
        await rbac.read_namespaced_role_binding("rel-rolebinding", NS)
        await rbac.read_cluster_role("rel-demo-reader")

        # Helm stores the release in a Secret it sends as protobuf.
        secrets = await core.list_namespaced_secret(NS, label_selector="owner=helm,name=rel")
        assert [s.metadata.labels["version"] for s in secrets.items] == ["1"]
        assert secrets.items[0].type == "helm.sh/release.v1"
        assert base64.b64decode(secrets.items[0].data["release"])

        # Upgrade without FOO and with a nodeSelector: server-side apply removes what the chart dropped.
        release = await asyncio.to_thread(
            cfg.upgrade,
            str(CHART),
            "rel",
            {"message": "v2", "extraEnv": False, "nodeSelector": {"disk": "ssd"}},
            timeout=60,
        )
        assert (release["revision"], release["status"]) == (2, "deployed")
        deployment = await apps.read_namespaced_deployment("rel-web", NS)
        env = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env}
        assert env == {"MESSAGE": "v2"}
        assert deployment.spec.template.spec.node_selector == {"disk": "ssd"}
        assert deployment.metadata.generation == 2

        release = await asyncio.to_thread(
            cfg.upgrade, str(CHART), "rel", {"message": "v3", "extraEnv": False}, timeout=60
        )
        deployment = await apps.read_namespaced_deployment("rel-web", NS)
        assert deployment.spec.template.spec.node_selector is None
        assert (await core.read_namespaced_config_map("rel-config", NS)).data == {"message": "v3"}

        listed = await asyncio.to_thread(cfg.list)
        assert [(r["name"], r["revision"], r["status"]) for r in listed] == [("rel", 3, "deployed")]
        history = await asyncio.to_thread(cfg.history, "rel")
        assert [(h["revision"], h["status"]) for h in history] == [
            (1, "superseded"),
            (2, "superseded"),
            (3, "deployed"),
        ]

        await asyncio.to_thread(cfg.uninstall, "rel", timeout=60)
        assert await _missing(apps.read_namespaced_deployment, "rel-web", NS)
        assert await _missing(core.read_namespaced_config_map, "rel-config", NS)
        assert await _missing(rbac.read_cluster_role, "rel-demo-reader")
        secrets = await core.list_namespaced_secret(NS, label_selector="owner=helm")
        assert secrets.items == []
        assert await asyncio.to_thread(cfg.list) == []
    finally:
        cfg.close()


async def test_upgrade_conflicts_with_another_field_manager(
    apiserver: SandboxApiServer, api: client.ApiClient, tmp_path: Path
) -> None:
    """A field changed by another manager makes a non-forced apply fail, as real Helm 4 does."""
    helm = _helm()
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    cfg = helm.Config(kubeconfig_path=str(kubeconfig), namespace=NS, qps=1000, burst_limit=1000)
    apps = client.AppsV1Api(api)
    try:
        await asyncio.to_thread(cfg.install, str(CHART), "rel", None, create_namespace=True, timeout=60)
        await apps.patch_namespaced_deployment(
            "rel-web", NS, {"spec": {"replicas": 3}}, field_manager="kubectl-patch"
        )
        with pytest.raises(helm.HelmError) as failure:
            await asyncio.to_thread(cfg.upgrade, str(CHART), "rel", {"replicas": 2}, timeout=60)
        assert 'conflict with "kubectl-patch"' in str(failure.value)
        assert ".spec.replicas" in str(failure.value)
    finally:
        cfg.close()
