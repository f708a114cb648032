"""The Deployment controller: rolls a Deployment's pod template out through ReplicaSets.

As kube-controller-manager's (pkg/controller/deployment), observed through the API:
- the ReplicaSet of the current template is `<deployment>-<pod-template-hash>`, with the hash (see
  `hashing`) added as the `pod-template-hash` label to its labels, selector and template, a controller
  reference to the Deployment, `minReadySeconds` of the Deployment and the Deployment's annotations;
  a ReplicaSet is the new one when its template equals the Deployment's but for that label;
- `deployment.kubernetes.io/revision` on the new ReplicaSet (one more than the highest old one; an
  old ReplicaSet brought back keeps its earlier numbers in `.../revision-history`) and on the Deployment;
  `deployment.kubernetes.io/desired-replicas` and `.../max-replicas` (replicas + maxSurge) on every
  ReplicaSet it scales;
- Recreate: scale old ReplicaSets to 0, wait until their pods are gone, then create/scale the new one;
- RollingUpdate: maxSurge (rounded up) and maxUnavailable (rounded down) as int or percentage, with
  upstream's new-replica-set scale up, unhealthy-first cleanup and oldest-first scale down as new pods
  become available; a change of `spec.replicas` alone (also through /scale) scales proportionally;
- old ReplicaSets with 0 replicas beyond `revisionHistoryLimit` are deleted (oldest revision first);
- paused Deployments are scaled but not rolled out (Progressing Unknown DeploymentPaused/Resumed);
- status (through /status, with the resourceVersion): observedGeneration, replicas, updatedReplicas,
  readyReplicas, availableReplicas, unavailableReplicas, conditions Available
  (MinimumReplicasAvailable/MinimumReplicasUnavailable) and Progressing (NewReplicaSetCreated,
  FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded after
  progressDeadlineSeconds without progress), collisionCount on a hash collision.

Kept from upstream on purpose, including its quirks: the status counts come from the ReplicaSets'
statuses, zero counts are left out of the status as Go's `omitempty` does.

One deliberate difference: while rolling, the room left under maxSurge counts each ReplicaSet as the
larger of its `spec.replicas` and `status.replicas`, so pods a scaled-down ReplicaSet has not removed
yet still count (upstream counts `spec.replicas` only, which lets the pod count pass replicas+maxSurge
until the ReplicaSet controller catches up).
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from flinkop.runtime.cache import BY_NAMESPACE, object_key
from flinkop.runtime.client import ApiError, Conflict, NotFound
from flinkop.runtime.controller import Controller, Result, SkipObject
from flinkop.runtime.events import NORMAL, WARNING
from flinkop.runtime.informer import Handler, InformerFactory
from flinkop.runtime.kube import Kube
from flinkop.sandbox.controllers.common import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    Events,
    adopt,
    annotations_of,
    controller_ref,
    creation_key,
    deep_copy,
    deleting,
    generation_of,
    get_condition,
    labels_of,
    meta,
    namespace_terminating,
    new_condition,
    new_controller_ref,
    parse_time,
    pod_phase,
    ref_is,
    release,
    remove_condition,
    scaled_value,
    selector_is_empty,
    selector_matches,
    set_condition,
    spec_replicas,
    status_int,
)
from flinkop.sandbox.controllers.hashing import POD_TEMPLATE_HASH, equal_ignoring_hash, pod_template_hash

JSON = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
NOT_COPIED = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
MAX_REVISION_HISTORY_CHARS = 2000

AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"
MAX_INT32 = 2**31 - 1

_STATUS_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")

log = structlog.get_logger("flinkop.sandbox.controllers.deployment")


# -- deployment arithmetic (upstream's deployment/util) ------------------------------------------------
def is_rolling(d: JSON) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """maxSurge rounds up, maxUnavailable down; both 0 would deadlock, so unavailable becomes 1."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _fenceposts(d: JSON) -> tuple[int, int]:
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    try:
        return resolve_fenceposts(
            rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"), spec_replicas(d)
        )
    except ValueError as exc:
        raise SkipObject(str(exc)) from None


def max_surge(d: JSON) -> int:
    return _fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: JSON) -> int:
    if not is_rolling(d) or spec_replicas(d) == 0:
        return 0
    return min(_fenceposts(d)[1], spec_replicas(d))


def revision_of(rs: JSON) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, "0"))
    except ValueError:
        return 0


def has_progress_deadline(d: JSON) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return isinstance(value, int) and value != MAX_INT32


def active(rss: list[JSON | None]) -> list[JSON]:
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def sum_spec(rss: list[JSON]) -> int:
    return sum(spec_replicas(rs) for rs in rss)


def sum_status(rss: list[JSON], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss)


