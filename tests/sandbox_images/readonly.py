"""Run a command with a directory mounted read-only, like a ConfigMap volume in a pod."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

_SCRIPT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


@functools.cache
def can_mount_read_only() -> bool:
    """Needs root and unshare(1): a private mount namespace, so nothing outside the command sees the mount."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*read_only("/tmp"), "true"], capture_output=True, check=False)
    return probe.returncode == 0


def read_only(directory: str | Path) -> list[str]:
    """Prefix for a command line: the command then sees `directory` read-only (unshare execs, no fork)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _SCRIPT, str(directory)]
