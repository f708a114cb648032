"""Keep CPython's stop-the-world garbage collections short in a process that caches many objects.

Why: an informer cache holds every watched object as parsed JSON, some dozens of dicts and lists
per custom resource. CPython's cyclic collector is generational, and a full (generation 2)
collection walks *every* tracked container in the process. With 5000 cached FlinkDeployments that
is several hundred thousand containers and a 50-150 ms pause of the event loop, during which no
watch event is read and no reconcile runs: a latency tail that has nothing to do with the work.

What: `gc.freeze()` moves every object the collector tracks into a "permanent generation" that
later collections skip. Freezing once the caches have synced, and again every `interval` seconds
(so that the objects which arrived since leave the scanned generations too), bounds every
collection by what was allocated since the last freeze.

Why this loses nothing for the cache: cached objects are JSON (dicts, lists, str, int, ...). They
hold no reference cycles, so they never needed the cyclic collector: reference counting frees an
object the moment the cache replaces or drops it, frozen or not. What freezing can lose is *cyclic*
garbage present at the moment of a freeze: it would never be collected. So each periodic freeze
first runs a full collection (`collect_generation=2`, the default) -- which only walks the objects
that are not frozen yet, i.e. what survived since the last freeze, so it stays short when the
interval is short (about 1-3 ms every second for an operator taking 200 updates/s over 5000 cached
objects; about 10 ms at a 5 s interval). `collect_generation=1` collects only the young
generations (shorter still, but cyclic garbage that reached generation 2 since the last freeze is
frozen for good); `stats().collected` shows how much garbage the collections find.

Start-up: `hold_collections()` turns the collector off while the caches fill. Listing 5000 objects
allocates a few hundred thousand containers, and the collector would walk the growing heap again
and again (three gen-2 collections of 15-60 ms each in that case); the first freeze in
`start_gc_tuning` then re-enables it. That first freeze collects nothing (with the collector held,
generation 0 holds the whole heap, and collecting it would be the very pause this avoids), so any
cyclic garbage made during start-up is frozen for good: a one-time, bounded cost, the same trade the
CPython documentation recommends for `gc.freeze()` before forking workers.

Known cost: `gc.get_freeze_count()` walks the permanent generation object by object (tens of ms for
a few hundred thousand objects): `stats()` calls it only when asked to.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from dataclasses import dataclass, field

DEFAULT_INTERVAL = 1.0
DEFAULT_COLLECT_GENERATION = 2


def _thresholds() -> tuple[int, int, int]:
    t0, t1, t2 = gc.get_threshold()
    return t0, t1, t2


@dataclass
class GcTuneStats:
    """Counters of the freezes done by this module (process-wide)."""

    freezes: int = 0
    collected: int = 0  # unreachable objects found by the collections run before freezing
    frozen: int = 0  # objects in the permanent generation (counted when `stats()` is asked to)
    last_pause_s: float = 0.0  # collection + freeze, the last time
    max_pause_s: float = 0.0
    held: bool = False  # the collector is off until the first freeze (`hold_collections`)
    thresholds: tuple[int, int, int] = field(default_factory=_thresholds)


_stats = GcTuneStats()


def stats(*, count_frozen: bool = False) -> GcTuneStats:
    """A copy of the counters; `count_frozen` also counts the permanent generation (slow, see above)."""
    return GcTuneStats(
        _stats.freezes,
        _stats.collected,
        gc.get_freeze_count() if count_frozen else 0,
        _stats.last_pause_s,
        _stats.max_pause_s,
        _stats.held,
        _thresholds(),
    )


def hold_collections() -> None:
    """Turn the cyclic collector off until `start_gc_tuning` (call it first thing at start-up)."""
    gc.disable()
    _stats.held = True


def freeze_now(collect_generation: int | None = DEFAULT_COLLECT_GENERATION) -> float:
    """Collect generations 0..`collect_generation` (None: no collection), then freeze every tracked
    object. Returns the pause in seconds (the freeze itself is O(1))."""
    started = time.perf_counter()
    if collect_generation is not None:
        _stats.collected += gc.collect(min(max(collect_generation, 0), 2))
    gc.freeze()
    pause = time.perf_counter() - started
    _stats.freezes += 1
    _stats.last_pause_s = pause
    _stats.max_pause_s = max(_stats.max_pause_s, pause)
    return pause


def set_thresholds(
    gen0: int | None = None, gen1: int | None = None, gen2: int | None = None
) -> tuple[int, int, int]:
    """Change some of the collector's thresholds (None keeps one); returns the new ones."""
    t0, t1, t2 = gc.get_threshold()
    gc.set_threshold(t0 if gen0 is None else gen0, t1 if gen1 is None else gen1, t2 if gen2 is None else gen2)
    return _thresholds()


async def _freeze_periodically(interval: float, collect_generation: int | None) -> None:
    while True:
        await asyncio.sleep(interval)
        freeze_now(collect_generation)


def start_gc_tuning(
    interval: float = DEFAULT_INTERVAL,
    *,
    collect_generation: int | None = DEFAULT_COLLECT_GENERATION,
    thresholds: tuple[int | None, int | None, int | None] | None = None,
) -> asyncio.Task[None]:
    """Freeze now and then every `interval` seconds on the running loop (see the module docstring).

    Call it once the long-lived data is in place: right after the caches synced (`Manager.start()`
    returned). If `hold_collections()` was called, this first freeze collects nothing and turns the
    collector back on. Cancel the task, or `await stop_gc_tuning(task)`, to stop freezing.
    """
    if interval <= 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    if thresholds is not None:
        set_thresholds(*thresholds)
    if _stats.held:
        freeze_now(None)
        _stats.held = False
        gc.enable()
    else:
        freeze_now(collect_generation)
    return asyncio.get_running_loop().create_task(
        _freeze_periodically(interval, collect_generation), name="gc-freeze"
    )


async def stop_gc_tuning(task: asyncio.Task[None], *, unfreeze: bool = False) -> None:
    """Stop the periodic freezing; with `unfreeze`, hand the permanent generation back to the collector."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if unfreeze:
        gc.unfreeze()


__all__ = [
    "DEFAULT_COLLECT_GENERATION",
    "DEFAULT_INTERVAL",
    "GcTuneStats",
    "freeze_now",
    "hold_collections",
    "set_thresholds",
    "start_gc_tuning",
    "stats",
    "stop_gc_tuning",
]
