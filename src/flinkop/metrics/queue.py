"""Work-queue listeners: progress for the health probe, and several listeners on one queue."""

from __future__ import annotations

import time
from collections.abc import Hashable

from flinkop.metrics.model import Clock
from flinkop.runtime.controller import Controller
from flinkop.runtime.workqueue import QueueMetrics


class QueueProgress:
    """Remembers the queue's depth and when a worker last took a key (a `QueueMetrics` listener)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.current_depth = 0
        self.adds = 0
        self.retries = 0
        self.gets = 0
        self.last_progress = clock()  # last get, or when keys became ready after an empty queue

    def on_add(self, key: Hashable) -> None:
        self.adds += 1

    def on_get(self, key: Hashable, queued_for_seconds: float) -> None:
        self.gets += 1
        self.last_progress = self.clock()

    def on_done(self, key: Hashable, processing_seconds: float) -> None:
        pass

    def on_retry(self, key: Hashable) -> None:
        self.retries += 1

    def depth(self, n: int) -> None:
        if n and not self.current_depth:
            self.last_progress = self.clock()
        self.current_depth = n

    def stalled_for(self) -> float:
        """Seconds keys have been ready with no worker taking one (0 when the queue is empty)."""
        return self.clock() - self.last_progress if self.current_depth else 0.0


class FanOut:
    """One queue, several listeners."""

    def __init__(self, *listeners: QueueMetrics) -> None:
        self.listeners = list(listeners)

    def on_add(self, key: Hashable) -> None:
        for listener in self.listeners:
            listener.on_add(key)

    def on_get(self, key: Hashable, queued_for_seconds: float) -> None:
        for listener in self.listeners:
            listener.on_get(key, queued_for_seconds)

    def on_done(self, key: Hashable, processing_seconds: float) -> None:
        for listener in self.listeners:
            listener.on_done(key, processing_seconds)

    def on_retry(self, key: Hashable) -> None:
        for listener in self.listeners:
            listener.on_retry(key)

    def depth(self, n: int) -> None:
        for listener in self.listeners:
            listener.depth(n)


def attach_queue_listener(controller: Controller, listener: QueueMetrics) -> None:
    """Add `listener` to the controller's queue (now and after restarts), keeping those already there."""
    current = controller.queue_metrics
    if current is None:
        controller.queue_metrics = listener
    elif isinstance(current, FanOut):
        current.listeners.append(listener)
        listener.depth(controller.queue.len())
    else:
        controller.queue_metrics = FanOut(current, listener)


def detach_queue_listener(controller: Controller, listener: QueueMetrics) -> None:
    current = controller.queue_metrics
    if current is listener:
        controller.queue_metrics = None
    elif isinstance(current, FanOut) and listener in current.listeners:
        current.listeners.remove(listener)
        if len(current.listeners) <= 1:
            controller.queue_metrics = current.listeners[0] if current.listeners else None
