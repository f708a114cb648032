"""The work queue: its invariants as hypothesis state machines over a virtual clock (one worker per
key, a re-run after an add in flight, no lost or duplicated keys, a consistent length), the
backoff and rate-limit schedules, delayed adds, metrics hooks and shutdown."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from flinkop.runtime.workqueue import (
    ItemExponentialBackoff,
    MaxOf,
    RateLimiter,
    ShutDown,
    TokenBucket,
    WorkQueue,
    default_rate_limiter,
)

T = TypeVar("T")


# A virtual clock: an event loop whose timers fire at once, in order, so tests of delays neither
# sleep nor flake.


class _VirtualTime:
    now = 0.0


class _JumpingSelector(selectors.DefaultSelector):
    """Never blocks: when nothing is ready, it moves the virtual clock to the next timer."""

    def __init__(self, clock: _VirtualTime) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        self._clock.now += timeout
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = _VirtualTime()
        super().__init__(_JumpingSelector(self._virtual))

    def time(self) -> float:
        return self._virtual.now


def run_virtual(main: Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


async def settle() -> None:
    """Let every task that can run do so, without moving the clock."""
    for _ in range(10):
        await asyncio.sleep(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingLimiter:
    """Passes through to a real limiter and remembers the last delay it gave."""

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner
        self.last: float | None = None

    def when(self, key: Hashable) -> float:
        self.last = self.inner.when(key)
        return self.last

    def forget(self, key: Hashable) -> None:
        self.inner.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return self.inner.num_requeues(key)


# The invariants, as a model-based state machine: hypothesis drives the adds, the gets of several
# workers, their `done`s, the clock and the shutdown; a small model says what must be queued.

WORKERS = 3
KEYS = st.sampled_from("abcd")
DELAYS = st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 3.0])  # multiples of 1/4: exact in floats
STEPS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 4.0])
BACKOFF_BASE, BACKOFF_CAP = 0.25, 2.0
SHUTDOWN_AFTER_STEPS = 15


class WorkQueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = VirtualTimeLoop()
        self.limiter = RecordingLimiter(
            MaxOf(
                ItemExponentialBackoff(BACKOFF_BASE, BACKOFF_CAP),
                TokenBucket(qps=4, burst=2, clock=self.loop.time),
            )
        )
        self.queue = WorkQueue[str](rate_limiter=self.limiter, clock=self.loop.time)
        self.getting: dict[int, asyncio.Task[str]] = {}  # worker -> its pending get
        self.drain: asyncio.Task[None] | None = None
        # The model.
        self.held: dict[int, str] = {}  # worker -> the key it processes
        self.dirty: set[str] = set()  # keys added since they were last handed out
        self.ready: list[str] = []  # dirty keys no worker holds, in the order they must come out
        self.delayed: dict[str, tuple[float, int]] = {}  # key -> (due, seq) of its pending delay
        self.seq = 0
        self.failures: dict[str, int] = {}
        self.shut = False
        self.steps = 0

    # Driving the loop and reading what the workers got.

    def run(self, seconds: float = 0.0, action: Callable[[], None] = lambda: None) -> None:
        """Do `action` on the loop (the queue's timer needs it), let `seconds` pass, settle."""

        async def step() -> None:
            action()
            await asyncio.sleep(seconds)
            await settle()

        self.loop.run_until_complete(step())
        self.steps += 1
        now = self.loop.time()
        fired = sorted((due, seq, key) for key, (due, seq) in self.delayed.items() if due <= now)
        for _, _, key in fired:  # in due order, ties in the order they were set
            del self.delayed[key]
            self.model_add(key)
        self.collect()

    def collect(self) -> None:
        got: list[tuple[int, str]] = []
        for worker, task in list(self.getting.items()):
            if not task.done():
                continue
            del self.getting[worker]
            error = task.exception()
            if error is not None:
                assert isinstance(error, ShutDown) and self.shut, error
            else:
                got.append((worker, task.result()))
        keys = [key for _, key in got]
        assert len(set(keys)) == len(keys), f"one key handed out twice at once: {keys}"
        assert set(keys) == set(self.ready[: len(keys)]), f"got {keys}, FIFO says {self.ready}"
        del self.ready[: len(keys)]
        for worker, key in got:
            assert key not in self.held.values(), f"{key} handed to a second worker"
            assert key in self.dirty, f"{key} handed out without an add since its last run"
            self.dirty.discard(key)
            self.held[worker] = key

    def model_add(self, key: str) -> None:
        if self.shut or key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.held.values():
            self.ready.append(key)

    def model_add_after(self, key: str, delay: float) -> None:
        if self.shut:
            return
        if delay <= 0:
            self.model_add(key)
            return
        due = self.loop.time() + delay
        if key in self.delayed and self.delayed[key][0] <= due:
            return
        self.seq += 1
        self.delayed[key] = (due, self.seq)

    def model_shutdown(self) -> None:
        self.shut = True
        self.dirty.clear()
        self.ready.clear()
        self.delayed.clear()

    def idle_workers(self) -> list[int]:
        return [w for w in range(WORKERS) if w not in self.held and w not in self.getting]

    # Rules.

    @precondition(lambda self: self.idle_workers())
    @rule()
    def get(self) -> None:
        worker = self.idle_workers()[0]
        self.getting[worker] = self.loop.create_task(self.queue.get())
        self.run()

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        worker = data.draw(st.sampled_from(sorted(self.held)))
        key = self.held.pop(worker)
        self.queue.done(key)
        if key in self.dirty:  # added while held: runs again now
            self.ready.append(key)
        self.run()

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.queue.add(key)
        self.model_add(key)
        self.run()

    @rule(key=KEYS, delay=DELAYS)
    def add_after(self, key: str, delay: float) -> None:
        self.model_add_after(key, delay)
        self.run(action=lambda: self.queue.add_after(key, delay))

    @rule(key=KEYS)
    def add_rate_limited(self, key: str) -> None:
        def act() -> None:
            self.limiter.last = None
            self.queue.add_rate_limited(key)
            delay = self.limiter.last
            if self.shut:
                assert delay is None, "a shut down queue must not count failures"
                return
            assert delay is not None
            failures = self.failures.get(key, 0)
            assert delay >= min(BACKOFF_CAP, BACKOFF_BASE * 2**failures)
            self.failures[key] = failures + 1
            assert self.queue.num_requeues(key) == failures + 1
            self.model_add_after(key, delay)  # due = the same loop.time() + delay as the queue's

        self.run(action=act)

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        self.queue.forget(key)
        self.failures[key] = 0
        assert self.queue.num_requeues(key) == 0

    @rule(seconds=STEPS)
    def advance(self, seconds: float) -> None:
        self.run(seconds)

    # Shutdown only after some work (hypothesis has no rule weights), and at most once.
    @precondition(lambda self: self.steps >= SHUTDOWN_AFTER_STEPS and not self.shut)
    @rule(drain=st.booleans())
    def shutdown(self, drain: bool) -> None:
        if drain:
            self.drain = self.loop.create_task(self.queue.shutdown_and_drain())
        else:
            self.queue.shutdown()
        self.model_shutdown()
        self.run()

    # Invariants, after every step.

    @invariant()
    def length_matches_the_model(self) -> None:
        assert self.queue.len() == len(self.ready)
        assert set(self.ready) == self.dirty - set(self.held.values())

    @invariant()
    def no_ready_key_while_a_worker_waits(self) -> None:
        if self.getting:
            assert not self.ready, f"lost wake-up: {self.ready} ready, workers waiting"

    @invariant()
    def shutdown_state(self) -> None:
        assert self.queue.shutting_down == self.shut
        if self.drain is not None:
            assert self.drain.done() == (not self.held), "drain must end exactly when no key is held"

    def teardown(self) -> None:
        try:
            if not self.shut:
                self.finish_everything()
        finally:
            for task in [*self.getting.values(), self.drain]:
                if task is not None:
                    task.cancel()
            self.loop.run_until_complete(settle())
            self.loop.close()

    def finish_everything(self) -> None:
        """No lost adds: with no new adds, the workers run every key added since its last run."""
        for _ in range(20):
            if not (self.held or self.dirty or self.delayed):
                break
            for worker, key in list(self.held.items()):
                del self.held[worker]
                self.queue.done(key)
                if key in self.dirty:
                    self.ready.append(key)
            for worker in self.idle_workers():
                self.getting[worker] = self.loop.create_task(self.queue.get())
            self.run()
            self.run(max([due for due, _ in self.delayed.values()], default=0.0) - self.loop.time())
        assert not self.dirty, f"keys added but never run afterwards: {self.dirty}"
        assert not self.delayed and not self.held
        assert self.queue.len() == 0


TestWorkQueueInvariants = WorkQueueMachine.TestCase
TestWorkQueueInvariants.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)


