"""Built-in kinds on the sandbox API server over real HTTP: the bootstrap objects, per-kind defaults,
generation and subresources, Lease concurrency, events, RBAC, webhooks, and create-time validation."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = pytest.mark.usefixtures("no_server_errors")

JSON = dict[str, Any]
NS = "default"
MERGE = "application/merge-patch+json"
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


# -- helpers -----------------------------------------------------------------------------------------


async def raw(call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """The JSON body of a kubernetes_asyncio call, undeserialized (typed models drop or reparse fields)."""
    response = await call(*args, _preload_content=False, **kwargs)
    try:
        return json.loads(await response.read())
    finally:
        response.release()


async def api_error(call: Awaitable[Any]) -> tuple[int, JSON]:
    with pytest.raises(ApiException) as info:
        await call
    return info.value.status, json.loads(info.value.body)


def pod_spec(*images: str) -> JSON:
    return {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}


def deployment(name: str, kind: str = "Deployment") -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec("nginx:1.25")},
        },
    }


# -- bootstrap objects -----------------------------------------------------------------------------


async def test_default_namespaces_exist(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for name in ("default", "kube-system", "kube-public"):
        ns = await raw(core.read_namespace, name)
        assert ns["status"]["phase"] == "Active", name
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
        assert ns["spec"]["finalizers"] == ["kubernetes"]
        assert ns["metadata"]["uid"] and ns["metadata"]["resourceVersion"].isdigit()
        assert "namespace" not in ns["metadata"]
    names = {n.metadata.name for n in (await core.list_namespace()).items}
    assert {"default", "kube-system", "kube-public"} <= names
    active = await core.list_namespace(field_selector="status.phase=Active")
    assert {"default", "kube-system", "kube-public"} <= {n.metadata.name for n in active.items}


async def test_kubernetes_service_in_default(api: client.ApiClient) -> None:
    svc = await raw(client.CoreV1Api(api).read_namespaced_service, "kubernetes", NS)
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["clusterIPs"] == ["10.96.0.1"]
    port = svc["spec"]["ports"][0]
    assert (port["port"], port["protocol"]) == (443, "TCP")


# -- defaults ------------------------------------------------------------------------------------------


async def test_secret_string_data_is_folded_into_data(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    body = {
        "metadata": {"name": "creds"},
        "stringData": {"user": "admin"},
        "data": {"token": base64.b64encode(b"t0k3n").decode()},
    }
    created = await raw(core.create_namespaced_secret, NS, body)
    assert "stringData" not in created
    assert created["type"] == "Opaque"
    assert created["data"] == {
        "user": base64.b64encode(b"admin").decode(),
        "token": base64.b64encode(b"t0k3n").decode(),
    }
    stored = await core.read_namespaced_secret("creds", NS)
    assert base64.b64decode(stored.data["user"]) == b"admin" and stored.string_data is None
    typed = await raw(
        core.create_namespaced_secret,
        NS,
        {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
    )
    assert typed["type"] == "kubernetes.io/tls"


async def test_service_defaults_and_cluster_ip_allocation(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    ips = set()
    for name in ("alpha", "beta"):
        svc = await raw(
            core.create_namespaced_service,
            NS,
            {"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 8081}]}},
        )
        spec = svc["spec"]
        assert spec["type"] == "ClusterIP"
        assert ipaddress.ip_address(spec["clusterIP"]) in SERVICE_CIDR
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        assert spec["ports"] == [{"port": 8081, "protocol": "TCP", "targetPort": 8081}]
        ips.add(spec["clusterIP"])
    assert len(ips) == 2 and "10.96.0.1" not in ips

    # PUT without clusterIP keeps the allocated one (it is immutable).
    current = await raw(core.read_namespaced_service, "alpha", NS)
    spec = {k: v for k, v in current["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    updated = await raw(
        core.replace_namespaced_service,
        "alpha",
        NS,
        {
            "metadata": {
                "name": "alpha",
                "resourceVersion": current["metadata"]["resourceVersion"],
                "labels": {"changed": "yes"},
            },
            "spec": {**spec, "ports": [{"name": "http", "port": 9090, "targetPort": "http"}]},
        },
    )
    assert updated["spec"]["clusterIP"] == current["spec"]["clusterIP"]
    assert updated["spec"]["clusterIPs"] == current["spec"]["clusterIPs"]
    assert updated["spec"]["ports"] == [
        {"name": "http", "port": 9090, "targetPort": "http", "protocol": "TCP"}
    ]
    assert updated["metadata"]["labels"] == {"changed": "yes"}

    headless = await raw(
        core.create_namespaced_service,
        NS,
        {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
    )
    assert headless["spec"]["clusterIP"] == "None"


async def test_pod_defaults(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await raw(
        core.create_namespaced_pod,
        NS,
        {
            "metadata": {"name": "p1"},
            "spec": pod_spec("nginx", "busybox:1.36", "registry.local:5000/app"),
            "status": {"phase": "Running"},
        },
    )
    assert created["status"]["phase"] == "Pending", "status in a create body is dropped"
    c0, c1, c2 = created["spec"]["containers"]
    assert c0["imagePullPolicy"] == "Always"
    assert c1["imagePullPolicy"] == "IfNotPresent"
    assert c2["imagePullPolicy"] == "Always", "a registry port is not a tag"
    for container in (c0, c1, c2):
        assert container["terminationMessagePath"] == "/dev/termination-log"
        assert container["terminationMessagePolicy"] == "File"
    spec = created["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["serviceAccountName"] == "default"
    typed = await core.read_namespaced_pod("p1", NS)
    assert typed.status.phase == "Pending"


async def test_deployment_defaults_generation_and_subresources(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    created = await raw(apps.create_namespaced_deployment, NS, deployment("web"))
    spec = created["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert created["metadata"]["generation"] == 1

    labelled = await raw(
        apps.patch_namespaced_deployment, "web", NS, {"metadata": {"labels": {"x": "y"}}}, _content_type=MERGE
    )
    assert labelled["metadata"]["generation"] == 1, "metadata changes do not bump generation"

    status = await raw(
        apps.patch_namespaced_deployment_status,
        "web",
        NS,
        {"status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 1}},
        _content_type=MERGE,
    )
    assert status["status"]["readyReplicas"] == 1
    assert status["metadata"]["generation"] == 1, "status writes do not bump generation"
    ignored = await raw(
        apps.patch_namespaced_deployment, "web", NS, {"status": {"readyReplicas": 7}}, _content_type=MERGE
    )
    assert ignored["status"]["readyReplicas"] == 1, "status on the main resource is ignored"
    assert ignored["metadata"]["generation"] == 1

    image = {"spec": {"template": {"spec": {"containers": [{"name": "c0", "image": "nginx:1.27"}]}}}}
    bumped = await raw(
        apps.patch_namespaced_deployment,
        "web",
        NS,
        image,
        _content_type="application/strategic-merge-patch+json",
    )
    assert bumped["metadata"]["generation"] == 2
    assert bumped["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    scale = await raw(apps.read_namespaced_deployment_scale, "web", NS)
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"]["replicas"] == 1 and scale["status"]["replicas"] == 1
    assert scale["metadata"]["name"] == "web"

    replaced = await raw(
        apps.replace_namespaced_deployment_scale,
        "web",
        NS,
        {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"replicas": 3},
        },
    )
    assert replaced["spec"]["replicas"] == 3
    after_put = await raw(apps.read_namespaced_deployment, "web", NS)
    assert after_put["spec"]["replicas"] == 3 and after_put["metadata"]["generation"] == 3

    patched = await raw(
        apps.patch_namespaced_deployment_scale, "web", NS, {"spec": {"replicas": 5}}, _content_type=MERGE
    )
    assert patched["spec"]["replicas"] == 5
    after_patch = await raw(apps.read_namespaced_deployment, "web", NS)
    assert after_patch["spec"]["replicas"] == 5 and after_patch["metadata"]["generation"] == 4
    assert (await apps.read_namespaced_deployment_scale("web", NS)).spec.replicas == 5


async def test_replicaset(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    created = await raw(apps.create_namespaced_replica_set, NS, deployment("rs1", kind="ReplicaSet"))
    assert created["kind"] == "ReplicaSet"
    assert created["spec"]["replicas"] == 1 and created["metadata"]["generation"] == 1
    status = await raw(
        apps.replace_namespaced_replica_set_status,
        "rs1",
        NS,
        {
            **created,
            "status": {"replicas": 1, "readyReplicas": 1},
            "spec": {**created["spec"], "replicas": 9},
        },
    )
    assert status["status"]["readyReplicas"] == 1 and status["spec"]["replicas"] == 1
    assert status["metadata"]["generation"] == 1
    scaled = await raw(
        apps.patch_namespaced_replica_set_scale, "rs1", NS, {"spec": {"replicas": 2}}, _content_type=MERGE
    )
    assert scaled["spec"]["replicas"] == 2
    listed = await apps.list_namespaced_replica_set(NS, label_selector="app=rs1")
    assert [(r.metadata.name, r.spec.replicas) for r in listed.items] == [("rs1", 2)]


async def test_ingress_generation(api: client.ApiClient) -> None:
    net = client.NetworkingV1Api(api)
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    created = await raw(
        net.create_namespaced_ingress,
        NS,
        {
            "metadata": {"name": "ing"},
            "spec": {
                "rules": [
                    {
                        "host": "a.example.com",
                        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                    }
                ]
            },
        },
    )
    assert created["metadata"]["generation"] == 1
    annotated = await raw(
        net.patch_namespaced_ingress,
        "ing",
        NS,
        {"metadata": {"annotations": {"a": "b"}}},
        _content_type=MERGE,
    )
    assert annotated["metadata"]["generation"] == 1
    changed = await raw(
        net.patch_namespaced_ingress, "ing", NS, {"spec": {"defaultBackend": backend}}, _content_type=MERGE
    )
    assert changed["metadata"]["generation"] == 2
    status = await raw(
        net.patch_namespaced_ingress_status,
        "ing",
        NS,
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}},
        _content_type=MERGE,
    )
    assert status["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1"}]
    assert status["metadata"]["generation"] == 2


async def test_lease_optimistic_concurrency(api: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(api)
    stamp = "2026-11-25T22:55:00.123456Z"
    body = {
        "metadata": {"name": "flinkop-leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": stamp, "renewTime": stamp},
    }
    created = await raw(coord.create_namespaced_lease, NS, body)
    assert created["spec"]["renewTime"] == stamp, "MicroTime is stored verbatim"
    rv = created["metadata"]["resourceVersion"]

    status, err = await api_error(coord.create_namespaced_lease(NS, body))
    assert (status, err["reason"]) == (409, "AlreadyExists")

    no_rv = {"metadata": {"name": "flinkop-leader"}, "spec": {**body["spec"], "holderIdentity": "b"}}
    status, err = await api_error(coord.replace_namespaced_lease("flinkop-leader", NS, no_rv))
    assert (status, err["reason"]) == (422, "Invalid")

    renewed = await raw(
        coord.replace_namespaced_lease,
        "flinkop-leader",
        NS,
        {
            "metadata": {"name": "flinkop-leader", "resourceVersion": rv},
            "spec": {**body["spec"], "renewTime": "2026-11-25T22:55:10.000000Z"},
        },
    )
    assert int(renewed["metadata"]["resourceVersion"]) > int(rv)

    stale = {
        "metadata": {"name": "flinkop-leader", "resourceVersion": rv},
        "spec": {**body["spec"], "holderIdentity": "b"},
    }
    status, err = await api_error(coord.replace_namespaced_lease("flinkop-leader", NS, stale))
    assert (status, err["reason"]) == (409, "Conflict")
    assert "the object has been modified" in err["message"]
    assert (await coord.read_namespaced_lease("flinkop-leader", NS)).spec.holder_identity == "a"


async def test_events_in_both_groups(api: client.ApiClient) -> None:
    events_api, core = client.EventsV1Api(api), client.CoreV1Api(api)
    new_style = await raw(
        events_api.create_namespaced_event,
        NS,
        {
            "metadata": {"name": "e1"},
            "eventTime": "2026-11-25T22:55:00.123456Z",
            "reportingController": "flinkop.io/operator",
            "reportingInstance": "op-1",
            "action": "Reconcile",
            "reason": "Started",
            "type": "Normal",
            "note": "hello",
            "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "p1", "namespace": NS},
        },
    )
    assert new_style["eventTime"] == "2026-11-25T22:55:00.123456Z"
    assert (new_style["kind"], new_style["apiVersion"]) == ("Event", "events.k8s.io/v1")
    listed = await events_api.list_namespaced_event(NS)
    assert "e1" in {e.metadata.name for e in listed.items}

    for name, target in (("c1", "p1"), ("c2", "p2"), ("c3", "p1")):
        await core.create_namespaced_event(
            NS,
            {
                "metadata": {"name": name},
                "reason": "Scheduled",
                "message": f"for {target}",
                "type": "Normal",
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": target, "namespace": NS},
                "firstTimestamp": "2026-11-25T22:55:00Z",
                "lastTimestamp": "2026-11-25T22:55:00Z",
                "count": 1,
                "source": {"component": "flinkop"},
            },
        )
    selected = await core.list_namespaced_event(NS, field_selector="involvedObject.name=p1")
    assert sorted(e.metadata.name for e in selected.items) == ["c1", "c3"]
    both = await core.list_namespaced_event(NS, field_selector="involvedObject.name=p1,reason=Scheduled")
    assert sorted(e.metadata.name for e in both.items) == ["c1", "c3"]
    others = await core.list_namespaced_event(NS, field_selector="involvedObject.name!=p1")
    assert "c2" in {e.metadata.name for e in others.items}
    assert "c1" not in {e.metadata.name for e in others.items}


async def test_service_account(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await raw(
        core.create_namespaced_service_account,
        NS,
        {"metadata": {"name": "flinkop"}, "automountServiceAccountToken": False},
    )
    assert (created["kind"], created["metadata"]["namespace"]) == ("ServiceAccount", NS)
    read = await core.read_namespaced_service_account("flinkop", NS)
    assert read.automount_service_account_token is False


async def test_rbac_scopes(http: aiohttp.ClientSession, api: client.ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    role = await raw(rbac.create_namespaced_role, NS, {"metadata": {"name": "reader"}, "rules": rules})
    assert role["metadata"]["namespace"] == NS and role["rules"] == rules
    binding = await raw(
        rbac.create_namespaced_role_binding,
        NS,
        {
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "flinkop", "namespace": NS}],
        },
    )
    assert binding["metadata"]["namespace"] == NS
    assert [r.metadata.name for r in (await rbac.list_namespaced_role(NS)).items] == ["reader"]

    cluster_role = await raw(
        rbac.create_cluster_role, {"metadata": {"name": "flinkop:manager"}, "rules": rules}
    )
    assert "namespace" not in cluster_role["metadata"]
    crb = await raw(
        rbac.create_cluster_role_binding,
        {
            "metadata": {"name": "flinkop:manager"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "flinkop:manager",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "flinkop", "namespace": NS}],
        },
    )
    assert "namespace" not in crb["metadata"]
    assert (await rbac.read_cluster_role("flinkop:manager")).rules[0].resources == ["configmaps"]

    for path in (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/clusterroles/flinkop:manager",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/clusterrolebindings",
    ):
        async with http.get(path) as response:
            assert response.status == 404, path
            assert (await response.json())["kind"] == "Status"


async def test_webhook_configurations_are_stored_cluster_scoped(
    http: aiohttp.ClientSession,
    api: client.ApiClient,
) -> None:
    adm = client.AdmissionregistrationV1Api(api)
    webhook = {
        "name": "flinks.flinkop.io",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "clientConfig": {"service": {"name": "flinkop-webhook", "namespace": NS, "path": "/mutate"}},
        "rules": [
            {
                "apiGroups": ["flinkop.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["flinkdeployments"],
            }
        ],
    }
    mutating = await raw(
        adm.create_mutating_webhook_configuration,
        {"metadata": {"name": "flinkop-mutating"}, "webhooks": [webhook]},
    )
    validating = await raw(
        adm.create_validating_webhook_configuration,
        {"metadata": {"name": "flinkop-validating"}, "webhooks": [webhook]},
    )
    for created in (mutating, validating):
        assert "namespace" not in created["metadata"]
        stored = created["webhooks"][0]
        assert stored["name"] == "flinks.flinkop.io" and stored["rules"] == webhook["rules"]
        assert stored["clientConfig"] == webhook["clientConfig"]
    read = await adm.read_mutating_webhook_configuration("flinkop-mutating")
    assert read.webhooks[0].client_config.service.path == "/mutate"
    listed = await adm.list_validating_webhook_configuration()
    assert [v.metadata.name for v in listed.items] == ["flinkop-validating"]
    path = "/apis/admissionregistration.k8s.io/v1/namespaces/default/mutatingwebhookconfigurations"
    async with http.get(path) as response:
        assert response.status == 404


async def test_configmap_put_without_resource_version(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await raw(
        core.create_namespaced_config_map, NS, {"metadata": {"name": "cfg"}, "data": {"a": "1"}}
    )
    replaced = await raw(
        core.replace_namespaced_config_map, "cfg", NS, {"metadata": {"name": "cfg"}, "data": {"a": "2"}}
    )
    assert replaced["data"] == {"a": "2"}
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(replaced["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


# -- validation on create ------------------------------------------------------------------------------


async def test_invalid_names_are_422_on_metadata_name(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    for bad in ("Bad_Name", "UPPER", "x" * 254, "-leading"):
        status, body = await api_error(core.create_namespaced_config_map(NS, {"metadata": {"name": bad}}))
        assert (status, body["reason"]) == (422, "Invalid"), bad
        assert body["details"]["causes"][0]["field"] == "metadata.name", bad
    for bad in ("a" * 64, "dotted.name"):
        status, body = await api_error(core.create_namespace({"metadata": {"name": bad}}))
        assert (status, body["reason"]) == (422, "Invalid"), bad
        assert body["details"]["causes"][0]["field"] == "metadata.name"
    long_ok = await raw(core.create_namespaced_config_map, NS, {"metadata": {"name": "a" * 253}})
    assert long_ok["metadata"]["name"] == "a" * 253

    nameless = {"metadata": {"labels": {"a": "b"}}}
    status, body = await api_error(core.create_namespaced_config_map(NS, nameless))
    assert (status, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    generated = await raw(core.create_namespaced_config_map, NS, {"metadata": {"generateName": "gen-"}})
    assert generated["metadata"]["name"].startswith("gen-") and len(generated["metadata"]["name"]) == 9


async def test_malformed_requests_are_400(http: aiohttp.ClientSession, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    status, body = await api_error(
        core.create_namespaced_config_map(
            NS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
        )
    )
    assert (status, body["reason"]) == (400, "BadRequest")
    status, body = await api_error(
        core.create_namespaced_config_map(
            NS, {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
        )
    )
    assert (status, body["reason"]) == (400, "BadRequest")

    async with http.post(
        "/api/v1/namespaces/default/configmaps",
        data=b'{"metadata": {"name": "x"',
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        body = await response.json()
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "BadRequest", 400)

    status, body = await api_error(
        core.create_namespaced_config_map(NS, {"metadata": {"name": "x", "namespace": "kube-system"}})
    )
    assert (status, body["reason"]) == (400, "BadRequest")
    assert "does not match the namespace" in body["message"]
    assert not (await core.list_namespaced_config_map("kube-system", field_selector="metadata.name=x")).items


async def test_create_in_missing_namespace_is_404(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    status, body = await api_error(core.create_namespaced_config_map("nope", {"metadata": {"name": "x"}}))
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'namespaces "nope" not found'
    apps = client.AppsV1Api(api)
    status, body = await api_error(apps.create_namespaced_deployment("nope", deployment("d")))
    assert (status, body["reason"]) == (404, "NotFound")


async def test_core_event_names_are_lax_but_events_k8s_io_are_not(api: client.ApiClient) -> None:
    """core/v1 Event names only need to be path segments (upstream names events `Operator.123`)."""
    core = client.CoreV1Api(api)
    event = await core.create_namespaced_event(
        "default",
        {
            "metadata": {"name": "Operator.1234567"},
            "involvedObject": {"kind": "X", "name": "x"},
            "reason": "Test",
            "message": "m",
            "type": "Normal",
        },
    )
    assert event.metadata.name == "Operator.1234567"
    with pytest.raises(ApiException) as bad:
        await client.EventsV1Api(api).create_namespaced_event(
            "default",
            {
                "metadata": {"name": "Operator.1234567"},
                "eventTime": "2026-11-26T00:00:00.000000Z",
                "reportingController": "x",
                "reportingInstance": "y",
                "action": "a",
                "reason": "r",
                "type": "Normal",
            },
        )
    assert bad.value.status == 422
