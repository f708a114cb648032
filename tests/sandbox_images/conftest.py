"""Fixtures of the image tests: the images root that `make setup` fills, installed on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from flinkop.sandbox.images import DEFAULT_VERSIONS, ImageRegistry, Manifest, install

REPO = Path(__file__).resolve().parents[2]
IMAGES_ROOT = REPO / ".sandbox" / "images"


@pytest.fixture(scope="session")
def installed() -> Manifest:
    """The real distributions; a no-op taking a fraction of a second when `make setup` already ran."""
    return install(IMAGES_ROOT, DEFAULT_VERSIONS)


@pytest.fixture(scope="session")
def registry(installed: Manifest) -> ImageRegistry:
    return ImageRegistry(IMAGES_ROOT)
