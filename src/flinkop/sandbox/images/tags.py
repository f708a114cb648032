"""What the tags of the `flink` and `python` images ask for."""

from __future__ import annotations

import re
from dataclasses import dataclass

Version = tuple[int, ...]

_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}$")
_SCALA = re.compile(r"^scala_(\d+\.\d+)$")
_JAVA = re.compile(r"^java(\d+)$")
_PYTHON_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}$")


class UnsupportedTag(ValueError):
    """The tag names something the sandbox does not model; the message says what."""


@dataclass(frozen=True)
class FlinkTag:
    """`2.3`, `2.3.0-scala_2.12-java17`, `java17`, `latest`...; `version` is None for "the newest".

    Any `javaN` is accepted: every sandbox image runs on the machine's JDK, whatever the tag asks for.
    """

    version: Version | None
    scala: str | None
    java: int | None


def parse_version(text: str) -> Version:
    return tuple(int(part) for part in text.split("."))


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def parse_flink_tag(tag: str | None) -> FlinkTag:
    if tag is None or tag == "latest":
        return FlinkTag(version=None, scala=None, java=None)
    parts = tag.split("-")
    version = None
    if _VERSION.match(parts[0]):
        version = parse_version(parts.pop(0))
    scala: str | None = None
    java: int | None = None
    for part in parts:
        if match := _SCALA.match(part):
            scala = match.group(1)
        elif match := _JAVA.match(part):
            java = int(match.group(1))
        else:
            raise UnsupportedTag(f"unknown flink tag qualifier {part!r} in {tag!r}")
    return FlinkTag(version=version, scala=scala, java=java)


def parse_python_tag(tag: str | None) -> Version | None:
    """The Python version a `python` image tag asks for (`3.11-slim` -> (3, 11)); None for any."""
    if tag is None:
        return None
    head = tag.split("-", 1)[0]
    if _PYTHON_VERSION.match(head):
        return parse_version(head)
    # Variant-only tags such as "slim", "alpine" or "latest".
    return None


def matches(version: Version, wanted: Version) -> bool:
    """`wanted` is a prefix of `version`: 2.3 matches 2.3.0, 2.3.0 matches only itself."""
    return version[: len(wanted)] == wanted
