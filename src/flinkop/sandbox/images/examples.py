"""Compiles the sandbox's example jobs (flinkop.sandbox.jobs) against one Flink distribution into jars."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

from flinkop.sandbox.jobs import EXAMPLE_JARS, EXAMPLES_DIR, JAVA_SOURCES, ExampleJar

from .errors import InstallError
from .java import JavaToolchain

# Class files for Java 11 run on every JDK Flink 1.20 and 2.x support here (2.x needs 11+).
JAVA_RELEASE = "11"
# Part of the digest: bump it when the way jars are built changes, so installed jars get rebuilt.
BUILD_FORMAT = "1"
# Jar entries get a fixed timestamp so a rebuild of the same sources gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def java_sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def jobs_digest() -> str:
    """Identifies what the jars are built from: sources, javac release, jar layout."""
    digest = hashlib.sha256(f"{BUILD_FORMAT}:{JAVA_RELEASE}".encode())
    for jar in EXAMPLE_JARS:
        digest.update(f"{jar.file_name}={jar.main_class}\n".encode())
    for source in java_sources():
        digest.update(source.relative_to(JAVA_SOURCES).as_posix().encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_examples(toolchain: JavaToolchain, flink_home: Path, work_dir: Path) -> dict[str, str]:
    """Compiles against `flink_home`'s lib jars; returns jar file name -> path relative to `flink_home`."""
    classes = work_dir / "classes"
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir(parents=True)
    command = [
        str(toolchain.javac),
        "--release", JAVA_RELEASE,
        "-nowarn",
        "-encoding", "UTF-8",
        "-cp", str(flink_home / "lib" / "*"),
        "-d", str(classes),
        *(str(source) for source in java_sources()),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InstallError(f"javac failed against {flink_home}:\n{result.stdout}{result.stderr}")
    out_dir = flink_home / EXAMPLES_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, str] = {}
    for jar in EXAMPLE_JARS:
        write_jar(out_dir / jar.file_name, classes, jar)
        built[jar.file_name] = f"{EXAMPLES_DIR}/{jar.file_name}"
    shutil.rmtree(classes, ignore_errors=True)
    return built


def write_jar(path: Path, classes: Path, jar: ExampleJar) -> None:
    """A jar of all compiled classes with `jar.main_class` in its manifest: `jar run` needs no entry class."""
    manifest = f"Manifest-Version: 1.0\r\nMain-Class: {jar.main_class}\r\nCreated-By: flinkop sandbox\r\n\r\n"
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "META-INF/MANIFEST.MF", manifest.encode())
        for file in sorted(classes.rglob("*.class")):
            _add(archive, file.relative_to(classes).as_posix(), file.read_bytes())
    tmp.replace(path)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