# The same invariants with autonomous workers: they get, work a while and call done, concurrently.

SCRIPT = st.lists(st.tuples(st.sampled_from([0.0, 0.25, 1.0]), KEYS, DELAYS), min_size=1, max_size=25)
WORK_TIMES = st.dictionaries(KEYS, st.sampled_from([0.0, 0.25, 0.5, 2.0]))


@settings(max_examples=100, deadline=None)
@given(script=SCRIPT, work_times=WORK_TIMES, workers=st.integers(1, 4))
def test_concurrent_workers_never_share_a_key_and_run_every_add(
    script: list[tuple[float, str, float]], work_times: dict[str, float], workers: int
) -> None:
    events = 0  # a logical clock: orders adds and gets that happen at the same virtual time
    last_add: dict[str, int] = {}
    last_start: dict[str, int] = {}
    running: set[str] = set()

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        nonlocal events
        queue = WorkQueue[str](clock=loop.time)

        async def worker() -> None:
            nonlocal events
            while True:
                try:
                    key = await queue.get()
                except ShutDown:
                    return
                assert key not in running, f"{key} processed by two workers at once"
                running.add(key)
                events += 1
                last_start[key] = events
                await asyncio.sleep(work_times.get(key, 0.0))
                running.discard(key)
                queue.done(key)

        tasks = [loop.create_task(worker()) for _ in range(workers)]
        for gap, key, delay in script:
            await asyncio.sleep(gap)
            events += 1
            last_add[key] = events
            queue.add_after(key, delay)
        await asyncio.sleep(1000.0)  # virtual: every delay fires and every worker finishes
        await queue.shutdown_and_drain()
        await asyncio.gather(*tasks)

    run_virtual(main)
    for key, added in last_add.items():
        assert last_start.get(key, 0) > added, f"{key} not processed after its last add"


