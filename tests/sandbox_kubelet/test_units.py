"""The kubelet's decisions as plain functions: env expansion and resolution, service links, the pod phase,
the atomic volume writer, the CRI log format, restart back-off and host mount points."""

from __future__ import annotations

import base64
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from flinkop.sandbox.kubelet.backoff import RestartBackoff
from flinkop.sandbox.kubelet.env import (
    ConfigError,
    PodAddresses,
    container_env,
    expand,
    field_value,
    resource_value,
    service_env,
)
from flinkop.sandbox.kubelet.launch import Mount
from flinkop.sandbox.kubelet.logfile import LogReader, LogWriter, parse_timestamp, timestamp
from flinkop.sandbox.kubelet.mountpoints import MountPoints
from flinkop.sandbox.kubelet.status import ContainerRecord, PodRuntime, pod_phase, pod_status
from flinkop.sandbox.kubelet.volumes import File, VolumeError, write_atomic

JSON = dict[str, Any]
POD: JSON = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u-1",
        "labels": {"app": "x", "tier": 'a"b'},
        "annotations": {"note": "n"},
    },
    "spec": {"nodeName": "sandbox", "serviceAccountName": "runner", "containers": [{"name": "c"}]},
}


def test_expand_follows_kubernetes_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert expand("$$(A) is escaped, $$ is a dollar", env) == "$(A) is escaped, $ is a dollar"
    assert expand("$(A", env) == "$(A"
    assert expand("cost: $5 and $", env) == "cost: $5 and $"


def test_field_references() -> None:
    addresses = PodAddresses("10.0.0.2", "127.0.0.1")
    assert field_value(POD, "metadata.labels['app']", addresses) == "x"
    assert field_value(POD, 'metadata.annotations["note"]', addresses) == "n"
    assert field_value(POD, "metadata.labels", addresses) == 'app="x"\ntier="a\\"b"'
    assert field_value(POD, "spec.serviceAccountName", addresses) == "runner"
    assert field_value(POD, "status.podIP", addresses) == "10.0.0.2"
    with pytest.raises(ConfigError):
        field_value(POD, "spec.nothing", addresses)


