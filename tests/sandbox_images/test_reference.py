"""Image reference and tag parsing."""

from __future__ import annotations

import pytest

from flinkop.sandbox.images.reference import InvalidReference, parse_reference
from flinkop.sandbox.images.tags import UnsupportedTag, parse_flink_tag, parse_python_tag

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("reference", "registry", "repository", "tag", "digest"),
    [
        ("flink", "docker.io", "library/flink", None, None),
        ("flink:2.3", "docker.io", "library/flink", "2.3", None),
        ("apache/flink:2.3.0", "docker.io", "apache/flink", "2.3.0", None),
        ("docker.io/library/flink:1.20", "docker.io", "library/flink", "1.20", None),
        ("index.docker.io/apache/flink:2.3.0", "docker.io", "apache/flink", "2.3.0", None),
        (f"flink@{DIGEST}", "docker.io", "library/flink", None, DIGEST),
        (f"flink:2.3@{DIGEST}", "docker.io", "library/flink", "2.3", DIGEST),
        ("localhost:5000/team/flink:2.3", "localhost:5000", "team/flink", "2.3", None),
        (
            "ghcr.io/apache/flink-kubernetes-operator:1.13.0",
            "ghcr.io",
            "apache/flink-kubernetes-operator",
            "1.13.0",
            None,
        ),
        ("python:3.11-slim", "docker.io", "library/python", "3.11-slim", None),
    ],
)
def test_parse_reference(
    reference: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(reference)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_short_repository_drops_the_implicit_library_prefix() -> None:
    assert parse_reference("docker.io/library/flink:2.3").short_repository == "flink"
    assert parse_reference("quay.io/library/flink:2.3").short_repository == "library/flink"


@pytest.mark.parametrize(
    "reference", ["", "Flink:2.3", "flink:", "flink:bad tag", "flink@sha256:xyz", "flink//x"]
)
def test_invalid_references(reference: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(reference)


@pytest.mark.parametrize(
    ("tag", "version", "scala", "java"),
    [
        (None, None, None, None),
        ("latest", None, None, None),
        ("2.3", (2, 3), None, None),
        ("2.3.0", (2, 3, 0), None, None),
        ("2.3-java17", (2, 3), None, 17),
        ("2.3.0-scala_2.12-java17", (2, 3, 0), "2.12", 17),
        ("1.20.5-scala_2.12-java17", (1, 20, 5), "2.12", 17),
        ("scala_2.12-java11", None, "2.12", 11),
        ("java21", None, None, 21),
    ],
)
def test_parse_flink_tag(
    tag: str | None, version: tuple[int, ...] | None, scala: str | None, java: int | None
) -> None:
    parsed = parse_flink_tag(tag)
    assert (parsed.version, parsed.scala, parsed.java) == (version, scala, java)


@pytest.mark.parametrize("tag", ["2.3-SNAPSHOT", "2.3-debian", "nightly"])
def test_unknown_flink_tag_qualifiers(tag: str) -> None:
    with pytest.raises(UnsupportedTag, match="unknown flink tag qualifier"):
        parse_flink_tag(tag)


@pytest.mark.parametrize(
    ("tag", "version"),
    [(None, None), ("3.11", (3, 11)), ("3.11-slim", (3, 11)), ("3.11.7-slim-bookworm", (3, 11, 7)),
     ("3", (3,)), ("slim", None), ("latest", None)],
)  # fmt: skip
def test_parse_python_tag(tag: str | None, version: tuple[int, ...] | None) -> None:
    assert parse_python_tag(tag) == version
