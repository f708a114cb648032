"""The manager owns the informers, the controllers, leader election and shutdown
(controller-runtime's manager): start caches, lead, run controllers; on SIGTERM drain and release."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass

import structlog

from flinkop.runtime.controller import Controller
from flinkop.runtime.informer import InformerFactory
from flinkop.runtime.kube import Kube
from flinkop.runtime.leader import LeaderElector

log = structlog.get_logger("flinkop.runtime.manager")


@dataclass(frozen=True)
class LeaderElectionConfig:
    namespace: str
    identity: str
    lease_name: str = "flink-operator-lease"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class Manager:
    def __init__(
        self,
        kube: Kube,
        *,
        leader_election: LeaderElectionConfig | None = None,
        resync_period: float | None = None,
        drain_timeout: float = 20.0,
        sync_timeout: float | None = None,
    ) -> None:
        self.kube = kube
        self.informers = InformerFactory(kube, resync_period=resync_period)
        self.controllers: list[Controller] = []
        self.leader_election = leader_election
        self.drain_timeout = drain_timeout
        self.sync_timeout = sync_timeout
        self.elector: LeaderElector | None = None
        self._elector_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._leading = False
        self.synced = False

    def add(self, controller: Controller) -> Controller:
        self.controllers.append(controller)
        return controller

    @property
    def leading(self) -> bool:
        return self._leading

    async def _start_controllers(self) -> None:
        self._leading = True
        for controller in self.controllers:
            controller.start()
        log.info("controllers running", controllers=[c.name for c in self.controllers])

    async def _stop_controllers(self) -> None:
        self._leading = False
        await asyncio.gather(*(c.stop(self.drain_timeout) for c in self.controllers))

    async def start(self) -> None:
        """Start informers and wait for their caches, then lead (or wait to lead)."""
        self.informers.start()
        self.synced = await self.informers.wait_for_sync(self.sync_timeout)
        log.info("caches synced", informers=len(self.informers.informers()), synced=self.synced)
        if self.leader_election is None:
            await self._start_controllers()
            return
        cfg = self.leader_election
        self.elector = LeaderElector(
            self.kube,
            cfg.namespace,
            lease_name=cfg.lease_name,
            identity=cfg.identity,
            lease_duration=cfg.lease_duration,
            renew_deadline=cfg.renew_deadline,
            retry_period=cfg.retry_period,
            on_started_leading=self._start_controllers,
            on_stopped_leading=self._stop_controllers,
        )
        self._elector_task = asyncio.get_running_loop().create_task(
            self.elector.run(), name="leader-election"
        )

    async def stop(self) -> None:
        """Drain workers, release the lease, stop informers."""
        self._stopping.set()
        await self._stop_controllers()
        if self.elector is not None:
            with contextlib.suppress(Exception):
                await self.elector.release()
        if self._elector_task is not None:
            self._elector_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._elector_task
        await self.informers.stop()
        log.info("manager stopped")

    async def run(self) -> None:
        """Start, then run until SIGTERM or SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stopping.set)
        await self.start()
        await self._stopping.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    def healthy(self, stuck_after: float = 300.0) -> tuple[bool, str]:
        """Synced caches, and no reconcile stuck longer than `stuck_after` seconds."""
        if not all(i.has_synced for i in self.informers.informers()):
            return False, "informers not synced"
        for controller in self.controllers:
            stuck = controller.stuck(stuck_after)
            if stuck:
                return False, f"controller {controller.name} stuck on {', '.join(stuck[:3])}"
        return True, "leading" if self._leading or self.leader_election is None else "standby"
