"""Server-side apply field ownership (flinkop.sandbox.apiserver.fieldmanager)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.fieldmanager import (
    apply,
    fields_of,
    fields_v1_to_paths,
    list_keys,
    managers_of,
    owned_paths,
    path_string,
    paths_to_fields_v1,
    record_update,
)

JSON = dict[str, Any]
T0 = "2024-01-01T00:00:00Z"
T1 = "2024-01-01T00:01:00Z"
T2 = "2024-01-01T00:02:00Z"
T3 = "2024-01-01T00:03:00Z"


def deployment(**spec_overrides: Any) -> JSON:
    pod_spec: JSON = {
        "containers": [
            {
                "name": "main",
                "image": "flink:1.18",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 8081, "name": "ui"}],
            }
        ],
        "nodeSelector": {"disk": "ssd"},
    }
    spec: JSON = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec},
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": spec,
    }


def pod_spec(obj: JSON) -> JSON:
    spec: JSON = obj["spec"]["template"]["spec"]
    return spec


def helm_apply(live: JSON | None, applied: JSON, now: str = T1, *, force: bool = False, **kw: Any) -> JSON:
    args: JSON = {"builtin": True, "ignore_status": True, "api_version": "apps/v1"}
    args.update(kw)
    return apply(live, applied, manager="python", force=force, now=now, **args)


def server_fields(obj: JSON, **extra: Any) -> JSON:
    """What the store would add on create (server-owned metadata)."""
    out = copy.deepcopy(obj)
    out["metadata"].update({"uid": "u-1", "resourceVersion": "1", "generation": 1, **extra})
    return out


def kubectl_patch(live: JSON, mutate: Any, now: str = T2) -> JSON:
    new = copy.deepcopy(live)
    mutate(new)
    return record_update(
        live, new, manager="kubectl-patch", api_version="apps/v1", builtin=True, ignore_status=True, now=now
    )


def entry(obj: JSON, manager: str, operation: str = "Apply") -> JSON:
    found: list[JSON] = [
        e for e in obj["metadata"].get("managedFields", [])
        if e["manager"] == manager and e["operation"] == operation
    ]
    assert len(found) == 1, obj["metadata"].get("managedFields")
    return found[0]


# ------------------------------------------------------------------------------------------
# fieldsV1
# ------------------------------------------------------------------------------------------


def test_fields_of_deployment_exact() -> None:
    fields = fields_of(deployment(), list_keys(True), ignore_status=True)
    assert fields == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {"f:matchLabels": {"f:app": {}}},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"main"}': {
                            ".": {},
                            "f:env": {
                                'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}},
                                'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}},
                            },
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":8081,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                    "f:name": {},
                                },
                            },
                        }
                    },
                    "f:nodeSelector": {"f:disk": {}},
                },
            },
        },
    }


def test_fields_of_service_ports_finalizers_and_server_fields() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "s", "namespace": "ns", "uid": "x", "resourceVersion": "5",
            "finalizers": ["a.io/f", "b"], "ownerReferences": [{"uid": "o-1", "name": "o", "kind": "K"}],
        },
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]},
        "status": {"loadBalancer": {}},
    }
    assert fields_of(svc, list_keys(True), ignore_status=True) == {
        "f:metadata": {
            "f:finalizers": {'v:"a.io/f"': {}, 'v:"b"': {}},
            "f:ownerReferences": {'k:{"uid":"o-1"}': {".": {}, "f:kind": {}, "f:name": {}, "f:uid": {}}},
        },
        "f:spec": {
            "f:ports": {
                'k:{"port":53,"protocol":"UDP"}': {".": {}, "f:port": {}, "f:protocol": {}},
                'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:targetPort": {}},
            }
        },
    }
    # Without a status subresource, status is an ordinary field (an empty map is owned as a leaf).
    with_status = fields_of(svc, list_keys(True), ignore_status=False)
    assert with_status["f:status"] == {"f:loadBalancer": {}}


def test_fields_v1_round_trip_and_path_string() -> None:
    fields = fields_of(deployment(), list_keys(True), ignore_status=True)
    assert paths_to_fields_v1(fields_v1_to_paths(fields)) == fields
    image = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"main"}', "f:image")
    assert path_string(image) == '.spec.template.spec.containers[name="main"].image'
    port = ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}')
    assert path_string(port) == '.spec.ports[port=80,protocol="TCP"]'
    assert path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


def test_lists_without_usable_keys_are_atomic() -> None:
    # Duplicate merge keys, or items missing the key: the list is treated as atomic.
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}], "volumes": [{}]}}}}
    assert fields_of(obj, list_keys(True), ignore_status=True) == {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {}, "f:volumes": {}}}}
    }


# ------------------------------------------------------------------------------------------
# apply: create, merge, prune
# ------------------------------------------------------------------------------------------


def test_apply_create() -> None:
    applied = deployment()
    created = helm_apply(None, applied)
    mf = created["metadata"]["managedFields"]
    assert mf == [
        {
            "manager": "python",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_of(applied, list_keys(True), ignore_status=True),
        }
    ]
    del created["metadata"]["managedFields"]
    assert created == applied


def test_apply_ignores_client_managed_fields_and_nulls() -> None:
    applied = deployment()
    applied["metadata"]["managedFields"] = [
        {"manager": "evil", "operation": "Update", "fieldsV1": {"f:x": {}}}
    ]
    applied["metadata"]["annotations"] = None
    created = helm_apply(None, applied)
    assert managers_of(created) == ["python"]
    assert "annotations" not in created["metadata"]


def test_upgrade_prunes_dropped_env_var_and_node_selector() -> None:
    live = server_fields(helm_apply(None, deployment()))
    v2 = deployment()
    c = pod_spec(v2)["containers"][0]
    c["env"] = [{"name": "A", "value": "1"}]
    del pod_spec(v2)["nodeSelector"]
    upgraded = helm_apply(live, v2, T2)
    spec = pod_spec(upgraded)
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert "nodeSelector" not in spec
    # Server-owned metadata survives.
    assert upgraded["metadata"]["uid"] == "u-1" and upgraded["metadata"]["resourceVersion"] == "1"
    assert entry(upgraded, "python")["fieldsV1"] == fields_of(v2, list_keys(True), ignore_status=True)
    assert entry(upgraded, "python")["time"] == T2

    # Dropping the last env var removes the emptied list too.
    v3 = copy.deepcopy(v2)
    del pod_spec(v3)["containers"][0]["env"]
    again = helm_apply(upgraded, v3, T3)
    assert "env" not in pod_spec(again)["containers"][0]


def test_upgrade_drops_whole_container() -> None:
    v1 = deployment()
    pod_spec(v1)["containers"].append({"name": "sidecar", "image": "busybox", "args": ["sleep"]})
    live = helm_apply(None, v1)
    upgraded = helm_apply(live, deployment(), T2)
    assert [c["name"] for c in pod_spec(upgraded)["containers"]] == ["main"]
    assert upgraded["spec"] == deployment()["spec"]


def test_keyed_list_merge_keeps_live_order_and_appends() -> None:
    live = deployment()
    live = record_update(None, live, manager="kubectl-create", api_version="apps/v1", builtin=True,
                         ignore_status=True, now=T0)
    applied = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "extra", "image": "x"},
            {"name": "main", "env": [{"name": "C", "value": "3"}]},
        ]}}},
    }
    result = helm_apply(live, applied)
    containers = pod_spec(result)["containers"]
    assert [c["name"] for c in containers] == ["main", "extra"]
    assert [e["name"] for e in containers[0]["env"]] == ["A", "B", "C"]
    assert containers[0]["image"] == "flink:1.18"
    assert result["spec"]["replicas"] == 2


def test_apply_noop_keeps_time() -> None:
    live = helm_apply(None, deployment())
    again = helm_apply(live, deployment(), T3)
    assert entry(again, "python")["time"] == T1
    assert again == live


def test_co_owned_field_is_not_pruned() -> None:
    live = helm_apply(None, deployment())
    # Another applier sets the same values: shared ownership, no conflict.
    other_cfg = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}}
    live = apply(live, other_cfg, manager="other", force=False, api_version="apps/v1", builtin=True,
                 ignore_status=True, now=T2)
    assert owned_paths(live, "python") >= owned_paths(live, "other")
    v2 = deployment()
    del pod_spec(v2)["nodeSelector"]
    upgraded = helm_apply(live, v2, T3)
    assert pod_spec(upgraded)["nodeSelector"] == {"disk": "ssd"}
    disk = ("f:spec", "f:template", "f:spec", "f:nodeSelector", "f:disk")
    assert disk not in owned_paths(upgraded, "python")
    assert disk in owned_paths(upgraded, "other")


def test_dropped_container_with_field_owned_by_other_keeps_item() -> None:
    v1 = deployment()
    pod_spec(v1)["containers"].append({"name": "sidecar", "image": "busybox", "args": ["sleep"]})
    live = helm_apply(None, v1)

    def add_env(obj: JSON) -> None:
        pod_spec(obj)["containers"][1]["env"] = [{"name": "DEBUG", "value": "1"}]

    live = kubectl_patch(live, add_env)
    upgraded = helm_apply(live, deployment(), T3)
    sidecar = pod_spec(upgraded)["containers"][1]
    # The item survives with its key and the other manager's field; the applier's own fields go.
    assert sidecar == {"name": "sidecar", "env": [{"name": "DEBUG", "value": "1"}]}


# ------------------------------------------------------------------------------------------
# conflicts
# ------------------------------------------------------------------------------------------


def _patched_replicas() -> JSON:
    live = server_fields(helm_apply(None, deployment()))

    def scale(obj: JSON) -> None:
        obj["spec"]["replicas"] = 5

    return kubectl_patch(live, scale)


def test_record_update_takes_ownership_then_apply_conflicts() -> None:
    live = _patched_replicas()
    replicas = ("f:spec", "f:replicas")
    assert owned_paths(live, "kubectl-patch", "Update") == {replicas}
    assert replicas not in owned_paths(live, "python")
    patch_entry = entry(live, "kubectl-patch", "Update")
    assert patch_entry == {
        "manager": "kubectl-patch", "operation": "Update", "apiVersion": "apps/v1", "time": T2,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    before = copy.deepcopy(live)
    with pytest.raises(ApiError) as info:
        helm_apply(live, deployment(), T3)
    err = info.value
    assert err.code == 409 and err.reason == "Conflict"
    assert err.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas'
    )
    assert err.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-patch" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }
    assert live == before


def test_apply_same_value_as_other_owner_is_shared_not_conflict() -> None:
    live = _patched_replicas()
    result = helm_apply(live, deployment(replicas=5), T3)
    assert result["spec"]["replicas"] == 5
    assert ("f:spec", "f:replicas") in owned_paths(result, "kubectl-patch")
    assert ("f:spec", "f:replicas") in owned_paths(result, "python")


def test_force_takes_ownership_and_drops_empty_manager() -> None:
    live = _patched_replicas()
    result = helm_apply(live, deployment(), T3, force=True)
    assert result["spec"]["replicas"] == 2
    assert managers_of(result) == ["python"]
    assert ("f:spec", "f:replicas") in owned_paths(result, "python")


def test_conflict_message_with_several_fields() -> None:
    live = server_fields(helm_apply(None, deployment()))

    def mutate(obj: JSON) -> None:
        obj["spec"]["replicas"] = 5
        pod_spec(obj)["containers"][0]["image"] = "flink:1.19"

    live = kubectl_patch(live, mutate)
    with pytest.raises(ApiError) as info:
        helm_apply(live, deployment(), T3)
    assert info.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-patch" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="main"].image'
    )
    assert [c["field"] for c in (info.value.details or {})["causes"]] == [
        ".spec.replicas", '.spec.template.spec.containers[name="main"].image'
    ]


def test_conflict_with_other_applier_has_no_version() -> None:
    live = helm_apply(None, deployment())
    cfg = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 9}
    }
    with pytest.raises(ApiError) as info:
        apply(live, cfg, manager="other", force=False, api_version="apps/v1", builtin=True,
              ignore_status=True, now=T2)
    assert info.value.message == 'Apply failed with 1 conflict: conflict with "python": .spec.replicas'


def test_record_update_removal_and_empty_managers_dropped() -> None:
    live = _patched_replicas()

    def drop(obj: JSON) -> None:
        del obj["spec"]["replicas"]
        obj["metadata"]["labels"]["team"] = "x"

    new = copy.deepcopy(live)
    drop(new)
    new["metadata"]["managedFields"] = []  # sent by the client: ignored
    result = record_update(live, new, manager="kubectl-edit", api_version="apps/v1", builtin=True,
                           ignore_status=True, now=T3)
    # kubectl-patch owned only the removed replicas: its entry disappears.
    assert managers_of(result) == ["python", "kubectl-edit"]
    assert owned_paths(result, "kubectl-edit") == {("f:metadata", "f:labels", "f:team")}


def test_record_update_create_owns_everything() -> None:
    created = record_update(None, deployment(), manager="kubectl-create", api_version="apps/v1",
                            builtin=True, ignore_status=True, now=T0)
    assert entry(created, "kubectl-create", "Update")["fieldsV1"] == fields_of(
        deployment(), list_keys(True), ignore_status=True
    )


def test_record_update_noop_adds_no_entry() -> None:
    live = helm_apply(None, deployment())
    same = record_update(live, copy.deepcopy(live), manager="kubectl-edit", api_version="apps/v1",
                         builtin=True, ignore_status=True, now=T3)
    assert same == live


# ------------------------------------------------------------------------------------------
# custom resources, status
# ------------------------------------------------------------------------------------------


def flink_deployment(jobs: list[JSON]) -> JSON:
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": "fd", "namespace": "ns", "finalizers": ["flinkop/cleanup"]},
        "spec": {"image": "flink", "jobs": jobs, "flinkConfiguration": {"a": "1", "b": "2"}},
        "status": {"state": "NEW"},
    }


def cr_apply(
    live: JSON | None, cfg: JSON, manager: str = "python", now: str = T1, force: bool = False
) -> JSON:
    return apply(live, cfg, manager=manager, force=force, api_version="flink.apache.org/v1beta1",
                 builtin=False, ignore_status=True, now=now)


def test_custom_resource_lists_are_atomic() -> None:
    cfg = flink_deployment([{"name": "a", "p": 1}, {"name": "b", "p": 2}])
    assert fields_of(cfg, list_keys(False), ignore_status=True) == {
        "f:metadata": {"f:finalizers": {'v:"flinkop/cleanup"': {}}},
        "f:spec": {"f:flinkConfiguration": {"f:a": {}, "f:b": {}}, "f:image": {}, "f:jobs": {}},
    }
    live = cr_apply(None, cfg)
    # An atomic list is replaced wholesale, not merged by name.
    v2 = flink_deployment([{"name": "c"}])
    del v2["spec"]["flinkConfiguration"]["b"]
    upgraded = cr_apply(live, v2, now=T2)
    assert upgraded["spec"]["jobs"] == [{"name": "c"}]
    assert upgraded["spec"]["flinkConfiguration"] == {"a": "1"}
    # Another applier setting a different list value conflicts on the whole list.
    with pytest.raises(ApiError) as info:
        cr_apply(upgraded, {**flink_deployment([{"name": "d"}]), "metadata": {"name": "fd"}}, manager="m")
    assert info.value.message.endswith(": .spec.jobs")


def test_status_ignored_when_subresource() -> None:
    cfg = flink_deployment([])
    created = cr_apply(None, cfg)
    assert "status" not in created
    assert "f:status" not in entry(created, "python")["fieldsV1"]

    # The controller writes status through the subresource: a separate entry.
    new = copy.deepcopy(created)
    new["status"] = {"state": "RUNNING"}
    with_status = record_update(created, new, manager="flinkop", api_version="flink.apache.org/v1beta1",
                                builtin=False, ignore_status=True, now=T2, subresource="status")
    status_entry = entry(with_status, "flinkop", "Update")
    assert status_entry["subresource"] == "status"
    assert status_entry["fieldsV1"] == {"f:status": {"f:state": {}}}

    # Applying a status through the main resource changes nothing there and owns nothing.
    again = cr_apply(with_status, {**cfg, "status": {"state": "BOGUS"}}, now=T3)
    assert again["status"] == {"state": "RUNNING"}
    assert "f:status" not in entry(again, "python")["fieldsV1"]
    assert entry(again, "flinkop", "Update")["fieldsV1"] == {"f:status": {"f:state": {}}}


def test_status_is_plain_field_without_subresource() -> None:
    cm = {"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"}, "status": {"x": 1}}
    created = apply(None, cm, manager="python", force=False, api_version="v1", builtin=False,
                    ignore_status=False, now=T1)
    assert created["status"] == {"x": 1}
    assert entry(created, "python")["fieldsV1"] == {"f:status": {"f:x": {}}}


# ------------------------------------------------------------------------------------------
# purity
# ------------------------------------------------------------------------------------------


def test_inputs_not_mutated() -> None:
    v1 = deployment()
    v1_copy = copy.deepcopy(v1)
    live = helm_apply(None, v1)
    assert v1 == v1_copy
    live_copy = copy.deepcopy(live)
    v2 = deployment(replicas=3)
    del pod_spec(v2)["nodeSelector"]
    v2_copy = copy.deepcopy(v2)
    result = helm_apply(live, v2, T2)
    assert live == live_copy and v2 == v2_copy
    # The result shares nothing with the inputs.
    pod_spec(result)["containers"][0]["env"].append({"name": "Z"})
    result["metadata"]["labels"]["x"] = "y"
    assert live == live_copy and v2 == v2_copy

    new = copy.deepcopy(result)
    new_copy = copy.deepcopy(new)
    result_copy = copy.deepcopy(result)
    updated = record_update(result, new, manager="m", api_version="apps/v1", builtin=True,
                            ignore_status=True, now=T3)
    updated["spec"]["replicas"] = 100
    assert new == new_copy and result == result_copy
