"""A real Flink standalone session cluster for the REST client tests: JobManager and TaskManager JVMs
started with `java` directly on 127.0.0.1 (FLINK-RUNTIME-NOTES §4b, lean memory), and the tests' job jar
compiled from `TestJob.java` against the distribution's `lib/`. Standard library and PyYAML only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
JOB_SOURCE = Path(__file__).with_name("TestJob.java")
JOB_MAIN_CLASS = "flinkrest.TestJob"
FAST_JVM = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"]
MiB = 1024 * 1024

# The lean budget of the runtime notes: JM ~576m, TM ~480m (no managed memory: hashmap state backend).
JM_MEMORY = {
    "jobmanager.memory.heap.size": 256 * MiB,
    "jobmanager.memory.off-heap.size": 64 * MiB,
    "jobmanager.memory.jvm-metaspace.size": 160 * MiB,
    "jobmanager.memory.jvm-overhead.min": 96 * MiB,
    "jobmanager.memory.jvm-overhead.max": 96 * MiB,
}
TM_MEMORY = {
    "taskmanager.memory.framework.heap.size": 64 * MiB,
    "taskmanager.memory.task.heap.size": 64 * MiB,
    "taskmanager.memory.framework.off-heap.size": 64 * MiB,
    "taskmanager.memory.task.off-heap.size": 0,
    "taskmanager.memory.network.min": 32 * MiB,
    "taskmanager.memory.network.max": 32 * MiB,
    "taskmanager.memory.managed.size": 0,
    "taskmanager.memory.jvm-metaspace.size": 160 * MiB,
    "taskmanager.memory.jvm-overhead.min": 96 * MiB,
    "taskmanager.memory.jvm-overhead.max": 96 * MiB,
}


def find_flink_home(version: str) -> Path | None:
    """FLINK_HOME of an installed distribution: the sandbox images (`.sandbox/images/manifest.json`), else
    a `pip install --no-deps --target /tmp/flinkrest/flink-<major.minor>` of apache-flink(-libraries)."""
    manifest = REPO / ".sandbox" / "images" / "manifest.json"
    if manifest.is_file():
        for dist in json.loads(manifest.read_text()).get("flink", []):
            home: Path = manifest.parent / str(dist["home"])
            if dist.get("version") == version and (home / "lib").is_dir():
                return home
    fallback = Path("/tmp/flinkrest") / f"flink-{version.rsplit('.', 1)[0]}" / "pyflink"
    return fallback if (fallback / "lib").is_dir() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_job_jar(flink_home: Path, work: Path) -> Path:
    """Compile TestJob.java against the distribution's jars into `work/flinkrest-test-job.jar`."""
    classes = work / "classes"
    classes.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "javac",
            "--release",
            "11",
            "-nowarn",
            "-cp",
            f"{flink_home}/lib/*",
            "-d",
            str(classes),
            str(JOB_SOURCE),
        ],
        check=True,
        capture_output=True,
    )
    jar = work / "flinkrest-test-job.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nMain-Class: {JOB_MAIN_CLASS}\n\n")
        for path in sorted(classes.rglob("*.class")):
            zf.write(path, path.relative_to(classes).as_posix())
    return jar


def _java_opts(flink_home: Path) -> list[str]:
    """`env.java.opts.all` of the distribution's config.yaml: the JDK 17 --add-opens/--add-exports."""
    conf: dict[str, Any] = yaml.safe_load((flink_home / "conf" / "config.yaml").read_text()) or {}
    opts = conf.get("env.java.opts.all") or (
        ((conf.get("env") or {}).get("java") or {}).get("opts") or {}
    ).get("all", "")
    return ["-XX:+IgnoreUnrecognizedVMOptions", *str(opts).split()]


