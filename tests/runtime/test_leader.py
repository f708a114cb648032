"""Lease leader election over real HTTP against the sandbox API server: one leader at a time, takeover
after a crash, quick hand-over on release, and fencing when the leader loses the API server."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from kubernetes_asyncio import client, config

from flinkop.runtime.kube import Kube
from flinkop.runtime.leader import LEASE_NAME, LEASES, LeaderElector, micro_time, parse_micro_time
from flinkop.sandbox.apiserver.server import SandboxApiServer

# Short timings with client-go's proportions: lease > renew deadline > 1.2 * retry.
LEASE, RENEW, RETRY = 2.0, 1.0, 0.2
NS = "default"
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Acting:
    """How many fake controllers act at once, across all electors."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


class FakeController:
    """Started by on_started_leading, stopped by on_stopped_leading: a loop that counts as acting while it
    runs, and takes `drain` seconds to stop (finishing in-flight reconciles)."""

    def __init__(self, acting: Acting, drain: float = 0.0) -> None:
        self.acting = acting
        self.drain = drain
        self.task: asyncio.Task[None] | None = None
        self.started_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.starts = 0
        self.stops = 0
        self.ticks = 0
        self.after_stop: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        self.starts += 1
        self.started_at = datetime.now(UTC)
        self.task = asyncio.create_task(self._act())

    async def _act(self) -> None:
        self.acting.now += 1
        self.acting.most = max(self.acting.most, self.acting.now)
        try:
            while True:  # one "reconcile" every 10 ms, each checking who else acts
                self.ticks += 1
                self.acting.most = max(self.acting.most, self.acting.now)
                await asyncio.sleep(0.01)
        finally:
            self.acting.now -= 1

    async def stop(self) -> None:
        self.stops += 1
        await asyncio.sleep(self.drain)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        self.stopped_at = datetime.now(UTC)
        if self.after_stop is not None:
            await self.after_stop()


def elector(kube: Kube, identity: str, controller: FakeController, **kwargs: Any) -> LeaderElector:
    timings: dict[str, Any] = {"lease_duration": LEASE, "renew_deadline": RENEW, "retry_period": RETRY}
    return LeaderElector(
        kube,
        NS,
        identity=identity,
        on_started_leading=controller.start,
        on_stopped_leading=controller.stop,
        **(timings | kwargs),
    )


class Sampler:
    """Every 10 ms: never two leaders, never two controllers acting."""

    def __init__(self, electors: list[LeaderElector], acting: Acting) -> None:
        self.electors = electors
        self.acting = acting
        self.samples = 0
        self.violations: list[str] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            leaders = [e.identity for e in self.electors if e.is_leader]
            if len(leaders) > 1:
                self.violations.append(f"two leaders: {leaders}")
            if self.acting.now > 1:
                self.violations.append(f"{self.acting.now} controllers acting")
            self.samples += 1
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until `check()` holds (fails the test after `timeout`)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not check():
        assert loop.time() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.01)
    return loop.time() - started


async def read_lease(kube: Kube) -> dict[str, Any]:
    return await kube.get(LEASES, LEASE_NAME, NS)


@contextlib.asynccontextmanager
async def running(*electors: LeaderElector) -> AsyncIterator[dict[str, asyncio.Task[None]]]:
    tasks = {e.identity: asyncio.create_task(e.run()) for e in electors}
    try:
        yield tasks
    finally:
        for task in tasks.values():
            task.cancel()
        for task in tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task


