"""Server-side printing (`meta.k8s.io/v1 Table`), which kubectl asks for on `get`: the columns
kube-apiserver prints for built-in kinds, and a CRD's additionalPrinterColumns for custom resources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flinkop.sandbox.apiserver.resources import ResourceType
from flinkop.sandbox.apiserver.selectors import lookup_path

JSON = dict[str, Any]
Column = tuple[str, str, int, Callable[[JSON], Any]]  # name, type, priority, cell


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def human_duration(seconds: float) -> str:
    """kubectl's short age format: 5s, 3m2s, 10m, 5h, 2d3h, 45d, 3y."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _age_of(stamp: Any) -> str:
    if not isinstance(stamp, str) or not stamp:
        return "<unknown>"
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - when).total_seconds())


def _age(obj: JSON) -> str:
    return _age_of(obj["metadata"].get("creationTimestamp"))


def _name(obj: JSON) -> str:
    return str(obj["metadata"]["name"])


def _pod_status(pod: JSON) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("terminated", {}).get("exitCode", 0) != 0:
            return f"Init:{state['terminated'].get('reason') or 'Error'}"
        if state.get("waiting", {}).get("reason") not in (None, "PodInitializing"):
            return f"Init:{state['waiting']['reason']}"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_ready(pod: JSON) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_restarts(pod: JSON) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    count = sum(int(s.get("restartCount") or 0) for s in statuses)
    last = max(
        (str(((s.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "") for s in statuses),
        default="",
    )
    return f"{count} ({_age_of(last)} ago)" if count and last else str(count)


def _service_ports(svc: JSON) -> str:
    ports = (svc.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _endpoints(ep: JSON) -> str:
    pairs = [
        f"{a.get('ip')}:{p.get('port')}"
        for s in ep.get("subsets") or []
        for a in s.get("addresses") or []
        for p in s.get("ports") or []
    ]
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "")
    return text or "<none>"


def _node_status(node: JSON) -> str:
    conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    text = "Ready" if conditions.get("Ready") == "True" else "NotReady"
    if (node.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _spec(obj: JSON, path: str, default: Any = 0) -> Any:
    value = lookup_path(obj, path)
    return default if value is None else value


_BUILTIN: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): [
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _pod_restarts),
        ("Age", "string", 0, _age),
        ("IP", "string", 1, lambda o: _spec(o, "status.podIP", "<none>")),
        ("Node", "string", 1, lambda o: _spec(o, "spec.nodeName", "<none>")),
        ("Nominated Node", "string", 1, lambda o: "<none>"),
        ("Readiness Gates", "string", 1, lambda o: "<none>"),
    ],
    ("apps", "Deployment"): [
        ("Ready", "string", 0, lambda o: f"{_spec(o, 'status.readyReplicas')}/{_spec(o, 'spec.replicas')}"),
        ("Up-to-date", "integer", 0, lambda o: _spec(o, "status.updatedReplicas")),
        ("Available", "integer", 0, lambda o: _spec(o, "status.availableReplicas")),
        ("Age", "string", 0, _age),
    ],
    ("apps", "ReplicaSet"): [
        ("Desired", "integer", 0, lambda o: _spec(o, "spec.replicas")),
        ("Current", "integer", 0, lambda o: _spec(o, "status.replicas")),
        ("Ready", "integer", 0, lambda o: _spec(o, "status.readyReplicas")),
        ("Age", "string", 0, _age),
    ],
    ("", "Service"): [
        ("Type", "string", 0, lambda o: _spec(o, "spec.type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: _spec(o, "spec.clusterIP", "<none>")),
        ("External-IP", "string", 0, lambda o: "<none>"),
        ("Port(s)", "string", 0, _service_ports),
        ("Age", "string", 0, _age),
    ],
    ("", "Endpoints"): [("Endpoints", "string", 0, _endpoints), ("Age", "string", 0, _age)],
    ("", "Node"): [
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, lambda o: "<none>"),
        ("Age", "string", 0, _age),
        ("Version", "string", 0, lambda o: _spec(o, "status.nodeInfo.kubeletVersion", "")),
    ],
    ("", "Namespace"): [
        ("Status", "string", 0, lambda o: _spec(o, "status.phase", "")),
        ("Age", "string", 0, _age),
    ],
    ("", "ConfigMap"): [
        ("Data", "integer", 0, lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        ("Age", "string", 0, _age),
    ],
    ("", "Secret"): [
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
        ("Age", "string", 0, _age),
    ],
    ("", "Event"): [
        ("Last Seen", "string", 0, lambda o: _age_of(o.get("lastTimestamp") or o.get("eventTime"))),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        (
            "Object",
            "string",
            0,
            lambda o: f"{_spec(o, 'involvedObject.kind', '').lower()}/{_spec(o, 'involvedObject.name', '')}",
        ),
        ("Message", "string", 0, lambda o: o.get("message", "")),
    ],
}


def _json_path_cell(path: str) -> Callable[[JSON], Any]:
    dotted = path.strip().lstrip(".").replace("[", ".").replace("]", "")

    def cell(obj: JSON) -> Any:
        value = lookup_path(obj, dotted)
        return None if isinstance(value, dict | list) else value

    return cell


def _columns(rtype: ResourceType, printer_columns: list[JSON] | None) -> list[Column]:
    if not rtype.builtin:
        if printer_columns:
            columns: list[Column] = []
            for col in printer_columns:
                path = str(col.get("jsonPath", ""))
                getter = _age if path == ".metadata.creationTimestamp" else _json_path_cell(path)
                ctype = "string" if path == ".metadata.creationTimestamp" else str(col.get("type", "string"))
                columns.append((str(col.get("name", "")), ctype, int(col.get("priority", 0)), getter))
            return columns
        return [("Age", "string", 0, _age)]
    return _BUILTIN.get((rtype.group, rtype.kind), [("Age", "string", 0, _age)])


def table(
    rtype: ResourceType,
    items: list[JSON],
    resource_version: str,
    printer_columns: list[JSON] | None = None,
    continue_token: str | None = None,
) -> JSON:
    columns = _columns(rtype, printer_columns)
    first: list[Column] = [] if rtype.kind == "Event" and not rtype.group else [("Name", "string", 0, _name)]
    all_columns = first + columns
    definitions = [
        {
            "name": name,
            "type": ctype,
            "format": "name" if name == "Name" else "",
            "description": "",
            "priority": priority,
        }
        for name, ctype, priority, _ in all_columns
    ]
    meta: JSON = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": definitions,
        "rows": [row(rtype, obj, all_columns) for obj in items],
    }


def row(rtype: ResourceType, obj: JSON, columns: list[Column]) -> JSON:
    cells = []
    for _, _, _, getter in columns:
        try:
            cells.append(getter(obj))
        except (KeyError, TypeError, ValueError, AttributeError):
            cells.append(None)
    partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
    return {"cells": cells, "object": partial}
