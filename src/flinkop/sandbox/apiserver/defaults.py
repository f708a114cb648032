"""Per-kind defaulting and validation, as kube-apiserver's built-in strategies do it."""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Any

from flinkop.sandbox.apiserver.errors import ApiError, invalid
from flinkop.sandbox.apiserver.resources import ResourceType

JSON = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kinds whose names must be DNS-1123 labels rather than subdomains.
_LABEL_NAMED = {"Namespace", "Service"}
# Kinds that accept any path-segment name (RBAC roles are named like "system:foo").
_PATH_NAMED = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def validate_name(rtype: ResourceType, name: str) -> None:
    # core/v1 Event names only need to be path segments (kube keeps them lax for backwards
    # compatibility), which is why upstream operators can name events `Operator.123`.
    core_event = rtype.kind == "Event" and not rtype.group
    if rtype.kind in _PATH_NAMED or core_event:
        if name in (".", "..") or "/" in name or "%" in name:
            raise invalid(
                rtype.kind,
                rtype.group,
                name,
                [("metadata.name", f"Invalid value: \"{name}\": may not contain '/' or '%'")],
            )
        return
    if rtype.kind in _LABEL_NAMED:
        if len(name) > 63 or not _LABEL.match(name):
            raise invalid(
                rtype.kind,
                rtype.group,
                name,
                [
                    (
                        "metadata.name",
                        f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                        "alphanumeric "
                        "characters or '-', and must start and end with an alphanumeric character",
                    )
                ],
            )
        return
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        raise invalid(
            rtype.kind,
            rtype.group,
            name,
            [
                (
                    "metadata.name",
                    f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                    "alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric character",
                )
            ],
        )


def _labels_valid(rtype: ResourceType, name: str, meta: JSON) -> None:
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is None:
            continue
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise invalid(
                rtype.kind,
                rtype.group,
                name,
                [(f"metadata.{field}", "Invalid value: must be a map of string keys to string values")],
            )


class _ClusterIPs:
    """Hands out Service cluster IPs from 10.96.0.0/12, as the default service CIDR."""

    def __init__(self) -> None:
        self._next = int(ipaddress.IPv4Address("10.96.0.10"))

    def allocate(self) -> str:
        self._next += 1
        return str(ipaddress.IPv4Address(self._next))


_cluster_ips = _ClusterIPs()


def _pod_spec(spec: JSON) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            if not isinstance(container, dict):
                continue
            image = str(container.get("image", ""))
            latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _template(spec: JSON) -> None:
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        _pod_spec(template["spec"])


def apply_create_defaults(rtype: ResourceType, obj: JSON) -> None:
    """Defaults a fresh object the way the built-in registry strategies do."""
    if not rtype.builtin:
        return
    kind, group = rtype.kind, rtype.group
    spec = obj.get("spec")
    if kind == "Secret" and not group:
        _fold_string_data(obj)
        obj.setdefault("type", "Opaque")
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind == "Service" and not group and isinstance(spec, dict):
        _service_spec(spec, previous=None)
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Pod" and not group and isinstance(spec, dict):
        _pod_spec(spec)
        spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif kind == "Deployment" and group == "apps" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
        _template(spec)
    elif kind in ("ReplicaSet", "StatefulSet") and group == "apps" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _template(spec)
    elif kind == "Job" and group == "batch" and isinstance(spec, dict):
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        _template(spec)
    elif kind == "CustomResourceDefinition":
        if isinstance(spec, dict):
            spec.setdefault("conversion", {"strategy": "None"})
        obj["status"] = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": []}