@dataclass
class FlinkCluster:
    flink_home: Path
    work: Path
    slots: int = 4
    rest_port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        while self.rpc_port == self.rest_port:
            self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def savepoint_dir(self) -> Path:
        return self.work / "savepoints"

    @property
    def checkpoint_dir(self) -> Path:
        return self.work / "checkpoints"

    def write_config(self) -> Path:
        conf = self.work / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        for name in ("log4j.properties", "log4j-console.properties"):
            shutil.copy(self.flink_home / "conf" / name, conf / name)
        settings: dict[str, Any] = {
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": self.rpc_port,
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": self.slots,
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": self.rest_port,
            "parallelism.default": 1,
            "state.backend.type": "hashmap",
            "execution.checkpointing.dir": f"file://{self.checkpoint_dir}",
            "execution.checkpointing.savepoint-dir": f"file://{self.savepoint_dir}",
            "execution.checkpointing.interval": "30s",
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "io.tmp.dirs": str(self.work / "tmp"),
            "web.tmpdir": str(self.work / "web"),
            "web.upload.dir": str(self.work / "web" / "upload"),
            "web.refresh-interval": 500,
            "web.submit.enable": True,
            "web.cancel.enable": True,
            "cluster.registration.error-delay": "500 ms",
            "cluster.registration.refused-registration-delay": "1 s",
        }
        (conf / "config.yaml").write_text(yaml.safe_dump(settings))
        return conf

    def _command(
        self, entrypoint: str, role: str, memory: dict[str, int], heap: int, extra: list[str]
    ) -> list[str]:
        lib = sorted((self.flink_home / "lib").glob("*.jar"))
        classpath = [str(p) for p in lib if not p.name.startswith("flink-dist")]
        classpath += [str(p) for p in lib if p.name.startswith("flink-dist")]
        conf = self.work / "conf"
        return [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            *extra,
            f"-XX:MaxMetaspaceSize={160 * MiB}",
            *FAST_JVM,
            *_java_opts(self.flink_home),
            f"-Dlog.file={self.work / 'log' / role}.log",
            f"-Dlog4j.configurationFile=file:{conf / 'log4j.properties'}",
            f"-Dflinkrest.work={self.work}",  # marks our JVMs: leftover_processes() finds them by it
            "-classpath",
            ":".join(classpath),
            entrypoint,
            "--configDir",
            str(conf),
            *(arg for key, value in memory.items() for arg in ("-D", f"{key}={value}b")),
        ]

    def start(self, timeout: float = 60) -> None:
        for sub in ("log", "tmp", "web/upload"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        self.write_config()
        jm = self._command(
            "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
            "jobmanager",
            JM_MEMORY,
            JM_MEMORY["jobmanager.memory.heap.size"],
            [],
        )
        tm_heap = (
            TM_MEMORY["taskmanager.memory.framework.heap.size"]
            + TM_MEMORY["taskmanager.memory.task.heap.size"]
        )
        direct = sum(
            TM_MEMORY[k]
            for k in (
                "taskmanager.memory.framework.off-heap.size",
                "taskmanager.memory.task.off-heap.size",
                "taskmanager.memory.network.max",
            )
        )
        tm = self._command(
            "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
            "taskmanager",
            TM_MEMORY,
            tm_heap,
            [f"-XX:MaxDirectMemorySize={direct}"],
        )
        tm += ["-D", "taskmanager.cpu.cores=2.0", "-D", "external-resources=none"]
        for role, command in (("jobmanager", jm), ("taskmanager", tm)):
            with (self.work / "log" / f"{role}.out").open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        command,
                        cwd=self.work,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"a Flink JVM exited with {proc.returncode}; see {self.work / 'log'}")
            try:
                if self.get("/overview").get("taskmanagers", 0) >= 1:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"no TaskManager registered within {timeout} s; see {self.work / 'log'}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=2) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        for proc in self.processes:
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait(10)

    def leftover_processes(self) -> list[int]:
        """Live processes whose command line mentions this cluster's work directory."""
        marker = f"-Dflinkrest.work={self.work}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "cmdline").read_bytes().split(b"\0"):
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


__all__ = ["JOB_MAIN_CLASS", "FlinkCluster", "build_job_jar", "find_flink_home", "free_port"]
