"""ImageRegistry against a manifest written here (no real distribution needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flinkop.sandbox.images import ENTRYPOINT, FLINK_HOME, ImageNotFound, ImageRegistry
from flinkop.sandbox.images.manifest import MANIFEST_NAME, FlinkDistribution, Manifest, write_json

VERSIONS = ("1.20.5", "2.2.1", "2.3.0", "1.20.3")
HOST_PATH = "/usr/local/bin:/usr/bin:/bin"


def make_root(root: Path, versions: tuple[str, ...] = VERSIONS, java_home: str | None = "/jdk") -> Path:
    dists = []
    for version in versions:
        home = f"flink-{version}/site/pyflink"
        (root / home / "lib").mkdir(parents=True)
        dists.append(FlinkDistribution(version=version, home=home, scala="2.12"))
    (root / "docker-entrypoint.sh").write_text("#!/bin/sh\n")
    manifest = Manifest(entrypoint="docker-entrypoint.sh", java_home=java_home, distributions=tuple(dists))
    write_json(root / MANIFEST_NAME, manifest.to_json())
    return root


@pytest.fixture
def registry(tmp_path: Path) -> ImageRegistry:
    return ImageRegistry(make_root(tmp_path), host_path=HOST_PATH, python=Path(sys.executable))


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("flink:2.3", "2.3.0"),
        ("flink:2.3.0", "2.3.0"),
        ("flink:2.3-java17", "2.3.0"),
        ("flink:2.3.0-scala_2.12-java17", "2.3.0"),
        ("apache/flink:2.3.0", "2.3.0"),
        ("apache/flink:2.3.0-scala_2.12", "2.3.0"),
        ("docker.io/library/flink:1.20", "1.20.5"),
        ("docker.io/apache/flink:1.20.3", "1.20.3"),
        ("flink:1.20.5-scala_2.12-java17", "1.20.5"),
        ("flink:2.2", "2.2.1"),
        ("flink:2", "2.3.0"),
        ("flink", "2.3.0"),
        ("flink:latest", "2.3.0"),
        ("flink:java17", "2.3.0"),
        ("flink:1.20@sha256:" + "0" * 64, "1.20.5"),
        ("flink@sha256:" + "0" * 64, "2.3.0"),
    ],
)
def test_flink_images_map_to_installed_distributions(
    registry: ImageRegistry, image: str, version: str
) -> None:
    resolved = registry.resolve(image)
    assert resolved.name == image
    assert resolved.flink_version == version
    assert resolved.mounts == {
        FLINK_HOME: registry.root / f"flink-{version}/site/pyflink",
        ENTRYPOINT: registry.root / "docker-entrypoint.sh",
    }


def test_flink_image_env_entrypoint_and_cmd(registry: ImageRegistry) -> None:
    image = registry.resolve("flink:2.3")
    assert image.env == {
        "FLINK_HOME": "/opt/flink",
        "FLINK_CONF_DIR": "/opt/flink/conf",
        "JAVA_HOME": "/jdk",
        "PATH": f"/opt/flink/bin:/jdk/bin:{HOST_PATH}",
    }
    assert image.entrypoint == ["/docker-entrypoint.sh"]
    assert image.cmd == ["help"]
    assert image.working_dir == "/opt/flink"


def test_java_on_path_needs_no_java_home(tmp_path: Path) -> None:
    registry = ImageRegistry(make_root(tmp_path, java_home=None), host_path=HOST_PATH)
    env = registry.resolve("flink:2.3").env
    assert "JAVA_HOME" not in env
    assert env["PATH"] == f"/opt/flink/bin:{HOST_PATH}"


def test_missing_version_names_what_is_installed(registry: ImageRegistry) -> None:
    with pytest.raises(ImageNotFound) as caught:
        registry.resolve("flink:1.18")
    assert caught.value.image == "flink:1.18"
    assert caught.value.reason == (
        "flink 1.18 is not installed in the sandbox; installed: 1.20.3, 1.20.5, 2.2.1, 2.3.0"
    )
    assert str(caught.value) == f"flink:1.18: {caught.value.reason}"


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("flink:2.3.1", "flink 2.3.1 is not installed"),
        ("flink:2.3-scala_2.11", "installed for Scala 2.12, not Scala 2.11"),
        ("flink:2.3-debian", "unknown flink tag qualifier"),
        (
            "myregistry.example.com/team/flink-job:1.0",
            "repository myregistry.example.com/team/flink-job is not",
        ),
        ("busybox:1.36", "repository busybox is not available in the sandbox"),
        ("apache/flink-kubernetes-operator:1.13.0", "repository apache/flink-kubernetes-operator is not"),
        ("python:2.7", "python 2.7 is not available"),
        ("Not A Reference", "invalid image reference"),
    ],
)
def test_unmappable_images(registry: ImageRegistry, image: str, reason: str) -> None:
    with pytest.raises(ImageNotFound, match=reason):
        registry.resolve(image)


def test_nothing_installed(tmp_path: Path) -> None:
    with pytest.raises(
        ImageNotFound, match=r"no Flink distribution is installed in the sandbox \(run `make setup`\)"
    ):
        ImageRegistry(tmp_path).resolve("flink:2.3")


def test_manifest_is_reread_after_an_install(tmp_path: Path) -> None:
    registry = ImageRegistry(tmp_path, host_path=HOST_PATH)
    with pytest.raises(ImageNotFound):
        registry.resolve("flink:2.3")
    make_root(tmp_path, versions=("2.3.0",))
    assert registry.resolve("flink:2.3").flink_version == "2.3.0"


@pytest.mark.parametrize(
    "image", ["python:3.11", "python:3.11-slim", "python:3", "python", "docker.io/library/python:3.11"]
)
def test_python_images_use_the_host_interpreter(tmp_path: Path, image: str) -> None:
    interpreter = Path(sys.executable)
    registry = ImageRegistry(tmp_path, host_path=HOST_PATH, python=interpreter)
    resolved = registry.resolve(image)
    assert resolved.mounts == {}
    assert resolved.cmd == ["python3"]
    assert resolved.entrypoint == []
    assert resolved.flink_version is None
    assert resolved.env["PATH"] == f"{interpreter.parent}:{HOST_PATH}"


def test_default_python_is_outside_the_virtualenv(tmp_path: Path) -> None:
    registry = ImageRegistry(tmp_path)
    assert registry.python.exists()
    assert not str(registry.python).startswith(sys.prefix + "/") or sys.prefix == sys.base_prefix
    assert str(Path(sys.prefix) / "bin") not in registry.host_path.split(":") or sys.prefix == sys.base_prefix
