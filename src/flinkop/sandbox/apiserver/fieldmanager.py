"""Server-side apply field ownership: `metadata.managedFields` as kube-apiserver keeps it.

An approximation of the structured-merge-diff library the real apiserver uses, driven by a small
table of list semantics instead of the OpenAPI schema.

Internally a *field set* is a Python set of paths; a path is a tuple of fieldsV1 path elements:

* ``"f:<name>"``  a map key (maps are granular: every key is its own field),
* ``"k:<json>"``  an item of an associative ("map") list, identified by its key fields,
* ``"v:<json>"``  an item of a primitive set list (``metadata.finalizers``).

A path in the set is a *member* (owned).  Members are leaves (scalars, atomic lists, empty maps) and
the items of keyed/set lists (the ``.`` entries of fieldsV1).  Maps that merely contain owned fields
are not members themselves.  Sets are converted to and from the fieldsV1 JSON tree at the edges
(`paths_to_fields_v1`, `fields_v1_to_paths`).

The two entry points mirror the apiserver's two ways of writing:

* `apply` — a server-side apply patch (``application/apply-patch+yaml``): merge, prune what the
  applier stopped setting, detect conflicts with other managers;
* `record_update` — any other write made with a field manager: the writer takes over every field
  it added or changed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from flinkop.sandbox.apiserver.errors import ApiError

JSON = dict[str, Any]
Path = tuple[str, ...]

APPLY: Final = "Apply"
UPDATE: Final = "Update"
FIELDS_V1: Final = "FieldsV1"

# `metadata` fields the server owns: never in a field set, never merged from an apply, never pruned.
_SERVER_META: Final = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
        "selfLink",
    }
)
# Of those, the ones an apply cannot change on an existing object (its live value is kept).
_KEEP_LIVE_META: Final = _SERVER_META - {"managedFields"}

_GONE: Final = object()  # a pruned value


# --------------------------------------------------------------------------------------------
# List semantics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRule:
    """How one list field merges: a primitive set, or an associative list keyed by `keys`."""

    set_like: bool = False
    keys: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()  # values of key fields an item may omit

    def default(self, key: str) -> Any:
        for name, value in self.defaults:
            if name == key:
                return value
        return None


_BY_NAME: Final = ListRule(keys=("name",))
_SET: Final = ListRule(set_like=True)
_OWNER_REFS: Final = ListRule(keys=("uid",))
_CONTAINER_PORTS: Final = ListRule(keys=("containerPort", "protocol"), defaults=(("protocol", "TCP"),))
_SERVICE_PORTS: Final = ListRule(keys=("port", "protocol"), defaults=(("protocol", "TCP"),))
_CONTAINER_LISTS: Final = frozenset({"containers", "initContainers", "ephemeralContainers"})


@dataclass(frozen=True)
class ListKeys:
    """Which lists are associative (keyed), which are sets; every other list is atomic.

    `by_path` entries match the exact path of the list field; `by_name` entries (built-in kinds only)
    match the list's field name anywhere in the object.
    """

    builtin: bool
    by_path: tuple[tuple[Path, ListRule], ...] = ()
    by_name: tuple[tuple[str, ListRule], ...] = ()

    def rule(self, path: Path) -> ListRule | None:
        """The rule of the list held at `path`; None for an atomic list."""
        for where, rule in self.by_path:
            if where == path:
                return rule
        if not self.builtin or not path or not path[-1].startswith("f:"):
            return None
        name = path[-1][2:]
        if name == "ports":
            # Container ports, inside an item of a container list; other `ports` lists are atomic
            # (Service spec.ports is matched by path).
            if len(path) >= 3 and path[-3][2:] in _CONTAINER_LISTS and path[-2].startswith("k:"):
                return _CONTAINER_PORTS
            return None
        for field_name, rule in self.by_name:
            if field_name == name:
                return rule
        return None


# ObjectMeta lists exist in custom resources too (the apiserver always knows ObjectMeta's schema).
_META_RULES: Final = (
    (("f:metadata", "f:finalizers"), _SET),
    (("f:metadata", "f:ownerReferences"), _OWNER_REFS),
)

_BUILTIN_KEYS: Final = ListKeys(
    builtin=True,
    by_path=(*_META_RULES, (("f:spec", "f:ports"), _SERVICE_PORTS)),
    by_name=(
        *((name, _BY_NAME) for name in sorted(_CONTAINER_LISTS)),
        ("env", _BY_NAME),
        ("volumes", _BY_NAME),
        ("imagePullSecrets", _BY_NAME),
        ("schedulingGates", _BY_NAME),
        ("resourceClaims", _BY_NAME),
        ("volumeMounts", ListRule(keys=("mountPath",))),
        ("volumeDevices", ListRule(keys=("devicePath",))),
        ("hostAliases", ListRule(keys=("ip",))),
        ("topologySpreadConstraints", ListRule(keys=("topologyKey", "whenUnsatisfiable"))),
        ("conditions", ListRule(keys=("type",))),
        ("ownerReferences", _OWNER_REFS),
        ("finalizers", _SET),
    ),
)
_CUSTOM_KEYS: Final = ListKeys(builtin=False, by_path=_META_RULES)


def list_keys(builtin: bool) -> ListKeys:
    """List semantics of built-in kinds, or of custom resources (all lists atomic, except ObjectMeta's)."""
    return _BUILTIN_KEYS if builtin else _CUSTOM_KEYS


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _elements(items: list[Any], rule: ListRule) -> list[str] | None:
    """The path element of each item, or None when the list cannot be keyed (then it is atomic)."""
    elements: list[str] = []
    for item in items:
        if rule.set_like:
            if item is None or isinstance(item, dict | list):
                return None
            elements.append("v:" + _json(item))
            continue
        if not isinstance(item, dict):
            return None
        key: JSON = {}
        for name in rule.keys:
            value = item.get(name)
            if value is None:
                value = rule.default(name)
            if value is None or isinstance(value, dict | list):
                return None
            key[name] = value
        elements.append("k:" + _json(key))
    if len(set(elements)) != len(elements):
        return None
    return elements


# --------------------------------------------------------------------------------------------
# Walking objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    keys: ListKeys
    ignore_status: bool

    def ignored(self, path: Path) -> bool:
        if len(path) == 1:
            return path[0] in ("f:apiVersion", "f:kind") or (self.ignore_status and path[0] == "f:status")
        if len(path) == 2 and path[0] == "f:metadata":
            return path[1].startswith("f:") and path[1][2:] in _SERVER_META
        return False

    def children(self, value: Any, path: Path) -> dict[str, Any] | None:
        """Element -> child of a granular value (map, keyed or set list); None for a leaf."""
        if isinstance(value, dict):
            out = {"f:" + k: v for k, v in value.items()}
            if len(path) < 2:
                out = {e: v for e, v in out.items() if not self.ignored((*path, e))}
            return out
        if isinstance(value, list):
            rule = self.keys.rule(path)
            if rule is None:
                return None
            elements = _elements(value, rule)
            if elements is None:
                return None
            return dict(zip(elements, value, strict=True))
        return None


def _is_item(element: str) -> bool:
    return element.startswith(("k:", "v:"))


def _collect(value: Any, path: Path, schema: _Schema, out: set[Path]) -> None:
    """Add the members of the subtree `value` held at `path` to `out`."""
    kids = schema.children(value, path)
    if path and (kids is None or not value or _is_item(path[-1])):
        out.add(path)
    for element, child in (kids or {}).items():
        _collect(child, (*path, element), schema, out)


def _same(a: Any, b: Any) -> bool:
    """JSON equality (True is not 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)


@dataclass
class _Comparison:
    added: set[Path]
    modified: set[Path]
    removed: set[Path]

    def changed(self) -> set[Path]:
        return self.added | self.modified

    def any(self) -> bool:
        return bool(self.added or self.modified or self.removed)


def _compare(old: JSON, new: JSON, schema: _Schema) -> _Comparison:
    result = _Comparison(set(), set(), set())
    _compare_at(old, new, (), schema, result)
    return result


def _compare_at(old: Any, new: Any, path: Path, schema: _Schema, result: _Comparison) -> None:
    old_kids = schema.children(old, path)
    new_kids = schema.children(new, path)
    if old_kids is None and new_kids is None:
        if not _same(old, new):
            result.modified.add(path)
        return
    if old_kids is None or new_kids is None or type(old) is not type(new):
        # A leaf became a container or the other way round.
        result.modified.add(path)
        result.removed.add(path)
        _collect(new, path, schema, result.added)
        return
    for element, child in new_kids.items():
        if element in old_kids:
            _compare_at(old_kids[element], child, (*path, element), schema, result)
        else:
            _collect(child, (*path, element), schema, result.added)
    for element in old_kids:
        if element not in new_kids:
            result.removed.add((*path, element))


def _merge(live: Any, config: Any, path: Path, keys: ListKeys) -> Any:
    """`config` merged into `live` (both already private copies)."""
    if isinstance(live, dict) and isinstance(config, dict):
        out = dict(live)
        for k, v in config.items():
            out[k] = _merge(live[k], v, (*path, "f:" + k), keys) if k in live else v
        return out
    if isinstance(live, list) and isinstance(config, list):
        rule = keys.rule(path)
        live_elements = _elements(live, rule) if rule else None
        config_elements = _elements(config, rule) if rule else None
        if live_elements is not None and config_elements is not None:
            by_element = dict(zip(config_elements, config, strict=True))
            merged = [
                _merge(item, by_element[e], (*path, e), keys) if e in by_element else item
                for e, item in zip(live_elements, live, strict=True)
            ]
            known = set(live_elements)
            merged.extend(item for e, item in zip(config_elements, config, strict=True) if e not in known)
            return merged
    return config


def _prune(value: Any, path: Path, tree: JSON, protected: set[Path], schema: _Schema) -> Any:
    """`value` without the members of fieldsV1 `tree` (relative to `path`).

    A map or keyed list that pruning empties goes too, unless `protected` (someone owns it).
    Returns `_GONE` when `value` itself is to be removed.
    """
    if isinstance(value, dict):
        out: Any = {}
        for k, v in value.items():
            e = "f:" + k
            kept = _prune_child(v, (*path, e), tree[e], protected, schema) if e in tree else v
            if kept is not _GONE:
                out[k] = kept
    elif isinstance(value, list):
        kids = schema.children(value, path)
        if kids is None:
            return value
        out = []
        for e, item in kids.items():
            kept = _prune_child(item, (*path, e), tree[e], protected, schema) if e in tree else item
            if kept is not _GONE:
                out.append(kept)
    else:
        return value
    if path and value and not out and path not in protected:
        return _GONE
    return out


def _prune_child(value: Any, path: Path, subtree: JSON, protected: set[Path], schema: _Schema) -> Any:
    if not subtree or "." in subtree:
        return _GONE
    return _prune(value, path, subtree, protected, schema)


def _strip_nulls(value: Any) -> Any:
    """Drop null map values: in an applied configuration `field: null` means "not set"."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Paths and fieldsV1
# --------------------------------------------------------------------------------------------

_RANK: Final = {"f": 0, "k": 1, "v": 2, "i": 3}


def _element_order(element: str) -> tuple[int, str]:
    return (_RANK.get(element[:1], 4), element)


def _children_index(paths: Iterable[Path]) -> dict[Path, set[str]]:
    index: dict[Path, set[str]] = {}
    for p in paths:
        for i in range(len(p)):
            index.setdefault(p[:i], set()).add(p[i])
    return index


def paths_to_fields_v1(paths: Iterable[Path]) -> JSON:
    """A field set as the fieldsV1 JSON tree (``.`` marks a member that also has children)."""
    members = set(paths)
    index = _children_index(members)

    def render(prefix: Path) -> JSON:
        node: JSON = {}
        kids = index.get(prefix)
        if not kids:
            return node
        if prefix and prefix in members:
            node["."] = {}
        for e in sorted(kids, key=_element_order):
            node[e] = render((*prefix, e))
        return node

    return render(())


def fields_v1_to_paths(tree: Any) -> set[Path]:
    """The member paths of a fieldsV1 JSON tree (tolerant of junk: non-maps are leaves)."""
    out: set[Path] = set()

    def walk(node: Any, prefix: Path) -> None:
        if not isinstance(node, dict) or not node:
            if prefix:
                out.add(prefix)
            return
        for e, child in node.items():
            if e == ".":
                if prefix:
                    out.add(prefix)
            else:
                walk(child, (*prefix, str(e)))

    walk(tree, ())
    return out


def ordered_paths(paths: Iterable[Path]) -> list[Path]:
    """Paths in structured-merge-diff's order: at each level the members, then the children."""
    members = set(paths)
    index = _children_index(members)
    out: list[Path] = []

    def walk(prefix: Path) -> None:
        kids = sorted(index.get(prefix, ()), key=_element_order)
        out.extend(p for e in kids if (p := (*prefix, e)) in members)
        for e in kids:
            if (*prefix, e) in index:
                walk((*prefix, e))

    walk(())
    return out


def path_string(path: Path) -> str:
    """A path as the apiserver prints it: ``.spec.containers[name="c"].image``."""
    parts: list[str] = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            parts.append("." + rest)
        elif kind == "k":
            try:
                key = json.loads(rest)
            except ValueError:
                parts.append(f"[{rest}]")
                continue
            fields = (f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in key.items())
            parts.append("[" + ",".join(fields) + "]")
        elif kind == "v":
            parts.append(f"[={rest}]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)


def field_paths(obj: JSON, keys: ListKeys, ignore_status: bool) -> set[Path]:
    """The field set of `obj` (as an applied configuration owns it)."""
    out: set[Path] = set()
    _collect(obj, (), _Schema(keys, ignore_status), out)
    return out


def fields_of(obj: JSON, keys: ListKeys, ignore_status: bool) -> JSON:
    """The fieldsV1 set of `obj` (as an applied configuration owns it)."""
    return paths_to_fields_v1(field_paths(obj, keys, ignore_status))


# --------------------------------------------------------------------------------------------
# managedFields entries
# --------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str
    fields: set[Path]

    def identity(self) -> tuple[str, str, str, str]:
        # The apiserver identifies appliers regardless of the version they applied with.
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """The manager as conflict messages name it."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> JSON:
        entry: JSON = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time is not None:
            entry["time"] = self.time
        entry["fieldsType"] = FIELDS_V1
        entry["fieldsV1"] = paths_to_fields_v1(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _decode(obj: JSON | None) -> list[_Entry]:
    """The managedFields entries of `obj`; entries with the same identity are merged."""
    if not obj:
        return []
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    entries: dict[tuple[str, str, str, str], _Entry] = {}
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("manager"), str):
            continue
        entry = _Entry(
            manager=item["manager"],
            operation=str(item.get("operation") or UPDATE),
            api_version=str(item.get("apiVersion") or ""),
            time=item.get("time") if isinstance(item.get("time"), str) else None,
            subresource=str(item.get("subresource") or ""),
            fields=fields_v1_to_paths(item.get("fieldsV1") or {}),
        )
        previous = entries.get(entry.identity())
        if previous is None:
            entries[entry.identity()] = entry
        else:
            previous.fields |= entry.fields
            if entry.time and (previous.time is None or entry.time > previous.time):
                previous.time = entry.time
    return list(entries.values())


def _store(obj: JSON, entries: Iterable[_Entry]) -> JSON:
    """Write the non-empty `entries` into `obj`'s metadata, sorted the way the apiserver sorts them."""
    kept = sorted(
        (e for e in entries if e.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource),
    )
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    if kept:
        metadata["managedFields"] = [e.encode() for e in kept]
    else:
        metadata.pop("managedFields", None)
    return obj


def _without_prefixes(fields: set[Path], roots: set[Path]) -> set[Path]:
    """`fields` minus every path at or under one of `roots`."""
    if not roots:
        return fields
    return {p for p in fields if not any(p[:i] in roots for i in range(1, len(p) + 1))}


def _prefixes(paths: Iterable[Path]) -> set[Path]:
    """Every non-empty prefix of `paths`, the paths included."""
    return {p[:i] for p in paths for i in range(1, len(p) + 1)}


def _is_key_field(path: Path) -> bool:
    """Whether `path` is a key field of a keyed list item (never pruned while the item stays)."""
    if len(path) < 2 or not path[-2].startswith("k:") or not path[-1].startswith("f:"):
        return False
    try:
        key = json.loads(path[-2][2:])
    except ValueError:
        return False
    return isinstance(key, dict) and path[-1][2:] in key


def managers_of(obj: JSON) -> list[str]:
    """The manager names in `obj`'s managedFields (in entry order)."""
    return [e["manager"] for e in (obj.get("metadata") or {}).get("managedFields") or [] if "manager" in e]


# --------------------------------------------------------------------------------------------
# Conflicts
# --------------------------------------------------------------------------------------------


def _conflict_error(conflicts: list[tuple[_Entry, list[Path]]]) -> ApiError:
    conflicts = sorted(conflicts, key=lambda c: c[0].identity())
    total = sum(len(paths) for _, paths in conflicts)
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.describe()}",
            "field": path_string(p),
        }
        for entry, paths in conflicts
        for p in paths
    ]
    if total == 1:
        entry, paths = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path_string(paths[0])}"
    else:
        lines: list[str] = []
        for entry, paths in conflicts:
            lines.append(f"conflicts with {entry.describe()}:")
            lines.extend(f"- {path_string(p)}" for p in paths)
        message = f"Apply failed with {total} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, details={"causes": causes})


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


