"""Decoder for `application/vnd.kubernetes.protobuf` request bodies.

client-go's typed clientsets (and so Helm's release storage) send Secrets, ConfigMaps and
DeleteOptions in Kubernetes' protobuf encoding.  This module turns such a body into the JSON form
kube-apiserver would print for the same object, so the rest of the sandbox only deals with JSON.

The wire format is read by hand (no `protobuf` dependency):

* the body starts with the 4 magic bytes ``k8s\\x00``;
* then comes a `runtime.Unknown` message: 1 = TypeMeta {1 = apiVersion, 2 = kind},
  2 = raw (the encoded object), 3 = contentEncoding, 4 = contentType;
* the object itself uses the field numbers of Kubernetes' `generated.proto` files (proto2).

Go's encoder writes every non-pointer field, even when it is empty (`generation: 0`, `namespace: ""`,
an empty `creationTimestamp`).  Those are dropped here like the JSON encoder's `omitempty` drops them.
Fields that are pointers in Go (`immutable`, `gracePeriodSeconds`, `orphanDependents`, ...) are only
written when set, and a zero value is meaningful (`gracePeriodSeconds: 0` means "delete now"), so they
are kept whenever present.  Unknown fields of any wire type are skipped.

Anything that is not a well-formed body raises `ApiError` 400; a well-formed body of a kind this module
does not know raises `ApiError` 415.  No other exception escapes `decode`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from flinkop.sandbox.apiserver.errors import ApiError, bad_request

JSON = dict[str, Any]

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Wire types.
_VARINT = 0
_FIXED64 = 1
_LEN = 2
_START_GROUP = 3
_END_GROUP = 4
_FIXED32 = 5

_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63
_MAX_GROUP_DEPTH = 64
# time.Time{} in Go (0001-01-01T00:00:00Z) means "unset" and marshals to null.
_GO_ZERO_TIME = -62135596800
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_Value = int | memoryview
_Field = tuple[int, int, _Value]


class _Malformed(Exception):
    """Internal: the bytes are not a valid encoding; turned into a 400 by `decode`."""


# --------------------------------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------------------------------


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at `pos`; return (value as uint64, position after it)."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if shift >= 64:
            raise _Malformed("varint overflows 64 bits")
        if pos >= end:
            raise _Malformed("unexpected end of data inside a varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7


def _skip_group(buf: memoryview, pos: int) -> int:
    """Skip the body of a (deprecated) group whose start tag has just been read."""
    depth = 1
    while True:
        key, pos = _read_varint(buf, pos)
        wire = key & 7
        if wire == _START_GROUP:
            depth += 1
            if depth > _MAX_GROUP_DEPTH:
                raise _Malformed("groups nested too deeply")
        elif wire == _END_GROUP:
            depth -= 1
            if depth == 0:
                return pos
        else:
            pos = _skip_scalar(buf, pos, wire, key >> 3)


def _skip_scalar(buf: memoryview, pos: int, wire: int, number: int) -> int:
    if wire == _VARINT:
        return _read_varint(buf, pos)[1]
    if wire == _LEN:
        length, pos = _read_varint(buf, pos)
        return _advance(buf, pos, length, number)
    if wire == _FIXED64:
        return _advance(buf, pos, 8, number)
    if wire == _FIXED32:
        return _advance(buf, pos, 4, number)
    raise _Malformed(f"illegal wire type {wire} for field {number}")


def _advance(buf: memoryview, pos: int, length: int, number: int) -> int:
    if length > len(buf) - pos:
        raise _Malformed(f"field {number} runs past the end of its message")
    return pos + length


def _fields(buf: memoryview) -> Iterator[_Field]:
    """Yield (field number, wire type, value) for each field of one message.

    The value is an int for varints and a memoryview of the payload for everything else (empty for
    a group, whose content is skipped).
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        number = key >> 3
        wire = key & 7
        if number == 0 or number > 0x7FFFFFFF:
            raise _Malformed(f"illegal field number {number}")
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
            yield number, wire, value
        elif wire == _LEN:
            length, pos = _read_varint(buf, pos)
            start = pos
            pos = _advance(buf, pos, length, number)
            yield number, wire, buf[start:pos]
        elif wire in (_FIXED64, _FIXED32):
            start = pos
            pos = _skip_scalar(buf, pos, wire, number)
            yield number, wire, buf[start:pos]
        elif wire == _START_GROUP:
            pos = _skip_group(buf, pos)
            yield number, wire, buf[pos:pos]
        else:
            raise _Malformed(f"illegal wire type {wire} for field {number}")


