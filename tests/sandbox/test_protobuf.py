"""Tests for the schema-driven Kubernetes protobuf request-body decoder."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flinkop.sandbox.apiserver import protobuf
from flinkop.sandbox.apiserver import protobuf_schema as schema
from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.protobuf import decode
from flinkop.sandbox.apiserver.resources import BUILTIN_TYPES

# --------------------------------------------------------------------------------------------------
# A tiny protobuf encoder, written to mimic what Go's generated marshallers emit.
# --------------------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are sent as 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def vint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return ld(number, ld(1, key) + ld(2, value))


def fixed64(number: int, value: int) -> bytes:
    return tag(number, 1) + value.to_bytes(8, "little")


def fixed32(number: int, value: int) -> bytes:
    return tag(number, 5) + value.to_bytes(4, "little")


def envelope(
    api_version: str, kind: str, raw: bytes, *, extra: bytes = b"", magic: bytes = b"k8s\x00"
) -> bytes:
    return magic + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw) + ld(3, "") + ld(4, "") + extra


def go_object_meta(
    name: str = "", namespace: str = "", *, labels: dict[str, str] | None = None, extra: bytes = b""
) -> bytes:
    """ObjectMeta as Go writes it: every non-pointer field, empty or not."""
    out = ld(1, name) + ld(2, "") + ld(3, namespace) + ld(4, "") + ld(5, "") + ld(6, "") + vint(7, 0)
    out += ld(8, b"")  # creationTimestamp: the zero time is an empty message
    for key, value in sorted((labels or {}).items()):
        out += entry(11, key, value)
    return out + extra


def time_msg(seconds: int, nanos: int = 0) -> bytes:
    return vint(1, seconds) + vint(2, nanos)


RELEASE = b"H4sIAAAAAAAA/\x00\xff\x10binary-release-payload"
RELEASE_LABELS = {"name": "myrel", "owner": "helm", "status": "deployed", "version": "1"}


def helm_release_secret() -> bytes:
    raw = (
        ld(1, go_object_meta("sh.helm.release.v1.myrel.v1", labels=RELEASE_LABELS))
        + entry(2, "release", RELEASE)
        + ld(3, "helm.sh/release.v1")
    )
    return envelope("v1", "Secret", raw)


def expect_error(body: bytes, code: int) -> ApiError:
    with pytest.raises(ApiError) as info:
        decode(body)
    assert info.value.code == code, info.value.message
    assert info.value.reason == ("BadRequest" if code == 400 else "UnsupportedMediaType")
    return info.value


# --------------------------------------------------------------------------------------------------
# Well-formed bodies
# --------------------------------------------------------------------------------------------------


def test_helm_release_secret() -> None:
    decoded = decode(helm_release_secret())
    assert decoded == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "sh.helm.release.v1.myrel.v1", "labels": RELEASE_LABELS},
        "data": {"release": base64.b64encode(RELEASE).decode()},
        "type": "helm.sh/release.v1",
    }
    assert list(decoded) == ["kind", "apiVersion", "metadata", "data", "type"]
    json.dumps(decoded)  # the result is plain JSON


def test_secret_with_full_metadata() -> None:
    fields_v1: dict[str, object] = {"f:data": {".": {}, "f:release": {}}, "f:type": {}}
    owner = ld(5, "v1") + ld(1, "ConfigMap") + ld(3, "owner") + ld(4, "u-1") + vint(6, 1) + vint(7, 0)
    managed = (
        ld(1, "helm") + ld(2, "Update") + ld(3, "v1") + ld(4, time_msg(1_700_000_000, 123))
        + ld(6, "FieldsV1") + ld(7, ld(1, json.dumps(fields_v1))) + ld(8, "")
    )
    meta = (
        ld(1, "s") + ld(3, "ns") + ld(5, "uid-1") + ld(6, "42") + vint(7, 3)
        + ld(8, time_msg(0, 999_999_999))
        + ld(9, time_msg(1_700_000_000))
        + vint(10, 0)
        + entry(11, "app", "x") + entry(11, "empty", "")
        + entry(12, "note", "héllo") + entry(12, "note", "last wins")
        + ld(13, owner)
        + ld(14, "a/b") + ld(14, "c")
        + ld(17, managed)
    )
    raw = ld(1, meta) + entry(2, "k", b"\x00\x01") + entry(4, "plain", "text") + ld(3, "Opaque") + vint(5, 0)
    assert decode(envelope("v1", "Secret", raw)) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {
            "name": "s",
            "namespace": "ns",
            "uid": "uid-1",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "1970-01-01T00:00:00Z",
            "deletionTimestamp": "2023-11-14T22:13:20Z",
            "deletionGracePeriodSeconds": 0,
            "labels": {"app": "x", "empty": ""},
            "annotations": {"note": "last wins"},
            "ownerReferences": [
                {
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1",
                    "controller": True, "blockOwnerDeletion": False,
                }
            ],
            "finalizers": ["a/b", "c"],
            "managedFields": [
                {
                    "manager": "helm", "operation": "Update", "apiVersion": "v1",
                    "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1", "fieldsV1": fields_v1,
                }
            ],
        },
        "immutable": False,
        "data": {"k": "AAE="},
        "stringData": {"plain": "text"},
        "type": "Opaque",
    }


def test_owner_reference_required_fields_are_always_present() -> None:
    raw = ld(1, ld(1, "s") + ld(13, ld(3, "only-name")))
    meta = decode(envelope("v1", "Secret", raw))["metadata"]
    assert meta["ownerReferences"] == [{"apiVersion": "", "kind": "", "name": "only-name", "uid": ""}]


def test_empty_secret_keeps_metadata() -> None:
    assert decode(envelope("v1", "Secret", b"")) == {"kind": "Secret", "apiVersion": "v1", "metadata": {}}


def test_go_zero_time_and_empty_time_are_omitted() -> None:
    meta = ld(1, "s") + ld(8, time_msg(-62135596800)) + ld(9, b"")
    assert decode(envelope("v1", "Secret", ld(1, meta)))["metadata"] == {"name": "s"}


def test_early_year_is_zero_padded() -> None:
    meta = ld(8, time_msg(-62135596800 + 86400 * 366))
    assert decode(envelope("v1", "Secret", ld(1, meta)))["metadata"] == {
        "creationTimestamp": "0002-01-02T00:00:00Z"
    }


def test_config_map() -> None:
    raw = (
        ld(1, go_object_meta("cm", "default", labels={"a": "b"}))
        + entry(2, "config.yaml", "key: value\n")
        + entry(2, "empty", "")
        + entry(3, "blob", b"\xff\xfe\x00")
        + vint(4, 1)
    )
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cm", "namespace": "default", "labels": {"a": "b"}},
        "immutable": True,
        "data": {"config.yaml": "key: value\n", "empty": ""},
        "binaryData": {"blob": "//4A"},
    }


def test_map_entry_with_missing_key_or_value() -> None:
    raw = ld(2, ld(1, "novalue")) + ld(2, ld(2, b"\x01")) + ld(3, ld(1, "bin"))
    assert decode(envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {},
        "data": {"novalue": "", "": "\x01"}, "binaryData": {"bin": ""},
    }


def test_delete_options() -> None:
    raw = ld(2, ld(1, "uid-1") + ld(2, "17")) + ld(4, "Background")
    assert decode(envelope("v1", "DeleteOptions", raw)) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"uid": "uid-1", "resourceVersion": "17"},
        "propagationPolicy": "Background",
    }


def test_delete_options_pointer_fields_keep_zero_values() -> None:
    raw = vint(1, 0) + ld(2, b"") + vint(3, 0) + ld(5, "All") + ld(5, "")
    assert decode(envelope("meta.k8s.io/v1", "DeleteOptions", raw)) == {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "gracePeriodSeconds": 0,
        "preconditions": {},
        "orphanDependents": False,
        "dryRun": ["All", ""],
    }


def test_negative_int64_is_twos_complement() -> None:
    raw = vint(1, -1)
    assert len(varint(-1)) == 10
    assert decode(envelope("v1", "DeleteOptions", raw))["gracePeriodSeconds"] == -1


def test_empty_api_version_is_omitted() -> None:
    assert decode(envelope("", "DeleteOptions", b"")) == {"kind": "DeleteOptions"}


def test_unknown_fields_are_skipped() -> None:
    group = tag(30, 3) + vint(1, 5) + tag(31, 3) + ld(2, "x") + tag(31, 4) + tag(30, 4)
    unknown = vint(99, 7) + ld(98, b"\x00\xff") + fixed64(97, 1) + fixed32(96, 2) + group
    meta = go_object_meta(
        "sh.helm.release.v1.myrel.v1", labels=RELEASE_LABELS, extra=ld(15, "cluster") + unknown
    )
    release_entry = ld(2, ld(1, "release") + unknown + ld(2, RELEASE))
    raw = unknown + ld(1, meta) + release_entry + ld(3, "helm.sh/release.v1") + unknown
    body = envelope("v1", "Secret", raw, extra=unknown + ld(4, "application/vnd.kubernetes.protobuf"))
    assert decode(body) == decode(helm_release_secret())


def test_repeated_singular_field_last_wins() -> None:
    raw = ld(1, ld(1, "first") + ld(1, "second") + vint(7, 5) + vint(7, 0))
    assert decode(envelope("v1", "Secret", raw))["metadata"] == {"name": "second"}


def test_invalid_utf8_is_replaced() -> None:
    raw = ld(1, ld(1, b"a\xffb"))
    assert decode(envelope("v1", "Secret", raw))["metadata"] == {"name": "a\ufffdb"}


def test_accepts_bytearray_and_memoryview() -> None:
    body = helm_release_secret()
    assert decode(bytearray(body)) == decode(memoryview(body)) == decode(body)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Schema-driven kinds
# --------------------------------------------------------------------------------------------------


def quantity(value: str) -> bytes:
    return ld(1, value)


def int_or_string(value: int | str) -> bytes:
    """intstr.IntOrString as Go writes it: all three fields, always."""
    if isinstance(value, int):
        return vint(1, 0) + vint(2, value) + ld(3, "")
    return vint(1, 1) + vint(2, 0) + ld(3, value)


def go_container(name: str, image: str, *, extra: bytes = b"") -> bytes:
    """A core/v1 Container with Go's always-written empty fields."""
    return (
        ld(1, name) + ld(2, image) + ld(5, "") + ld(8, b"") + ld(13, "") + ld(14, "") + vint(16, 0)
        + vint(17, 0) + vint(18, 0) + ld(20, "") + extra
    )


