"""Container processes: start one (in its own session, output to the CRI log file), wait for it, stop it
(SIGTERM to the group, SIGKILL after the grace period) and run commands inside it (exec probes).

When the main process ends, whatever it left in its process group or session is killed too: a
container's processes end with the container, as they do when a pid namespace goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flinkop.sandbox.kubelet import cgroups
from flinkop.sandbox.kubelet.logfile import LogWriter
from flinkop.sandbox.kubelet.status import now

DRAIN_TIMEOUT = 2.0  # how long the log copiers may keep reading after the process ended


@dataclass(frozen=True)
class Exit:
    code: int
    signal: int | None
    finished_at: str
    error: str = ""  # why the launcher could not start the command (a StartError)


def group_members(leader: int) -> list[int]:
    """Pids in the process group or session led by `leader` (from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3 and leader in (int(fields[2]), int(fields[3])):  # pgrp, session
            members.append(int(entry))
    return members


def kill_group(leader: int, sig: int) -> None:
    """Signal the group led by `leader` and every member of its session that moved to another group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)
    for pid in group_members(leader):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (tells a pid's reuse apart)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else ""


def write_pid_file(path: Path, pid: int) -> None:
    """Record the container's pid (and start time) for `kill_leftovers`; best effort."""
    with contextlib.suppress(OSError):
        path.write_text(f"{pid} {_start_time(pid)}\n")


def kill_leftovers(root: Path) -> int:
    """Kill the process groups recorded in `pid` files under `root` that still run (a kubelet that
    crashed left them behind); returns how many."""
    killed = 0
    for pid_file in root.glob("*/containers/*/*/pid"):
        try:
            pid_text, _, started = pid_file.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if started and _start_time(pid) == started:
            kill_group(pid, signal.SIGKILL)
            killed += 1
    return killed


class ContainerProcess:
    def __init__(
        self,
        process: asyncio.subprocess.Process,
        log: Path,
        error_file: Path,
        copiers: list[asyncio.Task[None]],
        log_handle: BinaryIO,
        cgroup: Path | None = None,
        ready_fd: int = -1,
    ) -> None:
        self.process = process
        self.cgroup = cgroup
        self._ready = asyncio.ensure_future(_read_ready(ready_fd)) if ready_fd >= 0 else None
        self.pid = process.pid
        self.log = log
        self.error_file = error_file
        self.started_at = now()
        self.started_monotonic = time.monotonic()
        self._copiers = copiers
        self._log_handle = log_handle
        self._exit: Exit | None = None
        self._waiter: asyncio.Task[Exit] | None = None

    async def prepared(self, timeout: float = 30.0) -> bool:
        """Whether the launcher got the container ready (namespaces, mounts) and exec'd the command."""
        if self._ready is None:
            return True
        return await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    @property
    def exited(self) -> bool:
        return self._exit is not None

    async def wait(self) -> Exit:
        """The exit of the container; the log is complete and leftovers are killed when it returns."""
        if self._waiter is None:
            self._waiter = asyncio.ensure_future(self._wait())
        return await asyncio.shield(self._waiter)

    async def _wait(self) -> Exit:
        returncode = await self.process.wait()
        finished = now()
        self._kill_all(signal.SIGKILL)  # what the main process left behind ends with it
        _done, pending = (
            await asyncio.wait(self._copiers, timeout=DRAIN_TIMEOUT) if self._copiers else ((), ())
        )
        for task in pending:
            task.cancel()
        with contextlib.suppress(OSError):
            self._log_handle.close()
        error = ""
        with contextlib.suppress(OSError):
            error = self.error_file.read_text().strip()
        if returncode < 0:
            self._exit = Exit(128 - returncode, -returncode, finished, error)
        else:
            self._exit = Exit(returncode, None, finished, error)
        return self._exit

    def signal(self, sig: int) -> None:
        if self._exit is None:
            self._kill_all(sig)

    def _kill_all(self, sig: int) -> None:
        kill_group(self.pid, sig)
        if self.cgroup is not None:
            cgroups.signal_all(self.cgroup, sig)

    async def stop(self, grace: float, kill_now: asyncio.Event | None = None) -> Exit:
        """SIGTERM the group, SIGKILL it after `grace` seconds (or as soon as `kill_now` is set)."""
        if self._exit is not None:
            return self._exit
        waiter = asyncio.ensure_future(self.wait())
        self.signal(signal.SIGTERM)
        waits: set[asyncio.Future[object]] = {waiter}  # type: ignore[arg-type]
        forced: asyncio.Task[bool] | None = None
        if kill_now is not None:
            forced = asyncio.ensure_future(kill_now.wait())
            waits.add(forced)  # type: ignore[arg-type]
        try:
            await asyncio.wait(waits, timeout=max(0.0, grace), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if forced is not None:
                forced.cancel()
        if not waiter.done():
            self.signal(signal.SIGKILL)
        return await waiter

    async def exec(self, command: Sequence[str], env: Mapping[str, str], timeout: float) -> tuple[int, str]:
        """Run `command` in the container's mount, network and UTS namespaces, in its working directory."""
        nsenter = shutil.which("nsenter") or "nsenter"
        argv = [nsenter, "-t", str(self.pid), "-m", "-n", "-u", "--wd", "--", *command]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )
        except OSError as exc:
            return 126, str(exc)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            kill_group(process.pid, signal.SIGKILL)
            await process.wait()
            return 1, f"command timed out after {timeout:g}s"
        except asyncio.CancelledError:
            kill_group(process.pid, signal.SIGKILL)
            raise
        return int(process.returncode or 0), output.decode(errors="replace")[-10240:]


async def start(
    argv: Sequence[str],
    log: Path,
    error_file: Path,
    env: Mapping[str, str] | None = None,
    cgroup: Path | None = None,
    pass_fds: Sequence[int] = (),
    ready_fd: int = -1,
) -> ContainerProcess:
    """Start a container process in a new session, its stdout and stderr copied into `log`. `pass_fds`
    stay open in the child; `ready_fd` (owned by the ContainerProcess from now on) is the read end of the
    launcher's ready pipe."""
    handle = _open_log(log, error_file)
    # Our own pipes, not asyncio's: its Process.wait() also waits for the pipes to close, which a
    # leftover child holding them open would delay forever.
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out_write,
            stderr=err_write,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except BaseException:
        handle.close()
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        with contextlib.suppress(OSError):
            os.close(out_write)
        with contextlib.suppress(OSError):
            os.close(err_write)
    copiers = [
        asyncio.ensure_future(_copy(out_read, LogWriter(handle, "stdout"))),
        asyncio.ensure_future(_copy(err_read, LogWriter(handle, "stderr"))),
    ]
    return ContainerProcess(process, log, error_file, copiers, handle, cgroup, ready_fd)


def _open_log(log: Path, error_file: Path) -> BinaryIO:
    log.parent.mkdir(parents=True, exist_ok=True)
    error_file.unlink(missing_ok=True)
    return log.open("ab")


async def _read_ready(fd: int) -> bool:
    """True once the launcher wrote its byte; False when the pipe closed without it (it failed)."""
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "rb", buffering=0)
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return bool(await reader.read(1))
    finally:
        transport.close()


async def _copy(fd: int, writer: LogWriter) -> None:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "rb", buffering=0)
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        await writer.copy(reader)
    finally:
        transport.close()
