"""Container image references (`[registry/]repository[:tag][@digest]`), parsed the way Docker reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
# Other names of Docker Hub that show up in image references.
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


class InvalidReference(ValueError):
    """The string is not a syntactically valid image reference."""


@dataclass(frozen=True)
class ImageReference:
    registry: str  # "docker.io" when the reference names none
    repository: str  # Docker Hub official images get their implicit "library/" prefix
    tag: str | None
    digest: str | None

    @property
    def short_repository(self) -> str:
        """The repository as people write it: "flink" rather than "library/flink"."""
        return self.repository.removeprefix("library/") if self.registry == DOCKER_HUB else self.repository


def parse_reference(reference: str) -> ImageReference:
    text = reference.strip()
    if not text:
        raise InvalidReference("empty image reference")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReference(f"invalid digest {digest!r}")
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid tag {tag!r}")
    registry, repository = _split_registry(text)
    if not repository or not all(_PATH_COMPONENT.match(part) for part in repository.split("/")):
        raise InvalidReference(f"invalid repository name {repository!r}")
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    # Docker's rule: the first component is a registry host only if it looks like one.
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry = DOCKER_HUB if first in _DOCKER_HUB_ALIASES else first
        return registry, rest
    return DOCKER_HUB, name