def test_namespace() -> None:
    meta = go_object_meta("team-a", labels={"env": "dev"})
    raw = ld(1, meta) + ld(2, ld(1, "kubernetes")) + ld(3, ld(1, "Active"))
    assert decode(envelope("v1", "Namespace", raw)) == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "team-a", "labels": {"env": "dev"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def test_namespace_struct_values_show_when_absent() -> None:
    # spec and status are struct values in Go: its JSON prints them even when nothing was sent.
    assert decode(envelope("v1", "Namespace", b"")) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {}, "spec": {}, "status": {},
    }


def test_deployment() -> None:
    env = (
        ld(7, ld(1, "MODE") + ld(2, "fast"))
        + ld(7, ld(1, "POD_IP") + ld(2, "") + ld(3, ld(1, ld(1, "v1") + ld(2, "status.podIP"))))
    )
    ports = ld(6, ld(1, "http") + vint(2, 0) + vint(3, 8080) + ld(4, "TCP") + ld(5, ""))
    resources = ld(8, entry(1, "cpu", quantity("500m")) + entry(1, "memory", quantity("256Mi"))
                   + entry(2, "cpu", quantity("100m")))
    probe = ld(10, ld(1, ld(2, ld(1, "/healthz") + ld(2, int_or_string("http")) + ld(4, "HTTP")))
               + vint(2, 5) + vint(3, 1) + vint(4, 10) + vint(5, 1) + vint(6, 3))
    mount = ld(9, ld(1, "cache") + vint(2, 0) + ld(3, "/cache") + ld(4, ""))
    container = go_container("web", "nginx:1.27", extra=ports + env + resources + probe + mount)
    volume = ld(1, ld(1, "cache") + ld(2, ld(2, ld(1, "Memory") + ld(2, quantity("1Gi")))))
    pod_spec = volume + ld(2, container) + ld(3, "Always") + vint(4, 0) + ld(6, "ClusterFirst") + ld(8, "")
    template = ld(1, go_object_meta(labels={"app": "web"})) + ld(2, pod_spec)
    strategy = ld(1, "RollingUpdate") + ld(2, ld(1, int_or_string(0)) + ld(2, int_or_string("25%")))
    spec = (
        vint(1, 0)  # replicas: a pointer, so an explicit 0 is kept
        + ld(2, ld(1, ld(1, "app") + ld(2, "web")))
        + ld(3, template)
        + ld(4, strategy)
        + vint(5, 0)  # minReadySeconds 0: omitempty
        + vint(6, 10)
        + vint(7, 0)  # paused false: omitempty
        + vint(9, 600)
    )
    status = vint(1, 0) + vint(2, 0) + vint(3, 0) + vint(4, 0) + vint(5, 0) + vint(7, 0)
    raw = ld(1, go_object_meta("web", "default")) + ld(2, spec) + ld(3, status)
    decoded = decode(envelope("apps/v1", "Deployment", raw))
    assert decoded == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}],
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "MODE", "value": "fast"},
                                {
                                    "name": "POD_IP",
                                    "valueFrom": {
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}
                                    },
                                },
                            ],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                                "requests": {"cpu": "100m"},
                            },
                            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                "initialDelaySeconds": 5,
                                "timeoutSeconds": 1,
                                "periodSeconds": 10,
                                "successThreshold": 1,
                                "failureThreshold": 3,
                            },
                        }
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 0,
                    "dnsPolicy": "ClusterFirst",
                },
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }
    # Go's field order, as kube-apiserver prints it (inline members in place).
    container_json = decoded["spec"]["template"]["spec"]["containers"][0]
    assert list(container_json) == [
        "name", "image", "ports", "env", "resources", "volumeMounts", "livenessProbe",
    ]
    assert next(iter(container_json["livenessProbe"])) == "httpGet"