def _restore_server_fields(result: JSON, live: JSON | None, ignore_status: bool) -> None:
    """Put back what an apply cannot change: server-owned metadata and (subresource) status."""
    metadata = result.get("metadata")
    if not isinstance(metadata, dict):
        metadata = result["metadata"] = {}
    metadata.pop("managedFields", None)
    if live is not None:
        live_meta = live.get("metadata") or {}
        for name in _KEEP_LIVE_META:
            if name in live_meta:
                metadata[name] = copy.deepcopy(live_meta[name])
            else:
                metadata.pop(name, None)
    if ignore_status:
        if live is not None and "status" in live:
            result["status"] = copy.deepcopy(live["status"])
        else:
            result.pop("status", None)


def apply(
    live: JSON | None,
    applied: JSON,
    *,
    manager: str,
    force: bool,
    api_version: str,
    builtin: bool,
    ignore_status: bool,
    now: str,
) -> JSON:
    """Server-side apply `applied` by `manager` onto `live` (None: create).

    Returns the new object with its managedFields; raises a 409 `ApiError` on conflicts unless
    `force`.  Neither input is modified.
    """
    keys = list_keys(builtin)
    schema = _Schema(keys, ignore_status)
    config = _strip_nulls(copy.deepcopy(applied))
    config_meta = config.get("metadata")
    if isinstance(config_meta, dict):
        config_meta.pop("managedFields", None)
    new_set = field_paths(config, keys, ignore_status)

    entries = _decode(live)
    own_id = (manager, APPLY, "", "")
    previous = next((e for e in entries if e.identity() == own_id), None)
    others = [e for e in entries if e.identity() != own_id]

    base: JSON = copy.deepcopy(live) if live is not None else {}
    result: JSON = _merge(base, config, (), keys)
    _restore_server_fields(result, live, ignore_status)

    # Prune what this manager applied last time and no longer does, unless someone still owns it.
    if previous is not None:
        owned = set(new_set)
        for e in others:
            owned |= e.fields
        protected = _prefixes(owned)
        stale = {p for p in previous.fields - new_set if p not in protected and not _is_key_field(p)}
        if stale:
            pruned = _prune(result, (), paths_to_fields_v1(stale), protected, schema)
            result = pruned if isinstance(pruned, dict) else {}

    comparison = _compare(_live_view(live), result, schema)
    changed = comparison.changed()
    conflicts = [(e, ordered_paths(hit)) for e in others if (hit := e.fields & changed)]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for e in others:
        e.fields = _without_prefixes(e.fields - changed, comparison.removed)

    if comparison.any() or previous is None or previous.time is None:
        time: str | None = now
    else:
        time = previous.time
    mine = _Entry(manager, APPLY, api_version, time, "", new_set)
    return _store(result, [*others, mine])


