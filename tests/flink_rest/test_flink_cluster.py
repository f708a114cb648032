"""The REST client against a real Flink 2.3 session cluster (and 1.20 for the shapes that differ): what
the operator does to a job over its life, directly and through the sandbox API server's service proxy."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from flinkop.flink.rest import (
    CheckpointingStatistics,
    FlinkRestClient,
    FlinkRestError,
    FlinkUnreachable,
    JobNotFound,
    JobState,
    OperationFailed,
    OperationState,
    RestEndpoint,
    TriggerNotFound,
    endpoint_for,
)
from flinkop.runtime.kube import Kube, Resource
from tests.flink_rest.flink_cluster import JOB_MAIN_CLASS, FlinkCluster, free_port

pytestmark = pytest.mark.slow
SERVICES = Resource("", "v1", "services")
ENDPOINTS = Resource("", "v1", "endpoints")


async def wait_running(rest: FlinkRestClient, job_id: str, timeout: float = 60) -> None:
    """Every task RUNNING, from /jobs/overview (fresher than /jobs/:id)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = next((j for j in await rest.jobs_overview() if j.jid == job_id), None)
        if job is not None:
            assert not job.is_terminal, f"job {job_id} ended {job.state}"
            if job.all_tasks_running:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"job {job_id} not running within {timeout} s")


async def wait_state(rest: FlinkRestClient, job_id: str, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = next((j.state for j in await rest.jobs_overview() if j.jid == job_id), None)
        if seen == state:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"job {job_id} is {seen}, not {state}, after {timeout} s")


async def checkpoint_stats(
    rest: FlinkRestClient, job_id: str, until: Callable[[CheckpointingStatistics], bool], timeout: float = 10
) -> CheckpointingStatistics:
    """/jobs/:id/checkpoints once `until` holds: the statistics are cached for `web.refresh-interval`."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await rest.checkpoints(job_id)
        if until(stats) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.1)


def on_disk(location: str) -> Path:
    """`file:/path` (Flink answers with one slash) -> the savepoint's _metadata file."""
    assert location.startswith("file:/"), location
    return Path("/" + location.removeprefix("file:").lstrip("/")) / "_metadata"


# -- cluster -----------------------------------------------------------------------------------------------
async def test_cluster_overview_and_config(rest: FlinkRestClient, flink_cluster: FlinkCluster) -> None:
    # A TaskManager is listed as soon as it registers; its slots are reported a moment later.
    for _ in range(100):
        overview = await rest.overview()
        if overview.slots_total:
            break
        await asyncio.sleep(0.1)
    assert overview.taskmanagers == 1 and overview.slots_total == 4
    assert overview.flink_version == "2.3.0"

    config = await rest.config()
    assert config.flink_version == "2.3.0"
    assert config.features.web_submit and config.features.web_cancel
    assert config.refresh_interval == 500

    (taskmanager,) = await rest.taskmanagers()
    assert taskmanager.slots_number == 4 and taskmanager.id

    jm_config = await rest.jobmanager_config()
    assert jm_config["rest.port"] == str(flink_cluster.rest_port)


