"""The REST client's pure parts, without a JVM: response shapes of Flink 2.3 and 1.20 (trimmed from real
answers), the failed-operation rule, error messages and endpoint URLs."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from flinkop.flink.rest import (
    FlinkRestError,
    JobExceptions,
    OperationState,
    OperationStatus,
    RestEndpoint,
    endpoint_for,
)
from flinkop.flink.rest.models import ClusterOverview, JarRun, JobDetails, JobSummary
from flinkop.runtime.kube import Kube

TRACE = (
    "java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: "
    "An Exception occurred while triggering the checkpoint. IO-problem detected.\n"
    "\tat java.base/x.y(Z.java:1)\n"
    "Caused by: org.apache.flink.core.fs.UnsupportedFileSystemSchemeException: Could not find a file system "
    "implementation for scheme 's3'.\n\tat org.apache.flink.core.fs.FileSystem.get(FileSystem.java:2)"
)


def test_completed_with_a_failure_cause_is_failed() -> None:
    running = OperationStatus.model_validate({"status": {"id": "IN_PROGRESS"}, "operation": None})
    assert running.state == OperationState.IN_PROGRESS and not running.done
    done = OperationStatus.model_validate(
        {"status": {"id": "COMPLETED"}, "operation": {"location": "file:/sp/savepoint-1"}}
    )
    assert done.state == OperationState.COMPLETED and done.location == "file:/sp/savepoint-1"
    failed = OperationStatus.model_validate(
        {
            "status": {"id": "COMPLETED"},
            "operation": {
                "failure-cause": {"class": "java.util.concurrent.CompletionException", "stack-trace": TRACE}
            },
        }
    )
    assert failed.state == OperationState.FAILED and failed.done and failed.location is None
    assert failed.failure_cause is not None
    assert failed.failure_cause.message.startswith(
        "org.apache.flink.core.fs.UnsupportedFileSystemSchemeException"
    )
    checkpoint = OperationStatus.model_validate(
        {"status": {"id": "COMPLETED"}, "operation": {"checkpointId": 8}}
    )
    assert checkpoint.checkpoint_id == 8


def test_both_versions_parse() -> None:
    summary_2x: dict[str, Any] = {
        "jid": "ffa3",
        "name": "job",
        "jobType": "STREAMING",
        "schedulerType": "Default",
        "start-time": 1,
        "end-time": -1,
        "duration": 5,
        "state": "RUNNING",
        "last-modification": 2,
        "tasks": {"running": 4, "total": 4},
        "pending-operators": 0,
    }
    summary_1x = {
        k: v for k, v in summary_2x.items() if k not in ("jobType", "schedulerType", "pending-operators")
    }
    for raw in (summary_2x, summary_1x):
        job = JobSummary.model_validate(raw)
        assert job.all_tasks_running and not job.is_terminal and job.last_modification == 2
    assert JobSummary.model_validate(summary_2x).model_extra == {
        "schedulerType": "Default",
        "pending-operators": 0,
    }

    assert JarRun.model_validate({"jobid": "a", "applicationId": "a"}).application_id == "a"
    assert JarRun.model_validate({"jobid": "a"}).application_id is None
    details = JobDetails.model_validate(
        {
            "jid": "a",
            "state": "FAILED",
            "vertices": [{"id": "v", "name": "Source: numbers", "parallelism": 2, "status": "FAILED"}],
        }
    )
    assert details.is_terminal and details.parallelism == {"Source: numbers": 2}
    assert ClusterOverview.model_validate({"taskmanagers": 1, "slots-total": 2}).slots_total == 2


def test_exceptions_of_both_versions() -> None:
    history = {
        "entries": [
            {
                "exceptionName": "org.apache.flink.runtime.JobException",
                "stacktrace": "org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat x",
                "timestamp": 20,
                "concurrentExceptions": [
                    {
                        "exceptionName": "java.lang.IllegalStateException",
                        "stacktrace": "java.lang.Illegal…: boom",
                    }
                ],
            },
            {
                "exceptionName": "java.io.IOException",
                "stacktrace": "java.io.IOException: older",
                "timestamp": 10,
            },
        ],
        "truncated": False,
    }
    v2 = JobExceptions.model_validate({"exceptionHistory": history})
    v1 = JobExceptions.model_validate(
        {
            "root-exception": "legacy",
            "timestamp": 20,
            "all-exceptions": [],
            "truncated": False,
            "exceptionHistory": history,
        }
    )
    for exceptions in (v2, v1):
        assert exceptions.root_exception is not None
        assert exceptions.root_exception.startswith("org.apache.flink.runtime.JobException")
        assert exceptions.root_exception_timestamp == 20
        assert [c.exception_name for c in exceptions.causes] == [
            "org.apache.flink.runtime.JobException",
            "java.lang.IllegalStateException",
        ]
    legacy_only = JobExceptions.model_validate({"root-exception": "java.lang.Exception: x", "timestamp": 3})
    assert (
        legacy_only.root_exception == "java.lang.Exception: x" and legacy_only.root_exception_timestamp == 3
    )
    assert JobExceptions.model_validate({"exceptionHistory": {"entries": []}}).root_exception is None


def test_rest_error_message_is_the_innermost_cause() -> None:
    error = FlinkRestError(
        500,
        [
            "Internal server error.",
            "<Exception on server side:\njava.util.concurrent.CompletionException: x\n\tat a.b(C.java:1)\n"
            "Caused by: org.apache.flink.runtime.rest.handler.RestHandlerException: "
            "Jar file /x.jar does not exist\n"
            "\t... 43 more\n\nEnd of exception on server side>",
        ],
        method="POST",
        path="/jars/x.jar/run",
    )
    assert (
        error.message
        == "org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file /x.jar does not exist"
    )
    assert "POST /jars/x.jar/run" in str(error) and error.mentions("RestHandlerException")
    plain = FlinkRestError(404, ["org.apache.flink.runtime.rest.NotFoundException: Job 00 not found\n\tat x"])
    assert plain.message == "org.apache.flink.runtime.rest.NotFoundException: Job 00 not found"


async def test_endpoints() -> None:
    direct = RestEndpoint.direct("http://demo-rest.flink:8081/")
    assert not direct.via_proxy and direct.session is None
    assert direct.url("/jobs/overview") == "http://demo-rest.flink:8081/jobs/overview"
    assert await direct.headers() == {}

    configuration = client.Configuration(host="https://api.example:6443")
    configuration.api_key = {"BearerToken": "secret"}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    async with client.ApiClient(configuration) as api:
        kube = Kube(api)
        in_cluster = endpoint_for(kube, "flink", "demo", 8081, in_cluster=True)
        assert in_cluster.base_url == "http://demo-rest.flink:8081" and not in_cluster.via_proxy
        proxied = endpoint_for(kube, "flink", "demo", 8081, in_cluster=False)
        assert (
            proxied.base_url
            == "https://api.example:6443/api/v1/namespaces/flink/services/demo-rest:8081/proxy"
        )
        assert proxied.url("jobs/overview").endswith("/services/demo-rest:8081/proxy/jobs/overview")
        assert (await proxied.headers())["authorization"] == "Bearer secret"
        assert proxied.session is kube.session
