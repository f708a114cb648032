"""Mount points that do not exist on the host.

Containers share the host's root, so a volume at /etc/app needs an /etc/app directory there to mount
on. The kubelet creates such mount points before a container starts and removes them (only what it
created, only when empty) when the last container using them has ended, so pods leave no directories
behind. Mount points inside another mount (an image overlay, a volume) are made by the launcher in that
mount instead and never touch the host. What is in use is recorded in `state_file`, so a kubelet that
crashed has its mount points removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from flinkop.sandbox.kubelet.launch import Mount


def _covered(target: str, mounts: Iterable[Mount]) -> bool:
    """Whether another mount of the container holds `target` (so the launcher creates it there)."""
    path = PurePosixPath(target)
    return any(PurePosixPath(m.target) != path and PurePosixPath(m.target) in path.parents for m in mounts)


class MountPoints:
    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self._users: Counter[Path] = Counter()  # created path -> containers using it

    def cleanup_leftovers(self) -> None:
        """Remove the mount points a previous kubelet recorded and did not remove."""
        try:
            recorded = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            recorded = []
        for path in sorted((Path(p) for p in recorded), key=lambda p: len(p.parts), reverse=True):
            _remove(path)
        self.state_file.unlink(missing_ok=True)

    def acquire(self, mounts: list[Mount]) -> list[Path]:
        """Create the missing host mount points of a container; returns what it must release."""
        acquired: list[Path] = []
        for mount in mounts:
            if _covered(mount.target, mounts):
                continue
            target = Path(mount.target)
            for path in self._create(target, file=mount.kind == "bind" and Path(mount.source).is_file()):
                self._users.setdefault(path, 0)
            for path in [p for p in self._users if p == target or p in target.parents]:
                self._users[path] += 1
                acquired.append(path)
        self._save()
        return acquired

    def release(self, acquired: list[Path]) -> None:
        for path in acquired:
            self._users[path] -= 1
        for path in sorted(acquired, key=lambda p: len(p.parts), reverse=True):
            if self._users.get(path, 0) <= 0:
                self._users.pop(path, None)
                _remove(path)
        self._save()

    @staticmethod
    def _create(target: Path, *, file: bool) -> list[Path]:
        """Create `target` (and missing parents); returns the paths created, outermost first."""
        missing = []
        current = target
        while not current.exists() and not current.is_symlink():
            missing.append(current)
            current = current.parent
        missing.reverse()
        for path in missing:
            if path == target and file:
                path.touch()
            else:
                path.mkdir()
        return missing

    def _save(self) -> None:
        with contextlib.suppress(OSError):
            self.state_file.write_text(json.dumps(sorted(str(p) for p in self._users)))


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()  # only when empty
        elif path.is_file() and path.stat().st_size == 0:
            path.unlink()
