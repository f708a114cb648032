"""One reconcile of one FlinkDeployment (upstream's ``FlinkDeploymentController``): parse -> observe ->
validate -> reconcile -> record, and the cleanup when the resource is deleted.

1. The object comes from the informer cache; the status this process last wrote is put back on it.
   A spec the models cannot read (an unknown enum value such as a ``flinkVersion`` no Flink has, a field of
   the wrong type: a real API server's CRD schema rejects these, the sandbox's does not) is reported as an
   invalid spec (``status.error`` and a ``ValidationError`` Warning) and skipped: nothing is deployed.
2. Deleted (``deletionTimestamp``) with our finalizer: ``Cleanup`` event, lifecycle DELETING, observe once,
   delete the cluster, remove the finalizer. Otherwise the finalizer is added first.
3. An unsupported ``flinkVersion``: ``UnsupportedFlinkVersion`` Warning, nothing else, no requeue.
4. Observe (:mod:`flinkop.observer`), then validate: an invalid spec gets ``status.error`` and a
   ``ValidationError`` Warning, and the reconcile goes on with the last reconciled spec (or stops when there
   is none: nothing deployed, no requeue).
5. The status is written (write-ahead), the decision (:mod:`.upgrade`) is carried out (:mod:`.actions`),
   the status is written again, and the next reconcile is scheduled (:mod:`.schedule`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from flinkop.api import (
    FlinkDeployment,
    FlinkDeploymentSpec,
    FlinkDeploymentStatus,
    FlinkJobState,
    FlinkVersion,
    JobManagerDeploymentStatus,
    ReconciledSpecError,
    ReconciliationState,
    ResourceLifecycleState,
    ResourceParseError,
    UpgradeMode,
    parse_flink_deployment,
)
from flinkop.flink.resources import is_ha_enabled
from flinkop.flink.resources.options import FlinkConf
from flinkop.observer import observe
from flinkop.reconcilers import actions, stateful
from flinkop.reconcilers import deploy as objects
from flinkop.reconcilers.context import JOBMANAGER_DEPLOYMENT, OPERATOR, ResourceContext, Services
from flinkop.reconcilers.diff import SpecDiff, spec_changed_message, spec_diff
from flinkop.reconcilers.errors import (
    DeploymentFailedError,
    ErrorLimits,
    StatusConflictError,
    UpgradeFailureError,
    ValidationError,
    error_document,
)
from flinkop.reconcilers.rollback import should_rollback
from flinkop.reconcilers.schedule import Intervals, reschedule_after
from flinkop.reconcilers.specs import (
    is_before_first_deployment,
    last_reconciled_spec,
    reset_spec_for_validation_error,
    same_spec,
    update_reconciliation_metadata,
)
from flinkop.reconcilers.status import prepare_status
from flinkop.reconcilers.upgrade import Action, Decision, Situation, decide, is_job_terminal
from flinkop.runtime import Conflict, NotFound, Result, SkipObject
from flinkop.savepoints import SavepointManager, savepoint_pending
from flinkop.validation import is_canary, validate_deployment

JSON = dict[str, Any]
FINALIZER = FlinkDeployment.finalizer()
MIN_SUPPORTED_VERSION = FlinkVersion.V1_15
NOTHING_TO_DO = "Resource fully reconciled, nothing to do..."
log = structlog.get_logger("flinkop.reconcilers.deployment")


# What each decision does (Action.NONE: snapshots, rollback or nothing, see `_snapshots_and_rollback`);
# a step returning False has to wait.
STEPS: dict[Action, Callable[[ResourceContext], Awaitable[bool | None]]] = {
    Action.FIRST_DEPLOY: actions.first_deploy,
    Action.RECORD_DEPLOYED: actions.record_deployed,
    Action.STOP: stateful.stop_job,
    Action.SUSPEND: stateful.stop_job,
    Action.RESTORE: stateful.restore_job,
    Action.REDEPLOY: actions.redeploy_session,
    Action.SAVEPOINT_REDEPLOY: stateful.savepoint_redeploy,
    Action.ROLLBACK: stateful.rollback,
    Action.RECOVER: stateful.recover,
    Action.RESTART_FAILED: stateful.restart_failed,
    Action.DELETE_TERMINAL_JM: actions.delete_terminal_jobmanager,
}


def unsupported_version_message(spec: FlinkDeploymentSpec) -> str | None:
    version = spec.flink_version
    if version is not None and version.is_known and version.is_at_least(MIN_SUPPORTED_VERSION):
        return None
    shown = version.value if version is not None else "null"
    return f"Flink version {shown} is not supported by this operator version"


def flat_defaults(ctx: ResourceContext) -> dict[str, str]:
    """The operator's default configuration for this resource, as the validator reads it."""
    version = ctx.deployment.spec.flink_version
    scoped = ctx.base_config.for_resource(ctx.deployment.namespace, str(version) if version else None)
    return {key: ";".join(value) if isinstance(value, list) else value for key, value in scoped.raw.items()}