# --------------------------------------------------------------------------------------------------
# Scalar conversions
# --------------------------------------------------------------------------------------------------


def _wrong(field: _Field, where: str) -> _Malformed:
    return _Malformed(f"wrong wire type {field[1]} for field {field[0]} of {where}")


def _payload(field: _Field, where: str) -> memoryview:
    value = field[2]
    if field[1] != _LEN or not isinstance(value, memoryview):
        raise _wrong(field, where)
    return value


def _uint(field: _Field, where: str) -> int:
    value = field[2]
    if field[1] != _VARINT or not isinstance(value, int):
        raise _wrong(field, where)
    return value


def _str(field: _Field, where: str) -> str:
    # Go does not validate UTF-8 here, and its JSON encoder replaces invalid bytes with U+FFFD.
    return bytes(_payload(field, where)).decode("utf-8", errors="replace")


def _b64(field: _Field, where: str) -> str:
    return base64.b64encode(_payload(field, where)).decode("ascii")


def _int64(field: _Field, where: str) -> int:
    value = _uint(field, where)
    return value - (1 << 64) if value & _SIGN64 else value


def _bool(field: _Field, where: str) -> bool:
    return _uint(field, where) != 0


def _is_empty(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return value is None
    return value in ("", 0, {}, [])


def _ordered(values: JSON, order: tuple[str, ...], omitempty: frozenset[str]) -> JSON:
    """`values` in Go's JSON field order, dropping empty `omitempty` fields."""
    return {
        key: values[key]
        for key in order
        if key in values and not (key in omitempty and _is_empty(values[key]))
    }


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


def _time(buf: memoryview) -> str | None:
    """metav1.Time {1: seconds int64, 2: nanos int32} as RFC3339 at second precision.

    Like kube-apiserver, the nanoseconds are dropped; the Go zero time (or an empty message) is
    "unset" and gives None.
    """
    if not len(buf):  # how Go writes time.Time{}
        return None
    seconds = 0
    for field in _fields(buf):
        if field[0] == 1:
            seconds = _int64(field, "Time")
        elif field[0] == 2:
            _uint(field, "Time")
    if seconds == _GO_ZERO_TIME:
        return None
    try:
        when = _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        raise _Malformed(f"timestamp {seconds} is out of range") from None
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
        f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}Z"
    )


def _map_entry(buf: memoryview, where: str) -> tuple[str, _Field]:
    """A map entry {1: key string, 2: value}; a missing value is the empty payload."""
    key = ""
    value: _Field = (2, _LEN, buf[0:0])
    for field in _fields(buf):
        if field[0] == 1:
            key = _str(field, where)
        elif field[0] == 2:
            value = field
    return key, value


def _add_entry(
    target: dict[str, str], field: _Field, where: str, convert: Callable[[_Field, str], str]
) -> None:
    key, value = _map_entry(_payload(field, where), where)
    target[key] = convert(value, where)


_OWNER_ORDER = ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")


def _owner_reference(buf: memoryview) -> JSON:
    where = "OwnerReference"
    # apiVersion, kind, name and uid are not omitempty in Go's JSON.
    out: JSON = {"apiVersion": "", "kind": "", "name": "", "uid": ""}
    for field in _fields(buf):
        match field[0]:
            case 5:
                out["apiVersion"] = _str(field, where)
            case 1:
                out["kind"] = _str(field, where)
            case 3:
                out["name"] = _str(field, where)
            case 4:
                out["uid"] = _str(field, where)
            case 6:
                out["controller"] = _bool(field, where)
            case 7:
                out["blockOwnerDeletion"] = _bool(field, where)
    return _ordered(out, _OWNER_ORDER, frozenset())


