"""Decoder for `application/vnd.kubernetes.protobuf` request bodies.

kubectl's `create` generators, client-go's typed clientsets and Helm's release storage send built-in
objects in Kubernetes' protobuf encoding.  This module turns such a body into the JSON form
kube-apiserver would print for the same object, so the rest of the sandbox only deals with JSON.

The wire format is read by hand (no `protobuf` dependency):

* the body starts with the 4 magic bytes ``k8s\\x00``;
* then comes a `runtime.Unknown` message: 1 = TypeMeta {1 = apiVersion, 2 = kind},
  2 = raw (the encoded object), 3 = contentEncoding, 4 = contentType;
* the object itself uses the field numbers of Kubernetes' `generated.proto` files (proto2).

The decoding is driven by `protobuf_schema`, a table generated from those files: for each message,
field number -> (JSON name, kind, message type, flags).  The envelope's apiVersion and kind pick the
message type of the object (`protobuf_schema.KINDS`; DeleteOptions is accepted under any apiVersion).

Go's encoder writes every non-pointer field, even when it is empty (`generation: 0`, `namespace: ""`,
an empty `creationTimestamp`).  Empty scalars of that kind are dropped here like the JSON encoder's
`omitempty` drops them, except those whose Go field has no `omitempty` (`containerPort`, an owner
reference's `uid`): those are shown, with their zero value when absent.  Fields that are pointers in
Go (`replicas`, `immutable`, `gracePeriodSeconds`, ...) are only written when set, and a zero value is
meaningful (`gracePeriodSeconds: 0` means "delete now"), so they are kept whenever present.  Struct
values are shown even when absent (`"metadata": {}`), like Go's JSON encoder does, and pointers to
structs whenever present.  Unknown fields of any wire type are skipped (as are fields added to the
API after the version `protobuf_schema` was generated from).

A few message types have a JSON form of their own, as in Go: `metav1.Time` and `MicroTime` are RFC
3339 strings, `Duration` a Go duration string, `IntOrString` a number or a string, `Quantity` its
string, `RawExtension` and `FieldsV1` the embedded JSON, and `ExtraValue` (a `[]string` in Go) a list.

Anything that is not a well-formed body raises `ApiError` 400; a well-formed body of a kind this module
does not know raises `ApiError` 415.  No other exception escapes `decode`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from flinkop.sandbox.apiserver import protobuf_schema as schema
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

_MASK32 = (1 << 32) - 1
_SIGN32 = 1 << 31
_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63
_MAX_GROUP_DEPTH = 64
_MAX_DEPTH = 100  # nesting of messages (and of objects inside RawExtensions)
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


def _int32(field: _Field, where: str) -> int:
    # Go truncates the varint to its low 32 bits (negative int32 values are sent as 10 bytes).
    value = _uint(field, where) & _MASK32
    return value - (1 << 32) if value & _SIGN32 else value


def _bool(field: _Field, where: str) -> bool:
    return _uint(field, where) != 0


_SCALARS: dict[str, Callable[[_Field, str], Any]] = {
    "s": _str,
    "b": _b64,
    "i32": _int32,
    "i64": _int64,
    "bool": _bool,
}
_ZEROS: dict[str, Any] = {"s": "", "b": "", "i32": 0, "i64": 0, "bool": False}


def _packed(field: _Field, kind: str, where: str) -> list[Any]:
    """The values of a packed repeated varint field."""
    buf = _payload(field, where)
    convert = _SCALARS[kind]
    out: list[Any] = []
    pos = 0
    while pos < len(buf):
        value, pos = _read_varint(buf, pos)
        out.append(convert((field[0], _VARINT, value), where))
    return out


# --------------------------------------------------------------------------------------------------
# Message types with a JSON form of their own
# --------------------------------------------------------------------------------------------------


def _seconds_nanos(buf: memoryview, where: str) -> tuple[int, int] | None:
    """metav1.Time / MicroTime {1: seconds int64, 2: nanos int32}; None for Go's zero time."""
    if not len(buf):  # how Go writes time.Time{}
        return None
    seconds = nanos = 0
    for field in _fields(buf):
        if field[0] == 1:
            seconds = _int64(field, where)
        elif field[0] == 2:
            nanos = _int32(field, where)
    if seconds == _GO_ZERO_TIME and not nanos:
        return None
    return seconds, nanos


def _datetime(seconds: int, micros: int = 0) -> dt.datetime:
    try:
        when = _EPOCH + dt.timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        raise _Malformed(f"timestamp {seconds} is out of range") from None
    if when.year > 9999:
        raise _Malformed(f"timestamp {seconds} is out of range")
    return when


def _rfc3339(when: dt.datetime) -> str:
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    )


