"""A container's environment, resolved as the kubelet does: service links, envFrom, env with
`$(VAR)` expansion, and the downward API (fieldRef, resourceFieldRef), ConfigMap and Secret keys.

Pure functions over the pod and the objects it references (`Lookup`); the caller fetches them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flinkop.sandbox.kubelet.quantity import ceil_div, parse_quantity

JSON = dict[str, Any]
Lookup = Callable[[str, str, str], JSON | None]  # (kind, namespace, name) -> object or None
MASTER_SERVICE = ("default", "kubernetes")


class ConfigError(Exception):
    """The container cannot be created as specified (the pod shows CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodAddresses:
    """What `status.*` field references read."""

    pod_ip: str = ""
    host_ip: str = ""
    allocatable: Mapping[str, Decimal] = field(default_factory=dict)  # node allocatable: cpu, memory, ...


# -- $(VAR) expansion ---------------------------------------------------------------------------------
def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names are replaced, unknown ones stay as they are,
    `$$` escapes a dollar (k8s.io/kubernetes third_party/forked/golang/expansion)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:  # an incomplete reference is kept verbatim
                out.append(text[i:])
                break
            name = text[i + 2 : close]
            out.append(mapping[name] if name in mapping else f"$({name})")
            i = close + 1
        else:
            out.append(ch + nxt)
            i += 2
    return "".join(out)


# -- the downward API ---------------------------------------------------------------------------------
def _go_quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def format_map(values: Mapping[str, str]) -> str:
    """`key="value"` lines, sorted, as the downward API renders labels and annotations."""
    return "\n".join(f"{k}={_go_quote(values[k])}" for k in sorted(values))


def _subscript(path: str, prefix: str) -> str | None:
    """`metadata.labels['key']` -> `key`."""
    if path.startswith(prefix + "[") and path.endswith("]"):
        inner = path[len(prefix) + 1 : -1]
        if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
            return inner[1:-1]
    return None


def field_value(pod: JSON, path: str, addresses: PodAddresses) -> str:
    """The value of a `fieldRef.fieldPath`; ConfigError for unsupported paths."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName") or spec.get("serviceAccount") or "default",
        "status.podIP": addresses.pod_ip,
        "status.podIPs": addresses.pod_ip,
        "status.hostIP": addresses.host_ip,
        "status.hostIPs": addresses.host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    for group in ("labels", "annotations"):
        values = meta.get(group) or {}
        if path == f"metadata.{group}":
            return format_map(values)
        key = _subscript(path, f"metadata.{group}")
        if key is not None:
            return str(values.get(key, ""))
    raise ConfigError(f'unsupported fieldPath: "{path}"')


def resource_value(container: JSON, ref: JSON, addresses: PodAddresses) -> str:
    """A `resourceFieldRef`: limits fall back to the node's allocatable, requests to the limits."""
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f'unsupported resource "{resource}"')
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    raw: Any = limits.get(name) if kind == "limits" else requests.get(name, limits.get(name))
    try:
        if raw is not None:
            value = parse_quantity(raw)
        elif kind == "limits":
            value = addresses.allocatable.get(name, Decimal(0))
        else:
            value = Decimal(0)
        divisor = parse_quantity(ref.get("divisor") or "1")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if divisor <= 0:
        raise ConfigError(f'invalid divisor "{ref.get("divisor")}"')
    return str(ceil_div(value, divisor))