_MANAGED_ORDER = ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource")


def _fields_v1(buf: memoryview) -> Any:
    raw: bytes | None = None
    for field in _fields(buf):
        if field[0] == 1:
            raw = bytes(_payload(field, "FieldsV1"))
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise _Malformed("managedFields fieldsV1 is not valid JSON") from None


def _managed_fields_entry(buf: memoryview) -> JSON:
    where = "ManagedFieldsEntry"
    out: JSON = {}
    for field in _fields(buf):
        match field[0]:
            case 1:
                out["manager"] = _str(field, where)
            case 2:
                out["operation"] = _str(field, where)
            case 3:
                out["apiVersion"] = _str(field, where)
            case 4:
                out["time"] = _time(_payload(field, where))
            case 6:
                out["fieldsType"] = _str(field, where)
            case 7:
                out["fieldsV1"] = _fields_v1(_payload(field, where))
            case 8:
                out["subresource"] = _str(field, where)
    return _ordered(out, _MANAGED_ORDER, frozenset(_MANAGED_ORDER))


_META_STRINGS = {
    1: "name", 2: "generateName", 3: "namespace", 4: "selfLink", 5: "uid", 6: "resourceVersion",
}
_META_ORDER = (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
)
# deletionGracePeriodSeconds is a pointer in Go: kept whenever present.
_META_OMITEMPTY = frozenset(_META_ORDER) - {"deletionGracePeriodSeconds"}


def _object_meta(buf: memoryview) -> JSON:
    where = "ObjectMeta"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owners: list[JSON] = []
    finalizers: list[str] = []
    managed: list[JSON] = []
    out: JSON = {
        "labels": labels, "annotations": annotations, "ownerReferences": owners,
        "finalizers": finalizers, "managedFields": managed,
    }
    for field in _fields(buf):
        number = field[0]
        if number in _META_STRINGS:
            out[_META_STRINGS[number]] = _str(field, where)
            continue
        match number:
            case 7:
                out["generation"] = _int64(field, where)
            case 8:
                out["creationTimestamp"] = _time(_payload(field, where))
            case 9:
                out["deletionTimestamp"] = _time(_payload(field, where))
            case 10:
                out["deletionGracePeriodSeconds"] = _int64(field, where)
            case 11:
                _add_entry(labels, field, "ObjectMeta.labels", _str)
            case 12:
                _add_entry(annotations, field, "ObjectMeta.annotations", _str)
            case 13:
                owners.append(_owner_reference(_payload(field, where)))
            case 14:
                finalizers.append(_str(field, where))
            case 17:
                managed.append(_managed_fields_entry(_payload(field, where)))
    return _ordered(out, _META_ORDER, _META_OMITEMPTY)


def _with_metadata(out: JSON, field: _Field, where: str) -> None:
    out["metadata"] = _object_meta(_payload(field, where))


_SECRET_ORDER = ("metadata", "immutable", "data", "stringData", "type")


def _secret(buf: memoryview) -> JSON:
    where = "Secret"
    data: dict[str, str] = {}
    string_data: dict[str, str] = {}
    out: JSON = {"metadata": {}, "data": data, "stringData": string_data}
    for field in _fields(buf):
        match field[0]:
            case 1:
                _with_metadata(out, field, where)
            case 2:
                _add_entry(data, field, "Secret.data", _b64)
            case 3:
                out["type"] = _str(field, where)
            case 4:
                _add_entry(string_data, field, "Secret.stringData", _str)
            case 5:
                out["immutable"] = _bool(field, where)
    return _ordered(out, _SECRET_ORDER, frozenset({"data", "stringData", "type"}))


_CONFIGMAP_ORDER = ("metadata", "immutable", "data", "binaryData")


