"""HTTP front end: URL routing, content negotiation, query parsing and watch streams."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from flinkop.sandbox.apiserver import discovery, errors, patching, protobuf, tables
from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.objects import (
    APPLY_PATCH,
    APPLY_PATCH_CBOR,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    DeleteOptions,
)
from flinkop.sandbox.apiserver.resources import ResourceType
from flinkop.sandbox.apiserver.selectors import FieldSelector, LabelSelector, matcher
from flinkop.sandbox.apiserver.store import BOOKMARK, Watcher

if TYPE_CHECKING:
    from flinkop.sandbox.apiserver.server import SandboxApiServer

JSON = dict[str, Any]
PROTOBUF = "application/vnd.kubernetes.protobuf"
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH, APPLY_PATCH, APPLY_PATCH_CBOR)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(query: Any, name: str) -> bool:
    """Go's strconv.ParseBool, as kube-apiserver reads boolean query parameters."""
    value = query.get(name)
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _int_param(query: Any, name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'{name}: invalid value "{value}": must be an integer') from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(exc: ApiError) -> web.Response:
    return json_response(exc.status(), exc.code, headers=exc.headers)


@dataclass
class Target:
    """What a resource URL names."""

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_prefix: bool = False


class Handlers:
    def __init__(self, server: SandboxApiServer) -> None:
        self.server = server

    # -- routing -----------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/sandbox/"):
                return await self.server.control(request)
            latency, fault = self.server.faults.match(request.method, path)
            if latency:
                await asyncio.sleep(latency)
            if fault is not None:
                return error_response(fault)
            response = await self._route(request, path.rstrip("/") or "/")
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPException:
            raise
        except Exception as exc:  # a server bug must still answer as a Status
            self.server.log.exception("request failed", method=request.method, path=path)
            return error_response(errors.internal(repr(exc)))
        return response

    async def _route(self, request: web.Request, path: str) -> web.StreamResponse:
        registry = self.server.registry
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        if path == "/version":
            return json_response(discovery.SERVER_VERSION)
        if path == "/api":
            return json_response(discovery.core_versions(f"{request.host}"))
        if path == "/apis":
            return json_response(discovery.group_list(registry))
        if path == "/openapi/v3":
            return json_response(discovery.openapi_v3_root(registry))
        if path.startswith("/openapi/v3/"):
            parts = path[len("/openapi/v3/") :].split("/")
            doc = None
            if parts[0] == "api" and len(parts) == 2:
                doc = discovery.openapi_v3_document(registry, "", parts[1])
            elif parts[0] == "apis" and len(parts) == 3:
                doc = discovery.openapi_v3_document(registry, parts[1], parts[2])
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(doc)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                doc = discovery.group(registry, parts[1])
                if doc is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return json_response(doc)
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = discovery.resource_list(registry, group, version)
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return json_response(doc)
        target = self._target(group, version, rest)
        return await self._serve(request, target)

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        registry = self.server.registry
        watch_prefix = False
        if rest[0] == "watch":
            watch_prefix, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], rest[1] if len(rest) > 1 else None
        subresource = "/".join(rest[2:]) or None
        rtype = registry.get(group, version, plural)
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return Target(rtype, namespace, name, subresource, watch_prefix)

    # -- verbs -------------------------------------------------------------------------------------
    async def _serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        objects = self.server.objects
        rtype, ns, name, sub = target.rtype, target.namespace, target.name, target.subresource
        query = request.query
        method = request.method
        agent = request.headers.get("User-Agent", "")
        manager = query.get("fieldManager")
        dry_run = bool(query.get("dryRun"))
        validation = query.get("fieldValidation")
        if validation not in (None, "", "Ignore", "Warn", "Strict"):
            raise errors.bad_request(
                f'fieldValidation: Unsupported value: "{validation}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        core_kind = rtype.kind if not rtype.group else ""
        if sub is not None and name is not None and core_kind in ("Pod", "Service"):
            special = await self._pod_or_service_subresource(request, core_kind, ns, name, sub)
            if special is not None:
                return special
        if (
            sub not in (None, "status", "scale", "finalize")
            or (sub == "scale" and rtype.scale is None)
            or (sub == "status" and not rtype.has_status)
            or (sub == "finalize" and rtype.kind != "Namespace")
        ):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if method == "GET":
                if target.watch_prefix or parse_bool(query, "watch"):
                    return await self.watch(request, rtype, ns)
                return self._list_response(rtype, ns, query, request.headers.get("Accept", ""))
            if method == "POST":
                body = await self._body(request)
                created = objects.create(
                    rtype,
                    ns,
                    body,
                    field_manager=manager,
                    user_agent=agent,
                    dry_run=dry_run,
                    field_validation=validation,
                )
                return json_response(created, 201)
            if method == "DELETE":
                options = DeleteOptions.from_body(await self._optional_body(request), dict(query))
                deleted = objects.delete_collection(
                    rtype,
                    ns,
                    label_selector=query.get("labelSelector"),
                    field_selector=query.get("fieldSelector"),
                    options=options,
                )
                return json_response(
                    {
                        "kind": rtype.list_kind,
                        "apiVersion": rtype.group_version,
                        "metadata": {"resourceVersion": str(self.server.store.rv)},
                        "items": deleted,
                    }
                )
            raise errors.method_not_allowed(method, rtype.plural, rtype.group)
        if target.watch_prefix:
            return await self.watch(request, rtype, ns, name=name)
        if sub == "scale":
            if method == "GET":
                return json_response(objects.get_scale(rtype, ns, name))
            if method in ("PUT", "PATCH"):
                body = await self._body(request) if method == "PUT" else None
                if method == "PATCH":
                    body = _patch_scale(
                        objects.get_scale(rtype, ns, name), await self._body(request), request.content_type
                    )
                return json_response(
                    objects.update_scale(rtype, ns, name, body, user_agent=agent, field_manager=manager)
                )
            raise errors.method_not_allowed(method, rtype.plural, rtype.group)
        if method == "GET":
            obj = objects.get(rtype, ns, name)
            if tables.wants_table(request.headers.get("Accept", "")):
                table = tables.table(
                    rtype, [obj], obj["metadata"]["resourceVersion"], _printer_columns(rtype)
                )
                return json_response(table)
            return json_response(obj)
        if method == "PUT":
            body = await self._body(request)
            return json_response(
                objects.update(
                    rtype,
                    ns,
                    name,
                    body,
                    subresource=sub,
                    field_manager=manager,
                    user_agent=agent,
                    dry_run=dry_run,
                    field_validation=validation,
                )
            )
        if method == "PATCH":
            ctype = request.content_type
            if ctype not in PATCH_TYPES:
                accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + (
                    [STRATEGIC_PATCH] if rtype.builtin else []
                )
                raise errors.unsupported_media_type(ctype, accepted)
            raw = await request.read()
            patch = _parse_patch(raw, ctype)
            patched, was_created = objects.patch(
                rtype,
                ns,
                name,
                patch,
                ctype,
                subresource=sub,
                field_manager=manager,
                force=parse_bool(query, "force"),
                user_agent=agent,
                dry_run=dry_run,
                field_validation=validation,
            )
            return json_response(patched, 201 if was_created else 200)
        if method == "DELETE":
            options = DeleteOptions.from_body(await self._optional_body(request), dict(query))
            body, _removed = objects.delete(rtype, ns, name, options)
            return json_response(body, 200)
        raise errors.method_not_allowed(method, rtype.plural, rtype.group)

    async def _pod_or_service_subresource(
        self, request: web.Request, kind: str, ns: str | None, name: str, sub: str
    ) -> web.StreamResponse | None:
        """proxy (pods, services), log and binding (pods): the subresources that are not stored."""
        proxy = self.server.proxy
        if sub == "proxy" or sub.startswith("proxy/"):
            raw = request.raw_path.split("?", 1)[0]
            remainder = raw[raw.find("/proxy") + len("/proxy") :]
            target = (
                proxy.service_target(ns or "", name)
                if kind == "Service"
                else proxy.pod_target(ns or "", name)
            )
            return await proxy.forward(request, target, remainder or "/")
        if kind == "Pod" and sub == "log" and request.method == "GET":
            return await proxy.logs(request, ns or "", name)
        if kind == "Pod" and sub == "binding" and request.method == "POST":
            body = await self._body(request)
            node = ((body.get("target") or {}) if isinstance(body, dict) else {}).get("name")
            if not isinstance(node, str) or not node:
                raise errors.invalid("Binding", "", name, [("target.name", "Required value")])
            self.server.objects.bind(ns or "", name, node)
            return json_response(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
            )
        return None

    def _list_response(
        self, rtype: ResourceType, ns: str | None, query: Any, accept: str = ""
    ) -> web.Response:
        result = self.server.objects.list_objects(
            rtype,
            ns,
            label_selector=query.get("labelSelector"),
            field_selector=query.get("fieldSelector"),
            limit=_int_param(query, "limit"),
            continue_token=query.get("continue"),
        )
        items = result.items
        if tables.wants_table(accept):
            return json_response(
                tables.table(
                    rtype, items, result.resource_version, _printer_columns(rtype), result.continue_token
                )
            )
        if rtype.builtin:  # typed lists omit each item's kind and apiVersion
            items = [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")} for item in items]
        meta: JSON = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
        return json_response(
            {"kind": rtype.list_kind, "apiVersion": rtype.group_version, "metadata": meta, "items": items}
        )

    # -- bodies ------------------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            raise errors.bad_request("the request body is empty")
        return _decode_body(raw, request.content_type)

    async def _optional_body(self, request: web.Request) -> JSON | None:
        raw = await request.read()
        if not raw:
            return None
        body = _decode_body(raw, request.content_type)
        return body if isinstance(body, dict) else None

    # -- watch -------------------------------------------------------------------------------------
    async def watch(
        self,
        request: web.Request,
        rtype: ResourceType,
        namespace: str | None,
        *,
        name: str | None = None,
    ) -> web.StreamResponse:
        server = self.server
        store = server.store
        query = request.query
        label = LabelSelector.parse(query.get("labelSelector"))
        fields_text = query.get("fieldSelector")
        if name:
            fields_text = f"metadata.name={name}" + (f",{fields_text}" if fields_text else "")
        fields = FieldSelector.parse(fields_text, rtype.kind)
        match = matcher(label, fields, rtype.kind)
        rv_text = query.get("resourceVersion") or ""
        bookmarks = parse_bool(query, "allowWatchBookmarks")
        initial = parse_bool(query, "sendInitialEvents")
        if initial and query.get("resourceVersionMatch") != "NotOlderThan":
            raise errors.invalid(
                "ListOptions",
                "meta.k8s.io",
                "",
                [
                    (
                        "resourceVersionMatch",
                        "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    )
                ],
            )
        timeout = _int_param(query, "timeoutSeconds")
        if timeout is None:
            timeout = int(server.watch_timeout * (1 + random.random()))
        try:
            since = int(rv_text) if rv_text not in ("", "0") else None
        except ValueError:
            raise errors.bad_request(
                f'resourceVersion: Invalid value: "{rv_text}": must be an integer'
            ) from None

        as_table = tables.wants_table(request.headers.get("Accept", ""))
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        api_version = rtype.group_version
        if since is not None and not initial and store.expired(rtype.storage_key, since):
            expired = errors.expired(f"too old resource version: {since} ({store.floor(rtype.storage_key)})")
            await response.write(json.dumps({"type": "ERROR", "object": expired.status()}).encode() + b"\n")
            await response.write_eof()
            return response
        watcher = Watcher(rtype.storage_key, namespace if rtype.namespaced else None, match)
        lines: list[bytes] = []
        if since is None or initial:
            # Current state as synthetic ADDED events; no await between the read and the registration.
            for obj in store.items(rtype.storage_key, watcher.namespace):
                if match(obj) and as_table:
                    lines.append(self._table_event(rtype, "ADDED", obj))
                elif match(obj):
                    served = (
                        obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}
                    )
                    lines.append(
                        json.dumps({"type": "ADDED", "object": served}, separators=(",", ":")).encode()
                        + b"\n"
                    )
            store.open_watch(watcher, None)
            if initial and bookmarks:
                lines.append(self._bookmark(rtype, store.rv, initial_end=True))
        else:
            store.open_watch(watcher, since)
        server.watches_open += 1
        deadline = time.monotonic() + timeout
        interval = server.bookmark_interval
        next_bookmark = time.monotonic() + interval
        try:
            if lines:
                await response.write(b"".join(lines))
            while True:
                lines = []
                while watcher.queue:
                    etype, change = watcher.queue.popleft()
                    if as_table:
                        lines.append(self._table_event(rtype, etype, change.object_for(etype)))
                    else:
                        lines.append(change.line(api_version, etype))
                if lines:
                    await response.write(b"".join(lines))
                if watcher.closed:
                    break
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark and not watcher.queue:
                    await response.write(self._bookmark(rtype, store.rv))
                    next_bookmark = now + interval
                wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                watcher.wakeup.clear()
                if not watcher.queue and not watcher.closed:
                    try:
                        await asyncio.wait_for(watcher.wakeup.wait(), max(wait, 0.001))
                    except TimeoutError:
                        pass
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.close_watch(watcher)
            server.watches_open -= 1
        return response

    @staticmethod
    def _table_event(rtype: ResourceType, etype: str, obj: JSON) -> bytes:
        body = tables.table(
            rtype, [obj], str(obj["metadata"].get("resourceVersion", "")), _printer_columns(rtype)
        )
        return json.dumps({"type": etype, "object": body}, separators=(",", ":")).encode() + b"\n"

    @staticmethod
    def _bookmark(rtype: ResourceType, rv: int, *, initial_end: bool = False) -> bytes:
        meta: JSON = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            json.dumps(
                {
                    "type": BOOKMARK,
                    "object": {"kind": rtype.kind, "apiVersion": rtype.group_version, "metadata": meta},
                }
            ).encode()
            + b"\n"
        )


def _decode_body(raw: bytes, content_type: str) -> Any:
    if content_type == PROTOBUF:
        return protobuf.decode(raw)
    try:
        return json.loads(raw)
    except ValueError as exc:
        if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
            try:
                return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except yaml.YAMLError as yexc:
                raise errors.bad_request(f"error converting YAML to JSON: {yexc}") from None
        raise errors.bad_request(
            f"the object provided is unrecognized: couldn't get version/kind; json parse error: {exc}"
        ) from None


def _parse_patch(raw: bytes, content_type: str) -> Any:
    if not raw:
        raise errors.bad_request("the body of the patch request is empty")
    try:
        return json.loads(raw)
    except ValueError as exc:
        if content_type == APPLY_PATCH:
            try:
                return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except yaml.YAMLError as yexc:
                raise errors.bad_request(f"error decoding YAML: {yexc}") from None
        raise errors.bad_request(f"invalid JSON patch: {exc}") from None


def _patch_scale(current: JSON, patch: Any, content_type: str) -> Any:
    """Patches of the Scale subresource: the object is a built-in, so strategic merge applies."""
    if content_type == JSON_PATCH:
        try:
            return patching.json_patch(current, patch)
        except (patching.JsonPatchTestFailed, patching.JsonPatchOpFailed) as exc:
            raise errors.invalid(
                "Scale", "autoscaling", current["metadata"]["name"], [("", str(exc))], prefix=str(exc)
            ) from None
    if content_type not in (MERGE_PATCH, STRATEGIC_PATCH):
        raise errors.unsupported_media_type(content_type, [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH])
    if not isinstance(patch, dict):
        raise errors.bad_request("json: cannot unmarshal non-object into Go value of type map[string]any")
    return patching.merge_patch(current, patch)


def _printer_columns(rtype: ResourceType) -> list[JSON] | None:
    if not rtype.printer_columns_json:
        return None
    columns: list[JSON] = json.loads(rtype.printer_columns_json)
    return columns
