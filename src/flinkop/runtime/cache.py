"""A keyed object cache with named indexers (client-go's thread-safe store and indexer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

JSON = dict[str, Any]
IndexFunc = Callable[[JSON], Iterable[str]]

BY_NAMESPACE = "namespace"
BY_OWNER_UID = "owner-uid"


def object_key(obj: JSON) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects."""
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def by_namespace(obj: JSON) -> list[str]:
    return [str(obj["metadata"].get("namespace") or "")]


def by_owner_uid(obj: JSON) -> list[str]:
    return [str(ref.get("uid")) for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("uid")]


def by_label(label: str) -> IndexFunc:
    def index(obj: JSON) -> list[str]:
        value = (obj["metadata"].get("labels") or {}).get(label)
        return [value] if isinstance(value, str) else []

    return index


class Cache:
    """Objects by key, plus indices kept up to date on every write."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, JSON] = {}
        self._indexers: dict[str, IndexFunc] = {BY_NAMESPACE: by_namespace, BY_OWNER_UID: by_owner_uid}
        self._indexers.update(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self._indexers[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in _safe_index(func, obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def get(self, key: str) -> JSON | None:
        return self._items.get(key)

    def keys(self) -> list[str]:
        return list(self._items)

    def values(self) -> list[JSON]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def by_index(self, name: str, value: str) -> list[JSON]:
        return [self._items[k] for k in sorted(self._indices[name].get(value, ()))]

    def put(self, obj: JSON) -> JSON | None:
        """Store `obj`; returns the previous object under its key."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def remove(self, key: str) -> JSON | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _index(self, key: str, obj: JSON) -> None:
        for name, func in self._indexers.items():
            for value in _safe_index(func, obj):
                self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: JSON) -> None:
        for name, func in self._indexers.items():
            for value in _safe_index(func, obj):
                keys = self._indices[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indices[name][value]


def _safe_index(func: IndexFunc, obj: JSON) -> list[str]:
    """An indexer must not let one odd object break the cache."""
    try:
        return [v for v in func(obj) if isinstance(v, str)]
    except Exception:  # a malformed object is simply not indexed
        return []