def deployment_complete(d: JSON, status: JSON) -> bool:
    replicas = spec_replicas(d)
    return bool(
        status.get("updatedReplicas", 0) == replicas
        and status.get("replicas", 0) == replicas
        and status.get("availableReplicas", 0) == replicas
        and status.get("observedGeneration", 0) >= generation_of(d)
    )


def deployment_progressing(d: JSON, new: JSON) -> bool:
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return bool(
        new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or new_old < old_old
        or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or new.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )


def deployment_timed_out(d: JSON, status: JSON, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    condition = get_condition(status, PROGRESSING)
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if condition.get("reason") == TIMED_OUT_REASON:
        return True
    updated = parse_time(condition.get("lastUpdateTime"))
    if updated is None:
        return False
    return updated + int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0) < now


def new_rs_new_replicas(d: JSON, all_rss: list[JSON], new_rs: JSON) -> int:
    """How big the new ReplicaSet may be now (upstream's NewRSNewReplicas, with terminating room)."""
    if not is_rolling(d):
        return spec_replicas(d)
    if spec_replicas(new_rs) == spec_replicas(d):
        return spec_replicas(new_rs)
    surge = max_surge(d)
    current = sum(max(spec_replicas(rs), status_int(rs, "replicas")) for rs in all_rss)
    max_total = spec_replicas(d) + surge
    if current >= max_total:
        return spec_replicas(new_rs)
    scale_up = min(max_total - current, spec_replicas(d) - spec_replicas(new_rs))
    return spec_replicas(new_rs) + scale_up


