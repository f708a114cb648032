"""Helpers the sandbox's kube-controller-manager loops share: resources, label selectors, controller
references (adopt/release), pod readiness, times and conditions, int-or-percent values, events.

Everything here works on the plain JSON objects the runtime's informers cache; cached objects are
shared, so nothing here mutates its arguments unless it says so.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import structlog

from flinkop.runtime.client import ApiError, NotFound
from flinkop.runtime.events import EventRecorder, EventType
from flinkop.runtime.kube import Kube, Resource

JSON = dict[str, Any]

PODS = Resource("", "v1", "pods", kind="Pod")
SERVICES = Resource("", "v1", "services", kind="Service")
ENDPOINTS = Resource("", "v1", "endpoints", kind="Endpoints")
REPLICASETS = Resource("apps", "v1", "replicasets", kind="ReplicaSet")
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")

FIELD_MANAGER = "kube-controller-manager"

log = structlog.get_logger("flinkop.sandbox.controllers")


# -- objects -----------------------------------------------------------------------------------------
def deep_copy(obj: Any) -> Any:
    """A deep copy of JSON data (cached objects are shared and must never be mutated)."""
    return json.loads(json.dumps(obj))


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


def meta(obj: JSON) -> JSON:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def labels_of(obj: JSON) -> dict[str, str]:
    value = meta(obj).get("labels")
    return value if isinstance(value, dict) else {}


def annotations_of(obj: JSON) -> dict[str, str]:
    value = meta(obj).get("annotations")
    return value if isinstance(value, dict) else {}


def uid_of(obj: JSON | None) -> str:
    return str(meta(obj).get("uid") or "") if obj is not None else ""


def deleting(obj: JSON) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def spec_replicas(obj: JSON | None) -> int:
    """`spec.replicas` of a Deployment or ReplicaSet (the API server defaults it to 1)."""
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas", 1)
    return int(value) if isinstance(value, int) else 1


def status_int(obj: JSON | None, field: str) -> int:
    if obj is None:
        return 0
    value = (obj.get("status") or {}).get(field, 0)
    return int(value) if isinstance(value, int) else 0


def generation_of(obj: JSON) -> int:
    value = meta(obj).get("generation", 0)
    return int(value) if isinstance(value, int) else 0


def creation_key(obj: JSON) -> tuple[str, str]:
    """Order by creation time, then name (upstream's ...ByCreationTimestamp). RFC 3339 UTC strings of one
    precision sort like the times they stand for."""
    m = meta(obj)
    return (str(m.get("creationTimestamp") or ""), str(m.get("name") or ""))


# -- label selectors -----------------------------------------------------------------------------------
def selector_is_empty(selector: JSON | None) -> bool:
    """A LabelSelector with no requirements (which selects everything)."""
    return not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions"))


def selector_matches(selector: JSON | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics: None selects nothing, `{}` everything."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key", "")
        operator = expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In":
            if not present or labels[key] not in values:
                return False
        elif operator == "NotIn":
            if present and labels[key] in values:
                return False
        elif operator == "Exists":
            if not present:
                return False
        elif operator == "DoesNotExist":
            if present:
                return False
        else:  # an operator the API server would have rejected: select nothing, as a failed parse does
            return False
    return True


def map_selector_matches(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """A Service's map selector; an empty or missing one selects nothing here (it has no endpoints)."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


# -- controller references -----------------------------------------------------------------------------
def controller_ref(obj: JSON) -> JSON | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def new_controller_ref(owner: JSON, api_version: str, kind: str) -> JSON:
    m = meta(owner)
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def ref_is(ref: JSON | None, kind: str, group: str) -> bool:
    if ref is None or ref.get("kind") != kind:
        return False
    api_version = str(ref.get("apiVersion") or "")
    return (api_version.rsplit("/", 1)[0] if "/" in api_version else "") == group


async def adopt(kube: Kube, res: Resource, obj: JSON, owner_ref: JSON) -> JSON | None:
    """Add `owner_ref` as the controller reference of an orphan; None when it is gone.

    A merge patch carrying the cached resourceVersion: a concurrent change makes it a 409 and the
    sync runs again on fresh data (upstream patches with a UID precondition instead)."""
    m = meta(obj)
    refs = [r for r in m.get("ownerReferences") or [] if r.get("uid") != owner_ref["uid"]]
    patch = {"metadata": {"ownerReferences": [*refs, owner_ref], "resourceVersion": m["resourceVersion"]}}
    try:
        return await kube.patch(res, m["name"], patch, m.get("namespace"))
    except NotFound:
        return None


async def release(kube: Kube, res: Resource, obj: JSON, owner_uid: str) -> None:
    """Drop the owner's reference from an object that no longer matches its selector."""
    m = meta(obj)
    refs = [r for r in m.get("ownerReferences") or [] if r.get("uid") != owner_uid]
    patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": m["resourceVersion"]}}
    try:
        await kube.patch(res, m["name"], patch, m.get("namespace"))
    except NotFound:
        pass


def namespace_terminating(exc: ApiError) -> bool:
    """A create refused because the namespace is being deleted (every further one will be too)."""
    causes = (exc.body.get("details") or {}).get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes if isinstance(c, dict))


