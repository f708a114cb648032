"""The end of pods: graceful deletion (SIGTERM to the process group, the grace period, SIGKILL, then the
kubelet deletes the object), and a kubelet that stops leaves no process, sandbox or mount point behind."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from flinkop.sandbox.kubelet.kubelet import Kubelet
from tests.sandbox_kubelet.conftest import (
    CONFIGMAPS,
    PODS,
    Cluster,
    container_status,
    processes_matching,
    python_container,
    running_and_ready,
)

RECORD_SIGTERM = """
import signal, sys, time
def stop(signum, frame):
    open('/record/signal', 'w').write('SIGTERM')
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print('waiting', flush=True)
time.sleep(600)
"""


async def test_graceful_deletion_sends_sigterm_then_removes_the_pod(cluster: Cluster) -> None:
    record = cluster.tmp / "record"
    record.mkdir()

    def hook(name: str) -> dict[str, Any]:
        return {"exec": {"command": ["python3", "-c", f"open('/record/{name}', 'w').write('{name}')"]}}

    container = python_container(
        "main",
        RECORD_SIGTERM,
        volumeMounts=[{"name": "record", "mountPath": "/record"}],
        lifecycle={"postStart": hook("postStart"), "preStop": hook("preStop")},
    )
    volumes = [{"name": "record", "hostPath": {"path": str(record), "type": "Directory"}}]
    pod = await cluster.create_pod("graceful", [container], volumes=volumes, terminationGracePeriodSeconds=30)
    await cluster.wait_pod("graceful", running_and_ready, what="Running+Ready")
    await cluster.until(lambda: _logged(cluster, "graceful", "waiting"), what="the handler installed")

    started = time.monotonic()
    deleting = await cluster.kube.delete(PODS, "graceful", "default")
    assert deleting["metadata"]["deletionTimestamp"]  # bound and running: the kubelet finishes it
    await cluster.wait_gone("graceful", timeout=10)
    assert time.monotonic() - started < 5  # it exited on SIGTERM, long before the 30s grace period
    assert (record / "signal").read_text() == "SIGTERM"
    assert (record / "postStart").exists() and (record / "preStop").exists()
    assert (record / "preStop").stat().st_mtime <= (record / "signal").stat().st_mtime  # preStop first
    assert cluster.network.sandbox(pod["metadata"]["uid"]) is None


async def _logged(cluster: Cluster, name: str, text: str, container: str = "main") -> bool:
    worker = next((w for w in cluster.kubelet.workers.values() if w.name == name), None)
    if worker is None:
        return False
    try:
        path, _ = worker.log_file(container, previous=False)
    except LookupError:
        return False
    return path.exists() and text.encode() in path.read_bytes()


IGNORE_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print('stubborn', flush=True)
time.sleep(600)  # stubborn-marker
"""


async def test_sigkill_after_the_grace_period(cluster: Cluster) -> None:
    await cluster.create_pod(
        "stubborn", [python_container("main", IGNORE_SIGTERM)], terminationGracePeriodSeconds=1
    )
    await cluster.wait_pod("stubborn", running_and_ready, what="Running+Ready")
    await cluster.until(lambda: _logged(cluster, "stubborn", "stubborn"), what="SIGTERM ignored")
    events: list[dict[str, Any]] = []

    async def watch() -> None:
        async for event in cluster.kube.watch(
            PODS, "default", field_selector="metadata.name=stubborn", resource_version="0"
        ):
            events.append(event)
            if event["type"] == "DELETED":
                return

    watcher = asyncio.ensure_future(watch())
    started = time.monotonic()
    await cluster.kube.delete(PODS, "stubborn", "default")
    await asyncio.wait_for(watcher, 10)
    assert 0.9 < time.monotonic() - started < 5
    assert not processes_matching("stubborn-marker")
    # the kubelet reports how the container ended before it deletes the object
    last = events[-1]["object"]
    terminated = container_status(last)["state"]["terminated"]
    assert terminated["exitCode"] == 137 and terminated["signal"] == 9
    assert last["status"]["phase"] == "Failed" and last["metadata"]["deletionTimestamp"]


async def test_a_pod_deleted_outright_is_killed_at_once(cluster: Cluster) -> None:
    script = IGNORE_SIGTERM.replace("stubborn-marker", "outright-marker")
    await cluster.create_pod("outright", [python_container("main", script)], terminationGracePeriodSeconds=30)
    await cluster.wait_pod("outright", running_and_ready, what="Running+Ready")
    assert processes_matching("outright-marker")
    await cluster.kube.delete(PODS, "outright", "default", grace_period=0)  # removed now: a DELETED event
    await cluster.until(lambda: _none_left("outright-marker"), timeout=5, what="processes killed")


