"""One container of a pod through its life: resolve its image and configuration, start it, probe it,
wait for it, stop it, and restart it under the pod's restartPolicy with back-off."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flinkop.runtime.client import ApiError
from flinkop.runtime.events import NORMAL, WARNING
from flinkop.sandbox.images import Image, ImageNotFound
from flinkop.sandbox.kubelet import containers
from flinkop.sandbox.kubelet.backoff import RestartBackoff
from flinkop.sandbox.kubelet.containers import ContainerProcess, Exit
from flinkop.sandbox.kubelet.containerspec import container_id, image_id, launch_spec, spec_hash
from flinkop.sandbox.kubelet.env import ConfigError, PodAddresses, container_env, service_env
from flinkop.sandbox.kubelet.hooks import run_hook
from flinkop.sandbox.kubelet.launch import LaunchSpec
from flinkop.sandbox.kubelet.logfile import LogReader
from flinkop.sandbox.kubelet.probes import Prober
from flinkop.sandbox.kubelet.status import ContainerRecord
from flinkop.sandbox.kubelet.volumes import VolumeError

if TYPE_CHECKING:
    from flinkop.sandbox.kubelet.worker import PodWorker

JSON = dict[str, Any]
LAUNCHER = "flinkop.sandbox.kubelet.launch"
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048


class ContainerRunner:
    def __init__(self, worker: PodWorker, spec: JSON, record: ContainerRecord, *, init: bool) -> None:
        self.worker = worker
        self.spec = spec
        self.record = record
        self.init = init
        self.name = str(spec.get("name"))
        config = worker.ctx.config
        self.backoff = RestartBackoff(config.backoff_base, config.backoff_cap)
        self.process: ContainerProcess | None = None
        self.env: dict[str, str] = {}
        self.restart = asyncio.Event()  # kill the running instance and start again (liveness, spec change)
        self.restart_reason = ""
        self.forced_restart = False  # a spec change restarts whatever the policy, without back-off
        self._probes: list[asyncio.Task[None]] = []
        self._logs: dict[str, Path] = {}  # container ID -> log file of that instance
        self._hash = spec_hash(spec)
        self.log = worker.log.bind(container=self.name)

    # -- paths -------------------------------------------------------------------------------------
    def log_path(self, instance: int) -> Path:
        return self.worker.dir / "logs" / self.name / f"{instance}.log"

    def _instance_dir(self, instance: int) -> Path:
        return self.worker.dir / "containers" / self.name / str(instance)

    # -- updates -----------------------------------------------------------------------------------
    def update(self, spec: JSON) -> None:
        """A changed container spec (e.g. a new image) restarts the container, as the kubelet does."""
        new_hash = spec_hash(spec)
        self.spec = spec
        self.record.image = str(spec.get("image") or "")
        if new_hash != self._hash:
            self._hash = new_hash
            if self.record.is_running and not self.init:
                self.forced_restart = True
                self.restart_reason = f"Container {self.name} definition changed, will be restarted"
                self.restart.set()

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self) -> bool:
        """Run until the container is done for good or the pod halts; True when it last exited 0."""
        worker = self.worker
        while not worker.halt.is_set():
            launch = await self._prepare()
            if launch is None:
                break
            exit_ = await self._run_once(*launch)
            if worker.halt.is_set() or not self._should_restart(exit_):
                break
            if not self.forced_restart:
                delay = self.backoff.delay(time.monotonic())
                if delay > 0:
                    pod = worker.describe()
                    self.record.waiting(
                        "CrashLoopBackOff",
                        f"back-off {delay:.0f}s restarting failed container={self.name} pod={pod}",
                    )
                    worker.mark_dirty()
                    worker.event(
                        WARNING, "BackOff", f"Back-off restarting failed container {self.name} in pod {pod}"
                    )
                    if not await worker.sleep(delay):
                        break
                self.backoff.restarted()
            self.forced_restart = False
            self.record.restart_count += 1
        return self.record.exit_code == 0

    def _should_restart(self, exit_: Exit) -> bool:
        if self.forced_restart:
            return True
        policy = str(self.worker.spec.get("restartPolicy") or "Always")
        if self.init:
            return exit_.code != 0 and policy != "Never"
        return policy == "Always" or (policy == "OnFailure" and exit_.code != 0)

    # -- preparing ---------------------------------------------------------------------------------
    async def _prepare(self) -> tuple[LaunchSpec, Image] | None:
        """Image and configuration of the next instance; waits (ErrImagePull, CreateContainerConfigError)
        until they resolve or the pod halts (None)."""
        worker = self.worker
        ctx = worker.ctx
        pulls = 0
        while not worker.halt.is_set():
            image_name = str(self.spec.get("image") or "")
            try:
                image = ctx.images.resolve(image_name)
            except ImageNotFound as exc:
                pulls += 1
                self.record.waiting("ErrImagePull", str(exc))
                worker.mark_dirty()
                worker.event(WARNING, "Failed", f'Failed to pull image "{image_name}": {exc}')
                delay = self.backoff.pull_delay(pulls)
                shown = min(delay, 2.0)  # ErrImagePull for a moment, then ImagePullBackOff
                if not await worker.sleep(shown):
                    return None
                self.record.waiting(
                    "ImagePullBackOff", f'Back-off pulling image "{image_name}": ErrImagePull: {exc}'
                )
                worker.mark_dirty()
                if not await worker.sleep(delay - shown):
                    return None
                continue
            try:
                return await self._launch_spec(image), image
            except (ConfigError, VolumeError, OSError) as exc:
                self.record.waiting("CreateContainerConfigError", str(exc))
                worker.mark_dirty()
                worker.event(WARNING, "Failed", f"Error: {exc}")
            except ApiError as exc:  # the API server did not answer: try again shortly
                self.log.warning("cannot read the container's configuration", error=str(exc))
            if not await worker.sleep(ctx.config.config_retry, wake=True):
                return None
        return None

    async def _launch_spec(self, image: Image) -> LaunchSpec:
        worker = self.worker
        ctx = worker.ctx
        pod = worker.pod
        lookup = await ctx.objects.lookup(pod)
        addresses = PodAddresses(worker.runtime.pod_ip, worker.runtime.host_ip, ctx.allocatable)
        services = service_env(pod, ctx.objects.services(), ctx.api_host, ctx.config.api_port)
        pod_env = container_env(pod, self.spec, lookup=lookup, addresses=addresses, services=services)
        mounts = worker.volumes.mounts(pod, self.spec, pod_env)
        instance = self._instance_dir(self.record.restart_count)
        spec = launch_spec(
            pod,
            self.spec,
            image,
            pod_env,
            mounts,
            layer_dir=instance / "layers",
            error_file=instance / "start-error",
        )
        self.env = spec.env
        return spec

    # -- one instance ------------------------------------------------------------------------------
    async def _run_once(self, launch: LaunchSpec, image: Image) -> Exit:
        worker = self.worker
        ctx = worker.ctx
        instance = self.record.restart_count
        self._forget_old_instances(instance)
        cid = container_id(worker.uid, self.name, instance)
        log_path = self.log_path(instance)
        log_path.unlink(missing_ok=True)
        self._logs[cid] = log_path
        cgroup = ctx.cgroups.create(cid.rsplit("/", 1)[-1][:16])
        mountpoints: list[Path] = []
        try:
            mountpoints = ctx.mountpoints.acquire(launch.mounts)
            self.process = await self._start(launch, instance, log_path, cgroup)
        except OSError as exc:
            ctx.mountpoints.release(mountpoints)
            if cgroup is not None:
                await asyncio.to_thread(ctx.cgroups.remove, cgroup)
            self.record.container_id = cid
            message = f"failed to create containerd task: {exc}"
            self.record.terminated(128, reason="StartError", message=message)
            worker.mark_dirty()
            return Exit(128, None, self.record.state["terminated"]["finishedAt"], message)
        try:
            return await self._supervise(self.process, launch, image, cid, instance)
        finally:
            ctx.mountpoints.release(mountpoints)
            if cgroup is not None:
                await asyncio.to_thread(ctx.cgroups.remove, cgroup)

    async def _start(
        self, launch: LaunchSpec, instance: int, log_path: Path, cgroup: Path | None
    ) -> ContainerProcess:
        """Start the launcher in the pod's network with the fds it inherits: the cgroup to join and the
        pipe on which it says that the container is in place."""
        worker = self.worker
        ctx = worker.ctx
        spec_file = self._instance_dir(instance) / "launch.json"
        cgroup_fd = ctx.cgroups.open_procs(cgroup)
        ready_read, ready_write = os.pipe()
        try:
            launch = dataclasses.replace(launch, cgroup_fd=cgroup_fd, ready_fd=ready_write)
            launch.dump(spec_file)
            argv = [*worker.exec_prefix(), ctx.config.python, "-m", LAUNCHER, str(spec_file)]
            inherited = [ready_write] + ([cgroup_fd] if cgroup_fd >= 0 else [])
            process = await containers.start(
                argv,
                log_path,
                Path(launch.error_file),
                cgroup=cgroup,
                pass_fds=inherited,
                ready_fd=ready_read,
            )
        except BaseException:
            os.close(ready_read)
            raise
        finally:
            os.close(ready_write)
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
        return process

    async def _supervise(
        self, process: ContainerProcess, launch: LaunchSpec, image: Image, cid: str, instance: int
    ) -> Exit:
        worker = self.worker
        containers.write_pid_file(self._instance_dir(instance) / "pid", process.pid)
        self.record.running(cid, image_id(image), process.started_at)
        worker.mark_dirty()
        worker.event(NORMAL, "Pulled", f'Container image "{image.name}" already present on machine')
        worker.event(NORMAL, "Created", f"Created container {self.name}")
        worker.event(NORMAL, "Started", f"Started container {self.name}")
        self.log.info("container started", pid=process.pid, instance=instance, argv=launch.argv)
        self._probes.append(asyncio.ensure_future(self._post_start(process)))
        exit_ = await self._wait(process)
        self._stop_probes()
        self._record_exit(exit_, process)
        worker.mark_dirty()
        self.log.info(
            "container exited", exit_code=exit_.code, signal=exit_.signal, error=exit_.error or None
        )
        return exit_

    async def _wait(self, process: ContainerProcess) -> Exit:
        """The exit of the process: on its own, or stopped because the pod halts or a restart is due."""
        worker = self.worker
        self.restart.clear()
        exited = asyncio.ensure_future(process.wait())
        halted = asyncio.ensure_future(worker.halt.wait())
        restart = asyncio.ensure_future(self.restart.wait())
        try:
            await asyncio.wait({exited, halted, restart}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halted.cancel()
            restart.cancel()
        if exited.done():
            return exited.result()
        if worker.halt.is_set():
            deadline = time.monotonic() + worker.grace_remaining()
            worker.event(NORMAL, "Killing", f"Stopping container {self.name}")
        else:
            deadline = time.monotonic() + self._restart_grace()
            worker.event(NORMAL, "Killing", self.restart_reason)
        self._stop_probes()
        await self._pre_stop(process, deadline - time.monotonic())
        return await process.stop(deadline - time.monotonic(), worker.kill_now)

    async def _post_start(self, process: ContainerProcess) -> None:
        """Once the container is in place: the postStart hook, then the probes. A failed hook kills the
        container (FailedPostStartHook)."""
        if not await process.prepared():
            return  # the launcher failed: the process ends with a StartError
        grace = float(self.worker.spec.get("terminationGracePeriodSeconds", 30))
        failure = await run_hook(self.spec, "postStart", self, self.worker.ctx.session, max(grace, 30.0))
        if failure is not None:
            self.worker.event(WARNING, "FailedPostStartHook", failure)
            self.restart_reason = f"FailedPostStartHook: {failure}"
            self.restart.set()
            return
        if not self.init:
            if "startupProbe" not in self.spec:
                self.record.started = True
                self.record.ready = "readinessProbe" not in self.spec
                self.worker.mark_dirty()
            self._start_probes()

    async def _pre_stop(self, process: ContainerProcess, timeout: float) -> None:
        """The preStop hook, within the grace period, unless the process ends or must die first."""
        if not isinstance((self.spec.get("lifecycle") or {}).get("preStop"), dict) or timeout <= 0:
            return
        hook = asyncio.ensure_future(run_hook(self.spec, "preStop", self, self.worker.ctx.session, timeout))
        exited = asyncio.ensure_future(process.wait())
        forced = asyncio.ensure_future(self.worker.kill_now.wait())
        try:
            await asyncio.wait({hook, exited, forced}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (exited, forced):
                task.cancel()
        if hook.done() and hook.result() is not None:
            self.worker.event(WARNING, "FailedPreStopHook", str(hook.result()))
        hook.cancel()

    def _restart_grace(self) -> float:
        probe = self.spec.get("livenessProbe") or {}
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = self.worker.spec.get("terminationGracePeriodSeconds", 30)
        return float(grace)

    def _record_exit(self, exit_: Exit, process: ContainerProcess) -> None:
        message = exit_.error
        if (
            not message
            and exit_.code != 0
            and self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError"
        ):
            message = self._log_tail(process.log)
        self.record.terminated(
            exit_.code,
            reason="StartError" if exit_.error else "",
            signal=exit_.signal,
            message=message,
            started_at=process.started_at,
            finished_at=exit_.finished_at,
        )
        if self.init and exit_.code == 0:
            self.record.ready = True

    @staticmethod
    def _log_tail(path: Path) -> str:
        lines = LogReader(path).read(final=True)[-FALLBACK_LINES:]
        return b"".join(line.content for line in lines)[-FALLBACK_BYTES:].decode(errors="replace")

    def _forget_old_instances(self, instance: int) -> None:
        """Keep the previous instance (logs for `--previous`), drop older ones."""
        for old in range(max(0, instance - 6), instance - 1):
            self._logs.pop(container_id(self.worker.uid, self.name, old), None)
            self.log_path(old).unlink(missing_ok=True)
            shutil.rmtree(self._instance_dir(old), ignore_errors=True)

    def log_file(self, previous: bool) -> tuple[Path, Callable[[], bool]]:
        """As the kubelet picks the container for logs: the running or last terminated instance, or with
        `previous` the one in lastState."""
        record = self.record
        pod = self.worker.name
        if previous:
            cid = (record.last_state.get("terminated") or {}).get("containerID")
            if not cid:
                raise LookupError(f'previous terminated container "{self.name}" in pod "{pod}" not found')
        elif record.is_running:
            cid = record.container_id
        elif "terminated" in record.state:
            cid = record.state["terminated"].get("containerID")
        else:
            cid = (record.last_state.get("terminated") or {}).get("containerID")
            if not cid:
                reason = (record.state.get("waiting") or {}).get("reason", "")
                raise LookupError(f'container "{self.name}" in pod "{pod}" is waiting to start: {reason}')
        path = self._logs.get(str(cid))
        if path is None:
            raise LookupError(f'container "{self.name}" in pod "{pod}": log of {cid} not found')

        def running() -> bool:
            return self.record.is_running and self.record.container_id == cid

        return path, running

    # -- probes ------------------------------------------------------------------------------------
    def _start_probes(self) -> None:
        startup = self.spec.get("startupProbe")
        if isinstance(startup, dict):
            self._start_probe("startup", startup)
        else:
            self._start_runtime_probes()

    def _start_runtime_probes(self) -> None:
        for kind in ("liveness", "readiness"):
            probe = self.spec.get(f"{kind}Probe")
            if isinstance(probe, dict):
                self._start_probe(kind, probe)

    def _start_probe(self, kind: str, probe: JSON) -> None:
        prober = Prober(kind, probe, self, self.worker.ctx.session, self._probe_changed, self._probe_failed)
        self._probes.append(asyncio.ensure_future(prober.run()))

    def _stop_probes(self) -> None:
        for task in self._probes:
            task.cancel()
        self._probes.clear()

    async def _probe_changed(self, kind: str, ok: bool, message: str) -> None:
        if not self.record.is_running:
            return
        if kind == "startup":
            if ok:
                self.record.started = True
                self.record.ready = "readinessProbe" not in self.spec
                self._start_runtime_probes()
            else:
                self.restart_reason = f"Container {self.name} failed startup probe, will be restarted"
                self.restart.set()
        elif kind == "readiness":
            self.record.ready = ok and self.record.started
        elif kind == "liveness" and not ok:
            self.restart_reason = f"Container {self.name} failed liveness probe, will be restarted"
            self.restart.set()
        self.worker.mark_dirty()

    async def _probe_failed(self, kind: str, _ok: bool, message: str) -> None:
        self.worker.event(WARNING, "Unhealthy", f"{kind.capitalize()} probe failed: {message}")

    # -- ProbeTarget -------------------------------------------------------------------------------
    @property
    def pod_ip(self) -> str:
        return self.worker.runtime.pod_ip

    def port(self, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for declared in self.spec.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise ValueError(f"port {port!r} not found in the container's ports")

    async def exec(self, command: list[str], timeout: float) -> tuple[int, str]:
        if self.process is None or self.process.exited:
            return 1, "container is not running"
        return await self.process.exec(command, self.env, timeout)
