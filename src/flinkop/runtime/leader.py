"""Leader election over a coordination.k8s.io/v1 Lease, with fencing (client-go's tools/leaderelection
with a leaselock).

Every replica runs a `LeaderElector` campaigning for the same Lease (`flink-operator-lease`, holder =
pod name). The timings keep client-go's invariant `lease_duration > renew_deadline > 1.2 * retry_period`:

* A candidate takes a lease over from another holder only when the lease record has not changed for
  `lease_duration` by the candidate's *own monotonic clock*, counted from when it first saw the current
  record (client-go's observedTime). The timestamps in the record are written for people and tools and
  never trusted for expiry, so clock skew between machines cannot make two leaders.
* The leader renews every `retry_period`. When no renewal has succeeded for `renew_deadline` since the
  last successful one (timed from when that request was *sent*, before the server could commit it), the
  leader fences itself: `is_leader` turns False and `on_stopped_leading` is awaited, which must stop every
  controller. Nobody can take over before `lease_duration` after our last successful write, so the
  callback has `lease_duration - renew_deadline` to finish (an overrun is logged as an error).
* `release()` on graceful shutdown stops leading first, then clears the holder (client-go's
  ReleaseOnCancel: empty holderIdentity, leaseDurationSeconds=1) so a standby takes over at its next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from flinkop.runtime.client import ApiError, Conflict, NotFound
from flinkop.runtime.kube import Kube, Resource

JSON = dict[str, Any]
Callback = Callable[[], Awaitable[None]]

LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")
LEASE_NAME = "flink-operator-lease"
JITTER_FACTOR = 1.2  # client-go: RenewDeadline must exceed JitterFactor * RetryPeriod

log = structlog.get_logger("flinkop.runtime.leader")


def micro_time(moment: datetime | None = None) -> str:
    """A metav1.MicroTime: RFC 3339 in UTC with microseconds, `2026-11-26T00:00:00.000000Z`."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str) -> datetime:
    """A MicroTime (or a seconds-precision metav1.Time) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class LeaderElectionRecord:
    """The election fields of a Lease's spec (client-go's resourcelock.LeaderElectionRecord)."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: JSON) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> JSON:
        spec: JSON = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


