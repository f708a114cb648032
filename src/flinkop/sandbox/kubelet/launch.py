"""The container launcher: `python -m flinkop.sandbox.kubelet.launch <spec.json>`.

Runs inside the pod's network namespace (under `ip netns exec`). It enters a private mount namespace
and a UTS namespace of its own, sets the pod's hostname, mounts the image paths (an overlay per
container, so writes stay in the container's layer), the volumes at their mountPaths and the
service-account directory, then changes to the working directory and execs the command with the
container's environment. The pid stays the same, so the kubelet signals the container directly.

When something fails before the exec, the reason goes to the spec's `error_file` and the launcher exits
with 128, which the kubelet reports as the container's StartError.

Standard library only: this module starts once per container and must start fast.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
START_ERROR = 128


@dataclass(frozen=True)
class Mount:
    """One mount in the container: `bind` a host path, or `overlay` a read-only lower directory with a
    writable per-container upper layer (its `work` directory on the same filesystem)."""

    target: str
    source: str
    read_only: bool = False
    kind: str = "bind"
    upper: str = ""
    work: str = ""

    @property
    def depth(self) -> int:
        return len([p for p in self.target.split("/") if p])


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    working_dir: str
    hostname: str
    error_file: str
    mounts: list[Mount] = field(default_factory=list)
    ready_fd: int = -1  # an inherited pipe: one byte once everything is in place, just before the exec
    cgroup_fd: int = -1  # an inherited fd of the container's cgroup.procs: joined first, so every process
    # of the container is in the cgroup (an fd, as `ip netns exec` remounts /sys)

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the env may hold secrets
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)

    @classmethod
    def load(cls, path: Path) -> LaunchSpec:
        raw: dict[str, Any] = json.loads(path.read_text())
        raw["mounts"] = [Mount(**m) for m in raw.get("mounts") or []]
        return cls(**raw)


class LaunchError(Exception):
    pass


_libc: ctypes.CDLL | None = None


def _call(name: str, *args: Any) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if getattr(_libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise LaunchError(f"{name}{args!r}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _call(
        "mount",
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )


@dataclass(frozen=True)
class _Opened:
    """A mount whose host paths are held open: later mounts may hide them (a volume over /tmp hides a
    state directory under /tmp), so mounts use `/proc/self/fd/<n>` rather than the paths."""

    mount: Mount
    source: str
    is_file: bool
    upper: str = ""
    work: str = ""


def _hold(path: str) -> str:
    return f"/proc/self/fd/{os.open(path, os.O_PATH)}"  # closed by the exec (not inheritable)


def _open(mount: Mount) -> _Opened:
    if mount.kind == "overlay":
        Path(mount.upper).mkdir(parents=True, exist_ok=True)
        Path(mount.work).mkdir(parents=True, exist_ok=True)
        return _Opened(mount, _hold(mount.source), False, _hold(mount.upper), _hold(mount.work))
    return _Opened(mount, _hold(mount.source), Path(mount.source).is_file())


def _ensure_target(opened: _Opened) -> None:
    """Create the mount point: a file for a file source, else a directory (as container runtimes do)."""
    target = Path(opened.mount.target)
    if target.exists() or target.is_symlink():
        return
    if opened.is_file:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    else:
        target.mkdir(parents=True, exist_ok=True)


def _apply(opened: _Opened) -> None:
    _ensure_target(opened)
    mount, source = opened.mount, opened.source
    if mount.kind == "overlay":
        options = f"lowerdir={source},upperdir={opened.upper},workdir={opened.work}"
        try:
            _mount("overlay", mount.target, "overlay", 0, options)
            return
        except LaunchError:  # no overlay support here: share the image directory itself
            pass
    _mount(source, mount.target, None, MS_BIND | MS_REC)
    if mount.read_only:
        _mount(source, mount.target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def prepare(spec: LaunchSpec) -> None:
    """cgroup, namespaces, hostname, mounts and working directory: everything before the exec."""
    if spec.cgroup_fd >= 0:
        try:
            os.write(spec.cgroup_fd, str(os.getpid()).encode())
            os.close(spec.cgroup_fd)
        except OSError as exc:
            raise LaunchError(f"cannot join the container's cgroup: {exc}") from exc
    _call("unshare", ctypes.c_int(CLONE_NEWNS | CLONE_NEWUTS))
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    if spec.hostname:
        name = spec.hostname.encode()
        _call("sethostname", name, ctypes.c_size_t(len(name)))
    opened: list[_Opened] = []
    for mount in sorted(spec.mounts, key=lambda m: m.depth):  # parents before children, stable
        try:
            opened.append(_open(mount))
        except OSError as exc:
            raise LaunchError(
                f"error mounting {mount.source!r} to rootfs at {mount.target!r}: {exc}"
            ) from exc
    for held in opened:
        mount = held.mount
        try:
            _apply(held)
        except (LaunchError, OSError) as exc:
            raise LaunchError(
                f"error mounting {mount.source!r} to rootfs at {mount.target!r}: {exc}"
            ) from exc
    workdir = spec.working_dir or "/"
    try:
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
    except OSError as exc:
        raise LaunchError(f"chdir to cwd ({workdir!r}) set in config.json failed: {exc}") from exc


_error_fd: int | None = None  # the error file, opened before mounts may hide its path


def _open_error_file(spec: LaunchSpec) -> None:
    global _error_fd
    if spec.error_file:
        try:
            _error_fd = os.open(spec.error_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError:
            _error_fd = None


def _fail(spec: LaunchSpec | None, message: str) -> int:
    sys.stderr.write(message + "\n")
    if _error_fd is not None:
        try:
            os.write(_error_fd, message.encode())
        except OSError:
            pass
    elif spec is not None and spec.error_file:
        try:
            Path(spec.error_file).write_text(message)
        except OSError:
            pass
    return START_ERROR


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m flinkop.sandbox.kubelet.launch <spec.json>\n")
        return 2
    try:
        spec = LaunchSpec.load(Path(argv[0]))
    except (OSError, ValueError, TypeError) as exc:
        return _fail(None, f"cannot read launch spec {argv[0]}: {exc}")
    if not spec.argv:
        return _fail(spec, "no command specified")
    _open_error_file(spec)
    try:
        prepare(spec)
    except LaunchError as exc:
        return _fail(spec, f"failed to create containerd task: {exc}")
    if spec.ready_fd >= 0:
        try:
            os.write(spec.ready_fd, b"1")
            os.close(spec.ready_fd)
        except OSError:
            pass
    try:
        os.execvpe(spec.argv[0], spec.argv, spec.env)
    except FileNotFoundError:
        return _fail(spec, f'exec: "{spec.argv[0]}": executable file not found in $PATH')
    except OSError as exc:
        return _fail(spec, f'exec: "{spec.argv[0]}": {exc.strerror}')
    except ValueError as exc:  # e.g. a NUL byte in an argument or a variable
        return _fail(spec, f'exec: "{spec.argv[0]}": {exc}')


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
