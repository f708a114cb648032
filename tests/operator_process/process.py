"""The operator as a real child process (``python -m flinkop.operator``) and what it writes to stderr."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
JSON = dict[str, Any]

# Settings of the test's own environment that must not reach the operator under test.
_INHERITED_OUT = (
    "KUBERNETES_SERVICE_HOST",
    "KUBECONFIG",
    "WATCH_NAMESPACES",
    "FLINK_CONF_DIR",
    "CONF_OVERRIDE_DIR",
)
_PREFIXES_OUT = ("FLINKOP_LOG_", "FLINK_CONF_", "OPERATOR_")

BASE_CONFIG = {
    "kubernetes.operator.health.probe.port": "0",  # parallel operators must not collide on 8085
    "kubernetes.operator.termination.timeout": "5 s",
}


def write_conf_dir(directory: Path, **keys: str) -> Path:
    """A conf dir with a flat ``config.yaml``: the test defaults plus ``keys`` (``.`` spelled ``__``)."""
    directory.mkdir(parents=True, exist_ok=True)
    options = {**BASE_CONFIG, **{key.replace("__", "."): value for key, value in keys.items()}}
    (directory / "config.yaml").write_text("".join(f"{key}: {value}\n" for key, value in options.items()))
    return directory


def write_kubeconfig(path: Path, document: JSON) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def operator_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _INHERITED_OUT and not key.startswith(_PREFIXES_OUT)
    }
    env["PYTHONPATH"] = str(REPO / "src")
    env.update(extra or {})
    return env


class OperatorProcess:
    """``python -m flinkop.operator <args>``; its stderr collected line by line while the test runs."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, *args: str, env: Mapping[str, str] | None = None) -> OperatorProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "flinkop.operator",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=operator_env(env),
            cwd=REPO,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for(self, matches: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        """The first stderr line that ``matches``; fails with the output so far when none comes in time."""
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if matches(line):
                    return line
            if self.process.returncode is not None and self._reader.done():
                raise AssertionError(
                    f"{what}: the operator exited ({self.process.returncode})\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not logged within {timeout:.0f} s\n{self.tail()}")
            await asyncio.sleep(0.05)

    async def wait_exit(self, timeout: float) -> int:
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the operator did not exit within {timeout:.0f} s\n{self.tail()}") from None
        await self._reader
        if self.process.stdout is not None:
            await self.process.stdout.read()
        return code

    async def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await self.wait_exit(timeout)
        return code, time.monotonic() - started

    async def kill(self) -> None:
        """Clean-up: SIGKILL this child if it still runs."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def tail(self, count: int = 40) -> str:
        return "\n".join(line[:400] for line in self.lines[-count:])
