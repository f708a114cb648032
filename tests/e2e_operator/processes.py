"""The operator as a child process (``python -m flinkop.operator --kubeconfig ...``) from outside the
sandbox cluster, its output in a file: for the tests that kill it, run two of it, or read its logs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from flinkop.crashpoints import ENV


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        conf_dir: Path,
        log_file: Path,
        env: dict[str, str] | None = None,
        namespaces: tuple[str, ...] | None = ("default",),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.conf_dir = conf_dir
        self.log_file = log_file
        self.env = env or {}
        self.namespaces = namespaces
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("KUBERNETES_SERVICE_HOST", ENV)}
        env.update(self.env)
        args = ["--kubeconfig", str(self.kubeconfig), "--conf-dir", str(self.conf_dir)]
        for namespace in self.namespaces or ():
            args += ["--namespace", namespace]
        with self.log_file.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "flinkop.operator",
                *args,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
            )

    def output(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait(self, timeout: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL: no drain, no lease release."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()

    async def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


__all__ = ["OperatorProcess"]
