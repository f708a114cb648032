"""The savepoint manager of FlinkDeployments: triggers manual and periodic savepoints and checkpoints,
follows legacy triggers to their end, and keeps the snapshot history within its limits.

It reads and writes only the typed status of the resource, FlinkStateSnapshot objects and the JobManager's
REST API; the decisions are the pure functions of :mod:`.triggers`, :mod:`.retention`, :mod:`.legacy` and
:mod:`.nonces`. The FlinkDeployment reconciler calls :meth:`SavepointManager.observe` after observing the
job and :meth:`SavepointManager.trigger` when the spec did not change and the job runs.
"""

from __future__ import annotations

from datetime import datetime

from flinkop.api import (
    FlinkJobState,
    FlinkStateSnapshot,
    JobKind,
    SnapshotState,
    SnapshotTriggerType,
)
from flinkop.flink.rest import (
    FlinkClientError,
    FlinkRestClient,
    JobNotFound,
    OperationState,
    TriggerNotFound,
)
from flinkop.reconcilers.context import OPERATOR, ResourceContext
from flinkop.runtime import Conflict, NotFound
from flinkop.savepoints import legacy, settings
from flinkop.savepoints.kinds import SnapshotKind
from flinkop.savepoints.nonces import mark_nonce_handled, nonce_changed, nonce_of, reconciled_nonce
from flinkop.savepoints.retention import SnapshotEntry, legacy_history_to_dispose, snapshots_to_delete
from flinkop.savepoints.schedule import Schedule, ScheduleError, parse_schedule
from flinkop.savepoints.triggers import (
    checkpoint_trigger_supported,
    cold_last_trigger,
    periodic_due,
    wanted_trigger,
)
from flinkop.snapshots.resources import (
    FLINK_STATE_SNAPSHOTS,
    LABEL_TRIGGER_TYPE,
    cached_snapshots_of,
    create_snapshot,
    snapshot_body,
    snapshots_of,
)

RETAINED_TRIGGER_TYPES = frozenset({SnapshotTriggerType.PERIODIC.value, SnapshotTriggerType.UPGRADE.value})
IN_FLIGHT = frozenset({SnapshotState.TRIGGER_PENDING, SnapshotState.IN_PROGRESS})
DISPOSAL_TIMEOUT = 30.0


