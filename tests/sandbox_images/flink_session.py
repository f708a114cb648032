"""A real Flink session cluster (JobManager + TaskManager JVMs on 127.0.0.1), started through the image's
entrypoint shim the way a pod would start it, plus a small REST client. Test helper, standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flinkop.sandbox.images import ENTRYPOINT, FLINK_HOME, Image

# Small JVMs (numbers from the runtime notes' lean budget) so two clusters fit the test machine easily.
LEAN_MEMORY = {
    "jobmanager.memory.process.size": "640m",
    "jobmanager.memory.jvm-metaspace.size": "160m",
    "jobmanager.memory.off-heap.size": "64m",
    "jobmanager.memory.jvm-overhead.min": "96m",
    "jobmanager.memory.jvm-overhead.max": "96m",
    "taskmanager.memory.process.size": "640m",
    "taskmanager.memory.managed.size": "0m",
    "taskmanager.memory.jvm-metaspace.size": "160m",
    "taskmanager.memory.jvm-overhead.min": "96m",
    "taskmanager.memory.jvm-overhead.max": "96m",
    "taskmanager.memory.network.min": "32m",
    "taskmanager.memory.network.max": "32m",
    "taskmanager.memory.framework.off-heap.size": "64m",
    "taskmanager.memory.framework.heap.size": "64m",
}
FAST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RestError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:2000]}")
        self.status = status


@dataclass
class FlinkSession:
    """JM + TM started with `/docker-entrypoint.sh jobmanager|taskmanager` on host paths."""

    image: Image
    work: Path
    conf_dir: Path  # what the pod would mount at /opt/flink/conf; the shim must not write to it
    properties: dict[str, str]  # passed as FLINK_PROPERTIES
    rest_port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def tm_stdout(self) -> Path:
        return self.work / "taskmanager.out"

    def host_env(self) -> dict[str, str]:
        """The image's ENV with /opt/flink replaced by its host path: no mount namespace in these tests."""
        home = str(self.image.mounts[FLINK_HOME])
        env = {key: value.replace(FLINK_HOME, home) for key, value in self.image.env.items()}
        env.update(
            FLINK_CONF_DIR=str(self.conf_dir),
            FLINK_PROPERTIES="\n".join(f"{k}: {v}" for k, v in self.properties.items()),
            FLINK_LOG_DIR=str(self.work / "log"),
            FLINK_PID_DIR=str(self.work / "pid"),
            TMPDIR=str(self.work / "tmp"),
            HOME=os.environ.get("HOME", "/root"),
        )
        return env

    def command(self, role: str) -> list[str]:
        return [str(self.image.mounts[ENTRYPOINT]), role]

    def start(self, timeout: float = 90) -> None:
        for sub in ("log", "pid", "tmp"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        for role in ("jobmanager", "taskmanager"):
            out = (self.work / f"{role}.out").open("wb")
            self.processes.append(
                subprocess.Popen(
                    self.command(role),
                    env=self.host_env(),
                    cwd=self.work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stop() ends it and nothing else
                )
            )
            out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"a Flink process exited with {proc.returncode}; see {self.work}")
            try:
                if self.get("/overview").get("taskmanagers", 0) >= 1:
                    return
            except (OSError, RestError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"no TaskManager registered within {timeout} s; see {self.work}")

    def stop(self) -> None:
        for proc in self.processes:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(10)

    def leftover_processes(self) -> list[int]:
        """Processes anywhere on the machine whose command line mentions this session's work directory."""
        marker = str(self.work).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    # REST

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        return self._send(req, timeout)

    def get(self, path: str) -> Any:
        return self.request("GET", path, timeout=5)

    def upload_jar(self, jar: Path) -> str:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="jarfile"; filename="{jar.name}"\r\n'
                f"Content-Type: application/x-java-archive\r\n\r\n"
            ).encode()
            + jar.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        req = urllib.request.Request(self.url + "/jars/upload", data=body, method="POST")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        reply = self._send(req, 30)
        return str(reply["filename"]).rsplit("/", 1)[-1]

    def run_jar(self, jar_id: str, **body: Any) -> str:
        return str(self.request("POST", f"/jars/{jar_id}/run", body)["jobid"])

    def job_state(self, job_id: str) -> str:
        for job in self.get("/jobs/overview")["jobs"]:
            if job["jid"] == job_id:
                return str(job["state"])
        return "UNKNOWN"

    def wait_job_running(self, job_id: str, timeout: float = 60) -> None:
        """RUNNING with every task running (the job state alone turns RUNNING before tasks deploy)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for job in self.get("/jobs/overview")["jobs"]:
                if job["jid"] == job_id:
                    if job["state"] in ("FAILED", "CANCELED", "FINISHED"):
                        raise RuntimeError(f"job {job_id} ended: {job['state']}")
                    tasks = job["tasks"]
                    if job["state"] == "RUNNING" and tasks["running"] == tasks["total"]:
                        return
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} not running within {timeout} s")

    def wait_job_state(self, job_id: str, state: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.job_state(job_id) == state:
                return
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} is {self.job_state(job_id)}, not {state}, after {timeout} s")

    def wait_operation(self, path: str, timeout: float = 60) -> dict[str, Any]:
        """Polls an async operation (savepoint, stop); returns `operation`, raising on a failure cause."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.get(path)
            if reply["status"]["id"] == "COMPLETED":
                operation: dict[str, Any] = reply["operation"]
                if "failure-cause" in operation:
                    raise RuntimeError(
                        f"{path} failed: {operation['failure-cause'].get('stack-trace', '')[:2000]}"
                    )
                return operation
            time.sleep(0.1)
        raise TimeoutError(f"{path} not completed within {timeout} s")

    def savepoint(self, job_id: str, target: Path) -> str:
        body = {"target-directory": f"file://{target}", "cancel-job": False}
        trigger = self.request("POST", f"/jobs/{job_id}/savepoints", body)["request-id"]
        return str(self.wait_operation(f"/jobs/{job_id}/savepoints/{trigger}")["location"])

    def stop_with_savepoint(self, job_id: str, target: Path) -> str:
        body = {"targetDirectory": f"file://{target}", "drain": False}
        trigger = self.request("POST", f"/jobs/{job_id}/stop", body)["request-id"]
        return str(self.wait_operation(f"/jobs/{job_id}/savepoints/{trigger}")["location"])

    def cancel(self, job_id: str) -> None:
        self.request("PATCH", f"/jobs/{job_id}?mode=cancel")
        self.wait_job_state(job_id, "CANCELED")

    @staticmethod
    def _send(req: urllib.request.Request, timeout: float) -> Any:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as reply:
                text = reply.read().decode()
        except urllib.error.HTTPError as exc:
            raise RestError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(text) if text else {}


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
