"""The controllers' pure parts: template hash, int-or-percent rounding, selectors, deletion ranking,
subset packing, proportional scaling and expectations."""

from __future__ import annotations

from typing import Any

import pytest

from flinkop.sandbox.controllers.common import scaled_value, selector_matches, set_condition
from flinkop.sandbox.controllers.deployment import (
    get_proportion,
    new_rs_new_replicas,
    resolve_fenceposts,
    set_new_rs_annotations,
)
from flinkop.sandbox.controllers.endpoints import find_port, repack
from flinkop.sandbox.controllers.expectations import Expectations
from flinkop.sandbox.controllers.hashing import (
    SAFE_ALPHABET,
    equal_ignoring_hash,
    fnv1a_32,
    pod_template_hash,
    safe_encode,
)
from flinkop.sandbox.controllers.replicaset import pods_to_delete

JSON = dict[str, Any]
TEMPLATE: JSON = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
}


def test_fnv_and_safe_encoding_match_upstream_primitives() -> None:
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968
    assert safe_encode("0123456789") == "456789bcdf"


def test_pod_template_hash_is_stable_and_sensitive() -> None:
    h = pod_template_hash(TEMPLATE)
    assert h == "c5fb86c64"  # pinned: a change here renames every sandbox ReplicaSet
    assert set(h) <= set(SAFE_ALPHABET)
    reordered = {"spec": TEMPLATE["spec"], "metadata": {"labels": {"app": "web"}, "creationTimestamp": None}}
    assert pod_template_hash(reordered) == h  # key order and a null creationTimestamp do not matter
    changed = {**TEMPLATE, "spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}
    assert pod_template_hash(changed) != h
    assert pod_template_hash(TEMPLATE, 1) != h != pod_template_hash(TEMPLATE, 0)


def test_templates_equal_ignoring_the_hash_label() -> None:
    labelled = {**TEMPLATE, "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}}
    assert equal_ignoring_hash(labelled, TEMPLATE)
    assert not equal_ignoring_hash(labelled, {**TEMPLATE, "metadata": {"labels": {"app": "api"}}})
    no_labels = {"spec": TEMPLATE["spec"]}
    assert equal_ignoring_hash({**no_labels, "metadata": {"labels": {"pod-template-hash": "x"}}}, no_labels)


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 3, (1, 0)),  # surge rounds up, unavailable down
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 10, (3, 2)),
        (0, 0, 3, (0, 1)),  # both zero would never progress
        ("0%", "0%", 3, (0, 1)),
        (1, 0, 3, (1, 0)),
        ("50%", "50%", 5, (3, 2)),
        (2, "100%", 1, (2, 1)),
    ],
)
def test_fenceposts_round_like_upstream(
    surge: Any, unavailable: Any, replicas: int, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(surge, unavailable, replicas) == expected


def test_scaled_value_rejects_non_percentages() -> None:
    with pytest.raises(ValueError):
        scaled_value("3", 10, True)
    with pytest.raises(ValueError):
        scaled_value("x%", 10, True)


def test_label_selectors() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selector_matches({}, labels)
    assert not selector_matches(None, labels)
    assert selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert not selector_matches({"matchLabels": {"app": "api"}}, labels)
    expr = [
        {"key": "tier", "operator": "In", "values": ["front", "back"]},
        {"key": "env", "operator": "DoesNotExist"},
        {"key": "app", "operator": "Exists"},
        {"key": "app", "operator": "NotIn", "values": ["api"]},
    ]
    assert selector_matches({"matchExpressions": expr}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, labels)


def test_conditions_keep_transition_time_while_status_stays() -> None:
    status: JSON = {}
    set_condition(
        status, {"type": "Progressing", "status": "True", "reason": "A", "lastTransitionTime": "t1"}
    )
    set_condition(
        status, {"type": "Progressing", "status": "True", "reason": "B", "lastTransitionTime": "t2"}
    )
    assert status["conditions"] == [
        {"type": "Progressing", "status": "True", "reason": "B", "lastTransitionTime": "t1"}
    ]
    set_condition(
        status, {"type": "Progressing", "status": "False", "reason": "C", "lastTransitionTime": "t3"}
    )
    assert status["conditions"][0]["lastTransitionTime"] == "t3"


def _pod(name: str, created: str, *, node: str = "", phase: str = "Running", ready: bool = True) -> JSON:
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": created}]
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "conditions": conditions},
    }


def test_pods_to_delete_prefers_the_least_established() -> None:
    pods = [
        _pod("old-ready", "2024-01-01T00:00:00Z", node="n1"),
        _pod("new-ready", "2024-01-01T00:05:00Z", node="n1"),
        _pod("not-ready", "2024-01-01T00:00:00Z", node="n1", ready=False),
        _pod("pending", "2024-01-01T00:00:00Z", node="n1", phase="Pending", ready=False),
        _pod("unscheduled", "2024-01-01T00:00:00Z", phase="Pending", ready=False),
    ]
    order = [p["metadata"]["name"] for p in pods_to_delete(pods, pods, 4)]
    assert order == ["unscheduled", "pending", "not-ready", "new-ready"]
    assert len(pods_to_delete(pods, pods, 10)) == 5


