"""The sandbox's kube-controller-manager: the Deployment, ReplicaSet and Endpoints loops on our own
controller runtime (shared informers, work queues, the manager), talking to the API server over HTTP
like any other client.

    async with ControllerManager(kube):
        ...  # Deployments roll out, ReplicaSets keep pods, Services get Endpoints

or `build_controller_manager(kube)` for the bare runtime `Manager` (e.g. to add leader election).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from flinkop.runtime.events import EventRecorder
from flinkop.runtime.kube import Kube
from flinkop.runtime.manager import LeaderElectionConfig, Manager
from flinkop.sandbox.controllers.common import FIELD_MANAGER, Events
from flinkop.sandbox.controllers.deployment import DeploymentController
from flinkop.sandbox.controllers.endpoints import EndpointsController
from flinkop.sandbox.controllers.replicaset import ReplicaSetController

# Upstream's --concurrent-deployment-syncs, --concurrent-replicaset-syncs, --concurrent-endpoint-syncs.
DEFAULT_WORKERS = 5
# Informer resync: level-based loops look at everything again now and then.
DEFAULT_RESYNC = 60.0


@dataclass
class Loops:
    deployment: DeploymentController
    replicaset: ReplicaSetController
    endpoints: EndpointsController


def controller_kube(kube: Kube) -> Kube:
    """The same connection, writing as `kube-controller-manager` (managedFields, User-Agent)."""
    return Kube(
        kube.api_client,
        field_manager=FIELD_MANAGER,
        request_timeout=kube.request_timeout,
        observer=kube.observer,
    )


def build_controller_manager(
    kube: Kube,
    *,
    workers: int = DEFAULT_WORKERS,
    events: bool = True,
    resync_period: float | None = DEFAULT_RESYNC,
    leader_election: LeaderElectionConfig | None = None,
) -> Manager:
    """A runtime Manager running the three loops (`ControllerManager` also keeps the loops at hand)."""
    manager, _ = _build(
        kube, workers=workers, events=events, resync_period=resync_period, leader_election=leader_election
    )
    return manager


def _build(
    kube: Kube,
    *,
    workers: int,
    events: bool,
    resync_period: float | None,
    leader_election: LeaderElectionConfig | None,
) -> tuple[Manager, Loops]:
    kcm = controller_kube(kube)
    manager = Manager(kcm, resync_period=resync_period, leader_election=leader_election)
    recorder = EventRecorder(kcm, component="kube-controller-manager") if events else None
    loops = Loops(
        deployment=DeploymentController(
            kcm, manager.informers, Events(recorder, "deployment-controller"), workers=workers
        ),
        replicaset=ReplicaSetController(
            kcm, manager.informers, Events(recorder, "replicaset-controller"), workers=workers
        ),
        endpoints=EndpointsController(
            kcm, manager.informers, Events(recorder, "endpoint-controller"), workers=workers
        ),
    )
    for loop in (loops.deployment, loops.replicaset, loops.endpoints):
        manager.add(loop.controller)
    return manager, loops


class ControllerManager:
    """Start and stop the loops; also an async context manager."""

    def __init__(
        self,
        kube: Kube,
        *,
        workers: int = DEFAULT_WORKERS,
        events: bool = True,
        resync_period: float | None = DEFAULT_RESYNC,
        leader_election: LeaderElectionConfig | None = None,
    ) -> None:
        self.manager, self.loops = _build(
            kube, workers=workers, events=events, resync_period=resync_period, leader_election=leader_election
        )

    async def start(self) -> None:
        """Start the informers, wait for their caches, then run the loops (or wait for the lease)."""
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()

    def healthy(self) -> tuple[bool, str]:
        return self.manager.healthy()

    async def __aenter__(self) -> ControllerManager:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
