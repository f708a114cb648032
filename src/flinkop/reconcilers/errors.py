"""The errors a reconcile records in ``status.error``, as upstream's JSON document
(``FlinkResourceExceptionUtils``): ``{"type", "message", "stackTrace"?, "additionalMetadata"?,
"throwableList": [...]}`` with upstream's Java exception class names as ``type``."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from typing import Any

_PACKAGE = "org.apache.flink.kubernetes.operator.exception"


class ReconcileError(Exception):
    """An error with upstream's exception class name; its message goes into ``status.error``."""

    java_type = f"{_PACKAGE}.ReconciliationException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(ReconcileError):
    java_type = f"{_PACKAGE}.ValidationException"


class MissingJobManagerError(ReconcileError):
    java_type = f"{_PACKAGE}.MissingJobManagerException"


class UpgradeFailureError(ReconcileError):
    """The upgrade cannot go on without a human; ``reason`` is the Warning event's reason."""

    java_type = f"{_PACKAGE}.UpgradeFailureException"

    def __init__(self, message: str, reason: str = "UpgradeFailed") -> None:
        super().__init__(message)
        self.reason = reason


class DeploymentFailedError(ReconcileError):
    """The JobManager Deployment cannot start (crash loop, image pull, failed create)."""

    java_type = f"{_PACKAGE}.DeploymentFailedException"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StatusConflictError(ReconcileError):
    """Someone else changed the status since the operator last wrote it."""

    java_type = f"{_PACKAGE}.StatusConflictException"


class JobFailure(ReconcileError):
    """A job failure reported by Flink: the Java exception class comes from its stack trace."""

    def __init__(self, java_type: str, message: str) -> None:
        super().__init__(message)
        self.java_type = java_type

    @classmethod
    def from_stacktrace(cls, stacktrace: str) -> JobFailure:
        first = stacktrace.strip().splitlines()[0] if stacktrace.strip() else "JobFailure"
        java_type, _, message = first.partition(": ")
        return cls(java_type.strip(), message.strip() or first.strip())


@dataclass(frozen=True)
class ErrorLimits:
    """``kubernetes.operator.exception.*`` limits."""

    stacktrace_enabled: bool = False
    stacktrace_max_length: int = 2048
    field_max_length: int = 2048
    throwable_list_max_count: int = 2


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _java_type(error: BaseException) -> str:
    if isinstance(error, ReconcileError):
        return error.java_type
    return f"{type(error).__module__}.{type(error).__qualname__}"


def _message(error: BaseException) -> str | None:
    if isinstance(error, ReconcileError):
        return error.message
    text = str(error)
    return text or None


def _entry(error: BaseException, limits: ErrorLimits, with_stack: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    entry["type"] = _cut(_java_type(error), limits.field_max_length)
    message = _cut(_message(error), limits.field_max_length)
    if message is not None:
        entry["message"] = message
    if with_stack:
        stack = "".join(traceback.format_exception(error))
        entry["stackTrace"] = stack[: min(limits.stacktrace_max_length, limits.field_max_length)]
    if isinstance(error, DeploymentFailedError):
        entry["additionalMetadata"] = {"reason": _cut(error.reason, limits.field_max_length)}
    return entry


def _causes(error: BaseException) -> list[BaseException]:
    causes: list[BaseException] = []
    cause = error.__cause__ or error.__context__
    while cause is not None and cause not in causes:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    return causes


def error_document(error: BaseException, limits: ErrorLimits | None = None) -> str:
    """``status.error`` for ``error``: compact JSON, keys in upstream's order."""
    limits = limits or ErrorLimits()
    document = _entry(error, limits, limits.stacktrace_enabled)
    document["throwableList"] = [
        _entry(cause, limits, False) for cause in _causes(error)[: max(0, limits.throwable_list_max_count)]
    ]
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def error_message(status_error: str | None) -> str | None:
    """The message inside a ``status.error`` document (or the text itself when it is not one)."""
    if not status_error:
        return None
    try:
        document = json.loads(status_error)
    except json.JSONDecodeError:
        return status_error
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])
    return status_error


__all__ = [
    "DeploymentFailedError",
    "ErrorLimits",
    "JobFailure",
    "MissingJobManagerError",
    "ReconcileError",
    "StatusConflictError",
    "UpgradeFailureError",
    "ValidationError",
    "error_document",
    "error_message",
]