def test_service() -> None:
    ports = (
        ld(1, ld(1, "web") + ld(2, "TCP") + vint(3, 80) + ld(4, int_or_string(8080)) + vint(5, 0))
        + ld(1, ld(1, "metrics") + ld(2, "TCP") + vint(3, 9090) + ld(4, int_or_string("metrics"))
             + vint(5, 0) + ld(6, "http"))
        + ld(1, ld(1, "") + ld(2, "UDP") + vint(3, 0) + ld(4, int_or_string(0)) + vint(5, 30053))
    )
    spec = (
        ports + entry(2, "app", "web") + ld(3, "10.96.0.10") + ld(4, "ClusterIP") + ld(7, "None")
        + ld(18, "10.96.0.10") + ld(19, "IPv4") + ld(17, "SingleStack") + vint(12, 0) + vint(13, 0)
    )
    status = ld(1, b"")
    raw = ld(1, go_object_meta("web", "default")) + ld(2, spec) + ld(3, status)
    assert decode(envelope("v1", "Service", raw)) == {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "ports": [
                {"name": "web", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {
                    "name": "metrics", "protocol": "TCP", "appProtocol": "http", "port": 9090,
                    "targetPort": "metrics",
                },
                # port has no omitempty in Go, so a zero port is still shown; nodePort 0 is not.
                {"protocol": "UDP", "port": 0, "targetPort": 0, "nodePort": 30053},
            ],
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
        "status": {"loadBalancer": {}},
    }


def test_non_omitempty_fields_show_zero_values() -> None:
    raw = ld(1, go_object_meta("pdb")) + ld(2, ld(1, int_or_string(1)))
    assert decode(envelope("policy/v1", "PodDisruptionBudget", raw)) == {
        "kind": "PodDisruptionBudget",
        "apiVersion": "policy/v1",
        "metadata": {"name": "pdb"},
        "spec": {"minAvailable": 1},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
    }


def test_rbac_and_renamed_fields() -> None:
    rule = ld(2, ld(1, "get") + ld(1, "list") + ld(2, "") + ld(3, "pods"))
    assert decode(envelope("rbac.authorization.k8s.io/v1", "Role", ld(1, go_object_meta("r")) + rule)) == {
        "kind": "Role",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "r"},
        "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}],
    }
    # The protobuf field is called `Webhooks`; its JSON name is `webhooks`.
    webhook = (
        ld(1, "check.example.com")
        + ld(2, ld(2, b"\x00\x01\x02") + ld(1, ld(1, "ns") + ld(2, "svc") + vint(4, 443)))
        + vint(7, 0) + ld(6, "None") + ld(8, "v1")
    )
    raw = ld(1, go_object_meta("hooks")) + ld(2, webhook)
    decoded = decode(envelope("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", raw))
    assert decoded["webhooks"] == [
        {
            "name": "check.example.com",
            "clientConfig": {"service": {"namespace": "ns", "name": "svc", "port": 443}, "caBundle": "AAEC"},
            "sideEffects": "None",
            "timeoutSeconds": 0,
            "admissionReviewVersions": ["v1"],
        }
    ]


