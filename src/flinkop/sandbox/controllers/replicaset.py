"""The ReplicaSet controller: keeps `spec.replicas` pods of the template running and reports them.

As kube-controller-manager's (pkg/controller/replicaset), observed through the API:
- pods are the active ones (not terminal, no deletionTimestamp) in the namespace that carry a
  controller reference to the ReplicaSet and match its selector; orphans that match are adopted,
  owned pods that stopped matching are released;
- missing pods are created from the template with `generateName: <rs>-`, labels, annotations and
  finalizers of the template and a controller reference (blockOwnerDeletion), in slow-start batches
  1, 2, 4, ...; extra pods are deleted, the least established first (unscheduled, then pending, then
  not ready, then by deletion cost, pods doubled up on a node, shorter readiness, more restarts,
  newer);
- at most `burst_replicas` creates or deletes per sync, and none while earlier ones are not yet seen
  in the cache (expectations);
- status (through /status, with the resourceVersion): replicas, fullyLabeledReplicas, readyReplicas,
  availableReplicas (ready for minReadySeconds), observedGeneration, and a ReplicaFailure condition
  while creates or deletes fail.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from flinkop.runtime.cache import BY_NAMESPACE, object_key
from flinkop.runtime.client import ApiError, Conflict, NotFound
from flinkop.runtime.controller import Controller, Result, SkipObject
from flinkop.runtime.events import NORMAL, WARNING
from flinkop.runtime.informer import Handler, InformerFactory
from flinkop.runtime.kube import Kube
from flinkop.sandbox.controllers.common import (
    PODS,
    REPLICASETS,
    Events,
    adopt,
    available_at,
    controller_ref,
    deep_copy,
    deleting,
    generation_of,
    get_condition,
    is_pod_active,
    is_pod_ready,
    labels_of,
    meta,
    namespace_terminating,
    new_controller_ref,
    pod_phase,
    ready_since,
    ref_is,
    release,
    rfc3339,
    selector_is_empty,
    selector_matches,
    spec_replicas,
    split_key,
)
from flinkop.sandbox.controllers.expectations import Expectations

JSON = dict[str, Any]
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}

log = structlog.get_logger("flinkop.sandbox.controllers.replicaset")


class ReplicaFailure(Exception):
    """Creating or deleting pods failed; the status carries it as the ReplicaFailure condition."""

    def __init__(self, reason: str, error: Exception) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


class ReplicaSetController:
    def __init__(
        self,
        kube: Kube,
        informers: InformerFactory,
        events: Events,
        *,
        workers: int = 5,
        burst_replicas: int = BURST_REPLICAS,
    ) -> None:
        self.kube = kube
        self.events = events
        self.burst_replicas = burst_replicas
        self.expectations = Expectations()
        self.replicasets = informers.informer(REPLICASETS)
        self.pods = informers.informer(PODS)
        self.controller = Controller("replicaset", self.reconcile, workers=workers)
        self.controller.watch(self.replicasets)
        self.replicasets.add_handler(Handler(on_delete=self._rs_deleted))
        self.pods.add_handler(
            Handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        )

    # -- event handlers (synchronous, cheap) --------------------------------------------------------
    def _enqueue(self, key: str) -> None:
        self.controller.queue.add(key)

    def _rs_deleted(self, rs: JSON) -> None:
        self.expectations.delete(object_key(rs))

    def _resolve(self, namespace: str, ref: JSON | None) -> JSON | None:
        """The ReplicaSet a controller reference points at, if it is the one in the cache."""
        if not ref_is(ref, "ReplicaSet", "apps"):
            return None
        assert ref is not None
        rs = self.replicasets.cache.get(f"{namespace}/{ref.get('name')}")
        if rs is None or meta(rs).get("uid") != ref.get("uid"):
            return None
        return rs

    def _matching(self, pod: JSON) -> list[JSON]:
        """ReplicaSets that would adopt this orphan (upstream's GetPodReplicaSets)."""
        labels = labels_of(pod)
        return [
            rs
            for rs in self.replicasets.cache.by_index(BY_NAMESPACE, meta(pod).get("namespace") or "")
            if not selector_is_empty((rs.get("spec") or {}).get("selector"))
            and selector_matches((rs.get("spec") or {}).get("selector"), labels)
        ]

    def _pod_added(self, pod: JSON) -> None:
        if deleting(pod):  # e.g. seen first at a relist: a deletion, and no adoption
            self._pod_deleted(pod)
            return
        namespace = meta(pod).get("namespace") or ""
        ref = controller_ref(pod)
        if ref is not None:
            rs = self._resolve(namespace, ref)
            if rs is not None:
                key = object_key(rs)
                self.expectations.creation_observed(key)
                self._enqueue(key)
            return
        for rs in self._matching(pod):
            self._enqueue(object_key(rs))

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return  # a resync: every ReplicaSet is resynced on its own
        namespace = meta(new).get("namespace") or ""
        labels_changed = labels_of(old) != labels_of(new)
        if deleting(new):
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = controller_ref(new), controller_ref(old)
        ref_changed = (cur_ref or {}).get("uid") != (old_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            old_rs = self._resolve(namespace, old_ref)
            if old_rs is not None:
                self._enqueue(object_key(old_rs))
        if cur_ref is not None:
            rs = self._resolve(namespace, cur_ref)
            if rs is not None:
                key = object_key(rs)
                self._enqueue(key)
                min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
                if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
                    self.controller.queue.add_after(key, float(min_ready))
            return
        if labels_changed or ref_changed:
            for rs in self._matching(new):
                self._enqueue(object_key(rs))

    def _pod_deleted(self, pod: JSON) -> None:
        rs = self._resolve(meta(pod).get("namespace") or "", controller_ref(pod))
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed(key, object_key(pod))
        self._enqueue(key)

    # -- reconcile ----------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        cached = self.replicasets.cache.get(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        bound = log.bind(replicaset=key)
        try:
            return await self._sync(key, cached, bound)
        except Conflict as exc:
            if exc.reason == "AlreadyExists":
                raise
            # Written from a stale copy (of the ReplicaSet or a pod): the newer object's event brings
            # this key back, so there is nothing to retry with backoff.
            bound.debug("conflict, waiting for the newer object", error=exc.message)
            return None

    async def _sync(self, key: str, rs: JSON, bound: Any) -> Result | None:
        spec = rs.get("spec") or {}
        selector = spec.get("selector")
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if (
            not isinstance(selector, dict)
            or selector_is_empty(selector)
            or not selector_matches(selector, template_labels)
        ):
            # kube-apiserver rejects these; creating pods the selector does not see would never end
            raise SkipObject("spec.selector is empty or does not match spec.template.metadata.labels")
        needs_sync = self.expectations.satisfied(key)
        namespace, _ = split_key(key)
        active = [p for p in self.pods.cache.by_index(BY_NAMESPACE, namespace) if is_pod_active(p)]
        pods = await self._claim_pods(rs, selector, active)
        failure: ReplicaFailure | None = None
        if needs_sync and not deleting(rs):
            try:
                await self._manage_replicas(rs, pods, bound)
            except ReplicaFailure as exc:
                failure = exc
        status, next_available = self._calculate_status(rs, pods, failure)
        await self._update_status(rs, status, bound)
        if failure is not None:
            raise failure.error
        waits = [w for w in (next_available, self.expectations.wait_left(key)) if w is not None]
        return Result(requeue_after=min(waits)) if waits else None

    async def _claim_pods(self, rs: JSON, selector: JSON, pods: list[JSON]) -> list[JSON]:
        """Upstream's ClaimPods: keep ours that match, release ours that do not, adopt matching orphans."""
        uid = meta(rs)["uid"]
        claimed: list[JSON] = []
        recheck: bool | None = None
        for pod in pods:
            ref = controller_ref(pod)
            matches = selector_matches(selector, labels_of(pod))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(pod)
                elif not deleting(rs):
                    log.info("releasing pod", replicaset=object_key(rs), pod=object_key(pod))
                    await release(self.kube, PODS, pod, uid)
                continue
            if deleting(rs) or not matches or deleting(pod):
                continue
            if recheck is None:  # upstream's RecheckDeletionTimestamp: adopt only for a live ReplicaSet
                recheck = await self._still_there(rs)
            if not recheck:
                continue
            adopted = await adopt(self.kube, PODS, pod, new_controller_ref(rs, "apps/v1", "ReplicaSet"))
            if adopted is not None:
                log.info("adopted pod", replicaset=object_key(rs), pod=object_key(pod))
                claimed.append(adopted)
        return claimed

    async def _still_there(self, rs: JSON) -> bool:
        m = meta(rs)
        try:
            fresh = await self.kube.get(REPLICASETS, m["name"], m.get("namespace"))
        except NotFound:
            return False
        return meta(fresh).get("uid") == m["uid"] and not deleting(fresh)

    async def _manage_replicas(self, rs: JSON, pods: list[JSON], bound: Any) -> None:
        key = object_key(rs)
        diff = len(pods) - spec_replicas(rs)
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            bound.info("creating pods", want=spec_replicas(rs), have=len(pods), creating=count)
            created, error = await slow_start_batch(
                count, SLOW_START_INITIAL_BATCH, lambda: self._create_pod(rs)
            )
            for _ in range(count - created):  # never attempted or failed: no event will come for them
                self.expectations.creation_observed(key)
            if error is not None:
                raise ReplicaFailure("FailedCreate", error)
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            victims = pods_to_delete(pods, self._related_pods(rs), count)
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            bound.info("deleting pods", want=spec_replicas(rs), have=len(pods), deleting=count)
            results = await asyncio.gather(*(self._delete_pod(rs, pod) for pod in victims))
            errors = [e for e in results if e is not None]
            if errors:
                raise ReplicaFailure("FailedDelete", errors[0])

    async def _create_pod(self, rs: JSON) -> None:
        template = (rs.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        m = meta(rs)
        pod_meta: JSON = {
            "generateName": f"{m['name']}-",
            "namespace": m.get("namespace"),
            "ownerReferences": [new_controller_ref(rs, "apps/v1", "ReplicaSet")],
        }
        for field in ("labels", "annotations", "finalizers"):
            if tmeta.get(field):
                pod_meta[field] = deep_copy(tmeta[field])
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": pod_meta,
            "spec": deep_copy(template.get("spec")),
        }
        try:
            pod = await self.kube.create(PODS, body, m.get("namespace"))
        except ApiError as exc:
            if namespace_terminating(exc):
                return  # every further create fails too; nothing to report
            await self.events(rs, WARNING, "FailedCreate", f"Error creating: {exc.message}")
            raise
        await self.events(rs, NORMAL, "SuccessfulCreate", f"Created pod: {meta(pod)['name']}")

    async def _delete_pod(self, rs: JSON, pod: JSON) -> Exception | None:
        m = meta(pod)
        try:
            await self.kube.delete(PODS, m["name"], m.get("namespace"), uid=m.get("uid"))
        except (NotFound, Conflict) as exc:  # gone, or a different pod by now: no deletion will be seen
            self.expectations.deletion_observed(object_key(rs), object_key(pod))
            if isinstance(exc, NotFound):
                return None
            return exc
        except ApiError as exc:
            self.expectations.deletion_observed(object_key(rs), object_key(pod))
            await self.events(rs, WARNING, "FailedDelete", f"Error deleting: {exc.message}")
            return exc
        await self.events(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {m['name']}")
        return None

    def _related_pods(self, rs: JSON) -> list[JSON]:
        """Active pods of this ReplicaSet and of its siblings (same controller), for the doubled-up rank."""
        namespace = meta(rs).get("namespace") or ""
        owner = controller_ref(rs)
        siblings = {meta(rs)["uid"]}
        if owner is not None:
            for other in self.replicasets.cache.by_index(BY_NAMESPACE, namespace):
                other_owner = controller_ref(other)
                if other_owner is not None and other_owner.get("uid") == owner.get("uid"):
                    siblings.add(meta(other)["uid"])
        related = []
        for pod in self.pods.cache.by_index(BY_NAMESPACE, namespace):
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") in siblings and is_pod_active(pod):
                related.append(pod)
        return related

    # -- status -------------------------------------------------------------------------------------
    def _calculate_status(
        self, rs: JSON, pods: list[JSON], failure: ReplicaFailure | None
    ) -> tuple[JSON, float | None]:
        """The new status, and in how many seconds a ready pod becomes available (minReadySeconds)."""
        spec = rs.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        fully_labeled = ready = available = 0
        next_available: float | None = None
        for pod in pods:
            labels = labels_of(pod)
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_pod_ready(pod):
                ready += 1
                at = available_at(pod, min_ready)
                if at is not None and (min_ready <= 0 or at < now):
                    available += 1
                elif at is not None and math.isfinite(at):
                    wait = at - now + 0.05
                    next_available = wait if next_available is None else min(next_available, wait)
        old = rs.get("status") or {}
        status: JSON = {"replicas": len(pods)}
        if fully_labeled:
            status["fullyLabeledReplicas"] = fully_labeled
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        if generation_of(rs):
            status["observedGeneration"] = generation_of(rs)
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        current_failure = get_condition(old, "ReplicaFailure")
        if failure is not None:
            conditions.append(
                current_failure
                or {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": rfc3339(),
                    "reason": failure.reason,
                    "message": str(failure.error),
                }
            )
        if conditions:
            status["conditions"] = conditions
        return status, next_available

    async def _update_status(self, rs: JSON, status: JSON, bound: Any) -> None:
        if (rs.get("status") or {}) == status:
            return
        current = rs
        for attempt in range(2):
            body = {**deep_copy(current), "status": status}
            try:
                await self.kube.replace_status(REPLICASETS, body)
                bound.debug(
                    "status updated",
                    replicas=status.get("replicas", 0),
                    ready=status.get("readyReplicas", 0),
                    available=status.get("availableReplicas", 0),
                )
                return
            except NotFound:
                return
            except Conflict:
                if attempt:
                    raise
                m = meta(rs)
                try:
                    current = await self.kube.get(REPLICASETS, m["name"], m.get("namespace"))
                except NotFound:
                    return
                if meta(current).get("uid") != m.get("uid"):
                    return


# -- helpers --------------------------------------------------------------------------------------------
async def slow_start_batch(
    count: int, initial: int, call: Callable[[], Awaitable[None]]
) -> tuple[int, Exception | None]:
    """Run `call` `count` times in batches of 1, 2, 4, ... (concurrently within a batch), stopping after
    the first batch with a failure. Returns the successes and the first error."""
    done = 0
    batch = min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(call() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if not isinstance(error, Exception):
                raise error  # cancellation and the like
        done += batch - len(errors)
        if errors:
            first = errors[0]
            assert isinstance(first, Exception)
            return done, first
        batch = min(2 * batch, count - done)
    return done, None


def _max_restarts(pod: JSON) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: JSON) -> int:
    value = (meta(pod).get("annotations") or {}).get(DELETION_COST)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def pods_to_delete(pods: list[JSON], related: list[JSON], count: int) -> list[JSON]:
    """The `count` pods to remove first (upstream's ActivePodsWithRanks order, minus its logarithmic
    bucketing of ready times): unscheduled, then Pending < Unknown < Running, then not ready, then lower
    deletion cost, then pods with more related pods on their node, then ready more recently, then more
    restarts, then newer."""
    if count >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            on_node[node] = on_node.get(node, 0) + 1

    def rank(pod: JSON) -> tuple[Any, ...]:
        node = (pod.get("spec") or {}).get("nodeName") or ""
        ready = is_pod_ready(pod)
        since = ready_since(pod) if ready else None
        created = meta(pod).get("creationTimestamp") or ""
        return (
            1 if node else 0,
            _PHASE_RANK.get(pod_phase(pod), 0),
            1 if ready else 0,
            _deletion_cost(pod),
            -on_node.get(node, 0) if node else 0,
            -(since if since is not None else math.inf),
            -_max_restarts(pod),
            _Reverse(str(created)),
        )

    return sorted(pods, key=rank)[:count]


class _Reverse:
    """Sorts strings in reverse (newer creation timestamps first); an empty one first of all."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Reverse) -> bool:
        if not self.value or not other.value:
            return not self.value and bool(other.value)
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)
