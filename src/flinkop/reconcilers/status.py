"""The status recorder: the one writer of ``FlinkDeployment.status`` (upstream's ``StatusRecorder``).

* ``PUT .../status`` with the object's ``resourceVersion`` (optimistic locking); the derived fields
  (``lifecycleState``, the ``Running`` condition) are computed here, just before every write.
* Only when the status changed: the new status is compared with the one this process last wrote (or, the
  first time, with the one read from the cluster).
* A 409 is retried (up to 3 times) only when the status on the server is still the one this process last
  wrote, i.e. only the spec or metadata moved; otherwise someone else changed the status:
  :class:`~flinkop.reconcilers.errors.StatusConflictError`.
* The operator is the single writer, so its own last write is the truth: :meth:`StatusRecorder.restore`
  puts it back on an object read from a (possibly stale) informer cache, and :meth:`is_own_write` tells
  the watch events of its own writes apart (they need no reconcile).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from flinkop.api import FlinkDeployment, FlinkDeploymentStatus, to_wire
from flinkop.reconcilers.conditions import running_condition
from flinkop.reconcilers.errors import StatusConflictError
from flinkop.reconcilers.lifecycle import lifecycle_state
from flinkop.runtime import Conflict, Kube, Resource, object_key

JSON = dict[str, Any]
log = structlog.get_logger("flinkop.reconcilers.status")

MAX_CONFLICT_RETRIES = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


def prepare_status(status: FlinkDeploymentStatus, now: datetime) -> JSON:
    """Fill in the derived fields and give the status as it is written."""
    status.lifecycle_state = lifecycle_state(status)
    status.conditions = running_condition(status, now)
    return to_wire(status)


def newer_version(a: str | None, b: str | None) -> str | None:
    """The later of two resourceVersions (compared as numbers when both are; else ``a``)."""
    if not a or not b:
        return a or b
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return a


@dataclass
class _Written:
    uid: str
    sent: JSON  # the status as sent: what the next status is compared with
    server: JSON  # the status as the server stored it: what a 409 is checked against
    resource_version: str
    event_seen: bool = False  # the watch event of this version was already told apart


class StatusRecorder:
    def __init__(self, kube: Kube, resource: Resource, *, now: Callable[[], datetime] = _utcnow) -> None:
        self.kube = kube
        self.resource = resource
        self._now = now
        self._written: dict[str, _Written] = {}

    # -- the cache -----------------------------------------------------------------------------------
    def _entry(self, obj: JSON) -> _Written | None:
        entry = self._written.get(object_key(obj))
        uid = (obj.get("metadata") or {}).get("uid")
        return entry if entry is not None and entry.uid == uid else None

    def restore(self, deployment: FlinkDeployment, obj: JSON) -> None:
        """Put the status this process last wrote on ``deployment`` (read from ``obj``)."""
        entry = self._entry(obj)
        if entry is not None:
            deployment.status = FlinkDeploymentStatus.model_validate(copy.deepcopy(entry.sent))

    def is_own_write(self, obj: JSON) -> bool:
        """True for the object exactly as this process's last write left it."""
        entry = self._entry(obj)
        return (
            entry is not None and (obj.get("metadata") or {}).get("resourceVersion") == entry.resource_version
        )

    def consume_own_write(self, obj: JSON) -> bool:
        """True once, for the watch event of this process's last write: it needs no reconcile. Seen again
        (a resync, a restarted controller) the object is reconciled as usual."""
        entry = self._entry(obj)
        if entry is None or entry.event_seen or not self.is_own_write(obj):
            return False
        entry.event_seen = True
        return True

    def note_write(self, obj: JSON) -> None:
        """Another write of this process (e.g. the finalizer): its watch event needs no reconcile."""
        meta = obj.get("metadata") or {}
        rv = meta.get("resourceVersion")
        if not rv:
            return
        entry = self._entry(obj)
        if entry is None:
            server = copy.deepcopy(obj.get("status") or {})
            self._written[object_key(obj)] = _Written(str(meta.get("uid") or ""), server, server, str(rv))
        else:
            entry.resource_version = str(rv)
            entry.event_seen = False

    def forget(self, key: str) -> None:
        self._written.pop(key, None)

    def latest(self, obj: JSON) -> JSON:
        """``obj`` with the newest resourceVersion this process knows of."""
        entry = self._entry(obj)
        meta = obj.get("metadata") or {}
        rv = newer_version(meta.get("resourceVersion"), entry.resource_version if entry else None)
        if rv == meta.get("resourceVersion"):
            return obj
        return {**obj, "metadata": {**meta, "resourceVersion": rv}}

    # -- writing -------------------------------------------------------------------------------------
    async def record(self, deployment: FlinkDeployment, obj: JSON) -> JSON:
        """Write ``deployment.status`` if it changed; returns the object to use from now on."""
        status = prepare_status(deployment.status, self._now())
        entry = self._entry(obj)
        believed = entry.sent if entry is not None else (obj.get("status") or {})
        if status == believed:
            return obj
        expected_server = entry.server if entry is not None else (obj.get("status") or {})
        current = self.latest(obj)
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            body = {**current, "status": status}
            try:
                written = await self.kube.replace_status(self.resource, body)
            except Conflict:
                if attempt >= MAX_CONFLICT_RETRIES:
                    raise
                meta = current.get("metadata") or {}
                fresh = await self.kube.get(self.resource, meta["name"], meta.get("namespace"))
                if (fresh.get("status") or {}) != expected_server:
                    raise StatusConflictError(
                        "Status have been modified externally in version "
                        f"{(fresh.get('metadata') or {}).get('resourceVersion')}"
                    ) from None
                log.debug("status conflict on a spec/metadata change, retrying", attempt=attempt + 1)
                current = fresh
                continue
            meta = written.get("metadata") or {}
            server = written.get("status") or {}
            self._written[object_key(written)] = _Written(
                uid=str(meta.get("uid") or ""),
                sent=status,
                server=status if server == status else server,  # one copy when they agree (the usual case)
                resource_version=str(meta.get("resourceVersion") or ""),
            )
            return written
        raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["MAX_CONFLICT_RETRIES", "StatusRecorder", "newer_version", "prepare_status"]