def _time(buf: memoryview, depth: int) -> str | None:
    """metav1.Time as RFC3339 at second precision; like kube-apiserver, the nanoseconds are dropped.

    The Go zero time (or an empty message) is "unset" and gives None.
    """
    value = _seconds_nanos(buf, "Time")
    if value is None:
        return None
    return _rfc3339(_datetime(value[0])) + "Z"


def _micro_time(buf: memoryview, depth: int) -> str | None:
    """metav1.MicroTime as RFC3339 with microseconds (Go's `2006-01-02T15:04:05.000000Z07:00`)."""
    value = _seconds_nanos(buf, "MicroTime")
    if value is None:
        return None
    when = _datetime(value[0], value[1] // 1000)
    return f"{_rfc3339(when)}.{when.microsecond:06d}Z"


def _fraction(value: int, digits: int) -> str:
    """`value` (< 10**digits) as Go prints a fraction: '.5', '.25', '' for zero."""
    text = f"{value:0{digits}d}".rstrip("0")
    return f".{text}" if text else ""


def _go_duration(nanos: int) -> str:
    """A duration in nanoseconds as Go's `time.Duration.String` prints it ("1m0s", "1.5s", "300ms")."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, scale, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if nanos >= scale:
                whole, rest = divmod(nanos, scale)
                return f"{sign}{whole}{_fraction(rest, digits) if digits else ''}{unit}"
    seconds, rest = divmod(nanos, 1_000_000_000)
    text = f"{seconds % 60}{_fraction(rest, 9)}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _duration(buf: memoryview, depth: int) -> str:
    """metav1.Duration {1: duration int64 (nanoseconds)}."""
    nanos = 0
    for field in _fields(buf):
        if field[0] == 1:
            nanos = _int64(field, "Duration")
    return _go_duration(nanos)


def _int_or_string(buf: memoryview, depth: int) -> int | str:
    """intstr.IntOrString {1: type (0 int, 1 string), 2: intVal, 3: strVal}."""
    where = "IntOrString"
    kind = int_val = 0
    str_val = ""
    for field in _fields(buf):
        match field[0]:
            case 1:
                kind = _int64(field, where)
            case 2:
                int_val = _int32(field, where)
            case 3:
                str_val = _str(field, where)
    if kind == 0:
        return int_val
    if kind == 1:
        return str_val
    raise _Malformed(f"impossible IntOrString.Type {kind}")


def _quantity(buf: memoryview, depth: int) -> str:
    """resource.Quantity {1: string}; the zero Quantity prints as "0"."""
    text = "0"
    for field in _fields(buf):
        if field[0] == 1:
            text = _str(field, "Quantity")
    return text


def _raw_json(buf: memoryview, where: str) -> bytes | None:
    raw: bytes | None = None
    for field in _fields(buf):
        if field[0] == 1:
            raw = bytes(_payload(field, where))
    return raw or None


def _fields_v1(buf: memoryview, depth: int) -> Any:
    raw = _raw_json(buf, "FieldsV1")
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise _Malformed("managedFields fieldsV1 is not valid JSON") from None


def _raw_extension(buf: memoryview, depth: int) -> Any:
    """runtime.RawExtension {1: raw}: embedded JSON, or an embedded protobuf object."""
    raw = _raw_json(buf, "RawExtension")
    if raw is None:
        return None
    if raw.startswith(MAGIC):
        return _decode(raw, depth + 1)
    try:
        return json.loads(raw)
    except ValueError:
        raise _Malformed("a RawExtension holds neither JSON nor a protobuf object") from None


def _string_list(buf: memoryview, depth: int) -> list[str]:
    """A `type X []string` wrapper message {1: repeated items} (`ExtraValue`): JSON shows the list."""
    return [_str(field, "ExtraValue") for field in _fields(buf) if field[0] == 1]


_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_SPECIAL: dict[str, Callable[[memoryview, int], Any]] = {
    "k8s.io.api.authentication.v1.ExtraValue": _string_list,
    "k8s.io.api.authorization.v1.ExtraValue": _string_list,
    _META + "Time": _time,
    _META + "MicroTime": _micro_time,
    _META + "Duration": _duration,
    _META + "FieldsV1": _fields_v1,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_extension,
}

# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _join(parts: list[memoryview]) -> memoryview:
    """Several occurrences of a singular message field merge, as if their bytes were concatenated."""
    return parts[0] if len(parts) == 1 else memoryview(b"".join(parts))


def _object(name: str, buf: memoryview, depth: int) -> Any:
    """A message of type `name` (full protobuf name) as JSON."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special(buf, depth)
    if depth > _MAX_DEPTH:
        raise _Malformed("messages nested too deeply")
    return _message(name, buf, depth + 1)


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


def _value(kind: str, ref: str, field: _Field, where: str, depth: int) -> Any:
    if kind == "m":
        return _object(ref, _payload(field, where), depth)
    return _SCALARS[kind](field, where)


def _message(name: str, buf: memoryview, depth: int) -> JSON:
    spec = schema.MESSAGES[name]
    scalars: dict[int, Any] = {}  # last one wins
    messages: dict[int, list[memoryview]] = {}  # merged
    lists: dict[int, list[Any]] = {}
    maps: dict[int, dict[str, Any]] = {}
    for field in _fields(buf):
        number = field[0]
        entry = spec.get(number)
        if entry is None:
            continue  # unknown (or removed) field
        json_name, kind, ref, flags = entry
        where = f"{_short(name)}.{json_name}"
        if flags & schema.MAP:
            key, value = _map_entry(_payload(field, where), where)
            maps.setdefault(number, {})[key] = _value(kind, ref, value, where, depth)
        elif flags & schema.REPEATED:
            items = lists.setdefault(number, [])
            if kind in ("i32", "i64", "bool") and field[1] == _LEN:
                items.extend(_packed(field, kind, where))
            else:
                items.append(_value(kind, ref, field, where, depth))
        elif kind == "m":
            messages.setdefault(number, []).append(_payload(field, where))
        else:
            scalars[number] = _SCALARS[kind](field, where)

    out: JSON = {}
    for number, (json_name, kind, ref, flags) in spec.items():
        if number in maps:
            out[json_name] = maps[number]
        elif number in lists:
            out[json_name] = lists[number]
        elif kind == "m":
            parts = messages.get(number)
            if parts is None and not (flags & (schema.VALUE | schema.INLINE) and ref not in _SPECIAL):
                continue
            value = _object(ref, _join(parts) if parts else buf[0:0], depth)
            if flags & schema.INLINE and isinstance(value, dict):
                out.update(value)
            elif value is not None:
                out[json_name] = value
        elif number in scalars:
            value = scalars[number]
            if flags & (schema.POINTER | schema.KEEP) or value != _ZEROS[kind]:
                out[json_name] = value
        elif flags & schema.KEEP:  # the Go struct holds the zero value, and JSON prints it
            out[json_name] = _ZEROS[kind]
    return out


# --------------------------------------------------------------------------------------------------
# Envelope
# --------------------------------------------------------------------------------------------------

_DELETE_OPTIONS = _META + "DeleteOptions"
_BY_KIND: dict[str, list[str]] = {}
for (_api_version, _kind), _name in schema.KINDS.items():
    _BY_KIND.setdefault(_kind, []).append(_name)


def _message_type(api_version: str, kind: str) -> str | None:
    """The message type of an object from its envelope's apiVersion and kind."""
    if kind == "DeleteOptions":  # sent under the apiVersion of the resource being deleted
        return _DELETE_OPTIONS
    found = schema.KINDS.get((api_version, kind))
    if found is None and not api_version and len(_BY_KIND.get(kind, ())) == 1:
        found = _BY_KIND[kind][0]
    return found


def _type_meta(buf: memoryview) -> tuple[str, str]:
    api_version = kind = ""
    for field in _fields(buf):
        if field[0] == 1:
            api_version = _str(field, "TypeMeta")
        elif field[0] == 2:
            kind = _str(field, "TypeMeta")
    return api_version, kind


def _decode(body: bytes | memoryview, depth: int = 0) -> JSON:
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
    name = _message_type(api_version, kind)
    if name is None or encoding:
        what = (
            f'kind "{kind}" of apiVersion "{api_version}"'
            if name is None
            else f'content encoding "{encoding}"'
        )
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - {CONTENT_TYPE} with {what} is not "
            "supported (protobuf is accepted for the built-in kinds of the sandbox); accepted media "
            "types include: application/json, application/yaml",
        )
    head: JSON = {"kind": kind}
    if api_version:
        head["apiVersion"] = api_version
    return head | _message(name, raw, depth + 1)


def decode(body: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into the object's JSON form.

    Raises `ApiError` 400 for malformed bytes and 415 for kinds `protobuf_schema.KINDS` does not
    list (DeleteOptions is always accepted); never anything else.
    """
    try:
        return _decode(body)
    except ApiError:
        raise
    except _Malformed as exc:
        raise bad_request(f"unable to decode {CONTENT_TYPE} body: {exc}") from None
    except Exception as exc:  # a decoder bug must still be a clean 400, never a 500
        raise bad_request(f"unable to decode {CONTENT_TYPE} body: {type(exc).__name__}") from None
