"""Unit tests of the sandbox apiserver's PATCH engines: JSON merge, JSON patch, strategic merge."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.patching import (
    JsonPatchOpFailed,
    JsonPatchTestFailed,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

# --- RFC 7386 ------------------------------------------------------------------------------------

# RFC 7386 Appendix A, verbatim.
RFC7386_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386_EXAMPLES)
def test_merge_patch_rfc7386_appendix(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_does_not_mutate_or_alias_inputs() -> None:
    target = {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}}
    patch = {"metadata": {"labels": {"b": "2", "a": None}}, "data": {"x": [1]}}
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    result = merge_patch(target, patch)
    assert result == {"metadata": {"labels": {"b": "2"}}, "spec": {"list": [1, 2]}, "data": {"x": [1]}}
    assert (target, patch) == (before_target, before_patch)
    result["spec"]["list"].append(3)
    result["data"]["x"].append(2)
    assert (target, patch) == (before_target, before_patch)


# --- RFC 6902 ------------------------------------------------------------------------------------


def test_json_equal_follows_json_not_python() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(1, True)
    assert not json_equal(0, False)
    assert not json_equal("1", 1)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})


# RFC 6902 Appendix A examples that succeed: (document, patch, result).
RFC6902_EXAMPLES: list[tuple[Any, list[dict[str, Any]], Any]] = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(("doc", "ops", "expected"), RFC6902_EXAMPLES)
def test_json_patch_rfc6902_appendix(doc: Any, ops: list[dict[str, Any]], expected: Any) -> None:
    assert json_patch(doc, ops) == expected


def test_json_patch_escaped_keys_and_copy() -> None:
    doc = {"metadata": {"annotations": {"a/b": "1", "m~n": "2"}}, "spec": {"items": [{"x": 1}]}}
    ops = [
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "one"},
        {"op": "remove", "path": "/metadata/annotations/m~0n"},
        {"op": "copy", "from": "/spec/items/0", "path": "/spec/items/-"},
        {"op": "replace", "path": "/spec/items/1/x", "value": 2},
    ]
    assert json_patch(doc, ops) == {
        "metadata": {"annotations": {"a/b": "one"}},
        "spec": {"items": [{"x": 1}, {"x": 2}]},  # the copy is deep: item 0 is unchanged
    }


def test_json_patch_whole_document_pointer() -> None:
    assert json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}
    assert json_patch({"a": 1}, [{"op": "test", "path": "", "value": {"a": 1.0}}]) == {"a": 1}


def test_json_patch_test_compares_json_values() -> None:
    doc = {"n": 1, "b": True, "f": 1.0, "o": {"x": [1, 2]}, "z": None}
    passing = [
        {"op": "test", "path": "/n", "value": 1.0},
        {"op": "test", "path": "/f", "value": 1},
        {"op": "test", "path": "/o", "value": {"x": [1, 2]}},
        {"op": "test", "path": "/z", "value": None},
    ]
    assert json_patch(doc, passing) == doc
    for path, value in [("/n", True), ("/b", 1), ("/o", {"x": [2, 1]}), ("/n", "1"), ("/z", 0)]:
        with pytest.raises(JsonPatchTestFailed, match=f"^testing value {path} failed: test failed$"):
            json_patch(doc, [{"op": "test", "path": path, "value": value}])


def test_json_patch_failed_test_message_matches_go() -> None:
    obj = {"metadata": {"resourceVersion": "5"}}
    with pytest.raises(JsonPatchTestFailed) as caught:
        json_patch(obj, [{"op": "test", "path": "/metadata/resourceVersion", "value": "4"}])
    assert str(caught.value) == "testing value /metadata/resourceVersion failed: test failed"
    with pytest.raises(JsonPatchTestFailed):  # a missing target never passes a test
        json_patch(obj, [{"op": "test", "path": "/metadata/uid", "value": None}])


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            [{"op": "replace", "path": "/spec/x", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/x: missing value",
        ),
        (
            [{"op": "replace", "path": "/nope/x", "value": 1}],
            "replace operation does not apply: doc is missing path: /nope/x: missing value",
        ),
        (
            [{"op": "add", "path": "/nope/x", "value": 1}],
            'add operation does not apply: doc is missing path: "/nope/x": missing value',
        ),
        (
            [{"op": "remove", "path": "/spec/x"}],
            "error in remove for path: '/spec/x': Unable to remove nonexistent key: x: missing value",
        ),
        (
            [{"op": "remove", "path": "/list/3"}],
            "error in remove for path: '/list/3': "
            "Unable to access invalid index: 3: invalid index referenced",
        ),
        (
            [{"op": "add", "path": "/list/4", "value": 0}],
            "error in add for path: '/list/4': Unable to access invalid index: 4: invalid index referenced",
        ),
        (
            [{"op": "add", "path": "/list/01", "value": 0}],
            "error in add for path: '/list/01': value was not a proper array index: '01'",
        ),
        ([{"op": "replace", "path": "/list/-1", "value": 0}], "doc is missing key: /list/-1"),
        ([{"op": "remove", "path": ""}], 'remove operation does not apply: doc is missing path: ""'),
        ([{"op": "add", "path": "spec", "value": 1}], 'doc is missing path: "spec"'),
        ([{"op": "add", "path": "/spec/a/b", "value": 1}], 'doc is missing path: "/spec/a/b"'),
        (
            [{"op": "move", "from": "/spec/missing", "path": "/x"}],
            "move operation does not apply: doc is missing from path: /spec/missing: missing value",
        ),
        ([{"op": "move", "from": "/spec", "path": "/spec/a/b"}], "cannot move /spec into its child"),
        (
            [{"op": "copy", "from": "/spec", "path": "/no/where"}],
            "copy operation does not apply: doc is missing destination path: /no/where: missing value",
        ),
        ([{"op": "test", "path": "/a/b/c", "value": 1}], "test operation does not apply: is missing path"),
        ([{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
        ([{"path": "/a"}], "Unexpected kind: unknown"),
        ([None], "Unexpected kind: unknown"),
        ([{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
        ([{"op": "copy", "path": "/x"}], "copy operation failed to decode from: missing value"),
    ],
)
def test_json_patch_operation_failures(ops: list[Any], message: str) -> None:
    doc = {"spec": {"a": 1}, "list": [1, 2, 3]}
    before = copy.deepcopy(doc)
    with pytest.raises(JsonPatchOpFailed) as caught:
        json_patch(doc, ops)
    assert message in str(caught.value)
    assert doc == before


def test_json_patch_is_atomic_and_does_not_mutate() -> None:
    doc = {"spec": {"replicas": 1, "list": [1]}}
    before = copy.deepcopy(doc)
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/spec/list/-", "value": 2},
        {"op": "test", "path": "/spec/replicas", "value": 1},
    ]
    with pytest.raises(JsonPatchTestFailed):
        json_patch(doc, ops)
    assert doc == before
    value = {"deep": [1]}
    result = json_patch(doc, [{"op": "add", "path": "/spec/new", "value": value}])
    result["spec"]["new"]["deep"].append(2)
    result["spec"]["list"].append(9)
    assert value == {"deep": [1]}
    assert doc == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("nope", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        (3, "json: cannot unmarshal number into Go value of type jsonpatch.Patch"),
        ([True], "json: cannot unmarshal bool into Go value of type jsonpatch.Operation"),
        ([[]], "json: cannot unmarshal array into Go value of type jsonpatch.Operation"),
    ],
)
def test_json_patch_bad_body_is_400(body: Any, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        json_patch({}, body)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_json_patch_null_body_is_a_no_op() -> None:
    assert json_patch({"a": 1}, None) == {"a": 1}


def test_json_patch_move_within_array_and_to_self() -> None:
    doc = {"a": [1, 2, 3], "b": {"c": 1}}
    assert json_patch(doc, [{"op": "move", "from": "/a/0", "path": "/a/-"}]) == {
        "a": [2, 3, 1],
        "b": {"c": 1},
    }
    assert json_patch(doc, [{"op": "move", "from": "/b/c", "path": "/b/c"}]) == doc
    assert json_patch(doc, [{"op": "move", "from": "/b", "path": "/a/0"}]) == {"a": [{"c": 1}, 1, 2, 3]}


# --- strategic merge patch -----------------------------------------------------------------------


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "x"}, "finalizers": ["a.io/one", "b.io/two"]},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "flink:1.17",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 8081, "name": "ui"}],
                    "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                    "args": ["jobmanager"],
                },
                {"name": "sidecar", "image": "busybox"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "a", "operator": "Exists"}],
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}]
        },
    }


def test_smp_updates_one_container_by_name() -> None:
    pod = _pod()
    result = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "sidecar", "image": "busybox:2"}]}})
    containers = result["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main", "sidecar"]
    assert containers[1] == {"name": "sidecar", "image": "busybox:2"}
    assert containers[0] == pod["spec"]["containers"][0]


def test_smp_adds_and_deletes_containers() -> None:
    patch = {
        "spec": {
            "containers": [
                {"name": "extra", "image": "nginx"},
                {"name": "main", "$patch": "delete"},
                {"name": "new2", "image": "redis"},
            ]
        }
    }
    result = strategic_merge_patch(_pod(), patch)
    assert [c["name"] for c in result["spec"]["containers"]] == ["sidecar", "extra", "new2"]


def test_smp_env_merge_by_name_and_null_deletes_field() -> None:
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "env": [
                        {"name": "B", "value": "20"},
                        {"name": "C", "value": "3"},
                        {"name": "A", "$patch": "delete"},
                    ],
                    "args": ["taskmanager"],
                    "image": None,
                }
            ]
        }
    }
    main = strategic_merge_patch(_pod(), patch)["spec"]["containers"][0]
    assert main["env"] == [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
    assert main["args"] == ["taskmanager"]  # lists without a strategy are replaced
    assert "image" not in main
    assert main["volumeMounts"] == [{"mountPath": "/data", "name": "data"}]


def test_smp_env_item_field_deleted_with_null() -> None:
    patch = {
        "spec": {
            "containers": [{"name": "main", "env": [{"name": "A", "value": None, "valueFrom": {"x": 1}}]}]
        }
    }
    env = strategic_merge_patch(_pod(), patch)["spec"]["containers"][0]["env"]
    assert env[0] == {"name": "A", "valueFrom": {"x": 1}}


def test_smp_finalizers_set_merge_and_delete_from_primitive_list() -> None:
    result = strategic_merge_patch(_pod(), {"metadata": {"finalizers": ["c.io/three", "a.io/one"]}})
    assert result["metadata"]["finalizers"] == ["a.io/one", "b.io/two", "c.io/three"]

    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/one"], "finalizers": ["d.io/four"]}}
    result = strategic_merge_patch(_pod(), patch)
    assert result["metadata"]["finalizers"] == ["b.io/two", "d.io/four"]
    assert not any(k.startswith("$") for k in result["metadata"])

    result = strategic_merge_patch(
        _pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b.io/two"]}}
    )
    assert result["metadata"]["finalizers"] == ["a.io/one"]


def test_smp_finalizers_outside_metadata_are_replaced() -> None:
    ns = {"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}}
    assert strategic_merge_patch(ns, {"spec": {"finalizers": ["other"]}})["spec"]["finalizers"] == ["other"]


def test_smp_service_ports_merge_by_port() -> None:
    svc = {
        "kind": "Service",
        "spec": {
            "ports": [{"port": 80, "name": "http", "targetPort": 8080}, {"port": 443, "name": "https"}],
            "selector": {"app": "x"},
        },
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 8081, "name": "rest"}]}}
    ports = strategic_merge_patch(svc, patch)["spec"]["ports"]
    assert ports == [
        {"port": 80, "name": "http", "targetPort": 9090},
        {"port": 443, "name": "https"},
        {"port": 8081, "name": "rest"},
    ]


def test_smp_container_ports_merge_by_container_port() -> None:
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "ports": [{"containerPort": 8081, "protocol": "TCP"}, {"containerPort": 6123}],
                }
            ]
        }
    }
    ports = strategic_merge_patch(_pod(), patch)["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 8081, "name": "ui", "protocol": "TCP"}, {"containerPort": 6123}]


def test_smp_container_ports_without_merge_key_is_400() -> None:
    patch = {"spec": {"containers": [{"name": "main", "ports": [{"port": 80}]}]}}
    with pytest.raises(ApiError) as caught:
        strategic_merge_patch(_pod(), patch)
    assert caught.value.code == 400
    assert "does not contain declared merge key: containerPort" in caught.value.message


def test_smp_conditions_merge_by_type() -> None:
    patch = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]
        }
    }
    conditions = strategic_merge_patch(_pod(), patch)["status"]["conditions"]
    assert conditions == [
        {"type": "Ready", "status": "True"},
        {"type": "Scheduled", "status": "True"},
        {"type": "Initialized", "status": "True"},
    ]


def test_smp_other_keyed_lists() -> None:
    obj = {
        "metadata": {"ownerReferences": [{"uid": "u1", "name": "a"}]},
        "spec": {
            "volumes": [{"name": "data", "emptyDir": {}}],
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
            "imagePullSecrets": [{"name": "s1"}],
            "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}],
        },
    }
    patch = {
        "metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]},
        "spec": {
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}}],
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}],
            "imagePullSecrets": [{"name": "s2"}],
            "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}],
        },
    }
    result = strategic_merge_patch(obj, patch)
    assert result["metadata"]["ownerReferences"] == [{"uid": "u1", "name": "a", "controller": True}]
    assert [v["name"] for v in result["spec"]["volumes"]] == ["data", "cfg"]
    assert result["spec"]["hostAliases"] == [{"ip": "10.0.0.1", "hostnames": ["b"]}]
    assert result["spec"]["imagePullSecrets"] == [{"name": "s1"}, {"name": "s2"}]
    assert result["spec"]["topologySpreadConstraints"] == [{"topologyKey": "zone", "maxSkew": 2}]


def test_smp_unkeyed_lists_are_replaced() -> None:
    result = strategic_merge_patch(_pod(), {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}})
    assert result["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_smp_patch_replace_on_map() -> None:
    patch = {"metadata": {"labels": {"$patch": "replace", "new": "y", "gone": None}}}
    result = strategic_merge_patch(_pod(), patch)
    assert result["metadata"]["labels"] == {"new": "y"}
    assert result["metadata"]["name"] == "p"


def test_smp_patch_delete_on_map() -> None:
    result = strategic_merge_patch(_pod(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in result["metadata"]
    assert strategic_merge_patch(_pod(), {"$patch": "delete"}) == {}


def test_smp_patch_replace_item_replaces_list() -> None:
    patch = {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}
    assert strategic_merge_patch(_pod(), patch)["spec"]["containers"] == [{"name": "only", "image": "x"}]


def test_smp_null_deletes_and_map_merge() -> None:
    patch = {"metadata": {"labels": {"app": None, "tier": "db"}}, "status": None}
    result = strategic_merge_patch(_pod(), patch)
    assert result["metadata"]["labels"] == {"tier": "db"}
    assert "status" not in result


def test_smp_never_stores_directives() -> None:
    patch = {
        "$retainKeys": ["spec"],
        "metadata": {"$setElementOrder/finalizers": ["b.io/two"], "annotations": {"x": "1", "y": None}},
        "spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "main"}],
            "containers": [{"name": "new", "env": [{"name": "Z", "$patch": "delete"}], "image": "i"}],
            "volumes": [{"name": "v", "$retainKeys": ["name"], "emptyDir": {"$patch": "replace"}}],
            "affinity": {"nodeAffinity": {"$patch": "delete"}, "podAffinity": {"$patch": "replace", "a": 1}},
        },
    }
    result = strategic_merge_patch(_pod(), patch)

    def keys(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [k for key, v in value.items() for k in [key, *keys(v)]]
        if isinstance(value, list):
            return [k for v in value for k in keys(v)]
        return []

    assert not [k for k in keys(result) if k.startswith("$")]
    assert result["metadata"]["annotations"] == {"x": "1"}
    assert result["spec"]["containers"][-1] == {"name": "new", "env": [], "image": "i"}
    assert result["spec"]["volumes"][-1] == {"name": "v", "emptyDir": {}}
    assert result["spec"]["affinity"] == {"podAffinity": {"a": 1}}


def test_smp_bad_bodies_are_400() -> None:
    for patch in ([{"a": 1}], {"metadata": {"$patch": "bogus"}}, {"spec": {"containers": [{"image": "x"}]}}):
        with pytest.raises(ApiError) as caught:
            strategic_merge_patch(_pod(), patch)  # type: ignore[arg-type]
        assert caught.value.code == 400
    with pytest.raises(ApiError, match="cannot unmarshal array"):
        strategic_merge_patch(_pod(), [])  # type: ignore[arg-type]


def test_smp_does_not_mutate_or_alias_inputs() -> None:
    pod, patch = _pod(), {"spec": {"containers": [{"name": "main", "env": [{"name": "A", "value": "9"}]}]}}
    before_pod, before_patch = copy.deepcopy(pod), copy.deepcopy(patch)
    result = strategic_merge_patch(pod, patch)
    assert (pod, patch) == (before_pod, before_patch)
    result["spec"]["containers"][0]["env"].append({"name": "Q"})
    result["spec"]["containers"][1]["image"] = "changed"
    result["metadata"]["finalizers"].clear()
    assert (pod, patch) == (before_pod, before_patch)


# --- properties ----------------------------------------------------------------------------------

_keys = st.sampled_from(["a", "b", "c", "d"])
_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=2)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_objects = st.dictionaries(_keys, _json, max_size=4)
# No nulls inside lists of objects, no lists of objects: where SMP and RFC 7386 agree exactly.
_plain = st.recursive(
    _scalars,
    lambda inner: st.lists(_scalars, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)


@given(_json, _json)
def test_merge_patch_is_idempotent(target: Any, patch: Any) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


@given(_json, _json)
def test_merge_patch_does_not_mutate(target: Any, patch: Any) -> None:
    before = copy.deepcopy((target, patch))
    merge_patch(target, patch)
    assert (target, patch) == before


@given(_objects, st.text(min_size=1, max_size=4), _json)
def test_json_patch_add_then_remove_round_trips(doc: dict[str, Any], key: str, value: Any) -> None:
    if key in doc:
        return
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    added = json_patch(doc, [{"op": "add", "path": pointer, "value": value}])
    assert json_equal(added[key], value)
    assert (
        json_patch(
            added, [{"op": "test", "path": pointer, "value": value}, {"op": "remove", "path": pointer}]
        )
        == doc
    )


@given(st.lists(_json, max_size=5), st.data())
def test_json_patch_array_insert_then_remove_round_trips(items: list[Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(items)))
    doc = {"l": items}
    added = json_patch(doc, [{"op": "add", "path": f"/l/{index}", "value": "new"}])
    assert added["l"][index] == "new" and len(added["l"]) == len(items) + 1
    assert json_patch(added, [{"op": "remove", "path": f"/l/{index}"}]) == doc


@given(st.dictionaries(_keys, _plain, max_size=4), st.dictionaries(_keys, _plain, max_size=4))
def test_smp_without_special_fields_is_a_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> None:
    assert strategic_merge_patch(original, patch) == merge_patch(original, patch)
