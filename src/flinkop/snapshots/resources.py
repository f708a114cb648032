"""FlinkStateSnapshot objects as the operator creates and finds them: names, labels, bodies.

Operator-created snapshots are named ``<job>-<savepoint|checkpoint>-<manual|periodic|upgrade>-<epochMillis>``
and carry the labels the upstream operator keeps on every snapshot (``snapshot.type``,
``snapshot.trigger-type``, ``snapshot.state``, ``job-reference.kind``, ``job-reference.name``), which is how
retention and periodic scheduling find a job's snapshots.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flinkop.api import (
    GROUP,
    FlinkStateSnapshot,
    JobKind,
    SavepointFormatType,
    SnapshotState,
    SnapshotTriggerType,
    parse_flink_state_snapshot,
)
from flinkop.api.parsing import ResourceParseError
from flinkop.runtime import Kube, Resource

JSON = dict[str, Any]

FLINK_STATE_SNAPSHOTS = Resource(GROUP, "v1beta1", FlinkStateSnapshot.PLURAL, kind="FlinkStateSnapshot")

LABEL_SNAPSHOT_TYPE = "snapshot.type"
LABEL_TRIGGER_TYPE = "snapshot.trigger-type"
LABEL_STATE = "snapshot.state"
LABEL_JOB_KIND = "job-reference.kind"
LABEL_JOB_NAME = "job-reference.name"

TYPE_SAVEPOINT = "SAVEPOINT"
TYPE_CHECKPOINT = "CHECKPOINT"


def snapshot_name(job_name: str, *, checkpoint: bool, trigger_type: SnapshotTriggerType, now_ms: int) -> str:
    kind = "checkpoint" if checkpoint else "savepoint"
    return f"{job_name}-{kind}-{trigger_type.value.lower()}-{now_ms}"


def snapshot_labels(
    snapshot: FlinkStateSnapshot, trigger_type: SnapshotTriggerType | None = None
) -> dict[str, str]:
    """The labels upstream keeps on a snapshot (``trigger_type`` None: the one it has, else MANUAL)."""
    labels = dict(snapshot.metadata.labels or {})
    spec = snapshot.spec
    labels[LABEL_SNAPSHOT_TYPE] = TYPE_CHECKPOINT if spec.checkpoint is not None else TYPE_SAVEPOINT
    labels[LABEL_TRIGGER_TYPE] = (
        trigger_type.value
        if trigger_type is not None
        else labels.get(LABEL_TRIGGER_TYPE) or SnapshotTriggerType.MANUAL.value
    )
    labels[LABEL_STATE] = snapshot.status.state.value
    ref = spec.job_reference
    if ref is not None and ref.kind is not None:
        labels[LABEL_JOB_KIND] = ref.kind.value
    if ref is not None and ref.name:
        labels[LABEL_JOB_NAME] = ref.name
    return labels


def snapshot_body(
    *,
    namespace: str,
    job_kind: JobKind,
    job_name: str,
    checkpoint: bool,
    trigger_type: SnapshotTriggerType,
    now_ms: int,
    path: str | None = None,
    format_type: SavepointFormatType = SavepointFormatType.CANONICAL,
    dispose_on_delete: bool = False,
    already_exists: bool = False,
    backoff_limit: int = -1,
) -> JSON:
    """The object of a new operator-created snapshot (an ``alreadyExists`` savepoint is born COMPLETED by the
    snapshot controller)."""
    spec: JSON = {"jobReference": {"kind": job_kind.value, "name": job_name}, "backoffLimit": backoff_limit}
    if checkpoint:
        spec["checkpoint"] = {}
    else:
        savepoint: JSON = {
            "formatType": format_type.value,
            "disposeOnDelete": dispose_on_delete,
            "alreadyExists": already_exists,
        }
        if path:
            savepoint["path"] = path
        spec["savepoint"] = savepoint
    labels = {
        LABEL_SNAPSHOT_TYPE: TYPE_CHECKPOINT if checkpoint else TYPE_SAVEPOINT,
        LABEL_TRIGGER_TYPE: trigger_type.value,
        LABEL_STATE: SnapshotState.TRIGGER_PENDING.value,
        LABEL_JOB_KIND: job_kind.value,
        LABEL_JOB_NAME: job_name,
    }
    name = snapshot_name(job_name, checkpoint=checkpoint, trigger_type=trigger_type, now_ms=now_ms)
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "FlinkStateSnapshot",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


async def create_snapshot(kube: Kube, body: JSON) -> JSON:
    return await kube.create(FLINK_STATE_SNAPSHOTS, body, body["metadata"]["namespace"])


def job_selector(job_kind: JobKind, job_name: str) -> str:
    return f"{LABEL_JOB_KIND}={job_kind.value},{LABEL_JOB_NAME}={job_name}"


async def snapshots_of(
    kube: Kube, namespace: str, job_kind: JobKind, job_name: str
) -> list[FlinkStateSnapshot]:
    """The job's snapshots (found by their labels) from the API server, oldest first; unreadable ones are
    left out."""
    answer = await kube.list(
        FLINK_STATE_SNAPSHOTS, namespace, label_selector=job_selector(job_kind, job_name)
    )
    return _readable_oldest_first(answer.get("items") or [])


def cached_snapshots_of(
    cached: Iterable[JSON], namespace: str, job_kind: JobKind, job_name: str
) -> list[FlinkStateSnapshot]:
    """The same from an informer cache of FlinkStateSnapshots (no API request)."""
    wanted = {LABEL_JOB_KIND: job_kind.value, LABEL_JOB_NAME: job_name}
    items = [
        item
        for item in cached
        if (item.get("metadata") or {}).get("namespace") == namespace
        and all(((item.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
    ]
    return _readable_oldest_first(items)


def _readable_oldest_first(items: Iterable[JSON]) -> list[FlinkStateSnapshot]:
    found: list[FlinkStateSnapshot] = []
    for item in items:
        try:
            found.append(parse_flink_state_snapshot(item))
        except ResourceParseError:
            continue
    found.sort(key=lambda s: (s.metadata.creation_timestamp or "", s.name))
    return found


__all__ = [
    "FLINK_STATE_SNAPSHOTS",
    "LABEL_JOB_KIND",
    "LABEL_JOB_NAME",
    "LABEL_SNAPSHOT_TYPE",
    "LABEL_STATE",
    "LABEL_TRIGGER_TYPE",
    "TYPE_CHECKPOINT",
    "TYPE_SAVEPOINT",
    "cached_snapshots_of",
    "create_snapshot",
    "job_selector",
    "snapshot_body",
    "snapshot_labels",
    "snapshot_name",
    "snapshots_of",
]
