"""Helpers for the operator end-to-end tests: waiting, the FlinkDeployment's history as a watcher sees it,
events, the sandbox's pod processes, and log capture."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog
import yaml

from flinkop.demo import container_processes
from flinkop.demo import process_alive as process_alive
from flinkop.flink.rest import FlinkRestClient, RestEndpoint
from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.runtime import Kube, NotFound, Resource
from tests.processes import java_command_lines
from tests.waiting import eventually as eventually

JSON = dict[str, Any]
T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]

PODS = Resource("", "v1", "pods", kind="Pod")
EVENTS = Resource("", "v1", "events", kind="Event")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")


async def get_or_none(kube: Kube, res: Resource, name: str, namespace: str) -> JSON | None:
    try:
        return await kube.get(res, name, namespace)
    except NotFound:
        return None


async def holds(condition: bool) -> bool:
    """``eventually(lambda: holds(cond), ...)`` for a condition that needs no I/O."""
    return condition


async def wait_for(kube: Kube, namespace: str, name: str, timeout: float, what: str, **expected: Any) -> JSON:
    """The FlinkDeployment once every ``path=value`` holds in its status (nested fields joined by ``__``,
    ``___`` for a dash: ``jobStatus__state="RUNNING"``); fails at once when it is gone."""

    async def probe() -> JSON | None:
        obj = await get_or_none(kube, FLINK_DEPLOYMENTS, name, namespace)
        assert obj is not None, f"FlinkDeployment {name} is gone"
        for path, value in expected.items():
            node: Any = status_of(obj)
            for part in path.replace("___", "-").split("__"):
                node = node.get(part) if isinstance(node, dict) else None
            if node != value:
                return None
        return obj

    return await eventually(probe, timeout, f"{name}: {what}")


def rest_of(kube: Kube, namespace: str, name: str) -> FlinkRestClient:
    """The REST client of the cluster ``name`` through the API server's service proxy."""
    return FlinkRestClient(RestEndpoint.via_service_proxy(kube, namespace, f"{name}-rest", 8081), timeout=5)


def example(name: str, namespace: str, **overrides: Any) -> JSON:
    """examples/basic.yaml, renamed and made small (JobManager and TaskManager 1024m)."""
    document: JSON = yaml.safe_load((REPO / "examples" / "basic.yaml").read_text())
    document["metadata"] = {"name": name, "namespace": namespace}
    spec = document["spec"]
    spec["jobManager"] = {"resource": {"memory": "1024m", "cpu": 0.5}}
    spec["taskManager"] = {"resource": {"memory": "1024m", "cpu": 0.5}}
    spec["job"]["parallelism"] = 1
    for key, value in overrides.items():
        spec[key] = value
    return document


def session_example(name: str, namespace: str) -> JSON:
    document = example(name, namespace)
    del document["spec"]["job"]
    return document


def status_of(obj: JSON | None) -> JSON:
    return (obj or {}).get("status") or {}


@dataclass
class History:
    """Every status version of each FlinkDeployment, as a watch sees them."""

    statuses: dict[str, list[JSON]] = field(default_factory=dict)

    def lifecycle(self, name: str) -> list[str]:
        """Lifecycle states in order, consecutive repeats folded."""
        states: list[str] = []
        for status in self.statuses.get(name, []):
            state = status.get("lifecycleState")
            if state and (not states or states[-1] != state):
                states.append(state)
        return states

    def job_states(self, name: str) -> list[str]:
        states: list[str] = []
        for status in self.statuses.get(name, []):
            state = (status.get("jobStatus") or {}).get("state")
            if state and (not states or states[-1] != state):
                states.append(state)
        return states

    def clear(self, name: str) -> None:
        self.statuses.pop(name, None)


async def watch_history(kube: Kube, namespace: str, history: History) -> None:
    """Record every FlinkDeployment status seen in ``namespace`` until cancelled."""
    rv: str | None = None
    while True:
        try:
            if rv is None:
                listed = await kube.list(FLINK_DEPLOYMENTS, namespace)
                rv = str(listed["metadata"]["resourceVersion"])
                for item in listed.get("items") or []:
                    history.statuses.setdefault(item["metadata"]["name"], []).append(status_of(item))
            async for event in kube.watch(
                FLINK_DEPLOYMENTS, namespace, resource_version=rv, timeout_seconds=60
            ):
                obj = event.get("object") or {}
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if event.get("type") in ("ADDED", "MODIFIED"):
                    name = obj["metadata"]["name"]
                    history.statuses.setdefault(name, []).append(copy.deepcopy(status_of(obj)))
        except asyncio.CancelledError:
            raise
        except Exception:
            rv = None
            await asyncio.sleep(0.2)


async def events_of(kube: Kube, namespace: str, name: str) -> list[JSON]:
    answer = await kube.list(EVENTS, namespace, field_selector=f"involvedObject.name={name}")
    return [
        e
        for e in answer.get("items") or []
        if (e.get("involvedObject") or {}).get("kind") == "FlinkDeployment"
    ]


async def reasons(kube: Kube, namespace: str, name: str) -> dict[str, JSON]:
    return {event["reason"]: event for event in await events_of(kube, namespace, name)}


# The demo already knows how to read the kubelet's process records; tests use the same code.
pid_files = container_processes


def java_processes(marker: str) -> list[str]:
    """Command lines of the JVMs whose ``-Dlog.file`` names a pod of the cluster ``marker``."""
    return [line for line in java_command_lines().values() if f"-{marker}-" in line and "-Dlog.file=" in line]


@dataclass
class LogCapture:
    """The operator's log events (rendered to stderr as usual, and kept for assertions)."""

    entries: list[JSON] = field(default_factory=list)

    def __call__(self, logger: Any, method: str, event_dict: JSON) -> JSON:
        self.entries.append(dict(event_dict))
        return event_dict

    def messages(self, **match: str) -> list[str]:
        return [
            str(entry.get("event"))
            for entry in self.entries
            if all(entry.get(key) == value for key, value in match.items())
        ]


def capture_logs() -> LogCapture:
    capture = LogCapture()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            capture,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    return capture
