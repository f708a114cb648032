"""The control loops kube-apiserver and kube-controller-manager run that clients rely on.

- CRDs: register served versions at once, report NamesAccepted/Established shortly after,
  and on deletion remove every instance before the CRD itself goes.
- Garbage collector: dependents go once all their owners are gone (background), before
  their owner (foreground), or lose their ownerReferences (orphan).
- Namespaces: a terminating namespace is emptied, then removed.

They hear every store change synchronously and do their work in an asyncio task, so
their effects are asynchronous, as in a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.objects import FOREGROUND, MERGE_PATCH, ORPHAN, DeleteOptions, Objects, now
from flinkop.sandbox.apiserver.resources import Registry, ResourceType, types_from_crd
from flinkop.sandbox.apiserver.store import DELETED, Change, Store

JSON = dict[str, Any]
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
NAMESPACES = "/namespaces"
log = structlog.get_logger("flinkop.sandbox.apiserver")


class Controllers:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        objects: Objects,
        *,
        gc_enabled: bool = True,
        established_delay: float = 0.05,
    ) -> None:
        self.store = store
        self.registry = registry
        self.objects = objects
        self.gc_enabled = gc_enabled
        self.established_delay = established_delay
        self._pending: set[tuple[str, ...]] = set()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # owner uid -> dependents (storage key, namespace, name)
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}
        self.on_types_changed: Callable[[], None] | None = None
        store.add_listener(self._hear)

    @property
    def crd_type(self) -> ResourceType:
        rtype = self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert rtype is not None
        return rtype

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-controllers")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- hearing changes (synchronous, cheap) ----------------------------------------------------------
    def _hear(self, change: Change) -> None:
        obj = change.obj
        meta = obj["metadata"]
        ident = (change.storage_key, meta.get("namespace") or "", meta["name"])
        self._index_owners(change, ident)
        if change.storage_key == "apiextensions.k8s.io/customresourcedefinitions":
            self._crd_changed(change)
        if change.type == DELETED:
            for dependent in self._dependents.get(meta.get("uid", ""), ()):
                self._queue(("dependent", *dependent))
        elif meta.get("deletionTimestamp"):
            self._queue(("deleting", *ident))
        elif meta.get("ownerReferences") and self.gc_enabled and change.type == "ADDED":
            self._queue(("dependent", *ident))
        if change.type == DELETED or meta.get("deletionTimestamp"):
            self._wake_waiting_owners(meta)
        if change.type == "ADDED" and change.storage_key == NAMESPACES:
            self._queue(("namespace-added", meta["name"]))

    def _wake_waiting_owners(self, meta: JSON) -> None:
        """An owner in foreground deletion waits for its dependents: look at it again."""
        for ref in meta.get("ownerReferences") or []:
            found = self.store.by_uid(ref.get("uid", ""))
            if found is not None and found[1]["metadata"].get("deletionTimestamp"):
                owner_meta = found[1]["metadata"]
                self._queue(("deleting", found[0], owner_meta.get("namespace") or "", owner_meta["name"]))

    def _index_owners(self, change: Change, ident: tuple[str, str, str]) -> None:
        for ref in (change.prev or {}).get("metadata", {}).get("ownerReferences") or []:
            self._dependents.get(ref.get("uid", ""), set()).discard(ident)
        if change.type != DELETED:
            for ref in change.obj["metadata"].get("ownerReferences") or []:
                self._dependents.setdefault(ref.get("uid", ""), set()).add(ident)

    def _crd_changed(self, change: Change) -> None:
        crd = change.obj
        name = crd["metadata"]["name"]
        if change.type == DELETED:
            self._unregister(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            return
        # Discovery must show the group at once: Helm re-reads it right after applying CRDs.
        self.registry.remove_crd(name)
        for rtype in types_from_crd(crd):
            self.registry.add(rtype)
            self.store.ensure(rtype.storage_key)
        if self.on_types_changed:
            self.on_types_changed()
        self._queue(("crd-status", name))

    def _unregister(self, crd_name: str) -> None:
        gone = self.registry.remove_crd(crd_name)
        for key in {t.storage_key for t in gone}:
            if not self.registry.by_storage_key(key):
                self.store.drop(key)
        if self.on_types_changed:
            self.on_types_changed()

    def _queue(self, item: tuple[str, ...]) -> None:
        self._pending.add(item)
        self._wakeup.set()

    # -- acting (asynchronous) ----------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(self.established_delay)
            batch, self._pending = self._pending, set()
            for item in sorted(batch):
                try:
                    self._handle(item)
                except ApiError as exc:
                    if exc.code not in (404, 409):
                        log.warning("controller step failed", item=item, error=exc.message)
                    if exc.code == 409:
                        self._queue(item)
                except Exception:
                    log.exception("controller step crashed", item=item)

    def _handle(self, item: tuple[str, ...]) -> None:
        if item[0] == "crd-status":
            self._establish(item[1])
            return
        if item[0] == "namespace-added":
            self._default_service_account(item[1])
            return
        storage_key, namespace, name = item[1], item[2], item[3]
        rtype = self._type_for(storage_key)
        if rtype is None:
            return
        obj = self.store.get(storage_key, (namespace, name))
        if obj is None:
            return
        if item[0] == "deleting":
            self._finish_deletion(rtype, obj)
        elif item[0] == "dependent" and self.gc_enabled:
            self._collect(rtype, obj)

    def _type_for(self, storage_key: str) -> ResourceType | None:
        types = self.registry.by_storage_key(storage_key)
        if not types:
            return None
        storage = next((t for t in types if t.version == (t.storage_version or t.version)), types[0])
        return storage

    def _establish(self, crd_name: str) -> None:
        crd = self.store.get(self.crd_type.storage_key, ("", crd_name))
        if crd is None or crd["metadata"].get("deletionTimestamp"):
            return
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        stamp = now()
        old_conditions = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or []}

        def condition(ctype: str, reason: str, message: str) -> JSON:
            previous = old_conditions.get(ctype)
            if previous and previous.get("status") == "True":
                return dict(previous)
            return {
                "type": ctype,
                "status": "True",
                "lastTransitionTime": stamp,
                "reason": reason,
                "message": message,
            }

        stored = sorted(
            {
                *((crd.get("status") or {}).get("storedVersions") or []),
                *(v["name"] for v in spec.get("versions") or [] if v.get("storage")),
            }
        )
        status = {
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        }
        finalizers = list(crd["metadata"].get("finalizers") or [])
        if CRD_CLEANUP not in finalizers:
            self.objects.patch(
                self.crd_type,
                None,
                crd_name,
                {"metadata": {"finalizers": [*finalizers, CRD_CLEANUP]}},
                MERGE_PATCH,
                field_manager="kube-apiserver",
            )
        self.objects.patch(
            self.crd_type,
            None,
            crd_name,
            {"status": status},
            MERGE_PATCH,
            subresource="status",
            field_manager="kube-apiserver",
        )

    def _finish_deletion(self, rtype: ResourceType, obj: JSON) -> None:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if rtype.kind == "CustomResourceDefinition" and CRD_CLEANUP in finalizers:
            served = types_from_crd(obj)
            remaining = 0
            if served:
                self.objects.remove_instances(served[0])
                remaining = len(self.store.items(served[0].storage_key))
            if remaining:
                self._queue(("deleting", rtype.storage_key, "", meta["name"]))  # instances still finalizing
            else:
                self._remove_finalizer(rtype, obj, CRD_CLEANUP)
            return
        if rtype.kind == "Namespace":
            self._empty_namespace(obj)
            return
        if not self.gc_enabled:
            return
        uid = meta["uid"]
        dependents = list(self._dependents.get(uid, ()))
        if ORPHAN in finalizers:
            for key, ns, name in dependents:
                self._drop_owner_ref(key, ns, name, uid)
            self._remove_finalizer(rtype, obj, ORPHAN)
        elif FOREGROUND in finalizers:
            blocking = 0
            for key, ns, name in dependents:
                dep_type = self._type_for(key)
                dep = self.store.get(key, (ns, name))
                if dep_type is None or dep is None:
                    continue
                blocking += 1
                if not dep["metadata"].get("deletionTimestamp"):
                    self.objects.delete(dep_type, ns or None, name, DeleteOptions(propagation="Foreground"))
            if blocking == 0:
                self._remove_finalizer(rtype, obj, FOREGROUND)

    def _collect(self, rtype: ResourceType, obj: JSON) -> None:
        """Delete a dependent whose owners are all gone; prune references to dead owners."""
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return
        alive = [r for r in refs if self.store.by_uid(r.get("uid", "")) is not None]
        if alive == refs:
            return
        meta = obj["metadata"]
        if alive:
            self.objects.patch(
                rtype,
                meta.get("namespace") or None,
                meta["name"],
                [
                    {"op": "test", "path": "/metadata/uid", "value": meta["uid"]},
                    {"op": "replace", "path": "/metadata/ownerReferences", "value": alive},
                ],
                "application/json-patch+json",
                field_manager="garbage-collector",
            )
            return
        self.objects.delete(
            rtype, meta.get("namespace") or None, meta["name"], DeleteOptions(precondition_uid=meta["uid"])
        )

    def _drop_owner_ref(self, key: str, ns: str, name: str, owner_uid: str) -> None:
        dep_type = self._type_for(key)
        dep = self.store.get(key, (ns, name))
        if dep_type is None or dep is None:
            return
        refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        self.objects.patch(
            dep_type,
            ns or None,
            name,
            {"metadata": {"ownerReferences": refs or None}},
            MERGE_PATCH,
            field_manager="garbage-collector",
        )

    def _remove_finalizer(self, rtype: ResourceType, obj: JSON, finalizer: str) -> None:
        meta = obj["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != finalizer]
        self.objects.patch(
            rtype,
            meta.get("namespace") or None,
            meta["name"],
            {"metadata": {"finalizers": rest or None, "resourceVersion": meta["resourceVersion"]}},
            MERGE_PATCH,
            field_manager="kube-controller-manager",
        )

    def _empty_namespace(self, ns_obj: JSON) -> None:
        namespace = ns_obj["metadata"]["name"]
        remaining = 0
        for rtype in self.registry.all():
            if not rtype.namespaced or rtype.version != (rtype.storage_version or rtype.version):
                continue
            for obj in self.store.items(rtype.storage_key, namespace):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    try:
                        self.objects.delete(rtype, namespace, obj["metadata"]["name"])
                    except ApiError:
                        continue
        if remaining:
            self._queue(("deleting", self.registry_namespaces().storage_key, "", namespace))  # check again
            return
        if (ns_obj.get("spec") or {}).get("finalizers"):
            self.objects.update(
                self.registry_namespaces(),
                None,
                namespace,
                {**ns_obj, "spec": {**ns_obj["spec"], "finalizers": []}},
                subresource="finalize",
                field_manager="kube-controller-manager",
            )

    def _default_service_account(self, namespace: str) -> None:
        """Every namespace gets a `default` ServiceAccount, as kube-controller-manager makes it."""
        accounts = self.registry.get("", "v1", "serviceaccounts")
        assert accounts is not None
        ns = self.store.get(NAMESPACES, ("", namespace))
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.store.get(accounts.storage_key, (namespace, "default")) is None:
            self.objects.create(
                accounts,
                namespace,
                {"metadata": {"name": "default"}},
                field_manager="kube-controller-manager",
            )

    def registry_namespaces(self) -> ResourceType:
        rtype = self.registry.get("", "v1", "namespaces")
        assert rtype is not None
        return rtype