def test_new_replica_set_size_respects_surge_and_pods_not_yet_gone() -> None:
    d = {
        "spec": {"replicas": 3, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
    }
    old = {"spec": {"replicas": 3}, "status": {"replicas": 3}}
    new = {"spec": {"replicas": 0}}
    assert new_rs_new_replicas(d, [old, new], new) == 1
    old_scaled = {"spec": {"replicas": 2}, "status": {"replicas": 3}}  # a pod still to be removed
    new_one = {"spec": {"replicas": 1}, "status": {"replicas": 1}}
    assert new_rs_new_replicas(d, [old_scaled, new_one], new_one) == 1
    old_done = {"spec": {"replicas": 2}, "status": {"replicas": 2}}
    assert new_rs_new_replicas(d, [old_done, new_one], new_one) == 2
    recreate = {"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}
    assert new_rs_new_replicas(recreate, [old, new], new) == 3


def test_revision_annotations_on_create_and_rollback() -> None:
    d = {
        "metadata": {
            "annotations": {"kubernetes.io/change-cause": "v1", "deployment.kubernetes.io/revision": "2"}
        },
        "spec": {"replicas": 4},
    }
    fresh: JSON = {"metadata": {}, "spec": {"replicas": 1}}
    assert set_new_rs_annotations(d, fresh, "3", exists=False)
    assert fresh["metadata"]["annotations"] == {
        "kubernetes.io/change-cause": "v1",  # the Deployment's own annotations are copied, ours are not
        "deployment.kubernetes.io/revision": "3",
        "deployment.kubernetes.io/desired-replicas": "4",
        "deployment.kubernetes.io/max-replicas": "5",
    }
    # Rolling back to the template of revision 1 makes that ReplicaSet revision 3, remembering 1.
    old: JSON = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}}}
    assert set_new_rs_annotations(d, old, "3", exists=True)
    annotations = old["metadata"]["annotations"]
    assert annotations["deployment.kubernetes.io/revision"] == "3"
    assert annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert "deployment.kubernetes.io/desired-replicas" not in annotations
    assert not set_new_rs_annotations(d, old, "3", exists=True)  # nothing left to change


def test_proportional_scaling_share() -> None:
    # 10 replicas (max 13 with 25% surge) split 6/4 mid-rollout, scaled to 20 (max 25).
    d = {"spec": {"replicas": 20}, "status": {"replicas": 10}}
    annotations = {"deployment.kubernetes.io/max-replicas": "13"}
    big = {"metadata": {"annotations": annotations}, "spec": {"replicas": 6}}
    small = {"metadata": {"annotations": annotations}, "spec": {"replicas": 4}}
    first = get_proportion(big, d, 15, 0)
    assert first == round(6 * 25 / 13) - 6 == 6
    assert get_proportion(small, d, 15, first) == round(4 * 25 / 13) - 4 == 4


def test_find_port_by_number_and_name() -> None:
    pod = {
        "spec": {
            "containers": [{"ports": [{"name": "http", "containerPort": 8080}]}],
            "initContainers": [
                {"restartPolicy": "Always", "ports": [{"name": "proxy", "containerPort": 15001}]},
                {"ports": [{"name": "init", "containerPort": 1}]},
            ],
        }
    }
    assert find_port(pod, {"port": 80, "targetPort": 9000}) == 9000
    assert find_port(pod, {"port": 80}) == 80
    assert find_port(pod, {"port": 80, "targetPort": "http"}) == 8080
    assert find_port(pod, {"port": 80, "targetPort": "http", "protocol": "UDP"}) is None
    assert find_port(pod, {"port": 80, "targetPort": "proxy"}) == 15001
    assert find_port(pod, {"port": 80, "targetPort": "init"}) is None


def test_repack_groups_addresses_by_port_set() -> None:
    def addr(ip: str) -> JSON:
        return {"ip": ip, "targetRef": {"kind": "Pod", "name": ip, "uid": ip}}

    http: JSON = {"name": "http", "port": 8080, "protocol": "TCP"}
    admin: JSON = {"name": "admin", "port": 9000, "protocol": "TCP"}
    entries = [
        (addr("10.0.0.2"), http, True),
        (addr("10.0.0.2"), admin, True),
        (addr("10.0.0.1"), http, True),
        (addr("10.0.0.1"), admin, True),
        (addr("10.0.0.3"), http, False),
        (addr("10.0.0.3"), admin, False),
        (addr("10.0.0.4"), admin, True),
    ]
    # Subsets sort by their first address, then by port name (upstream sorts by a hash of each).
    assert repack(entries) == [
        {
            "addresses": [addr("10.0.0.1"), addr("10.0.0.2"), addr("10.0.0.4")],
            "notReadyAddresses": [addr("10.0.0.3")],
            "ports": [admin],
        },
        {
            "addresses": [addr("10.0.0.1"), addr("10.0.0.2")],
            "notReadyAddresses": [addr("10.0.0.3")],
            "ports": [http],
        },
    ]
    # Not ready for one port means not ready for it, even if listed ready elsewhere.
    assert repack([(addr("10.0.0.1"), http, True), (addr("10.0.0.1"), http, False)]) == [
        {"notReadyAddresses": [addr("10.0.0.1")], "ports": [http]}
    ]
    assert repack([(addr("10.0.0.1"), None, True)]) == [{"addresses": [addr("10.0.0.1")]}]


def test_expectations() -> None:
    now = [0.0]
    exp = Expectations(ttl=10.0, clock=lambda: now[0])
    assert exp.satisfied("ns/rs")
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    exp.deletion_observed("ns/rs", "ns/a")
    exp.deletion_observed("ns/rs", "ns/a")  # the same pod seen twice counts once
    assert not exp.satisfied("ns/rs")
    assert exp.wait_left("ns/rs") == 10.0
    now[0] = 11.0
    assert exp.satisfied("ns/rs")  # expired: sync again rather than wait forever
