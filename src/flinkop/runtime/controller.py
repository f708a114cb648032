"""Controllers: informer events become keys on a work queue; N workers reconcile them
(controller-runtime's contract: a key in, a requeue decision out, errors back off)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from flinkop.runtime.cache import object_key
from flinkop.runtime.client import Conflict
from flinkop.runtime.informer import Handler, SharedInformer
from flinkop.runtime.workqueue import QueueMetrics, RateLimiter, ShutDown, WorkQueue

JSON = dict[str, Any]
log = structlog.get_logger("flinkop.runtime.controller")


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for: run again after `requeue_after` seconds, or wait for the next event."""

    requeue_after: float | None = None


class SkipObject(Exception):
    """Raised by a reconcile for an object that cannot be handled as it is (e.g. a spec that does not
    parse): logged and not retried; the next change of the object brings it back."""


Reconcile = Callable[[str], Awaitable[Result | None]]
KeyMapper = Callable[[JSON], Iterable[str]]
ReconcileObserver = Callable[[str, str, float], None]  # controller, outcome, seconds
KeyObserver = Callable[[str, str, float], None]  # key, outcome, seconds


def owner_keys(kind: str, api_group: str | None = None) -> KeyMapper:
    """Map an owned object to the keys of its owners of `kind` (same namespace)."""

    def keys(obj: JSON) -> list[str]:
        meta = obj["metadata"]
        namespace = meta.get("namespace")
        out = []
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") != kind:
                continue
            if api_group is not None and str(ref.get("apiVersion", "")).rsplit("/", 1)[0] != api_group:
                continue
            out.append(f"{namespace}/{ref['name']}" if namespace else str(ref["name"]))
        return out

    return keys


class Controller:
    """Reconciles keys with `workers` concurrent workers; a key is never reconciled twice at once."""

    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 1,
        rate_limiter_factory: Callable[[], RateLimiter] | None = None,
        queue_metrics: QueueMetrics | None = None,
        observer: ReconcileObserver | None = None,
    ) -> None:
        self.name = name
        self.reconcile = reconcile
        self.workers = max(1, workers)
        self._rate_limiter_factory = rate_limiter_factory
        self._queue_metrics = queue_metrics
        self.observer = observer
        self.key_observer: KeyObserver | None = None
        """Optional: told the key, outcome and duration of every reconcile (for per-resource metrics)."""
        self.queue: WorkQueue[str] = self._new_queue()
        self._sources: list[tuple[SharedInformer, KeyMapper]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._active: dict[str, float] = {}
        self.log = log.bind(controller=name)

    def _new_queue(self) -> WorkQueue[str]:
        limiter = self._rate_limiter_factory() if self._rate_limiter_factory else None
        return WorkQueue(rate_limiter=limiter, metrics=self._queue_metrics)

    @property
    def queue_metrics(self) -> QueueMetrics | None:
        return self._queue_metrics

    @queue_metrics.setter
    def queue_metrics(self, metrics: QueueMetrics | None) -> None:
        """Listen to the current queue and to the queues of later restarts."""
        self._queue_metrics = metrics
        self.queue.metrics = metrics

    # -- event sources -----------------------------------------------------------------------------
    def watch(self, informer: SharedInformer, key_of: KeyMapper | None = None) -> None:
        """Enqueue keys for every add, update and delete seen by `informer`."""
        mapper: KeyMapper = key_of or (lambda obj: [object_key(obj)])
        self._sources.append((informer, mapper))

        def enqueue(obj: JSON) -> None:
            for key in mapper(obj):
                self.queue.add(key)  # the current queue, also after a restart

        informer.add_handler(
            Handler(on_add=enqueue, on_update=lambda _old, new: enqueue(new), on_delete=enqueue)
        )

    def owns(self, informer: SharedInformer, owner_kind: str, api_group: str | None = None) -> None:
        """Changes of owned objects reconcile their owner."""
        self.watch(informer, owner_keys(owner_kind, api_group))

    # -- running -----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Start the workers. Every cached key is queued: while stopped (e.g. on standby) events were
        only cached, and reconciles are level-based."""
        if self._tasks:
            return
        if self.queue.shutting_down:
            self.queue = self._new_queue()
        for informer, mapper in self._sources:
            for obj in informer.cache.values():
                for key in mapper(obj):
                    self.queue.add(key)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.workers)
        ]
        self.log.info("controller started", workers=self.workers)

    async def stop(self, timeout: float | None = None) -> None:
        """Stop taking keys and wait for in-flight reconciles (cancel them after `timeout`)."""
        if not self._tasks:
            return
        self.queue.shutdown()
        tasks, self._tasks = self._tasks, []
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.log.info("controller stopped", cancelled=len(pending))

    def stuck(self, threshold: float) -> list[str]:
        """Keys whose reconcile has been running longer than `threshold` seconds."""
        now = time.monotonic()
        return [key for key, started in self._active.items() if now - started > threshold]

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            await self._process(key)

    async def _process(self, key: str) -> None:
        started = time.monotonic()
        self._active[key] = started
        outcome = "success"
        try:
            with structlog.contextvars.bound_contextvars(resource=key, controller=self.name):
                result = await self.reconcile(key)
            self.queue.forget(key)
            if result is not None and result.requeue_after is not None:
                self.queue.add_after(key, result.requeue_after)
        except SkipObject as exc:
            outcome = "skipped"
            self.queue.forget(key)
            self.log.warning("object skipped", resource=key, reason=str(exc))
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Conflict as exc:
            # A write from a stale cached copy: normal for level-based reconciles, retry quietly.
            outcome = "conflict"
            self.queue.add_rate_limited(key)
            self.log.debug("reconcile conflict, retrying", resource=key, error=exc.message)
        except Exception as exc:
            outcome = "error"
            self.queue.add_rate_limited(key)
            self.log.error(
                "reconcile failed",
                resource=key,
                error=repr(exc),
                retries=self.queue.num_requeues(key),
                exc_info=True,
            )
        finally:
            self.queue.done(key)
            self._active.pop(key, None)
            if self.observer is not None or self.key_observer is not None:
                elapsed = time.monotonic() - started
                if self.observer is not None:
                    self.observer(self.name, outcome, elapsed)
                if self.key_observer is not None:
                    self.key_observer(key, outcome, elapsed)