def _rfc3339_ms(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _trigger_type(snapshot: FlinkStateSnapshot) -> str | None:
    return (snapshot.metadata.labels or {}).get(LABEL_TRIGGER_TYPE)


def _is_kind(snapshot: FlinkStateSnapshot, kind: SnapshotKind) -> bool:
    return snapshot.spec.is_savepoint == (kind == SnapshotKind.SAVEPOINT)


def _entry(snapshot: FlinkStateSnapshot) -> SnapshotEntry:
    return SnapshotEntry(
        name=snapshot.name,
        created_ms=_rfc3339_ms(snapshot.metadata.creation_timestamp) or 0,
        completed=snapshot.status.state == SnapshotState.COMPLETED,
        in_flight=snapshot.status.state in IN_FLIGHT,
    )


class SavepointManager:
    """One per operator process; remembers the last periodic trigger of each resource (by UID)."""

    def __init__(self) -> None:
        self._last_periodic: dict[tuple[str, SnapshotKind], datetime] = {}

    def forget(self, uid: str) -> None:
        for key in [k for k in self._last_periodic if k[0] == uid]:
            del self._last_periodic[key]

    # -- observe -----------------------------------------------------------------------------------------
    async def observe(self, ctx: ResourceContext) -> None:
        """Follow legacy triggers in flight (or abandon them when the job stopped running), then apply the
        history limits. Safe to call on every reconcile: nothing but bookkeeping unless the job runs."""
        status = ctx.deployment.status
        if ctx.deployment.spec.job is None:
            return  # a session cluster has no job of its own
        if status.job_status.state != FlinkJobState.RUNNING:
            for kind in SnapshotKind:
                if legacy.pending(status, kind):
                    await self._abandon(ctx, kind)
            return
        for kind in SnapshotKind:
            if legacy.pending(status, kind):
                await self._poll(ctx, kind)
        if ctx.operator.savepoint_cleanup_enabled:
            await self._retention(ctx)

    async def _abandon(self, ctx: ResourceContext, kind: SnapshotKind) -> None:
        status = ctx.deployment.status
        trigger_type = legacy.trigger_type_of(status, kind)
        ctx.log.error(f"Job is not running, cancelling {kind.value} operation")
        if trigger_type == SnapshotTriggerType.MANUAL:
            mark_nonce_handled(ctx.deployment, kind)
        legacy.reset_trigger(status, kind)
        message = legacy.failure_message(kind, trigger_type, nonce_of(ctx.deployment.spec, kind))
        await ctx.event("Warning", legacy.error_reason(kind), message, OPERATOR)

    async def _poll(self, ctx: ResourceContext, kind: SnapshotKind) -> None:
        status = ctx.deployment.status
        info = (
            status.job_status.savepoint_info
            if kind == SnapshotKind.SAVEPOINT
            else status.job_status.checkpoint_info
        )
        job_id, trigger_id = status.job_status.job_id, info.trigger_id
        assert trigger_id is not None
        ctx.log.info(f"Observing {kind.value} status.")
        failure: str | None = None
        location: str | None = None
        if job_id is None:
            failure = "the job id is not known"
        else:
            rest = self._rest(ctx)
            try:
                if kind == SnapshotKind.SAVEPOINT:
                    result = await rest.savepoint_status(job_id, trigger_id)
                else:
                    result = await rest.checkpoint_status(job_id, trigger_id)
            except (TriggerNotFound, JobNotFound) as error:
                # the JobManager forgets trigger ids when it restarts: such a trigger will never end
                failure = str(error)
            except FlinkClientError as error:
                ctx.log.warning(f"Could not observe the {kind.value}, trying again", error=str(error))
                return
            else:
                if not result.done:
                    ctx.log.info(f"{kind.capitalized} operation not finished yet...")
                    return
                if result.state == OperationState.FAILED:
                    cause = result.failure_cause
                    failure = (cause.message if cause is not None else None) or "failed"
                location = result.location
        if failure is not None:
            await self._failed(ctx, kind, failure)
            return
        self._completed(ctx, kind, location)

    def _completed(self, ctx: ResourceContext, kind: SnapshotKind, location: str | None) -> None:
        status = ctx.deployment.status
        trigger_type = legacy.trigger_type_of(status, kind)
        timestamp = legacy.trigger_timestamp_of(status, kind) or ctx.now_ms()
        nonce = nonce_of(ctx.deployment.spec, kind) if trigger_type == SnapshotTriggerType.MANUAL else None
        if trigger_type == SnapshotTriggerType.MANUAL:
            mark_nonce_handled(ctx.deployment, kind)
        if kind == SnapshotKind.SAVEPOINT:
            info = status.job_status.savepoint_info
            legacy.record_savepoint(
                status,
                location or "",
                trigger_type=trigger_type,
                format_type=info.format_type or settings.savepoint_format(ctx),
                time_stamp_ms=timestamp,
                trigger_nonce=nonce,
            )
            ctx.log.info("Savepoint completed", location=location)
        else:
            cinfo = status.job_status.checkpoint_info
            legacy.record_checkpoint(
                status,
                trigger_type=trigger_type,
                format_type=cinfo.format_type or settings.checkpoint_type(ctx),
                time_stamp_ms=timestamp,
                trigger_nonce=nonce,
            )
            ctx.log.info("Checkpoint completed")

    async def _failed(self, ctx: ResourceContext, kind: SnapshotKind, cause: str) -> None:
        status = ctx.deployment.status
        trigger_type = legacy.trigger_type_of(status, kind)
        grace = (
            ctx.operator.savepoint_trigger_grace_period
            if kind == SnapshotKind.SAVEPOINT
            else ctx.operator.checkpoint_trigger_grace_period
        )
        first_line = cause.strip().splitlines()[0] if cause.strip() else cause
        if legacy.grace_period_ended(legacy.trigger_timestamp_of(status, kind), grace, ctx.now_ms()):
            ctx.log.error(
                f"{kind.capitalized} attempt failed after grace period. Won't be retried again: {first_line}"
            )
            if trigger_type == SnapshotTriggerType.MANUAL:
                mark_nonce_handled(ctx.deployment, kind)
        else:
            # the nonce stays unhandled: the next reconcile triggers it again
            ctx.log.warning(f"{kind.capitalized} failed within grace period, retrying: {first_line}")
        message = legacy.failure_message(kind, trigger_type, nonce_of(ctx.deployment.spec, kind))
        await ctx.event("Warning", legacy.error_reason(kind), message, OPERATOR)
        legacy.reset_trigger(status, kind)

    # -- trigger -----------------------------------------------------------------------------------------
    async def trigger(self, ctx: ResourceContext) -> bool:
        """Trigger a manual or periodic savepoint, else checkpoint, when one is wanted. True when one was
        triggered (the status changed and must be written)."""
        if ctx.deployment.spec.job is None or ctx.deployment.status.job_status.state != FlinkJobState.RUNNING:
            return False
        for kind in SnapshotKind:
            if await self._trigger(ctx, kind):
                return True
        return False

    async def _trigger(self, ctx: ResourceContext, kind: SnapshotKind) -> bool:
        status = ctx.deployment.status
        nonce = nonce_of(ctx.deployment.spec, kind)
        handled = reconciled_nonce(status, kind)
        in_progress = legacy.pending(status, kind)
        due = False
        if not in_progress and not nonce_changed(nonce, handled):
            schedule = self._schedule(ctx, kind)
            if schedule is not None:
                due = periodic_due(schedule, await self._last_trigger(ctx, kind), ctx.now())
        trigger_type = wanted_trigger(
            nonce=nonce, handled_nonce=handled, in_progress=in_progress, periodic_due=due
        )
        if trigger_type is None:
            return False
        if kind == SnapshotKind.CHECKPOINT and not checkpoint_trigger_supported(
            ctx.deployment.spec.flink_version
        ):
            what = "Manual" if trigger_type == SnapshotTriggerType.MANUAL else "Automatic"
            ctx.log.warning(f"{what} checkpoint triggering is not supported (requires Flink 1.17+)")
            return False
        ctx.log.info(f"Triggering new {kind.value}", trigger_type=trigger_type.value)
        if settings.snapshot_resources_enabled(ctx):
            triggered = await self._create_resource(ctx, kind, trigger_type)
        else:
            triggered = await self._trigger_rest(ctx, kind, trigger_type)
        if triggered and trigger_type == SnapshotTriggerType.PERIODIC:
            self._last_periodic[(ctx.deployment.metadata.uid or ctx.key, kind)] = ctx.now()
        return triggered

    def _schedule(self, ctx: ResourceContext, kind: SnapshotKind) -> Schedule | None:
        text = (
            ctx.operator.periodic_savepoint_interval
            if kind == SnapshotKind.SAVEPOINT
            else ctx.operator.periodic_checkpoint_interval
        )
        try:
            return parse_schedule(text)
        except ScheduleError as error:
            ctx.log.warning(
                f"Automatic {kind.value} triggering is configured but cannot be evaluated: {error}"
            )
            return None

    async def _last_trigger(self, ctx: ResourceContext, kind: SnapshotKind) -> datetime:
        key = (ctx.deployment.metadata.uid or ctx.key, kind)
        cached = self._last_periodic.get(key)
        if cached is not None:
            return cached
        newest: int | None = None
        if ctx.services.snapshot_crd_installed:
            for snapshot in await self._snapshots(ctx):
                if (
                    _is_kind(snapshot, kind)
                    and snapshot.status.state == SnapshotState.COMPLETED
                    and _trigger_type(snapshot) == SnapshotTriggerType.PERIODIC.value
                ):
                    created = _rfc3339_ms(snapshot.metadata.creation_timestamp)
                    if created is not None and (newest is None or created > newest):
                        newest = created
        job_status = ctx.deployment.status.job_status
        legacy_ms = (
            job_status.savepoint_info.last_periodic_savepoint_timestamp
            if kind == SnapshotKind.SAVEPOINT
            else job_status.checkpoint_info.last_periodic_checkpoint_timestamp
        )
        created_ms = _rfc3339_ms(ctx.deployment.metadata.creation_timestamp) or ctx.now_ms()
        last = cold_last_trigger(
            newest_completed_periodic_ms=newest, legacy_periodic_ms=legacy_ms, created_ms=created_ms
        )
        self._last_periodic[key] = last
        return last

    async def _create_resource(
        self, ctx: ResourceContext, kind: SnapshotKind, trigger_type: SnapshotTriggerType
    ) -> bool:
        body = snapshot_body(
            namespace=ctx.deployment.namespace,
            job_kind=JobKind.FLINK_DEPLOYMENT,
            job_name=ctx.deployment.name,
            checkpoint=kind == SnapshotKind.CHECKPOINT,
            trigger_type=trigger_type,
            now_ms=ctx.now_ms(),
            path=settings.savepoint_dir(settings.deployed_config(ctx)),
            format_type=settings.savepoint_format(ctx),
            dispose_on_delete=ctx.operator.savepoint_dispose_on_delete,
        )
        try:
            created = await create_snapshot(ctx.services.kube, body)
        except Conflict:
            ctx.log.warning("FlinkStateSnapshot already exists", snapshot=body["metadata"]["name"])
            return False
        ctx.log.info("Created FlinkStateSnapshot", snapshot=created["metadata"]["name"])
        if trigger_type == SnapshotTriggerType.MANUAL:
            mark_nonce_handled(ctx.deployment, kind)  # the snapshot resource owns the trigger from now on
        return True

    async def _trigger_rest(
        self, ctx: ResourceContext, kind: SnapshotKind, trigger_type: SnapshotTriggerType
    ) -> bool:
        status = ctx.deployment.status
        job_id = status.job_status.job_id
        if job_id is None:
            return False
        rest = self._rest(ctx)
        try:
            if kind == SnapshotKind.SAVEPOINT:
                format_type = settings.savepoint_format(ctx)
                target = settings.savepoint_dir(settings.deployed_config(ctx))
                trigger_id = await rest.trigger_savepoint(
                    job_id,
                    target,
                    format_type="NATIVE" if format_type.value == "NATIVE" else "CANONICAL",
                )
                legacy.set_savepoint_trigger(
                    status,
                    trigger_id,
                    trigger_type=trigger_type,
                    format_type=format_type,
                    now_ms=ctx.now_ms(),
                )
            else:
                checkpoint_type = settings.checkpoint_type(ctx)
                trigger_id = await rest.trigger_checkpoint(
                    job_id, "INCREMENTAL" if checkpoint_type.value == "INCREMENTAL" else "FULL"
                )
                legacy.set_checkpoint_trigger(
                    status,
                    trigger_id,
                    trigger_type=trigger_type,
                    format_type=checkpoint_type,
                    now_ms=ctx.now_ms(),
                )
        except FlinkClientError as error:
            ctx.log.error(f"Could not trigger the {kind.value}", error=str(error))
            message = legacy.failure_message(kind, trigger_type, nonce_of(ctx.deployment.spec, kind))
            await ctx.event("Warning", legacy.error_reason(kind), message, OPERATOR)
            return False
        ctx.log.info(f"{kind.capitalized} triggered", trigger_id=trigger_id)
        return True

    # -- retention ---------------------------------------------------------------------------------------
    async def _snapshots(self, ctx: ResourceContext) -> list[FlinkStateSnapshot]:
        """The resource's snapshots: from the operator's informer cache when it has one (this runs on every
        reconcile of a running job), else from the API server."""
        d = ctx.deployment
        cache = ctx.services.snapshot_cache
        if cache is not None:
            return cached_snapshots_of(cache(), d.namespace, JobKind.FLINK_DEPLOYMENT, d.name)
        return await snapshots_of(ctx.services.kube, d.namespace, JobKind.FLINK_DEPLOYMENT, d.name)

    async def _retention(self, ctx: ResourceContext) -> None:
        limits = settings.history_limits(ctx)
        min_created_ms = ctx.now_ms() - int(limits.max_age_s * 1000)
        completed_kept = 0
        if ctx.services.snapshot_crd_installed:
            candidates = [s for s in await self._snapshots(ctx) if _trigger_type(s) in RETAINED_TRIGGER_TYPES]
            savepoints = [_entry(s) for s in candidates if s.spec.is_savepoint]
            checkpoints = [_entry(s) for s in candidates if not s.spec.is_savepoint]
            doomed = snapshots_to_delete(
                savepoints, max_count=limits.max_count, min_created_ms=min_created_ms
            )
            retained = settings.checkpoints_retained(settings.deployed_config(ctx))
            doomed += snapshots_to_delete(checkpoints, max_count=retained)
            for name in doomed:
                await self._delete_snapshot(ctx, name)
            completed_kept = sum(1 for e in savepoints if e.completed and e.name not in doomed)
        await self._prune_legacy_history(ctx, limits.max_count, min_created_ms, completed_kept)

    async def _delete_snapshot(self, ctx: ResourceContext, name: str) -> None:
        # the snapshot controller disposes the data when the resource asks for it (disposeOnDelete)
        ctx.log.info("Deleting FlinkStateSnapshot beyond the history limits", snapshot=name)
        try:
            await ctx.services.kube.delete(FLINK_STATE_SNAPSHOTS, name, ctx.deployment.namespace)
        except NotFound:
            pass

    async def _prune_legacy_history(
        self, ctx: ResourceContext, max_count: int, min_time_ms: int, completed_resources: int
    ) -> None:
        info = ctx.deployment.status.job_status.savepoint_info
        doomed = legacy_history_to_dispose(
            info.savepoint_history,
            max_count=max_count,
            min_time_ms=min_time_ms,
            completed_resources=completed_resources,
        )
        if not doomed:
            return
        rest = self._rest(ctx)
        disposed: set[int] = set()
        for index in doomed:
            location = info.savepoint_history[index].location
            if location and not await self._dispose(ctx, rest, location):
                continue  # kept, and tried again on the next reconcile
            disposed.add(index)
        info.savepoint_history = [s for i, s in enumerate(info.savepoint_history) if i not in disposed]

    async def _dispose(self, ctx: ResourceContext, rest: FlinkRestClient, location: str) -> bool:
        ctx.log.info("Disposing savepoint", location=location)
        try:
            trigger_id = await rest.dispose_savepoint(location)
            await rest.wait_for_disposal(trigger_id, timeout=DISPOSAL_TIMEOUT)
        except (FlinkClientError, TimeoutError) as error:
            ctx.log.error("Failed to dispose savepoint", location=location, error=str(error))
            return False
        return True

    def _rest(self, ctx: ResourceContext) -> FlinkRestClient:
        return ctx.rest(settings.deployed_config(ctx))


__all__ = ["SavepointManager"]
