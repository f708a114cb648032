"""``python -m flinkop.operator`` as a platform team runs it: a real child process against the sandbox API
server (with the CRDs of deploy/crds), configured by its command line, a conf dir and the environment. What
is checked is what the process prints and its exit code."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flinkop.operator.app import FLINK_DEPLOYMENTS
from flinkop.runtime import Kube, Resource, new_api_client
from flinkop.sandbox.apiserver.server import SandboxApiServer

from .process import REPO, OperatorProcess, write_conf_dir, write_kubeconfig

JSON = dict[str, Any]
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
NS = "default"
GRACE = 5.0  # kubernetes.operator.termination.timeout of the test conf dirs
FIRST_DEPLOY = "Deploying for the first time"
CONSOLE_LINE = re.compile(
    r"(?P<timestamp>\d{4}-\d\d-\d\dT[\d:.]+Z) (?P<level>[A-Z]+) +(?P<logger>\S+) - (?P<message>.*)"
)


@pytest.fixture
async def kube(apiserver: SandboxApiServer) -> AsyncIterator[Kube]:
    """A client of the sandbox API server, with the CRDs installed."""
    api_client = await new_api_client(apiserver.kubeconfig())
    kube = Kube(api_client)
    for path in sorted((REPO / "deploy" / "crds").glob("*.yml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                await kube.create(CRDS, document)
    await asyncio.sleep(0.1)
    try:
        yield kube
    finally:
        await api_client.close()


@pytest.fixture
def kubeconfig(apiserver: SandboxApiServer, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", apiserver.kubeconfig())


@pytest.fixture
async def processes() -> AsyncIterator[list[OperatorProcess]]:
    """Operators started by the test; any still running at the end are killed."""
    started: list[OperatorProcess] = []
    yield started
    for process in started:
        await process.kill()


async def start(
    processes: list[OperatorProcess], *args: str, env: dict[str, str] | None = None
) -> OperatorProcess:
    process = await OperatorProcess.start(*args, env=env)
    processes.append(process)
    return process


def flink_deployment(name: str) -> JSON:
    document: JSON = yaml.safe_load((REPO / "examples" / "basic.yaml").read_text())
    document["metadata"] = {"name": name, "namespace": NS}
    return document


async def stop(process: OperatorProcess) -> None:
    """SIGTERM: exit code 0 within the grace period, after draining."""
    code, took = await process.terminate(GRACE + 5)
    assert code == 0, process.tail()
    assert took < GRACE + 2, f"took {took:.1f} s to stop"
    assert any("stopping operator" in line for line in process.lines), process.tail()


async def test_console_lines_of_a_reconcile_carry_namespace_and_name_and_go_to_the_log_file_too(
    kube: Kube, kubeconfig: Path, tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    log_file = tmp_path / "log" / "nested" / "operator.log"  # its directory does not exist yet
    conf = write_conf_dir(tmp_path / "conf")
    operator = await start(
        processes, "--kubeconfig", str(kubeconfig), "--conf-dir", str(conf), "--log-file", str(log_file)
    )
    await operator.wait_for(lambda line: "starting operator" in line, "starting operator")
    await kube.create(FLINK_DEPLOYMENTS, flink_deployment("console-example"), NS)

    line = await operator.wait_for(lambda line: FIRST_DEPLOY in line, FIRST_DEPLOY)
    # <timestamp> <LEVEL> <logger> - [namespace/name] <message>
    parts = CONSOLE_LINE.match(line)
    assert parts is not None, line
    assert parts["level"] == "INFO" and parts["logger"] == "flinkop.reconcilers.deployment", line
    assert parts["message"] == f"[default/console-example] {FIRST_DEPLOY}", line
    reconcile_lines = [line for line in operator.lines if "[default/console-example]" in line]
    assert len(reconcile_lines) >= 2, operator.tail()
    assert not any("namespace=default" in line for line in reconcile_lines), "said once, in the prefix"
    await stop(operator)

    logged = log_file.read_text().splitlines()
    assert logged == operator.lines  # the same lines, in the same order


async def test_json_format_one_object_per_line_with_namespace_and_name(
    kube: Kube, kubeconfig: Path, tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    log_file = tmp_path / "var" / "operator.log"
    log_file.parent.mkdir()
    log_file.write_text("an earlier run\n")
    conf = write_conf_dir(tmp_path / "conf")
    operator = await start(
        processes,
        *("--kubeconfig", str(kubeconfig), "--conf-dir", str(conf), "--log-format", "json"),
        env={"FLINKOP_LOG_FILE": str(log_file)},
    )
    await operator.wait_for(lambda line: '"starting operator"' in line, "starting operator")
    await kube.create(FLINK_DEPLOYMENTS, flink_deployment("json-example"), NS)
    await operator.wait_for(lambda line: FIRST_DEPLOY in line, FIRST_DEPLOY)
    await stop(operator)

    records = [json.loads(line) for line in operator.lines]  # every line is one JSON object
    for record in records:
        assert {"timestamp", "level", "logger", "event"} <= record.keys(), record
    first = next(r for r in records if r["event"] == FIRST_DEPLOY)
    assert first["namespace"] == "default" and first["name"] == "json-example", first
    assert first["level"] == "info" and first["logger"] == "flinkop.reconcilers.deployment", first
    about_it = [r for r in records if r.get("resource") == "default/json-example"]
    assert about_it and all(r["namespace"] == "default" and r["name"] == "json-example" for r in about_it)
    assert any(r["event"] == "stopping operator" for r in records)

    assert log_file.read_text().splitlines() == ["an earlier run", *operator.lines]  # appended


async def test_context_selects_the_kubeconfig_context(
    apiserver: SandboxApiServer, kube: Kube, tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    document = apiserver.kubeconfig()
    nowhere = copy.deepcopy(document)
    nowhere["clusters"][0] = {"name": "nowhere", "cluster": {"server": "http://127.0.0.1:1"}}
    nowhere["contexts"][0] = {"name": "nowhere", "context": {"cluster": "nowhere", "user": "sandbox"}}
    document["clusters"] += nowhere["clusters"]
    document["contexts"] += nowhere["contexts"]
    document["current-context"] = "nowhere"
    kubeconfig = write_kubeconfig(tmp_path / "two-contexts", document)
    conf = write_conf_dir(tmp_path / "conf")
    await kube.create(FLINK_DEPLOYMENTS, flink_deployment("context-example"), NS)

    chosen = await start(
        processes, "--kubeconfig", str(kubeconfig), "--context", "sandbox", "--conf-dir", str(conf)
    )
    current = await start(processes, "--kubeconfig", str(kubeconfig), "--conf-dir", str(conf))
    await chosen.wait_for(lambda line: "[default/context-example]" in line, "a reconcile of context-example")
    assert not any("port=1," in line for line in chosen.lines), chosen.tail()

    # Without --context: the current context, an API server that is not there; it keeps trying...
    await current.wait_for(lambda line: "list/watch failed" in line, "list/watch failing against nowhere")
    assert not any("[default/context-example]" in line for line in current.lines), current.tail()
    # ... and SIGTERM stops it although it never finished starting.
    await stop(current)
    await stop(chosen)


async def test_sigterm_drains_and_exits_0(
    kube: Kube, kubeconfig: Path, tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    conf = write_conf_dir(tmp_path / "conf")
    in_a_pod = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    # in a pod too, but --kubeconfig names the cluster
    operator = await start(processes, "--kubeconfig", str(kubeconfig), "--conf-dir", str(conf), env=in_a_pod)
    await operator.wait_for(lambda line: "controllers running" in line, "controllers running")
    await kube.create(FLINK_DEPLOYMENTS, flink_deployment("sigterm-example"), NS)
    await operator.wait_for(lambda line: "[default/sigterm-example]" in line, "a reconcile")
    await stop(operator)
    stopping = next(i for i, line in enumerate(operator.lines) if " - stopping operator" in line)
    assert any("manager stopped" in line for line in operator.lines[stopping:]), operator.tail()
    assert not any("Traceback" in line for line in operator.lines), operator.tail()


async def test_a_bad_configuration_value_stops_the_start_naming_the_key(
    kubeconfig: Path, tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    conf = write_conf_dir(tmp_path / "conf", kubernetes__operator__reconcile__interval="banana")
    operator = await start(processes, "--kubeconfig", str(kubeconfig), "--conf-dir", str(conf))
    assert await operator.wait_exit(15) == 1
    assert len(operator.lines) == 1, operator.output  # one line, no traceback
    (line,) = operator.lines
    assert " ERROR flinkop.operator - Cannot start the operator: " in line, line
    assert "kubernetes.operator.reconcile.interval" in line and "banana" in line, line


async def test_unusable_kubeconfig_or_arguments_exit_non_zero_with_one_line(
    tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    conf = write_conf_dir(tmp_path / "conf")
    missing = tmp_path / "no-such-kubeconfig"
    operator = await start(processes, "--kubeconfig", str(missing), "--conf-dir", str(conf))
    assert await operator.wait_exit(15) == 1
    (line,) = operator.lines
    assert f"Cannot start the operator: kubeconfig {missing}: no such file" in line, line

    unknown_context = await start(
        processes,
        *("--kubeconfig", str(write_kubeconfig(tmp_path / "kc", {"apiVersion": "v1", "kind": "Config"}))),
        *("--context", "elsewhere", "--conf-dir", str(conf), "--log-format", "json"),
    )
    assert await unknown_context.wait_exit(15) == 1
    (record,) = [json.loads(line) for line in unknown_context.lines]
    assert record["level"] == "error" and "elsewhere" in record["event"], record

    in_a_pod = await start(processes, "--conf-dir", str(conf), env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"})
    assert await in_a_pod.wait_exit(15) == 1  # the service account is used: here, there is none
    assert (
        len(in_a_pod.lines) == 1
        and "Cannot start the operator: in-cluster configuration: " in in_a_pod.lines[0]
    )

    bad_level = await start(processes, "--log-level", "loud")
    assert await bad_level.wait_exit(15) == 2
    assert bad_level.lines == [
        "flinkop operator: log level: unknown level 'LOUD' (one of DEBUG, INFO, WARNING, "
        "WARN, ERROR, CRITICAL)"
    ]


async def test_the_slf4j_reporter_logs_the_metrics_every_interval(
    kube: Kube, kubeconfig: Path, tmp_path: Path, processes: list[OperatorProcess]
) -> None:
    conf = write_conf_dir(
        tmp_path / "conf",
        **{
            "kubernetes__operator__metrics__reporter__slf4j__factory__class": (
                "org.apache.flink.metrics.slf4j.Slf4jReporterFactory"
            ),
            "kubernetes__operator__metrics__reporter__slf4j__interval": "1 SECOND",
        },
    )
    await kube.create(FLINK_DEPLOYMENTS, flink_deployment("metrics-example"), NS)
    operator = await start(processes, "--kubeconfig", str(kubeconfig), "--conf-dir", str(conf))
    await operator.wait_for(lambda line: "Starting metrics report" in line, "a metrics report", timeout=10)
    report_start = max(i for i, line in enumerate(operator.lines) if "Starting metrics report" in line)
    end = await operator.wait_for(lambda line: "Finished metrics report" in line, "the end of the report")
    report = operator.lines[report_start : operator.lines.index(end) + 1]
    assert " INFO  flinkop.metrics.slf4j - " in operator.lines[report_start - 1], operator.tail()
    assert "-- Gauges " in "\n".join(report)
    assert any(".FlinkDeployment.Count: 1" in line for line in report), "\n".join(report)
    await stop(operator)