def test_resource_references() -> None:
    container = {"resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"memory": "256Mi"}}}
    addresses = PodAddresses(allocatable={"cpu": Decimal(8), "memory": Decimal(2**33)})
    assert resource_value(container, {"resource": "limits.cpu"}, addresses) == "1"
    assert resource_value(container, {"resource": "limits.cpu", "divisor": "1m"}, addresses) == "500"
    assert resource_value(container, {"resource": "requests.memory", "divisor": "1Mi"}, addresses) == "256"
    assert resource_value({}, {"resource": "limits.cpu"}, addresses) == "8"  # node allocatable


def _lookup(objects: dict[tuple[str, str], JSON]) -> Any:
    return lambda kind, namespace, name: objects.get((kind, name)) if namespace == "ns" else None


def test_container_env_order_and_sources() -> None:
    objects = {
        ("ConfigMap", "cm"): {"data": {"k": "from-cm", "bad=key": "x"}},
        ("Secret", "s"): {"data": {"pw": base64.b64encode(b"pw!").decode()}},
    }
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}, "prefix": "S_"}],
        "env": [
            {"name": "k", "value": "override $(S_pw)"},
            {"name": "SVC", "value": "$(WEB_SERVICE_HOST)"},
            {"name": "opt", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": True}}},
        ],
    }
    env = container_env(
        POD,
        container,
        lookup=_lookup(objects),
        addresses=PodAddresses(),
        services={"WEB_SERVICE_HOST": "10.96.0.9"},
    )
    assert env["k"] == "override pw!" and env["S_pw"] == "pw!" and env["SVC"] == "10.96.0.9"
    assert "bad=key" not in env and "opt" not in env
    missing_key = {"env": [{"name": "x", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope"}}}]}
    with pytest.raises(ConfigError, match="couldn't find key nope in ConfigMap ns/cm"):
        container_env(POD, missing_key, lookup=_lookup(objects), addresses=PodAddresses(), services={})
    with pytest.raises(ConfigError, match='secret "gone" not found'):
        container_env(
            POD,
            {"envFrom": [{"secretRef": {"name": "gone"}}]},
            lookup=_lookup(objects),
            addresses=PodAddresses(),
            services={},
        )


def test_service_links() -> None:
    services = [
        {
            "metadata": {"name": "web-app", "namespace": "ns"},
            "spec": {"clusterIP": "10.96.0.5", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        },
        {
            "metadata": {"name": "headless", "namespace": "ns"},
            "spec": {"clusterIP": "None", "ports": [{"port": 1}]},
        },
        {
            "metadata": {"name": "elsewhere", "namespace": "other"},
            "spec": {"clusterIP": "10.96.0.6", "ports": [{"port": 2}]},
        },
    ]
    env = service_env(POD, services, "10.244.0.1", 6443)
    assert env["WEB_APP_SERVICE_HOST"] == "10.96.0.5" and env["WEB_APP_SERVICE_PORT_HTTP"] == "80"
    assert env["WEB_APP_PORT_80_TCP_ADDR"] == "10.96.0.5" and env["WEB_APP_PORT"] == "tcp://10.96.0.5:80"
    assert not any(k.startswith(("HEADLESS_", "ELSEWHERE_")) for k in env)
    assert env["KUBERNETES_SERVICE_HOST"] == "10.244.0.1" and env["KUBERNETES_SERVICE_PORT"] == "6443"
    no_links = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    assert set(service_env(no_links, services, "10.244.0.1", 6443)) == {
        k for k in env if k.startswith("KUBERNETES_")
    }


def _runtime(*states: JSON, init: tuple[JSON, ...] = ()) -> PodRuntime:
    def record(i: int, state: JSON, prefix: str) -> ContainerRecord:
        r = ContainerRecord(f"{prefix}{i}", "img")
        r.state = state
        return r

    return PodRuntime(
        init=[record(i, s, "i") for i, s in enumerate(init)],
        containers=[record(i, s, "c") for i, s in enumerate(states)],
    )


RUNNING: JSON = {"running": {}}
OK: JSON = {"terminated": {"exitCode": 0}}
FAILED: JSON = {"terminated": {"exitCode": 1}}
WAITING: JSON = {"waiting": {"reason": "ContainerCreating"}}


@pytest.mark.parametrize(
    ("policy", "states", "phase"),
    [
        ("Always", (RUNNING, RUNNING), "Running"),
        ("Always", (RUNNING, WAITING), "Pending"),
        ("Always", (OK, FAILED), "Running"),
        ("OnFailure", (OK, OK), "Succeeded"),
        ("OnFailure", (OK, FAILED), "Running"),
        ("Never", (OK, FAILED), "Failed"),
        ("Never", (OK, RUNNING), "Running"),
    ],
)
def test_pod_phase(policy: str, states: tuple[JSON, ...], phase: str) -> None:
    spec = {"restartPolicy": policy, "containers": [{"name": f"c{i}"} for i in range(len(states))]}
    assert pod_phase(spec, _runtime(*states)) == phase


def test_pod_phase_with_init_containers_and_termination() -> None:
    spec = {"restartPolicy": "Never", "containers": [{"name": "c0"}], "initContainers": [{"name": "i0"}]}
    assert pod_phase(spec, _runtime(WAITING, init=(RUNNING,))) == "Pending"
    assert pod_phase(spec, _runtime(WAITING, init=(FAILED,))) == "Failed"
    always = {**spec, "restartPolicy": "Always"}
    terminated = _runtime(OK, init=(OK,))
    terminated.terminal = True  # deleted: a stopped pod ends in a terminal phase
    assert pod_phase(always, terminated) == "Succeeded"


def test_status_keeps_condition_transition_times() -> None:
    pod = {**POD, "spec": {"containers": [{"name": "c0"}]}}
    runtime = _runtime(RUNNING)
    runtime.containers[0].ready = True
    first = pod_status(pod, runtime, [])
    again = pod_status(pod, runtime, first["conditions"])
    assert first == again
    assert {c["type"]: c["status"] for c in first["conditions"]}["Ready"] == "True"


def test_atomic_writer_swaps_the_data_link(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    assert write_atomic(volume, {"a": File(b"1"), "dir/b": File(b"2", 0o600)})
    assert (volume / "a").read_text() == "1" and (volume / "dir" / "b").read_text() == "2"
    assert os.readlink(volume / "a") == "..data/a" and (volume / "..data").is_symlink()
    first = os.readlink(volume / "..data")
    assert not write_atomic(volume, {"a": File(b"1"), "dir/b": File(b"2", 0o600)})  # unchanged
    assert write_atomic(volume, {"a": File(b"3")})
    assert os.readlink(volume / "..data") != first and not (volume / first).exists()
    assert (volume / "a").read_text() == "3" and not (volume / "dir").exists()
    with pytest.raises(VolumeError):
        write_atomic(volume, {"../escape": File(b"x")})


async def test_cri_log_lines_and_partials(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "0.log"
    with path.open("ab") as out:
        reader = asyncio.StreamReader()
        reader.feed_data(b"one\ntw")
        reader.feed_data(b"o\n" + b"x" * 20000 + b"\nlast")
        reader.feed_eof()
        await LogWriter(out, "stdout").copy(reader)
    lines = LogReader(path).read(final=True)
    assert [line.content for line in lines] == [b"one\n", b"two\n", b"x" * 20000 + b"\n", b"last"]
    assert all(line.stream == "stdout" for line in lines)
    stamp = timestamp()
    assert abs((parse_timestamp(stamp) - parse_timestamp(lines[0].timestamp)).total_seconds()) < 5


def test_restart_backoff_doubles_up_to_the_cap() -> None:
    now = [100.0]
    backoff = RestartBackoff(base=10, cap=40, clock=lambda: now[0])
    delays = []
    for _ in range(5):
        delay = backoff.delay(now[0])
        delays.append(delay)
        now[0] += delay
        backoff.restarted()
    assert delays == [0, 10, 20, 40, 40]
    now[0] += 1000  # ran long without crashing: back to an immediate restart
    assert backoff.delay(now[0]) == 0


def test_mount_points_are_created_and_removed_when_unused(tmp_path: Path) -> None:
    points = MountPoints(tmp_path / "state.json")
    target = tmp_path / "host" / "etc" / "app"
    inner = Mount(target=str(target / "conf"), source="/x")  # inside another mount: not on the host
    first = points.acquire([Mount(target=str(target), source="/x"), inner])
    second = points.acquire([Mount(target=str(target), source="/y")])
    assert target.is_dir() and not (target / "conf").exists()
    points.release(first)
    assert target.is_dir()  # still used by the second container
    points.release(second)
    assert not (tmp_path / "host").exists()
