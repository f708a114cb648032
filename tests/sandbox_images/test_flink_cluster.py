"""Real Flink (2.3.0 and 1.20.5) from the sandbox images: a session cluster started through the image's
entrypoint with a read-only conf dir and FLINK_PROPERTIES, the example jobs run over REST, and their keyed
state carried across savepoints.

One cluster per version (module-scoped fixture); every JVM is stopped at the end and checked to be gone.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flinkop.sandbox.images import FLINK_HOME, ImageRegistry
from flinkop.sandbox.jobs import (
    STATE_JOB,
    STATE_MACHINE_EXAMPLE,
    TOP_SPEED_WINDOWING,
    ExampleJar,
    parse_state_lines,
)

from .flink_session import FAST_JVM, LEAN_MEMORY, FlinkSession, free_port
from .readonly import can_mount_read_only, read_only

pytestmark = pytest.mark.slow

# Each version is reached through a different spelling of its image reference.
IMAGES = {"2.3.0": "flink:2.3", "1.20.5": "apache/flink:1.20.5-scala_2.12-java17"}
# The file the distribution must read: 2.x only config.yaml; 1.x prefers a legacy flink-conf.yaml.
CONFIG_FILES = {"2.3.0": "config.yaml", "1.20.5": "flink-conf.yaml"}
MARKER = "flinkop.test.config-file"


def make_conf_dir(home: Path, conf: Path, version: str) -> None:
    """What a ConfigMap would hold: the image's config.yaml, plus a flink-conf.yaml for the 1.x cluster."""
    conf.mkdir()
    shutil.copy(home / "conf" / "log4j-console.properties", conf)
    image_config = (home / "conf" / "config.yaml").read_text()
    (conf / "config.yaml").write_text(f"{image_config}{MARKER}: config.yaml\n")
    if CONFIG_FILES[version] == "flink-conf.yaml":
        java_opts = yaml.safe_load(image_config)["env"]["java"]["opts"]["all"]
        (conf / "flink-conf.yaml").write_text(
            f"env.java.opts.all: {java_opts}\nparallelism.default: 1\n{MARKER}: flink-conf.yaml\n"
        )
    for path in conf.iterdir():
        path.chmod(0o444)
    conf.chmod(0o555)


def fingerprint(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def session_properties(work: Path, rest_port: int) -> dict[str, str]:
    """What makes the cluster local and small; FLINK_PROPERTIES carries it (values with spaces too)."""
    return {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": str(free_port()),
        "jobmanager.bind-host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": str(rest_port),
        "taskmanager.numberOfTaskSlots": "2",
        **LEAN_MEMORY,
        "env.java.opts.jobmanager": FAST_JVM,
        "env.java.opts.taskmanager": FAST_JVM,
        "io.tmp.dirs": str(work / "tmp"),
        "web.tmpdir": str(work / "web"),
        "web.upload.dir": str(work / "web"),
        "web.refresh-interval": "500",
        "metrics.fetcher.update-interval": "500",
        "cluster.registration.error-delay": "500 ms",
        "state.backend.type": "hashmap",
    }


class ReadOnlyConfSession(FlinkSession):
    """Starts each process in its own mount namespace with the conf dir read-only, as a ConfigMap volume."""

    def command(self, role: str) -> list[str]:
        prefix = read_only(self.conf_dir) if can_mount_read_only() else []
        return [*prefix, *super().command(role)]


@pytest.fixture(scope="module", params=sorted(IMAGES))
def session(
    request: pytest.FixtureRequest, registry: ImageRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FlinkSession]:
    version: str = request.param
    image = registry.resolve(IMAGES[version])
    assert image.flink_version == version
    work = tmp_path_factory.mktemp(f"flink-{version}")
    make_conf_dir(image.mounts[FLINK_HOME], work / "conf", version)
    conf_before = fingerprint(work / "conf")
    rest_port = free_port()
    cluster = ReadOnlyConfSession(image, work, work / "conf", session_properties(work, rest_port), rest_port)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        assert cluster.leftover_processes() == [], "a Flink process survived the test session"
        assert fingerprint(work / "conf") == conf_before, "the entrypoint wrote into the mounted conf dir"


def jar_path(session: FlinkSession, jar: ExampleJar) -> Path:
    """The jar as a pod sees it at local:///opt/flink/examples/streaming/<jar>, on the host."""
    return session.image.mounts[FLINK_HOME] / "examples" / "streaming" / jar.file_name


def state_lines(session: FlinkSession, since: int = 0) -> list[tuple[str, int]]:
    return parse_state_lines(session.tm_stdout.read_bytes()[since:].decode(errors="replace"))


def wait_for_keys(
    session: FlinkSession, keys: int, since: int, minimum: int = 1, timeout: float = 30
) -> None:
    """Until every key 0..keys-1 has reached `minimum` in the TaskManager's stdout after offset `since`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(range(keys)) <= {int(k) for k, count in state_lines(session, since) if count >= minimum}:
            return
        time.sleep(0.2)
    raise TimeoutError(f"not every one of {keys} keys reached {minimum}: {state_lines(session, since)[-20:]}")


def wait_for_metrics(session: FlinkSession, job: str, names: set[str], timeout: float = 20) -> bool:
    """True once the job's vertices report metrics whose names end in each of `names`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reported = {
            metric["id"].rsplit(".", 1)[-1]
            for vertex in session.get(f"/jobs/{job}")["vertices"]
            for metric in session.get(f"/jobs/{job}/vertices/{vertex['id']}/metrics")
        }
        if names <= reported:
            return True
        time.sleep(0.3)
    return False


