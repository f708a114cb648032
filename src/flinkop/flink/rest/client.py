"""An asyncio client of the Flink JobManager's REST API (shapes observed on Flink 2.3.0, tolerant of 1.20).

One client per cluster, one HTTP session per client: a direct endpoint gets a session the client opens on
first use and closes in `close()`; a service-proxy endpoint borrows the Kubernetes ApiClient's session.

Failures are typed (errors.py): `FlinkUnreachable` when no answer came from Flink, `FlinkRestError` with
Flink's `errors` list otherwise, narrowed to `JobNotFound` / `TriggerNotFound` for unknown ids. Only calls
that are safe to repeat are retried, a bounded number of times and only when Flink was unreachable:
every GET, plus the triggers given an explicit `trigger_id` (Flink deduplicates them) and cancel
(cancelling a cancelled job answers 202 again).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
import structlog

from flinkop.flink.rest.endpoint import RestEndpoint
from flinkop.flink.rest.errors import (
    FlinkClientError,
    FlinkRestError,
    FlinkUnreachable,
    JobNotFound,
    OperationFailed,
    TriggerNotFound,
)
from flinkop.flink.rest.models import (
    CheckpointConfig,
    CheckpointingStatistics,
    ClusterOverview,
    DashboardConfig,
    JarFile,
    JarList,
    JarRun,
    JarUpload,
    JobDetails,
    JobExceptions,
    JobSummary,
    OperationState,
    OperationStatus,
    TaskManagerInfo,
    TaskManagerList,
    TriggerResponse,
)

SavepointFormat = Literal["CANONICAL", "NATIVE"]
CheckpointType = Literal["FULL", "INCREMENTAL", "CONFIGURED"]
ClaimMode = Literal["CLAIM", "NO_CLAIM"]
JSON = dict[str, Any]

log = structlog.get_logger("flinkop.flink.rest")

_UNREACHABLE_STATUSES = frozenset({502, 503, 504})
_JOB_NOT_FOUND_MARKERS = ("FlinkJobNotFoundException", "not found", "could not be found")


class FlinkRestClient:
    """The REST calls the operator makes against one Flink cluster."""

    def __init__(
        self,
        endpoint: RestEndpoint | str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        submit_timeout: float = 120.0,
        retries: int = 2,
        retry_backoff: float = 0.25,
    ) -> None:
        """`timeout` bounds each call (override per call with `timeout=`); `submit_timeout` is the default of
        jar upload and run, which build the job graph on the JobManager. `retries` extra attempts for calls
        that are safe to repeat, after `retry_backoff`, doubling, at most 2 s apart."""
        self.endpoint = RestEndpoint.direct(endpoint) if isinstance(endpoint, str) else endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.submit_timeout = submit_timeout
        self.retries = max(0, retries)
        self.retry_backoff = retry_backoff
        # called after every HTTP exchange: (method, path template, status or 0 for no answer, seconds)
        self.observer: Callable[[str, str, int, float], None] | None = None
        self._own_session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FlinkRestClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session this client opened (a borrowed ApiClient session stays open)."""
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None

    def _session(self) -> aiohttp.ClientSession:
        shared = self.endpoint.session
        if shared is not None:
            return shared
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession()
        return self._own_session

    # -- transport ---------------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        timeout: float | None = None,
        idempotent: bool | None = None,
        job_id: str | None = None,
        trigger_id: str | None = None,
    ) -> Any:
        """One REST call; the parsed JSON answer ({} for an empty body).

        `idempotent` (default: GET only) allows the bounded retries when Flink is unreachable. `job_id` and
        `trigger_id` name what a 404 is about. `form` builds a multipart body (once per attempt).
        """
        attempts = 1 + (self.retries if (method == "GET" if idempotent is None else idempotent) else 0)
        for attempt in range(attempts):
            try:
                return await self._send(
                    method,
                    path,
                    query=query,
                    body=body,
                    form=form,
                    timeout=self.timeout if timeout is None else timeout,
                    job_id=job_id,
                    trigger_id=trigger_id,
                )
            except FlinkUnreachable as exc:
                if attempt + 1 >= attempts:
                    raise
                delay = min(self.retry_backoff * 2**attempt, 2.0)
                log.debug("flink rest retry", method=method, path=path, error=str(exc), delay=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None,
        body: Any,
        form: Callable[[], aiohttp.FormData] | None,
        timeout: float,
        job_id: str | None,
        trigger_id: str | None,
    ) -> Any:
        headers = await self.endpoint.headers()
        data: bytes | aiohttp.FormData | None = None
        if form is not None:
            data = form()
        elif body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        headers.setdefault("Accept", "application/json")
        client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(self.connect_timeout, timeout))
        where = f"{method} {path} on {self.endpoint.description}"
        started = time.monotonic()
        status = 0  # no answer
        try:
            async with self._session().request(
                method,
                self.endpoint.url(path),
                params=dict(query) if query else None,
                data=data,
                headers=headers,
                timeout=client_timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            elapsed = time.monotonic() - started
            raise FlinkUnreachable(f"{where}: no answer within {elapsed:.1f} s") from exc
        except aiohttp.ClientError as exc:
            raise FlinkUnreachable(f"{where}: {exc.__class__.__name__}: {exc}") from exc
        finally:
            if self.observer is not None:
                self.observer(method, path_template(path), status, time.monotonic() - started)
        if status >= 400:
            raise _error_from(status, raw, method, path, where, job_id=job_id, trigger_id=trigger_id)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise FlinkRestError(
                status, [raw[:2000].decode(errors="replace")], method=method, path=path
            ) from exc

    async def _get(self, path: str, timeout: float | None, **kw: Any) -> JSON:
        answer: JSON = await self.request("GET", path, timeout=timeout, **kw)
        return answer

    # -- cluster -----------------------------------------------------------------------------------------
    async def overview(self, *, timeout: float | None = None) -> ClusterOverview:
        return ClusterOverview.model_validate(await self._get("/overview", timeout))

    async def config(self, *, timeout: float | None = None) -> DashboardConfig:
        """GET /config: `flink_version` and `features` (web submit/cancel)."""
        return DashboardConfig.model_validate(await self._get("/config", timeout))

    async def jobmanager_config(self, *, timeout: float | None = None) -> dict[str, str]:
        """GET /jobmanager/config: the JobManager's effective configuration, key -> value."""
        entries: Any = await self.request("GET", "/jobmanager/config", timeout=timeout)
        return {
            str(e["key"]): str(e.get("value")) for e in entries or [] if isinstance(e, dict) and "key" in e
        }

    async def taskmanagers(self, *, timeout: float | None = None) -> list[TaskManagerInfo]:
        return TaskManagerList.model_validate(await self._get("/taskmanagers", timeout)).taskmanagers

    async def shutdown_cluster(self, *, timeout: float | None = None) -> None:
        """DELETE /cluster: the JobManager shuts the cluster down (standalone TaskManagers keep running)."""
        await self.request("DELETE", "/cluster", timeout=timeout)

    # -- jobs --------------------------------------------------------------------------------------------
    async def jobs_overview(self, *, timeout: float | None = None) -> list[JobSummary]:
        answer = await self._get("/jobs/overview", timeout)
        return [JobSummary.model_validate(job) for job in answer.get("jobs") or []]

    async def job_details(self, job_id: str, *, timeout: float | None = None) -> JobDetails:
        answer = await self._get(f"/jobs/{_id(job_id)}", timeout, job_id=job_id)
        return JobDetails.model_validate(answer)

    async def exceptions(
        self, job_id: str, *, max_exceptions: int | None = None, timeout: float | None = None
    ) -> JobExceptions:
        query = {"maxExceptions": str(max_exceptions)} if max_exceptions is not None else None
        answer = await self._get(f"/jobs/{_id(job_id)}/exceptions", timeout, query=query, job_id=job_id)
        return JobExceptions.model_validate(answer)

    async def cancel(self, job_id: str, *, timeout: float | None = None) -> None:
        """PATCH /jobs/:jobid?mode=cancel (202, also for a job that is already cancelled)."""
        await self.request(
            "PATCH",
            f"/jobs/{_id(job_id)}",
            query={"mode": "cancel"},
            timeout=timeout,
            idempotent=True,
            job_id=job_id,
        )

    # -- jars --------------------------------------------------------------------------------------------
    async def upload_jar(
        self, jar: Path | str | bytes, filename: str | None = None, *, timeout: float | None = None
    ) -> str:
        """POST /jars/upload (multipart field `jarfile`) of a local file or the jar's bytes; the jar id."""
        if isinstance(jar, bytes):
            if not filename:
                raise ValueError("upload_jar: a filename is needed with the jar's bytes")
            content = jar
        else:
            content = await asyncio.to_thread(Path(jar).read_bytes)
            filename = filename or Path(jar).name
        name = filename

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            data.add_field("jarfile", content, filename=name, content_type="application/x-java-archive")
            return data

        answer = await self.request(
            "POST", "/jars/upload", form=form, timeout=self.submit_timeout if timeout is None else timeout
        )
        return JarUpload.model_validate(answer).jar_id

    async def list_jars(self, *, timeout: float | None = None) -> list[JarFile]:
        return JarList.model_validate(await self._get("/jars", timeout)).files

    async def delete_jar(self, jar_id: str, *, timeout: float | None = None) -> None:
        await self.request("DELETE", f"/jars/{_id(jar_id)}", timeout=timeout)

    async def run_jar(
        self,
        jar_id: str,
        *,
        entry_class: str | None = None,
        program_args: Sequence[str] | None = None,
        parallelism: int | None = None,
        savepoint_path: str | None = None,
        allow_non_restored_state: bool | None = None,
        job_id: str | None = None,
        claim_mode: ClaimMode | None = None,
        flink_configuration: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """POST /jars/:jarid/run; the job id. A `job_id` can't be reused within a session cluster."""
        body: JSON = {
            "entryClass": entry_class,
            "programArgsList": list(program_args) if program_args is not None else None,
            "parallelism": parallelism,
            "savepointPath": savepoint_path,
            "allowNonRestoredState": allow_non_restored_state,
            "jobId": job_id,
            "claimMode": claim_mode,
            "flinkConfiguration": dict(flink_configuration) if flink_configuration else None,
        }
        answer = await self.request(
            "POST",
            f"/jars/{_id(jar_id)}/run",
            body={k: v for k, v in body.items() if v is not None},
            timeout=self.submit_timeout if timeout is None else timeout,
        )
        return JarRun.model_validate(answer).jobid

    # -- savepoints and checkpoints ----------------------------------------------------------------------
    async def trigger_savepoint(
        self,
        job_id: str,
        target_directory: str | None = None,
        *,
        cancel_job: bool = False,
        format_type: SavepointFormat = "CANONICAL",
        trigger_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """POST /jobs/:jobid/savepoints; the trigger id for `savepoint_status`. Without a target directory
        the cluster's `execution.checkpointing.savepoint-dir` is used."""
        body: JSON = {"cancel-job": cancel_job, "formatType": format_type}
        if target_directory:
            body["target-directory"] = target_directory
        return await self._trigger(f"/jobs/{_id(job_id)}/savepoints", body, job_id, trigger_id, timeout)

    async def stop_with_savepoint(
        self,
        job_id: str,
        target_directory: str | None = None,
        *,
        drain: bool = False,
        format_type: SavepointFormat = "CANONICAL",
        trigger_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """POST /jobs/:jobid/stop: a synchronous savepoint, then the job ends FINISHED. Its status is read
        with `savepoint_status`."""
        body: JSON = {"drain": drain, "formatType": format_type}
        if target_directory:
            body["targetDirectory"] = target_directory  # camelCase here, unlike /savepoints
        return await self._trigger(f"/jobs/{_id(job_id)}/stop", body, job_id, trigger_id, timeout)

    async def savepoint_status(
        self, job_id: str, trigger_id: str, *, timeout: float | None = None
    ) -> OperationStatus:
        """GET /jobs/:jobid/savepoints/:triggerid, for savepoints and stop-with-savepoint."""
        path = f"/jobs/{_id(job_id)}/savepoints/{_id(trigger_id)}"
        answer = await self._get(path, timeout, job_id=job_id, trigger_id=trigger_id)
        return OperationStatus.model_validate(answer)

    async def trigger_checkpoint(
        self,
        job_id: str,
        checkpoint_type: CheckpointType = "FULL",
        *,
        trigger_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        """POST /jobs/:jobid/checkpoints (Flink 1.19+); the trigger id for `checkpoint_status`."""
        body: JSON = {"checkpointType": checkpoint_type}
        return await self._trigger(f"/jobs/{_id(job_id)}/checkpoints", body, job_id, trigger_id, timeout)

    async def checkpoint_status(
        self, job_id: str, trigger_id: str, *, timeout: float | None = None
    ) -> OperationStatus:
        path = f"/jobs/{_id(job_id)}/checkpoints/{_id(trigger_id)}"
        answer = await self._get(path, timeout, job_id=job_id, trigger_id=trigger_id)
        return OperationStatus.model_validate(answer)

    async def checkpoints(self, job_id: str, *, timeout: float | None = None) -> CheckpointingStatistics:
        answer = await self._get(f"/jobs/{_id(job_id)}/checkpoints", timeout, job_id=job_id)
        return CheckpointingStatistics.model_validate(answer)

    async def checkpoint_config(self, job_id: str, *, timeout: float | None = None) -> CheckpointConfig:
        answer = await self._get(f"/jobs/{_id(job_id)}/checkpoints/config", timeout, job_id=job_id)
        return CheckpointConfig.model_validate(answer)

    async def _trigger(
        self, path: str, body: JSON, job_id: str, trigger_id: str | None, timeout: float | None
    ) -> str:
        if trigger_id:
            body = {**body, "triggerId": trigger_id}
        answer = await self.request(
            "POST", path, body=body, timeout=timeout, idempotent=bool(trigger_id), job_id=job_id
        )
        return TriggerResponse.model_validate(answer).request_id

    async def dispose_savepoint(self, savepoint_path: str, *, timeout: float | None = None) -> str:
        """POST /savepoint-disposal: delete a savepoint's data through the cluster's file systems; the
        trigger id for `disposal_status`."""
        answer = await self.request(
            "POST", "/savepoint-disposal", body={"savepoint-path": savepoint_path}, timeout=timeout
        )
        return TriggerResponse.model_validate(answer).request_id

    async def disposal_status(self, trigger_id: str, *, timeout: float | None = None) -> OperationStatus:
        answer = await self._get(f"/savepoint-disposal/{_id(trigger_id)}", timeout, trigger_id=trigger_id)
        return OperationStatus.model_validate(answer)

    async def wait_for_disposal(
        self, trigger_id: str, *, timeout: float = 60.0, interval: float = 0.2
    ) -> OperationStatus:
        """Poll a savepoint disposal until done; OperationFailed if it failed."""
        return await wait_for_operation(
            lambda: self.disposal_status(trigger_id),
            timeout=timeout,
            interval=interval,
            what=f"savepoint disposal {trigger_id}",
        )

    # -- waiting -----------------------------------------------------------------------------------------
    async def wait_for_savepoint(
        self, job_id: str, trigger_id: str, *, timeout: float = 120.0, interval: float = 0.2
    ) -> OperationStatus:
        """Poll a savepoint (or stop-with-savepoint) until it is done; OperationFailed if it failed,
        JobNotFound if the job was unknown when it was triggered (Flink answers those triggers 202)."""
        return await self._wait(self.savepoint_status, "savepoint", job_id, trigger_id, timeout, interval)

    async def wait_for_checkpoint(
        self, job_id: str, trigger_id: str, *, timeout: float = 120.0, interval: float = 0.2
    ) -> OperationStatus:
        return await self._wait(self.checkpoint_status, "checkpoint", job_id, trigger_id, timeout, interval)

    async def _wait(
        self,
        status: Callable[[str, str], Awaitable[OperationStatus]],
        what: str,
        job_id: str,
        trigger_id: str,
        timeout: float,
        interval: float,
    ) -> OperationStatus:
        try:
            return await wait_for_operation(
                lambda: status(job_id, trigger_id),
                timeout=timeout,
                interval=interval,
                what=f"{what} {trigger_id} of job {job_id}",
            )
        except OperationFailed as exc:
            if "FlinkJobNotFoundException" in exc.cause or exc.cause_class == "FlinkJobNotFoundException":
                raise JobNotFound(job_id, 404, [exc.cause]) from exc
            raise


async def wait_for_operation(
    poll: Callable[[], Awaitable[OperationStatus]],
    *,
    timeout: float = 120.0,
    interval: float = 0.2,
    what: str = "operation",
    raise_on_failure: bool = True,
) -> OperationStatus:
    """Call `poll` every `interval` seconds until the operation is no longer IN_PROGRESS.

    Returns the final status; a failed one (COMPLETED with a failure-cause) raises OperationFailed unless
    `raise_on_failure` is false. TimeoutError after `timeout` seconds. Errors of `poll` propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        status = await poll()
        if status.state == OperationState.FAILED and raise_on_failure:
            cause = status.failure_cause
            assert cause is not None
            raise OperationFailed(what, cause.message, cause_class=_innermost_class(cause.message))
        if status.done:
            return status
        if time.monotonic() + interval > deadline:
            raise TimeoutError(f"{what} still in progress after {timeout} s")
        await asyncio.sleep(interval)


_ID_SEGMENT = re.compile(r"/[0-9a-fA-F]{32}(?=/|$)")


def path_template(path: str) -> str:
    """``/jobs/<id>/savepoints/<id>`` -> ``/jobs/:id/savepoints/:id``: few distinct values for metrics."""
    return _ID_SEGMENT.sub("/:id", path.split("?", 1)[0])


def _innermost_class(message: str) -> str | None:
    """`org.example.SomeException: text` -> `SomeException`."""
    head = message.split(":", 1)[0].strip()
    return head.rsplit(".", 1)[-1] if head and " " not in head else None


def _id(value: str) -> str:
    return quote(value, safe="")


def _error_from(
    status: int,
    raw: bytes,
    method: str,
    path: str,
    where: str,
    *,
    job_id: str | None,
    trigger_id: str | None,
) -> FlinkClientError:
    text = raw.decode(errors="replace")
    try:
        body: Any = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        # The API server answered, not Flink: no such Service, no ready endpoint, or the backend refused.
        message = str(body.get("message") or body.get("reason") or text)
        if status in _UNREACHABLE_STATUSES or status == 404:
            return FlinkUnreachable(f"{where}: {status} {message}", status=status)
        return FlinkRestError(status, [message], method=method, path=path)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        errors = [text.strip() or f"HTTP {status}"]
    errors = [str(e) for e in errors]
    if status in _UNREACHABLE_STATUSES:
        return FlinkUnreachable(
            f"{where}: {status} {errors[0].splitlines()[0] if errors else ''}", status=status
        )
    if status == 404:
        joined = "\n".join(errors)
        if trigger_id and "triggerId" in joined:
            return TriggerNotFound(job_id or "", trigger_id, status, errors, method=method, path=path)
        if job_id and any(marker in joined for marker in _JOB_NOT_FOUND_MARKERS):
            return JobNotFound(job_id, status, errors, method=method, path=path)
    return FlinkRestError(status, errors, method=method, path=path)


__all__ = [
    "CheckpointType",
    "ClaimMode",
    "FlinkRestClient",
    "SavepointFormat",
    "path_template",
    "wait_for_operation",
]
