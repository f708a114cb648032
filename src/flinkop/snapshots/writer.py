"""Writes of FlinkStateSnapshot objects: the status (``PUT .../status`` with the object's resourceVersion),
the labels and the finalizer (merge patches carrying the resourceVersion), nothing when nothing changed.

The controller is the only writer of a snapshot's status, so a 409 whose server-side status is still the one
this process last wrote is retried on the fresh object (only metadata or spec moved); any other 409 is
raised for the controller to retry with a fresh read. The object of the last write is kept per key: the
informer cache may lag behind it, and a reconcile must never act on a status older than its own (it would
trigger a snapshot twice).
"""

from __future__ import annotations

import copy
from typing import Any

from flinkop.api import FlinkStateSnapshot, to_wire
from flinkop.runtime import Conflict, Kube, object_key
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS

JSON = dict[str, Any]
MAX_CONFLICT_RETRIES = 3


def _version(obj: JSON) -> int:
    rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return int(rv) if rv.isdigit() else -1


class SnapshotWriter:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._last: dict[str, JSON] = {}  # key -> the object as this process last wrote it

    def latest(self, obj: JSON) -> JSON:
        """``obj``, or this process's own later write of the same object."""
        mine = self._last.get(object_key(obj))
        if mine is None:
            return obj
        same = (mine.get("metadata") or {}).get("uid") == (obj.get("metadata") or {}).get("uid")
        return copy.deepcopy(mine) if same and _version(mine) > _version(obj) else obj

    def forget(self, key: str) -> None:
        self._last.pop(key, None)

    def _remember(self, obj: JSON) -> JSON:
        self._last[object_key(obj)] = copy.deepcopy(obj)
        return obj

    async def status(self, snapshot: FlinkStateSnapshot, obj: JSON) -> JSON:
        """Write ``snapshot.status`` if it differs from ``obj``'s; the object as stored."""
        wanted = to_wire(snapshot.status)
        expected = obj.get("status")
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            if obj.get("status") == wanted:
                return obj
            try:
                return self._remember(
                    await self.kube.replace_status(FLINK_STATE_SNAPSHOTS, {**obj, "status": wanted})
                )
            except Conflict:
                meta = obj["metadata"]
                fresh = await self.kube.get(FLINK_STATE_SNAPSHOTS, meta["name"], meta.get("namespace"))
                if fresh.get("status") != expected:
                    raise  # someone else wrote the status: reconcile again from the fresh object
                obj = fresh
        raise Conflict(409, "Conflict", "the snapshot kept changing while its status was written")

    async def metadata(
        self, obj: JSON, *, labels: dict[str, str] | None = None, finalizers: list[str] | None = None
    ) -> JSON:
        """Merge-patch labels and/or finalizers (with the resourceVersion: 409 when the object moved on)."""
        meta = obj["metadata"]
        patch: JSON = {"resourceVersion": meta.get("resourceVersion")}
        if labels is not None and labels != (meta.get("labels") or {}):
            patch["labels"] = labels
        if finalizers is not None and finalizers != (meta.get("finalizers") or []):
            patch["finalizers"] = finalizers
        if len(patch) == 1:
            return obj
        stored = await self.kube.patch(
            FLINK_STATE_SNAPSHOTS, meta["name"], {"metadata": patch}, meta.get("namespace")
        )
        return self._remember(stored)


__all__ = ["SnapshotWriter"]
