"""Object storage with etcd-like revisions, bounded per-resource history and watch fan-out.

One global, monotonically increasing revision numbers every write, as etcd does.
Stored objects are never mutated in place: every write stores a new dict, so readers
can hand out stored objects without copying.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


def object_key(obj: JSON) -> ObjectKey:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


@dataclass
class Change:
    """One write, as watchers and in-process listeners see it."""

    type: str
    obj: JSON
    rv: int
    prev: JSON | None
    storage_key: str
    _lines: dict[str, bytes] = field(default_factory=dict, repr=False)

    def object_for(self, event_type: str) -> JSON:
        """The object a watcher sees for this change delivered as `event_type`."""
        if event_type == DELETED and self.type != DELETED and self.prev is not None:
            return {**self.prev, "metadata": {**self.prev["metadata"], "resourceVersion": str(self.rv)}}
        return self.obj

    def line(self, api_version: str, event_type: str | None = None) -> bytes:
        """The watch-stream line for this change, serialized once per apiVersion and type.

        A DELETED sent because the object left a watcher's selector carries the last state
        that matched (the previous one), stamped with this change's revision.
        """
        etype = event_type or self.type
        cache_key = f"{etype}|{api_version}"
        cached = self._lines.get(cache_key)
        if cached is None:
            obj = self.object_for(etype)
            if obj.get("apiVersion") != api_version:
                obj = {**obj, "apiVersion": api_version}
            cached = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"
            self._lines[cache_key] = cached
        return cached


class Watcher:
    """One open watch stream: a queue of changes filtered by namespace and selectors."""

    def __init__(
        self,
        storage_key: str,
        namespace: str | None,
        match: Callable[[JSON], bool],
        *,
        max_queue: int = 100_000,
    ) -> None:
        self.storage_key = storage_key
        self.namespace = namespace
        self.match = match
        self.queue: deque[tuple[str, Change]] = deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.max_queue = max_queue
        self.last_rv = 0

    def _visible(self, obj: JSON | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and (obj["metadata"].get("namespace") or "") != self.namespace:
            return False
        return self.match(obj)

    def offer(self, change: Change) -> None:
        """Queue the change as this watcher must see it, honouring selector transitions."""
        if self.closed:
            return
        now = self._visible(change.obj) if change.type != DELETED else False
        before = self._visible(change.prev)
        if change.type == DELETED:
            etype = DELETED if before else None
        elif now and before:
            etype = MODIFIED
        elif now:
            etype = ADDED
        elif before:
            etype = DELETED  # the object left the selector
        else:
            etype = None
        if etype is None:
            self.last_rv = change.rv
            return
        if len(self.queue) >= self.max_queue:
            self.close()  # like the apiserver cacher, drop a watcher that cannot keep up
            return
        self.queue.append((etype, change))
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()


@dataclass
class _History:
    events: deque[Change]
    # Every change with rv > floor is in `events`; a watch from an older version is expired.
    floor: int


class Store:
    """Objects per resource (storage key), their history and the watchers on them."""

    def __init__(self, history_size: int = 1000) -> None:
        self.rv = 0
        self.history_size = history_size
        self._objects: dict[str, dict[ObjectKey, JSON]] = {}
        self._history: dict[str, _History] = {}
        self._watchers: dict[str, set[Watcher]] = {}
        self._by_uid: dict[str, tuple[str, ObjectKey]] = {}
        self._listeners: list[Callable[[Change], None]] = []

    # -- registration --------------------------------------------------------------------------
    def ensure(self, storage_key: str) -> None:
        """Start storing a resource; like a fresh watch cache its history starts now."""
        if storage_key not in self._objects:
            self._objects[storage_key] = {}
            self._history[storage_key] = _History(deque(maxlen=self.history_size), self.rv)

    def drop(self, storage_key: str) -> None:
        """Forget a resource (its CRD is gone): remove objects silently, close its watches."""
        for obj in self._objects.pop(storage_key, {}).values():
            self._by_uid.pop(obj["metadata"].get("uid", ""), None)
        self._history.pop(storage_key, None)
        for watcher in self._watchers.pop(storage_key, set()):
            watcher.close()

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        """In-process controllers (GC, namespace, CRD) hear every change synchronously."""
        self._listeners.append(listener)

    # -- reads -------------------------------------------------------------------------------------
    def get(self, storage_key: str, key: ObjectKey) -> JSON | None:
        return self._objects.get(storage_key, {}).get(key)

    def items(self, storage_key: str, namespace: str | None = None) -> list[JSON]:
        """Objects in etcd key order (namespace, then name)."""
        objects = self._objects.get(storage_key, {})
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def items_at(self, storage_key: str, namespace: str | None, rv: int) -> list[JSON]:
        """Objects as they were at revision `rv` (caller checked it is not expired).

        Later changes are undone from history, newest first, so paged lists stay a snapshot.
        """
        objects = dict(self._objects.get(storage_key, {}))
        for change in reversed(self._history[storage_key].events):
            if change.rv <= rv:
                break
            key = object_key(change.obj)
            if change.prev is None:
                objects.pop(key, None)
            else:
                objects[key] = change.prev
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def iter_all(self) -> Iterator[tuple[str, JSON]]:
        for storage_key, objects in list(self._objects.items()):
            for obj in list(objects.values()):
                yield storage_key, obj

    def by_uid(self, uid: str) -> tuple[str, JSON] | None:
        found = self._by_uid.get(uid)
        if found is None:
            return None
        obj = self.get(found[0], found[1])
        return (found[0], obj) if obj is not None else None

    def count(self) -> int:
        return sum(len(objs) for objs in self._objects.values())

    # -- writes ------------------------------------------------------------------------------------
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, storage_key: str, obj: JSON, rv: int, event_type: str) -> Change:
        """Store `obj` (already carrying resourceVersion `rv`) and notify."""
        objects = self._objects[storage_key]
        key = object_key(obj)
        prev = objects.get(key)
        objects[key] = obj
        self._by_uid[obj["metadata"]["uid"]] = (storage_key, key)
        return self._record(Change(event_type, obj, rv, prev, storage_key))

    def remove(self, storage_key: str, last_state: JSON, rv: int) -> Change:
        """Delete; the DELETED event carries the last state with the deletion's revision."""
        key = object_key(last_state)
        prev = self._objects[storage_key].pop(key, None)
        self._by_uid.pop(last_state["metadata"].get("uid", ""), None)
        return self._record(Change(DELETED, last_state, rv, prev, storage_key))

    def _record(self, change: Change) -> Change:
        history = self._history[change.storage_key]
        if len(history.events) == history.events.maxlen and history.events:
            history.floor = history.events[0].rv
        history.events.append(change)
        for watcher in list(self._watchers.get(change.storage_key, ())):
            watcher.offer(change)
        for listener in self._listeners:
            listener(change)
        return change

    # -- watches -----------------------------------------------------------------------------------
    def expired(self, storage_key: str, since_rv: int) -> bool:
        return since_rv < self._history[storage_key].floor

    def floor(self, storage_key: str) -> int:
        return self._history[storage_key].floor

    def open_watch(self, watcher: Watcher, since_rv: int | None) -> None:
        """Register a watcher; replay history after `since_rv` (caller checked expiry)."""
        if since_rv is not None:
            for change in self._history[watcher.storage_key].events:
                if change.rv > since_rv:
                    watcher.offer(change)
        self._watchers.setdefault(watcher.storage_key, set()).add(watcher)

    def close_watch(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.storage_key, set()).discard(watcher)
        watcher.close()

    def drop_watches(self) -> int:
        """Close every open watch stream, as an API server restart would."""
        count = 0
        for watchers in self._watchers.values():
            for watcher in list(watchers):
                watcher.close()
                count += 1
            watchers.clear()
        return count

    def compact(self) -> int:
        """Forget all history: any watch or continue token from before now is expired."""
        for history in self._history.values():
            history.events.clear()
            history.floor = self.rv
        return self.rv

    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())