def set_replicas_annotations(rs: JSON, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: JSON, desired: int, maximum: int) -> bool:
    annotations = annotations_of(rs)
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: JSON, rs: JSON, new_revision: str, exists: bool) -> bool:
    """Copy the Deployment's own annotations, raise the revision (keeping history), and for a new
    ReplicaSet set the replica annotations. True when anything changed."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in annotations_of(d).items():
        if key in NOT_COPIED:
            continue
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old_revision = annotations.get(REVISION)
    try:
        old_int = int(old_revision) if old_revision else 0
    except ValueError:
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        annotations[REVISION] = new_revision
        changed = True
        if old_revision:
            history = annotations.get(REVISION_HISTORY, "")
            revisions = [r for r in history.split(",") if r] + [old_revision]
            while len(",".join(revisions)) > MAX_REVISION_HISTORY_CHARS and len(revisions) > 1:
                revisions.pop(0)
            annotations[REVISION_HISTORY] = ",".join(revisions)
    if not exists and set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + max_surge(d)):
        changed = True
    return changed


def find_new_rs(d: JSON, rss: list[JSON]) -> JSON | None:
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sorted(rss, key=creation_key):
        if equal_ignoring_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs  # the oldest of equal ones, should there be several
    return None


def _desired_annotation(rs: JSON) -> int | None:
    try:
        return int(annotations_of(rs)[DESIRED_REPLICAS])
    except (KeyError, ValueError):
        return None


def _max_annotation(rs: JSON) -> int | None:
    try:
        return int(annotations_of(rs)[MAX_REPLICAS])
    except (KeyError, ValueError):
        return None


def is_saturated(d: JSON, rs: JSON | None) -> bool:
    if rs is None:
        return False
    return (
        _desired_annotation(rs) == spec_replicas(d)
        and spec_replicas(rs) == spec_replicas(d)
        and status_int(rs, "availableReplicas") == spec_replicas(d)
    )


def replica_set_fraction(rs: JSON, d: JSON) -> int:
    if spec_replicas(d) == 0:
        return -spec_replicas(rs)
    deployment_max = spec_replicas(d) + max_surge(d)
    before = _max_annotation(rs)
    if not before:
        before = int((d.get("status") or {}).get("replicas") or 0)
        if before == 0:
            return 0
    size = spec_replicas(rs) * deployment_max / before
    return _round_half_away(size) - spec_replicas(rs)


def get_proportion(rs: JSON, d: JSON, to_add: int, added: int) -> int:
    if spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _round_half_away(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def calculate_status(all_rss: list[JSON], new_rs: JSON | None, d: JSON) -> JSON:
    available = sum_status(all_rss, "availableReplicas")
    total = sum_spec(all_rss)
    old = d.get("status") or {}
    status: JSON = {
        "observedGeneration": generation_of(d),
        "replicas": sum_status(all_rss, "replicas"),
        "updatedReplicas": sum_status([new_rs] if new_rs is not None else [], "replicas"),
        "readyReplicas": sum_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    if old.get("conditions"):
        status["conditions"] = deep_copy(old["conditions"])
    if "collisionCount" in old:
        status["collisionCount"] = old["collisionCount"]
    if available >= spec_replicas(d) - max_unavailable(d):
        condition = new_condition(
            AVAILABLE, "True", MIN_AVAILABLE_REASON, "Deployment has minimum availability."
        )
    else:
        condition = new_condition(
            AVAILABLE, "False", MIN_UNAVAILABLE_REASON, "Deployment does not have minimum availability."
        )
    set_condition(status, condition)
    return status


def normal_status(status: JSON) -> JSON:
    """A DeploymentStatus as Go serializes it: zero counts and empty conditions left out."""
    out = {k: v for k, v in status.items() if not (k in _STATUS_COUNTS and not v)}
    if not out.get("observedGeneration"):
        out.pop("observedGeneration", None)
    if not out.get("conditions"):
        out.pop("conditions", None)
    return out


# -- the controller ----------------------------------------------------------------------------------------
class DeploymentController:
    def __init__(self, kube: Kube, informers: InformerFactory, events: Events, *, workers: int = 5) -> None:
        self.kube = kube
        self.events = events
        self.deployments = informers.informer(DEPLOYMENTS)
        self.replicasets = informers.informer(REPLICASETS)
        self.pods = informers.informer(PODS)
        self.controller = Controller("deployment", self.reconcile, workers=workers)
        self.controller.watch(self.deployments)
        self.replicasets.add_handler(
            Handler(on_add=self._rs_added, on_update=self._rs_updated, on_delete=self._rs_deleted)
        )
        self.pods.add_handler(Handler(on_delete=self._pod_deleted))
        self._written: dict[str, int] = {}

    # -- event handlers (synchronous, cheap) --------------------------------------------------------
    def _enqueue(self, d: JSON) -> None:
        self.controller.queue.add(object_key(d))

    def _resolve(self, namespace: str, ref: JSON | None) -> JSON | None:
        if not ref_is(ref, "Deployment", "apps"):
            return None
        assert ref is not None
        d = self.deployments.cache.get(f"{namespace}/{ref.get('name')}")
        if d is None or meta(d).get("uid") != ref.get("uid"):
            return None
        return d

    def _matching(self, rs: JSON) -> list[JSON]:
        labels = labels_of(rs)
        return [
            d
            for d in self.deployments.cache.by_index(BY_NAMESPACE, meta(rs).get("namespace") or "")
            if not selector_is_empty((d.get("spec") or {}).get("selector"))
            and selector_matches((d.get("spec") or {}).get("selector"), labels)
        ]

    def _rs_added(self, rs: JSON) -> None:
        if deleting(rs):
            self._rs_deleted(rs)
            return
        namespace = meta(rs).get("namespace") or ""
        ref = controller_ref(rs)
        if ref is not None:
            d = self._resolve(namespace, ref)
            if d is not None:
                self._enqueue(d)
            return
        for d in self._matching(rs):
            self._enqueue(d)

    def _rs_updated(self, old: JSON, new: JSON) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        namespace = meta(new).get("namespace") or ""
        cur_ref, old_ref = controller_ref(new), controller_ref(old)
        ref_changed = (cur_ref or {}).get("uid") != (old_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            d = self._resolve(namespace, old_ref)
            if d is not None:
                self._enqueue(d)
        if cur_ref is not None:
            d = self._resolve(namespace, cur_ref)
            if d is not None:
                self._enqueue(d)
            return
        if ref_changed or labels_of(old) != labels_of(new):
            for d in self._matching(new):
                self._enqueue(d)

    def _rs_deleted(self, rs: JSON) -> None:
        d = self._resolve(meta(rs).get("namespace") or "", controller_ref(rs))
        if d is not None:
            self._enqueue(d)

    def _pod_deleted(self, pod: JSON) -> None:
        """A Recreate rollout waits for the old pods to be gone."""
        namespace = meta(pod).get("namespace") or ""
        ref = controller_ref(pod)
        if not ref_is(ref, "ReplicaSet", "apps"):
            return
        assert ref is not None
        rs = self.replicasets.cache.get(f"{namespace}/{ref.get('name')}")
        if rs is None or meta(rs).get("uid") != ref.get("uid"):
            return
        d = self._resolve(namespace, controller_ref(rs))
        if d is not None and not is_rolling(d):
            self._enqueue(d)

    # -- reconcile ----------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        cached = self.deployments.cache.get(key)
        if cached is None:
            self._written.pop(key, None)
            return None
        bound = log.bind(deployment=key)
        if self._behind_own_write(key, cached):
            bound.debug("cache behind our last write; waiting for its event")
            return None
        sync = _Sync(self, deep_copy(cached), bound)
        try:
            return await sync.run()
        except Conflict as exc:
            if exc.reason == "AlreadyExists":
                raise
            # Written from a stale cache: the newer object's event brings this key back.
            bound.debug("conflict, waiting for the newer object", error=exc.message)
            return None

    def wrote(self, d: JSON) -> None:
        """Remember the revision of our last write of a Deployment (read-your-writes for the cache)."""
        rv = str(meta(d).get("resourceVersion") or "")
        if rv.isdigit():
            self._written[object_key(d)] = int(rv)

    def _behind_own_write(self, key: str, cached: JSON) -> bool:
        written = self._written.get(key)
        rv = str(meta(cached).get("resourceVersion") or "")
        if written is None or not rv.isdigit():
            return False
        if int(rv) >= written:
            del self._written[key]
            return False
        return True


class _Sync:
    """One sync of one Deployment: `d` is a private copy, kept current with what this sync writes."""

    def __init__(self, ctl: DeploymentController, d: JSON, bound: Any) -> None:
        self.ctl = ctl
        self.kube = ctl.kube
        self.events = ctl.events
        self.d = d
        self.log = bound

    @property
    def name(self) -> str:
        return str(self.d["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.d["metadata"].get("namespace") or "")

    async def run(self) -> Result | None:
        d = self.d
        spec = d.get("spec") or {}
        selector = spec.get("selector")
        if not isinstance(selector, dict) or selector_is_empty(selector):
            await self.events(
                d,
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            status = d.get("status") or {}
            if status.get("observedGeneration", 0) < generation_of(d):
                d["status"] = {**status, "observedGeneration": generation_of(d)}
                await self._write_status()
            return None
        rs_list = await self._claim_replica_sets(selector)
        pod_map = self._pod_map(selector, rs_list)
        if deleting(d):
            new_rs, old_rss = await self._get_all(rs_list, create=False)
            await self._sync_deployment_status(old_rss, new_rs)
            return None
        await self._check_paused_conditions()
        if spec.get("paused"):
            await self._sync(rs_list)
            return None
        if await self._is_scaling_event(rs_list):
            await self._sync(rs_list)
            return None
        if is_rolling(d):
            return await self._rollout_rolling(rs_list)
        return await self._rollout_recreate(rs_list, pod_map)

    # -- owned ReplicaSets and pods ------------------------------------------------------------------
    async def _claim_replica_sets(self, selector: JSON) -> list[JSON]:
        uid = self.d["metadata"]["uid"]
        claimed: list[JSON] = []
        recheck: bool | None = None
        for rs in self.ctl.replicasets.cache.by_index(BY_NAMESPACE, self.namespace):
            ref = controller_ref(rs)
            matches = selector_matches(selector, labels_of(rs))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(rs)
                elif not deleting(self.d):
                    self.log.info("releasing replica set", replicaset=object_key(rs))
                    await release(self.kube, REPLICASETS, rs, uid)
                continue
            if deleting(self.d) or not matches or deleting(rs):
                continue
            if recheck is None:
                recheck = await self._still_there()
            if not recheck:
                continue
            adopted = await adopt(
                self.kube, REPLICASETS, rs, new_controller_ref(self.d, "apps/v1", "Deployment")
            )
            if adopted is not None:
                self.log.info("adopted replica set", replicaset=object_key(rs))
                claimed.append(adopted)
        return claimed

    async def _still_there(self) -> bool:
        try:
            fresh = await self.kube.get(DEPLOYMENTS, self.name, self.namespace)
        except NotFound:
            return False
        return meta(fresh).get("uid") == self.d["metadata"]["uid"] and not deleting(fresh)

    def _pod_map(self, selector: JSON, rs_list: list[JSON]) -> dict[str, list[JSON]]:
        """Pods of each owned ReplicaSet (by uid) that match the Deployment's selector."""
        pod_map: dict[str, list[JSON]] = {meta(rs)["uid"]: [] for rs in rs_list}
        for pod in self.ctl.pods.cache.by_index(BY_NAMESPACE, self.namespace):
            if not selector_matches(selector, labels_of(pod)):
                continue
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") in pod_map:
                pod_map[ref["uid"]].append(pod)
        return pod_map

    # -- writes ------------------------------------------------------------------------------------------
    async def _write_status(self) -> None:
        body = {**self.d, "status": normal_status(self.d.get("status") or {})}
        updated = await self.kube.replace_status(DEPLOYMENTS, body)
        self.ctl.wrote(updated)
        self.d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        self.d["status"] = updated.get("status") or {}

    async def _write_revision(self) -> None:
        """The revision annotation is metadata: the sandbox's /status only takes the status (upstream's
        status strategy for Deployments also takes annotations), so it is a patch of its own."""
        m = self.d["metadata"]
        patch = {
            "metadata": {
                "annotations": {REVISION: annotations_of(self.d)[REVISION]},
                "resourceVersion": m["resourceVersion"],
            }
        }
        updated = await self.kube.patch(DEPLOYMENTS, self.name, patch, self.namespace)
        self.ctl.wrote(updated)
        m["resourceVersion"] = updated["metadata"]["resourceVersion"]
        m["annotations"] = updated["metadata"].get("annotations") or {}

    def _set_revision(self, revision: str) -> bool:
        annotations = self.d["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) == revision:
            return False
        annotations[REVISION] = revision
        return True

    async def _scale_rs(self, rs: JSON, new_scale: int) -> tuple[bool, JSON]:
        """Set the size and the replica annotations; (size changed, the ReplicaSet as now stored)."""
        d = self.d
        desired, maximum = spec_replicas(d), spec_replicas(d) + max_surge(d)
        size_changes = spec_replicas(rs) != new_scale
        if not size_changes and not replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        old_scale = spec_replicas(rs)
        body = deep_copy(rs)
        body["spec"]["replicas"] = new_scale
        set_replicas_annotations(body, desired, maximum)
        updated = await self.kube.replace(REPLICASETS, body)
        if size_changes:
            direction = "up" if old_scale < new_scale else "down"
            message = f"Scaled {direction} replica set {meta(rs)['name']} from {old_scale} to {new_scale}"
            self.log.info("scaling replica set", replicaset=meta(rs)["name"], old=old_scale, new=new_scale)
            await self.events(d, NORMAL, "ScalingReplicaSet", message)
        return size_changes, updated

    async def _scale_rs_and_record(self, rs: JSON, new_scale: int) -> tuple[bool, JSON]:
        if spec_replicas(rs) == new_scale:
            return False, rs
        return await self._scale_rs(rs, new_scale)

    # -- new and old ReplicaSets -----------------------------------------------------------------------
    async def _get_all(self, rs_list: list[JSON], *, create: bool) -> tuple[JSON | None, list[JSON]]:
        """Upstream's getAllReplicaSetsAndSyncRevision: (new ReplicaSet or None, old ones)."""
        existing = find_new_rs(self.d, rs_list)
        old_rss = [rs for rs in rs_list if existing is None or meta(rs)["uid"] != meta(existing)["uid"]]
        new_rs = await self._get_new_rs(existing, old_rss, create)
        if new_rs is not None and existing is not None:
            rs_list[:] = [new_rs if meta(rs)["uid"] == meta(new_rs)["uid"] else rs for rs in rs_list]
        return new_rs, old_rss

    async def _get_new_rs(self, existing: JSON | None, old_rss: list[JSON], create: bool) -> JSON | None:
        d = self.d
        new_revision = str(max((revision_of(rs) for rs in old_rss), default=0) + 1)
        if existing is not None:
            rs_copy: JSON = deep_copy(existing)
            annotations_changed = set_new_rs_annotations(d, rs_copy, new_revision, exists=True)
            min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
            if annotations_changed or int(rs_copy["spec"].get("minReadySeconds") or 0) != min_ready:
                rs_copy["spec"]["minReadySeconds"] = min_ready
                updated: JSON = await self.kube.replace(REPLICASETS, rs_copy)
                return updated
            revision_changed = self._set_revision(annotations_of(rs_copy).get(REVISION, ""))
            status_changed = False
            status = d.setdefault("status", {})
            if has_progress_deadline(d) and get_condition(status, PROGRESSING) is None:
                message = f'Found new replica set "{meta(rs_copy)["name"]}"'
                set_condition(status, new_condition(PROGRESSING, "True", FOUND_NEW_RS_REASON, message))
                status_changed = True
            if revision_changed:
                await self._write_revision()
            if status_changed:
                await self._write_status()
            return rs_copy
        if not create:
            return None
        return await self._create_new_rs(old_rss, new_revision)

    async def _create_new_rs(self, old_rss: list[JSON], new_revision: str) -> JSON:
        d = self.d
        spec = d.get("spec") or {}
        status = d.setdefault("status", {})
        template = deep_copy(spec.get("template") or {})
        collision = status.get("collisionCount")
        template_hash = pod_template_hash(template, collision if isinstance(collision, int) else None)
        tmeta = template.setdefault("metadata", {})
        labels = {**(tmeta.get("labels") or {}), POD_TEMPLATE_HASH: template_hash}
        tmeta["labels"] = labels
        selector = deep_copy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: template_hash}
        name = f"{self.name}-{template_hash}"
        new_rs: JSON = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": dict(labels),
                "ownerReferences": [new_controller_ref(d, "apps/v1", "Deployment")],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        replicas = new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = replicas
        set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created = await self.kube.create(REPLICASETS, new_rs, self.namespace)
        except Conflict as exc:
            if exc.reason != "AlreadyExists":
                raise
            found = await self.kube.get(REPLICASETS, name, self.namespace)
            ref = controller_ref(found)
            if (
                ref is not None
                and ref.get("uid") == d["metadata"]["uid"]
                and equal_ignoring_hash(
                    spec.get("template") or {}, (found.get("spec") or {}).get("template") or {}
                )
            ):
                created, already_exists = found, True
            else:  # a hash collision: count it, so the next sync hashes differently
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                self.log.info("hash collision, bumping collisionCount", replicaset=name)
                await self._write_status()
                raise
        except ApiError as exc:
            if namespace_terminating(exc):
                raise
            message = f'Failed to create new replica set "{name}": {exc.message}'
            if has_progress_deadline(d):
                set_condition(status, new_condition(PROGRESSING, "False", FAILED_RS_CREATE_REASON, message))
                try:
                    await self._write_status()
                except ApiError:
                    pass
            await self.events(d, WARNING, FAILED_RS_CREATE_REASON, message)
            raise
        if not already_exists:
            self.log.info("created replica set", replicaset=name, replicas=replicas, revision=new_revision)
            if replicas > 0:
                await self.events(
                    d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}"
                )
        revision_changed = self._set_revision(new_revision)
        status_changed = False
        if not already_exists and has_progress_deadline(d):
            message = f'Created new replica set "{name}"'
            set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_REASON, message))
            status_changed = True
        if revision_changed:
            await self._write_revision()
        if status_changed:
            await self._write_status()
        return created

    # -- paused, scaling, status ---------------------------------------------------------------------
    async def _check_paused_conditions(self) -> None:
        d = self.d
        if not has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        condition = get_condition(status, PROGRESSING)
        if condition is not None and condition.get("reason") == TIMED_OUT_REASON:
            return
        paused_recorded = condition is not None and condition.get("reason") == PAUSED_REASON
        paused = bool((d.get("spec") or {}).get("paused"))
        if paused and not paused_recorded:
            set_condition(
                status, new_condition(PROGRESSING, "Unknown", PAUSED_REASON, "Deployment is paused")
            )
        elif not paused and paused_recorded:
            set_condition(
                status, new_condition(PROGRESSING, "Unknown", RESUMED_REASON, "Deployment is resumed")
            )
        else:
            return
        await self._write_status()

    async def _is_scaling_event(self, rs_list: list[JSON]) -> bool:
        new_rs, old_rss = await self._get_all(rs_list, create=False)
        for rs in active([*old_rss, new_rs]):
            desired = _desired_annotation(rs)
            if desired is not None and desired != spec_replicas(self.d):
                return True
        return False

    async def _sync(self, rs_list: list[JSON]) -> None:
        """Scale (a replicas change, or a paused Deployment) without rolling out."""
        new_rs, old_rss = await self._get_all(rs_list, create=False)
        new_rs, old_rss = await self._scale(new_rs, old_rss)
        if (self.d.get("spec") or {}).get("paused"):
            await self._cleanup(old_rss)
        await self._sync_deployment_status(old_rss, new_rs)

    async def _scale(self, new_rs: JSON | None, old_rss: list[JSON]) -> tuple[JSON | None, list[JSON]]:
        d = self.d
        replicas = spec_replicas(d)
        latest = _active_or_latest(new_rs, old_rss)
        if latest is not None:
            if spec_replicas(latest) != replicas:
                _, updated = await self._scale_rs_and_record(latest, replicas)
                return _swap(new_rs, old_rss, updated)
            return new_rs, old_rss
        if is_saturated(d, new_rs):
            for rs in active(list(old_rss)):
                _, updated = await self._scale_rs_and_record(rs, 0)
                new_rs, old_rss = _swap(new_rs, old_rss, updated)
            return new_rs, old_rss
        if not is_rolling(d):
            return new_rs, old_rss
        all_rss = active([*old_rss, new_rs])
        allowed = replicas + max_surge(d) if replicas > 0 else 0
        to_add = allowed - sum_spec(all_rss)
        if to_add > 0:  # largest first, newer first on ties
            all_rss.sort(key=creation_key, reverse=True)
            all_rss.sort(key=spec_replicas, reverse=True)
        elif to_add < 0:  # largest first, older first on ties
            all_rss.sort(key=creation_key)
            all_rss.sort(key=spec_replicas, reverse=True)
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                proportion = get_proportion(rs, d, to_add, added)
                sizes[meta(rs)["name"]] = spec_replicas(rs) + proportion
                added += proportion
            else:
                sizes[meta(rs)["name"]] = spec_replicas(rs)
        for i, rs in enumerate(all_rss):
            name = meta(rs)["name"]
            if i == 0 and to_add != 0:
                sizes[name] = max(0, sizes[name] + to_add - added)
            _, updated = await self._scale_rs(rs, sizes[name])
            new_rs, old_rss = _swap(new_rs, old_rss, updated)
        return new_rs, old_rss

    async def _sync_deployment_status(self, old_rss: list[JSON], new_rs: JSON | None) -> None:
        all_rss = [*old_rss, *([new_rs] if new_rs is not None else [])]
        status = normal_status(calculate_status(all_rss, new_rs, self.d))
        if status == normal_status(self.d.get("status") or {}):
            return
        self.d["status"] = status
        await self._write_status()

    async def _sync_rollout_status(self, old_rss: list[JSON], new_rs: JSON | None) -> Result | None:
        d = self.d
        all_rss = [*old_rss, *([new_rs] if new_rs is not None else [])]
        status = calculate_status(all_rss, new_rs, d)
        if not has_progress_deadline(d):
            remove_condition(status, PROGRESSING)
        current = get_condition(d.get("status") or {}, PROGRESSING)
        complete_before = (
            status["replicas"] == status["updatedReplicas"]
            and current is not None
            and current.get("reason") == NEW_RS_AVAILABLE_REASON
        )
        now = time.time()
        if has_progress_deadline(d) and not complete_before:
            rs_name = meta(new_rs)["name"] if new_rs is not None else None
            if deployment_complete(d, status):
                message = (
                    f'ReplicaSet "{rs_name}" has successfully progressed.'
                    if rs_name
                    else f'Deployment "{self.name}" has successfully progressed.'
                )
                set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE_REASON, message))
            elif deployment_progressing(d, status):
                message = (
                    f'ReplicaSet "{rs_name}" is progressing.'
                    if rs_name
                    else f'Deployment "{self.name}" is progressing.'
                )
                condition = new_condition(PROGRESSING, "True", RS_UPDATED_REASON, message)
                if current is not None:
                    if current.get("status") == "True":
                        condition["lastTransitionTime"] = current.get("lastTransitionTime")
                    remove_condition(status, PROGRESSING)
                set_condition(status, condition)
            elif deployment_timed_out(d, status, now):
                message = (
                    f'ReplicaSet "{rs_name}" has timed out progressing.'
                    if rs_name
                    else f'Deployment "{self.name}" has timed out progressing.'
                )
                set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT_REASON, message))
        failure = next(
            (
                get_condition(rs.get("status") or {}, REPLICA_FAILURE)
                for rs in ([new_rs] if new_rs is not None else []) + old_rss
                if get_condition(rs.get("status") or {}, REPLICA_FAILURE) is not None
            ),
            None,
        )
        if failure is not None:  # upstream's ReplicaSetToDeploymentCondition
            stamp = failure.get("lastTransitionTime")
            condition = new_condition(
                REPLICA_FAILURE,
                str(failure.get("status")),
                str(failure.get("reason")),
                str(failure.get("message")),
            )
            if stamp:
                condition["lastUpdateTime"] = condition["lastTransitionTime"] = stamp
            set_condition(status, condition)
        else:
            remove_condition(status, REPLICA_FAILURE)
        status = normal_status(status)
        if status == normal_status(d.get("status") or {}):
            return self._requeue_stuck(status, now)
        d["status"] = status
        await self._write_status()
        return None

    def _requeue_stuck(self, status: JSON, now: float) -> Result | None:
        """Come back when the progress deadline passes, so a stuck rollout is reported in time."""
        d = self.d
        current = get_condition(d.get("status") or {}, PROGRESSING)
        if not has_progress_deadline(d) or current is None:
            return None
        if deployment_complete(d, status) or current.get("reason") == TIMED_OUT_REASON:
            return None
        updated = parse_time(current.get("lastUpdateTime"))
        if updated is None:
            return None
        deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
        after = updated + deadline - now
        return Result(requeue_after=max(after, 0.0) + 0.05)

    async def _cleanup(self, old_rss: list[JSON]) -> None:
        """Delete old ReplicaSets beyond revisionHistoryLimit, oldest revision first, if they are empty."""
        limit = (self.d.get("spec") or {}).get("revisionHistoryLimit")
        if not isinstance(limit, int):
            return
        cleanable = [rs for rs in old_rss if not deleting(rs)]
        diff = len(cleanable) - limit
        if diff <= 0:
            return
        cleanable.sort(key=lambda rs: (revision_of(rs), creation_key(rs)))
        for rs in cleanable[:diff]:
            if (
                status_int(rs, "replicas") != 0
                or spec_replicas(rs) != 0
                or generation_of(rs) > status_int(rs, "observedGeneration")
                or deleting(rs)
            ):
                continue
            self.log.info("deleting old replica set", replicaset=meta(rs)["name"], revision=revision_of(rs))
            try:
                await self.kube.delete(REPLICASETS, meta(rs)["name"], self.namespace, uid=meta(rs)["uid"])
            except (NotFound, Conflict):
                continue

    # -- strategies ------------------------------------------------------------------------------------
    async def _rollout_recreate(self, rs_list: list[JSON], pod_map: dict[str, list[JSON]]) -> Result | None:
        new_rs, old_rss = await self._get_all(rs_list, create=False)
        scaled_down = False
        for rs in active(list(old_rss)):
            scaled, updated = await self._scale_rs_and_record(rs, 0)
            if scaled:
                scaled_down = True
                new_rs, old_rss = _swap(new_rs, old_rss, updated)
        if scaled_down:
            return await self._sync_rollout_status(old_rss, new_rs)
        if _old_pods_running(new_rs, old_rss, pod_map):
            return await self._sync_rollout_status(old_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = await self._get_all(rs_list, create=True)
        assert new_rs is not None
        _, new_rs = await self._scale_rs_and_record(new_rs, spec_replicas(self.d))
        if deployment_complete(self.d, self.d.get("status") or {}):
            await self._cleanup(old_rss)
        return await self._sync_rollout_status(old_rss, new_rs)

    async def _rollout_rolling(self, rs_list: list[JSON]) -> Result | None:
        new_rs, old_rss = await self._get_all(rs_list, create=True)
        assert new_rs is not None
        scaled, new_rs = await self._reconcile_new_rs(new_rs, old_rss)
        if scaled:
            return await self._sync_rollout_status(old_rss, new_rs)
        scaled, old_rss = await self._reconcile_old_rss(new_rs, old_rss)
        if scaled:
            return await self._sync_rollout_status(old_rss, new_rs)
        if deployment_complete(self.d, self.d.get("status") or {}):
            await self._cleanup(old_rss)
        return await self._sync_rollout_status(old_rss, new_rs)

    async def _reconcile_new_rs(self, new_rs: JSON, old_rss: list[JSON]) -> tuple[bool, JSON]:
        replicas = spec_replicas(self.d)
        if spec_replicas(new_rs) == replicas:
            return False, new_rs
        if spec_replicas(new_rs) > replicas:
            return await self._scale_rs_and_record(new_rs, replicas)
        target = new_rs_new_replicas(self.d, [*old_rss, new_rs], new_rs)
        return await self._scale_rs_and_record(new_rs, target)

    async def _reconcile_old_rss(self, new_rs: JSON, old_rss: list[JSON]) -> tuple[bool, list[JSON]]:
        d = self.d
        old_active = active(list(old_rss))
        if sum_spec(old_active) == 0:
            return False, old_rss
        if any(status_int(rs, "availableReplicas") > spec_replicas(rs) for rs in old_active):
            # A ReplicaSet status not yet caught up with its last scale down would count pods that are
            # going away as available (upstream stops here with an error); its next status wakes us.
            return False, old_rss
        all_count = sum_spec([*old_active, new_rs])
        min_available = spec_replicas(d) - max_unavailable(d)
        new_unavailable = spec_replicas(new_rs) - status_int(new_rs, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False, old_rss
        total = 0
        # Unhealthy replicas first: they cost no availability.
        old_active.sort(key=creation_key)
        for i, rs in enumerate(old_active):
            if total >= max_scaled_down:
                break
            unhealthy = spec_replicas(rs) - status_int(rs, "availableReplicas")
            if spec_replicas(rs) == 0 or unhealthy <= 0:
                continue
            count = min(max_scaled_down - total, unhealthy)
            _, old_active[i] = await self._scale_rs(rs, spec_replicas(rs) - count)
            total += count
        # Then as many as availability allows, oldest first.
        available = sum_status([*old_active, new_rs], "availableReplicas")
        to_scale_down = available - min_available
        scaled_down = 0
        for i, rs in enumerate(old_active):
            if scaled_down >= to_scale_down:
                break
            if spec_replicas(rs) == 0:
                continue
            count = min(spec_replicas(rs), to_scale_down - scaled_down)
            _, old_active[i] = await self._scale_rs(rs, spec_replicas(rs) - count)
            scaled_down += count
        updated = {meta(rs)["uid"]: rs for rs in old_active}
        old_rss = [updated.get(meta(rs)["uid"], rs) for rs in old_rss]
        return total + scaled_down > 0, old_rss


def _swap(new_rs: JSON | None, old_rss: list[JSON], updated: JSON) -> tuple[JSON | None, list[JSON]]:
    """Put an updated ReplicaSet in place of its older copy."""
    uid = meta(updated)["uid"]
    if new_rs is not None and meta(new_rs)["uid"] == uid:
        return updated, old_rss
    return new_rs, [updated if meta(rs)["uid"] == uid else rs for rs in old_rss]


def _active_or_latest(new_rs: JSON | None, old_rss: list[JSON]) -> JSON | None:
    """The only active ReplicaSet; with none active, the new one or else the newest old one."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=creation_key, reverse=True)
    running = active([*newest_first, new_rs])
    if not running:
        return new_rs if new_rs is not None else newest_first[0]
    if len(running) == 1:
        return running[0]
    return None


def _old_pods_running(new_rs: JSON | None, old_rss: list[JSON], pod_map: dict[str, list[JSON]]) -> bool:
    if sum_status(old_rss, "replicas") > 0:
        return True
    new_uid = meta(new_rs)["uid"] if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        for pod in pods:
            if pod_phase(pod) not in ("Failed", "Succeeded"):
                return True
    return False