def test_micro_time_and_time() -> None:
    when = 1_700_000_000
    raw = (
        ld(1, go_object_meta("ev", "default"))
        + ld(2, time_msg(when, 123_456_789))
        + ld(3, vint(1, 2) + ld(2, time_msg(when + 1, 5_000)))
        + ld(7, "Started")
        + ld(8, ld(1, "Pod") + ld(3, "p"))
        + ld(13, time_msg(when, 999_999_999))
        + ld(14, b"")
    )
    assert decode(envelope("events.k8s.io/v1", "Event", raw)) == {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "ev", "namespace": "default"},
        "eventTime": "2023-11-14T22:13:20.123456Z",
        "series": {"count": 2, "lastObservedTime": "2023-11-14T22:13:21.000005Z"},
        "reason": "Started",
        "regarding": {"kind": "Pod", "name": "p"},
        "deprecatedSource": {},
        "deprecatedFirstTimestamp": "2023-11-14T22:13:20Z",
    }


def test_core_event_kind_is_told_apart_by_api_version() -> None:
    raw = ld(1, go_object_meta("ev")) + ld(3, "Pulled") + vint(8, 4)
    decoded = decode(envelope("v1", "Event", raw))
    assert decoded["reason"] == "Pulled"
    assert decoded["count"] == 4
    assert decoded["involvedObject"] == {}


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (300_000_000, "300ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (90_061_000_000_000, "25h1m1s"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_go_duration(nanos: int, text: str) -> None:
    assert protobuf._go_duration(nanos) == text


def test_duration_message() -> None:
    assert protobuf._duration(memoryview(vint(1, 90_000_000_000)), 0) == "1m30s"
    assert protobuf._duration(memoryview(b""), 0) == "0s"


def test_raw_extension() -> None:
    data = {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}
    raw = ld(1, go_object_meta("rev-1")) + ld(2, ld(1, json.dumps(data))) + vint(3, 0)
    assert decode(envelope("apps/v1", "ControllerRevision", raw)) == {
        "kind": "ControllerRevision", "apiVersion": "apps/v1", "metadata": {"name": "rev-1"},
        "data": data, "revision": 0,
    }
    # An embedded protobuf object decodes recursively.
    inner = envelope("v1", "ConfigMap", ld(1, go_object_meta("cm")) + entry(2, "k", "v"))
    decoded = decode(envelope("apps/v1", "ControllerRevision", ld(2, ld(1, inner)) + vint(3, 7)))
    assert decoded["data"] == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"}, "data": {"k": "v"},
    }
    assert decoded["revision"] == 7
    bad = envelope("apps/v1", "ControllerRevision", ld(2, ld(1, "{")))
    assert "RawExtension" in expect_error(bad, 400).message


def test_int_or_string_with_an_impossible_type() -> None:
    raw = ld(2, ld(1, ld(4, vint(1, 2))))
    assert "IntOrString" in expect_error(envelope("v1", "Service", raw), 400).message


def test_packed_and_unpacked_repeated_int32() -> None:
    def job(values: bytes) -> bytes:
        on_exit = ld(1, "main") + ld(2, "In") + values
        rule = ld(1, "FailJob") + ld(2, on_exit)
        return ld(2, ld(11, ld(1, rule)))

    packed = tag(3, 2) + varint(3) + varint(1) + varint(2) + varint(42)
    unpacked = vint(3, 1) + vint(3, 2) + vint(3, 42)
    for values in (packed, unpacked):
        spec = decode(envelope("batch/v1", "Job", job(values)))["spec"]
        requirement = spec["podFailurePolicy"]["rules"][0]["onExitCodes"]
        assert requirement == {"containerName": "main", "operator": "In", "values": [1, 2, 42]}