def _running(marker: str) -> bool:
    return bool(processes_matching(marker))


async def _none_left(marker: str) -> bool:
    return not processes_matching(marker)


SPAWNER = """
import os, subprocess, sys, time
mark = lambda name: name + '-' + 'marker'  # the markers appear only in the children's command lines
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', mark('child')])
if os.fork() == 0:
    os.setsid()  # a grandchild in a session (and process group) of its own
    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', mark('escaped')])
os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', mark('parent')])
"""


async def test_stop_leaves_no_processes_sandboxes_or_mount_points(cluster: Cluster) -> None:
    mounts = [{"name": "cfg", "mountPath": "/etc/kubelet-test-mount"}]
    await cluster.kube.create(
        CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"k": "v"}}
    )
    await cluster.create_pod(
        "spawner",
        [python_container("main", SPAWNER, volumeMounts=mounts)],
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}],
    )
    await cluster.create_pod(
        "crashy", [python_container("main", "import sys; sys.exit(1)  # crashy-marker")]
    )  # in restart back-off when the kubelet stops
    await cluster.wait_pod("spawner", running_and_ready, what="Running+Ready")
    markers = ("child-marker", "parent-marker", "escaped-marker")
    await cluster.until(lambda: _all_running(markers), what="all processes started")
    mount_point = "/etc/kubelet-test-mount"
    assert _listing(mount_point) == []  # the mount point exists on the host, empty
    netns_before = await _netns()
    assert any(ns.startswith("fkp-") for ns in netns_before)

    await cluster.kubelet.stop()

    for marker in (*markers, "crashy-marker"):
        assert processes_matching(marker) == [], f"{marker} left running"
    assert cluster.network.sandboxes() == []
    assert not [ns for ns in await _netns() if ns in netns_before and ns.startswith("fkp-")]
    assert _listing(mount_point) is None
    assert not _listing(str(cluster.tmp / "kubelet" / "pods"))


def _listing(path: str) -> list[str] | None:
    """The directory's entries; None when it does not exist."""
    return os.listdir(path) if os.path.isdir(path) else None


async def _all_running(markers: tuple[str, ...]) -> bool:
    return all(processes_matching(m) for m in markers)


async def _netns() -> list[str]:
    process = await asyncio.create_subprocess_exec("ip", "netns", "list", stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    return [line.split()[0] for line in out.decode().splitlines() if line.strip()]


async def test_a_new_kubelet_keeps_finished_pods_and_runs_the_others(cluster: Cluster) -> None:
    await cluster.create_pod("done", [python_container("main", "print('once')")], restartPolicy="Never")
    await cluster.create_pod(
        "server", [python_container("main", "import time; time.sleep(600)  # server-marker")]
    )
    finished = await cluster.wait_pod("done", lambda p: p["status"].get("phase") == "Succeeded")
    await cluster.wait_pod("server", running_and_ready)
    await cluster.kubelet.stop()
    assert not processes_matching("server-marker")

    kubelet = Kubelet(cluster.kube, cluster.network, cluster.kubelet.images, cluster.kubelet.config)
    cluster.kubelet = kubelet  # the fixture stops this one
    await kubelet.start()
    await cluster.wait_pod(
        "server", lambda p: running_and_ready(p) and bool(processes_matching("server-marker"))
    )
    await asyncio.sleep(0.5)
    again = await cluster.pod("done")
    assert again is not None and again["status"] == finished["status"]  # not run again, status untouched


async def test_every_container_gets_its_grace_period(cluster: Cluster) -> None:
    quick = python_container("quick", "import time; time.sleep(600)")  # ends on SIGTERM at once
    slow = python_container("slow", IGNORE_SIGTERM.replace("stubborn-marker", "slow-marker"))
    await cluster.create_pod("pair", [quick, slow], terminationGracePeriodSeconds=2)
    await cluster.wait_pod("pair", running_and_ready, what="Running+Ready")
    await cluster.until(lambda: _logged(cluster, "pair", "stubborn", "slow"), what="SIGTERM ignored")
    started = time.monotonic()
    await cluster.kube.delete(PODS, "pair", "default")
    await cluster.wait_gone("pair", timeout=10)
    assert time.monotonic() - started > 1.8  # the slow container had its 2s before SIGKILL
    assert not processes_matching("slow-marker")
