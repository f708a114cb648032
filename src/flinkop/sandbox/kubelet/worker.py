"""One pod on the node, from binding to removal: network sandbox, volumes, init containers in order,
then the containers; status written as it changes; graceful deletion (stop with the grace period,
report, then DELETE with gracePeriodSeconds=0 and the uid as precondition); an immediate kill when the
pod object is gone. Nothing here may crash the kubelet: a failure is logged and shown in the status."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flinkop.runtime.client import ApiError, Conflict, NotFound
from flinkop.runtime.events import NORMAL, WARNING, EventType
from flinkop.sandbox.kubelet.containerspec import pod_hostname
from flinkop.sandbox.kubelet.context import PODS, NodeContext, log
from flinkop.sandbox.kubelet.env import PodAddresses, referenced_objects
from flinkop.sandbox.kubelet.runner import ContainerRunner
from flinkop.sandbox.kubelet.status import TERMINAL, ContainerRecord, PodRuntime, now, pod_status
from flinkop.sandbox.kubelet.volumes import PodVolumes, VolumeError
from flinkop.sandbox.network import PodSandbox

JSON = dict[str, Any]
STATUS_COALESCE = 0.05
STATUS_RETRY = 1.0


class PodWorker:
    runner_class: type[ContainerRunner] = ContainerRunner  # the stub pods' worker runs stub containers

    def __init__(self, ctx: NodeContext, pod: JSON) -> None:
        self.ctx = ctx
        self.pod = pod
        meta = pod.get("metadata") or {}
        self.uid = str(meta.get("uid") or "")
        self.namespace = str(meta.get("namespace") or "default")
        self.name = str(meta.get("name") or "")
        self.log = log.bind(namespace=self.namespace, pod=self.name, uid=self.uid)
        self.dir = ctx.config.state_dir / "pods" / self.uid
        self.volumes = PodVolumes(self.dir / "volumes", ctx.tokens, ctx.ca_cert)
        spec = self.spec
        self.runtime = PodRuntime(
            init=[_record(c) for c in spec.get("initContainers") or []],
            containers=[_record(c) for c in spec.get("containers") or []],
            host_ip=ctx.config.node_ip,
        )
        self.sandbox: PodSandbox | None = None
        self.runners: dict[str, ContainerRunner] = {}
        self.halt = asyncio.Event()  # the containers must stop (deletion, deadline, kill)
        self.leave = asyncio.Event()  # the pod leaves the node (deletion or kill)
        self.kill_now = asyncio.Event()  # no grace left
        self.wake = asyncio.Event()  # referenced objects changed: retry what waits for them now
        self.done = asyncio.Event()
        self.deleting = False  # graceful deletion: DELETE the object when the containers stopped
        self.gone = False  # the object is gone (or the kubelet shuts down): no more API writes
        self._grace_deadline: float | None = None
        self._dirty = asyncio.Event()
        self._status_lock = asyncio.Lock()
        self._written: JSON | None = None
        self._conditions: list[JSON] = list((pod.get("status") or {}).get("conditions") or [])
        self._tasks: list[asyncio.Task[None]] = []
        self._refresh: asyncio.Task[None] | None = None
        self._volumes_ready = False
        # a pod that had already finished (seen by an earlier kubelet): its status is kept as it is
        self.finished_before = (pod.get("status") or {}).get("phase") in TERMINAL
        self.failed = False  # the worker itself failed (a bug): the pod is not run again

    # -- names -------------------------------------------------------------------------------------
    @property
    def spec(self) -> JSON:
        spec: JSON = self.pod.get("spec") or {}
        return spec

    def describe(self) -> str:
        return f"{self.name}_{self.namespace}({self.uid})"

    def event(self, type_: EventType, reason: str, message: str) -> None:
        if not self.gone:
            self.ctx.event(self.pod, type_, reason, message)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name=f"pod {self.namespace}/{self.name}"),
            loop.create_task(self._status_loop(), name=f"pod status {self.namespace}/{self.name}"),
        ]
        deadline = self.spec.get("activeDeadlineSeconds")
        if isinstance(deadline, int) and deadline > 0:
            self._tasks.append(loop.create_task(self._deadline(deadline)))

    def update(self, pod: JSON) -> None:
        """A newer version of the pod from the watch."""
        old_meta = self.pod.get("metadata") or {}
        self.pod = pod
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            self.terminate(float(meta.get("deletionGracePeriodSeconds") or 0))
        containers = {str(c.get("name")): c for c in self.spec.get("containers") or []}
        for name, runner in self.runners.items():
            if name in containers:
                runner.update(containers[name])
        if any(old_meta.get(k) != meta.get(k) for k in ("labels", "annotations")):
            self.refresh()  # the downward API shows them
        self.mark_dirty()

    def terminate(self, grace: float) -> None:
        """Graceful deletion: stop the containers within `grace` seconds, then delete the object."""
        deadline = time.monotonic() + max(0.0, grace)
        if self.deleting and self._grace_deadline is not None and deadline >= self._grace_deadline:
            return
        if not self.deleting:
            self.log.info("pod deletion requested", grace_period=grace)
        self.deleting = True
        self._halt(deadline)
        self.leave.set()

    def kill(self, reason: str) -> None:
        """The object is gone (or the kubelet stops): kill the containers at once, no API writes."""
        if not self.gone:
            self.log.info("killing pod", reason=reason)
        self.gone = True
        self._halt(time.monotonic())
        self.kill_now.set()
        self.leave.set()
        self.wake.set()

    def _halt(self, deadline: float) -> None:
        if self._grace_deadline is None or deadline < self._grace_deadline:
            self._grace_deadline = deadline
        if deadline <= time.monotonic():
            self.kill_now.set()
        else:
            asyncio.get_running_loop().call_later(deadline - time.monotonic(), self._check_deadline)
        self.halt.set()
        self.wake.set()

    def _check_deadline(self) -> None:
        if self._grace_deadline is not None and time.monotonic() >= self._grace_deadline - 0.001:
            self.kill_now.set()

    def grace_remaining(self) -> float:
        if self.kill_now.is_set() or self._grace_deadline is None:
            return 0.0
        return max(0.0, self._grace_deadline - time.monotonic())

    async def wait(self) -> None:
        await self.done.wait()

    async def sleep(self, seconds: float, *, wake: bool = False) -> bool:
        """Sleep unless the pod halts (False); with `wake`, also end early when referenced objects change."""
        events = [self.halt] + ([self.wake] if wake else [])
        if wake:
            self.wake.clear()
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return not self.halt.is_set()

    async def _run(self) -> None:
        try:
            if self.finished_before:
                self.log.info("pod already finished, not running it again")
            else:
                await self._lifecycle()
                await self._stop_runners()
                if not self.leave.is_set():  # done on its own (or past its deadline): free the network
                    await self._release_sandbox()
                    self.log.info("pod finished", phase=pod_status(self.pod, self.runtime)["phase"])
            await self.leave.wait()
            await self._finish()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("pod worker failed")
            self.failed = True
            self.kill("worker failure")
            with contextlib.suppress(Exception):
                await self._stop_runners()
                await self._cleanup()
        finally:
            self.done.set()

    async def _lifecycle(self) -> None:
        self.runtime.start_time = self.runtime.start_time or now()
        self.mark_dirty()
        if not await self._create_sandbox() or not await self._setup_volumes():
            return
        for spec, record in zip(self.spec.get("initContainers") or [], self.runtime.init, strict=False):
            runner = self.runner_class(self, spec, record, init=True)
            self.runners[runner.name] = runner
            if not await runner.run():
                return
        self.mark_dirty()
        runners = [
            self.runner_class(self, spec, record, init=False)
            for spec, record in zip(self.spec.get("containers") or [], self.runtime.containers, strict=False)
        ]
        for runner in runners:
            self.runners[runner.name] = runner
        await asyncio.gather(*(runner.run() for runner in runners))

    def exec_prefix(self) -> list[str]:
        """How to run a command in the pod's network: `ip netns exec <netns>`; nothing for hostNetwork."""
        return self.ctx.network.exec_prefix(self.sandbox) if self.sandbox is not None else []

    async def _create_sandbox(self) -> bool:
        if self.spec.get("hostNetwork"):
            self.runtime.pod_ip = self.ctx.config.node_ip
            self.runtime.sandbox_ready = True
            return True
        attempt = 0
        while not self.halt.is_set():
            try:
                self.sandbox = await self.ctx.network.add_pod(
                    self.uid, self.namespace, pod_hostname(self.pod)
                )
            except Exception as exc:
                attempt += 1
                self.log.warning("cannot create the pod sandbox", error=str(exc), attempt=attempt)
                self.event(WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
                if not await self.sleep(min(30.0, self.ctx.config.config_retry * attempt)):
                    return False
                continue
            self.runtime.pod_ip = self.sandbox.ip
            self.runtime.sandbox_ready = True
            self.mark_dirty()
            return True
        return False

    async def _setup_volumes(self) -> bool:
        while not self.halt.is_set():
            try:
                await self._sync_volumes()
                self._volumes_ready = True
                return True
            except VolumeError as exc:
                self.log.warning("volume setup failed", error=str(exc))
                self.event(WARNING, "FailedMount", str(exc))
            except ApiError as exc:
                self.log.warning("cannot read the pod's volume sources", error=str(exc))
            if not await self.sleep(self.ctx.config.config_retry, wake=True):
                return False
        return False

    async def _sync_volumes(self) -> None:
        lookup = await self.ctx.objects.lookup(self.pod)
        addresses = PodAddresses(self.runtime.pod_ip, self.runtime.host_ip, self.ctx.allocatable)
        changed = self.volumes.sync(self.pod, lookup, addresses)
        if changed and self._volumes_ready:
            self.log.info("volumes updated", volumes=changed)

    def references(self, kind: str, name: str) -> bool:
        """Whether the pod uses this ConfigMap or Secret (env or volumes)."""
        return (kind, name) in referenced_objects(self.pod)

    def refresh(self) -> None:
        """Referenced objects or the pod changed: update volumes, retry what waits on configuration."""
        self.wake.set()
        if self._volumes_ready and not self.halt.is_set() and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_volumes())

    async def _refresh_volumes(self) -> None:
        try:
            await self._sync_volumes()
        except (VolumeError, ApiError) as exc:
            self.log.warning("volume refresh failed", error=str(exc))
        except Exception:
            self.log.exception("volume refresh failed")

    async def _deadline(self, seconds: int) -> None:
        await asyncio.sleep(seconds)
        if self.halt.is_set():
            return
        self.runtime.reason = "DeadlineExceeded"
        self.runtime.message = "Pod was active on the node longer than the specified deadline"
        self.runtime.terminal = True
        self.event(NORMAL, "DeadlineExceeded", self.runtime.message)
        self._halt(time.monotonic() + float(self.spec.get("terminationGracePeriodSeconds", 30)))
        self.mark_dirty()

    # -- the end -----------------------------------------------------------------------------------
    async def _stop_runners(self) -> None:
        """Make sure no container process is left (the runners stop them when the pod halts)."""
        for runner in list(self.runners.values()):
            process = runner.process
            if process is not None and not process.exited:
                await process.stop(self.grace_remaining(), self.kill_now)

    async def _finish(self) -> None:
        await self._stop_runners()
        self.runtime.terminal = True
        self.runtime.sandbox_ready = False
        if self.deleting and not self.gone:
            await self.flush_status(final=True)
            try:
                await self.ctx.kube.delete(PODS, self.name, self.namespace, grace_period=0, uid=self.uid)
                self.log.info("pod deleted")
            except (NotFound, Conflict):
                pass
            except ApiError as exc:
                self.log.warning("cannot delete the pod", error=str(exc))
        self.gone = True
        await self._cleanup()

    async def _release_sandbox(self) -> None:
        if self.sandbox is None:
            return
        self.sandbox = None
        self.runtime.sandbox_ready = False
        self.mark_dirty()
        try:
            await self.ctx.network.remove_pod(self.uid)
        except Exception as exc:
            self.log.warning("cannot remove the pod sandbox", error=str(exc))

    async def _cleanup(self) -> None:
        for task in self._tasks[1:]:
            task.cancel()
        if self._refresh is not None:
            self._refresh.cancel()
        await self._release_sandbox()
        self.volumes.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.log.info("pod removed from the node")

    # -- status ------------------------------------------------------------------------------------
    def mark_dirty(self) -> None:
        self._dirty.set()

    async def _status_loop(self) -> None:
        while not self.gone:
            await self._dirty.wait()
            await asyncio.sleep(STATUS_COALESCE)
            self._dirty.clear()
            try:
                written = await self.flush_status()
            except Exception:
                self.log.exception("pod status update failed")
                written = False
            if not written:
                await asyncio.sleep(STATUS_RETRY)
                self._dirty.set()

    async def flush_status(self, *, final: bool = False) -> bool:
        """Write the status when it changed; False when the write failed (retry later)."""
        async with self._status_lock:
            if self.gone or self.finished_before:
                return True
            status = pod_status(self.pod, self.runtime, self._conditions)
            if status == self._written:
                return True
            try:
                await self.ctx.kube.patch(
                    PODS, self.name, {"status": status}, self.namespace, subresource="status"
                )
            except NotFound:
                return True
            except ApiError as exc:
                self.log.warning("cannot write the pod status", error=str(exc))
                return False
            self._written = status
            self._conditions = status["conditions"]
            return True

    # -- logs --------------------------------------------------------------------------------------
    def log_file(self, container: str, previous: bool) -> tuple[Path, Callable[[], bool]]:
        """The log of the container's current (or previous) instance, and whether it is still written.
        LookupError with the kubelet's message when there is none."""
        runner = self.runners.get(container)
        records = {r.name: r for r in [*self.runtime.init, *self.runtime.containers]}
        record = records.get(container)
        if record is None:
            raise LookupError(f"container {container} is not valid for pod {self.name}")
        if runner is None:
            reason = (record.state.get("waiting") or {}).get("reason", "PodInitializing")
            raise LookupError(f'container "{container}" in pod "{self.name}" is waiting to start: {reason}')
        return runner.log_file(previous)


def _record(container: JSON) -> ContainerRecord:
    return ContainerRecord(name=str(container.get("name")), image=str(container.get("image") or ""))