def test_negative_int32_pointer() -> None:
    pod_spec = vint(25, -5)  # priority, sent as a 10-byte varint
    spec = decode(envelope("v1", "Pod", ld(2, pod_spec)))["spec"]
    assert spec == {"priority": -5}


def test_singular_message_fields_merge() -> None:
    raw = ld(2, vint(1, 2)) + ld(2, vint(6, 5)) + ld(1, ld(1, "a")) + ld(1, ld(3, "ns"))
    decoded = decode(envelope("apps/v1", "Deployment", raw))
    assert decoded["metadata"] == {"name": "a", "namespace": "ns"}
    assert decoded["spec"]["replicas"] == 2
    assert decoded["spec"]["revisionHistoryLimit"] == 5


def test_string_list_wrapper() -> None:
    # SubjectAccessReviewSpec.extra is map<string, ExtraValue>; ExtraValue is a []string in Go.
    extra = entry(5, "scopes", ld(1, "a") + ld(1, "b"))
    spec = ld(2, ld(1, "/healthz") + ld(2, "get")) + ld(3, "alice") + extra
    decoded = decode(envelope("authorization.k8s.io/v1", "SubjectAccessReview", ld(2, spec)))
    assert decoded["spec"] == {
        "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
        "user": "alice",
        "extra": {"scopes": ["a", "b"]},
    }


def test_delete_options_under_any_api_version() -> None:
    raw = vint(1, 30) + ld(4, "Foreground")
    for api_version in ("v1", "apps/v1", "meta.k8s.io/v1"):
        assert decode(envelope(api_version, "DeleteOptions", raw)) == {
            "kind": "DeleteOptions", "apiVersion": api_version,
            "gracePeriodSeconds": 30, "propagationPolicy": "Foreground",
        }


def test_missing_api_version_with_an_unambiguous_kind() -> None:
    assert decode(envelope("", "Deployment", ld(2, vint(1, 1))))["spec"]["replicas"] == 1


