"""Image reference -> what a sandbox container runs: host paths to mount, image ENV, entrypoint and cmd.

The sandbox pulls nothing. `flink`/`apache/flink` images map to the Flink distributions that `install`
recorded in the manifest under the root; `python` images map to the host's interpreter. Anything else raises
`ImageNotFound`, which the kubelet reports like an image pull failure.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .manifest import MANIFEST_NAME, FlinkDistribution, Manifest, load_manifest
from .reference import DOCKER_HUB, ImageReference, InvalidReference, parse_reference
from .tags import (
    UnsupportedTag,
    Version,
    format_version,
    matches,
    parse_flink_tag,
    parse_python_tag,
    parse_version,
)

FLINK_HOME = "/opt/flink"
ENTRYPOINT = "/docker-entrypoint.sh"
FLINK_REPOSITORIES = frozenset({"library/flink", "apache/flink"})
PYTHON_REPOSITORIES = frozenset({"library/python"})
# What a container gets when the host environment has no PATH at all (Docker's default).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageNotFound(Exception):
    """The sandbox cannot provide `image`; `reason` says why (shown in the pod status)."""

    def __init__(self, image: str, reason: str) -> None:
        super().__init__(f"{image}: {reason}")
        self.image = image
        self.reason = reason


@dataclass(frozen=True)
class Image:
    name: str
    mounts: dict[str, Path]  # container path -> host path to bind-mount there
    env: dict[str, str]  # the image's ENV; the pod's env goes on top
    entrypoint: list[str]
    cmd: list[str]
    working_dir: str
    flink_version: str | None = None  # the distribution behind a flink image


class ImageRegistry:
    """Resolves image references against what is installed under `root`.

    `host_path` is the PATH the images build on (default: this process's PATH without its virtualenv, so a
    container never picks up the operator's own packages); `python` is the interpreter behind `python:3.x`
    (default: the one this virtualenv was made from).
    """

    def __init__(self, root: Path, *, host_path: str | None = None, python: Path | None = None) -> None:
        self.root = Path(root).resolve()
        self.host_path = host_path if host_path is not None else _path_without_virtualenv()
        self.python = python if python is not None else _base_interpreter()
        self._cached: tuple[int, Manifest | None] | None = None

    def manifest(self) -> Manifest | None:
        """The manifest as installed now; re-read only when the file changed."""
        try:
            stamp = (self.root / MANIFEST_NAME).stat().st_mtime_ns
        except OSError:
            return None
        if self._cached is None or self._cached[0] != stamp:
            self._cached = (stamp, load_manifest(self.root))
        return self._cached[1]

    def flink_distributions(self) -> list[FlinkDistribution]:
        manifest = self.manifest()
        return sorted(manifest.distributions, key=_version_of) if manifest else []

    def resolve(self, image: str) -> Image:
        try:
            ref = parse_reference(image)
        except InvalidReference as exc:
            raise ImageNotFound(image, f"invalid image reference: {exc}") from None
        if ref.registry == DOCKER_HUB and ref.repository in FLINK_REPOSITORIES:
            return self._flink_image(image, ref)
        if ref.registry == DOCKER_HUB and ref.repository in PYTHON_REPOSITORIES:
            return self._python_image(image, ref)
        where = ref.short_repository if ref.registry == DOCKER_HUB else f"{ref.registry}/{ref.repository}"
        provided = "flink, apache/flink and python"
        raise ImageNotFound(image, f"repository {where} is not available in the sandbox (it has {provided})")

    def _flink_image(self, image: str, ref: ImageReference) -> Image:
        try:
            tag = parse_flink_tag(ref.tag)
        except UnsupportedTag as exc:
            raise ImageNotFound(image, str(exc)) from None
        manifest = self.manifest()
        installed = self.flink_distributions()
        if manifest is None or not installed:
            raise ImageNotFound(image, "no Flink distribution is installed in the sandbox (run `make setup`)")
        candidates = [d for d in installed if tag.version is None or matches(_version_of(d), tag.version)]
        if not candidates:
            wanted = format_version(tag.version) if tag.version else "latest"
            listing = ", ".join(d.version for d in installed)
            reason = f"flink {wanted} is not installed in the sandbox; installed: {listing}"
            raise ImageNotFound(image, reason)
        dist = candidates[-1]  # the newest patch release that matches
        if tag.scala is not None and tag.scala != dist.scala:
            raise ImageNotFound(
                image, f"flink {dist.version} is installed for Scala {dist.scala}, not Scala {tag.scala}"
            )
        return Image(
            name=image,
            mounts={FLINK_HOME: self.root / dist.home, ENTRYPOINT: self.root / manifest.entrypoint},
            env=self._flink_env(manifest),
            entrypoint=[ENTRYPOINT],
            cmd=["help"],
            working_dir=FLINK_HOME,
            flink_version=dist.version,
        )

    def _flink_env(self, manifest: Manifest) -> dict[str, str]:
        path = [f"{FLINK_HOME}/bin"]
        env = {"FLINK_HOME": FLINK_HOME, "FLINK_CONF_DIR": f"{FLINK_HOME}/conf"}
        if manifest.java_home:
            env["JAVA_HOME"] = manifest.java_home
            path.append(f"{manifest.java_home}/bin")
        env["PATH"] = _join_path([*path, self.host_path])
        return env

    def _python_image(self, image: str, ref: ImageReference) -> Image:
        wanted = parse_python_tag(ref.tag)
        host = _interpreter_version(self.python)
        # Only the major version must agree: the host interpreter stands in for any python:3.x image.
        if wanted is not None and wanted[0] != host[0]:
            reason = f"python {format_version(wanted)} is not available; the sandbox has python {host[0]}"
            raise ImageNotFound(image, reason)
        return Image(
            name=image,
            mounts={},
            env={
                "PATH": _join_path([str(self.python.parent), self.host_path]),
                "LANG": "C.UTF-8",
                "PYTHON_VERSION": format_version(host),
            },
            entrypoint=[],
            cmd=["python3"],
            working_dir="/",
        )


def _version_of(dist: FlinkDistribution) -> Version:
    return parse_version(dist.version)


def _join_path(parts: list[str]) -> str:
    seen: list[str] = []
    for part in ":".join(parts).split(":"):
        if part and part not in seen:
            seen.append(part)
    return ":".join(seen)


def _path_without_virtualenv() -> str:
    path = os.environ.get("PATH") or DEFAULT_PATH
    if sys.prefix == sys.base_prefix:
        return path
    venv_bin = str(Path(sys.prefix) / "bin")
    return ":".join(part for part in path.split(":") if part and part != venv_bin)


def _base_interpreter() -> Path:
    """The interpreter this virtualenv was made from: the host's python, without our packages."""
    bin_dir = Path(sys.base_prefix) / "bin"
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        if (bin_dir / name).exists():
            return bin_dir / name
    return Path(sys.executable)


def _interpreter_version(python: Path) -> Version:
    if python == _base_interpreter() or python == Path(sys.executable):
        return tuple(sys.version_info[:3])
    # Another interpreter was configured: its name says the version (python3.11), else assume ours.
    suffix = python.name.removeprefix("python")
    try:
        return parse_version(suffix) if suffix else tuple(sys.version_info[:3])
    except ValueError:
        return tuple(sys.version_info[:3])
