"""A JSON client for any resource, over the ApiClient's own HTTP session and credentials.

kubernetes-asyncio's typed APIs build model objects for every response; controllers want the
plain JSON the informer caches, for built-in kinds and custom resources alike, so this client
speaks the REST paths directly and maps errors onto `client.ApiError` subclasses.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from kubernetes_asyncio import client

from flinkop.runtime.client import ApiError, Gone, ServerError, error_from

JSON = dict[str, Any]
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Resource:
    """A REST resource: `Resource("apps", "v1", "deployments")`."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


RequestObserver = Callable[[str, str, int, float], None]  # method, resource, status, seconds


class Kube:
    """GET/LIST/WATCH/CREATE/UPDATE/PATCH/DELETE of JSON objects."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        field_manager: str = "flinkop",
        request_timeout: float = 30.0,
        observer: RequestObserver | None = None,
    ) -> None:
        self.api_client = api_client
        self.field_manager = field_manager
        self.request_timeout = request_timeout
        self.observer = observer
        self._host = str(api_client.configuration.host or "").rstrip("/")

    @property
    def session(self) -> aiohttp.ClientSession:
        session: aiohttp.ClientSession = self.api_client.rest_client.pool_manager
        return session

    async def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"{self.field_manager}/python"}
        if content_type:
            headers["Content-Type"] = content_type
        await self.api_client.update_params_for_auth(headers, [], ["BearerToken"])
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        resource: str = "",
    ) -> JSON:
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = await self._headers(content_type if data is not None else None)
        started = time.monotonic()
        status = 0
        try:
            async with self.session.request(
                method,
                self._host + path,
                params=params,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            ) as response:
                status = response.status
                raw = await response.read()
                if status >= 400:
                    raise error_from(status, raw, response.reason or "", response.headers)
                parsed: JSON = json.loads(raw) if raw else {}
                return parsed
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServerError(0, "ConnectionError", f"{method} {path}: {exc!r}") from exc
        finally:
            if self.observer is not None:
                self.observer(method, resource or path, status, time.monotonic() - started)

    # -- verbs -------------------------------------------------------------------------------------
    async def get(self, res: Resource, name: str, namespace: str | None = None) -> JSON:
        return await self.request("GET", res.path(namespace, name), resource=str(res))

    async def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> JSON:
        query = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
            "continue": continue_token,
            "resourceVersion": resource_version,
        }
        return await self.request("GET", res.path(namespace), query=query, resource=str(res))

    async def create(self, res: Resource, obj: JSON, namespace: str | None = None) -> JSON:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        return await self.request(
            "POST", res.path(ns), body=obj, query={"fieldManager": self.field_manager}, resource=str(res)
        )

    async def replace(self, res: Resource, obj: JSON, *, subresource: str | None = None) -> JSON:
        meta = obj["metadata"]
        return await self.request(
            "PUT",
            res.path(meta.get("namespace"), meta["name"], subresource),
            body=obj,
            query={"fieldManager": self.field_manager},
            resource=str(res),
        )

    async def replace_status(self, res: Resource, obj: JSON) -> JSON:
        return await self.replace(res, obj, subresource="status")

    async def patch(
        self,
        res: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        content_type: str = MERGE,
        subresource: str | None = None,
        force: bool = False,
    ) -> JSON:
        query: dict[str, Any] = {"fieldManager": self.field_manager}
        if force:
            query["force"] = True
        return await self.request(
            "PATCH",
            res.path(namespace, name, subresource),
            body=patch,
            content_type=content_type,
            query=query,
            resource=str(res),
        )

    async def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period: int | None = None,
    ) -> JSON:
        body: JSON = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            body["propagationPolicy"] = propagation
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if uid or resource_version:
            body["preconditions"] = {
                k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v
            }
        return await self.request("DELETE", res.path(namespace, name), body=body, resource=str(res))

    async def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[JSON]:
        """Watch events as dicts until the server ends the stream.

        An ERROR event becomes a raised ApiError (Gone for 410), as client-go's watcher does.
        """
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": "true" if allow_bookmarks else None,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        params = {k: _query_value(v) for k, v in query.items() if v is not None}
        headers = await self._headers()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=timeout_seconds + 30
        )
        try:
            async with self.session.get(
                self._host + res.path(namespace), params=params, headers=headers, timeout=timeout
            ) as response:
                if response.status >= 400:
                    raise error_from(
                        response.status, await response.read(), response.reason or "", response.headers
                    )
                async for line in response.content:
                    if not line.strip():
                        continue
                    event: JSON = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise error_from(int(status.get("code") or 500), status)
                    yield event
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServerError(0, "ConnectionError", f"watch {res}: {exc!r}") from exc


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["APPLY", "JSON_PATCH", "MERGE", "STRATEGIC", "ApiError", "Gone", "Kube", "Resource"]