# -- a job's life ------------------------------------------------------------------------------------------
async def test_run_checkpoint_savepoint_stop_and_restore(
    rest: FlinkRestClient, flink_cluster: FlinkCluster, job_jar: Path
) -> None:
    jar_id = await rest.upload_jar(job_jar)
    assert jar_id.endswith("_flinkrest-test-job.jar")
    (jar,) = [j for j in await rest.list_jars() if j.id == jar_id]
    assert [e.name for e in jar.entry] == [JOB_MAIN_CLASS]

    job_id = await rest.run_jar(
        jar_id, entry_class=JOB_MAIN_CLASS, program_args=["--rate", "20"], parallelism=2
    )
    await wait_running(rest, job_id)
    details = await rest.job_details(job_id)
    assert details.state == JobState.RUNNING and details.name == "flinkrest-test-job"
    assert details.parallelism == {"Source: numbers": 2, "counter -> Sink: print": 2}
    assert details.application_id == job_id  # 2.x: session-mode jar runs are single-job applications
    assert details.timestamps["RUNNING"] >= details.start_time > 0 and details.end_time == -1
    (summary,) = [j for j in await rest.jobs_overview() if j.jid == job_id]
    assert summary.start_time == details.start_time and summary.last_modification

    # a manual checkpoint shows as the latest completed one
    trigger = await rest.trigger_checkpoint(job_id, "FULL")
    done = await rest.wait_for_checkpoint(job_id, trigger)
    assert done.state == OperationState.COMPLETED and done.checkpoint_id is not None
    stats = await checkpoint_stats(
        rest, job_id, lambda s: s.latest.completed is not None and s.latest.completed.id == done.checkpoint_id
    )
    assert stats.latest.completed is not None and stats.latest.completed.id == done.checkpoint_id
    assert stats.latest.completed.external_path and stats.latest.completed.external_path.startswith("file:/")
    assert stats.counts.completed >= 1 and stats.counts.restored == 0
    checkpoint_config = await rest.checkpoint_config(job_id)
    assert checkpoint_config.interval == 30_000
    assert (
        checkpoint_config.externalization.enabled
        and not checkpoint_config.externalization.delete_on_cancellation
    )

    # a savepoint; a trigger id makes the trigger idempotent
    target = f"file://{flink_cluster.savepoint_dir}"
    trigger_id = uuid.uuid4().hex
    assert await rest.trigger_savepoint(job_id, target, trigger_id=trigger_id) == trigger_id
    assert await rest.trigger_savepoint(job_id, target, trigger_id=trigger_id) == trigger_id
    savepoint = await rest.wait_for_savepoint(job_id, trigger_id)
    assert savepoint.state == OperationState.COMPLETED and savepoint.location
    assert on_disk(savepoint.location).is_file()
    stats = await checkpoint_stats(
        rest,
        job_id,
        lambda s: s.latest.savepoint is not None and s.latest.savepoint.external_path == savepoint.location,
    )
    assert stats.latest.savepoint is not None and stats.latest.savepoint.external_path == savepoint.location
    assert stats.latest.savepoint.is_savepoint and stats.latest.savepoint.savepoint_format == "CANONICAL"

    # a failed savepoint is COMPLETED with a failure-cause: reported as FAILED, and the job keeps running
    failing = await rest.trigger_savepoint(job_id, "s3://no-such-plugin/savepoints", format_type="NATIVE")
    with pytest.raises(OperationFailed) as failed:
        await rest.wait_for_savepoint(job_id, failing)
    assert failed.value.cause
    status = await rest.savepoint_status(job_id, failing)
    assert status.state == OperationState.FAILED and status.failure_cause is not None
    assert (await rest.job_details(job_id)).state == JobState.RUNNING

    # stop-with-savepoint: the job ends FINISHED
    stop = await rest.stop_with_savepoint(job_id, target)
    stopped = await rest.wait_for_savepoint(job_id, stop)
    assert stopped.location and stopped.location != savepoint.location and on_disk(stopped.location).is_file()
    await wait_state(rest, job_id, JobState.FINISHED)
    stats = await checkpoint_stats(
        rest,
        job_id,
        lambda s: s.latest.savepoint is not None and s.latest.savepoint.external_path == stopped.location,
    )
    assert stats.latest.savepoint is not None and stats.latest.savepoint.checkpoint_type == "SYNC_SAVEPOINT"

    # run again from that savepoint, with a job id of our choosing
    restored_id = uuid.uuid4().hex
    assert (
        await rest.run_jar(
            jar_id,
            entry_class=JOB_MAIN_CLASS,
            savepoint_path=stopped.location,
            allow_non_restored_state=False,
            job_id=restored_id,
        )
        == restored_id
    )
    await wait_running(rest, restored_id)
    stats = await checkpoint_stats(rest, restored_id, lambda s: s.latest.restored is not None)
    assert stats.counts.restored == 1
    assert stats.latest.restored is not None and stats.latest.restored.external_path == stopped.location
    exceptions = await rest.exceptions(restored_id)
    assert exceptions.root_exception is None and exceptions.exception_history.entries == []

    # cancel (twice: cancelling a cancelled job is fine), then the jar goes away
    await rest.cancel(restored_id)
    await wait_state(rest, restored_id, JobState.CANCELED)
    await rest.cancel(restored_id)
    await rest.delete_jar(jar_id)
    assert jar_id not in {j.id for j in await rest.list_jars()}


