"""Flink's native Kubernetes integration, unmodified, on the sandbox cluster.

Each test writes what `kubernetes-session.sh` would create (JobManager Deployment, `flink-config-<cid>`
ConfigMap, Services; see native.py) and from then on talks to Flink only through the API server's proxy:
Flink itself creates its TaskManager pods through the API (fabric8 with in-cluster config: the service
account token and the sandbox CA, HTTPS on the pod network's gateway), elects its leader through a ConfigMap
lock and deletes its Deployment on `DELETE /cluster`. JVMs are found and killed through the OS process table.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from flinkop.flink.rest import FlinkRestClient, RestEndpoint
from flinkop.runtime.client import NotFound, new_api_client
from flinkop.runtime.kube import Kube
from flinkop.sandbox.cluster import SandboxCluster
from flinkop.sandbox.images import ImageRegistry
from flinkop.sandbox.jobs import STATE_JOB, parse_state_lines
from tests.e2e_flink_native import native
from tests.e2e_flink_native.native import (
    CONFIGMAPS,
    DEPLOYMENTS,
    JSON,
    NAMESPACES,
    PODS,
    SERVICES,
    FlinkImage,
    eventually,
)

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

BRIDGE = "fknative0"  # not the default bridge: other suites may run a pod network at the same time
CIDR = "10.246.0.0/16"
KEYS = 4
JOB_ARGS = ["--keys", str(KEYS), "--rate", "20", "--job-name", "native-state-job"]
# Shorter leader election than Flink's defaults (lease and renew deadline 15 s, retry period 5 s).
HA_TIMINGS = {
    "high-availability.kubernetes.leader-election.lease-duration": "8 s",
    "high-availability.kubernetes.leader-election.renew-deadline": "6 s",
    "high-availability.kubernetes.leader-election.retry-period": "1 s",
}


@dataclass
class Sandbox:
    cluster: SandboxCluster
    kube: Kube
    images: ImageRegistry
    directory: Path

    def image(self, ref: str) -> FlinkImage:
        return native.flink_image(self.images, ref)

    def rest(self, namespace: str, cid: str) -> FlinkRestClient:
        """Flink's REST API through the API server's service proxy to `<cid>-rest:8081`."""
        endpoint = RestEndpoint.via_service_proxy(self.kube, namespace, f"{cid}-rest", native.REST_PORT)
        return FlinkRestClient(endpoint, timeout=10.0)

    def pod_rest(self, namespace: str, pod: str) -> FlinkRestClient:
        """The REST API of one JobManager pod, through the API server's pods/proxy."""
        return FlinkRestClient(
            native.via_pod_proxy(self.kube, namespace, pod, native.REST_PORT), timeout=10.0
        )

    async def state_lines(self, namespace: str, pod: str) -> list[tuple[str, int]]:
        """The job's state lines in `kubectl logs <pod>`."""
        return parse_state_lines(await native.pod_logs(self.cluster.kubeconfig, namespace, pod))

    def work_dir(self, cid: str) -> Path:
        """The Flink client's side of cluster `cid` on the host: its pod template file, and `data` behind the
        `flink-data` hostPath volume."""
        return self.directory / "clusters" / cid

    async def deploy(self, image: FlinkImage, namespace: str, cid: str, **options: Any) -> JSON:
        work_dir = self.work_dir(cid)
        return await native.deploy_session_cluster(self.kube, image, cid, namespace, work_dir, **options)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sandbox]:
    directory = tmp_path_factory.mktemp("flink-native")
    async with SandboxCluster(directory, bridge=BRIDGE, cidr=CIDR) as cluster:
        assert cluster.apiserver is not None
        api_client = await new_api_client(cluster.apiserver.kubeconfig())
        stalls: list[str] = []
        watchdog = asyncio.create_task(_watch_loop(stalls))
        try:
            kube = Kube(api_client, field_manager="e2e-flink-native")
            yield Sandbox(cluster, kube, ImageRegistry(cluster.images_root), directory)
        finally:
            watchdog.cancel()
            await api_client.close()
            if stalls:  # the API server, kubelet and proxy run in this event loop: a stall stops them all
                print(f"event loop stalls: {stalls}")


