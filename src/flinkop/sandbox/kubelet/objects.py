"""The API objects pods refer to (ConfigMaps, Secrets, Services), from watch caches, with a direct read
for what the cache has not seen yet (a ConfigMap created just before the pod that uses it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from flinkop.runtime.client import NotFound
from flinkop.runtime.informer import Handler, SharedInformer
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.kubelet.env import Lookup, referenced_objects

JSON = dict[str, Any]
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", kind="Secret")
SERVICES = Resource("", "v1", "services", kind="Service")
Changed = Callable[[str, str, str], None]  # kind, namespace, name


class ObjectSource:
    def __init__(self, kube: Kube, on_change: Changed) -> None:
        self.kube = kube
        self.informers = {
            "ConfigMap": SharedInformer(kube, CONFIGMAPS),
            "Secret": SharedInformer(kube, SECRETS),
            "Service": SharedInformer(kube, SERVICES),
        }
        for kind, informer in self.informers.items():
            informer.add_handler(self._handler(kind, on_change))

    @staticmethod
    def _handler(kind: str, on_change: Changed) -> Handler:
        def changed(obj: JSON) -> None:
            meta = obj.get("metadata") or {}
            on_change(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))

        return Handler(on_add=changed, on_update=lambda _old, new: changed(new), on_delete=changed)

    async def start(self, timeout: float = 30.0) -> bool:
        for informer in self.informers.values():
            informer.start()
        synced = await asyncio.gather(*(i.wait_for_sync(timeout) for i in self.informers.values()))
        return all(synced)

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self.informers.values()))

    def services(self) -> list[JSON]:
        return self.informers["Service"].cache.values()

    async def _get(self, kind: str, namespace: str, name: str) -> JSON | None:
        cached = self.informers[kind].cache.get(f"{namespace}/{name}")
        if cached is not None:
            return cached
        resource = CONFIGMAPS if kind == "ConfigMap" else SECRETS
        try:
            return await self.kube.get(resource, name, namespace)
        except NotFound:
            return None

    async def lookup(self, pod: JSON) -> Lookup:
        """A synchronous lookup over every ConfigMap and Secret the pod refers to, read now.

        Raises ApiError when the API server cannot be asked (the caller retries)."""
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        found: dict[tuple[str, str, str], JSON | None] = {}
        for kind, name in sorted(referenced_objects(pod)):
            if name:
                found[(kind, namespace, name)] = await self._get(kind, namespace, name)

        def lookup(kind: str, ns: str, name: str) -> JSON | None:
            return found.get((kind, ns, name))

        return lookup
