"""The health endpoint: 200 ``OK`` when the informers are synced and the process leads (or waits as a
healthy standby), 500 ``ERROR`` when a controller is stuck or an informer that was healthy is failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp
import pytest

from flinkop.config import OperatorConfig
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.operator.health import ERROR_QUIET, HealthMonitor, HealthServer, start_health
from flinkop.runtime import Controller, Kube, LeaderElectionConfig, Manager, Result

from .conftest import eventually, put_deployment
from .helpers import deployment


async def probe(port: int, path: str = "/") -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


@dataclass
class Setup:
    manager: Manager
    controller: Controller
    release: asyncio.Event
    health: HealthServer

    @property
    def port(self) -> int:
        assert self.health.port is not None
        return self.health.port


@pytest.fixture
async def blocking(kube: Kube) -> AsyncIterator[Setup]:
    """A manager whose FlinkDeployment reconcile blocks until released, with the health endpoint on."""
    manager = Manager(kube, drain_timeout=1.0)
    release = asyncio.Event()

    async def reconcile(key: str) -> Result:
        await release.wait()
        return Result()

    controller = manager.add(Controller("flinkdeployment", reconcile, workers=1))
    controller.watch(manager.informers.informer(FLINK_DEPLOYMENTS, ["default"]))
    config = OperatorConfig.from_mapping({"kubernetes.operator.health.probe.port": "0"})
    health = await start_health(
        SimpleNamespace(config=config, manager=manager), host="127.0.0.1", stuck_after=0.5
    )
    assert health is not None
    try:
        yield Setup(manager, controller, release, health)
    finally:
        release.set()
        await health.stop()
        await manager.stop()


async def test_healthy_when_synced_and_500_while_a_reconcile_is_stuck(kube: Kube, blocking: Setup) -> None:
    assert await probe(blocking.port) == (500, "ERROR")  # not started: informers not synced
    await blocking.manager.start()
    assert await probe(blocking.port) == (200, "OK")
    assert await probe(blocking.port, "/any/path?x=1") == (200, "OK")

    await put_deployment(kube, deployment("app", "default"))
    await eventually(lambda: _async(bool(blocking.controller.stuck(0))), 10, "the reconcile to start")
    assert await probe(blocking.port) == (200, "OK")  # busy, not yet stuck
    await eventually(lambda: _status_is(blocking.port, 500), 5, "the probe to report the stuck reconcile")
    assert await probe(blocking.port) == (500, "ERROR")

    blocking.release.set()
    await eventually(lambda: _status_is(blocking.port, 200), 5, "healthy once the reconcile finished")


async def _async(value: bool) -> bool:
    return value


async def _status_is(port: int, status: int) -> bool:
    return (await probe(port))[0] == status


async def test_a_standby_is_healthy_and_so_is_the_leader(kube: Kube) -> None:
    def build(identity: str) -> Manager:
        election = LeaderElectionConfig(
            namespace="default", identity=identity, lease_duration=2.0, renew_deadline=1.5, retry_period=0.2
        )
        manager = Manager(kube, leader_election=election)

        async def reconcile(key: str) -> None:
            return None

        controller = manager.add(Controller("flinkdeployment", reconcile))
        controller.watch(manager.informers.informer(FLINK_DEPLOYMENTS, ["default"]))
        return manager

    a, b = build("a"), build("b")
    monitors = [HealthMonitor(a, stuck_after=5), HealthMonitor(b, stuck_after=5)]
    for monitor in monitors:
        monitor.attach()
    await a.start()
    await eventually(lambda: _async(a.leading), 10, "a to lead")
    await b.start()
    await eventually(lambda: _async(b.elector is not None and b.elector.running), 10, "b to campaign")
    try:
        assert monitors[0].check() == (True, "leading")
        assert monitors[1].check() == (True, "standby")
    finally:
        await b.stop()
        await a.stop()
    assert not monitors[1].check()[0]  # its election stopped: no longer a healthy standby


class FakeInformer:
    def __init__(self) -> None:
        self.has_synced = True
        self.errors = 0
        self.resource = "flinkdeployments.flink.apache.org"


class FakeFactory:
    def __init__(self, informer: FakeInformer) -> None:
        self.informer = informer

    def informers(self) -> list[FakeInformer]:
        return [self.informer]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_informer_that_keeps_failing_or_stays_unsynced_is_unhealthy() -> None:
    informer = FakeInformer()
    manager = SimpleNamespace(
        informers=FakeFactory(informer), controllers=[], leading=True, leader_election=None, elector=None
    )
    clock = Clock()
    monitor = HealthMonitor(manager, informer_grace=60, clock=clock)  # type: ignore[arg-type]
    assert monitor.check() == (True, "leading")

    informer.errors = 1  # one dropped watch that reconnects: fine
    clock.now += 10
    assert monitor.check()[0]
    clock.now += ERROR_QUIET + 1
    assert monitor.check()[0]

    for _ in range(8):  # failing again and again for more than the grace period
        clock.now += 20
        informer.errors += 1
        result = monitor.check()
    assert result == (False, "informer unhealthy: flinkdeployments.flink.apache.org")
    clock.now += ERROR_QUIET + 1  # it recovered
    assert monitor.check()[0]

    informer.has_synced = False  # e.g. a newly watched namespace it cannot list
    assert monitor.check()[0]
    clock.now += 59
    assert monitor.check()[0]
    clock.now += 2
    assert not monitor.check()[0]
    informer.has_synced = True
    assert monitor.check()[0]


async def test_a_queue_nobody_takes_from_is_stuck() -> None:
    async def reconcile(key: str) -> None:
        return None

    controller = Controller("c", reconcile)
    controller._tasks = [asyncio.get_running_loop().create_future()]  # type: ignore[list-item]  # "running", no worker
    informer = FakeInformer()
    manager = SimpleNamespace(
        informers=FakeFactory(informer),
        controllers=[controller],
        leading=True,
        leader_election=None,
        elector=None,
    )
    clock = Clock()
    monitor = HealthMonitor(manager, stuck_after=30, clock=clock)  # type: ignore[arg-type]
    monitor.attach()
    controller.queue.add("default/app")
    clock.now += 29
    assert monitor.check()[0]
    clock.now += 2
    assert monitor.check() == (False, "controller c stuck: queued keys not taken for 31s")
    controller._tasks = []


async def test_disabled_probe_starts_nothing() -> None:
    config = OperatorConfig.from_mapping({"kubernetes.operator.health.probe.enabled": "false"})
    assert await start_health(SimpleNamespace(config=config, manager=None)) is None
