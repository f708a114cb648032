"""A real Flink session cluster with the tests' job running in it, for the suites that need a live job
(savepoint manager, snapshot controller): start, submit, wait until every task runs, stop."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flinkop.flink.rest import FlinkRestClient
from tests.flink_rest.flink_cluster import JOB_MAIN_CLASS, FlinkCluster, build_job_jar, find_flink_home


@dataclass(frozen=True)
class RunningJob:
    cluster: FlinkCluster
    job_id: str

    @property
    def url(self) -> str:
        return self.cluster.url


def installed_flink_home(version: str = "2.3.0") -> Path:
    # Missing Java or Flink is a broken set-up (`make setup` installs both): fail, never skip.
    assert shutil.which("java") and shutil.which("javac"), "no JDK (java and javac): run make setup"
    home = find_flink_home(version)
    assert home is not None, f"Flink {version} is not installed: run make setup"
    return home


async def submit_test_job(cluster: FlinkCluster, jar: Path, *, rate: int, timeout: float = 60.0) -> str:
    """Run the test job on ``cluster``; its id once every task runs."""
    async with FlinkRestClient(cluster.url, submit_timeout=120) as rest:
        jar_id = await rest.upload_jar(jar)
        job_id = await rest.run_jar(jar_id, entry_class=JOB_MAIN_CLASS, program_args=["--rate", str(rate)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = next((j for j in await rest.jobs_overview() if j.jid == job_id), None)
            if job is not None and job.all_tasks_running:
                return job_id
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the test job did not run within {timeout:.0f} s")


@contextmanager
def running_test_job(cluster: FlinkCluster, *, rate: int) -> Iterator[RunningJob]:
    """Start ``cluster`` with the test job; stop it afterwards and check that no JVM is left."""
    try:
        cluster.start()
        jar = build_job_jar(cluster.flink_home, cluster.work / "job")
        yield RunningJob(cluster, asyncio.run(submit_test_job(cluster, jar, rate=rate)))
    finally:
        cluster.stop()
        assert cluster.leftover_processes() == [], f"JVMs of {cluster.work} still running"


__all__ = ["RunningJob", "installed_flink_home", "running_test_job", "submit_test_job"]