async def _watch_loop(stalls: list[str], period: float = 0.2, threshold: float = 1.0) -> None:
    while True:
        before = time.monotonic()
        await asyncio.sleep(period)
        late = time.monotonic() - before - period
        if late > threshold:
            stalls.append(f"{time.strftime('%H:%M:%S')} {late:.1f} s")


class Timer:
    """Seconds per step, printed (`pytest -s` shows them)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = self.last = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        print(f"[{self.name}] {step}: {now - self.last:.1f} s (at {now - self.start:.1f} s)")
        self.last = now


@contextlib.asynccontextmanager
async def flink_namespace(sb: Sandbox, namespace: str, cid: str) -> AsyncIterator[None]:
    """A namespace for one Flink cluster, deleted afterwards; then no JVM of the cluster may be left."""
    await sb.kube.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )

    async def namespace_gone() -> bool:
        return await native.get_or_none(sb.kube, NAMESPACES, namespace, "") is None

    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the test's own failure is what counts
            await save_logs(sb, namespace)
            await sb.kube.delete(NAMESPACES, namespace)
            await eventually(namespace_gone, 60, f"namespace {namespace} deleted")
        raise
    with contextlib.suppress(NotFound):
        await sb.kube.delete(NAMESPACES, namespace)
    await eventually(namespace_gone, 60, f"namespace {namespace} deleted")
    await eventually(lambda: not native.java_processes(cid), 30, f"no JVM of {cid} in the process table")


async def save_logs(sb: Sandbox, namespace: str) -> Path:
    """`kubectl logs` (and `--previous`) of every pod in the namespace, under the sandbox directory."""
    target = sb.directory / "logs" / namespace
    target.mkdir(parents=True, exist_ok=True)
    for pod in (await sb.kube.list(PODS, namespace)).get("items") or []:
        name = pod["metadata"]["name"]
        for suffix, extra in (("log", ()), ("previous.log", ("--previous",))):
            code, out, err = await native.kubectl(
                sb.cluster.kubeconfig, "-n", namespace, "logs", name, *extra
            )
            (target / f"{name}.{suffix}").write_text(out if code == 0 else err)
    print(f"pod logs of {namespace}: {target}")
    return target


async def submit_state_job(rest: FlinkRestClient, image: FlinkImage) -> str:
    """Upload the example jar of the image's distribution and run it at parallelism 2 (one TaskManager with
    two slots)."""
    jar_id = await rest.upload_jar(image.example)
    return await rest.run_jar(jar_id, entry_class=STATE_JOB.main_class, program_args=JOB_ARGS, parallelism=2)


async def wait_state_lines(
    sb: Sandbox, namespace: str, pod: str, *, after: int = 0, timeout: float = 60
) -> list[tuple[str, int]]:
    """The state lines of `pod` past the first `after`, once every key has reported in them."""

    async def probe() -> list[tuple[str, int]] | None:
        lines = (await sb.state_lines(namespace, pod))[after:]
        return lines if len({key for key, _ in lines}) >= KEYS else None

    return await eventually(probe, timeout, f"state lines of every key in kubectl logs {pod}")


def highest(lines: list[tuple[str, int]]) -> dict[str, int]:
    best: dict[str, int] = defaultdict(int)
    for key, count in lines:
        best[key] = max(best[key], count)
    return dict(best)


def assert_counters_continue(before: list[tuple[str, int]], after: list[tuple[str, int]]) -> None:
    """`after` was printed by a job restored from a checkpoint triggered once `before` had been printed, so
    that checkpoint holds at least those counts: every key goes on past them (none starts over at 1)."""
    seen = highest(before)
    assert set(seen) == {key for key, _ in after} == {str(k) for k in range(KEYS)}
    behind = [(key, count) for key, count in after if count <= seen[key]]
    assert not behind, f"counters behind {seen} after the restore: {behind[:8]}"


async def latest_checkpoint(rest: FlinkRestClient, job_id: str) -> int:
    completed = (await rest.checkpoints(job_id, timeout=5)).latest.completed
    return completed.id if completed is not None else 0


async def checkpoint_of_seen_state(rest: FlinkRestClient, job_id: str) -> int:
    """A checkpoint triggered after now: it holds at least the state already printed."""
    seen = await latest_checkpoint(rest, job_id)

    async def newer() -> int | None:
        latest = await latest_checkpoint(rest, job_id)
        return latest if latest > seen else None

    return await eventually(newer, 30, f"a checkpoint after checkpoint {seen}")


def assert_taskmanager_pod_by_flink(
    pod: JSON, cid: str, deployment: JSON, image: FlinkImage, data_dir: Path
) -> None:
    """The TaskManager pod as Flink's KubernetesTaskManagerFactory builds it from the pod template, owned by
    the JobManager Deployment."""
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["labels"] == native.labels(cid, "taskmanager")
    assert meta["ownerReferences"] == [native.owner_reference(deployment)]
    assert meta["managedFields"][0]["manager"] == "flink"  # created by fabric8 (user agent "flink")
    assert spec["restartPolicy"] == "Never"
    container = spec["containers"][0]
    assert container["name"] == native.MAIN_CONTAINER and container["image"] == image.ref
    assert container["command"] == ["/docker-entrypoint.sh"]
    assert container["args"][:2] == ["bash", "-c"] and "kubernetes-taskmanager.sh" in container["args"][2]
    assert f"-Dtaskmanager.resource-id='{meta['name']}'" in container["args"][2]
    volumes = {v["name"]: v for v in spec["volumes"]}
    conf = volumes[native.CONF_VOLUME]["configMap"]
    assert conf["name"] == f"flink-config-{cid}"
    assert {item["key"] for item in conf["items"]} == {native.LOG4J, image.conf_file}
    assert volumes[native.DATA_VOLUME] == native.data_volume(data_dir)  # from the pod template
    assert native.data_mount() in container["volumeMounts"]


def assert_checkpoint_on_volume(sb: Sandbox, cid: str, job_id: str, path: str | None) -> None:
    """A checkpoint Flink restored from lies on the `flink-data` hostPath volume: written by the TaskManager
    and the JobManager pods, read back by the JobManager."""
    prefix = f"file:{native.DATA_MOUNT}/checkpoints/{job_id}/chk-"
    assert path is not None and path.startswith(prefix), path
    job_dir = sb.work_dir(cid) / "data" / "checkpoints" / job_id  # the restored one may be subsumed by now
    assert list(job_dir.glob("chk-*/_metadata")), f"no checkpoint in {job_dir} on the host"


async def start_and_run(
    sb: Sandbox, image: FlinkImage, namespace: str, cid: str, rest: FlinkRestClient, timer: Timer
) -> tuple[JSON, str]:
    """Deploy the session cluster as the native client does, wait for its REST API, run the state job until
    it is RUNNING on a TaskManager pod that Flink created; returns the Deployment and the job id."""
    deployment = await sb.deploy(image, namespace, cid)
    overview = await eventually(lambda: rest.overview(timeout=5), 90, "JobManager REST through the proxy")
    assert overview.flink_version == image.version and overview.taskmanagers == 0
    timer.lap("JobManager REST up")
    (jm_pod,) = await native.pods(sb.kube, namespace, "jobmanager", cid)
    assert jm_pod["spec"]["containers"][0]["args"] == [
        "bash",
        "-c",
        "kubernetes-jobmanager.sh kubernetes-session",
    ]
    jm_jvm = native.pod_java_process(jm_pod["metadata"]["name"])
    assert "org.apache.flink.kubernetes.entrypoint.KubernetesSessionClusterEntrypoint" in jm_jvm.cmdline
    assert await native.pods(sb.kube, namespace, "taskmanager", cid) == []  # none before a job needs slots

    job_id = await submit_state_job(rest, image)
    await eventually(lambda: native.job_running(rest, job_id), 90, f"job {job_id} RUNNING")
    timer.lap("job RUNNING on a TaskManager pod created by Flink")
    (tm_pod,) = await native.pods(sb.kube, namespace, "taskmanager", cid)
    assert tm_pod["metadata"]["name"] == f"{cid}-taskmanager-1-1" and native.is_running(tm_pod)
    assert_taskmanager_pod_by_flink(tm_pod, cid, deployment, image, sb.work_dir(cid) / "data")
    tm_jvm = native.pod_java_process(tm_pod["metadata"]["name"])
    assert "org.apache.flink.kubernetes.taskmanager.KubernetesTaskExecutorRunner" in tm_jvm.cmdline
    return deployment, job_id


async def assert_cluster_gone(sb: Sandbox, namespace: str, cid: str, *, keep: tuple[str, ...] = ()) -> None:
    """After `DELETE /cluster`: the JobManager deleted its Deployment, the garbage collector removed what it
    owned (pods, ConfigMap, Services), and no JVM of the cluster is left in the process table."""

    async def leftovers() -> list[str]:
        left = [
            f"{res.plural}/{obj['metadata']['name']}"
            for res in (DEPLOYMENTS, PODS, CONFIGMAPS, SERVICES)
            for obj in (await sb.kube.list(res, namespace)).get("items") or []
            if obj["metadata"]["name"] not in ("kube-root-ca.crt", *keep)
        ]
        return left + [f"pid {p.pid}" for p in native.java_processes(cid)]

    async def gone() -> bool:
        return not await leftovers()

    try:
        await eventually(gone, 60, f"cluster {cid} gone", interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; left: {await leftovers()}") from None


# -- 1. session mode, TaskManager failure, DELETE /cluster ------------------------------------------------
async def test_native_session_cluster_replaces_a_killed_taskmanager(sandbox: Sandbox) -> None:
    sb, kube = sandbox, sandbox.kube
    namespace, cid = "fkn-session", "fkn-sess23"
    image = sb.image("flink:2.3")
    timer = Timer("session 2.3")
    async with flink_namespace(sb, namespace, cid), sb.rest(namespace, cid) as rest:
        deployment, job_id = await start_and_run(sb, image, namespace, cid, rest, timer)
        first_tm, second_tm = f"{cid}-taskmanager-1-1", f"{cid}-taskmanager-1-2"
        before = await wait_state_lines(sb, namespace, first_tm)
        checkpoint = await checkpoint_of_seen_state(rest, job_id)
        timer.lap(f"state lines in kubectl logs, then checkpoint {checkpoint} completed")

        # The TaskManager's JVM dies. Its container ends (restartPolicy Never: the pod fails), which the
        # kubelet reports; Flink sees it through its pod watch, deletes the pod and asks for a new one.
        async with native.PodEvents(kube, namespace, native.selector(cid, "taskmanager")) as events:
            await eventually(lambda: events.first(first_tm, native.is_running), 10, "the pod watch started")
            native.kill(native.pod_java_process(first_tm))
            failed = await eventually(
                lambda: events.first(first_tm, lambda pod: native.terminated(pod) is not None),
                30,
                f"{first_tm} reported terminated",
            )
            state = native.terminated(failed)
            assert state is not None and state["exitCode"] == 137 and state["reason"] == "Error", state
            assert native.pod_phase(failed) == "Failed"
            assert failed["status"]["containerStatuses"][0]["restartCount"] == 0
            replacement = await eventually(
                lambda: native.get_or_none(kube, PODS, second_tm, namespace),
                60,
                f"{second_tm} created by Flink",
            )
            assert_taskmanager_pod_by_flink(replacement, cid, deployment, image, sb.work_dir(cid) / "data")
            await eventually(lambda: events.deleted(first_tm), 30, f"{first_tm} deleted by Flink")
            timer.lap("TaskManager JVM killed -> replacement pod")
        await eventually(lambda: native.job_running(rest, job_id), 90, f"job {job_id} RUNNING again")
        restored = (await rest.checkpoints(job_id, timeout=5)).latest.restored
        assert restored is not None and restored.id >= checkpoint, restored
        assert_checkpoint_on_volume(sb, cid, job_id, restored.external_path)
        timer.lap(f"job RUNNING again from checkpoint {restored.id}")

        # Restored from a checkpoint taken after `before` was printed: every key's counter goes on past it.
        assert_counters_continue(before, await wait_state_lines(sb, namespace, second_tm))
        tms = [p["metadata"]["name"] for p in await native.pods(kube, namespace, "taskmanager", cid)]
        assert tms == [second_tm]
        assert len(native.java_processes(cid)) == 2  # the JobManager and the new TaskManager

        await rest.shutdown_cluster()  # DELETE /cluster through the service proxy
        await assert_cluster_gone(sb, namespace, cid)
        timer.lap("DELETE /cluster -> Deployment, pods, ConfigMap, Services and JVMs gone")


# -- 2. HA: two JobManagers, the leader dies ---------------------------------------------------------------
async def test_native_ha_standby_jobmanager_takes_over_from_checkpoint(sandbox: Sandbox) -> None:
    sb, kube = sandbox, sandbox.kube
    namespace, cid = "fkn-ha", "fkn-ha23"
    image = sb.image("flink:2.3")
    timer = Timer("HA 2.3")
    async with flink_namespace(sb, namespace, cid), sb.rest(namespace, cid) as rest:
        await sb.deploy(image, namespace, cid, ha=True, replicas=2, **HA_TIMINGS)
        jm_pods = await eventually(
            lambda: _running_pods(kube, namespace, cid, "jobmanager", 2), 60, "two JobManager pods running"
        )
        assert len({p["status"]["podIP"] for p in jm_pods}) == 2
        leader = await eventually(lambda: native.leadership(kube, namespace, cid), 90, "a leader elected")
        original_pod = await native.pod_with_ip(kube, namespace, cid, leader.ip)
        timer.lap(f"leader elected: {original_pod}")
        assert await eventually(lambda: rest.overview(timeout=5), 30, "REST through the service proxy")
        # Upload and run go to the leader's pod: with Flink 2.x a jar run on the standby's REST endpoint fails
        # (the standby asks the leading Dispatcher for its BlobServer address, gets the leader's hostname from
        # InetAddress.getLocalHost(), i.e. the pod name, and cannot resolve it), and an upload is only known
        # to the JobManager that received it.
        async with sb.pod_rest(namespace, original_pod) as leader_rest:
            # Until the leader has taken over its REST endpoint, it answers 503 "ongoing leader election".
            await eventually(lambda: leader_rest.overview(timeout=5), 60, f"REST of {original_pod}")
            job_id = await submit_state_job(leader_rest, image)
            await eventually(lambda: native.job_running(leader_rest, job_id), 90, f"job {job_id} RUNNING")
        (tm_pod,) = await native.pods(kube, namespace, "taskmanager", cid)
        tm = tm_pod["metadata"]["name"]
        assert tm == f"{cid}-taskmanager-1-1"
        timer.lap("job RUNNING")
        job_cm = await native.get_or_none(kube, CONFIGMAPS, f"{cid}-{job_id}-config-map", namespace)
        assert job_cm is not None  # the job's HA ConfigMap: pointers to state on the HA storage directory
        assert any((sb.work_dir(cid) / "data" / "ha" / cid).iterdir())  # written through the hostPath volume

        # Kill the leader's JVM. Its container restarts at once (restartPolicy Always), so the restarted JVM
        # competes with the standby for the expired lease, and either may win. If the restarted one wins, kill
        # it again: its next restart waits for the kubelet's crash back-off (10 s), longer than the lease
        # (8 s) plus a retry period, so the standby takes over.
        incarnation = 0  # where the lines of the job's current run start in the TaskManager's log
        for attempt in (1, 2):
            lines_before = await wait_state_lines(sb, namespace, tm, after=incarnation)
            checkpoint = await checkpoint_of_seen_state(rest, job_id)
            leading_pod = await native.pod_with_ip(kube, namespace, cid, leader.ip)
            native.kill(native.pod_java_process(leading_pod))
            old = leader

            async def new_leader(old: native.Leadership = old) -> native.Leadership | None:
                now = await native.leadership(kube, namespace, cid)
                return now if now is not None and now.session != old.session else None

            leader = await eventually(new_leader, 60, "a new leader after the kill")
            assert leader.holder != old.holder  # another JobManager process holds the lock
            leading_pod = await native.pod_with_ip(kube, namespace, cid, leader.ip)
            timer.lap(f"attempt {attempt}: leader JVM killed -> {leading_pod} leads")
            async with sb.pod_rest(namespace, leading_pod) as leader_rest:
                await eventually(
                    lambda: native.job_running(leader_rest, job_id), 90, f"job {job_id} RUNNING again"
                )
                restored = (await leader_rest.checkpoints(job_id, timeout=5)).latest.restored
            assert restored is not None and restored.id >= checkpoint, restored
            assert_checkpoint_on_volume(sb, cid, job_id, restored.external_path)
            timer.lap(f"attempt {attempt}: job RUNNING again from checkpoint {restored.id}")
            # The same TaskManager pod (recovered by the new leader) runs the restored job: from the
            # checkpoint taken after `lines_before` were printed, the counters go on past them.
            assert [
                p["metadata"]["name"] for p in await native.pods(kube, namespace, "taskmanager", cid)
            ] == [tm]
            incarnation = len(await sb.state_lines(namespace, tm))
            after = await wait_state_lines(sb, namespace, tm, after=incarnation)
            assert_counters_continue(lines_before, after)
            if leading_pod != original_pod:
                break
        else:
            pytest.fail(f"the standby JobManager never took over from {original_pod}")
        timer.lap("counters continued")

        # DELETE /cluster through the service proxy: the leader releases the lock, deletes its cluster
        # ConfigMap and its Deployment. The job's HA ConfigMap stays (no owner: Flink keeps it on purpose).
        # The killed pod's container is Ready as soon as it runs again (Flink's JM pods have no readiness
        # probe) while its REST server is still starting: wait until the service answers.
        await eventually(lambda: rest.overview(timeout=5), 60, "REST through the service proxy")
        await rest.shutdown_cluster()
        await assert_cluster_gone(sb, namespace, cid, keep=(f"{cid}-{job_id}-config-map",))
        timer.lap("DELETE /cluster -> everything but the job's HA ConfigMap gone")


async def _running_pods(
    kube: Kube, namespace: str, cid: str, component: str, count: int
) -> list[JSON] | None:
    found = [p for p in await native.pods(kube, namespace, component, cid) if native.is_running(p)]
    return found if len(found) == count else None


# -- 3. Flink 1.20 ------------------------------------------------------------------------------------------
async def test_native_session_cluster_on_flink_1_20(sandbox: Sandbox) -> None:
    sb = sandbox
    namespace, cid = "fkn-session-120", "fkn-sess120"
    image = sb.image("flink:1.20")
    assert image.conf_file == "flink-conf.yaml" and image.version.startswith("1.20.")
    timer = Timer("session 1.20")
    async with flink_namespace(sb, namespace, cid), sb.rest(namespace, cid) as rest:
        await start_and_run(sb, image, namespace, cid, rest, timer)
        lines = await wait_state_lines(sb, namespace, f"{cid}-taskmanager-1-1")
        assert {key for key, _ in lines} == {str(k) for k in range(KEYS)}
        jm_config = await rest.jobmanager_config(timeout=5)
        assert jm_config["kubernetes.cluster-id"] == cid
        assert jm_config["jobmanager.rpc.address"] == f"{cid}.{namespace}"  # the headless Service
        timer.lap("state lines in kubectl logs")
        await rest.shutdown_cluster()
        await assert_cluster_gone(sb, namespace, cid)
        timer.lap("DELETE /cluster -> everything gone")