KUBECTL_BODIES = [
    # kubectl create namespace y
    pytest.param(
        bytes.fromhex(
            "6b3873000a0f0a02763112094e616d65737061636512190a110a017912001a0022002a0032003800420012001a020a00"
            "1a002200"
        ),
        {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "y"}, "spec": {}, "status": {}},
        id="namespace",
    ),
    # kubectl -n y create deployment web --image=nginx:1.27 --image=redis:7 --replicas=3 --port=8080
    pytest.param(
        bytes.fromhex(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412e6010a200a0377656212001a017922002a003200"
            "380042005a0a0a03617070120377656212b3010803120c0a0a0a0361707012037765621a98010a1c0a0012001a002200"
            "2a003200380042005a0a0a036170701203776562127812340a056e67696e78120a6e67696e783a312e32372a00320b0a"
            "00100018903f22002a0042006a007200800100880100900100a2010012240a057265646973120772656469733a372a00"
            "42006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c201002202"
            "0a00280038001a0c0800100018002000280038001a002200"
        ),
        {"kind": "Deployment",
         "apiVersion": "apps/v1",
         "metadata": {"name": "web", "namespace": "y", "labels": {"app": "web"}},
         "spec": {"replicas": 3,
                  "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "nginx",
                                                        "image": "nginx:1.27",
                                                        "ports": [{"containerPort": 8080}],
                                                        "resources": {}},
                                                       {"name": "redis",
                                                        "image": "redis:7",
                                                        "resources": {}}]}},
                  "strategy": {}},
         "status": {}},
        id="deployment",
    ),
    # kubectl -n y create service clusterip s1 --tcp=80:8080 --tcp=443:https
    pytest.param(
        bytes.fromhex(
            "6b3873000a0d0a027631120753657276696365128b010a1e0a02733112001a017922002a003200380042005a090a0361"
            "70701202733112650a1b0a0738302d38303830120354435018502207080010903f1a0028000a220a093434332d687474"
            "7073120354435018bb03220b080110001a056874747073280012090a03617070120273311a002209436c757374657249"
            "503a00420052005a00600068001a020a001a002200"
        ),
        {"kind": "Service",
         "apiVersion": "v1",
         "metadata": {"name": "s1", "namespace": "y", "labels": {"app": "s1"}},
         "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                            {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"}],
                  "selector": {"app": "s1"},
                  "type": "ClusterIP"},
         "status": {"loadBalancer": {}}},
        id="service-clusterip",
    ),
    # kubectl -n y create service nodeport np --tcp=80:8080 --node-port=30080
    pytest.param(
        bytes.fromhex(
            "6b3873000a0d0a02763112075365727669636512680a1e0a026e7012001a017922002a003200380042005a090a036170"
            "7012026e7012420a1d0a0738302d38303830120354435018502207080010903f1a002880eb0112090a0361707012026e"
            "701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200"
        ),
        {"kind": "Service",
         "apiVersion": "v1",
         "metadata": {"name": "np", "namespace": "y", "labels": {"app": "np"}},
         "spec": {"ports": [{"name": "80-8080",
                             "protocol": "TCP",
                             "port": 80,
                             "targetPort": 8080,
                             "nodePort": 30080}],
                  "selector": {"app": "np"},
                  "type": "NodePort"},
         "status": {"loadBalancer": {}}},
        id="service-nodeport",
    ),
    # kubectl -n y create rolebinding rb --role=r1 --serviceaccount=y:sa1 --user=bob --group=devs
    pytest.param(
        bytes.fromhex(
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e"
            "6712ae010a130a02726212001a017922002a0032003800420012280a04557365721219726261632e617574686f72697a"
            "6174696f6e2e6b38732e696f1a03626f622200122a0a0547726f75701219726261632e617574686f72697a6174696f6e"
            "2e6b38732e696f1a04646576732200121a0a0e536572766963654163636f756e7412001a037361312201791a250a1972"
            "6261632e617574686f72697a6174696f6e2e6b38732e696f1204526f6c651a0272311a002200"
        ),
        {"kind": "RoleBinding",
         "apiVersion": "rbac.authorization.k8s.io/v1",
         "metadata": {"name": "rb", "namespace": "y"},
         "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
                      {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                      {"kind": "ServiceAccount", "name": "sa1", "namespace": "y"}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r1"}},
        id="rolebinding",
    ),
    # kubectl create clusterrole cr2 --verb=get --non-resource-url=/healthz
    pytest.param(
        bytes.fromhex(
            "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c"
            "6512260a130a0363723212001a0022002a00320038004200120f0a036765742a082f6865616c74687a1a002200"
        ),
        {"kind": "ClusterRole",
         "apiVersion": "rbac.authorization.k8s.io/v1",
         "metadata": {"name": "cr2"},
         "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]},
        id="clusterrole",
    ),
    # kubectl -n y create cronjob cj --image=busybox --schedule='*/1 * * * *' --restart=Never -- date
    pytest.param(
        bytes.fromhex(
            "6b3873000a130a0862617463682f7631120743726f6e4a6f6212a1010a130a02636a12001a017922002a003200380042"
            "001287010a0b2a2f31202a202a202a202a1a002a760a120a02636a12001a0022002a003200380042001260325e0a100a"
            "0012001a0022002a00320038004200124a12270a02636a120762757379626f781a04646174652a0042006a0072008001"
            "00880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c201001a001a0022"
            "00"
        ),
        {"kind": "CronJob",
         "apiVersion": "batch/v1",
         "metadata": {"name": "cj", "namespace": "y"},
         "spec": {"schedule": "*/1 * * * *",
                  "jobTemplate": {"metadata": {"name": "cj"},
                                  "spec": {"template": {"metadata": {},
                                                        "spec": {"containers": [{"name": "cj",
                                                                                 "image": "busybox",
                                                                                 "command": ["date"],
                                                                                 "resources": {}}],
                                                                 "restartPolicy": "Never"}}}}},
         "status": {}},
        id="cronjob",
    ),
    # kubectl -n y create ingress ing --class=nginx --rule=a.com/=s1:80
    # --rule=b.com/p*=s1:https,tls=sec --default-backend=s1:80 --annotation=x=y
    pytest.param(
        bytes.fromhex(
            "6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373129c010a1c0a03696e6712"
            "001a017922002a0032003800420062060a017812017912780a0c220a0a02733112040a001050120c0a05622e636f6d12"
            "037365631a250a05612e636f6d121c0a1a0a180a012f120c220a0a02733112040a0010501a0545786163741a2c0a0562"
            "2e636f6d12230a210a1f0a022f701211220f0a02733112090a05687474707310001a0650726566697822056e67696e78"
            "1a020a001a002200"
        ),
        {"kind": "Ingress",
         "apiVersion": "networking.k8s.io/v1",
         "metadata": {"name": "ing", "namespace": "y", "annotations": {"x": "y"}},
         "spec": {"ingressClassName": "nginx",
                  "defaultBackend": {"service": {"name": "s1", "port": {"number": 80}}},
                  "tls": [{"hosts": ["b.com"], "secretName": "sec"}],
                  "rules": [{"host": "a.com",
                             "http": {"paths": [{"path": "/",
                                                 "pathType": "Exact",
                                                 "backend": {"service": {"name": "s1",
                                                                         "port": {"number": 80}}}}]}},
                            {"host": "b.com",
                             "http": {"paths": [{"path": "/p",
                                                 "pathType": "Prefix",
                                                 "backend": {"service": {"name": "s1",
                                                                         "port": {"name": "https"}}}}]}}]},
         "status": {"loadBalancer": {}}},
        id="ingress",
    ),
    # kubectl -n y create pdb pdb1 --selector=app=web --max-unavailable=50%
    pytest.param(
        bytes.fromhex(
            "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123e0a150a0470646231"
            "12001a017922002a003200380042001219120c0a0a0a0361707012037765621a09080110001a033530251a0a08001800"
            "2000280030001a002200"
        ),
        {"kind": "PodDisruptionBudget",
         "apiVersion": "policy/v1",
         "metadata": {"name": "pdb1", "namespace": "y"},
         "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": "50%"},
         "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}},
        id="pdb",
    ),
    # kubectl -n y create quota q --hard=cpu=1,memory=1G,pods=2 --scopes=BestEffort
    pytest.param(
        bytes.fromhex(
            "6b3873000a130a027631120d5265736f7572636551756f7461124d0a120a017112001a017922002a0032003800420012"
            "350a0a0a0363707512030a01310a0e0a066d656d6f727912040a0231470a0b0a04706f647312030a0132120a42657374"
            "4566666f72741a001a002200"
        ),
        {"kind": "ResourceQuota",
         "apiVersion": "v1",
         "metadata": {"name": "q", "namespace": "y"},
         "spec": {"hard": {"cpu": "1", "memory": "1G", "pods": "2"}, "scopes": ["BestEffort"]},
         "status": {}},
        id="quota",
    ),
    # kubectl -n y create job j2 --image=busybox -- echo hi
    pytest.param(
        bytes.fromhex(
            "6b3873000a0f0a0862617463682f763112034a6f621285010a130a026a3212001a017922002a00320038004200126432"
            "620a100a0012001a0022002a00320038004200124e122b0a026a32120762757379626f781a046563686f1a0268692a00"
            "42006a007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100"
            "c201001a082000280030003a001a002200"
        ),
        {"kind": "Job",
         "apiVersion": "batch/v1",
         "metadata": {"name": "j2", "namespace": "y"},
         "spec": {"template": {"metadata": {},
                               "spec": {"containers": [{"name": "j2",
                                                        "image": "busybox",
                                                        "command": ["echo", "hi"],
                                                        "resources": {}}],
                                        "restartPolicy": "Never"}}},
         "status": {}},
        id="job",
    ),
]


@pytest.mark.parametrize(("body", "expected"), KUBECTL_BODIES)
def test_real_kubectl_bodies(body: bytes, expected: dict[str, object]) -> None:
    """Bodies kubectl v1.32's `create` generators sent, against the JSON kubectl prints for the same
    object with `--dry-run=client -o json` (nulls left out: the sandbox drops them anyway)."""
    decoded = decode(body)
    assert decoded == expected
    assert json.dumps(decoded) == json.dumps(expected)  # same field order too


def test_schema_is_closed() -> None:
    for name, fields in schema.MESSAGES.items():
        for json_name, kind, ref, flags in fields.values():
            assert kind in ("s", "b", "i32", "i64", "bool", "m"), (name, json_name)
            assert (kind == "m") == bool(ref), (name, json_name)
            assert not ref or ref in schema.MESSAGES, (name, json_name, ref)
            assert not (flags & schema.REPEATED and flags & schema.MAP), (name, json_name)
    for name in schema.KINDS.values():
        assert name in schema.MESSAGES


def test_every_builtin_kind_is_covered() -> None:
    for rtype in BUILTIN_TYPES:
        if rtype.group == "apiextensions.k8s.io":
            continue  # CRDs are not in k8s.io/api
        assert (rtype.group_version, rtype.kind) in schema.KINDS, rtype.kind


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"k8s",
        b"k8s\x01" + helm_release_secret()[4:],
        b'{"kind": "Secret", "apiVersion": "v1"}',
        helm_release_secret()[4:],
    ],
    ids=["empty", "short-magic", "wrong-magic", "json", "no-magic"],
)
def test_bad_magic(body: bytes) -> None:
    assert "magic" in expect_error(body, 400).message