def _live_view(live: JSON | None) -> JSON:
    return live if live is not None else {}


def record_update(
    old: JSON | None,
    new: JSON,
    *,
    manager: str,
    api_version: str,
    builtin: bool,
    ignore_status: bool,
    now: str,
    subresource: str | None = None,
) -> JSON:
    """Record a non-apply write (create, update, merge/JSON/strategic patch) of `old` into `new`.

    `manager` takes over every field it added or changed; removed fields leave every set.  The
    managedFields sent in `new` are ignored: ownership continues from `old`'s.  A write through the
    status subresource (`subresource="status"`) is its own entry and tracks status fields.
    """
    schema = _Schema(list_keys(builtin), ignore_status and subresource != "status")
    result: JSON = copy.deepcopy(new)
    comparison = _compare(_live_view(old), result, schema)
    changed = comparison.changed()

    own_id = (manager, UPDATE, api_version, subresource or "")
    entries = _decode(old)
    mine = next((e for e in entries if e.identity() == own_id), None)
    if mine is None:
        mine = _Entry(manager, UPDATE, api_version, None, subresource or "", set())
        entries.append(mine)
    for e in entries:
        if e is not mine:
            e.fields -= changed
        e.fields = _without_prefixes(e.fields, comparison.removed)
    if changed:
        mine.fields |= changed
        mine.time = now
    return _store(result, entries)


def owned_paths(obj: JSON, manager: str, operation: str | None = None) -> set[Path]:
    """The field paths `manager` owns in `obj` (through entries of `operation`, or any)."""
    out: set[Path] = set()
    for e in _decode(obj):
        if e.manager == manager and operation in (None, e.operation):
            out |= e.fields
    return out
