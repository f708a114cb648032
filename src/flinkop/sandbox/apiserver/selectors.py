"""Label and field selectors with kube-apiserver's grammar and matching rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flinkop.sandbox.apiserver.errors import bad_request

JSON = dict[str, Any]

_KEY = r"[A-Za-z0-9_./-]+"
_VALUE = r"[A-Za-z0-9_.-]*"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" also match objects without the key.
        return not present or labels[self.key] not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(([^()]*)\)$")
_EQ_RE = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_KEY})$")


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text or not text.strip():
            return cls()
        reqs = []
        for part in _split_top_level(text):
            if m := _SET_RE.match(part):
                values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
                if not values and m.group(2) == "in":
                    raise bad_request(f"unable to parse requirement: found '{part}', expected: values")
                reqs.append(Requirement(m.group(1), m.group(2), values))
            elif m := _EQ_RE.match(part):
                op = "!=" if m.group(2) == "!=" else "="
                reqs.append(Requirement(m.group(1), op, frozenset([m.group(3)])))
            elif m := _EXISTS_RE.match(part):
                reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
            else:
                raise bad_request(f"unable to parse requirement: found '{part}'")
        return cls(tuple(reqs))

    @classmethod
    def from_match(cls, selector: JSON | None) -> LabelSelector:
        """A metav1.LabelSelector (matchLabels + matchExpressions)."""
        if not selector:
            return cls()
        reqs = [
            Requirement(k, "=", frozenset([str(v)])) for k, v in (selector.get("matchLabels") or {}).items()
        ]
        ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
        for expr in selector.get("matchExpressions") or []:
            reqs.append(Requirement(expr["key"], ops[expr["operator"]], frozenset(expr.get("values") or [])))
        return cls(tuple(reqs))

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


def lookup_path(obj: JSON, dotted: str) -> Any:
    """The value at a dotted path, None when any step is missing or not an object."""
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


# Fields each kind supports in field selectors, beyond metadata.name and metadata.namespace.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "regarding.kind",
        "regarding.name",
        "regarding.namespace",
        "regarding.uid",
    ),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "ReplicaSet": ("status.replicas",),
    "Node": ("spec.unschedulable",),
    "Job": ("status.successful",),
}


def _field_value(obj: JSON, kind: str, field: str) -> str:
    if field == "source" and kind == "Event":
        return str(lookup_path(obj, "source.component") or obj.get("reportingController") or "")
    value = lookup_path(obj, field)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None, kind: str, selectable: tuple[str, ...] = ()) -> FieldSelector:
        if not text or not text.strip():
            return cls()
        allowed = {"metadata.name", "metadata.namespace", *_KIND_FIELDS.get(kind, ()), *selectable}
        reqs = []
        for part in _split_top_level(text):
            m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", part)
            if not m:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
            field, op, value = m.group(1), m.group(2), m.group(3).strip()
            if field not in allowed:
                raise bad_request(f"field label not supported: {field}")
            reqs.append(FieldRequirement(field, op == "!=", value))
        return cls(tuple(reqs))

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: JSON, kind: str) -> bool:
        for req in self.requirements:
            equal = _field_value(obj, kind, req.field) == req.value
            if equal == req.negate:
                return False
        return True


def matcher(label: LabelSelector, fields: FieldSelector, kind: str) -> Callable[[JSON], bool]:
    """One predicate for both selectors; cheap when both are empty."""
    if label.empty and fields.empty:
        return lambda obj: True

    def match(obj: JSON) -> bool:
        return label.matches((obj.get("metadata") or {}).get("labels")) and fields.matches(obj, kind)

    return match