# Plain scenarios of the guarantees.


async def test_a_key_added_while_in_flight_runs_again_after_done() -> None:
    queue = WorkQueue[str]()
    queue.add("ns/a")
    key = await queue.get()
    queue.add("ns/a")
    queue.add("ns/a")
    assert queue.len() == 0  # held: not handed to a second worker
    waiting = asyncio.create_task(queue.get())
    await settle()
    assert not waiting.done()
    queue.done(key)
    assert await asyncio.wait_for(waiting, 1.0) == "ns/a"
    assert queue.len() == 0  # the two adds in flight made one run


async def test_duplicate_adds_collapse_and_keys_come_out_in_order() -> None:
    queue = WorkQueue[str]()
    for key in ["b", "a", "b", "c", "a"]:
        queue.add(key)
    assert queue.len() == 3
    assert [await queue.get() for _ in range(3)] == ["b", "a", "c"]


async def test_done_without_get_is_an_error() -> None:
    queue = WorkQueue[str]()
    queue.add("a")
    with pytest.raises(ValueError, match="no worker holds"):
        queue.done("a")


async def test_a_cancelled_getter_does_not_swallow_its_key() -> None:
    queue = WorkQueue[str]()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await settle()
    queue.add("a")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1.0) == "a"
    assert first.cancelled()


# Backoff and rate-limit schedules.


def test_item_backoff_doubles_per_failure_up_to_the_cap() -> None:
    backoff = ItemExponentialBackoff(base=0.005, cap=1.0)
    delays = [backoff.when("a") for _ in range(10)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    assert backoff.num_requeues("a") == 10
    assert backoff.when("b") == 0.005  # per key
    backoff.forget("a")
    assert backoff.num_requeues("a") == 0
    assert backoff.when("a") == 0.005


def test_item_backoff_survives_failure_counts_beyond_the_float_range() -> None:
    backoff = ItemExponentialBackoff(base=0.005, cap=1000.0)
    assert [backoff.when("a") for _ in range(1100)][-1] == 1000.0


@given(
    base=st.floats(1e-4, 10.0),
    cap=st.floats(10.0, 1e4),
    failures=st.lists(st.sampled_from("abc"), max_size=60),
    forgotten=st.sampled_from("abc"),
)
def test_item_backoff_schedule(base: float, cap: float, failures: list[str], forgotten: str) -> None:
    backoff = ItemExponentialBackoff(base, cap)
    counts: dict[str, int] = {}
    for key in failures:
        n = counts.get(key, 0)
        assert backoff.when(key) == min(cap, base * 2**n)
        counts[key] = n + 1
        assert backoff.num_requeues(key) == n + 1
    backoff.forget(forgotten)
    assert backoff.num_requeues(forgotten) == 0
    assert backoff.when(forgotten) == base


def test_token_bucket_passes_a_burst_then_spaces_by_one_over_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=2, burst=3, clock=clock)
    assert [bucket.when("any") for _ in range(6)] == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]
    clock.advance(1.0)  # two tokens back; the bucket still owes one
    assert bucket.when("any") == 1.0
    clock.advance(100.0)  # refills, but never beyond the burst
    assert [bucket.when("any") for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert bucket.num_requeues("any") == 0


@given(
    qps=st.floats(0.1, 1000.0),
    burst=st.integers(1, 50),
    extra=st.integers(0, 50),
    idle=st.floats(0.0, 100.0),
)
def test_token_bucket_schedule(qps: float, burst: int, extra: int, idle: float) -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=qps, burst=burst, clock=clock)
    clock.advance(idle)  # idling never fills more than the burst
    delays = [bucket.when(i) for i in range(burst + extra)]
    assert delays[:burst] == [0.0] * burst
    assert delays[burst:] == pytest.approx([(i + 1) / qps for i in range(extra)])
    # Callers who wait out their delays pass at most `burst + qps * T` in any window of length T.
    grants = sorted(clock.now + d for d in delays)
    for i, first in enumerate(grants):
        for j in range(i, len(grants)):
            assert j - i + 1 <= burst + (grants[j] - first) * qps + 1e-6


