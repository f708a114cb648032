"""The entrypoint shim against a fake distribution: bin/*.sh scripts that only print how they were called."""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from .readonly import can_mount_read_only, read_only

SHIM = str(resources.files("flinkop.sandbox.images").joinpath("docker-entrypoint.sh"))
SCRIPTS = ("jobmanager.sh", "taskmanager.sh", "standalone-job.sh", "historyserver.sh", "sql-gateway.sh")
SHOW_CONF = ["sh", "-c", 'echo "$FLINK_CONF_DIR"']


def fake_home(root: Path, version: str) -> Path:
    home = root / "flink"
    (home / "lib").mkdir(parents=True)
    (home / "lib" / f"flink-dist-{version}.jar").write_bytes(b"")
    (home / "bin").mkdir()
    for script in SCRIPTS:
        path = home / "bin" / script
        path.write_text('#!/bin/sh\necho "$(basename "$0") $*"\n')
        path.chmod(0o755)
    (home / "conf").mkdir()
    (home / "conf" / "log4j-console.properties").write_text("rootLogger.level = INFO\n")
    (home / "opt").mkdir()
    (home / "plugins").mkdir()
    return home


def run(
    home: Path, *args: str, prefix: list[str] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    tmp = home.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    full_env = {"PATH": os.environ["PATH"], "FLINK_HOME": str(home), "TMPDIR": str(tmp), **env}
    return subprocess.run(
        [*(prefix or []), "bash", SHIM, *args], env=full_env, capture_output=True, text=True, check=False
    )


def conf_dir_used(result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return fake_home(tmp_path, "2.3.0")


def test_pass_through_runs_the_command_unchanged(home: Path) -> None:
    result = run(home, "printf", "%s|", "a b", "c")
    assert (result.returncode, result.stdout, result.stderr) == (0, "a b|c|", "")
    assert conf_dir_used(run(home, *SHOW_CONF)) == home / "conf"


def test_pass_through_keeps_the_exit_code(home: Path) -> None:
    assert run(home, "sh", "-c", "exit 7").returncode == 7


def test_help(home: Path) -> None:
    for args in ([], ["help"]):
        result = run(home, *args)
        assert result.returncode == 0
        assert "jobmanager.sh start-foreground" in result.stdout
        assert "pass-through" in result.stdout


@pytest.mark.parametrize(
    ("role", "script"),
    [
        ("jobmanager", "jobmanager.sh"),
        ("taskmanager", "taskmanager.sh"),
        ("standalone-job", "standalone-job.sh"),
        ("history-server", "historyserver.sh"),
        ("sql-gateway", "sql-gateway.sh"),
    ],
)
def test_roles_start_the_flink_script_in_the_foreground(home: Path, role: str, script: str) -> None:
    result = run(home, role, "--job-classname", "a.B", "-D", "x=y z")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{script} start-foreground --job-classname a.B -D x=y z\n"


def test_flink_properties_go_into_a_private_copy_of_config_yaml(home: Path) -> None:
    original = "rest:\n  port: 8081\ntaskmanager.numberOfTaskSlots: 1\nkeep.me: yes\n"
    (home / "conf" / "config.yaml").write_text(original)
    properties = (
        "taskmanager.numberOfTaskSlots: 4\n"
        "# a comment\n"
        "\n"
        "  rest.port: 9000  \n"
        "env.java.opts.all: -Da=1 -Db=2\n"
        "not a property\n"
    )
    result = run(home, *SHOW_CONF, FLINK_PROPERTIES=properties)
    conf = conf_dir_used(result)
    assert conf.parent == home.parent / "tmp"
    assert (conf / "config.yaml").read_text() == (
        "rest:\n  port: 8081\nkeep.me: yes\n"
        "taskmanager.numberOfTaskSlots: 4\n"
        "rest.port: 9000\n"
        "env.java.opts.all: -Da=1 -Db=2\n"
    )
    assert (conf / "log4j-console.properties").exists()
    assert (home / "conf" / "config.yaml").read_text() == original
    assert "ignoring FLINK_PROPERTIES line without 'key: value': not a property" in result.stderr


def test_appends_on_a_new_line(home: Path) -> None:
    (home / "conf" / "config.yaml").write_text("a: 1")
    conf = conf_dir_used(run(home, *SHOW_CONF, FLINK_PROPERTIES="b: 2"))
    assert (conf / "config.yaml").read_text() == "a: 1\nb: 2\n"


def test_container_settings_from_env(home: Path) -> None:
    conf = conf_dir_used(
        run(home, *SHOW_CONF, JOB_MANAGER_RPC_ADDRESS="jm.default", TASK_MANAGER_NUMBER_OF_TASK_SLOTS="3")
    )
    assert (
        conf / "config.yaml"
    ).read_text() == "jobmanager.rpc.address: jm.default\ntaskmanager.numberOfTaskSlots: 3\n"


def test_flink_1_uses_the_legacy_flink_conf_yaml_when_present(tmp_path: Path) -> None:
    home = fake_home(tmp_path, "1.20.5")
    (home / "conf" / "config.yaml").write_text("rest.port: 1\n")
    (home / "conf" / "flink-conf.yaml").write_text("rest.port: 2\n")
    conf = conf_dir_used(run(home, *SHOW_CONF, FLINK_PROPERTIES="rest.port: 3"))
    assert (conf / "flink-conf.yaml").read_text() == "rest.port: 3\n"
    assert (conf / "config.yaml").read_text() == "rest.port: 1\n"


def test_flink_1_without_legacy_file_uses_config_yaml(tmp_path: Path) -> None:
    home = fake_home(tmp_path, "1.20.5")
    conf = conf_dir_used(run(home, *SHOW_CONF, FLINK_PROPERTIES="rest.port: 3"))
    assert (conf / "config.yaml").read_text() == "rest.port: 3\n"
    assert not (conf / "flink-conf.yaml").exists()


def test_flink_2_ignores_a_legacy_flink_conf_yaml(home: Path) -> None:
    (home / "conf" / "flink-conf.yaml").write_text("rest.port: 2\n")
    conf = conf_dir_used(run(home, *SHOW_CONF, FLINK_PROPERTIES="rest.port: 3"))
    assert (conf / "config.yaml").read_text() == "rest.port: 3\n"
    assert (conf / "flink-conf.yaml").read_text() == "rest.port: 2\n"


def test_configmap_style_symlinks_are_copied_as_files(home: Path, tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    (volume / "..2026_01_01").mkdir(parents=True)
    (volume / "..2026_01_01" / "config.yaml").write_text("a: 1\n")
    (volume / "..data").symlink_to("..2026_01_01")
    (volume / "config.yaml").symlink_to("..data/config.yaml")
    conf = conf_dir_used(run(home, *SHOW_CONF, FLINK_CONF_DIR=str(volume), FLINK_PROPERTIES="b: 2"))
    assert not (conf / "config.yaml").is_symlink()
    assert (conf / "config.yaml").read_text() == "a: 1\nb: 2\n"
    assert (volume / "..2026_01_01" / "config.yaml").read_text() == "a: 1\n"


def test_read_only_conf_mount(home: Path, tmp_path: Path) -> None:
    assert can_mount_read_only(), "needs root and unshare for a read-only bind mount (the sandbox needs both)"
    volume = tmp_path / "configmap"
    volume.mkdir()
    (volume / "config.yaml").write_text("a: 1\n")
    check_read_only = [
        "sh",
        "-c",
        'touch "$0/x" 2>/dev/null && echo writable; echo "$FLINK_CONF_DIR"',
        str(volume),
    ]
    result = run(
        home, *check_read_only, prefix=read_only(volume), FLINK_CONF_DIR=str(volume), FLINK_PROPERTIES="b: 2"
    )
    assert "writable" not in result.stdout  # the mount really is read-only
    conf = conf_dir_used(result)
    assert conf != volume
    assert (conf / "config.yaml").read_text() == "a: 1\nb: 2\n"
    assert not (volume / "x").exists()


def test_built_in_plugins_get_a_private_plugins_dir(home: Path) -> None:
    (home / "opt" / "flink-s3-fs-hadoop-2.3.0.jar").write_bytes(b"s3")
    (home / "opt" / "flink-azure-fs-hadoop-2.3.0.jar").write_bytes(b"az")
    (home / "plugins" / "metrics-jmx").mkdir()
    (home / "plugins" / "metrics-jmx" / "flink-metrics-jmx.jar").write_bytes(b"jmx")
    result = run(
        home,
        "sh",
        "-c",
        'echo "$FLINK_PLUGINS_DIR"',
        ENABLE_BUILT_IN_PLUGINS="flink-s3-fs-hadoop-2.3.0.jar; flink-azure-fs-hadoop-2.3.0.jar",
    )
    plugins = conf_dir_used(result)
    assert sorted(p.name for p in plugins.iterdir()) == [
        "flink-azure-fs-hadoop-2.3.0",
        "flink-s3-fs-hadoop-2.3.0",
        "metrics-jmx",
    ]
    assert (plugins / "flink-s3-fs-hadoop-2.3.0" / "flink-s3-fs-hadoop-2.3.0.jar").read_bytes() == b"s3"
    assert (plugins / "metrics-jmx" / "flink-metrics-jmx.jar").read_bytes() == b"jmx"
    assert sorted(p.name for p in (home / "plugins").iterdir()) == ["metrics-jmx"]


def test_enabling_a_missing_plugin_fails(home: Path) -> None:
    result = run(home, "true", ENABLE_BUILT_IN_PLUGINS="flink-s3-fs-presto-2.3.0.jar")
    assert result.returncode == 1
    assert "plugin flink-s3-fs-presto-2.3.0.jar is not in" in result.stderr
