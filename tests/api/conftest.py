"""Paths for the API tests; ../shared (anchor CRDs and examples, crd_compat.py) must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CRD_DIR = REPO / "deploy" / "crds"
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "anchor").is_dir() or not (SHARED / "tools" / "crd_compat.py").is_file():
        pytest.fail(
            f"{SHARED} is missing or incomplete: the API tests compare against the upstream CRDs and "
            "examples in ../shared/anchor and run ../shared/tools/crd_compat.py; check it out beside the repo"
        )
    return SHARED