def test_default_limiter_is_the_larger_of_item_backoff_and_overall_bucket() -> None:
    clock = FakeClock()
    limiter = default_rate_limiter(clock)
    delays = [limiter.when(f"ns/{i}") for i in range(101)]  # 101 distinct first failures at once
    assert delays[:100] == [0.005] * 100  # the item backoff
    assert delays[100] == pytest.approx(0.1)  # the bucket (10 qps, burst 100) is now stricter
    assert limiter.num_requeues("ns/0") == 1
    limiter.forget("ns/0")
    assert limiter.num_requeues("ns/0") == 0


@given(calls=st.lists(st.tuples(st.sampled_from("ab"), st.booleans(), st.sampled_from([0.0, 0.1, 1.0]))))
def test_max_of_takes_the_larger_delay_and_forgets_everywhere(calls: list[tuple[str, bool, float]]) -> None:
    def parts(clock: FakeClock) -> tuple[ItemExponentialBackoff, TokenBucket]:
        return ItemExponentialBackoff(0.01, 5.0), TokenBucket(qps=5, burst=2, clock=clock)

    clock = FakeClock()
    backoff, bucket = parts(clock)
    combined = MaxOf(*parts(clock))
    for key, forget, step in calls:
        clock.advance(step)
        if forget:
            combined.forget(key)
            backoff.forget(key)
        else:
            assert combined.when(key) == max(backoff.when(key), bucket.when(key))
        assert combined.num_requeues(key) == backoff.num_requeues(key)


def test_failures_back_off_through_the_queue() -> None:
    base, cap = 0.5, 3.0

    async def main(loop: asyncio.AbstractEventLoop) -> list[float]:
        queue = WorkQueue[str](rate_limiter=ItemExponentialBackoff(base, cap), clock=loop.time)
        queue.add("a")
        waits: list[float] = []
        for _ in range(5):  # fail five times
            key = await queue.get()
            failed_at = loop.time()
            queue.add_rate_limited(key)
            queue.done(key)
            await queue.get()
            waits.append(loop.time() - failed_at)
            queue.done(key)
            queue.add(key)
        assert queue.num_requeues("a") == 5
        queue.forget("a")  # a success resets the backoff
        key = await queue.get()
        failed_at = loop.time()
        queue.add_rate_limited(key)
        queue.done(key)
        await queue.get()
        waits.append(loop.time() - failed_at)
        return waits

    assert run_virtual(main) == [0.5, 1.0, 2.0, 3.0, 3.0, 0.5]


# Delayed adds.


def test_delayed_adds_fire_in_due_order_and_not_before_their_time() -> None:
    async def main(loop: asyncio.AbstractEventLoop) -> list[tuple[str, float]]:
        queue = WorkQueue[str]()
        for key, delay in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("now", 0.0)]:
            queue.add_after(key, delay)
        got = []
        for _ in range(4):
            key = await queue.get()
            got.append((key, loop.time()))
            queue.done(key)
        return got

    assert run_virtual(main) == [("now", 0.0), ("a", 1.0), ("b", 2.0), ("c", 3.0)]


@pytest.mark.parametrize("delays", [(5.0, 1.0), (1.0, 5.0)])
def test_the_earliest_pending_delay_of_a_key_wins(delays: tuple[float, float]) -> None:
    async def main(loop: asyncio.AbstractEventLoop) -> tuple[float, int]:
        queue = WorkQueue[str]()
        for delay in delays:
            queue.add_after("a", delay)
        await queue.get()
        ready_at = loop.time()
        queue.done("a")
        await asyncio.sleep(10.0)
        return ready_at, queue.len()

    assert run_virtual(main) == (1.0, 0)  # ready at 1 s, and the later delay is gone


