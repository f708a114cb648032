"""Fixtures of the savepoint manager tests: one real Flink 2.3 session cluster per module with the test job
running (checkpointing into the cluster's work dir), and FlinkDeployments on the sandbox API server."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flinkop.flink.rest import FlinkRestClient, JobState
from tests.flink_rest.flink_cluster import JOB_MAIN_CLASS, FlinkCluster, build_job_jar, find_flink_home


@dataclass(frozen=True)
class RunningJob:
    cluster: FlinkCluster
    job_id: str


async def _submit(cluster: FlinkCluster, jar: Path) -> str:
    async with FlinkRestClient(cluster.url, submit_timeout=120) as rest:
        jar_id = await rest.upload_jar(jar)
        job_id = await rest.run_jar(jar_id, entry_class=JOB_MAIN_CLASS, program_args=["--rate", "50"])
        for _ in range(600):
            jobs = {job.jid: job for job in await rest.jobs_overview()}
            job = jobs.get(job_id)
            if (
                job is not None
                and job.state == JobState.RUNNING
                and job.tasks.get("running", 0) == job.tasks.get("total", -1)
            ):
                return job_id
            await asyncio.sleep(0.1)
    raise TimeoutError("the test job did not run within 60 s")


@pytest.fixture(scope="module")
def running_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJob]:
    # Missing Java or Flink is a broken set-up (`make setup` installs both): fail, never skip.
    assert shutil.which("java") and shutil.which("javac"), "no JDK (java and javac): run make setup"
    home = find_flink_home("2.3.0")
    assert home is not None, "Flink 2.3.0 is not installed: run make setup"
    cluster = FlinkCluster(home, tmp_path_factory.mktemp("flink-savepoints"))
    try:
        cluster.start()
        jar = build_job_jar(home, cluster.work / "job")
        yield RunningJob(cluster, asyncio.run(_submit(cluster, jar)))
    finally:
        cluster.stop()
        assert cluster.leftover_processes() == [], f"JVMs of {cluster.work} still running"
