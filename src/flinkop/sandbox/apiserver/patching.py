"""The three PATCH flavours of kube-apiserver, as pure functions over JSON-like values.

* `merge_patch`: RFC 7386 JSON merge patch (`application/merge-patch+json`).
* `json_patch`: RFC 6902 JSON patch (`application/json-patch+json`), with error messages worded like
  the Go `evanphx/json-patch` library that kube-apiserver uses.
* `strategic_merge_patch`: Kubernetes strategic merge patch for built-in kinds. Go reads the merge
  strategy from struct tags; here it is approximated from the field name and its parent field.

No function mutates its inputs: every result is a fresh object sharing nothing with them.
"""

from __future__ import annotations

import copy
import enum
import re
from collections.abc import Callable
from typing import Any

from flinkop.sandbox.apiserver.errors import bad_request

__all__ = [
    "JsonPatchOpFailed",
    "JsonPatchTestFailed",
    "json_equal",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
]


class JsonPatchTestFailed(Exception):
    """A `test` operation did not match (the caller answers 422 Invalid)."""


class JsonPatchOpFailed(Exception):
    """An operation could not apply: bad path, missing value, bad index (the caller answers 422)."""


class _Missing(enum.Enum):
    """Marks an absent value, since `None` is a legitimate JSON value (null)."""

    TOKEN = 0


_MISSING = _Missing.TOKEN


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: `1 == 1.0`, but `1 != True` (Python's `==` says otherwise)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _go_kind(value: Any) -> str:
    """How Go's encoding/json names a JSON value's type in `cannot unmarshal` errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


# --- RFC 7386 JSON merge patch -------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge, null deletes, anything else replaces."""
    return _merge_patch_into(copy.deepcopy(target), patch)


def _merge_patch_into(target: Any, patch: Any) -> Any:
    # `target` is already a private copy, so it may be updated in place.
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_patch_into(target.get(key), value)
    return target


# --- RFC 6902 JSON patch -------------------------------------------------------------------------

# RFC 6901 array indexes: no sign, no leading zeros.
_INDEX = re.compile(r"0|[1-9][0-9]*")


def json_patch(target: Any, ops: Any) -> Any:
    """Apply an RFC 6902 patch (a list of operations) atomically; the input is left as it was."""
    doc = copy.deepcopy(target)
    for op in _decode_ops(ops):
        doc = _apply_op(doc, op)
    return doc


def _decode_ops(ops: Any) -> list[dict[str, Any]]:
    # Mirrors the decoding errors Go reports for a body that is not a list of objects.
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_go_kind(ops)} into Go value of type jsonpatch.Patch")
    decoded: list[dict[str, Any]] = []
    for op in ops:
        if op is None:
            op = {}
        elif not isinstance(op, dict):
            raise bad_request(
                f"json: cannot unmarshal {_go_kind(op)} into Go value of type jsonpatch.Operation"
            )
        decoded.append(op)
    return decoded


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    handler = _OPS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise JsonPatchOpFailed(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return handler(doc, op)


def _pointer(op: dict[str, Any], field: str, kind: str) -> tuple[str, list[str] | None]:
    """The pointer string and its unescaped tokens; tokens are None for a pointer without a leading `/`."""
    pointer = op.get(field)
    if not isinstance(pointer, str):
        raise JsonPatchOpFailed(f"{kind} operation failed to decode {field}: missing value")
    if pointer == "":
        return pointer, []
    if not pointer.startswith("/"):
        return pointer, None
    # `~1` before `~0`, so that `~01` decodes to `~1` and not `/`.
    return pointer, [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list) and _INDEX.fullmatch(token) and int(token) < len(node):
        return node[int(token)]
    return _MISSING


def _parent(doc: Any, tokens: list[str]) -> Any:
    """The container holding the last token's target, or `_MISSING` if a step on the way is absent."""
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token)
        if node is _MISSING:
            return _MISSING
    return node if isinstance(node, dict | list) else _MISSING


def _locate(doc: Any, tokens: list[str] | None) -> tuple[Any, str] | None:
    """The container and key a non-root pointer designates; None if the container does not exist."""
    if not tokens:
        return None
    parent = _parent(doc, tokens)
    return None if parent is _MISSING else (parent, tokens[-1])


def _does_not_apply(kind: str, what: str) -> JsonPatchOpFailed:
    return JsonPatchOpFailed(f"{kind} operation does not apply: {what}: missing value")


def _insert(parent: dict[str, Any] | list[Any], key: str, value: Any, prefix: str) -> None:
    if isinstance(parent, dict):
        parent[key] = value
    elif key == "-":
        parent.append(value)
    elif not _INDEX.fullmatch(key):
        raise JsonPatchOpFailed(f"{prefix}: value was not a proper array index: '{key}'")
    elif int(key) > len(parent):
        raise JsonPatchOpFailed(f"{prefix}: Unable to access invalid index: {key}: invalid index referenced")
    else:
        parent.insert(int(key), value)


