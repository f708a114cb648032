"""Per-namespace resource gauges, computed from the informer caches each time metrics are reported.

For FlinkDeployment and FlinkSessionJob (namespace scope, ``resourcetype`` the kind): ``Count``,
``Lifecycle.State.<STATE>.Count`` (every state, zeros included) and ``JobStatus.<STATE>.Count``; for
FlinkDeployment also ``JmDeploymentStatus.<STATUS>.Count``, ``FlinkVersion.Count`` and
``FlinkMinorVersion.Count`` (key/value groups: the version is a label) and ``ResourceUsage.Cpu`` /
``.Memory`` / ``.StateSize`` (sums of ``status.clusterInfo``). For FlinkStateSnapshot: ``Checkpoint.Count``,
``Savepoint.Count`` and ``Checkpoint.State.<STATE>.Count`` / ``Savepoint.State.<STATE>.Count``.

A namespace keeps reporting (zeros) after its last resource is deleted, as upstream keeps its groups.
The cached objects are read as JSON (the wire names of the pydantic models); nothing is parsed into models,
so a scrape over a thousand resources stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flinkop.api.enums import (
    FlinkJobState,
    JobManagerDeploymentStatus,
    ResourceLifecycleState,
    SnapshotState,
)
from flinkop.metrics.model import MetricId, Scope

JSON = dict[str, Any]
Objects = Callable[[], Iterable[JSON]]

FLINK_DEPLOYMENT = "FlinkDeployment"
FLINK_SESSION_JOB = "FlinkSessionJob"
FLINK_STATE_SNAPSHOT = "FlinkStateSnapshot"
UNKNOWN = "UNKNOWN"
MALFORMED = "MALFORMED"
_MINOR = re.compile(r"^(\d+)\.(\d+)")


def status_of(obj: JSON) -> JSON:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def lifecycle_of(obj: JSON) -> str:
    """The resource's ``status.lifecycleState``, ``CREATED`` before the operator wrote one."""
    state = status_of(obj).get("lifecycleState")
    return str(state) if state else ResourceLifecycleState.CREATED.value


def flink_versions(cluster_info: JSON) -> tuple[str, str]:
    """(version, minor version) of ``clusterInfo.flink-version``: ``UNKNOWN`` when absent, minor
    ``MALFORMED`` when it does not start with ``<major>.<minor>``."""
    version = cluster_info.get("flink-version")
    if not version:
        return UNKNOWN, UNKNOWN
    match = _MINOR.match(str(version))
    return str(version), f"{match.group(1)}.{match.group(2)}" if match else MALFORMED


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


@dataclass
class _Tally:
    count: int = 0
    lifecycle: dict[str, int] = field(default_factory=dict)
    job: dict[str, int] = field(default_factory=dict)
    jm: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    minors: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0
    memory: float = 0.0
    state_size: float = 0.0


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


