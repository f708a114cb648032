"""A rate-limited queue of keys for reconcile workers, after client-go's `util/workqueue`.

Guarantees:
- a key is held by at most one worker at a time (`get` ... `done`);
- a key added while a worker holds it is queued again when that worker calls `done`;
- adds of a key that is already waiting collapse into one entry;
- `add_after` delays an add; of several pending delays for one key the earliest wins;
- `add_rate_limited` delays an add by the rate limiter: by default the larger of a per-key
  exponential backoff and an overall token bucket; `forget` resets the key's backoff.

Everything runs on one asyncio event loop (no locks, not thread safe); `add_after` and
`add_rate_limited` must be called while that loop runs, since they set its timer.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
Clock = Callable[[], float]


class ShutDown(Exception):
    """Raised by `WorkQueue.get` once the queue is shut down: the worker should exit."""


# Rate limiters: small parts composed with `MaxOf`, as in client-go's default_rate_limiters.go.


class RateLimiter(Protocol):
    def when(self, key: Hashable) -> float:
        """Seconds to wait before `key` runs again; counts as one more failure of it."""
        ...

    def forget(self, key: Hashable) -> None:
        """`key` succeeded: its next failure starts the backoff from scratch."""
        ...

    def num_requeues(self, key: Hashable) -> int:
        """Failures of `key` since it was last forgotten."""
        ...


class ItemExponentialBackoff:
    """Per-key backoff: `base * 2**failures` seconds, at most `cap`."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        if base < 0 or cap < base:
            raise ValueError(f"need 0 <= base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        try:
            return min(self.cap, math.ldexp(self.base, failures))
        except OverflowError:  # 2**failures beyond the float range: long past any cap
            return self.cap

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class TokenBucket:
    """Overall rate for all keys: starts with `burst` tokens, refilled at `qps` per second.

    Each `when` reserves a token, going into debt when the bucket is empty, and returns the
    time until that token exists; so a burst passes at once and then one key per 1/qps.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"need qps > 0 and burst >= 1, got qps={qps} burst={burst}")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, key: Hashable) -> float:
        now = self._clock()
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, key: Hashable) -> None:
        pass  # the bucket limits the queue as a whole, it keeps nothing per key

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOf:
    """The strictest of several limiters: the longest delay, the most requeues."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOf needs at least one limiter")
        self.limiters = limiters

    def when(self, key: Hashable) -> float:
        # A list, not a generator cut short: every limiter must record the failure.
        return max([limiter.when(key) for limiter in self.limiters])

    def forget(self, key: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_rate_limiter(clock: Clock = time.monotonic) -> MaxOf:
    """client-go's default: backoff from 5 ms to 1000 s per key, and 10 qps (burst 100) overall."""
    return MaxOf(ItemExponentialBackoff(0.005, 1000.0), TokenBucket(10.0, 100, clock))


# Metrics hooks: the queue reports, a Prometheus adapter (or a test) listens.


class QueueMetrics(Protocol):
    def on_add(self, key: Hashable) -> None:
        """`key` newly needs a run (adds that collapse into a waiting entry are not reported)."""
        ...

    def on_get(self, key: Hashable, queued_for_seconds: float) -> None:
        """A worker got `key`, which needed a run for this long."""
        ...

    def on_done(self, key: Hashable, processing_seconds: float) -> None:
        """A worker finished `key` after this long."""
        ...

    def on_retry(self, key: Hashable) -> None:
        """`key` was re-added through the rate limiter."""
        ...

    def depth(self, n: int) -> None:
        """The number of keys ready to get changed to `n`."""
        ...


class NoMetrics:
    def on_add(self, key: Hashable) -> None:
        pass

    def on_get(self, key: Hashable, queued_for_seconds: float) -> None:
        pass

    def on_done(self, key: Hashable, processing_seconds: float) -> None:
        pass

    def on_retry(self, key: Hashable) -> None:
        pass

    def depth(self, n: int) -> None:
        pass


class WorkQueue(Generic[K]):
    """Keys waiting for a worker, each handed to one worker at a time.

    A worker loops: `key = await queue.get()`, reconcile, then `queue.forget(key)` on success or
    `queue.add_rate_limited(key)` on failure, and always `queue.done(key)`.

    Shutdown differs from client-go on purpose: keys still queued or delayed are dropped rather
    than handed out, so workers stop promptly (a lost lease must stop all work); reconciles are
    level-based and the next start lists every object again.
    """

    def __init__(
        self,
        *,
        rate_limiter: RateLimiter | None = None,
        metrics: QueueMetrics | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._rate_limiter = rate_limiter if rate_limiter is not None else default_rate_limiter(clock)
        self._metrics = metrics if metrics is not None else NoMetrics()
        self._clock = clock  # for the metrics; delays run on the event loop's clock
        self._queue: deque[K] = deque()  # ready keys in FIFO order; each is also dirty, none processing
        self._dirty: dict[K, float] = {}  # keys that need a run -> when they were added
        self._processing: dict[K, float] = {}  # keys held by a worker -> when it got them
        self._getters: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()  # set while no worker holds a key, for the drain
        self._idle.set()
        self._delayed: dict[K, tuple[float, int]] = {}  # key -> (due, seq) of its earliest delay
        self._heap: list[tuple[float, int, K]] = []  # (due, seq, key); seq keeps keys uncompared
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None  # one timer, for the heap's earliest entry
        self._shutting_down = False

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def metrics(self) -> QueueMetrics:
        return self._metrics

    @metrics.setter
    def metrics(self, metrics: QueueMetrics | None) -> None:
        """Attach (or, with None, detach) a metrics listener to a running queue."""
        self._metrics = metrics if metrics is not None else NoMetrics()
        self._metrics.depth(len(self._queue))

    def len(self) -> int:
        """Keys ready to get (not those delayed or held by a worker)."""
        return len(self._queue)

    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty[key] = self._clock()
        self._metrics.on_add(key)
        if key not in self._processing:  # else `done` queues it, so no two workers hold it
            self._push(key)

    def add_after(self, key: K, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        pending = self._delayed.get(key)
        if pending is not None and pending[0] <= due:
            return
        self._seq += 1
        self._delayed[key] = (due, self._seq)
        heapq.heappush(self._heap, (due, self._seq, key))  # a superseded entry stays, skipped later
        self._arm(loop)

    def add_rate_limited(self, key: K) -> None:
        if self._shutting_down:
            return
        self._metrics.on_retry(key)
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: K) -> None:
        self._rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self._rate_limiter.num_requeues(key)

    async def get(self) -> K:
        """Wait for a ready key; the caller holds it until `done(key)`.

        Raises `ShutDown` once the queue is shut down, waking getters that wait.
        """
        while not self._queue:
            if self._shutting_down:
                raise ShutDown
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                waiter.cancel()
                if waiter in self._getters:
                    self._getters.remove(waiter)
                elif self._queue:  # we were woken for a key: pass the wake-up on, or it is lost
                    self._wake_one()
                raise
        key = self._queue.popleft()
        now = self._clock()
        self._processing[key] = now
        self._idle.clear()
        self._metrics.on_get(key, now - self._dirty.pop(key))
        self._metrics.depth(len(self._queue))
        return key

    def done(self, key: K) -> None:
        """Release `key`; if it was added while held, it is queued again."""
        try:
            started = self._processing.pop(key)
        except KeyError:
            raise ValueError(f"done({key!r}) for a key no worker holds") from None
        self._metrics.on_done(key, self._clock() - started)
        if key in self._dirty:
            self._push(key)
        if not self._processing:
            self._idle.set()

    def shutdown(self) -> None:
        """Stop: waiting and later `get` calls raise `ShutDown`, adds are ignored, queued and
        delayed keys are dropped. Workers holding a key still call `done`."""
        if self._shutting_down:
            return
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._delayed.clear()
        self._queue.clear()
        self._dirty.clear()  # also keys added while held: `done` must not queue them again
        self._metrics.depth(0)
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def shutdown_and_drain(self) -> None:
        """Shut down, then wait until every held key is `done`."""
        self.shutdown()
        await self._idle.wait()

    def _push(self, key: K) -> None:
        self._queue.append(key)
        self._metrics.depth(len(self._queue))
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():  # a cancelled getter's future is done: skip it
                waiter.set_result(None)
                return

    def _is_current(self, entry: tuple[float, int, K]) -> bool:
        due, seq, key = entry
        return self._delayed.get(key) == (due, seq)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._heap and not self._is_current(self._heap[0]):
            heapq.heappop(self._heap)
        if not self._heap:
            return
        due = self._heap[0][0]
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
        self._timer = loop.call_at(due, self._fire, loop, due)

    def _fire(self, loop: asyncio.AbstractEventLoop, armed_for: float) -> None:
        self._timer = None
        # asyncio runs a timer up to one clock resolution early; the time it was armed for has come.
        now = max(loop.time(), armed_for)
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            if self._is_current(entry):
                key = entry[2]
                del self._delayed[key]
                self.add(key)
        self._arm(loop)
