"""Go-type checks of request bodies: what kube-apiserver's decoder rejects with 400 BadRequest.

Built-in kinds are decoded into Go structs, so a field of the wrong JSON type fails
before any logic runs. Custom resources only have their metadata typed.
"""

from __future__ import annotations

from typing import Any

from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.resources import ResourceType

JSON = dict[str, Any]

_GO_TYPES = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}

# Per kind: dotted path -> expected shape. "map" is map[string]string, "[object]" a list of objects.
_POD_SPEC = {
    "containers": "[object]",
    "initContainers": "[object]",
    "volumes": "[object]",
    "nodeSelector": "map",
    "serviceAccountName": "string",
    "nodeName": "string",
}
_CONTAINER = {
    "name": "string",
    "image": "string",
    "ports": "[object]",
    "env": "[object]",
    "volumeMounts": "[object]",
    "command": "[string]",
    "args": "[string]",
}
_WORKLOAD = {
    "spec.replicas": "int",
    "spec.selector": "object",
    "spec.template": "object",
    "spec.template.metadata": "object",
    "spec.template.spec": "object",
    "spec.strategy": "object",
}
_KIND_SHAPES: dict[str, dict[str, str]] = {
    "ConfigMap": {"data": "map", "binaryData": "map", "immutable": "bool"},
    "Secret": {"data": "map", "stringData": "map", "type": "string", "immutable": "bool"},
    "Service": {
        "spec.ports": "[object]",
        "spec.selector": "map",
        "spec.type": "string",
        "spec.clusterIP": "string",
    },
    "Namespace": {"spec.finalizers": "[string]"},
    "Pod": {f"spec.{k}": v for k, v in _POD_SPEC.items()},
    "Deployment": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "Job": {k: v for k, v in _WORKLOAD.items() if k != "spec.replicas"},
    "Lease": {"spec.holderIdentity": "string", "spec.leaseDurationSeconds": "int"},
    "CustomResourceDefinition": {
        "spec.group": "string",
        "spec.names": "object",
        "spec.names.plural": "string",
        "spec.names.kind": "string",
        "spec.scope": "string",
        "spec.versions": "[object]",
    },
}


def _matches(value: Any, shape: str) -> bool:
    if shape == "object":
        return isinstance(value, dict)
    if shape == "map":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if shape == "string":
        return isinstance(value, str)
    if shape == "bool":
        return isinstance(value, bool)
    if shape == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if shape == "[object]":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if shape == "[string]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True


def _fail(kind: str, path: str, value: Any, shape: str) -> ApiError:
    got = _GO_TYPES.get(type(value), "value")
    return ApiError(
        400,
        "BadRequest",
        f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal {got} into Go struct '
        f"field {kind}.{path} of type {shape}",
    )


def _lookup(obj: JSON, dotted: str) -> tuple[bool, Any]:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def _check_paths(kind: str, obj: JSON, shapes: dict[str, str], prefix: str = "") -> None:
    for path, shape in shapes.items():
        present, value = _lookup(obj, path)
        if present and value is not None and not _matches(value, shape):
            raise _fail(kind, prefix + path, value, shape)


_METADATA = {
    "name": "string",
    "generateName": "string",
    "namespace": "string",
    "resourceVersion": "string",
    "uid": "string",
    "labels": "map",
    "annotations": "map",
    "finalizers": "[string]",
    "ownerReferences": "[object]",
    "generation": "int",
    "managedFields": "[object]",
}
_OWNER_REF = {
    "apiVersion": "string",
    "kind": "string",
    "name": "string",
    "uid": "string",
    "controller": "bool",
    "blockOwnerDeletion": "bool",
}