# -- ConfigMap and Secret data ------------------------------------------------------------------------
def object_data(kind: str, obj: JSON) -> dict[str, bytes]:
    """Key -> bytes of a ConfigMap (`data` + `binaryData`) or a Secret (base64 `data`)."""
    out: dict[str, bytes] = {}
    if kind == "ConfigMap":
        for key, value in (obj.get("data") or {}).items():
            out[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            out[key] = _b64(value)
    else:
        for key, value in (obj.get("data") or {}).items():
            out[key] = _b64(value)
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
    return out


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _decode(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _label(kind: str) -> str:
    return "configmap" if kind == "ConfigMap" else "secret"


def key_value(lookup: Lookup, namespace: str, kind: str, ref: JSON) -> str | None:
    """A `configMapKeyRef`/`secretKeyRef`: the value, None when optional and missing, else ConfigError."""
    name, key, optional = str(ref.get("name") or ""), str(ref.get("key") or ""), bool(ref.get("optional"))
    obj = lookup(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{_label(kind)} "{name}" not found')
    data = object_data(kind, obj)
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return _decode(data[key])


# -- service links ------------------------------------------------------------------------------------
def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_link_env(service: JSON) -> dict[str, str]:
    """The `<SVC>_SERVICE_HOST`/`_PORT` and docker-link variables of one Service with a cluster IP."""
    spec = service.get("spec") or {}
    cluster_ip = str(spec.get("clusterIP") or "")
    ports = spec.get("ports") or []
    if not cluster_ip or cluster_ip == "None" or not ports:
        return {}
    prefix = _env_name(str((service.get("metadata") or {}).get("name") or ""))
    env = {f"{prefix}_SERVICE_HOST": cluster_ip, f"{prefix}_SERVICE_PORT": str(ports[0].get("port"))}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_env_name(str(port['name']))}"] = str(port.get("port"))
    host = f"[{cluster_ip}]" if ":" in cluster_ip else cluster_ip
    for i, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        address = f"{protocol.lower()}://{host}:{port.get('port')}"
        if i == 0:
            env[f"{prefix}_PORT"] = address
        port_prefix = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
        env[port_prefix] = address
        env[f"{port_prefix}_PROTO"] = protocol.lower()
        env[f"{port_prefix}_PORT"] = str(port.get("port"))
        env[f"{port_prefix}_ADDR"] = cluster_ip
    return env


def service_env(pod: JSON, services: Iterable[JSON], api_host: str, api_port: int) -> dict[str, str]:
    """Service links for the pod's namespace (when `enableServiceLinks`), and always the API server's
    `kubernetes` service, which points at the address in-cluster clients use (`api_host:api_port`)."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    env: dict[str, str] = {}
    for service in services:
        meta = service.get("metadata") or {}
        if (meta.get("namespace"), meta.get("name")) == MASTER_SERVICE:
            continue
        if links and meta.get("namespace") == namespace:
            env.update(service_link_env(service))
    master = {
        "metadata": {"name": "kubernetes"},
        "spec": {"clusterIP": api_host, "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}]},
    }
    env.update(service_link_env(master))
    return env


# -- the container's environment ----------------------------------------------------------------------
def container_env(
    pod: JSON,
    container: JSON,
    *,
    lookup: Lookup,
    addresses: PodAddresses,
    services: Mapping[str, str],
) -> dict[str, str]:
    """The variables the kubelet gives a container (before the image's own environment underneath)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = dict(services)
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if not isinstance(ref, dict):
                continue
            obj = lookup(kind, namespace, str(ref.get("name") or ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{_label(kind)} "{ref.get("name")}" not found')
            for key, data in object_data(kind, obj).items():
                if "=" not in key:
                    env[prefix + key] = _decode(data)
    for var in container.get("env") or []:
        name = str(var.get("name") or "")
        if not name:
            continue
        source = var.get("valueFrom")
        if not isinstance(source, dict):
            env[name] = expand(str(var.get("value") or ""), env)
            continue
        value: str | None
        if "fieldRef" in source:
            value = field_value(pod, str((source["fieldRef"] or {}).get("fieldPath") or ""), addresses)
        elif "resourceFieldRef" in source:
            value = resource_value(container, source["resourceFieldRef"] or {}, addresses)
        elif "configMapKeyRef" in source:
            value = key_value(lookup, namespace, "ConfigMap", source["configMapKeyRef"] or {})
        elif "secretKeyRef" in source:
            value = key_value(lookup, namespace, "Secret", source["secretKeyRef"] or {})
        else:
            raise ConfigError(f"unsupported valueFrom in env var {name}")
        if value is not None:
            env[name] = value
    return env


def referenced_objects(pod: JSON) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret the pod's env and volumes refer to."""
    refs: set[tuple[str, str]] = set()
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for source in container.get("envFrom") or []:
            if isinstance(source.get("configMapRef"), dict):
                refs.add(("ConfigMap", str(source["configMapRef"].get("name") or "")))
            if isinstance(source.get("secretRef"), dict):
                refs.add(("Secret", str(source["secretRef"].get("name") or "")))
        for var in container.get("env") or []:
            source = var.get("valueFrom") or {}
            if isinstance(source.get("configMapKeyRef"), dict):
                refs.add(("ConfigMap", str(source["configMapKeyRef"].get("name") or "")))
            if isinstance(source.get("secretKeyRef"), dict):
                refs.add(("Secret", str(source["secretKeyRef"].get("name") or "")))
    for volume in spec.get("volumes") or []:
        if isinstance(volume.get("configMap"), dict):
            refs.add(("ConfigMap", str(volume["configMap"].get("name") or "")))
        if isinstance(volume.get("secret"), dict):
            refs.add(("Secret", str(volume["secret"].get("secretName") or "")))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if isinstance(source.get("configMap"), dict):
                refs.add(("ConfigMap", str(source["configMap"].get("name") or "")))
            if isinstance(source.get("secret"), dict):
                refs.add(("Secret", str(source["secret"].get("name") or "")))
    return refs
