"""Pod status as the kubelet reports it: container statuses, the phase and the conditions.

`ContainerRecord` is the kubelet's view of one container; `pod_status()` turns the records of a pod
into the `status` the API shows (pure: the same records always give the same status).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerRecord:
    """One container of a pod as the kubelet last saw it."""

    name: str
    image: str
    image_id: str = ""
    container_id: str = ""
    restart_count: int = 0
    state: JSON = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: JSON = field(default_factory=dict)
    ready: bool = False
    started: bool = False

    # -- transitions -------------------------------------------------------------------------------
    def waiting(self, reason: str, message: str = "") -> None:
        if "terminated" in self.state:
            self.last_state = self.state
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        self.ready = False
        self.started = False

    def running(self, container_id: str, image_id: str, started_at: str) -> None:
        if "terminated" in self.state:
            self.last_state = self.state
        self.container_id = container_id
        self.image_id = image_id
        self.state = {"running": {"startedAt": started_at}}
        self.ready = False
        self.started = False

    def terminated(
        self,
        exit_code: int,
        *,
        reason: str = "",
        signal: int | None = None,
        message: str = "",
        started_at: str | None = None,
        finished_at: str | None = None,
    ) -> None:
        started = started_at or (self.state.get("running") or {}).get("startedAt")
        state: JSON = {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": started,
            "finishedAt": finished_at or now(),
        }
        if signal:
            state["signal"] = signal
        if message:
            state["message"] = message
        if self.container_id:
            state["containerID"] = self.container_id
        self.state = {"terminated": state}
        self.ready = False
        self.started = False

    # -- queries -----------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return "running" in self.state

    @property
    def exit_code(self) -> int | None:
        terminated = self.state.get("terminated")
        return int(terminated["exitCode"]) if terminated else None

    @property
    def has_run(self) -> bool:
        return "running" in self.state or "terminated" in self.state or bool(self.last_state)

    def to_status(self) -> JSON:
        status: JSON = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


@dataclass
class PodRuntime:
    """Everything the kubelet knows about a pod beyond its spec."""

    init: list[ContainerRecord]
    containers: list[ContainerRecord]
    pod_ip: str = ""
    host_ip: str = ""
    start_time: str | None = None
    sandbox_ready: bool = False
    terminal: bool = False  # the kubelet has finished with the pod (deleted, deadline, or all done)
    reason: str | None = None
    message: str | None = None


def _counts(spec: JSON, records: Sequence[ContainerRecord]) -> tuple[int, int, int, int, int]:
    running = stopped = succeeded = waiting = unknown = 0
    names = {r.name: r for r in records}
    for container in spec.get("containers") or []:
        record = names.get(str(container.get("name")))
        if record is None:
            unknown += 1
        elif "running" in record.state:
            running += 1
        elif "terminated" in record.state:
            stopped += 1
            succeeded += record.exit_code == 0
        elif record.last_state.get("terminated"):
            stopped += 1
        else:
            waiting += 1
    return running, stopped, succeeded, waiting, unknown


def initialization(spec: JSON, runtime: PodRuntime) -> tuple[list[str], bool]:
    """(init containers not yet done, whether one failed)."""
    pending: list[str] = []
    failed = False
    for record in runtime.init:
        if record.exit_code == 0:
            continue
        pending.append(record.name)
        code = record.exit_code
        last = (record.last_state.get("terminated") or {}).get("exitCode")
        failed = failed or (code is not None and code != 0) or (last is not None and last != 0)
    return pending, failed


def pod_phase(spec: JSON, runtime: PodRuntime) -> str:
    """kubelet's getPhase."""
    policy = spec.get("restartPolicy") or "Always"
    pending_init, failed_init = initialization(spec, runtime)
    if pending_init:
        if failed_init and policy == "Never":
            return "Failed"
        if runtime.terminal:
            return "Failed"
        return "Pending"
    running, stopped, succeeded, waiting, unknown = _counts(spec, runtime.containers)
    if runtime.terminal and running == 0:
        if runtime.reason == "DeadlineExceeded":
            return "Failed"
        return "Succeeded" if stopped and stopped == succeeded and not waiting else "Failed"
    if waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(type_: str, ok: bool, previous: list[JSON], reason: str = "", message: str = "") -> JSON:
    status = "True" if ok else "False"
    old = next((c for c in previous if c.get("type") == type_), None)
    since = old.get("lastTransitionTime") if old and old.get("status") == status else None
    condition: JSON = {
        "type": type_,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since or now(),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _readiness_gates(pod: JSON) -> list[str]:
    """Readiness gates whose condition is not True."""
    conditions = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
    gates = [str(g.get("conditionType")) for g in (pod.get("spec") or {}).get("readinessGates") or []]
    return [g for g in gates if conditions.get(g) != "True"]


def pod_conditions(pod: JSON, runtime: PodRuntime, phase: str, previous: list[JSON]) -> list[JSON]:
    """The conditions; `previous` (the last ones written) keeps transition times stable."""
    spec = pod.get("spec") or {}
    current: list[JSON] = list((pod.get("status") or {}).get("conditions") or [])
    done = phase in TERMINAL
    pending_init, _ = initialization(spec, runtime)
    conditions = [c for c in current if c.get("type") == "PodScheduled"]
    if not conditions:
        conditions = [_condition("PodScheduled", True, previous)]
    conditions.append(_condition("PodReadyToStartContainers", runtime.sandbox_ready, previous))
    if done and not pending_init:
        conditions.append(_condition("Initialized", True, previous, "PodCompleted"))
    else:
        conditions.append(
            _condition(
                "Initialized",
                not pending_init,
                previous,
                "ContainersNotInitialized" if pending_init else "",
                f"containers with incomplete status: [{' '.join(pending_init)}]" if pending_init else "",
            )
        )
    unready = [r.name for r in runtime.containers if not r.ready]
    if done:
        ready_reason, ready_message = "PodCompleted", ""
        containers_ready = ready = False
    else:
        ready_reason = "ContainersNotReady" if unready else ""
        ready_message = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
        containers_ready = not unready
        gates = _readiness_gates(pod)
        ready = containers_ready and not gates
        if containers_ready and gates:
            ready_reason = "ReadinessGatesNotReady"
            ready_message = f'corresponding condition of pod readiness gate "{gates[0]}" does not exist.'
    conditions.append(_condition("ContainersReady", containers_ready, previous, ready_reason, ready_message))
    conditions.append(_condition("Ready", ready, previous, ready_reason, ready_message))
    gated = {str(g.get("conditionType")) for g in spec.get("readinessGates") or []}
    conditions.extend(c for c in current if c.get("type") in gated)  # written by others; kept
    return conditions


def qos_class(spec: JSON) -> str:
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    requests_set = limits_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        requests_set = requests_set or bool(requests)
        limits_set = limits_set or bool(limits)
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                guaranteed = False
    if not requests_set and not limits_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_status(pod: JSON, runtime: PodRuntime, previous: list[JSON] | None = None) -> JSON:
    """The full status the kubelet writes (keys it does not set are null, so a merge patch removes them).
    `previous`: the conditions written last (default: the pod's)."""
    if previous is None:
        previous = list((pod.get("status") or {}).get("conditions") or [])
    spec = pod.get("spec") or {}
    phase = pod_phase(spec, runtime)
    ips = [{"ip": runtime.pod_ip}] if runtime.pod_ip else None
    host_ips = [{"ip": runtime.host_ip}] if runtime.host_ip else None
    return {
        "phase": phase,
        "conditions": pod_conditions(pod, runtime, phase, previous),
        "hostIP": runtime.host_ip or None,
        "hostIPs": host_ips,
        "podIP": runtime.pod_ip or None,
        "podIPs": ips,
        "startTime": runtime.start_time,
        "initContainerStatuses": [r.to_status() for r in runtime.init] if runtime.init else None,
        "containerStatuses": [r.to_status() for r in runtime.containers],
        "qosClass": qos_class(spec),
        "reason": runtime.reason,
        "message": runtime.message,
    }
