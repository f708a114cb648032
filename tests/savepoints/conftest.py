"""Fixtures of the savepoint manager tests: one real Flink 2.3 session cluster per module with the test job
running (checkpointing into the cluster's work dir), and FlinkDeployments on the sandbox API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.flink_rest.flink_cluster import FlinkCluster
from tests.flink_rest.running_job import RunningJob, installed_flink_home, running_test_job


@pytest.fixture(scope="module")
def running_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJob]:
    cluster = FlinkCluster(installed_flink_home(), tmp_path_factory.mktemp("flink-savepoints"))
    with running_test_job(cluster, rate=50) as job:
        yield job
