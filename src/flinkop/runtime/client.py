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


def api_error(exc: ApiException) -> ApiError:
    """Map a kubernetes-asyncio ApiException onto our typed errors."""
    body: JSON = {}
    raw = exc.body
    if isinstance(raw, bytes | str) and raw:
        try:
            parsed = json.loads(raw)
            body = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            body = {}
    status = int(exc.status or 0)
    reason = str(body.get("reason") or exc.reason or "")
    message = str(body.get("message") or exc.reason or "")
    cls: type[ApiError] = {404: NotFound, 409: Conflict, 410: Gone, 422: Invalid, 429: TooManyRequests}.get(
        status, ServerError if status >= 500 else ApiError
    )
    error = cls(status, reason, message, body)
    if isinstance(error, TooManyRequests) and error.retry_after is None and exc.headers:
        retry = exc.headers.get("Retry-After")
        if retry and retry.isdigit():
            error.body.setdefault("details", {})["retryAfterSeconds"] = int(retry)
    return error


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