def check(rtype: ResourceType, obj: Any) -> None:
    """Raise 400 when `obj` could not be decoded into the kind's Go type."""
    kind = rtype.kind
    if not isinstance(obj, dict):
        raise ApiError(
            400,
            "BadRequest",
            f"the object provided is unrecognized (must be of type {kind}): "
            f"couldn't get version/kind; json parse error: expected an object",
        )
    for field in ("kind", "apiVersion"):
        if obj.get(field) is not None and not isinstance(obj[field], str):
            raise ApiError(
                400,
                "BadRequest",
                f"couldn't get version/kind; json parse error: json: cannot "
                f"unmarshal {_GO_TYPES.get(type(obj[field]), 'value')} into Go "
                f"struct field .{field} of type string",
            )
    meta = obj.get("metadata")
    if meta is not None:
        if not isinstance(meta, dict):
            raise _fail(kind, "metadata", meta, "object")
        _check_paths(kind, meta, _METADATA, "metadata.")
        for ref in meta.get("ownerReferences") or []:
            _check_paths(kind, ref, _OWNER_REF, "metadata.ownerReferences.")
    if not rtype.builtin:
        return
    for field in ("spec", "status"):
        if obj.get(field) is not None and not isinstance(obj[field], dict):
            raise _fail(kind, field, obj[field], "object")
    shapes = _KIND_SHAPES.get(kind)
    if shapes:
        _check_paths(kind, obj, shapes)
    spec = obj.get("spec")
    pod_spec = (
        spec
        if kind == "Pod"
        else (spec or {}).get("template", {}).get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("template") or {}, dict)
        else None
    )
    if isinstance(pod_spec, dict):
        _check_paths(kind, pod_spec, _POD_SPEC, "spec.")
        for group in ("containers", "initContainers"):
            for container in pod_spec.get(group) or []:
                _check_paths(kind, container, _CONTAINER, f"spec.{group}.")


_COMMON_TOP = {"apiVersion", "kind", "metadata"}
_EVENT_V1 = {
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "type",
    "eventTime",
    "series",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
}
_EVENTS_K8S = {
    "eventTime",
    "series",
    "reportingController",
    "reportingInstance",
    "action",
    "reason",
    "regarding",
    "related",
    "note",
    "type",
    "deprecatedSource",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
    "deprecatedCount",
}
# Top-level fields of built-in kinds other than spec/status; anything else is not in the Go type.
_TOP_LEVEL: dict[tuple[str, str], set[str]] = {
    ("", "ConfigMap"): {"data", "binaryData", "immutable"},
    ("", "Secret"): {"data", "stringData", "type", "immutable"},
    ("", "ServiceAccount"): {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    ("", "Endpoints"): {"subsets"},
    ("", "Event"): _EVENT_V1,
    ("events.k8s.io", "Event"): _EVENTS_K8S,
    ("rbac.authorization.k8s.io", "Role"): {"rules"},
    ("rbac.authorization.k8s.io", "ClusterRole"): {"rules", "aggregationRule"},
    ("rbac.authorization.k8s.io", "RoleBinding"): {"subjects", "roleRef"},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {"subjects", "roleRef"},
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): {"webhooks"},
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): {"webhooks"},
}
_SPEC_STATUS = {"spec", "status"}


def unknown_fields(rtype: ResourceType, obj: JSON) -> list[str]:
    """Top-level fields a built-in kind's Go type does not have (custom resources keep everything)."""
    if not rtype.builtin:
        return []
    allowed = _COMMON_TOP | _TOP_LEVEL.get((rtype.group, rtype.kind), _SPEC_STATUS)
    return sorted(k for k in obj if k not in allowed)


def drop_unknown(rtype: ResourceType, obj: JSON, validation: str | None) -> list[str]:
    """Apply the `fieldValidation` mode: Strict rejects, Warn (the default) and Ignore drop.

    Returns the warnings to send back in `Warning` headers.
    """
    unknown = unknown_fields(rtype, obj)
    if not unknown:
        return []
    if validation == "Strict":
        detail = ", ".join(f'unknown field "{name}"' for name in unknown)
        raise ApiError(400, "BadRequest", f"strict decoding error: {detail}")
    for name in unknown:
        del obj[name]
    if validation == "Ignore":
        return []
    return [f'unknown field "{name}"' for name in unknown]
