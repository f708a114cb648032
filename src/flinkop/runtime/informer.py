"""Shared informers: a reflector per namespace (LIST, then WATCH from the list's revision) feeding
one cache and many handlers, with resync and `wait_for_sync` (client-go's tools/cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from flinkop.runtime.cache import Cache, IndexFunc, object_key
from flinkop.runtime.client import ApiError, Gone
from flinkop.runtime.kube import Kube, Resource

JSON = dict[str, Any]
ALL_NAMESPACES = ""
log = structlog.get_logger("flinkop.runtime.informer")


def drop_managed_fields(obj: JSON) -> JSON:
    """The default cache transform (client-go's SetTransform): managedFields are server-side apply
    bookkeeping no controller reads, and a third of a cached object's memory."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return obj


@dataclass
class Handler:
    """Callbacks for cache changes; any may be None. They run synchronously and must be cheap
    (typically: put a key on a work queue)."""

    on_add: Callable[[JSON], None] | None = None
    on_update: Callable[[JSON, JSON], None] | None = None
    on_delete: Callable[[JSON], None] | None = None


@dataclass
class Backoff:
    """Jittered exponential backoff for list/watch errors."""

    base: float = 0.8
    cap: float = 30.0
    attempt: int = 0

    def next(self) -> float:
        delay: float = min(self.cap, self.base * 2.0**self.attempt)
        self.attempt += 1
        return delay * (1 + random.random())

    def reset(self) -> None:
        self.attempt = 0


def _rv(obj: JSON) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion") or "")


def _older(new: JSON, old: JSON) -> bool:
    """True when `new` is an older revision than the cached `old` (revisions compared only when numeric)."""
    a, b = _rv(new), _rv(old)
    return a.isdigit() and b.isdigit() and int(a) < int(b)


class SharedInformer:
    """One cache of one resource across a set of namespaces (all when the set is empty)."""

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        namespaces: Iterable[str] = (),
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_period: float | None = None,
        watch_timeout: tuple[int, int] = (300, 600),
        page_size: int = 500,
        indexers: dict[str, IndexFunc] | None = None,
        transform: Callable[[JSON], JSON] | None = drop_managed_fields,
    ) -> None:
        self.kube = kube
        self.transform = transform
        self.resource = resource
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.cache = Cache(indexers)
        self._handlers: list[Handler] = []
        self._namespaces: set[str] = set(namespaces) if resource.namespaced else set()
        self._reflectors: dict[str, asyncio.Task[None]] = {}
        self._synced: set[str] = set()
        self._sync_event = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None
        self._running = False
        self.errors = 0
        self.log = log.bind(resource=str(resource))

    # -- handlers ----------------------------------------------------------------------------------
    def add_handler(self, handler: Handler) -> None:
        """Register a handler; it first hears every object already cached as an add."""
        self._handlers.append(handler)
        if handler.on_add is not None:
            for obj in self.cache.values():
                self._call(handler.on_add, obj)

    def _call(self, func: Callable[..., None] | None, *args: JSON) -> None:
        if func is None:
            return
        try:
            func(*args)
        except Exception:  # a handler bug must not stop the informer
            self.log.exception("informer handler failed", key=object_key(args[-1]))

    def _added(self, obj: JSON) -> None:
        for handler in self._handlers:
            self._call(handler.on_add, obj)

    def _updated(self, old: JSON, new: JSON) -> None:
        for handler in self._handlers:
            self._call(handler.on_update, old, new)

    def _deleted(self, obj: JSON) -> None:
        for handler in self._handlers:
            self._call(handler.on_delete, obj)

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def namespaces(self) -> set[str]:
        return set(self._namespaces)

    def _scopes(self) -> list[str]:
        return sorted(self._namespaces) if self._namespaces else [ALL_NAMESPACES]

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        for scope in self._scopes():
            self._start_reflector(scope)
        if self.resync_period:
            self._resync_task = asyncio.get_running_loop().create_task(self._resync_loop())

    def _start_reflector(self, scope: str) -> None:
        task = asyncio.get_running_loop().create_task(
            self._reflect(scope), name=f"reflector {self.resource} {scope}"
        )
        self._reflectors[scope] = task

    async def stop(self) -> None:
        self._running = False
        tasks = [*self._reflectors.values(), *([self._resync_task] if self._resync_task else [])]
        self._reflectors.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def set_namespaces(self, namespaces: Iterable[str]) -> None:
        """Watch a new set of namespaces: start reflectors for new ones, forget objects of dropped ones."""
        if not self.resource.namespaced:
            return
        wanted = set(namespaces)
        old_scopes, self._namespaces = set(self._scopes()), wanted
        new_scopes = set(self._scopes())
        for scope in old_scopes - new_scopes:
            task = self._reflectors.pop(scope, None)
            self._synced.discard(scope)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for obj in self.cache.values():
            ns = obj["metadata"].get("namespace") or ""
            if wanted and ns not in wanted:
                self.cache.remove(object_key(obj))
                self._deleted(obj)
        if self._running:
            for scope in sorted(new_scopes - old_scopes):
                self._start_reflector(scope)
        self._update_synced()

    # -- sync state --------------------------------------------------------------------------------
    @property
    def has_synced(self) -> bool:
        return self._sync_event.is_set()

    def _update_synced(self) -> None:
        if set(self._scopes()) <= self._synced:
            self._sync_event.set()
        else:
            self._sync_event.clear()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._sync_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- the reflector -----------------------------------------------------------------------------
    async def _reflect(self, scope: str) -> None:
        namespace = scope or None
        backoff = Backoff()
        rv: str | None = None
        while True:
            try:
                if rv is None:
                    rv = await self._list(namespace, scope)
                    backoff.reset()
                low, high = self.watch_timeout
                async for event in self.kube.watch(
                    self.resource,
                    namespace,
                    resource_version=rv,
                    timeout_seconds=random.randint(low, high),
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                ):
                    rv = self._apply(event) or rv
                backoff.reset()  # the server ended the stream: resume from the last revision seen
            except asyncio.CancelledError:
                raise
            except Gone:
                self.log.info("watch expired, listing again", namespace=scope or "*", resource_version=rv)
                rv = None
            except ApiError as exc:
                self.errors += 1
                delay = exc.retry_after or backoff.next()
                self.log.warning(
                    "list/watch failed",
                    namespace=scope or "*",
                    status=exc.status,
                    error=exc.message,
                    retry_in=round(delay, 2),
                )
                await asyncio.sleep(delay)
            except Exception:
                self.errors += 1
                delay = backoff.next()
                self.log.exception("list/watch crashed", namespace=scope or "*", retry_in=round(delay, 2))
                await asyncio.sleep(delay)

    async def _list(self, namespace: str | None, scope: str) -> str:
        items: list[JSON] = []
        token: str | None = None
        list_rv = ""
        while True:
            page = await self.kube.list(
                self.resource,
                namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=self.page_size,
                continue_token=token,
            )
            meta = page.get("metadata") or {}
            list_rv = list_rv or str(meta.get("resourceVersion") or "")
            items.extend(page.get("items") or [])
            token = meta.get("continue")
            if not token:
                break
        self._replace(items, scope)
        self._synced.add(scope)
        self._update_synced()
        return list_rv

    def _in_scope(self, obj: JSON, scope: str) -> bool:
        return not scope or (obj["metadata"].get("namespace") or "") == scope

    def _replace(self, items: list[JSON], scope: str) -> None:
        """Make the cache equal the list for this scope, telling handlers what changed."""
        seen = set()
        for item in items:
            if self.transform is not None:
                item = self.transform(item)
            item.setdefault("apiVersion", self.resource.api_version)
            if self.resource.kind:
                item.setdefault("kind", self.resource.kind)
            key = object_key(item)
            seen.add(key)
            old = self.cache.get(key)
            if old is not None and (_rv(old) == _rv(item) or _older(item, old)):
                continue
            self.cache.put(item)
            if old is None:
                self._added(item)
            else:
                self._updated(old, item)
        for obj in self.cache.values():
            key = object_key(obj)
            if key not in seen and self._in_scope(obj, scope):
                self.cache.remove(key)
                self._deleted(obj)

    def _apply(self, event: JSON) -> str | None:
        kind = event.get("type")
        obj = event.get("object") or {}
        rv = _rv(obj) or None
        if kind == "BOOKMARK":
            return rv
        if not isinstance(obj.get("metadata"), dict) or "name" not in obj["metadata"]:
            self.log.warning("skipping malformed watch event", event_type=kind)
            return rv
        if self.transform is not None:
            obj = self.transform(obj)
        key = object_key(obj)
        old = self.cache.get(key)
        if kind in ("ADDED", "MODIFIED"):
            if old is not None and _older(obj, old):
                return rv
            self.cache.put(obj)
            if old is None:
                self._added(obj)
            else:
                self._updated(old, obj)
        elif kind == "DELETED":
            self.cache.remove(key)
            self._deleted(obj if old is None else {**obj})
        return rv

    async def _resync_loop(self) -> None:
        assert self.resync_period is not None
        while True:
            await asyncio.sleep(self.resync_period)
            for obj in self.cache.values():
                self._updated(obj, obj)


class InformerFactory:
    """One shared informer per (resource, namespaces, selectors)."""

    def __init__(self, kube: Kube, *, resync_period: float | None = None) -> None:
        self.kube = kube
        self.resync_period = resync_period
        self._informers: dict[tuple[Resource, frozenset[str], str | None], SharedInformer] = {}
        self._started = False

    def informer(
        self,
        resource: Resource,
        namespaces: Iterable[str] = (),
        *,
        label_selector: str | None = None,
    ) -> SharedInformer:
        key = (resource, frozenset(namespaces) if resource.namespaced else frozenset(), label_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(
                self.kube, resource, key[1], label_selector=label_selector, resync_period=self.resync_period
            )
            self._informers[key] = informer
            if self._started:
                informer.start()
        return informer

    def informers(self) -> list[SharedInformer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(informer.stop() for informer in self._informers.values()))

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        results = await asyncio.gather(*(i.wait_for_sync(timeout) for i in self._informers.values()))
        return all(results)
