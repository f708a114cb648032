"""Lifecycle histograms, derived from the lifecycle states the informer sees a resource go through.

Per resource the tracker remembers, since the resource last reached a settled state, when it entered and
when it left each state. On every change of ``status.lifecycleState``:

* ``Lifecycle.State.<PREVIOUS>.TimeSeconds`` records how long the resource was in the state it left;
* each transition ending in the new state records the time since its start:

  ============== =================================== ======================================
  transition     from                                measured from
  ============== =================================== ======================================
  Resume         SUSPENDED -> STABLE                 leaving SUSPENDED
  Upgrade        STABLE -> STABLE                    leaving STABLE (the upgrade began)
  Suspend        DEPLOYED/STABLE/ROLLED_BACK ->      leaving the running state
                 SUSPENDED
  Stabilization  DEPLOYED -> STABLE                  entering DEPLOYED
  Rollback       DEPLOYED -> ROLLED_BACK             entering DEPLOYED
  Submission     UPGRADING -> DEPLOYED,              entering UPGRADING / ROLLING_BACK
                 ROLLING_BACK -> ROLLED_BACK
  ============== =================================== ======================================

On reaching a settled state (SUSPENDED, STABLE, ROLLED_BACK, FAILED, DELETED) the remembered times are
cleared, so each transition measures one pass. Histograms go to the system scope under the kind
(``FlinkDeployment.Lifecycle...``) and, when namespace histograms are on, to the namespace scope.

The first sighting of a resource (the informer's initial list, or a new resource) starts the clock; time
spent before the operator saw it is unknown and not recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flinkop.api.enums import ResourceLifecycleState as S
from flinkop.metrics.model import SYSTEM, Clock, MetricId, MetricRegistry, Scope
from flinkop.metrics.resources import lifecycle_of
from flinkop.runtime.cache import object_key
from flinkop.runtime.informer import Handler

JSON = dict[str, Any]

SETTLED = frozenset({S.SUSPENDED, S.STABLE, S.ROLLED_BACK, S.FAILED, S.DELETED})


@dataclass(frozen=True)
class Transition:
    name: str
    to: str
    sources: frozenset[str]
    from_entry: bool  # measure from entering a source state (else from leaving it)


TRANSITIONS = (
    Transition("Resume", S.STABLE, frozenset({S.SUSPENDED}), from_entry=False),
    Transition("Upgrade", S.STABLE, frozenset({S.STABLE}), from_entry=False),
    Transition("Suspend", S.SUSPENDED, frozenset({S.DEPLOYED, S.STABLE, S.ROLLED_BACK}), from_entry=False),
    Transition("Stabilization", S.STABLE, frozenset({S.DEPLOYED}), from_entry=True),
    Transition("Rollback", S.ROLLED_BACK, frozenset({S.DEPLOYED}), from_entry=True),
    Transition("Submission", S.DEPLOYED, frozenset({S.UPGRADING}), from_entry=True),
    Transition("Submission", S.ROLLED_BACK, frozenset({S.ROLLING_BACK}), from_entry=True),
)


@dataclass
class _Track:
    state: str
    since: float
    entered: dict[str, float] = field(default_factory=dict)  # first entry since the last settled state
    left: dict[str, float] = field(default_factory=dict)  # last exit since the last settled state


class LifecycleTracker:
    """An informer handler recording lifecycle histograms of one resource kind."""

    def __init__(
        self,
        registry: MetricRegistry,
        kind: str,
        *,
        namespace_histograms: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.registry = registry
        self.kind = kind
        self.namespace_histograms = namespace_histograms
        self.clock = clock
        self._tracks: dict[str, _Track] = {}

    def handler(self) -> Handler:
        return Handler(on_add=self.seen, on_update=lambda _old, new: self.seen(new), on_delete=self.deleted)

    def seen(self, obj: JSON) -> None:
        key = object_key(obj)
        state = lifecycle_of(obj)
        now = self.clock()
        track = self._tracks.get(key)
        if track is None:
            self._tracks[key] = _Track(state, now, entered={state: now})
            return
        if track.state == state:
            return
        namespace = str(obj["metadata"].get("namespace") or "")
        self._record(namespace, f"Lifecycle.State.{track.state}.TimeSeconds", now - track.since)
        track.left[track.state] = now
        for transition in TRANSITIONS:
            if transition.to != state:
                continue
            times = track.entered if transition.from_entry else track.left
            starts = [times[s] for s in transition.sources if s in times]
            if starts:
                self._record(
                    namespace, f"Lifecycle.Transition.{transition.name}.TimeSeconds", now - max(starts)
                )
        if state in SETTLED:
            track.entered.clear()
            track.left.clear()
        track.entered.setdefault(state, now)
        track.state, track.since = state, now

    def deleted(self, obj: JSON) -> None:
        self._tracks.pop(object_key(obj), None)

    def _record(self, namespace: str, path: str, seconds: float) -> None:
        self.registry.histogram(MetricId.of(SYSTEM, f"{self.kind}.{path}")).update(seconds)
        if self.namespace_histograms:
            self.registry.histogram(MetricId.of(Scope.namespace(namespace, self.kind), path)).update(seconds)