def highest(lines: list[tuple[str, int]]) -> dict[str, int]:
    result: dict[str, int] = {}
    for key, count in lines:
        result[key] = max(result.get(key, 0), count)
    return result


def first(lines: list[tuple[str, int]]) -> dict[str, int]:
    result: dict[str, int] = {}
    for key, count in lines:
        result.setdefault(key, count)
    return result


def test_cluster_runs_the_version_and_config_file_of_the_image(session: FlinkSession) -> None:
    version = session.image.flink_version
    assert session.get("/config")["flink-version"] == version
    config = {entry["key"]: entry["value"] for entry in session.get("/jobmanager/config")}
    assert config[MARKER] == CONFIG_FILES[str(version)]
    assert config["rest.port"] == str(session.rest_port)  # from FLINK_PROPERTIES
    assert config["env.java.opts.jobmanager"] == FAST_JVM  # a value with spaces survives
    jm_output = (session.work / "jobmanager.out").read_text()
    assert f"using configuration {session.work}/tmp/flink-conf." in jm_output


def test_state_job_counts_continue_after_savepoint_cancel_and_restore(session: FlinkSession) -> None:
    keys = 6
    args = ["--keys", str(keys), "--rate", "30"]
    jar_id = session.upload_jar(jar_path(session, STATE_JOB))
    entries = [e["name"] for f in session.get("/jars")["files"] if f["id"] == jar_id for e in f["entry"]]
    assert entries == [STATE_JOB.main_class]
    start = session.tm_stdout.stat().st_size
    job = session.run_jar(jar_id, parallelism=2, programArgsList=args)  # no entryClass: the manifest's
    session.wait_job_running(job)
    wait_for_keys(session, keys, start, minimum=3)
    assert wait_for_metrics(session, job, {"flinkopStateUpdates", "flinkopLastCount"})
    seen_before_savepoint = highest(state_lines(session, start))

    savepoint = session.savepoint(job, session.work / "savepoints")
    session.cancel(job)
    seen_before_cancel = highest(state_lines(session, start))

    restart = session.tm_stdout.stat().st_size
    restored = session.run_jar(jar_id, parallelism=2, programArgsList=args, savepointPath=savepoint)
    session.wait_job_running(restored)
    wait_for_keys(session, keys, restart)
    first_after_restore = first(state_lines(session, restart))
    session.cancel(restored)

    for key in map(str, range(keys)):
        # Saved after `seen_before_savepoint`, before the cancel: the restored count continues in between.
        assert seen_before_savepoint[key] < first_after_restore[key] <= seen_before_cancel[key] + 1, key
    checkpoints = session.get(f"/jobs/{restored}/checkpoints")
    assert checkpoints["counts"]["restored"] == 1
    assert checkpoints["latest"]["restored"]["external_path"] == savepoint


@pytest.mark.parametrize("jar", [STATE_MACHINE_EXAMPLE, TOP_SPEED_WINDOWING], ids=lambda jar: jar.file_name)
def test_upstream_named_examples_resume_exactly_after_stop_with_savepoint(
    session: FlinkSession, jar: ExampleJar
) -> None:
    keys = 3
    args = ["--keys", str(keys), "--rate", "30", "--error-rate", "0.0"]  # an upstream option, ignored
    jar_id = session.upload_jar(jar_path(session, jar))
    start = session.tm_stdout.stat().st_size
    job = session.run_jar(jar_id, programArgsList=args)
    session.wait_job_running(job)
    wait_for_keys(session, keys, start, minimum=2)

    savepoint = session.stop_with_savepoint(job, session.work / "savepoints")
    session.wait_job_state(job, "FINISHED")
    saved = highest(state_lines(session, start))

    restart = session.tm_stdout.stat().st_size
    restored = session.run_jar(
        jar_id, entryClass=jar.main_class, programArgsList=args, savepointPath=savepoint
    )
    session.wait_job_running(restored)
    wait_for_keys(session, keys, restart)
    resumed = first(state_lines(session, restart))
    session.cancel(restored)

    # Stop-with-savepoint processes nothing after the savepoint, so each key resumes at exactly saved + 1.
    assert resumed == {key: count + 1 for key, count in saved.items()}


@pytest.fixture(scope="module")
def upgrade_savepoints() -> dict[str, tuple[str, dict[str, int]]]:
    """Savepoints by Flink version, with the counts they hold, handed from one cluster to the next."""
    return {}


def test_state_survives_an_upgrade_from_1_20_to_2_3(
    session: FlinkSession, upgrade_savepoints: dict[str, tuple[str, dict[str, int]]]
) -> None:
    # The clusters run in version order (1.20.5 first): the 1.20 run saves, the 2.3 run restores.
    keys = 4
    args = ["--keys", str(keys), "--rate", "30"]
    version = str(session.image.flink_version)
    jar_id = session.upload_jar(jar_path(session, STATE_JOB))
    start = session.tm_stdout.stat().st_size
    body: dict[str, object] = {"parallelism": 2, "programArgsList": args}
    old = upgrade_savepoints.get("1.20.5")
    if version == "2.3.0":
        assert old is not None, "the 1.20.5 case of this module (run first) failed to take its savepoint"
        body["savepointPath"] = old[0]
    job = session.run_jar(jar_id, **body)
    session.wait_job_running(job)
    wait_for_keys(session, keys, start)
    savepoint = session.stop_with_savepoint(job, session.work / "upgrade")
    session.wait_job_state(job, "FINISHED")
    lines = state_lines(session, start)
    upgrade_savepoints[version] = (savepoint, highest(lines))
    if old is not None and version == "2.3.0":
        assert first(lines) == {key: count + 1 for key, count in old[1].items()}