async def test_failing_job_reports_its_exceptions(rest: FlinkRestClient, job_jar: Path) -> None:
    jar_id = await rest.upload_jar(await asyncio.to_thread(job_jar.read_bytes), "failing-job.jar")
    job_id = await rest.run_jar(
        jar_id,
        entry_class=JOB_MAIN_CLASS,
        program_args=["--fail-after", "3", "--rate", "50"],
        flink_configuration={"restart-strategy.type": "none"},
    )
    await wait_state(rest, job_id, JobState.FAILED)
    exceptions = await rest.exceptions(job_id)
    assert exceptions.root_exception is not None
    assert "Recovery is suppressed by NoRestartBackoffTimeStrategy" in exceptions.root_exception
    assert exceptions.root_exception_timestamp
    messages = [cause.message for cause in exceptions.causes]
    assert any("IllegalStateException: flinkrest: failing on purpose at count 3" in m for m in messages)
    (task_failure,) = exceptions.latest.concurrent_exceptions if exceptions.latest else []
    assert task_failure.task_name and task_failure.task_name.startswith("counter")
    details = await rest.job_details(job_id)
    assert details.state == JobState.FAILED and details.is_terminal and details.end_time > 0
    await rest.delete_jar(jar_id)


# -- errors ------------------------------------------------------------------------------------------------
async def test_unknown_ids_are_typed_errors(rest: FlinkRestClient, flink_cluster: FlinkCluster) -> None:
    unknown = uuid.uuid4().hex
    for call in (rest.job_details, rest.checkpoints, rest.exceptions, rest.cancel, rest.checkpoint_config):
        with pytest.raises(JobNotFound) as not_found:
            await call(unknown)
        assert not_found.value.status == 404 and not_found.value.job_id == unknown
    with pytest.raises(TriggerNotFound) as no_trigger:
        await rest.savepoint_status(unknown, "0" * 32)
    assert no_trigger.value.trigger_id == "0" * 32 and "triggerId" in no_trigger.value.message
    with pytest.raises(TriggerNotFound):
        await rest.checkpoint_status(unknown, "1" * 32)
    # Flink accepts a savepoint trigger for an unknown job (202) and fails the operation afterwards
    trigger = await rest.trigger_savepoint(unknown, f"file://{flink_cluster.savepoint_dir}")
    with pytest.raises(JobNotFound):
        await rest.wait_for_savepoint(unknown, trigger)


async def test_flink_errors_carry_flinks_error_list(
    rest: FlinkRestClient, flink_cluster: FlinkCluster, job_jar: Path
) -> None:
    with pytest.raises(FlinkRestError) as bad_jar:
        await rest.run_jar("no-such.jar", entry_class=JOB_MAIN_CLASS)
    assert not isinstance(bad_jar.value, JobNotFound)
    assert bad_jar.value.status == 500 and len(bad_jar.value.errors) == 2
    assert bad_jar.value.errors[0] == "Internal server error."
    assert bad_jar.value.message.endswith("no-such.jar does not exist")

    with pytest.raises(FlinkRestError) as bad_delete:
        await rest.delete_jar("no-such.jar")
    assert bad_delete.value.status == 400 and "does not exist" in bad_delete.value.message

    jar_id = await rest.upload_jar(job_jar)
    with pytest.raises(FlinkRestError) as bad_savepoint:
        await rest.run_jar(jar_id, entry_class=JOB_MAIN_CLASS, savepoint_path="file:///no/such/savepoint")
    assert bad_savepoint.value.status == 400
    assert bad_savepoint.value.mentions("FileNotFoundException")
    await rest.delete_jar(jar_id)


async def test_dead_or_silent_endpoint_is_unreachable_quickly() -> None:
    async with FlinkRestClient(f"http://127.0.0.1:{free_port()}", retries=2, retry_backoff=0.05) as dead:
        started = time.monotonic()
        with pytest.raises(FlinkUnreachable) as refused:
            await dead.overview()
        assert time.monotonic() - started < 2
        assert "ClientConnectorError" in str(refused.value)
        with pytest.raises(FlinkUnreachable):  # POSTs are not retried, but fail the same way
            await dead.trigger_savepoint("0" * 32)

    with _silent_server() as port:  # accepts connections, never answers
        async with FlinkRestClient(f"http://127.0.0.1:{port}", retries=0) as silent:
            started = time.monotonic()
            with pytest.raises(FlinkUnreachable) as timed_out:
                await silent.overview(timeout=0.3)
            assert time.monotonic() - started < 2
            assert "no answer within" in str(timed_out.value)


