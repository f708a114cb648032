"""Java ``HashMap`` iteration order, so maps print as the upstream operator prints them.

Upstream logs its configuration with ``Map.toString`` (``{a=b, c=d}``) over a
``java.util.HashMap``, whose order is the bucket order of the keys' ``String.hashCode``
in a power-of-two table, ties in insertion order. Log-scraping tools and tests written
against the upstream operator see that order, so :func:`java_map_string` reproduces it
(JDK 17 ``HashMap`` semantics: default capacity 16, load factor 0.75, ``putAll``
pre-sizing). Not reproduced: the order inside a bucket turned into a tree, which needs
eight keys colliding in one bucket of a table of at least 64 slots.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["JavaHashMap", "java_map_string", "java_string_hash"]

V = TypeVar("V")

_LOAD_FACTOR = 0.75
_DEFAULT_CAPACITY = 16
_MAX_CAPACITY = 1 << 30


def java_string_hash(text: str) -> int:
    """``String.hashCode``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units, as int32."""
    h = 0
    encoded = text.encode("utf-16-be")
    for i in range(0, len(encoded), 2):
        h = (31 * h + ((encoded[i] << 8) | encoded[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _spread(key: str) -> int:
    h = java_string_hash(key) & 0xFFFFFFFF
    return h ^ (h >> 16)


def _table_size_for(capacity: int) -> int:
    n = 1
    while n < capacity:
        n <<= 1
    return min(max(n, 1), _MAX_CAPACITY)


class JavaHashMap(Generic[V]):
    """A ``dict`` whose iteration order is that of a ``java.util.HashMap`` built by the same calls."""

    def __init__(self) -> None:
        self._table: list[list[tuple[str, V]]] | None = None
        self._threshold = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _resize(self) -> None:
        old = self._table
        old_cap = len(old) if old is not None else 0
        if old_cap > 0:
            new_cap = min(old_cap * 2, _MAX_CAPACITY)
        elif self._threshold > 0:  # pre-sized by putAll on an empty map
            new_cap = self._threshold
        else:
            new_cap = _DEFAULT_CAPACITY
        self._threshold = int(new_cap * _LOAD_FACTOR)
        table: list[list[tuple[str, V]]] = [[] for _ in range(new_cap)]
        # Java splits each bucket into a low and a high half keeping relative order; appending
        # in old iteration order gives the same buckets in the same order.
        for bucket in old or []:
            for key, value in bucket:
                table[_spread(key) & (new_cap - 1)].append((key, value))
        self._table = table

    def put(self, key: str, value: V) -> None:
        if self._table is None:
            self._resize()
        assert self._table is not None
        bucket = self._table[_spread(key) & (len(self._table) - 1)]
        for index, (existing, _) in enumerate(bucket):
            if existing == key:
                bucket[index] = (key, value)  # a replaced value keeps its place
                return
        bucket.append((key, value))
        self._size += 1
        if self._size > self._threshold:
            self._resize()

    def put_all(self, entries: Iterable[tuple[str, V]] | JavaHashMap[V]) -> None:
        """``putAll``: pre-size as JDK 17 does, then put each entry in the source's order."""
        items = list(entries.items() if isinstance(entries, JavaHashMap) else entries)
        size = len(items)
        if size > 0:
            if self._table is None:
                wanted = int(size / _LOAD_FACTOR + 1.0)
                if wanted > self._threshold:
                    self._threshold = _table_size_for(wanted)
            elif size > self._threshold:
                self._resize()
        for key, value in items:
            self.put(key, value)

    def items(self) -> Iterator[tuple[str, V]]:
        for bucket in self._table or []:
            yield from bucket

    def keys(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def to_dict(self) -> dict[str, V]:
        return dict(self.items())


def java_map_string(entries: Iterable[tuple[str, str]]) -> str:
    """``HashMap.toString`` of a map built by putting ``entries`` in order: ``{k1=v1, k2=v2}``."""
    java_map: JavaHashMap[str] = JavaHashMap()
    for key, value in entries:
        java_map.put(key, value)
    return "{" + ", ".join(f"{key}={value}" for key, value in java_map.items()) + "}"
