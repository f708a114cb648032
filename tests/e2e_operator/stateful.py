"""Helpers of the stateful end-to-end tests: a stateful application on a shared volume, kubectl, and the
job's own state as it prints it (``flinkop-state key=<k> count=<n>`` lines on the TaskManagers' stdout).

State continuity is read from the job's output: every key's counter after a restore must continue from
its saved value (a stateless start begins each key at 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flinkop.runtime import Kube
from flinkop.sandbox.jobs import parse_state_lines

from ..e2e_flink_native import native
from .helpers import PODS, eventually, wait_for

JSON = dict[str, Any]
STATE_JAR = "local:///opt/flink/examples/streaming/flinkop-state-job.jar"
KEYS = 4
DATA_MOUNT = "/flink-data"


def stateful_app(
    name: str,
    namespace: str,
    data_dir: Path,
    *,
    upgrade_mode: str = "savepoint",
    parallelism: int = 1,
    conf: dict[str, str] | None = None,
) -> JSON:
    """The state job (4 keys, 20 records/s) with checkpoints every 2 s, savepoints and Kubernetes HA on a
    hostPath volume ``data_dir`` mounted at ``/flink-data``."""
    flink_conf = {
        "taskmanager.numberOfTaskSlots": "2",
        "execution.checkpointing.interval": "2s",
        "execution.checkpointing.dir": f"file://{DATA_MOUNT}/{name}/checkpoints",
        "execution.checkpointing.savepoint-dir": f"file://{DATA_MOUNT}/{name}/savepoints",
        "high-availability.type": "kubernetes",
        "high-availability.storageDir": f"file://{DATA_MOUNT}/{name}/ha",
        **(conf or {}),
    }
    return {
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "image": "flink:2.3",
            "flinkVersion": "v2_3",
            "serviceAccount": "flink",
            "flinkConfiguration": flink_conf,
            "podTemplate": {
                "spec": {
                    "containers": [
                        {
                            "name": "flink-main-container",
                            "volumeMounts": [{"name": "flink-data", "mountPath": DATA_MOUNT}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "flink-data",
                            "hostPath": {"path": str(data_dir), "type": "DirectoryOrCreate"},
                        }
                    ],
                }
            },
            "jobManager": {"resource": {"memory": "1024m", "cpu": 0.5}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 0.5}},
            "job": {
                "jarURI": STATE_JAR,
                "args": ["--keys", str(KEYS), "--rate", "20"],
                "parallelism": parallelism,
                "upgradeMode": upgrade_mode,
                "state": "running",
            },
        },
    }


def host_path(location: str, data_dir: Path) -> Path:
    """A ``file:/flink-data/...`` location as seen from the host."""
    path = location.removeprefix("file:").lstrip("/")
    assert path.startswith(DATA_MOUNT.lstrip("/") + "/"), location
    return data_dir / path[len(DATA_MOUNT) :]


async def kubectl(kubeconfig: Path, *args: str, timeout: float = 30.0) -> str:
    """kubectl against the sandbox; its standard output (a failure fails the test)."""
    code, out, err = await native.kubectl(kubeconfig, *args, timeout=timeout)
    assert code == 0, f"kubectl {' '.join(args)}: {err.strip()}"
    return out


async def pods_of(kube: Kube, namespace: str, name: str, component: str) -> list[JSON]:
    answer = await kube.list(PODS, namespace, label_selector=f"app={name},component={component}")
    return [p for p in answer.get("items") or [] if not p["metadata"].get("deletionTimestamp")]


async def state_lines(kubeconfig: Path, kube: Kube, namespace: str, name: str) -> list[tuple[str, int]]:
    """Every (key, count) the cluster's running TaskManagers printed, in order per pod."""
    lines: list[tuple[str, int]] = []
    for pod in await pods_of(kube, namespace, name, "taskmanager"):
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        try:
            text = await kubectl(kubeconfig, "-n", namespace, "logs", pod["metadata"]["name"])
        except AssertionError:
            continue  # a pod going away
        lines.extend(parse_state_lines(text))
    return lines


def latest_counts(lines: list[tuple[str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, count in lines:
        counts[key] = max(count, counts.get(key, 0))
    return counts


def first_counts(lines: list[tuple[str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, count in lines:
        counts.setdefault(key, count)
    return counts


async def counts_when_every_key_counts(
    kubeconfig: Path, kube: Kube, namespace: str, name: str, *, at_least: int = 1, timeout: float = 120
) -> tuple[dict[str, int], dict[str, int]]:
    """(first, latest) counts per key of the running TaskManagers, once every key has printed at least
    ``at_least`` updates there."""

    async def probe() -> tuple[dict[str, int], dict[str, int]] | None:
        lines = await state_lines(kubeconfig, kube, namespace, name)
        first, latest = first_counts(lines), latest_counts(lines)
        if len(latest) < KEYS or any(latest[k] - first[k] + 1 < at_least for k in latest):
            return None
        return first, latest

    return await eventually(probe, timeout, f"{name}: every key counting on the TaskManagers")


async def jobmanager_log(kubeconfig: Path, kube: Kube, namespace: str, name: str) -> str:
    text = ""
    for pod in await pods_of(kube, namespace, name, "jobmanager"):
        text += await kubectl(kubeconfig, "-n", namespace, "logs", pod["metadata"]["name"])
    return text


async def wait_stable_running(kube: Kube, namespace: str, name: str, timeout: float = 180) -> JSON:
    return await wait_for(
        kube,
        namespace,
        name,
        timeout,
        "STABLE, job RUNNING",
        lifecycleState="STABLE",
        jobStatus__state="RUNNING",
    )


def assert_continued(before: dict[str, int], after_first: dict[str, int], what: str) -> None:
    """Every key's first count after the restore continues past what it had counted before."""
    assert set(after_first) == set(before), (what, before, after_first)
    for key, count in after_first.items():
        assert count > before[key], f"{what}: key {key} restarted at {count}, had counted {before[key]}"


__all__ = [
    "KEYS",
    "assert_continued",
    "counts_when_every_key_counts",
    "first_counts",
    "host_path",
    "jobmanager_log",
    "kubectl",
    "latest_counts",
    "pods_of",
    "state_lines",
    "stateful_app",
    "wait_for",
    "wait_stable_running",
]
