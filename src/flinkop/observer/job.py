"""The job of an application cluster -> ``status.jobStatus`` (upstream's ``JobStatusObserver``).

The JobManager's ``/jobs/overview`` is matched on ``status.jobStatus.jobId``. A state change stamps
``updateTime``, is logged as ``Job status changed from <A> to <B>`` and recorded as a ``JobStatusChanged``
event; a cancelled job marks the reconciled spec suspended; a failed one records its exception as the
error. A RUNNING job (or one FINISHED on its own) makes the reconciled spec stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from flinkop.api import FlinkDeploymentStatus, FlinkJobState, JobState, ReconciliationState
from flinkop.flink.rest import FlinkClientError, FlinkUnreachable, JobSummary
from flinkop.observer.checkpoints import observe_terminal_job_snapshot
from flinkop.reconcilers.context import JOB, ResourceContext
from flinkop.reconcilers.errors import JobFailure, error_document
from flinkop.reconcilers.specs import check_and_update_stable_spec, last_reconciled_spec, mark_job_suspended
from flinkop.reconcilers.upgrade import is_job_terminal

JOB_NOT_FOUND = "Job Not Found"


@dataclass(frozen=True)
class JobStateChange:
    previous: FlinkJobState | None
    current: FlinkJobState

    @property
    def message(self) -> str:
        if self.previous is None:
            return f"Job status changed to {self.current.value}"
        return f"Job status changed from {self.previous.value} to {self.current.value}"

    @property
    def cancelled(self) -> bool:
        """The job was cancelled (CANCELED, or terminal after CANCELLING): it counts as suspended."""
        return self.current == FlinkJobState.CANCELED or (
            is_job_terminal(self.current) and self.previous == FlinkJobState.CANCELLING
        )


def find_job(jobs: list[JobSummary], job_id: str | None) -> JobSummary | None:
    """The job with the recorded id; without one (status lost) the first job of the cluster."""
    if job_id is None:
        return jobs[0] if jobs else None
    return next((job for job in jobs if job.jid == job_id), None)


def apply_job_summary(status: FlinkDeploymentStatus, job: JobSummary, now_ms: int) -> JobStateChange | None:
    """Copy the observed job into ``status.jobStatus``; the state change, if any (pure)."""
    job_status = status.job_status
    previous = job_status.state
    current = FlinkJobState(job.state)
    job_status.job_id = job.jid
    job_status.state = current
    job_status.job_name = job.name
    job_status.start_time = str(job.start_time)
    if previous == current:
        return None
    job_status.update_time = str(now_ms)
    return JobStateChange(previous, current)


async def _record_failure(ctx: ResourceContext, job_id: str) -> None:
    try:
        exceptions = await ctx.rest(deployed_config(ctx)).exceptions(job_id, max_exceptions=1)
    except FlinkClientError as error:
        ctx.log.warning("Failed to request the job result", error=str(error))
        return
    stacktrace = exceptions.root_exception
    if not stacktrace:
        return
    failure = JobFailure.from_stacktrace(stacktrace)
    ctx.deployment.status.error = error_document(failure, ctx.error_limits)
    ctx.log.error(f"Job {job_id} failed with error: {stacktrace.strip().splitlines()[0]}")
    await ctx.event("Warning", "Error", failure.message, JOB)


def deployed_config(ctx: ResourceContext) -> dict[str, str]:
    """The deployed cluster's configuration (the observe config)."""
    spec = last_reconciled_spec(ctx.deployment.status)
    return ctx.cluster_config(spec if spec is not None else ctx.deployment.spec)


async def observe_job(ctx: ResourceContext) -> tuple[bool, bool]:
    """Observe the application's job: (found, timed out)."""
    status = ctx.deployment.status
    last = last_reconciled_spec(status)
    if last is None or last.job is None or last.job.state == JobState.SUSPENDED:
        return False, False
    job_status = status.job_status
    previous = job_status.state
    try:
        jobs = await ctx.rest(deployed_config(ctx)).jobs_overview()
    except FlinkClientError as error:
        ctx.log.warning("Exception while getting job status", error=str(error))
        if previous == FlinkJobState.RUNNING:
            job_status.state = FlinkJobState.RECONCILING
        return False, isinstance(error, FlinkUnreachable)
    job = find_job(jobs, job_status.job_id)
    if job is None:
        await ctx.event("Warning", "Missing", JOB_NOT_FOUND, JOB)
        status.reconciliation_status.state = ReconciliationState.DEPLOYED
        job_status.state = FlinkJobState.RECONCILING
        status.error = JOB_NOT_FOUND
        return False, False
    change = apply_job_summary(status, job, ctx.now_ms())
    if change is not None:
        ctx.log.info(change.message)
        if change.cancelled:
            ctx.log.info("Marking suspended")
            mark_job_suspended(status)
        if change.current == FlinkJobState.FAILED:
            await _record_failure(ctx, job.jid)
        await ctx.event("Normal", "JobStatusChanged", change.message, JOB)
    if is_job_terminal(job_status.state):
        await observe_terminal_job_snapshot(ctx, deployed_config(ctx), job.jid)
    check_and_update_stable_spec(status)
    return True, False


__all__ = ["JOB_NOT_FOUND", "JobStateChange", "apply_job_summary", "find_job", "observe_job"]
