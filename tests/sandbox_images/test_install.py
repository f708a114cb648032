"""The installer: the real distributions under .sandbox/images, plus its pieces on small inputs."""

from __future__ import annotations

import os
import time
import zipfile
from importlib import resources
from pathlib import Path

import pytest
import yaml

from flinkop.sandbox.images import DEFAULT_VERSIONS, InstallError, Manifest, install, java
from flinkop.sandbox.images.__main__ import main
from flinkop.sandbox.images.image_conf import prepare_image_conf
from flinkop.sandbox.images.manifest import DISTRIBUTION_STAMP, MANIFEST_NAME, read_json, write_json
from flinkop.sandbox.jobs import EXAMPLE_JARS

from .conftest import IMAGES_ROOT


def test_both_default_versions_are_installed(installed: Manifest) -> None:
    versions = {d.version for d in installed.distributions}
    assert versions >= set(DEFAULT_VERSIONS)
    for dist in installed.distributions:
        home = IMAGES_ROOT / dist.home
        assert (home / "lib" / f"flink-dist-{dist.version}.jar").is_file()
        assert dist.scala == "2.12"


def test_second_install_is_fast_and_changes_nothing(installed: Manifest) -> None:
    manifest_mtime = (IMAGES_ROOT / MANIFEST_NAME).stat().st_mtime_ns
    lines: list[str] = []
    started = time.monotonic()
    again = install(IMAGES_ROOT, DEFAULT_VERSIONS, log=lines.append)
    assert time.monotonic() - started < 2
    assert again == installed
    assert len(lines) == 1 and lines[0].startswith("sandbox images ready in")
    assert (IMAGES_ROOT / MANIFEST_NAME).stat().st_mtime_ns == manifest_mtime


def test_changed_job_sources_only_rebuild_the_jars(installed: Manifest) -> None:
    stamp_path = IMAGES_ROOT / "flink-2.3.0" / DISTRIBUTION_STAMP
    stamp = read_json(stamp_path)
    assert stamp is not None
    write_json(stamp_path, {**stamp, "jobs_digest": "stale"})
    lines: list[str] = []
    install(IMAGES_ROOT, ["2.3.0"], log=lines.append)
    assert any("compiling the example jobs" in line for line in lines)
    assert not any("pip install" in line for line in lines)
    assert read_json(stamp_path) == stamp


def test_example_jars_name_their_main_class(installed: Manifest) -> None:
    for dist in installed.distributions:
        home = IMAGES_ROOT / dist.home
        assert set(dist.examples) == {jar.file_name for jar in EXAMPLE_JARS}
        for jar in EXAMPLE_JARS:
            path = home / "examples" / "streaming" / jar.file_name
            assert dist.examples[jar.file_name] == f"examples/streaming/{jar.file_name}"
            with zipfile.ZipFile(path) as archive:
                manifest = archive.read("META-INF/MANIFEST.MF").decode()
                assert f"Main-Class: {jar.main_class}\r\n" in manifest
                assert jar.main_class.replace(".", "/") + ".class" in archive.namelist()


def test_distribution_is_prepared_like_the_image(installed: Manifest) -> None:
    for dist in installed.distributions:
        home = IMAGES_ROOT / dist.home
        for script in ("flink", "jobmanager.sh", "taskmanager.sh", "kubernetes-taskmanager.sh", "config.sh"):
            assert os.access(home / "bin" / script, os.X_OK), script
        conf = yaml.safe_load((home / "conf" / "config.yaml").read_text())
        assert conf["rest"]["address"] == "0.0.0.0"
        assert conf["jobmanager"]["bind-host"] == "0.0.0.0"
        assert conf["taskmanager"]["bind-host"] == "0.0.0.0"
        assert "host" not in conf["taskmanager"]
        assert "--add-opens=java.base/java.util=ALL-UNNAMED" in conf["env"]["java"]["opts"]["all"]


def test_entrypoint_is_installed_executable(installed: Manifest) -> None:
    installed_shim = IMAGES_ROOT / installed.entrypoint
    packaged = resources.files("flinkop.sandbox.images").joinpath("docker-entrypoint.sh").read_bytes()
    assert installed_shim.read_bytes() == packaged
    assert os.access(installed_shim, os.X_OK)


def test_versions_must_be_exact(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="must be exact"):
        install(tmp_path, ["2.3"])
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_missing_java_without_root_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(InstallError, match="openjdk-17-jdk-headless"):
        java.ensure_java(print)


def test_image_conf_handles_nested_and_flat_keys(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text(
        "rest:\n  address: localhost\n  port: 8081\n"
        "rest.bind-address: localhost\n"
        "jobmanager:\n  bind-host: 10.0.0.1\n"
        "taskmanager.bind-host: localhost\n"
        "taskmanager:\n  host: localhost\n  numberOfTaskSlots: 1\n"
    )
    prepare_image_conf(tmp_path)
    assert yaml.safe_load((conf / "config.yaml").read_text()) == {
        "rest": {"address": "0.0.0.0", "port": 8081},
        "rest.bind-address": "0.0.0.0",
        "jobmanager": {"bind-host": "10.0.0.1"},
        "taskmanager.bind-host": "0.0.0.0",
        "taskmanager": {"numberOfTaskSlots": 1},
    }


def test_cli_list_and_resolve(installed: Manifest, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--dir", str(IMAGES_ROOT)]) == 0
    listing = capsys.readouterr().out
    assert "flink 2.3.0 (scala 2.12)" in listing
    assert "local:///opt/flink/examples/streaming/StateMachineExample.jar" in listing
    assert main(["resolve", "apache/flink:1.20.5-scala_2.12-java17", "--dir", str(IMAGES_ROOT)]) == 0
    assert '"flinkVersion": "1.20.5"' in capsys.readouterr().out
    assert main(["resolve", "flink:1.18", "--dir", str(IMAGES_ROOT)]) == 1
    assert "ErrImagePull: flink:1.18: flink 1.18 is not installed" in capsys.readouterr().err
