"""Tests for the hand-written Kubernetes protobuf request-body decoder."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.protobuf import decode

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


@pytest.mark.parametrize("kind", ["Pod", "Namespace", "Status", "secret"])
def test_unsupported_kind(kind: str) -> None:
    raw = ld(1, ld(1, "p") + ld(3, "default"))
    error = expect_error(envelope("v1", kind, raw), 415)
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


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["Secret", "ConfigMap", "DeleteOptions"]), st.binary(max_size=512))
def test_fuzz_arbitrary_object_bytes(kind: str, raw: bytes) -> None:
    _decodes_or_api_error(envelope("v1", kind, raw))


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


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["Secret", "ConfigMap", "DeleteOptions"]), _field_strategy())
def test_fuzz_well_framed_messages(kind: str, raw: bytes) -> None:
    """Structurally valid protobuf with random field numbers and types exercises every decoder branch."""
    _decodes_or_api_error(envelope("v1", kind, raw))


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
