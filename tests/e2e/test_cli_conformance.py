"""`flinkop sandbox apiserver` as a separate process, measured by the shared conformance script."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SHARED

pytestmark = pytest.mark.slow

CONFORMANCE = SHARED / "tools" / "apiserver_conformance.py"


async def _wait_for(path: Path, proc: asyncio.subprocess.Process) -> str:
    for _ in range(200):
        text = path.read_text() if path.exists() else ""  # noqa: ASYNC240 -- a tiny file, polled
        if text:
            return text
        if proc.returncode is not None:
            raise AssertionError(f"apiserver exited early with {proc.returncode}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never written")


async def test_cli_server_passes_all_conformance_checks(tmp_path: Path) -> None:
    assert CONFORMANCE.exists(), f"{CONFORMANCE} is missing: CI must have ../shared beside the checkout"
    portfile, kubeconfig = tmp_path / "port", tmp_path / "kubeconfig"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flinkop",
        "sandbox",
        "apiserver",
        "--port",
        "0",
        "--portfile",
        str(portfile),
        "--kubeconfig-out",
        str(kubeconfig),
        "--bookmark-interval",
        "1",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        port = int(await _wait_for(portfile, server))
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == f"http://127.0.0.1:{port}"
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CONFORMANCE),
            f"http://127.0.0.1:{port}",
            "sandbox",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(probe.communicate(), 240)
        report = out.decode()
        assert "=== sandbox: 43/43 PASS ===" in report, report
        assert probe.returncode == 0
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(server.communicate(), 10)
    assert server.returncode == 0, err.decode()[-2000:]