def apply_update_defaults(rtype: ResourceType, old: JSON, new: JSON) -> None:
    """Defaults on update: immutable allocations are carried over, write-only fields folded."""
    if not rtype.builtin:
        return
    if rtype.kind == "Secret" and not rtype.group:
        _fold_string_data(new)
        new.setdefault("type", old.get("type", "Opaque"))
    elif rtype.kind == "Service" and not rtype.group and isinstance(new.get("spec"), dict):
        _service_spec(new["spec"], previous=old.get("spec") or {})
    elif rtype.kind == "Namespace":
        labels = new["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = new["metadata"]["name"]
        new.setdefault("spec", old.get("spec", {}))
    elif rtype.kind in ("Deployment", "ReplicaSet", "StatefulSet", "Job") and isinstance(
        new.get("spec"), dict
    ):
        if rtype.kind != "Job":
            new["spec"].setdefault("replicas", 1)
        if rtype.kind == "Deployment":
            new["spec"].setdefault("revisionHistoryLimit", 10)
            new["spec"].setdefault("progressDeadlineSeconds", 600)
            new["spec"].setdefault(
                "strategy",
                (old.get("spec") or {}).get("strategy")
                or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            )
        _template(new["spec"])
    elif rtype.kind == "Pod" and not rtype.group and isinstance(new.get("spec"), dict):
        _pod_spec(new["spec"])


def _fold_string_data(secret: JSON) -> None:
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(secret.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data


def _service_spec(spec: JSON, previous: JSON | None) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if previous and previous.get("clusterIP"):
            spec["clusterIP"] = previous["clusterIP"]
            spec["clusterIPs"] = previous.get("clusterIPs", [previous["clusterIP"]])
        elif not spec.get("clusterIP"):
            spec["clusterIP"] = _cluster_ips.allocate()
        if spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        else:
            spec.setdefault("clusterIPs", ["None"])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def validate(rtype: ResourceType, obj: JSON) -> None:
    """The few validations clients observably rely on; 422 on failure."""
    meta = obj["metadata"]
    name = meta.get("name", "")
    validate_name(rtype, name)
    _labels_valid(rtype, name, meta)
    if rtype.kind == "CustomResourceDefinition":
        _validate_crd(obj)
    elif rtype.kind == "Service" and not rtype.group:
        for i, port in enumerate((obj.get("spec") or {}).get("ports") or []):
            value = port.get("port") if isinstance(port, dict) else None
            if not isinstance(value, int) or not 0 < value < 65536:
                raise invalid(
                    rtype.kind,
                    "",
                    name,
                    [(f"spec.ports[{i}].port", "Invalid value: must be between 1 and 65535, inclusive")],
                )
    elif rtype.kind in ("Deployment", "ReplicaSet") and rtype.group == "apps":
        spec = obj.get("spec") or {}
        causes = []
        if not (spec.get("template") or {}).get("spec", {}).get("containers"):
            causes.append(("spec.template.spec.containers", "Required value"))
        if not isinstance(spec.get("selector"), dict):
            causes.append(("spec.selector", "Required value"))
        if causes:
            raise invalid(rtype.kind, rtype.group, name, causes)
    elif rtype.kind == "Pod" and not rtype.group:
        if not (obj.get("spec") or {}).get("containers"):
            raise invalid(rtype.kind, "", name, [("spec.containers", "Required value")])


def _validate_crd(crd: JSON) -> None:
    name = crd["metadata"]["name"]
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    if not spec.get("group"):
        causes.append(("spec.group", "Required value"))
    if not names.get("plural"):
        causes.append(("spec.names.plural", "Required value"))
    if not names.get("kind"):
        causes.append(("spec.names.kind", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(("spec.scope", 'Unsupported value: must be "Namespaced" or "Cluster"'))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            ("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            ("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        )
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if names.get("plural") and spec.get("group") and name != expected:
        causes.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if causes:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)


def check_kind(rtype: ResourceType, obj: JSON, api_version_of: str | None = None) -> None:
    """A body of the wrong kind or group for the URL is a 400, as the decoder reports it."""
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    if kind and kind != rtype.kind:
        raise ApiError(
            400,
            "BadRequest",
            f"the object provided is unrecognized (must be of type {rtype.kind}): "
            f"kind {kind} in the data does not match the expected kind {rtype.kind}",
        )
    if api_version:
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        if group != rtype.group:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({api_version_of or rtype.group_version})",
            )
