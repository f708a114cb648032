"""A cgroup per container, as container runtimes keep one: it holds every process of the container,
also those that left its process group and session (a daemonizing child), so all of them can be found
and killed when the container ends. Only process tracking is used (the `pids` controller of cgroup v1,
or cgroup v2); no limits are set. Without a writable cgroup hierarchy the kubelet falls back to the
process group and session alone."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from pathlib import Path

V1_PIDS = Path("/sys/fs/cgroup/pids")
V2_ROOT = Path("/sys/fs/cgroup")


def _hierarchy() -> Path | None:
    if (V1_PIDS / "cgroup.procs").exists():
        return V1_PIDS
    if (V2_ROOT / "cgroup.controllers").exists():
        return V2_ROOT
    return None


def members(cgroup: Path) -> list[int]:
    try:
        text = (cgroup / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(line) for line in text.split() if line.strip().isdigit()]


def signal_all(cgroup: Path, sig: int) -> None:
    for pid in members(cgroup):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


class Cgroups:
    """The containers' cgroups of one kubelet, under a parent named after its state directory."""

    def __init__(self, state_dir: Path, root: Path | None = None) -> None:
        base = root if root is not None else _hierarchy()
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
        self.parent = base / f"flinkop-kubelet-{digest}" if base is not None else None

    def create(self, name: str) -> Path | None:
        """A fresh cgroup for one container; None when cgroups cannot be used here."""
        if self.parent is None:
            return None
        path = self.parent / name
        try:
            self.parent.mkdir(exist_ok=True)
            if path.exists():
                self.remove(path)
            path.mkdir()
        except OSError:
            return None
        return path

    @staticmethod
    def open_procs(cgroup: Path | None) -> int:
        """A write fd of the cgroup's `cgroup.procs` for the launcher to join with; -1 without one."""
        if cgroup is None:
            return -1
        try:
            return os.open(cgroup / "cgroup.procs", os.O_WRONLY)
        except OSError:
            return -1

    def remove(self, cgroup: Path, timeout: float = 2.0) -> None:
        """SIGKILL whatever is left in the cgroup, then remove it."""
        deadline = time.monotonic() + timeout
        while True:
            signal_all(cgroup, signal.SIGKILL)
            try:
                cgroup.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)

    def remove_all(self) -> int:
        """Kill and remove every container cgroup of this kubelet (left by a crash or at shutdown)."""
        if self.parent is None or not self.parent.is_dir():
            return 0
        removed = 0
        for child in self.parent.iterdir():
            if child.is_dir():
                removed += bool(members(child))
                self.remove(child)
        with contextlib.suppress(OSError):
            self.parent.rmdir()
        return removed
