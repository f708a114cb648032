"""One reconcile of one FlinkStateSnapshot (upstream's ``FlinkStateSnapshotController``).

1. The object comes from the informer cache (or this process's own later write of it). One the models
   cannot read gets a ``ValidationError`` Warning and is skipped.
2. Not being deleted: the finalizer ``flinkstatesnapshots.flink.apache.org/finalizer`` is added; the status
   starts as TRIGGER_PENDING. Then observe (IN_PROGRESS: follow the Flink operation, abandon when the job
   stopped), validate (a problem: ``status.error`` and a ``ValidationError`` Warning, nothing triggered),
   reconcile (TRIGGER_PENDING: register an existing savepoint, abandon, or trigger), write the status,
   refresh the labels. Errors are failures: FAILED, ``failures`` + 1, a ``SavepointError`` /
   ``CheckpointError`` Warning; retried (back to TRIGGER_PENDING) after 10 s x 2^(failures-1) unless
   ``backoffLimit`` >= 0 and the failures exceed it. Every non-terminal snapshot is looked at again each
   ``kubernetes.operator.reconcile.interval``; COMPLETED and ABANDONED ones wait for a change.
3. Being deleted: checkpoints, savepoints with ``disposeOnDelete: false`` or no job reference, and
   FAILED / TRIGGER_PENDING / ABANDONED ones just lose the finalizer. An IN_PROGRESS one keeps it; it is
   still observed meanwhile (upstream does not, and such a snapshot could wait forever) so it ends
   COMPLETED (and is disposed), FAILED or ABANDONED. A COMPLETED savepoint is disposed
   (:mod:`.disposal`: through the JobManager, or, our addition, on the local file system for ``file:``
   paths when no JobManager can do it); a failure is a ``CleanupFailed`` Warning, retried each reconcile
   interval.

Validation runs before the reconcile step, as upstream: a snapshot whose job does not exist yet is a
validation error (retried), one whose job exists but does not run is ABANDONED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from flinkop.api import (
    FlinkStateSnapshot,
    ResourceParseError,
    SnapshotState,
    parse_flink_state_snapshot,
)
from flinkop.flink.rest import OperationFailed
from flinkop.reconcilers.context import Services
from flinkop.runtime import ApiError, NotFound, Result, SkipObject
from flinkop.snapshots import operations
from flinkop.snapshots.decisions import (
    RETRY_BASE_SECONDS,
    Deletion,
    deletion_action,
    requeue_after,
    retry_due_in,
)
from flinkop.snapshots.disposal import dispose
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS
from flinkop.snapshots.run import SNAPSHOT, SnapshotRun
from flinkop.snapshots.target import JobTarget, TargetFinder
from flinkop.snapshots.writer import SnapshotWriter
from flinkop.validation import validate_snapshot

JSON = dict[str, Any]
FINALIZER = FlinkStateSnapshot.finalizer()
MIN_REQUEUE = 0.1
log = structlog.get_logger("flinkop.snapshots")


class FlinkStateSnapshotReconciler:
    """The reconcile function of the FlinkStateSnapshot controller (``reconcile(key)``).

    ``lookup``: the snapshot informer cache; ``deployments``: the FlinkDeployment informer cache.
    ``retry_base``: the first retry delay after a failure (10 s upstream; tests shorten it).
    """

    def __init__(
        self,
        services: Services,
        lookup: Callable[[str], JSON | None],
        deployments: Callable[[str], JSON | None],
        *,
        retry_base: float = RETRY_BASE_SECONDS,
    ) -> None:
        self.services = services
        self.lookup = lookup
        self.writer = SnapshotWriter(services.kube)
        self.targets = TargetFinder(services.kube, deployments, services.operator_config)
        self.retry_base = retry_base

    def forget(self, key: str) -> None:
        self.writer.forget(key)

    async def reconcile(self, key: str) -> Result | None:
        obj = self.lookup(key)
        if obj is None:
            self.forget(key)
            return None
        namespace, _, name = key.partition("/")
        with structlog.contextvars.bound_contextvars(namespace=namespace, name=name):
            obj = self.writer.latest(obj)
            try:
                snapshot = parse_flink_state_snapshot(obj)
            except ResourceParseError as error:
                message = "Invalid FlinkStateSnapshot: " + "; ".join(error.problems)
                log.error(message)
                await self.services.events.record(obj, "Warning", "ValidationError", message, SNAPSHOT)
                raise SkipObject(message) from None
            run = SnapshotRun(self.services, self.writer, snapshot, obj, self.services.operator_config())
            if snapshot.metadata.deletion_timestamp:
                return await self._cleanup(run)
            if FINALIZER not in run.finalizers:
                await run.set_finalizers([*run.finalizers, FINALIZER])
            return await self._reconcile(run)

    # -- reconcile -----------------------------------------------------------------------------------
    async def _reconcile(self, run: SnapshotRun) -> Result | None:
        snapshot = run.snapshot
        target = await self.targets.find(snapshot)
        try:
            await operations.observe(run, target)
            problem = validate_snapshot(snapshot, target.resource if target is not None else None)
            if problem is not None:
                await self._invalid(run, problem)
            else:
                self._retry_if_due(run)
                if snapshot.status.state == SnapshotState.TRIGGER_PENDING:
                    await operations.trigger(run, target)
        except (asyncio.CancelledError, ApiError):
            raise
        except Exception as error:
            await operations.fail(run, error)
        await run.write_status()
        await run.refresh_labels()
        return self._next(run)

    async def _invalid(self, run: SnapshotRun, problem: str) -> None:
        run.log.error(f"Validation failed: {problem}")
        run.snapshot.status.error = problem
        await run.event("Warning", "ValidationError", problem)

    def _retry_if_due(self, run: SnapshotRun) -> None:
        due = retry_due_in(run.snapshot, run.now(), self.retry_base)
        if due is not None and due <= 0:
            run.log.info(f"Retrying {run.kind_word.lower()}", failures=run.snapshot.status.failures)
            run.snapshot.status.state = SnapshotState.TRIGGER_PENDING

    def _next(self, run: SnapshotRun) -> Result | None:
        status = run.snapshot.status
        if status.state == SnapshotState.FAILED:
            due = retry_due_in(run.snapshot, run.now(), self.retry_base)
            if due is None:
                run.log.warning(f"{run.kind_word} failed, no more retries", failures=status.failures)
                return None
            return Result(requeue_after=max(due, MIN_REQUEUE))
        after = requeue_after(status.state, run.operator.reconcile_interval)
        if after is not None and run.requeue_hint is not None:
            after = min(after, run.requeue_hint)
        return None if after is None else Result(requeue_after=after)

    # -- deletion ------------------------------------------------------------------------------------
    async def _cleanup(self, run: SnapshotRun) -> Result | None:
        # The cache may still hold the object as it was before this process removed its finalizer.
        meta = run.obj["metadata"]
        try:
            fresh = await self.services.kube.get(FLINK_STATE_SNAPSHOTS, meta["name"], meta.get("namespace"))
        except NotFound:
            self.forget(run.key)
            return None
        if (fresh.get("metadata") or {}).get("uid") != meta.get("uid"):
            return None  # a new object of the same name: its own events bring it here
        run.obj = fresh
        if FINALIZER not in run.finalizers:
            self.forget(run.key)
            return None
        run.snapshot = parse_flink_state_snapshot(fresh)
        action = deletion_action(run.snapshot)
        target: JobTarget | None = None
        if action != Deletion.REMOVE_FINALIZER:
            target = await self.targets.find(run.snapshot)
        if action == Deletion.WAIT:
            await self._observe_while_deleting(run, target)
            await run.write_status()
            action = deletion_action(run.snapshot)
            if action == Deletion.WAIT:
                run.log.info("Snapshot in progress, deletion waits for it")
                return Result(requeue_after=run.operator.reconcile_interval)
        if action == Deletion.DISPOSE:
            path = run.snapshot.status.path or ""
            problem = await dispose(run, target, path)
            if problem is not None:
                run.log.error("Savepoint cleanup failed", error=problem)
                await run.event("Warning", "CleanupFailed", problem)
                return Result(requeue_after=run.operator.reconcile_interval)
        try:
            await run.set_finalizers([f for f in run.finalizers if f != FINALIZER])
        except NotFound:
            pass
        run.log.info("Snapshot cleaned up, finalizer removed")
        self.forget(run.key)
        return None

    async def _observe_while_deleting(self, run: SnapshotRun, target: JobTarget | None) -> None:
        """A failed operation wrote nothing (FAILED: nothing to dispose); an unreachable JobManager is
        waited for."""
        try:
            await operations.observe(run, target)
        except (asyncio.CancelledError, ApiError):
            raise
        except OperationFailed as error:
            await operations.fail(run, error)
        except Exception as error:
            run.log.warning("Snapshot in progress could not be observed", error=repr(error))


__all__ = ["FINALIZER", "FlinkStateSnapshotReconciler"]