def _take(parent: dict[str, Any] | list[Any], key: str, prefix: str) -> Any:
    """Remove and return the value at `key`."""
    if isinstance(parent, dict):
        if key not in parent:
            raise JsonPatchOpFailed(f"{prefix}: Unable to remove nonexistent key: {key}: missing value")
        return parent.pop(key)
    if _child(parent, key) is _MISSING:
        raise JsonPatchOpFailed(f"{prefix}: Unable to access invalid index: {key}: invalid index referenced")
    return parent.pop(int(key))


def _op_add(doc: Any, op: dict[str, Any]) -> Any:
    path, tokens = _pointer(op, "path", "add")
    value = copy.deepcopy(op.get("value"))
    if tokens == []:
        return value
    where = _locate(doc, tokens)
    if where is None:
        raise _does_not_apply("add", f'doc is missing path: "{path}"')
    _insert(*where, value, f"error in add for path: '{path}'")
    return doc


def _op_remove(doc: Any, op: dict[str, Any]) -> Any:
    path, tokens = _pointer(op, "path", "remove")
    where = _locate(doc, tokens)  # the root cannot be removed: Go reports it as a missing path
    if where is None:
        raise _does_not_apply("remove", f'doc is missing path: "{path}"')
    _take(*where, f"error in remove for path: '{path}'")
    return doc


def _op_replace(doc: Any, op: dict[str, Any]) -> Any:
    path, tokens = _pointer(op, "path", "replace")
    value = copy.deepcopy(op.get("value"))
    if tokens == []:
        return value
    where = _locate(doc, tokens)
    if where is None:
        raise _does_not_apply("replace", f"doc is missing path: {path}")
    parent, key = where
    if _child(parent, key) is _MISSING:  # unlike add, replace needs an existing target
        raise _does_not_apply("replace", f"doc is missing key: {path}")
    if isinstance(parent, dict):
        parent[key] = value
    else:
        parent[int(key)] = value
    return doc


def _op_move(doc: Any, op: dict[str, Any]) -> Any:
    source, from_tokens = _pointer(op, "from", "move")
    path, tokens = _pointer(op, "path", "move")
    origin = _locate(doc, from_tokens)
    if origin is None or _child(*origin) is _MISSING:
        raise _does_not_apply("move", f"doc is missing from path: {source}")
    if tokens == from_tokens:
        return doc  # moving a value onto itself changes nothing
    if tokens is not None and from_tokens is not None and tokens[: len(from_tokens)] == from_tokens:
        # RFC 6902 4.4: a location cannot be moved into one of its own children.
        raise JsonPatchOpFailed(f"move operation does not apply: cannot move {source} into its child {path}")
    value = _take(*origin, f"error in move for path: '{source}'")
    if tokens == []:
        return value
    where = _locate(doc, tokens)
    if where is None:
        raise _does_not_apply("move", f"doc is missing destination path: {path}")
    _insert(*where, value, f"error in move for path: '{path}'")
    return doc


def _op_copy(doc: Any, op: dict[str, Any]) -> Any:
    source, from_tokens = _pointer(op, "from", "copy")
    path, tokens = _pointer(op, "path", "copy")
    if from_tokens == []:
        value = doc
    else:
        origin = _locate(doc, from_tokens)
        value = _MISSING if origin is None else _child(*origin)
        if value is _MISSING:
            raise _does_not_apply("copy", f"doc is missing from path: {source}")
    value = copy.deepcopy(value)
    if tokens == []:
        return value
    where = _locate(doc, tokens)
    if where is None:
        raise _does_not_apply("copy", f"doc is missing destination path: {path}")
    _insert(*where, value, "error while adding value during copy")
    return doc


def _op_test(doc: Any, op: dict[str, Any]) -> Any:
    path, tokens = _pointer(op, "path", "test")
    if tokens == []:
        actual = doc
    else:
        where = _locate(doc, tokens)
        if where is None:
            raise _does_not_apply("test", f"is missing path: {path}")
        actual = _child(*where)
    # RFC 6902 4.6: a missing target fails the test (Go lets a missing key equal null; we do not).
    if actual is _MISSING or not json_equal(actual, op.get("value")):
        raise JsonPatchTestFailed(f"testing value {path} failed: test failed")
    return doc


_OPS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


# --- Kubernetes strategic merge patch ------------------------------------------------------------

_DIRECTIVE = "$patch"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"

# Container lists: their items are where `ports` means container ports.
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})

# `patchMergeKey` of the built-in list fields with `patchStrategy:"merge"` (by field name only).
_MERGE_KEYS = {
    **dict.fromkeys(_CONTAINER_LISTS, "name"),
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}