# -- pods ----------------------------------------------------------------------------------------------
def pod_condition(pod: JSON, ctype: str) -> JSON | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == ctype:
            return condition
    return None


def is_pod_ready(pod: JSON) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: JSON) -> float | None:
    """When a ready pod became ready (epoch seconds), None when unknown or not ready."""
    condition = pod_condition(pod, "Ready")
    if condition is None or condition.get("status") != "True":
        return None
    return parse_time(condition.get("lastTransitionTime"))


def available_at(pod: JSON, min_ready_seconds: int) -> float | None:
    """When a ready pod counts as available (upstream's IsPodAvailable): at once without minReadySeconds,
    else minReadySeconds after its Ready transition. None for a pod that is not ready."""
    if not is_pod_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    since = ready_since(pod)
    if since is None:
        return math.inf  # ready with no transition time: never available with a minReadySeconds
    return since + min_ready_seconds


def is_pod_available(pod: JSON, min_ready_seconds: int, now: float) -> bool:
    at = available_at(pod, min_ready_seconds)
    return at is not None and (min_ready_seconds <= 0 or at < now)


def pod_phase(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_pod_active(pod: JSON) -> bool:
    """Counted by ReplicaSets: not terminal and not being deleted (upstream's FilterActivePods)."""
    return pod_phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


# -- time ------------------------------------------------------------------------------------------------
def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime | None = None) -> str:
    """metav1.Time: RFC 3339 in UTC with seconds precision."""
    return (moment or utcnow()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# -- conditions ------------------------------------------------------------------------------------------
def get_condition(status: JSON, ctype: str) -> JSON | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == ctype:
            return dict(condition)
    return None


def new_condition(ctype: str, status: str, reason: str, message: str, now: str | None = None) -> JSON:
    stamp = now or rfc3339()
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: JSON, condition: JSON) -> None:
    """Upstream's SetDeploymentCondition: same status and reason is no change; a status that stays keeps
    its lastTransitionTime; the condition moves to the end of the list."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"]:
        if current.get("reason") == condition["reason"]:
            return
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    others = [c for c in status.get("conditions") or [] if c.get("type") != condition["type"]]
    status["conditions"] = [*others, condition]


def remove_condition(status: JSON, ctype: str) -> None:
    remaining = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if remaining:
        status["conditions"] = remaining
    else:
        status.pop("conditions", None)


# -- int or percent ----------------------------------------------------------------------------------------
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, `"N%"` of `total` rounded up or down."""
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if not value.endswith("%"):
            raise ValueError(
                f"invalid value for IntOrString: invalid type: string is not a percentage: {value}"
            )
        try:
            percent = int(value[:-1])
        except ValueError:
            raise ValueError(f"invalid value {value!r}: not a percentage") from None
        product = percent * total
        return -((-product) // 100) if round_up else product // 100
    raise ValueError(f"invalid value for IntOrString: {value!r}")


# -- events ----------------------------------------------------------------------------------------------
class Events:
    """Events as one kube-controller-manager loop reports them (source component per loop); no-op without
    a recorder. Best effort: EventRecorder.record never raises."""

    def __init__(self, recorder: EventRecorder | None, component: str) -> None:
        self.recorder = recorder
        self.component = component

    async def __call__(self, obj: JSON, type_: EventType, reason: str, message: str) -> None:
        if self.recorder is not None:
            await self.recorder.record(obj, type_, reason, message, component=self.component)