def test_truncated_varint() -> None:
    expect_error(b"k8s\x00" + b"\x80", 400)  # tag varint never ends
    expect_error(b"k8s\x00" + tag(9, 0) + b"\xff\xff", 400)  # value varint never ends
    raw = ld(1, ld(1, "s")) + tag(5, 0) + b"\x81"
    expect_error(envelope("v1", "Secret", raw), 400)


def test_varint_longer_than_ten_bytes() -> None:
    expect_error(b"k8s\x00" + tag(9, 0) + b"\xff" * 10 + b"\x01", 400)


def test_length_past_end() -> None:
    body = helm_release_secret()
    for cut in (5, 10, len(body) // 2, len(body) - 1):
        expect_error(body[:cut], 400)
    expect_error(b"k8s\x00" + tag(2, 2) + varint(1 << 62) + b"x", 400)
    expect_error(envelope("v1", "Secret", tag(1, 2) + varint(50) + b"short"), 400)


def test_fixed_width_field_past_end() -> None:
    expect_error(b"k8s\x00" + tag(9, 1) + b"\x00" * 7, 400)
    expect_error(b"k8s\x00" + tag(9, 5) + b"\x00" * 3, 400)


@pytest.mark.parametrize("wire", [4, 6, 7])
def test_illegal_wire_types(wire: int) -> None:
    expect_error(b"k8s\x00" + tag(9, wire), 400)


def test_unterminated_group() -> None:
    expect_error(b"k8s\x00" + tag(9, 3) + vint(1, 1), 400)


def test_field_number_zero() -> None:
    expect_error(b"k8s\x00" + tag(0, 0) + b"\x00", 400)


@pytest.mark.parametrize(
    "raw",
    [
        vint(1, 5),  # Secret.metadata as a varint
        ld(1, vint(1, 3)),  # ObjectMeta.name as a varint
        ld(1, ld(7, "3")),  # ObjectMeta.generation as bytes
        ld(5, "true"),  # Secret.immutable as bytes
        ld(2, vint(1, 1)),  # map entry key as a varint
        ld(1, ld(8, ld(1, "x"))),  # Time.seconds as bytes
        ld(1, ld(13, fixed32(6, 1))),  # OwnerReference.controller as fixed32
        ld(1, ld(11, tag(2, 3) + tag(2, 4))),  # a group in place of a map value
    ],
)
def test_wrong_wire_type_for_known_field(raw: bytes) -> None:
    assert "wire type" in expect_error(envelope("v1", "Secret", raw), 400).message


def test_wrong_wire_type_in_envelope() -> None:
    expect_error(b"k8s\x00" + vint(1, 1), 400)
    expect_error(b"k8s\x00" + ld(1, ld(1, "v1") + ld(2, "Secret")) + vint(2, 1), 400)


def test_invalid_fields_v1_json() -> None:
    raw = ld(1, ld(17, ld(7, ld(1, "{not json"))))
    assert "fieldsV1" in expect_error(envelope("v1", "Secret", raw), 400).message


def test_timestamp_out_of_range() -> None:
    for seconds in (1 << 62, -(1 << 62), 253402300800):  # the last one is year 10000
        expect_error(envelope("v1", "Secret", ld(1, ld(8, time_msg(seconds)))), 400)


def test_missing_kind() -> None:
    expect_error(b"k8s\x00", 400)
    expect_error(b"k8s\x00" + ld(2, ld(1, b"")), 400)
    expect_error(envelope("v1", "", b""), 400)


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "Status"),
        ("v1", "secret"),
        ("v1", "Deployment"),  # a known kind under the wrong group
        ("apps/v1beta1", "Deployment"),  # a version the schema does not cover
        ("example.com/v1", "Widget"),
        ("", "Event"),  # no apiVersion, and the kind is ambiguous
    ],
)
def test_unsupported_kind(api_version: str, kind: str) -> None:
    raw = ld(1, ld(1, "p") + ld(3, "default"))
    error = expect_error(envelope(api_version, kind, raw), 415)
    assert f'"{kind}"' in error.message


