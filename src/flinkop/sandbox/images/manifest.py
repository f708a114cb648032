"""The record `install` leaves under the images root and the registry reads: what is installed where.

Layout of the root (paths in the manifest are relative to it, so the directory can move):

    manifest.json                 this record
    docker-entrypoint.sh          the entrypoint shim shared by every flink image
    flink-<version>/installed.json  the same record for one distribution (the manifest is rebuilt from these)
    flink-<version>/site/pyflink  the distribution: FLINK_HOME, mounted at /opt/flink
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
DISTRIBUTION_STAMP = "installed.json"
FORMAT = 1


@dataclass(frozen=True)
class FlinkDistribution:
    version: str
    home: str  # FLINK_HOME, relative to the root
    scala: str  # Scala binary version of the build, e.g. "2.12"
    examples: dict[str, str] = field(default_factory=dict)  # jar file name -> path relative to home
    jobs_digest: str = ""  # what the example jars were built from; a change means rebuild

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "home": self.home,
            "scala": self.scala,
            "examples": dict(self.examples),
            "jobs_digest": self.jobs_digest,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlinkDistribution:
        return cls(
            version=str(data["version"]),
            home=str(data["home"]),
            scala=str(data["scala"]),
            examples={str(k): str(v) for k, v in dict(data.get("examples", {})).items()},
            jobs_digest=str(data.get("jobs_digest", "")),
        )


@dataclass(frozen=True)
class Manifest:
    entrypoint: str  # relative to the root
    java_home: str | None  # the JDK the distributions run on; None when `java` is simply on PATH
    distributions: tuple[FlinkDistribution, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "entrypoint": self.entrypoint,
            "java_home": self.java_home,
            "flink": [dist.to_json() for dist in self.distributions],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported manifest format {data.get('format')!r}")
        java_home = data.get("java_home")
        return cls(
            entrypoint=str(data["entrypoint"]),
            java_home=str(java_home) if java_home else None,
            distributions=tuple(FlinkDistribution.from_json(d) for d in data.get("flink", [])),
        )


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable (e.g. a half-written install)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader sees the old or the new file, never a partial one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def load_manifest(root: Path) -> Manifest | None:
    data = read_json(root / MANIFEST_NAME)
    if data is None:
        return None
    try:
        return Manifest.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None
