"""core/v1 Events about custom resources, named and aggregated as the upstream operator does.

An event is named `<Component>.<hash>` where the hash is Java's `String.hashCode()` of
`reason + message + type + kind + name + uid`, masked to 31 bits (`& 0x7FFFFFFF`), exactly as upstream's
`EventUtils.generateEventName`, so a repeat of the same event maps onto the same object whichever operator
(theirs or ours) wrote it first, and a repeat bumps `count` and `lastTimestamp` instead of creating another.

Recording is best effort: `record()` never raises (a failed event must not fail a reconcile); failures are
logged. A small LRU of the events this process wrote saves a GET before each bump: a known event is
replaced with its cached resourceVersion (re-read and retried once on 409, created again on 404); an
unknown one is created, and on AlreadyExists read and bumped.
"""

from __future__ import annotations

import socket
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from flinkop.runtime.client import Conflict, NotFound
from flinkop.runtime.kube import Kube, Resource

JSON = dict[str, Any]
EventType = Literal["Normal", "Warning"]
NORMAL: EventType = "Normal"
WARNING: EventType = "Warning"

EVENTS = Resource("", "v1", "events", kind="Event")

log = structlog.get_logger("flinkop.runtime.events")


def java_string_hash(text: str) -> int:
    """Java's `String.hashCode()` (over UTF-16 code units) as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def event_name(involved: JSON, type_: str, reason: str, message: str, component: str) -> str:
    """`<Component>.<positive 31-bit Java hash of reason+message+type+kind+name+uid>` (upstream's name)."""
    meta = involved.get("metadata") or {}
    joined = f"{reason}{message}{type_}{involved.get('kind', '')}{meta.get('name', '')}{meta.get('uid', '')}"
    return f"{component}.{java_string_hash(joined) & 0x7FFFFFFF}"


def rfc3339(moment: datetime) -> str:
    """A metav1.Time: RFC 3339 in UTC, seconds precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EventRecorder:
    """Writes Events about objects; one per process, shared by every controller."""

    def __init__(
        self,
        kube: Kube,
        component: str = "Operator",
        reporting_instance: str | None = None,
        *,
        cache_size: int = 1024,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.kube = kube
        self.component = component
        self.reporting_instance = reporting_instance or socket.gethostname()
        self.cache_size = cache_size
        self._now = now
        self._known: OrderedDict[tuple[str, str], JSON] = OrderedDict()  # (namespace, name) -> last written

    async def record(
        self,
        involved: JSON,
        type_: EventType,
        reason: str,
        message: str,
        component: str | None = None,
    ) -> JSON | None:
        """Create the event, or bump the count of the same earlier one. Returns the Event as written, or
        None when it could not be written (logged, never raised)."""
        component = component or self.component
        try:
            return await self._record(involved, type_, reason, message, component)
        except Exception as exc:
            obj = involved if isinstance(involved, dict) else {}
            meta = obj.get("metadata") or {}
            log.warning(
                "could not record event",
                reason=reason,
                type=type_,
                kind=obj.get("kind"),
                object=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
                error=repr(exc),
            )
            return None

    async def _record(self, involved: JSON, type_: str, reason: str, message: str, component: str) -> JSON:
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        name = event_name(involved, type_, reason, message, component)
        key = (namespace, name)
        existing = self._known.get(key)

        def new() -> JSON:
            return self._new(involved, name, namespace, type_, reason, message, component)

        if existing is None:
            try:
                return self._remember(key, await self.kube.create(EVENTS, new()))
            except Conflict:  # AlreadyExists: written earlier (by another process, or before a restart)
                existing = await self.kube.get(EVENTS, name, namespace)
        for attempt in range(2):
            if _same(existing, involved, type_, reason):
                update = self._bump(existing, message)
            else:  # a hash collision with another object's event: take the name over, as upstream does
                update = new()
                update["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            try:
                return self._remember(key, await self.kube.replace(EVENTS, update))
            except NotFound:  # deleted meanwhile (events expire): start again at count 1
                self._known.pop(key, None)
                return self._remember(key, await self.kube.create(EVENTS, new()))
            except Conflict:
                self._known.pop(key, None)
                if attempt:
                    raise
                existing = await self.kube.get(EVENTS, name, namespace)
        raise AssertionError("unreachable")  # pragma: no cover

    def _new(
        self,
        involved: JSON,
        name: str,
        namespace: str,
        type_: str,
        reason: str,
        message: str,
        component: str,
    ) -> JSON:
        meta = involved.get("metadata") or {}
        reference = {
            "apiVersion": involved.get("apiVersion"),
            "kind": involved.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        now = rfc3339(self._now())
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in reference.items() if v},
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": self.reporting_instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }

    def _bump(self, existing: JSON, message: str) -> JSON:
        return {
            **existing,
            "message": message,
            "count": int(existing.get("count") or 1) + 1,
            "lastTimestamp": rfc3339(self._now()),
        }

    def _remember(self, key: tuple[str, str], event: JSON) -> JSON:
        self._known[key] = event
        self._known.move_to_end(key)
        while len(self._known) > self.cache_size:
            self._known.popitem(last=False)
        return event


def _same(existing: JSON, involved: JSON, type_: str, reason: str) -> bool:
    """Upstream's check that an event found by name is about the same thing."""
    ref = existing.get("involvedObject") or {}
    meta = involved.get("metadata") or {}
    return (
        existing.get("type") == type_
        and existing.get("reason") == reason
        and ref.get("name") == meta.get("name")
        and ref.get("kind") == involved.get("kind")
    )


__all__ = ["EVENTS", "NORMAL", "WARNING", "EventRecorder", "EventType", "event_name", "java_string_hash"]