def test_unsupported_content_encoding() -> None:
    body = b"k8s\x00" + ld(1, ld(1, "v1") + ld(2, "Secret")) + ld(2, b"\x1f\x8b") + ld(3, "gzip")
    assert "gzip" in expect_error(body, 415).message


def test_error_status_body() -> None:
    status = expect_error(b"k8s\x00\x80", 400).status()
    assert status["code"] == 400
    assert status["reason"] == "BadRequest"
    assert status["message"].startswith("unable to decode application/vnd.kubernetes.protobuf body")


# --------------------------------------------------------------------------------------------------
# Fuzzing
# --------------------------------------------------------------------------------------------------


def _decodes_or_api_error(body: bytes) -> None:
    try:
        result = decode(body)
    except ApiError as error:
        assert error.code in (400, 415)
    else:
        json.dumps(result)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes_after_magic(tail: bytes) -> None:
    _decodes_or_api_error(b"k8s\x00" + tail)


FUZZ_KINDS = [*sorted(schema.KINDS), ("v1", "DeleteOptions")]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(FUZZ_KINDS), st.binary(max_size=512))
def test_fuzz_arbitrary_object_bytes(kind: tuple[str, str], raw: bytes) -> None:
    _decodes_or_api_error(envelope(*kind, raw))


def _field_strategy() -> st.SearchStrategy[bytes]:
    numbers = st.integers(min_value=1, max_value=20)
    leaf = st.one_of(
        st.builds(vint, numbers, st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)),
        st.builds(ld, numbers, st.binary(max_size=16)),
        st.builds(fixed32, numbers, st.integers(min_value=0, max_value=(1 << 32) - 1)),
        st.builds(fixed64, numbers, st.integers(min_value=0, max_value=(1 << 64) - 1)),
    )
    message = st.recursive(
        st.lists(leaf, max_size=4).map(b"".join),
        lambda inner: st.lists(
            st.one_of(leaf, st.builds(ld, numbers, inner)), max_size=4
        ).map(b"".join),
        max_leaves=20,
    )
    return message


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(FUZZ_KINDS), _field_strategy())
def test_fuzz_well_framed_messages(kind: tuple[str, str], raw: bytes) -> None:
    """Structurally valid protobuf with random field numbers and types exercises every decoder branch."""
    _decodes_or_api_error(envelope(*kind, raw))


KEYS = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(KEYS, KEYS, max_size=5),
    st.dictionaries(KEYS, st.binary(max_size=32), max_size=5),
    st.dictionaries(KEYS, KEYS, max_size=5),
)
def test_round_trip_config_map(
    labels: dict[str, str], binary: dict[str, bytes], data: dict[str, str]
) -> None:
    raw = ld(1, go_object_meta("cm", labels=labels))
    raw += b"".join(entry(2, k, v) for k, v in data.items())
    raw += b"".join(entry(3, k, v) for k, v in binary.items())
    decoded = decode(envelope("v1", "ConfigMap", raw))
    assert decoded["metadata"].get("labels", {}) == labels
    assert decoded.get("data", {}) == data
    assert decoded.get("binaryData", {}) == {k: base64.b64encode(v).decode() for k, v in binary.items()}