def test_delayed_adds_share_one_timer() -> None:
    async def main(loop: asyncio.AbstractEventLoop) -> None:
        queue = WorkQueue[int]()
        tasks_before = len(asyncio.all_tasks())
        for i in range(100):
            queue.add_after(i, 1.0 + i % 7)
        assert len(asyncio.all_tasks()) == tasks_before
        assert queue.len() == 0
        await asyncio.sleep(7.0)
        assert queue.len() == 100

    run_virtual(main)


async def test_delayed_add_on_the_real_clock() -> None:
    loop = asyncio.get_running_loop()
    queue = WorkQueue[str]()
    start = loop.time()
    queue.add_after("later", 0.05)
    queue.add_after("sooner", 0.02)
    assert await asyncio.wait_for(queue.get(), 5.0) == "sooner"
    assert await asyncio.wait_for(queue.get(), 5.0) == "later"
    assert loop.time() - start >= 0.05 - 0.001  # asyncio may fire a timer a clock tick early


# Metrics hooks.


class RecordingMetrics:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_add(self, key: Hashable) -> None:
        self.events.append(("add", key))

    def on_get(self, key: Hashable, queued_for_seconds: float) -> None:
        self.events.append(("get", key, queued_for_seconds))

    def on_done(self, key: Hashable, processing_seconds: float) -> None:
        self.events.append(("done", key, processing_seconds))

    def on_retry(self, key: Hashable) -> None:
        self.events.append(("retry", key))

    def depth(self, n: int) -> None:
        self.events.append(("depth", n))


def test_metrics_hooks_see_adds_latencies_retries_and_depth() -> None:
    metrics = RecordingMetrics()

    async def main(loop: asyncio.AbstractEventLoop) -> None:
        queue = WorkQueue[str](
            rate_limiter=ItemExponentialBackoff(1.0, 10.0), metrics=metrics, clock=loop.time
        )
        queue.add("a")
        queue.add("a")  # collapses: not reported
        await asyncio.sleep(2.0)
        await queue.get()
        queue.add("a")  # while held
        await asyncio.sleep(3.0)
        queue.done("a")  # queued again
        await queue.get()
        queue.add_rate_limited("a")
        queue.done("a")
        await asyncio.sleep(1.0)  # the backoff fires
        queue.shutdown()

    run_virtual(main)
    assert metrics.events == [
        ("add", "a"),
        ("depth", 1),
        ("get", "a", 2.0),
        ("depth", 0),
        ("add", "a"),
        ("done", "a", 3.0),
        ("depth", 1),
        ("get", "a", 3.0),
        ("depth", 0),
        ("retry", "a"),
        ("done", "a", 0.0),
        ("add", "a"),
        ("depth", 1),
        ("depth", 0),
    ]


# Shutdown.


async def test_shutdown_wakes_waiting_getters() -> None:
    queue = WorkQueue[str]()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()
    queue.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), 1.0)
    assert all(isinstance(r, ShutDown) for r in results)
    assert queue.shutting_down


async def test_after_shutdown_adds_are_ignored_and_queued_keys_dropped() -> None:
    queue = WorkQueue[str]()
    queue.add("queued")
    queue.add_after("delayed", 0.01)
    queue.shutdown()
    queue.add("late")
    queue.add_rate_limited("late")
    assert queue.len() == 0
    assert queue.num_requeues("late") == 0
    await asyncio.sleep(0.02)
    with pytest.raises(ShutDown):
        await queue.get()


async def test_drain_waits_for_keys_in_flight() -> None:
    queue = WorkQueue[str]()
    queue.add("a")
    queue.add("b")
    a, b = await queue.get(), await queue.get()
    queue.add("a")  # added while held: dropped by the shutdown, not run again
    drain = asyncio.create_task(queue.shutdown_and_drain())
    await settle()
    assert not drain.done()
    queue.done(a)
    await settle()
    assert not drain.done()
    queue.done(b)
    await asyncio.wait_for(drain, 1.0)
    assert queue.len() == 0
    with pytest.raises(ShutDown):
        await queue.get()


async def test_drain_with_nothing_in_flight_returns_at_once() -> None:
    queue = WorkQueue[str]()
    queue.add("never-got")
    await asyncio.wait_for(queue.shutdown_and_drain(), 1.0)
    await asyncio.wait_for(queue.shutdown_and_drain(), 1.0)  # again: harmless