# -- a TCP proxy in front of the API server that the test can cut --------------------------------------------
class Proxy:
    """Forwards TCP to the API server. `cut("drop")` closes every connection and refuses new ones (a
    crashed network path); `cut("blackhole")` swallows all bytes so requests hang (a partition)."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.mode: Literal["pass", "drop", "blackhole"] = "pass"
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def cut(self, mode: Literal["drop", "blackhole"]) -> None:
        self.mode = mode
        if mode == "drop":
            for writer in list(self.writers):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.mode == "drop":
                return
            if self.mode == "pass":
                up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
                self.writers.add(upstream)
                await asyncio.gather(self._pump(reader, upstream), self._pump(up_reader, writer))
            else:
                await self._pump(reader, None)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self.writers.discard(w)
                    w.close()
            self.tasks.discard(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter | None) -> None:
        try:
            while data := await source.read(65536):
                if self.mode == "drop":
                    break
                if self.mode == "blackhole" or sink is None:
                    continue
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            if sink is not None:
                sink.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.close()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


# -- tests ---------------------------------------------------------------------------------------------------
async def test_durations_must_keep_client_go_proportions(api: client.ApiClient) -> None:
    async def noop() -> None:
        return None

    def make(**kwargs: Any) -> LeaderElector:
        params: dict[str, Any] = {"identity": "a", "on_started_leading": noop, "on_stopped_leading": noop}
        return LeaderElector(Kube(api), NS, **(params | kwargs))

    make()  # the defaults: 15 s / 10 s / 2 s
    make(lease_duration=LEASE, renew_deadline=RENEW, retry_period=RETRY)
    for bad in (
        {"lease_duration": 10.0, "renew_deadline": 10.0},  # lease must exceed the renew deadline
        {"lease_duration": 5.0, "renew_deadline": 10.0},
        {"renew_deadline": 2.4, "retry_period": 2.0},  # renew deadline must exceed 1.2 * retry
        {"retry_period": 0.0},
        {"retry_period": -1.0},
        {"identity": ""},
    ):
        with pytest.raises(ValueError):
            make(**bad)


async def test_exactly_one_leads_and_a_killed_leader_is_replaced_once_the_lease_expires(
    api: client.ApiClient,
) -> None:
    kube = Kube(api)
    acting = Acting()
    controllers = {"a": FakeController(acting), "b": FakeController(acting)}
    electors = [elector(kube, name, controller) for name, controller in controllers.items()]
    sampler = Sampler(electors, acting)
    async with running(*electors) as tasks:
        await wait_for(lambda: any(e.is_leader for e in electors))
        await asyncio.sleep(1.5)  # steady state: many renewals
        leaders = [e for e in electors if e.is_leader]
        assert len(leaders) == 1
        leader = leaders[0]
        standby = next(e for e in electors if e is not leader)
        assert controllers[leader.identity].starts == 1 and controllers[standby.identity].starts == 0
        spec = (await read_lease(kube))["spec"]
        assert spec["holderIdentity"] == leader.identity
        assert spec["leaseDurationSeconds"] == 2
        assert spec["leaseTransitions"] == 0
        assert MICRO_TIME.match(spec["acquireTime"]) and MICRO_TIME.match(spec["renewTime"])
        assert standby.leader == leader.identity

        # Crash the leader: no release, the lease keeps its name until it expires.
        tasks[leader.identity].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[leader.identity]
        assert not leader.is_leader and controllers[leader.identity].stops == 1
        assert (await read_lease(kube))["spec"]["holderIdentity"] == leader.identity
        took = await wait_for(lambda: standby.is_leader)

    await sampler.close()
    assert sampler.samples > 100
    assert sampler.violations == []
    assert acting.most == 1
    # Not before the lease (as last renewed, at most a retry period before the crash) expired, and
    # within the lease duration plus a few retry periods.
    assert LEASE - 2 * RETRY <= took <= LEASE + 1.5
    spec = (await read_lease(kube))["spec"]
    assert spec["holderIdentity"] == standby.identity
    assert spec["leaseTransitions"] == 1


async def test_release_hands_over_at_once(api: client.ApiClient) -> None:
    kube = Kube(api)
    acting = Acting()
    a_ctl, b_ctl = FakeController(acting, drain=0.2), FakeController(acting)
    a, b = elector(kube, "a", a_ctl), elector(kube, "b", b_ctl)
    holder_while_stopping: list[str] = []

    async def look() -> None:
        holder_while_stopping.append((await read_lease(kube))["spec"]["holderIdentity"])

    a_ctl.after_stop = look
    sampler = Sampler([a, b], acting)
    async with running(a) as tasks:
        await wait_for(lambda: a.is_leader)
        async with running(b):
            await asyncio.sleep(0.5)
            assert a.is_leader and not b.is_leader

            await a.release()
            assert tasks["a"].done() and not a.is_leader
            # The controllers stopped while the lease still named us; only then was it cleared.
            assert holder_while_stopping == ["a"]
            took = await wait_for(lambda: b.is_leader)
            assert took < 1.0
            await asyncio.sleep(0.3)
    await sampler.close()
    assert sampler.violations == [] and acting.most == 1
    spec = (await read_lease(kube))["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1


async def test_release_clears_the_holder_like_client_go(api: client.ApiClient) -> None:
    kube = Kube(api)
    a = elector(kube, "a", FakeController(Acting()))
    async with running(a) as tasks:
        await wait_for(lambda: a.is_leader)
        before = (await read_lease(kube))["spec"]
        await a.release()
        assert tasks["a"].done()
    spec = (await read_lease(kube))["spec"]
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == before["leaseTransitions"]
    assert MICRO_TIME.match(spec["renewTime"])
    await a.release()  # nothing held any more: a no-op


async def test_a_standby_waits_a_full_lease_by_its_own_clock_whatever_the_timestamps_say(
    api: client.ApiClient,
) -> None:
    """The record says the holder renewed in 2000 for 1 s: expired by remote time, but a candidate only
    trusts its own clock since it first saw the record (client-go's observedTime)."""
    kube = Kube(api)
    stale = micro_time(datetime(2000, 1, 1, tzinfo=UTC))
    await kube.create(
        LEASES,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": NS},
            "spec": {
                "holderIdentity": "ghost",
                "leaseDurationSeconds": 1,
                "acquireTime": stale,
                "renewTime": stale,
                "leaseTransitions": 3,
            },
        },
    )
    controller = FakeController(Acting())
    a = elector(kube, "a", controller)
    async with running(a):
        took = await wait_for(lambda: a.is_leader)
    assert took >= LEASE
    assert controller.starts == 1
    spec = (await read_lease(kube))["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseTransitions"] == 4
    assert parse_micro_time(spec["acquireTime"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_a_restarted_replica_with_the_same_identity_takes_its_lease_back_at_once(
    api: client.ApiClient,
) -> None:
    kube = Kube(api)
    first = elector(kube, "pod-0", FakeController(Acting()))
    async with running(first):
        await wait_for(lambda: first.is_leader)
    acquired = (await read_lease(kube))["spec"]["acquireTime"]
    again = elector(kube, "pod-0", FakeController(Acting()))
    async with running(again):
        took = await wait_for(lambda: again.is_leader)
    assert took < LEASE
    spec = (await read_lease(kube))["spec"]
    assert spec["leaseTransitions"] == 0 and spec["acquireTime"] == acquired


async def test_a_leader_whose_start_fails_steps_down_for_a_healthy_one(api: client.ApiClient) -> None:
    kube = Kube(api)
    acting = Acting()
    broken = FakeController(acting)

    async def fail() -> None:
        raise RuntimeError("cannot start controllers")

    a = LeaderElector(
        kube,
        NS,
        identity="a",
        on_started_leading=fail,
        on_stopped_leading=broken.stop,
        lease_duration=LEASE,
        renew_deadline=RENEW,
        retry_period=RETRY,
    )
    async with running(a):
        await wait_for(lambda: broken.stops >= 1)  # stepped down after the failed start
        b = elector(kube, "b", FakeController(acting))
        async with running(b):
            await wait_for(lambda: b.is_leader)
            await asyncio.sleep(3 * RETRY)
            assert b.is_leader and not a.is_leader


@pytest.mark.parametrize("failure", ["drop", "blackhole"])
async def test_a_leader_cut_off_from_the_api_stops_its_controllers_before_the_lease_expires(
    apiserver: SandboxApiServer, api: client.ApiClient, failure: Literal["drop", "blackhole"]
) -> None:
    proxy = Proxy(apiserver.port)
    kubeconfig = apiserver.kubeconfig()
    kubeconfig["clusters"][0]["cluster"]["server"] = await proxy.start()
    cut_off_api = await config.new_client_from_config_dict(kubeconfig)
    kube = Kube(api)
    acting = Acting()
    a_ctl, b_ctl = FakeController(acting, drain=0.3), FakeController(acting)
    a, b = elector(Kube(cut_off_api), "a", a_ctl), elector(kube, "b", b_ctl)
    seen_when_stopped: list[dict[str, Any]] = []

    async def look() -> None:  # the lease as the server has it when a's controllers have stopped
        seen_when_stopped.append((await read_lease(kube))["spec"])

    a_ctl.after_stop = look
    sampler = Sampler([a, b], acting)
    try:
        async with running(a):
            await wait_for(lambda: a.is_leader)
            async with running(b):
                await asyncio.sleep(0.5)
                assert a.is_leader and not b.is_leader

                proxy.cut(failure)
                await wait_for(lambda: b.is_leader)
                assert not a.is_leader

        await sampler.close()
        assert a_ctl.stopped_at is not None and b_ctl.started_at is not None
        assert len(seen_when_stopped) == 1
        spec = seen_when_stopped[0]
        # a fenced itself while the lease still named it, before it could expire ...
        assert spec["holderIdentity"] == "a"
        expiry = parse_micro_time(spec["renewTime"]) + timedelta(seconds=spec["leaseDurationSeconds"])
        assert a_ctl.stopped_at < expiry
        # ... and b took over only afterwards.
        assert b_ctl.started_at > a_ctl.stopped_at
        assert sampler.violations == [] and acting.most == 1
        spec = (await read_lease(kube))["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    finally:
        await sampler.close()
        await cut_off_api.close()
        await proxy.close()