class ResourceGauges:
    """A gauge source over the caches of the operator's resource kinds."""

    def __init__(
        self,
        *,
        deployments: Objects | None = None,
        session_jobs: Objects | None = None,
        snapshots: Objects | None = None,
        lifecycle: bool = True,
    ) -> None:
        self.sources: dict[str, Objects] = {}
        if deployments is not None:
            self.sources[FLINK_DEPLOYMENT] = deployments
        if session_jobs is not None:
            self.sources[FLINK_SESSION_JOB] = session_jobs
        self.snapshots = snapshots
        self.lifecycle = lifecycle
        self._seen: dict[str, set[str]] = {}  # kind -> namespaces ever reported

    def __call__(self) -> Iterator[tuple[MetricId, float]]:
        for kind, objects in self.sources.items():
            yield from self._resources(kind, objects())
        if self.snapshots is not None:
            yield from self._snapshots(self.snapshots())

    def _namespaces(self, kind: str, found: Iterable[str]) -> list[str]:
        seen = self._seen.setdefault(kind, set())
        seen.update(found)
        return sorted(seen)

    def _resources(self, kind: str, objects: Iterable[JSON]) -> Iterator[tuple[MetricId, float]]:
        tallies: dict[str, _Tally] = {}
        for obj in objects:
            namespace = str(obj.get("metadata", {}).get("namespace") or "")
            tally = tallies.setdefault(namespace, _Tally())
            status = status_of(obj)
            tally.count += 1
            _bump(tally.lifecycle, lifecycle_of(obj))
            job = status.get("jobStatus")
            job_state = job.get("state") if isinstance(job, dict) else None
            if job_state:
                _bump(tally.job, str(job_state))
            if kind != FLINK_DEPLOYMENT:
                continue
            _bump(
                tally.jm, str(status.get("jobManagerDeploymentStatus") or JobManagerDeploymentStatus.MISSING)
            )
            info = status.get("clusterInfo")
            info = info if isinstance(info, dict) else {}
            version, minor = flink_versions(info)
            _bump(tally.versions, version)
            _bump(tally.minors, minor)
            tally.cpu += _number(info.get("total-cpu"))
            tally.memory += _number(info.get("total-memory"))
            tally.state_size += _number(info.get("state-size"))
        for namespace in self._namespaces(kind, tallies):
            scope = Scope.namespace(namespace, kind)
            tally = tallies.get(namespace, _Tally())
            yield MetricId.of(scope, "Count"), tally.count
            if self.lifecycle:
                for state in _with_known(tally.lifecycle, ResourceLifecycleState):
                    yield MetricId.of(scope, f"Lifecycle.State.{state}.Count"), tally.lifecycle.get(state, 0)
            for state in _with_known(tally.job, FlinkJobState):
                yield MetricId.of(scope, f"JobStatus.{state}.Count"), tally.job.get(state, 0)
            if kind != FLINK_DEPLOYMENT:
                continue
            for state in _with_known(tally.jm, JobManagerDeploymentStatus):
                yield MetricId.of(scope, f"JmDeploymentStatus.{state}.Count"), tally.jm.get(state, 0)
            for version, n in sorted(tally.versions.items()):
                yield MetricId.of(scope, "Count", ("FlinkVersion", version)), n
            for minor, n in sorted(tally.minors.items()):
                yield MetricId.of(scope, "Count", ("FlinkMinorVersion", minor)), n
            yield MetricId.of(scope, "ResourceUsage.Cpu"), tally.cpu
            yield MetricId.of(scope, "ResourceUsage.Memory"), tally.memory
            yield MetricId.of(scope, "ResourceUsage.StateSize"), tally.state_size

    def _snapshots(self, objects: Iterable[JSON]) -> Iterator[tuple[MetricId, float]]:
        counts: dict[str, dict[str, dict[str, int]]] = {}  # namespace -> Checkpoint|Savepoint -> state -> n
        for obj in objects:
            namespace = str(obj.get("metadata", {}).get("namespace") or "")
            spec = obj.get("spec")
            kind = (
                "Savepoint" if isinstance(spec, dict) and spec.get("savepoint") is not None else "Checkpoint"
            )
            state = str(status_of(obj).get("state") or SnapshotState.TRIGGER_PENDING)
            by_kind = counts.setdefault(namespace, {"Checkpoint": {}, "Savepoint": {}})
            _bump(by_kind[kind], state)
        for namespace in self._namespaces(FLINK_STATE_SNAPSHOT, counts):
            scope = Scope.namespace(namespace, FLINK_STATE_SNAPSHOT)
            by_kind = counts.get(namespace, {"Checkpoint": {}, "Savepoint": {}})
            for kind in ("Checkpoint", "Savepoint"):
                states = by_kind[kind]
                yield MetricId.of(scope, f"{kind}.Count"), sum(states.values())
                for state in _with_known(states, SnapshotState):
                    yield MetricId.of(scope, f"{kind}.State.{state}.Count"), states.get(state, 0)


def _with_known(counts: dict[str, int], known: Iterable[Any]) -> list[str]:
    """Every known value (so zeros are reported) plus any unexpected one seen."""
    names = [str(value.value) for value in known]
    return names + sorted(set(counts) - set(names))