class FlinkDeploymentReconciler:
    """The reconcile function of the FlinkDeployment controller (``reconcile(key)``)."""

    def __init__(self, services: Services, lookup: Callable[[str], JSON | None]) -> None:
        self.services = services
        self.lookup = lookup
        self.savepoints = SavepointManager()  # its own component; it keeps the periodic trigger times
        self._spec_change_events: dict[str, tuple[str, int | None]] = {}  # key -> (uid, generation) announced
        self.on_forget: list[Callable[[str], None]] = []

    def forget(self, key: str) -> None:
        """Drop what this process keeps about a resource that is gone."""
        self.services.statuses.forget(key)
        self._spec_change_events.pop(key, None)
        for callback in self.on_forget:
            callback(key)

    async def reconcile(self, key: str) -> Result | None:
        obj = self.lookup(key)
        if obj is None:
            self.forget(key)
            return None
        namespace, _, name = key.partition("/")
        with structlog.contextvars.bound_contextvars(namespace=namespace, name=name):
            try:
                deployment = parse_flink_deployment(obj)
            except ResourceParseError as error:
                if await self._cleanup_unreadable(obj):
                    return None
                await self._report_unreadable(key, obj, error)
                raise SkipObject(str(error)) from None
            if is_canary(deployment):
                log.debug("canary resource, not reconciled here")
                return None
            obj = self.services.statuses.latest(obj)
            self.services.statuses.restore(deployment, obj)
            ctx = ResourceContext(self.services, deployment, obj, self.services.operator_config(), log)
            if deployment.metadata.deletion_timestamp:
                return await self._cleanup(ctx)
            await self._ensure_finalizer(ctx)
            return await self._reconcile(ctx)

    async def _cleanup_unreadable(self, obj: JSON) -> bool:
        """A resource being deleted whose spec this process cannot read (it became invalid after it got
        the finalizer) is still cleaned up: its cluster and HA data are deleted by name, the finalizer
        removed. True when that was the case."""
        meta = obj.get("metadata") or {}
        if not meta.get("deletionTimestamp") or FINALIZER not in (meta.get("finalizers") or []):
            return False
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        op = self.services.operator_config()
        log.warning("Cleaning up a deleted FlinkDeployment whose spec cannot be read")
        await objects.delete_cluster(
            self.services.kube,
            namespace,
            name,
            standalone=True,  # the mode is unknown: also delete a standalone TaskManager Deployment
            propagation=op.deletion_propagation,
            timeout=op.resource_cleanup_timeout,
            delete_ha=True,
            poll=self.services.poll_interval,
        )
        patch = {
            "metadata": {
                "resourceVersion": meta.get("resourceVersion"),
                "finalizers": [f for f in meta.get("finalizers") or [] if f != FINALIZER],
            }
        }
        try:
            await self.services.kube.patch(self.services.statuses.resource, name, patch, namespace)
        except NotFound:
            pass
        self.forget(f"{namespace}/{name}")
        return True

    async def _report_unreadable(self, key: str, obj: JSON, error: ResourceParseError) -> None:
        """An unreadable spec is an invalid one: a ``ValidationError`` Warning, and ``status.error`` (written
        once; the object's status is otherwise kept)."""
        what = "spec" if all(p.startswith("spec") for p in error.problems) else "FlinkDeployment"
        message = f"Invalid {what}: " + "; ".join(error.problems)
        log.error(f"Validation failed: {message}")
        await self.services.events.record(obj, "Warning", "ValidationError", message, OPERATOR)
        op = self.services.operator_config()
        limits = ErrorLimits(
            stacktrace_enabled=op.exception_stacktrace_enabled,
            stacktrace_max_length=op.exception_stacktrace_max_length,
            field_max_length=op.exception_field_max_length,
            throwable_list_max_count=op.exception_throwable_list_max_count,
        )
        document = error_document(ValidationError(message), limits)
        current: JSON = obj["status"] if isinstance(obj.get("status"), dict) else {}
        if current.get("error") == document:
            return
        try:
            status = FlinkDeploymentStatus.model_validate(current)
        except ValueError:
            return  # a status this process cannot read is left as it is: the event says what is wrong
        status.error = document
        meta = obj.get("metadata") or {}
        patch = {"status": prepare_status(status, self.services.now())}
        resource = self.services.statuses.resource
        try:
            await self.services.kube.patch(
                resource, meta["name"], patch, meta.get("namespace"), subresource="status"
            )
        except NotFound:
            return
        self.services.statuses.forget(key)  # the status on the server is the truth from now on

    # -- finalizer -----------------------------------------------------------------------------------
    def _finalizers(self, ctx: ResourceContext) -> list[str]:
        return list((ctx.obj.get("metadata") or {}).get("finalizers") or [])

    async def _patch_finalizers(self, ctx: ResourceContext, finalizers: list[str]) -> None:
        kube, res = self.services.kube, self.services.statuses.resource
        for _ in range(3):
            meta = ctx.obj["metadata"]
            # a merge patch carrying the resourceVersion: 409 when the object moved on
            patch = {"metadata": {"resourceVersion": meta.get("resourceVersion"), "finalizers": finalizers}}
            try:
                ctx.obj = await kube.patch(res, meta["name"], patch, meta.get("namespace"))
                self.services.statuses.note_write(ctx.obj)
                return
            except Conflict:
                ctx.obj = await kube.get(res, meta["name"], meta.get("namespace"))
                current = self._finalizers(ctx)
                finalizers = (
                    [*current, FINALIZER]
                    if FINALIZER in finalizers
                    else [f for f in current if f != FINALIZER]
                )
        raise Conflict(409, "Conflict", "could not update the finalizers")

    async def _ensure_finalizer(self, ctx: ResourceContext) -> None:
        finalizers = self._finalizers(ctx)
        if FINALIZER not in finalizers:
            await self._patch_finalizers(ctx, [*finalizers, FINALIZER])

    # -- cleanup -------------------------------------------------------------------------------------
    async def _cleanup(self, ctx: ResourceContext) -> Result | None:
        # The cache may still hold the object as it was before this process removed its finalizer.
        meta = ctx.obj["metadata"]
        try:
            fresh = await self.services.kube.get(
                self.services.statuses.resource, meta["name"], meta["namespace"]
            )
        except NotFound:
            self.forget(ctx.key)
            return None
        if (fresh.get("metadata") or {}).get("uid") != meta.get("uid"):
            return None  # a new object of the same name: its own events bring it here
        ctx.obj = fresh
        if FINALIZER not in self._finalizers(ctx):
            return None
        status = ctx.deployment.status
        await ctx.event("Normal", "Cleanup", "Cleaning up FlinkDeployment", OPERATOR)
        status.lifecycle_state = ResourceLifecycleState.DELETING
        await ctx.record_status()
        if unsupported_version_message(ctx.deployment.spec) is None:
            try:
                await observe(ctx)
            except Exception as error:
                ctx.log.error("Error while observing for cleanup", error=repr(error))
        await stateful.cleanup(ctx)
        try:
            await self._patch_finalizers(ctx, [f for f in self._finalizers(ctx) if f != FINALIZER])
        except NotFound:
            pass
        ctx.log.info("Cleanup completed, finalizer removed", lifecycle_state="DELETED")
        self.savepoints.forget(ctx.deployment.metadata.uid or "")
        self.forget(ctx.key)
        return None

    # -- reconcile -----------------------------------------------------------------------------------
    async def _reconcile(self, ctx: ResourceContext) -> Result | None:
        ctx.log.debug("Starting reconciliation")
        status = ctx.deployment.status
        previous_state = status.reconciliation_status.state
        unsupported = unsupported_version_message(ctx.deployment.spec)
        if unsupported is not None:
            await ctx.event("Warning", "UnsupportedFlinkVersion", unsupported, OPERATOR)
            return None
        done = True
        try:
            await observe(ctx)
            await self._observe_snapshots(ctx)
            if not await self._validate(ctx):
                await ctx.record_status()
                return None
            await ctx.record_status()
            done = await self._reconcile_spec(ctx)
        except UpgradeFailureError as error:
            ctx.log.error("Error while upgrading Flink Deployment", error=error.message)
            status.error = error_document(error, ctx.error_limits)
            await ctx.event("Warning", error.reason, error.message, JOBMANAGER_DEPLOYMENT)
        except DeploymentFailedError as error:
            ctx.log.error("Flink Deployment failed", error=error.message, reason=error.reason)
            status.job_manager_deployment_status = JobManagerDeploymentStatus.ERROR
            status.job_status.state = FlinkJobState.RECONCILING
            status.error = error_document(error, ctx.error_limits)
            await ctx.event("Warning", error.reason, error.message, JOBMANAGER_DEPLOYMENT)
        except (asyncio.CancelledError, Conflict):
            raise
        except StatusConflictError:
            self.services.statuses.forget(ctx.key)  # take the status on the server from now on
            raise
        except Exception as error:
            await ctx.event("Warning", "ClusterDeploymentException", str(error), JOBMANAGER_DEPLOYMENT)
            await self._record_error(ctx, error)
            raise
        ctx.log.debug("End of reconciliation")
        await ctx.record_status()
        op = ctx.base_config
        if not done:
            return Result(requeue_after=op.progress_check_interval)
        intervals = Intervals(op.reconcile_interval, op.progress_check_interval, op.rest_ready_delay)
        return Result(requeue_after=reschedule_after(status, previous_state, intervals))

    async def _observe_snapshots(self, ctx: ResourceContext) -> None:
        """The savepoint manager's part of observing: pending snapshots, history retention."""
        status = ctx.deployment.status
        if (
            ctx.deployment.spec.job is not None
            and status.reconciliation_status.last_reconciled_spec is not None
        ):
            await self.savepoints.observe(ctx)

    async def _record_error(self, ctx: ResourceContext, error: Exception) -> None:
        """``updateErrorStatus``: the last written status plus the error."""
        self.services.statuses.restore(ctx.deployment, ctx.obj)
        ctx.deployment.status.error = error_document(error, ctx.error_limits)
        try:
            await ctx.record_status()
        except Exception as write_error:
            ctx.log.warning("could not record the error in the status", error=repr(write_error))

    async def _validate(self, ctx: ResourceContext) -> bool:
        """False when the spec is invalid and nothing was ever reconciled (nothing to go on with)."""
        try:
            last = last_reconciled_spec(ctx.deployment.status)
        except ReconciledSpecError as error:
            ctx.log.error("lastReconciledSpec cannot be read", error=str(error))
            last = None
        message = validate_deployment(ctx.deployment, last, flat_defaults(ctx))
        if message is None:
            return True
        ctx.log.error(f"Validation failed: {message}")
        await ctx.event("Warning", "ValidationError", message, OPERATOR)
        ctx.deployment.status.error = error_document(ValidationError(message), ctx.error_limits)
        return reset_spec_for_validation_error(ctx.deployment)

    def _situation(self, ctx: ResourceContext, diff: SpecDiff) -> Situation:
        deployment = ctx.deployment
        status = deployment.status
        spec = deployment.spec
        before_first = is_before_first_deployment(status)
        last = None if before_first else last_reconciled_spec(status)
        conf = ctx.cluster_config(last if last is not None else spec)
        op = ctx.operator
        update_time = status.job_status.update_time
        ttl_passed = bool(
            update_time
            and update_time.isdigit()
            and int(update_time) + op.jm_shutdown_ttl * 1000 < ctx.now_ms()
        )
        return Situation(
            application=spec.job is not None,
            before_first_deployment=before_first,
            desired_job_state=spec.job.state if spec.job is not None else None,
            deployed_job_state=last.job.state if last is not None and last.job is not None else None,
            reconciliation_state=status.reconciliation_status.state,
            diff_type=diff.type,
            spec_equals_deployed=same_spec(spec, last),
            jm_status=status.job_manager_deployment_status,
            job_state=status.job_status.state,
            upgrade_mode=spec.job.upgrade_mode if spec.job is not None else UpgradeMode.STATELESS,
            ha_enabled=is_ha_enabled(FlinkConf(conf)),
            jm_recovery_enabled=op.jm_deployment_recovery_enabled,
            restart_failed_enabled=op.job_restart_failed,
            shutdown_ttl_passed=ttl_passed and is_job_terminal(status.job_status.state),
        )

    async def _announce_spec_change(self, ctx: ResourceContext, diff: SpecDiff) -> None:
        """``SpecChanged`` once per generation."""
        meta = ctx.deployment.metadata
        marker = (meta.uid or "", meta.generation)
        if self._spec_change_events.get(ctx.key) == marker:
            return
        self._spec_change_events[ctx.key] = marker
        await ctx.event("Normal", "SpecChanged", spec_changed_message(diff), JOBMANAGER_DEPLOYMENT)

    async def _reconcile_spec(self, ctx: ResourceContext) -> bool:
        """False when the reconcile has to wait (look again at the progress-check interval)."""
        status = ctx.deployment.status
        last = None if is_before_first_deployment(status) else last_reconciled_spec(status)
        diff = spec_diff(last, ctx.deployment.spec) if last is not None else SpecDiff(())
        decision = decide(self._situation(ctx, diff))
        ctx.log.debug("decision", action=decision.action.value, diff=str(diff) or None)
        if decision.spec_changed and decision.action != Action.RECORD_DEPLOYED:
            await self._announce_spec_change(ctx, diff)
            if self._snapshot_pending(ctx):
                ctx.log.info("Delaying job upgrade until the pending savepoint/checkpoint completes")
                return False
        if not decision.spec_changed and decision.action != Action.FIRST_DEPLOY:
            update_reconciliation_metadata(ctx.deployment)
        return await self._act(ctx, decision)

    @staticmethod
    def _snapshot_pending(ctx: ResourceContext) -> bool:
        """A manual or periodic snapshot in flight holds an upgrade back (unless configured not to)."""
        if ctx.operator.upgrade_ignore_pending_savepoint:
            return False
        status = ctx.deployment.status
        return savepoint_pending(status) or status.job_status.checkpoint_info.trigger_id is not None

    async def _act(self, ctx: ResourceContext, decision: Decision) -> bool:
        """Carry out the decision; False when it has to wait (look again at the progress-check interval)."""
        step = STEPS.get(decision.action)
        if step is not None:
            return await step(ctx) is not False
        if not is_before_first_deployment(ctx.deployment.status):
            if not await self._snapshots_and_rollback(ctx):
                ctx.log.info(NOTHING_TO_DO)
        return True

    async def _snapshots_and_rollback(self, ctx: ResourceContext) -> bool:
        """Nothing to reconcile in the spec: a rollback when the new spec did not become ready in time,
        else the savepoint manager's manual and periodic snapshots. True when something was done."""
        if await should_rollback(ctx):
            await stateful.rollback(ctx)
            return True
        status = ctx.deployment.status
        if (
            ctx.deployment.spec.job is not None
            and status.reconciliation_status.state == ReconciliationState.DEPLOYED
            and status.job_status.state == FlinkJobState.RUNNING
        ):
            return await self.savepoints.trigger(ctx)
        return False


__all__ = ["FINALIZER", "NOTHING_TO_DO", "FlinkDeploymentReconciler", "unsupported_version_message"]
