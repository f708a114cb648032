"""The JDK the distributions run on and the example jobs are compiled with (the machine's, not a download)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import InstallError

APT_PACKAGE = "openjdk-17-jdk-headless"


@dataclass(frozen=True)
class JavaToolchain:
    java: Path
    javac: Path
    home: Path  # JAVA_HOME: the directory above bin/


def find_java() -> JavaToolchain | None:
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        return None
    # /usr/bin/javac is a chain of alternatives symlinks; the real one sits in <JAVA_HOME>/bin.
    real_javac = Path(javac).resolve()
    return JavaToolchain(java=Path(java), javac=Path(javac), home=real_javac.parent.parent)


def ensure_java(log: Callable[[str], None]) -> JavaToolchain:
    """The machine's JDK; as root, installs Java 17 with apt when `java` or `javac` is missing."""
    found = find_java()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise InstallError(
            f"java and javac (JDK 17) are required but not on PATH; install them, e.g. "
            f"`sudo apt-get install -y {APT_PACKAGE}`, or run this installer as root"
        )
    log(f"java: not found, installing {APT_PACKAGE} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", APT_PACKAGE],
    ):
        result = subprocess.run(command, env=env, check=False)
        if result.returncode != 0:
            raise InstallError(f"`{' '.join(command)}` failed with exit code {result.returncode}")
    found = find_java()
    if found is None:
        raise InstallError(f"{APT_PACKAGE} was installed but java/javac are still not on PATH")
    return found
