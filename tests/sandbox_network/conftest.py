"""Pod network fixtures. These tests need root and iproute2; when the machine cannot build a pod
network they fail with PodNetwork.check_available()'s explanation (they are never skipped)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import pytest

from flinkop.sandbox.network import PodNetwork
from tests.sandbox_network.support import free_cidr

_bridges = count()


@pytest.fixture
def bridge_name() -> str:
    return f"fkpt{os.getpid() % 100000}x{next(_bridges)}"[:15]


@pytest.fixture
async def network(tmp_path: Path, bridge_name: str) -> AsyncIterator[PodNetwork]:
    PodNetwork.check_available()  # raises a RuntimeError saying what is missing: the test errors
    net = PodNetwork(bridge=bridge_name, cidr=await free_cidr(), state_dir=tmp_path / "network")
    await net.start()
    try:
        yield net
    finally:
        await net.stop()