class LeaderElector:
    """Campaigns for one Lease; runs `on_started_leading` when it wins and `on_stopped_leading` when it
    loses, is stopped or is cancelled.

    `on_started_leading` runs concurrently with the renewals (it may wait for caches to sync); it is
    cancelled if leadership ends before it returns. If it raises, the elector steps down and releases the
    lease so that a healthy replica can lead, then campaigns again.
    `on_stopped_leading` must return only when the controllers have stopped acting.
    """

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        lease_name: str = LEASE_NAME,
        *,
        identity: str,
        on_started_leading: Callback,
        on_stopped_leading: Callback,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not identity:
            raise ValueError("leader election identity must not be empty")
        if retry_period <= 0:
            raise ValueError(f"retry_period must be positive, got {retry_period}")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError(
                f"renew_deadline ({renew_deadline}) must be greater than "
                f"{JITTER_FACTOR} * retry_period ({retry_period})"
            )
        if lease_duration <= renew_deadline:
            raise ValueError(
                f"lease_duration ({lease_duration}) must be greater than renew_deadline ({renew_deadline})"
            )
        self.kube = kube
        self.namespace = namespace
        self.lease_name = lease_name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self._clock = clock
        # leaseDurationSeconds is an integer; round up so nobody reading it waits less than we mean.
        self._duration_seconds = max(1, math.ceil(lease_duration))

        self._observed: LeaderElectionRecord | None = None
        self._observed_time = 0.0
        self._lease: JSON | None = None  # the last lease object we wrote (its resourceVersion)
        self._leading = False
        self._last_renew = 0.0
        self._usurped = False
        self._start_failed = False
        self._start_task: asyncio.Task[None] | None = None
        self._stop_requested = False
        self._release_requested = False
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._running = False
        self.log = log.bind(lease=f"{namespace}/{lease_name}", identity=identity)

    # -- public ------------------------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True from just before `on_started_leading` until just before `on_stopped_leading`."""
        return self._leading

    @property
    def running(self) -> bool:
        """True while `run()` campaigns or leads (a healthy standby campaigns)."""
        return self._running

    @property
    def leader(self) -> str:
        """The holder of the lease as last observed ("" when none or unknown)."""
        return self._observed.holder_identity if self._observed else ""

    async def run(self) -> None:
        """Campaign, lead, fence on lost renewals, campaign again; until `stop()` or `release()`.

        Cancelling the task that runs this stops leading (awaits `on_stopped_leading`) but does not
        release the lease: the others take over once it expires, as after a crash.
        """
        if self._running:
            raise RuntimeError("LeaderElector.run() is already running")
        self._running = True
        self._done.clear()
        try:
            while not self._stop_requested:
                if not await self._acquire():
                    break
                await self._lead()
            if self._release_requested:
                await self._release_lease()
        finally:
            if self._leading:  # cancelled while leading
                await self._step_down("cancelled")
            self._running = False
            self._stop_requested = self._release_requested = False
            self._wake.clear()
            self._done.set()

    def stop(self) -> None:
        """Ask `run()` to stop leading (awaiting `on_stopped_leading`) and return, keeping the lease:
        the others wait for it to expire. Use `release()` for a quick hand-over."""
        self._stop_requested = True
        self._wake.set()

    async def release(self) -> None:
        """Graceful shutdown: stop leading (the controllers stop first), then clear the lease's holder so a
        standby takes over at once; returns when `run()` has finished."""
        if self._running:
            self._release_requested = True
            self.stop()
            await self._done.wait()
        else:
            await self._release_lease()

    # -- campaign and lead ---------------------------------------------------------------------------------
    async def _acquire(self) -> bool:
        """Try every retry_period (with a little jitter) until we hold the lease; False when stopped."""
        while not self._stop_requested:
            sent = self._clock()
            if await self._attempt(self.renew_deadline):
                self._last_renew = sent
                return True
            if await self._wait(self.retry_period * (1.0 + random.random() * (JITTER_FACTOR - 1.0))):
                return False
        return False

    async def _lead(self) -> None:
        self._leading = True
        self._usurped = self._start_failed = False
        record = self._observed or LeaderElectionRecord()
        self.log.info(
            "leader lease acquired",
            transitions=record.lease_transitions,
            lease_duration=self.lease_duration,
            renew_deadline=self.renew_deadline,
        )
        self._start_task = asyncio.create_task(self._start(), name=f"leader-start-{self.identity}")
        reason = await self._renew_loop()
        await self._step_down(reason)
        if self._start_failed and not self._stop_requested:
            self._wake.clear()
            await self._release_lease()
            await self._wait(self.retry_period)

    async def _start(self) -> None:
        try:
            await self.on_started_leading()
        except Exception:
            self.log.exception("on_started_leading failed; stepping down")
            self._start_failed = True
            self._wake.set()

    async def _renew_loop(self) -> str:
        """Renew every retry_period; returns why leadership ends."""
        while True:
            if await self._wait(self.retry_period):
                return "start failed" if self._start_failed and not self._stop_requested else "stopped"
            while True:
                deadline = self._last_renew + self.renew_deadline
                sent = self._clock()
                if sent >= deadline:
                    return "renew deadline passed"
                if await self._attempt(deadline - sent):
                    self._last_renew = sent
                    break
                if self._usurped:
                    return "lease taken by another holder"
                remaining = deadline - self._clock()
                if remaining > 0 and await self._wait(min(self.retry_period, remaining)):
                    return "start failed" if self._start_failed and not self._stop_requested else "stopped"

    async def _step_down(self, reason: str) -> None:
        """Fencing: not leader any more, then wait for the controllers to stop."""
        if not self._leading:
            return
        self._leading = False
        task, self._start_task = self._start_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # unlike `await task`, never swallows our own cancellation
        if reason in ("stopped", "cancelled"):
            self.log.info("stepping down, stopping controllers", reason=reason)
        else:
            self.log.warning("leader lease lost, stopping controllers", reason=reason)
        try:
            await self.on_stopped_leading()
        except Exception:
            self.log.exception("on_stopped_leading failed")
        overrun = self._clock() - (self._last_renew + self.lease_duration)
        if overrun > 0:
            self.log.error(
                "controllers stopped after the lease could have expired: another leader may have acted",
                overrun=round(overrun, 3),
            )
        else:
            self.log.info("controllers stopped", margin=round(-overrun, 3))

    async def _wait(self, delay: float) -> bool:
        """Sleep up to `delay`; True when woken by stop/release or a failed start."""
        if not self._wake.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, delay)):
                    await self._wake.wait()
        return self._wake.is_set()

    # -- one attempt ---------------------------------------------------------------------------------------
    async def _attempt(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                return await self._try_acquire_or_renew()
        except TimeoutError:
            self.log.debug("lease request timed out", timeout=round(timeout, 3))
            return False

    async def _try_acquire_or_renew(self) -> bool:
        now = self._clock()
        wall = micro_time()
        if self._leading and self._lease is not None:
            # Fast path (client-go too): renew over the lease we last wrote, without reading it first.
            renewed = self._record(wall, LeaderElectionRecord.from_lease(self._lease), keep=True)
            try:
                return self._wrote(await self.kube.replace(LEASES, _with_spec(self._lease, renewed)), now)
            except ApiError as exc:
                self.log.debug("lease renewal failed, reading the lease", error=str(exc))
        try:
            lease = await self.kube.get(LEASES, self.lease_name, self.namespace)
        except NotFound:
            return await self._create(wall, now)
        except ApiError as exc:
            self.log.debug("reading the lease failed", error=str(exc))
            return False

        record = LeaderElectionRecord.from_lease(lease)
        if record != self._observed:
            if record.holder_identity != self.leader and record.holder_identity not in ("", self.identity):
                self.log.info("leader observed", holder=record.holder_identity)
            self._observed, self._observed_time = record, now
        holder = record.holder_identity
        if holder and holder != self.identity:
            if self._leading:
                self._usurped = True
                return False
            expiry = max(self.lease_duration, float(record.lease_duration_seconds))
            if now < self._observed_time + expiry:
                return False  # held by another, not expired by our own clock
        new = self._record(wall, record, keep=holder == self.identity)
        try:
            updated = await self.kube.replace(LEASES, _with_spec(lease, new))
        except Conflict:
            return False  # someone else wrote first; look again next time
        except ApiError as exc:
            self.log.debug("updating the lease failed", error=str(exc))
            return False
        return self._wrote(updated, now)

    async def _create(self, wall: str, now: float) -> bool:
        lease = {
            "apiVersion": LEASES.api_version,
            "kind": "Lease",
            "metadata": {"name": self.lease_name, "namespace": self.namespace},
            "spec": LeaderElectionRecord(self.identity, self._duration_seconds, wall, wall, 0).to_spec(),
        }
        try:
            created = await self.kube.create(LEASES, lease, self.namespace)
        except ApiError as exc:  # Conflict: another candidate created it first
            self.log.debug("creating the lease failed", error=str(exc))
            return False
        return self._wrote(created, now)

    def _record(self, wall: str, old: LeaderElectionRecord, *, keep: bool) -> LeaderElectionRecord:
        """Our record: a renewal keeps acquireTime and the transition count; a takeover bumps the count."""
        return LeaderElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=self._duration_seconds,
            acquire_time=(old.acquire_time or wall) if keep else wall,
            renew_time=wall,
            lease_transitions=old.lease_transitions if keep else old.lease_transitions + 1,
        )

    def _wrote(self, lease: JSON, now: float) -> bool:
        self._lease = lease
        self._observed, self._observed_time = LeaderElectionRecord.from_lease(lease), now
        return True

    # -- release -------------------------------------------------------------------------------------------
    async def _release_lease(self) -> None:
        """Clear the holder if the lease still names us (client-go's release())."""
        lease = self._lease
        self._lease = None
        if lease is None:
            return
        try:
            async with asyncio.timeout(self.renew_deadline):
                for _ in range(2):
                    old = LeaderElectionRecord.from_lease(lease)
                    if old.holder_identity != self.identity:
                        return
                    wall = micro_time()
                    released = LeaderElectionRecord("", 1, wall, wall, old.lease_transitions)
                    try:
                        written = await self.kube.replace(LEASES, _with_spec(lease, released))
                        self._wrote(written, self._clock())
                        self._lease = None
                        self.log.info("leader lease released")
                        return
                    except Conflict:
                        lease = await self.kube.get(LEASES, self.lease_name, self.namespace)
        except (ApiError, TimeoutError) as exc:
            self.log.warning("releasing the leader lease failed; it will expire", error=str(exc))


def _with_spec(lease: JSON, record: LeaderElectionRecord) -> JSON:
    """The lease object (metadata with its resourceVersion as precondition) with the record as spec."""
    spec = {**(lease.get("spec") or {}), **record.to_spec()}
    return {**lease, "spec": spec}


__all__ = ["LEASES", "LEASE_NAME", "LeaderElectionRecord", "LeaderElector", "micro_time", "parse_micro_time"]
