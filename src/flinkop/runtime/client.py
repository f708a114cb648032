"""One kubernetes-asyncio ApiClient per process, from a kubeconfig or the in-cluster service account,
and typed API errors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

JSON = dict[str, Any]
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ApiError(Exception):
    """An error answer of the API server, with the Status reason."""

    def __init__(self, status: int, reason: str, message: str, body: JSON | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @property
    def retry_after(self) -> float | None:
        seconds = (self.body.get("details") or {}).get("retryAfterSeconds")
        return float(seconds) if isinstance(seconds, int | float) else None


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: a stale resourceVersion (Conflict) or a duplicate name (AlreadyExists)."""


class Gone(ApiError):
    """410: the requested resourceVersion is too old."""


class Invalid(ApiError):
    pass


class TooManyRequests(ApiError):
    pass


class ServerError(ApiError):
    """5xx: worth retrying."""


def error_from(status: int, body: Any, reason: str = "", headers: Any = None) -> ApiError:
    """A typed error from a status code and the Status body (bytes, text or parsed JSON)."""
    parsed: JSON = {}
    if isinstance(body, bytes | str) and body:
        try:
            loaded = json.loads(body)
            parsed = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            parsed = {}
    elif isinstance(body, dict):
        parsed = body
    status_reason = str(parsed.get("reason") or reason or "")
    message = str(parsed.get("message") or reason or "")
    cls: type[ApiError] = {404: NotFound, 409: Conflict, 410: Gone, 422: Invalid, 429: TooManyRequests}.get(
        status, ServerError if status >= 500 or status == 0 else ApiError
    )
    error = cls(status, status_reason, message, parsed)
    if isinstance(error, TooManyRequests) and error.retry_after is None and headers:
        retry = headers.get("Retry-After")
        if retry and str(retry).isdigit():
            error.body.setdefault("details", {})["retryAfterSeconds"] = int(retry)
    return error


def api_error(exc: ApiException) -> ApiError:
    """Map a kubernetes-asyncio ApiException onto our typed errors."""
    return error_from(int(exc.status or 0), exc.body, str(exc.reason or ""), exc.headers)


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


async def new_api_client(
    kubeconfig: str | Path | JSON | None = None, *, context: str | None = None
) -> client.ApiClient:
    """An ApiClient from a kubeconfig (path or dict), else in-cluster config when running in a pod,
    else the default kubeconfig (KUBECONFIG or ~/.kube/config)."""
    if isinstance(kubeconfig, dict):
        return await config.new_client_from_config_dict(kubeconfig, context=context)
    if kubeconfig is None and in_cluster():
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return client.ApiClient(configuration)
    path = str(kubeconfig) if kubeconfig is not None else None
    return await config.new_client_from_config(config_file=path, context=context)


def kubeconfig_namespace(kubeconfig: JSON, context: str | None = None) -> str:
    """The namespace of the kubeconfig's current (or named) context, `default` when unset."""
    name = context or kubeconfig.get("current-context")
    for entry in kubeconfig.get("contexts") or []:
        if entry.get("name") == name:
            return str((entry.get("context") or {}).get("namespace") or "default")
    return "default"
