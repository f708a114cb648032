"""Typed errors of the Flink REST client.

Flink answers every error with `{"errors": ["<message or java stack trace>", ...]}`; a 500 from a
handler adds `"Internal server error."` and wraps the trace in `<Exception on server side: ...>`. Through
the API server's service proxy, failures to reach the JobManager come back as a Kubernetes `Status`
instead (503 "no endpoints available", "error trying to reach service"), and are reported as
`FlinkUnreachable` like a refused connection.
"""

from __future__ import annotations

import re

_CAUSED_BY = re.compile(r"^Caused by: (.+)$", re.MULTILINE)
_SERVER_SIDE = re.compile(r"^<Exception on server side:\s*", re.MULTILINE)


class FlinkClientError(Exception):
    """Base of every error the Flink REST client raises."""


class FlinkUnreachable(FlinkClientError):
    """The JobManager's REST endpoint could not be reached: connection refused or reset, timeout, DNS,
    the API server's proxy found no ready endpoint (503), or the REST server is not serving (Flink's own
    503 during leader election). Worth retrying later; the cluster may be starting or gone."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class FlinkRestError(FlinkClientError):
    """An error answer of the Flink REST API: the HTTP status and Flink's `errors` list."""

    def __init__(self, status: int, errors: list[str], *, method: str = "", path: str = "") -> None:
        self.status = status
        self.errors = errors
        self.method = method
        self.path = path
        where = f" ({method} {path})" if method else ""
        super().__init__(f"Flink REST {status}{where}: {self.message}")

    @property
    def message(self) -> str:
        """The most specific one-line message: the innermost `Caused by:`, else the first line of the last
        error (Flink puts the generic "Internal server error." first)."""
        text = "\n".join(self.errors)
        causes = _CAUSED_BY.findall(text)
        if causes:
            return str(causes[-1]).strip()
        for error in reversed(self.errors):
            line = _SERVER_SIDE.sub("", error).strip().splitlines()
            if line and line[0].strip():
                return line[0].strip()
        return "(no error message)"

    def mentions(self, text: str) -> bool:
        """Whether any error (stack traces included) contains `text`, e.g. an exception class name."""
        return any(text in error for error in self.errors)


class JobNotFound(FlinkRestError):
    """404 for a job id the JobManager does not know (never submitted, or already cleaned up)."""

    def __init__(
        self,
        job_id: str,
        status: int = 404,
        errors: list[str] | None = None,
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        self.job_id = job_id
        super().__init__(status, errors or [f"Job {job_id} not found"], method=method, path=path)


class TriggerNotFound(FlinkRestError):
    """404 for an asynchronous operation (savepoint, stop, checkpoint) the JobManager does not know: a wrong
    trigger id, or the operation result expired from its cache (`rest.async.store-duration`) or was lost
    with a JobManager restart."""

    def __init__(
        self,
        job_id: str,
        trigger_id: str,
        status: int = 404,
        errors: list[str] | None = None,
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        self.job_id = job_id
        self.trigger_id = trigger_id
        super().__init__(
            status,
            errors or [f"There is no operation with triggerId={trigger_id} for job {job_id}"],
            method=method,
            path=path,
        )


class OperationFailed(FlinkClientError):
    """An asynchronous operation ended with a `failure-cause` (Flink still reports status COMPLETED)."""

    def __init__(self, what: str, cause: str, *, cause_class: str | None = None) -> None:
        super().__init__(f"{what} failed: {cause}")
        self.what = what
        self.cause = cause
        self.cause_class = cause_class


__all__ = [
    "FlinkClientError",
    "FlinkRestError",
    "FlinkUnreachable",
    "JobNotFound",
    "OperationFailed",
    "TriggerNotFound",
]
