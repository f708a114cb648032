"""The default scheduler of a one-node cluster: binds every unassigned pod that asks for
`default-scheduler` to the node (POST pods/{name}/binding), unless its nodeSelector rules the node out,
in which case the pod stays Pending with PodScheduled=False/Unschedulable, as kube-scheduler reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from flinkop.runtime.client import Conflict, NotFound
from flinkop.runtime.controller import Controller, Result
from flinkop.runtime.events import NORMAL, EventRecorder
from flinkop.runtime.informer import SharedInformer
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.kubelet.status import now

JSON = dict[str, Any]
PODS = Resource("", "v1", "pods", kind="Pod")
SCHEDULER_NAME = "default-scheduler"
log = structlog.get_logger("flinkop.sandbox.kubelet.scheduler")


def schedulable(pod: JSON, node_labels: dict[str, str]) -> bool:
    """nodeSelector against the node's labels (affinity and taints are not evaluated)."""
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    return all(node_labels.get(k) == v for k, v in selector.items())


class Scheduler:
    def __init__(
        self, kube: Kube, node_name: str, node_labels: Callable[[], dict[str, str]], events: EventRecorder
    ) -> None:
        self.kube = kube
        self.node_name = node_name
        self.node_labels = node_labels
        self.events = events
        self.informer = SharedInformer(kube, PODS, field_selector="spec.nodeName=")
        self.controller = Controller("scheduler", self.reconcile)
        self.controller.watch(self.informer)

    async def start(self, timeout: float = 30.0) -> bool:
        self.informer.start()
        synced = await self.informer.wait_for_sync(timeout)
        self.controller.start()
        return synced

    async def stop(self) -> None:
        await self.controller.stop(timeout=2.0)
        await self.informer.stop()

    async def reconcile(self, key: str) -> Result | None:
        pod = self.informer.cache.get(key)
        if pod is None:
            return None
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        if spec.get("nodeName") or meta.get("deletionTimestamp"):
            return None
        if (spec.get("schedulerName") or SCHEDULER_NAME) != SCHEDULER_NAME:
            return None
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return None
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        if not schedulable(pod, self.node_labels()):
            await self._unschedulable(pod)
            return None
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": meta.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
        }
        try:
            await self.kube.request(
                "POST", PODS.path(namespace, name, "binding"), body=binding, resource="pods"
            )
        except (Conflict, NotFound):  # bound by someone else meanwhile, or deleted
            return None
        log.info("pod bound", namespace=namespace, pod=name, node=self.node_name)
        await self.events.record(
            {"apiVersion": "v1", "kind": "Pod", "metadata": meta},
            NORMAL,
            "Scheduled",
            f"Successfully assigned {namespace}/{name} to {self.node_name}",
            component=SCHEDULER_NAME,
        )
        return None

    async def _unschedulable(self, pod: JSON) -> None:
        meta = pod["metadata"]
        message = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("message") == message for c in conditions):
            return
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": now(),
        }
        others = [c for c in conditions if c.get("type") != "PodScheduled"]
        try:
            await self.kube.patch(
                PODS,
                meta["name"],
                {"status": {"phase": "Pending", "conditions": [*others, condition]}},
                meta.get("namespace"),
                subresource="status",
            )
        except NotFound:
            return
        log.info("pod unschedulable", namespace=meta.get("namespace"), pod=meta["name"], reason=message)