def _merge_key(field: str, parent: str) -> str | None:
    """The merge key of list `field` inside a map held by field `parent`; None for replaced lists."""
    if field == "ports":
        if parent in _CONTAINER_LISTS:
            return "containerPort"
        # Service spec.ports; other `ports` lists (NetworkPolicy, Endpoints) have no strategy.
        return "port" if parent == "spec" else None
    return _MERGE_KEYS.get(field)


def _is_set_list(field: str, parent: str) -> bool:
    """Primitive lists with `patchStrategy:"merge"`: merged as an ordered set."""
    return field == "finalizers" and parent == "metadata"


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in object; the result never holds `$` directives."""
    if not isinstance(patch, dict):
        raise bad_request(
            f"json: cannot unmarshal {_go_kind(patch)} into Go value of type map[string]interface {{}}"
        )
    merged = _smp_map(copy.deepcopy(original), patch, "")
    return {} if merged is None else merged  # `$patch: delete` at the root empties the object


def _smp_map(original: dict[str, Any], patch: dict[str, Any], field: str) -> dict[str, Any] | None:
    """Merge `patch` into `original` (a private copy), a map held by `field`. None means delete it."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            body = {k: v for k, v in patch.items() if k != _DIRECTIVE}
            return _smp_map({}, body, field)  # merging into {} drops nulls and nested directives
        if directive == "delete":
            return None
        raise bad_request(f"unknown patch type: {directive} in map: {patch}")

    result = dict(original)
    # Deletions apply to the original values, before this patch adds any.
    for key, values in patch.items():
        if not key.startswith(_DELETE_FROM_PRIMITIVE_LIST):
            continue
        if not isinstance(values, list):
            raise bad_request("invalid patch format of primitive list")
        name = key[len(_DELETE_FROM_PRIMITIVE_LIST) :]
        current = result.get(name)
        if isinstance(current, list):
            result[name] = [v for v in current if not any(json_equal(v, d) for d in values)]

    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $retainKeys, $setElementOrder/..., handled or deliberately ignored
        merged = _smp_value(key, field, result.get(key, _MISSING), value)
        if merged is _MISSING:
            result.pop(key, None)
        else:
            result[key] = merged
    return result


def _smp_value(field: str, parent: str, original: Any, patch: Any) -> Any:
    """The merged value of `field`, or `_MISSING` when the field must be removed."""
    if patch is None:
        return _MISSING
    if isinstance(patch, dict):
        merged = _smp_map(original if isinstance(original, dict) else {}, patch, field)
        return _MISSING if merged is None else merged
    if isinstance(patch, list):
        return _smp_list(field, parent, original if isinstance(original, list) else [], patch)
    return patch


def _is_directive(item: Any, name: str | None = None) -> bool:
    return isinstance(item, dict) and _DIRECTIVE in item and (name is None or item[_DIRECTIVE] == name)


def _fresh_items(items: list[Any], field: str) -> list[Any]:
    """Patch items taken as they are, but cleaned of nulls and directives like any new value."""
    fresh: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            fresh.append(copy.deepcopy(item))
        elif (cleaned := _smp_map({}, item, field)) is not None:
            fresh.append(cleaned)
    return fresh


def _smp_list(field: str, parent: str, original: list[Any], patch: list[Any]) -> list[Any]:
    if any(_is_directive(item, "replace") for item in patch):
        # `{"$patch": "replace"}` as an item: the other items become the whole list.
        return _fresh_items([item for item in patch if not _is_directive(item)], field)
    key = _merge_key(field, parent)
    if key is not None:
        return _smp_keyed_list(field, key, original, patch)
    if _is_set_list(field, parent):
        union: list[Any] = []
        for item in [*original, *patch]:
            if not _is_directive(item) and not any(json_equal(item, seen) for seen in union):
                union.append(copy.deepcopy(item))
        return union
    return _fresh_items(patch, field)


def _find(items: list[Any], key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and key in item and json_equal(item[key], value):
            return index
    return None


def _smp_keyed_list(field: str, key: str, original: list[Any], patch: list[Any]) -> list[Any]:
    """Merge items by `key`: matches merge in place, new items go last in patch order."""
    doomed: list[Any] = []
    updates: list[dict[str, Any]] = []
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"{field}: list items must be objects with merge key {key}, got: {item!r}")
        if key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {key}")
        if _DIRECTIVE not in item:
            updates.append(item)
        elif item[_DIRECTIVE] == "delete":
            doomed.append(item[key])
        else:
            raise bad_request(f"unknown patch type: {item[_DIRECTIVE]} in map: {item}")

    result = [
        item
        for item in original
        if not (isinstance(item, dict) and key in item and any(json_equal(item[key], d) for d in doomed))
    ]
    for update in updates:
        index = _find(result, key, update[key])
        merged = _smp_map({} if index is None else result[index], update, field)
        assert merged is not None  # only `$patch: delete` yields None, and it was filtered out above
        if index is None:
            result.append(merged)
        else:
            result[index] = merged
    return result
