"""The API verbs on stored objects, with kube-apiserver's semantics and independent of HTTP.

Handlers and the server's own controllers (garbage collector, namespace and CRD
controllers) all write through here, so every write gets the same rules: revisions,
generation, the status split, finalizers, preconditions and field managers.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

from flinkop.sandbox.apiserver import defaults, errors, fieldmanager, patching, shapes
from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.resources import ResourceType
from flinkop.sandbox.apiserver.selectors import FieldSelector, LabelSelector, lookup_path, matcher
from flinkop.sandbox.apiserver.store import ADDED, MODIFIED, Store

JSON = dict[str, Any]
SCALE_TYPE = ResourceType(group="autoscaling", version="v1", plural="scale", singular="scale", kind="Scale")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"

_SERVER_META = (
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(obj: Any) -> Any:
    """A deep copy of JSON data; a JSON round trip beats copy.deepcopy on plain data."""
    return json.loads(json.dumps(obj))


def _without_volatile(obj: JSON) -> JSON:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": meta}


def _strip_times(fields: list[JSON] | None) -> list[JSON]:
    return [{k: v for k, v in entry.items() if k != "time"} for entry in fields or []]


def same_object(old: JSON, new: JSON) -> bool:
    """A write that changes nothing but the revision or managedFields times is a no-op."""
    if _without_volatile(old) != _without_volatile(new):
        return False
    old_mf = old.get("metadata", {}).get("managedFields")
    new_mf = new.get("metadata", {}).get("managedFields")
    return _strip_times(old_mf) == _strip_times(new_mf)


@dataclass
class DeleteOptions:
    propagation: str | None = None  # Background (default), Foreground, Orphan
    grace_period: int | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: JSON | None, query: dict[str, str]) -> DeleteOptions:
        body = body or {}
        opts = cls()
        policy = query.get("propagationPolicy") or body.get("propagationPolicy")
        orphan = query.get("orphanDependents") or body.get("orphanDependents")
        if policy:
            if policy not in ("Background", "Foreground", "Orphan"):
                raise errors.bad_request(f'propagationPolicy: Unsupported value: "{policy}"')
            opts.propagation = policy
        elif orphan in (True, "true", "True", "1"):
            opts.propagation = "Orphan"
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        if grace is not None:
            try:
                opts.grace_period = int(grace)
            except (TypeError, ValueError):
                raise errors.bad_request(f"gracePeriodSeconds: invalid value {grace!r}") from None
        pre = body.get("preconditions") or {}
        opts.precondition_uid = pre.get("uid")
        opts.precondition_rv = pre.get("resourceVersion")
        dry = query.get("dryRun") or body.get("dryRun")
        opts.dry_run = bool(dry)
        return opts


@dataclass
class ListResult:
    items: list[JSON]
    resource_version: str
    continue_token: str | None
    remaining: int | None


class Objects:
    """Create, read, update, patch and delete objects of any registered resource type."""

    def __init__(self, store: Store, namespace_type: ResourceType, pod_type: ResourceType) -> None:
        self.store = store
        self._namespaces = namespace_type
        self._pods = pod_type

    # -- helpers -----------------------------------------------------------------------------------
    def _require_namespace(
        self, rtype: ResourceType, namespace: str | None, name: str, creating: bool
    ) -> None:
        if not rtype.namespaced:
            return
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource (namespace required)")
        ns = self.store.get(self._namespaces.storage_key, ("", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{errors.qualified(rtype.plural, rtype.group)} "{name}" is forbidden: unable to create new '
                f"content in namespace {namespace} because it is being terminated",
                details={
                    "name": name,
                    "group": rtype.group,
                    "kind": rtype.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _stored(self, rtype: ResourceType, namespace: str | None, name: str) -> JSON:
        obj = self.store.get(rtype.storage_key, (namespace or "" if rtype.namespaced else "", name))
        if obj is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return obj

    def serve(self, rtype: ResourceType, obj: JSON) -> JSON:
        """An object as served at `rtype`'s version (multi-version CRDs only rewrite apiVersion)."""
        if obj.get("apiVersion") != rtype.group_version:
            return {**obj, "apiVersion": rtype.group_version}
        return obj

    def _manager(self, field_manager: str | None, user_agent: str) -> str:
        if field_manager:
            return field_manager
        return (user_agent.split("/", 1)[0] or "unknown")[:128]

    def _spec_part(self, rtype: ResourceType, obj: JSON) -> Any:
        """The part of an object whose changes bump metadata.generation."""
        if rtype.builtin:
            return obj.get("spec")
        skip = {"metadata", "status"} if rtype.has_status else {"metadata"}
        return {k: v for k, v in obj.items() if k not in skip and k not in ("apiVersion", "kind")}

    # -- reads -------------------------------------------------------------------------------------
    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> JSON:
        return self.serve(rtype, self._stored(rtype, namespace, name))

    def list_objects(
        self,
        rtype: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> ListResult:
        match = matcher(
            LabelSelector.parse(label_selector), FieldSelector.parse(field_selector, rtype.kind), rtype.kind
        )
        list_rv = self.store.rv
        start_after: tuple[str, str] | None = None
        if continue_token:
            list_rv, start_after = _decode_continue(continue_token)
            if self.store.expired(rtype.storage_key, list_rv):
                raise errors.expired(
                    "The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token "
                    "results in an inconsistent list - objects that were created, modified, or deleted "
                    "between "
                    "the time the first chunk was returned and now may show up in the list."
                )
        scope = namespace if rtype.namespaced else None
        snapshot = (
            self.store.items_at(rtype.storage_key, scope, list_rv)
            if start_after is not None
            else self.store.items(rtype.storage_key, scope)
        )
        items = [o for o in snapshot if (start_after is None or _key(o) > start_after) and match(o)]
        token = None
        remaining = None
        if limit and limit > 0 and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            token = _encode_continue(list_rv, _key(items[-1]))
        return ListResult([self.serve(rtype, o) for o in items], str(list_rv), token, remaining)

    # -- create ------------------------------------------------------------------------------------
    def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        field_manager: str | None = None,
        user_agent: str = "",
        dry_run: bool = False,
        managed: bool = True,
        field_validation: str | None = None,
    ) -> JSON:
        shapes.check(rtype, body)
        shapes.drop_unknown(rtype, body, field_validation)
        defaults.check_kind(rtype, body)
        obj = body
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace or body_ns
        else:
            meta.pop("namespace", None)
        name = meta.get("name")
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    "",
                    [("metadata.name", "Required value: name or generateName is required")],
                    prefix=f'{rtype.kind} "" is invalid: metadata.name: Required value: name or generateName '
                    "is required",
                )
            name = meta["name"] = prefix[:58] + "".join(random.choices(_NAME_CHARS, k=5))  # 63 at most
        self._require_namespace(rtype, meta.get("namespace"), name, creating=True)
        obj["apiVersion"] = f"{rtype.group}/{rtype.storage_version or rtype.version}" if rtype.group else "v1"
        obj["kind"] = rtype.kind
        for key in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ):
            meta.pop(key, None)
        if rtype.has_status:
            obj.pop("status", None)
        defaults.apply_create_defaults(rtype, obj)
        defaults.validate(rtype, obj)
        object_key = (meta.get("namespace") or "", name)
        if self.store.get(rtype.storage_key, object_key) is not None:
            raise errors.already_exists(rtype.plural, rtype.group, name)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rtype.has_generation:
            meta["generation"] = 1
        if managed:
            obj = fieldmanager.record_update(
                None,
                obj,
                manager=self._manager(field_manager, user_agent),
                api_version=rtype.group_version,
                builtin=rtype.builtin,
                ignore_status=rtype.has_status,
                now=meta["creationTimestamp"],
            )
        if dry_run:
            obj["metadata"]["resourceVersion"] = str(self.store.rv)
            return self.serve(rtype, obj)
        rv = self.store.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        self.store.put(rtype.storage_key, obj, rv, ADDED)
        return self.serve(rtype, obj)

    # -- update ------------------------------------------------------------------------------------
    def update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
        user_agent: str = "",
        dry_run: bool = False,
        field_validation: str | None = None,
    ) -> JSON:
        """PUT: replaces the object (or its status); a missing resourceVersion is unconditional."""
        shapes.check(rtype, body)
        shapes.drop_unknown(rtype, body, field_validation)
        defaults.check_kind(rtype, body)
        old = self._stored(rtype, namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if not meta.get("resourceVersion") and not rtype.unconditional_update:
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                name,
                [("metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")],
            )
        return self._write(
            rtype,
            old,
            body,
            subresource=subresource,
            manager=self._manager(field_manager, user_agent),
            dry_run=dry_run,
        )

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        content_type: str,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool = False,
        user_agent: str = "",
        dry_run: bool = False,
        field_validation: str | None = None,
    ) -> tuple[JSON, bool]:
        """PATCH in any of the four content types; returns (object, created)."""
        if content_type in (APPLY_PATCH, APPLY_PATCH_CBOR):
            return self._apply(
                rtype,
                namespace,
                name,
                patch,
                subresource=subresource,
                field_manager=field_manager,
                force=force,
                dry_run=dry_run,
                field_validation=field_validation,
            )
        old = self._stored(rtype, namespace, name)
        current = self.serve(rtype, old)
        if content_type == MERGE_PATCH:
            if not isinstance(patch, dict):
                raise errors.bad_request(
                    "json: cannot unmarshal non-object into Go value of type map[string]any"
                )
            new = patching.merge_patch(current, patch)
        elif content_type == JSON_PATCH:
            try:
                new = patching.json_patch(current, patch)
            except (patching.JsonPatchTestFailed, patching.JsonPatchOpFailed) as exc:
                raise errors.invalid(
                    rtype.kind, rtype.group, name, [("", str(exc))], prefix=str(exc)
                ) from None
        elif content_type == STRATEGIC_PATCH:
            if not rtype.builtin:
                raise errors.unsupported_media_type(content_type, [JSON_PATCH, MERGE_PATCH, APPLY_PATCH])
            if not isinstance(patch, dict):
                raise errors.bad_request(
                    "json: cannot unmarshal non-object into Go value of type map[string]any"
                )
            new = patching.strategic_merge_patch(current, patch)
        else:
            accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([STRATEGIC_PATCH] if rtype.builtin else [])
            raise errors.unsupported_media_type(content_type, accepted)
        shapes.check(rtype, new)
        shapes.drop_unknown(rtype, new, field_validation)
        if not isinstance(new.get("metadata"), dict):
            raise errors.bad_request("the patch produced an object without metadata")
        # A patch may carry a resourceVersion as a precondition; without one it is unconditional.
        patched_rv = new["metadata"].get("resourceVersion")
        if patched_rv != old["metadata"]["resourceVersion"] and patched_rv is not None:
            raise errors.conflict(rtype.plural, rtype.group, name, errors.MODIFIED_CONFLICT)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        obj = self._write(
            rtype,
            old,
            new,
            subresource=subresource,
            manager=self._manager(field_manager, user_agent),
            dry_run=dry_run,
        )
        return obj, False

    def _apply(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        applied: Any,
        *,
        subresource: str | None,
        field_manager: str | None,
        force: bool,
        dry_run: bool,
        field_validation: str | None = None,
    ) -> tuple[JSON, bool]:
        if not field_manager:
            raise errors.bad_request("PATCH requests with apply content type must have fieldManager set")
        shapes.check(rtype, applied)
        shapes.drop_unknown(rtype, applied, field_validation)
        defaults.check_kind(rtype, applied)
        meta = applied.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        key = (namespace or "" if rtype.namespaced else "", name)
        old = self.store.get(rtype.storage_key, key)
        stamp = now()
        if old is None:
            if subresource:
                raise errors.not_found(rtype.plural, rtype.group, name)
            obj = fieldmanager.apply(
                None,
                applied,
                manager=field_manager,
                force=force,
                api_version=rtype.group_version,
                builtin=rtype.builtin,
                ignore_status=rtype.has_status,
                now=stamp,
            )
            obj.setdefault("metadata", {})["name"] = name
            return self.create(rtype, namespace, obj, dry_run=dry_run, managed=False), True
        new = fieldmanager.apply(
            clone(self.serve(rtype, old)),
            applied,
            manager=field_manager,
            force=force,
            api_version=rtype.group_version,
            builtin=rtype.builtin,
            ignore_status=rtype.has_status and subresource != "status",
            now=stamp,
        )
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._write(rtype, old, new, subresource=subresource, manager=None, dry_run=dry_run), False

    def _write(
        self,
        rtype: ResourceType,
        old: JSON,
        new: JSON,
        *,
        subresource: str | None,
        manager: str | None,
        dry_run: bool = False,
    ) -> JSON:
        """The common update path: immutables, preconditions, status split, generation, finalizers."""
        name = old["metadata"]["name"]
        if subresource == "status":
            if not rtype.has_status:
                raise errors.not_found(rtype.plural, rtype.group, name)
            status_rv = (new.get("metadata") or {}).get("resourceVersion")
            merged = (
                {**old, "status": new.get("status")}
                if "status" in new
                else {k: v for k, v in old.items() if k != "status"}
            )
            merged["metadata"] = {**old["metadata"], "resourceVersion": status_rv}
            if rtype.kind == "Namespace":
                merged.setdefault("status", {}).setdefault(
                    "phase", old.get("status", {}).get("phase", "Active")
                )
            new = merged
        elif subresource == "finalize" and rtype.kind == "Namespace":
            new = {
                **old,
                "spec": {
                    **(old.get("spec") or {}),
                    "finalizers": (new.get("spec") or {}).get("finalizers") or [],
                },
                "metadata": {
                    **old["metadata"],
                    "resourceVersion": (new.get("metadata") or {}).get("resourceVersion"),
                },
            }
        elif subresource:
            raise errors.not_found(rtype.plural, rtype.group, name)
        else:
            if rtype.has_status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, name, errors.MODIFIED_CONFLICT)
        if (
            rtype.namespaced
            and meta.get("namespace")
            and meta["namespace"] != old["metadata"].get("namespace")
        ):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        for key in _SERVER_META:
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        meta["name"] = name
        if rtype.namespaced:
            meta["namespace"] = old["metadata"]["namespace"]
        else:
            meta.pop("namespace", None)
        new["apiVersion"] = old["apiVersion"]
        new["kind"] = rtype.kind
        if "managedFields" not in meta and old["metadata"].get("managedFields"):
            meta["managedFields"] = old["metadata"]["managedFields"]
        deleting = bool(old["metadata"].get("deletionTimestamp"))
        if deleting:
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    name,
                    [
                        (
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being "
                            "deleted, found new finalizers " + json.dumps(sorted(added)),
                        )
                    ],
                )
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        defaults.apply_update_defaults(rtype, old, new)
        defaults.validate(rtype, new)
        if rtype.has_generation and self._spec_part(rtype, old) != self._spec_part(rtype, new):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if manager is not None:
            new = fieldmanager.record_update(
                old,
                new,
                manager=manager,
                api_version=rtype.group_version,
                builtin=rtype.builtin,
                ignore_status=rtype.has_status,
                now=now(),
                subresource=subresource,
            )
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if same_object(old, new):
            return self.serve(rtype, old)
        if dry_run:
            return self.serve(rtype, new)
        rv = self.store.next_rv()
        # Like ShouldDeleteDuringUpdate: only an object whose grace period is over goes on update
        # (a terminating pod keeps its status writes until the kubelet deletes it with grace 0).
        grace_over = int(new["metadata"].get("deletionGracePeriodSeconds") or 0) == 0
        if deleting and grace_over and not self._blocks_removal(new):
            new["metadata"]["resourceVersion"] = str(rv)
            self.store.remove(rtype.storage_key, new, rv)
            return self.serve(rtype, new)
        new["metadata"]["resourceVersion"] = str(rv)
        self.store.put(rtype.storage_key, new, rv, MODIFIED)
        return self.serve(rtype, new)

    @staticmethod
    def _blocks_removal(obj: JSON) -> bool:
        if obj["metadata"].get("finalizers"):
            return True
        return obj.get("kind") == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))

    # -- delete ------------------------------------------------------------------------------------
    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        options: DeleteOptions | None = None,
    ) -> tuple[JSON, bool]:
        """DELETE; returns (body, removed): the Status when removed, else the object being deleted."""
        opts = options or DeleteOptions()
        old = self._stored(rtype, namespace, name)
        meta = old["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta["uid"]:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in "
                f"object meta: {meta['uid']}",
            )
        if opts.precondition_rv and opts.precondition_rv != meta["resourceVersion"]:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        finalizers = list(meta.get("finalizers") or [])
        if opts.propagation == "Foreground" and FOREGROUND not in finalizers:
            finalizers.append(FOREGROUND)
        elif opts.propagation == "Orphan" and ORPHAN not in finalizers:
            finalizers.append(ORPHAN)
        elif opts.propagation == "Background" and meta.get("deletionTimestamp"):
            finalizers = [f for f in finalizers if f != FOREGROUND]
        graceful = self._grace_period(rtype, old, opts)
        namespace_pending = rtype.kind == "Namespace" and bool((old.get("spec") or {}).get("finalizers"))
        if finalizers or namespace_pending or graceful:
            if (
                meta.get("deletionTimestamp")
                and finalizers == list(meta.get("finalizers") or [])
                and not (graceful is not None and graceful < int(meta.get("deletionGracePeriodSeconds") or 0))
            ):
                return self.serve(rtype, old), False  # repeated DELETE: nothing new
            new_meta = (
                {**meta, "finalizers": finalizers}
                if finalizers
                else {k: v for k, v in meta.items() if k != "finalizers"}
            )
            new_meta.setdefault("deletionTimestamp", now())
            new_meta["deletionGracePeriodSeconds"] = graceful or 0
            new = {**old, "metadata": new_meta}
            if rtype.kind == "Namespace":
                new["status"] = {**(old.get("status") or {}), "phase": "Terminating"}
            if opts.dry_run:
                return self.serve(rtype, new), False
            rv = self.store.next_rv()
            new_meta["resourceVersion"] = str(rv)
            self.store.put(rtype.storage_key, new, rv, MODIFIED)
            return self.serve(rtype, new), False
        if opts.dry_run:
            return self._success(rtype, old), True
        rv = self.store.next_rv()
        last = {**old, "metadata": {**meta, "resourceVersion": str(rv)}}
        self.store.remove(rtype.storage_key, last, rv)
        return self._success(rtype, last), True

    def _grace_period(self, rtype: ResourceType, obj: JSON, opts: DeleteOptions) -> int | None:
        """Pods bound to a node end gracefully: the kubelet finishes their deletion."""
        if rtype.kind != "Pod" or rtype.group or not (obj.get("spec") or {}).get("nodeName"):
            return None
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return None
        grace = opts.grace_period
        if grace is None:
            grace = int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        return grace if grace > 0 else None

    def _success(self, rtype: ResourceType, obj: JSON) -> JSON:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": obj["metadata"]["name"],
                "group": rtype.group,
                "kind": rtype.plural,
                "uid": obj["metadata"]["uid"],
            },
        }

    def delete_collection(
        self,
        rtype: ResourceType,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        options: DeleteOptions | None = None,
    ) -> list[JSON]:
        listed = self.list_objects(
            rtype, namespace, label_selector=label_selector, field_selector=field_selector
        )
        out = []
        for item in listed.items:
            meta = item["metadata"]
            try:
                body, _ = self.delete(rtype, meta.get("namespace"), meta["name"], options)
            except ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            out.append(item if body.get("kind") == "Status" else body)
        return out

    # -- binding -----------------------------------------------------------------------------------
    def bind(self, namespace: str, name: str, node: str) -> JSON:
        """The scheduler's step: set spec.nodeName once and report PodScheduled."""
        pods = self._namespaces_registry_pods()
        old = self._stored(pods, namespace, name)
        if old["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods", "", name, "pod is being deleted, cannot be assigned to a host")
        assigned = (old.get("spec") or {}).get("nodeName")
        if assigned:
            raise errors.conflict("pods", "", name, f'pod {name} is already assigned to node "{assigned}"')
        new: JSON = clone(old)
        new["spec"]["nodeName"] = node
        status = new.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now()}
        )
        status["conditions"] = conditions
        rv = self.store.next_rv()
        new["metadata"]["resourceVersion"] = str(rv)
        self.store.put(pods.storage_key, new, rv, MODIFIED)
        return new

    def _namespaces_registry_pods(self) -> ResourceType:
        return self._pods

    # -- scale -------------------------------------------------------------------------------------
    def get_scale(self, rtype: ResourceType, namespace: str | None, name: str) -> JSON:
        if rtype.scale is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        obj = self._stored(rtype, namespace, name)
        spec_path, status_path, selector_path = rtype.scale
        selector = lookup_path(obj, selector_path) if selector_path else None
        if isinstance(selector, dict):
            selector = ",".join(f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items())
        meta = obj["metadata"]
        scale: JSON = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": lookup_path(obj, spec_path) or 0},
            "status": {"replicas": lookup_path(obj, status_path) or 0},
        }
        if selector:
            scale["status"]["selector"] = selector
        return scale

    def update_scale(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        scale: JSON,
        *,
        user_agent: str = "",
        field_manager: str | None = None,
    ) -> JSON:
        if rtype.scale is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        shapes.check(SCALE_TYPE, scale)
        spec = scale.get("spec") or {}
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                name,
                [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
            )
        old = self._stored(rtype, namespace, name)
        new = clone(old)
        _set_path(new, rtype.scale[0], replicas)
        rv = (scale.get("metadata") or {}).get("resourceVersion")  # shapes.check made it a string
        new["metadata"]["resourceVersion"] = rv or old["metadata"]["resourceVersion"]
        self._write(rtype, old, new, subresource=None, manager=self._manager(field_manager, user_agent))
        return self.get_scale(rtype, namespace, name)

    def remove_instances(self, rtype: ResourceType) -> None:
        """Used when a CRD goes: delete every instance, honouring finalizers."""
        for obj in self.store.items(rtype.storage_key):
            meta = obj["metadata"]
            try:
                self.delete(rtype, meta.get("namespace"), meta["name"])
            except ApiError:
                continue


def _key(obj: JSON) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def _encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise errors.bad_request(f"continue key is not valid: {token}") from None


def _set_path(obj: JSON, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