def _config_map(buf: memoryview) -> JSON:
    where = "ConfigMap"
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    out: JSON = {"metadata": {}, "data": data, "binaryData": binary}
    for field in _fields(buf):
        match field[0]:
            case 1:
                _with_metadata(out, field, where)
            case 2:
                _add_entry(data, field, "ConfigMap.data", _str)
            case 3:
                _add_entry(binary, field, "ConfigMap.binaryData", _b64)
            case 4:
                out["immutable"] = _bool(field, where)
    return _ordered(out, _CONFIGMAP_ORDER, frozenset({"data", "binaryData"}))


def _preconditions(buf: memoryview) -> JSON:
    # Both fields are pointers in Go: present means set, even when empty.
    out: JSON = {}
    for field in _fields(buf):
        if field[0] == 1:
            out["uid"] = _str(field, "Preconditions")
        elif field[0] == 2:
            out["resourceVersion"] = _str(field, "Preconditions")
    return _ordered(out, ("uid", "resourceVersion"), frozenset())


_DELETE_ORDER = ("gracePeriodSeconds", "preconditions", "orphanDependents", "propagationPolicy", "dryRun")


def _delete_options(buf: memoryview) -> JSON:
    where = "DeleteOptions"
    dry_run: list[str] = []
    out: JSON = {"dryRun": dry_run}
    for field in _fields(buf):
        match field[0]:
            case 1:
                out["gracePeriodSeconds"] = _int64(field, where)
            case 2:
                out["preconditions"] = _preconditions(_payload(field, where))
            case 3:
                out["orphanDependents"] = _bool(field, where)
            case 4:
                out["propagationPolicy"] = _str(field, where)
            case 5:
                dry_run.append(_str(field, where))
    return _ordered(out, _DELETE_ORDER, frozenset({"dryRun"}))


_DECODERS: dict[str, Callable[[memoryview], JSON]] = {
    "Secret": _secret,
    "ConfigMap": _config_map,
    "DeleteOptions": _delete_options,
}


# --------------------------------------------------------------------------------------------------
# Envelope
# --------------------------------------------------------------------------------------------------


def _type_meta(buf: memoryview) -> tuple[str, str]:
    api_version = kind = ""
    for field in _fields(buf):
        if field[0] == 1:
            api_version = _str(field, "TypeMeta")
        elif field[0] == 2:
            kind = _str(field, "TypeMeta")
    return api_version, kind


def _decode(body: bytes) -> JSON:
    view = memoryview(body)
    if len(view) < len(MAGIC) or bytes(view[: len(MAGIC)]) != MAGIC:
        raise _Malformed("missing the protobuf magic prefix 'k8s\\x00'")
    where = "runtime.Unknown"
    api_version = kind = encoding = ""
    raw = view[0:0]
    for field in _fields(view[len(MAGIC) :]):
        match field[0]:
            case 1:
                api_version, kind = _type_meta(_payload(field, where))
            case 2:
                raw = _payload(field, where)
            case 3:
                encoding = _str(field, where)
            case 4:
                _str(field, where)
    if not kind:
        raise _Malformed("object 'Kind' is missing")
    decoder = _DECODERS.get(kind)
    if decoder is None or encoding:
        what = f'kind "{kind}"' if decoder is None else f'content encoding "{encoding}"'
        raise ApiError(
            415, "UnsupportedMediaType",
            f"the body of the request was in an unknown format - {CONTENT_TYPE} with {what} is not "
            f"supported (protobuf is accepted for {', '.join(_DECODERS)}); accepted media types "
            "include: application/json, application/yaml",
        )
    head: JSON = {"kind": kind}
    if api_version:
        head["apiVersion"] = api_version
    return head | decoder(raw)


def decode(body: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into the object's JSON form.

    Raises `ApiError` 400 for malformed bytes and 415 for kinds other than Secret, ConfigMap and
    DeleteOptions; never anything else.
    """
    try:
        return _decode(body)
    except ApiError:
        raise
    except _Malformed as exc:
        raise bad_request(f"unable to decode {CONTENT_TYPE} body: {exc}") from None
    except Exception as exc:  # a decoder bug must still be a clean 400, never a 500
        raise bad_request(f"unable to decode {CONTENT_TYPE} body: {type(exc).__name__}") from None
