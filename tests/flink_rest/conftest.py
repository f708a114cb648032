"""Fixtures of the REST client tests: real Flink session clusters (JVMs on 127.0.0.1) and the test job jar.

Each cluster is module-scoped and stopped at the end of the module, which also checks that none of its
JVMs is left behind.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from flinkop.flink.rest import FlinkRestClient
from tests.flink_rest.flink_cluster import FlinkCluster, build_job_jar, find_flink_home


def _flink_home(version: str) -> Path:
    # Missing Java or Flink is a broken set-up (`make setup` installs both): fail, never skip.
    assert shutil.which("java") and shutil.which("javac"), "no JDK (java and javac): run make setup"
    home = find_flink_home(version)
    assert home is not None, f"Flink {version} is not installed: run make setup"
    return home


@pytest.fixture(scope="module")
def flink_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlinkCluster]:
    """A Flink 2.3 session cluster: one JobManager, one TaskManager with 4 slots."""
    yield from _cluster(tmp_path_factory, "2.3.0")


@pytest.fixture(scope="module")
def flink_cluster_1_20(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlinkCluster]:
    yield from _cluster(tmp_path_factory, "1.20.5")


def _cluster(tmp_path_factory: pytest.TempPathFactory, version: str) -> Iterator[FlinkCluster]:
    home = _flink_home(version)
    cluster = FlinkCluster(home, tmp_path_factory.mktemp(f"flink-{version}"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        assert cluster.leftover_processes() == [], f"JVMs of {cluster.work} still running"


@pytest.fixture(scope="module")
def job_jar(flink_cluster: FlinkCluster) -> Path:
    return build_job_jar(flink_cluster.flink_home, flink_cluster.work / "job")


@pytest.fixture(scope="module")
def job_jar_1_20(flink_cluster_1_20: FlinkCluster) -> Path:
    return build_job_jar(flink_cluster_1_20.flink_home, flink_cluster_1_20.work / "job")


@pytest.fixture
async def rest(flink_cluster: FlinkCluster) -> AsyncIterator[FlinkRestClient]:
    async with FlinkRestClient(flink_cluster.url) as client:
        yield client