@contextmanager
def _silent_server() -> Iterator[int]:
    """A listening socket that never accepts: connections complete, requests are never answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# -- through the API server's service proxy ----------------------------------------------------------------
async def test_service_proxy_reaches_the_jobmanager(
    api: client.ApiClient, flink_cluster: FlinkCluster, job_jar: Path
) -> None:
    kube = Kube(api)
    service = {"metadata": {"name": "demo-rest"}, "spec": {"ports": [{"name": "rest", "port": 8081}]}}
    await kube.create(SERVICES, service, "default")
    endpoint = endpoint_for(kube, "default", "demo", 8081, in_cluster=False)
    assert endpoint.via_proxy
    assert endpoint.base_url.endswith("/api/v1/namespaces/default/services/demo-rest:8081/proxy")
    async with FlinkRestClient(endpoint, retries=0) as proxied:
        with pytest.raises(FlinkUnreachable) as no_endpoints:
            await proxied.overview()
        assert no_endpoints.value.status == 503 and "no endpoints available" in str(no_endpoints.value)

        await kube.create(
            ENDPOINTS,
            {
                "metadata": {"name": "demo-rest"},
                "subsets": [
                    {
                        "addresses": [{"ip": "127.0.0.1"}],
                        "ports": [{"name": "rest", "port": flink_cluster.rest_port}],
                    }
                ],
            },
            "default",
        )
        overview = await proxied.overview()
        assert overview.flink_version == "2.3.0" and overview.taskmanagers == 1
        assert (await proxied.config()).features.web_submit

        # multipart upload, JSON run, query parameters (cancel) and Flink's own 404s pass through the proxy
        jar_id = await proxied.upload_jar(job_jar)
        job_id = await proxied.run_jar(jar_id, entry_class=JOB_MAIN_CLASS)
        await wait_running(proxied, job_id)
        assert job_id in {j.jid for j in await proxied.jobs_overview()}
        assert (await proxied.job_details(job_id)).state == JobState.RUNNING
        with pytest.raises(JobNotFound):
            await proxied.job_details(uuid.uuid4().hex)
        await proxied.cancel(job_id)
        await wait_state(proxied, job_id, JobState.CANCELED)
        await proxied.delete_jar(jar_id)
        assert proxied._own_session is None  # the ApiClient's session, not one of its own
        assert proxied._session() is kube.session

    missing = RestEndpoint.via_service_proxy(kube, "default", "no-such-rest", 8081)
    async with FlinkRestClient(missing, retries=0) as nowhere:
        with pytest.raises(FlinkUnreachable) as no_service:
            await nowhere.jobs_overview()
        assert no_service.value.status == 404


# -- Flink 1.20 --------------------------------------------------------------------------------------------
async def test_flink_1_20_shapes(flink_cluster_1_20: FlinkCluster, job_jar_1_20: Path) -> None:
    async with FlinkRestClient(flink_cluster_1_20.url) as rest:
        assert (await rest.config()).flink_version == "1.20.5"
        jar_id = await rest.upload_jar(job_jar_1_20)
        job_id = await rest.run_jar(jar_id, entry_class=JOB_MAIN_CLASS, parallelism=2)
        await wait_running(rest, job_id)
        details = await rest.job_details(job_id)
        assert details.application_id is None and set(details.parallelism.values()) == {2}
        checkpoint = await rest.wait_for_checkpoint(job_id, await rest.trigger_checkpoint(job_id))
        assert checkpoint.checkpoint_id is not None
        exceptions = await rest.exceptions(job_id)  # 1.x: legacy root-exception fields beside the history
        assert exceptions.root_exception is None
        assert "legacy_root_exception" in exceptions.model_fields_set  # 2.x no longer sends it
        stop = await rest.stop_with_savepoint(job_id, f"file://{flink_cluster_1_20.savepoint_dir}")
        stopped = await rest.wait_for_savepoint(job_id, stop)
        assert stopped.location and on_disk(stopped.location).is_file()
        await wait_state(rest, job_id, JobState.FINISHED)
        stats = await checkpoint_stats(
            rest,
            job_id,
            lambda s: s.latest.savepoint is not None and s.latest.savepoint.external_path == stopped.location,
        )
        assert stats.latest.savepoint is not None and stats.latest.savepoint.external_path == stopped.location

        await rest.shutdown_cluster()
        jobmanager = flink_cluster_1_20.processes[0]
        await asyncio.to_thread(jobmanager.wait, 30)
        with pytest.raises(FlinkUnreachable):
            await rest.overview(timeout=1)


async def test_every_exchange_is_reported_to_the_observer_with_a_path_template(rest: FlinkRestClient) -> None:
    seen: list[tuple[str, str, int, float]] = []
    rest.observer = lambda method, path, status, seconds: seen.append((method, path, status, seconds))
    await rest.jobs_overview()
    with pytest.raises(JobNotFound):
        await rest.job_details("0" * 32)
    assert [(m, p, s) for m, p, s, _ in seen] == [("GET", "/jobs/overview", 200), ("GET", "/jobs/:id", 404)]
    assert all(seconds > 0 for *_, seconds in seen)
