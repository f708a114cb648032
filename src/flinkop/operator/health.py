"""The health endpoint (upstream's health probe): any path answers ``200 OK`` when healthy, ``500 ERROR``
otherwise, as ``text/plain``; on ``kubernetes.operator.health.probe.port`` (8085) when
``kubernetes.operator.health.probe.enabled`` (default true).

Healthy means all of:

1. the operator started: the manager's informers synced once (before that: ``not started``);
2. no informer that was healthy has become unhealthy: an informer that synced once is unhealthy when it
   has been unsynced for longer than ``informer_grace`` (e.g. a newly watched namespace it cannot list), or
   its list/watch has kept failing for longer than ``informer_grace`` (its error counter rose, with no
   quiet gap of ``ERROR_QUIET`` seconds, for that long; a single dropped watch that reconnects is fine);
3. it leads with its controllers running, or it is a healthy standby (leader election configured and its
   elector campaigning);
4. no controller is stuck, while it runs: a worker has been inside one reconcile for longer than
   ``stuck_after``, or the work queue has held ready keys for ``stuck_after`` without any worker taking
   one (all workers wedged or gone).

Wiring::

    health = await start_health(operator)     # None when disabled; before or after operator.start()
    ...
    await health.stop()

It reads ``operator.config`` (the probe keys), ``operator.manager`` (``informers.informers()``,
``controllers``, ``leading``, ``leader_election``, ``elector.running``), and adds a progress listener to each
controller's work queue. Error states are tracked on each probe (the chart probes every 10 s).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from flinkop.metrics.queue import QueueProgress, attach_queue_listener, detach_queue_listener
from flinkop.runtime.controller import Controller
from flinkop.runtime.informer import SharedInformer
from flinkop.runtime.manager import Manager

log = structlog.get_logger("flinkop.operator.health")
Clock = Callable[[], float]

DEFAULT_STUCK_AFTER = 300.0
DEFAULT_INFORMER_GRACE = 60.0
ERROR_QUIET = 75.0
"""Seconds without a new list/watch error that end an error streak (longer than the reflector's
largest backoff, 30 s with up to 100 % jitter)."""


@dataclass
class _InformerState:
    ever_synced: bool = False
    unsynced_since: float | None = None
    errors: int = 0
    failing_since: float | None = None
    last_error: float = 0.0


class HealthMonitor:
    """Decides health from the manager's state; `check()` returns (healthy, reason)."""

    def __init__(
        self,
        manager: Manager,
        *,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        informer_grace: float = DEFAULT_INFORMER_GRACE,
        clock: Clock = time.monotonic,
    ) -> None:
        self.manager = manager
        self.stuck_after = stuck_after
        self.informer_grace = informer_grace
        self.clock = clock
        self._informers: dict[int, _InformerState] = {}
        self._progress: dict[int, tuple[Controller, QueueProgress]] = {}
        self._started = False
        self._last: tuple[bool, str] = (True, "")

    def attach(self) -> None:
        """Listen to the work queues of the manager's controllers."""
        for controller in self.manager.controllers:
            self._track(controller)

    def detach(self) -> None:
        for controller, progress in self._progress.values():
            detach_queue_listener(controller, progress)
        self._progress.clear()

    def _track(self, controller: Controller) -> QueueProgress:
        found = self._progress.get(id(controller))
        if found is None:
            progress = QueueProgress(self.clock)
            attach_queue_listener(controller, progress)
            found = self._progress[id(controller)] = (controller, progress)
        return found[1]

    # -- the decision ----------------------------------------------------------------------------------
    def check(self) -> tuple[bool, str]:
        result = self._check()
        if result != self._last:
            if result[0]:
                log.info("operator healthy again", state=result[1])
            else:
                log.warning("operator unhealthy", reason=result[1])
            self._last = result
        return result

    def _check(self) -> tuple[bool, str]:
        now = self.clock()
        informers = self.manager.informers.informers()
        if not self._started:
            if not informers or not all(i.has_synced for i in informers):
                return False, "not started: informers not synced"
            self._started = True
        unhealthy = [i for i in informers if self._informer_failing(i, now)]
        if unhealthy:
            return False, "informer unhealthy: " + ", ".join(str(i.resource) for i in unhealthy)
        manager = self.manager
        if manager.leading:
            for controller in manager.controllers:
                if not controller.running:
                    return False, f"controller {controller.name} not running while leading"
                stuck = controller.stuck(self.stuck_after)
                if stuck:
                    return (
                        False,
                        f"controller {controller.name} stuck in reconcile of {', '.join(sorted(stuck)[:3])}",
                    )
                stalled = self._track(controller).stalled_for()
                if stalled > self.stuck_after:
                    return (
                        False,
                        f"controller {controller.name} stuck: queued keys not taken for {stalled:.0f}s",
                    )
            return True, "leading"
        if manager.leader_election is None:
            return False, "controllers not started"
        elector = manager.elector
        if elector is None or not elector.running:
            return False, "standby without a running leader election"
        return True, "standby"

    def _informer_failing(self, informer: SharedInformer, now: float) -> bool:
        state = self._informers.setdefault(id(informer), _InformerState(errors=informer.errors))
        if informer.has_synced:
            state.ever_synced = True
            state.unsynced_since = None
        elif state.unsynced_since is None:
            state.unsynced_since = now
        if informer.errors != state.errors:
            if state.failing_since is None or now - state.last_error > ERROR_QUIET:
                state.failing_since = now
            state.errors, state.last_error = informer.errors, now
        elif state.failing_since is not None and now - state.last_error > ERROR_QUIET:
            state.failing_since = None
        if not state.ever_synced:
            return False
        if state.unsynced_since is not None and now - state.unsynced_since > self.informer_grace:
            return True
        return state.failing_since is not None and now - state.failing_since > self.informer_grace


class HealthServer:
    """aiohttp on `port`: any method, any path -> 200 ``OK`` / 500 ``ERROR``."""

    def __init__(self, monitor: HealthMonitor, port: int, host: str = "0.0.0.0") -> None:
        self.monitor = monitor
        self.requested_port = port
        self.host = host
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            healthy, _reason = self.monitor.check()
        except Exception:
            log.exception("health check failed")
            healthy = False
        if healthy:
            return web.Response(text="OK", content_type="text/plain")
        return web.Response(status=500, text="ERROR", content_type="text/plain")

    async def start(self) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = self.requested_port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        self.monitor.attach()
        log.info("health endpoint listening", host=self.host, port=self.port)
        return self.port

    async def stop(self) -> None:
        self.monitor.detach()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()


async def start_health(
    operator: Any,
    *,
    port: int | None = None,
    host: str = "0.0.0.0",
    stuck_after: float = DEFAULT_STUCK_AFTER,
    informer_grace: float = DEFAULT_INFORMER_GRACE,
    clock: Clock = time.monotonic,
) -> HealthServer | None:
    """Start the endpoint for `operator` (needs ``operator.config`` and ``operator.manager``); None when
    ``kubernetes.operator.health.probe.enabled`` is false. `port` overrides the configured one (0: any)."""
    if not operator.config.health_probe_enabled:
        return None
    monitor = HealthMonitor(
        operator.manager, stuck_after=stuck_after, informer_grace=informer_grace, clock=clock
    )
    server = HealthServer(monitor, operator.config.health_probe_port if port is None else port, host)
    await server.start()
    return server


__all__ = ["HealthMonitor", "HealthServer", "start_health"]
