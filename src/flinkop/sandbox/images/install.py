"""The image step of `make setup`: Flink distributions from PyPI, entrypoint shim, example jobs, manifest.

Each version is `pip install --no-deps --target <root>/flink-<v>/site apache-flink==<v>
apache-flink-libraries==<v>` (FLINK_HOME is then `site/pyflink`). Every step leaves a stamp, so a second run
does nothing and takes well under a second; changed job sources only recompile the jars.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from .errors import InstallError
from .examples import build_examples, jobs_digest
from .image_conf import prepare_image_conf
from .java import JavaToolchain, ensure_java
from .manifest import (
    DISTRIBUTION_STAMP,
    MANIFEST_NAME,
    FlinkDistribution,
    Manifest,
    load_manifest,
    read_json,
    write_json,
)
from .tags import parse_version

DEFAULT_VERSIONS = ("2.3.0", "1.20.5")
PACKAGES = ("apache-flink", "apache-flink-libraries")
ENTRYPOINT_NAME = "docker-entrypoint.sh"
PIP_STAMP = "pip.json"
_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")

Log = Callable[[str], None]


def install(
    root: Path,
    versions: Sequence[str] = DEFAULT_VERSIONS,
    *,
    log: Log = print,
    python: str = sys.executable,
) -> Manifest:
    """Makes `versions` available under `root` and returns the manifest (which also lists older installs)."""
    for version in versions:
        if not _EXACT_VERSION.match(version):
            raise InstallError(f"flink version must be exact (like 2.3.0), got {version!r}")
    started = time.monotonic()
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root):
        toolchain = ensure_java(log)
        entrypoint = _install_entrypoint(root)
        digest = jobs_digest()
        for version in versions:
            _install_distribution(root, version, toolchain, digest, log, python)
        manifest = Manifest(
            entrypoint=entrypoint, java_home=str(toolchain.home), distributions=_installed_distributions(root)
        )
        if load_manifest(root) != manifest:
            write_json(root / MANIFEST_NAME, manifest.to_json())
    listing = ", ".join(f"flink {d.version}" for d in manifest.distributions)
    log(f"sandbox images ready in {root}: {listing} ({time.monotonic() - started:.1f} s)")
    return manifest


def distribution_dir(root: Path, version: str) -> Path:
    return root / f"flink-{version}"


def flink_home(root: Path, version: str) -> Path:
    return distribution_dir(root, version) / "site" / "pyflink"


def _install_distribution(
    root: Path, version: str, toolchain: JavaToolchain, digest: str, log: Log, python: str
) -> None:
    dist_dir = distribution_dir(root, version)
    home = flink_home(root, version)
    stamp = _read_stamp(dist_dir)
    pip_done = _pip_done(dist_dir, version)
    if pip_done and stamp is not None and stamp.jobs_digest == digest and _examples_present(home, stamp):
        return
    if not pip_done:
        (dist_dir / DISTRIBUTION_STAMP).unlink(missing_ok=True)
        _pip_install(dist_dir, version, log, python)
    log(f"flink {version}: compiling the example jobs against {home / 'lib'}")
    examples = build_examples(toolchain, home, dist_dir / "build")
    record = FlinkDistribution(
        version=version,
        home=home.relative_to(root).as_posix(),
        scala=_scala_version(home),
        examples=examples,
        jobs_digest=digest,
    )
    write_json(dist_dir / DISTRIBUTION_STAMP, record.to_json())


def _pip_install(dist_dir: Path, version: str, log: Log, python: str) -> None:
    specs = [f"{package}=={version}" for package in PACKAGES]
    site, partial = dist_dir / "site", dist_dir / "site.partial"
    (dist_dir / PIP_STAMP).unlink(missing_ok=True)
    shutil.rmtree(site, ignore_errors=True)
    shutil.rmtree(partial, ignore_errors=True)
    dist_dir.mkdir(parents=True, exist_ok=True)
    log(f"flink {version}: pip install --no-deps {' '.join(specs)} (about 300 MB)")
    started = time.monotonic()
    command = [
        python, "-m", "pip", "install", "-qq", "--no-deps", "--no-compile",
        "--disable-pip-version-check", "--target", str(partial), *specs,
    ]  # fmt: skip
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        with contextlib.suppress(OSError):
            dist_dir.rmdir()  # only if nothing else is in it
        raise InstallError(f"pip could not install flink {version} (exit code {result.returncode})")
    # Move into place only when complete, so an interrupted install is never taken for a finished one.
    partial.rename(site)
    home = site / "pyflink"
    if not (home / "lib" / f"flink-dist-{version}.jar").exists():
        raise InstallError(f"flink {version}: {home} has no lib/flink-dist-{version}.jar after pip install")
    _make_scripts_executable(home / "bin")
    prepare_image_conf(home)
    write_json(dist_dir / PIP_STAMP, {"packages": specs})
    log(f"flink {version}: installed in {time.monotonic() - started:.1f} s")


def _pip_done(dist_dir: Path, version: str) -> bool:
    stamp = read_json(dist_dir / PIP_STAMP)
    expected = [f"{package}=={version}" for package in PACKAGES]
    home = dist_dir / "site" / "pyflink"
    return stamp is not None and stamp.get("packages") == expected and (home / "lib").is_dir()


def _read_stamp(dist_dir: Path) -> FlinkDistribution | None:
    data = read_json(dist_dir / DISTRIBUTION_STAMP)
    try:
        return FlinkDistribution.from_json(data) if data is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def _examples_present(home: Path, stamp: FlinkDistribution) -> bool:
    return bool(stamp.examples) and all((home / path).is_file() for path in stamp.examples.values())


def _installed_distributions(root: Path) -> tuple[FlinkDistribution, ...]:
    """Every complete distribution under `root`, including versions installed by earlier runs."""
    found = []
    for stamp_path in root.glob(f"flink-*/{DISTRIBUTION_STAMP}"):
        stamp = _read_stamp(stamp_path.parent)
        if stamp is not None and (root / stamp.home / "lib").is_dir():
            found.append(stamp)
    return tuple(sorted(found, key=lambda d: parse_version(d.version)))


def _install_entrypoint(root: Path) -> str:
    """Copies the shim next to the distributions (executable, whatever the package install did to modes)."""
    content = resources.files(__package__).joinpath(ENTRYPOINT_NAME).read_bytes()
    target = root / ENTRYPOINT_NAME
    if not target.exists() or target.read_bytes() != content:
        tmp = target.with_name(f".{ENTRYPOINT_NAME}.tmp")
        tmp.write_bytes(content)
        tmp.replace(target)
    target.chmod(0o755)
    return ENTRYPOINT_NAME


def _make_scripts_executable(bin_dir: Path) -> None:
    for script in bin_dir.iterdir():
        if script.is_file() and (script.suffix == ".sh" or script.suffix == ""):
            script.chmod(script.stat().st_mode | 0o111)


def _scala_version(home: Path) -> str:
    for jar in (home / "lib").glob("flink-scala_*-*.jar"):
        return jar.name.removeprefix("flink-scala_").split("-", 1)[0]
    return "2.12"  # every PyPI build is Scala 2.12; older ones lack the flink-scala jar name


@contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """One installer at a time per root (e.g. `make setup` and a test fixture racing)."""
    with (root / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
