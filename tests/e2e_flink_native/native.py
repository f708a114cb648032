"""What Flink's native client (`kubernetes-session.sh`) creates for a session cluster, written by hand, plus
helpers to watch the cluster from outside: the API server, the OS process table and `kubectl`.

The manifests follow Flink's own decorators (InitJobManagerDecorator, CmdJobManagerDecorator,
InternalServiceDecorator, ExternalServiceDecorator, FlinkConfMountDecorator, PodTemplateMountDecorator): the
Deployment `<cid>`, the ConfigMap `flink-config-<cid>` with the cluster-side configuration and
`log4j-console.properties`, the ConfigMap `pod-template-<cid>` with the user's TaskManager pod template, the
headless Service `<cid>` (not in HA mode) and the REST Service `<cid>-rest`; the ConfigMaps and Services are
owned by the Deployment, as the client sets their ownerReferences after creating it. The user's pod templates
add one volume, `flink-data` (hostPath), for checkpoints and HA metadata shared by all pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from flinkop.flink.rest import FlinkRestClient, RestEndpoint
from flinkop.runtime.client import NotFound
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.images import ImageRegistry

JSON = dict[str, Any]
T = TypeVar("T")

NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
PODS = Resource("", "v1", "pods", kind="Pod")
CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
SERVICES = Resource("", "v1", "services", kind="Service")
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")

MAIN_CONTAINER = "flink-main-container"
CONF_VOLUME = "flink-config-volume"
CONF_DIR = "/opt/flink/conf"
LOG4J = "log4j-console.properties"
TEMPLATE_VOLUME = "pod-template-volume"
TEMPLATE_DIR = "/opt/flink/pod-template"  # where Flink's JobManager looks for the TaskManager pod template
TM_TEMPLATE = "taskmanager-pod-template.yaml"
DATA_VOLUME = "flink-data"
DATA_MOUNT = "/opt/flink/volumes/data"  # inside the image's /opt/flink: no mount point on the host's root
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
REST_PORT, RPC_PORT, BLOB_PORT, TM_RPC_PORT = 8081, 6123, 6124, 6122
JAVA_FAST = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"


@dataclass(frozen=True)
class FlinkImage:
    """An image of the sandbox and the distribution behind it (for the client-side files)."""

    ref: str
    home: Path  # the distribution on the host: what the image mounts at /opt/flink
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def conf_file(self) -> str:
        """The file Flink reads: 2.x only config.yaml; for 1.x we write the legacy flink-conf.yaml."""
        return "config.yaml" if self.major >= 2 else "flink-conf.yaml"

    @property
    def example(self) -> Path:
        return self.home / "examples" / "streaming" / "flinkop-state-job.jar"


def flink_image(registry: ImageRegistry, ref: str) -> FlinkImage:
    image = registry.resolve(ref)
    assert image.flink_version is not None, ref
    return FlinkImage(ref, image.mounts["/opt/flink"], image.flink_version)


def labels(cid: str, component: str | None = None) -> dict[str, str]:
    common = {"type": "flink-native-kubernetes", "app": cid}
    return {**common, "component": component} if component else common


def selector(cid: str, component: str) -> str:
    return ",".join(f"{k}={v}" for k, v in labels(cid, component).items())


# -- the cluster-side configuration ------------------------------------------------------------------------
def cluster_config(
    image: FlinkImage, cid: str, namespace: str, template_file: Path, *, ha: bool = False, **extra: Any
) -> dict[str, str]:
    """The flat configuration the client writes into `flink-config-<cid>`: the client's own config (memory,
    slots, JVM options of the image's conf, the TaskManager pod template file), what
    `KubernetesClusterDescriptor` sets (target, entry point, fixed ports, `jobmanager.rpc.address` = the
    internal Service in non-HA mode, the HA cluster id), without what `FlinkConfMountDecorator` removes
    (kubeconfig file, bind addresses, config dir). Checkpoints, HA metadata and the JVMs' scratch
    directories are on the shared `flink-data` volume (a hostPath on this one-node cluster)."""
    image_conf = yaml.safe_load((image.home / "conf" / "config.yaml").read_text())
    java_opts = str(image_conf["env"]["java"]["opts"]["all"])
    conf: dict[str, Any] = {
        "kubernetes.cluster-id": cid,
        "kubernetes.namespace": namespace,
        "kubernetes.container.image.ref": image.ref,
        "kubernetes.pod-template-file.taskmanager": str(template_file),
        "kubernetes.internal.jobmanager.entrypoint.class": (
            "org.apache.flink.kubernetes.entrypoint.KubernetesSessionClusterEntrypoint"
        ),
        "execution.target": "kubernetes-session",
        "jobmanager.rpc.address": f"{cid}.{namespace}",
        "jobmanager.rpc.port": RPC_PORT,
        "rest.port": REST_PORT,
        "blob.server.port": BLOB_PORT,
        "taskmanager.rpc.port": TM_RPC_PORT,
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.memory.process.size": "1024m",
        "taskmanager.memory.managed.size": "0m",
        "taskmanager.numberOfTaskSlots": 2,
        "kubernetes.taskmanager.cpu.amount": 0.5,
        "kubernetes.jobmanager.cpu.amount": 0.5,
        "parallelism.default": 2,
        "env.java.opts.all": f"{java_opts} {JAVA_FAST}",
        "env.pid.dir": f"{DATA_MOUNT}/pids",
        "io.tmp.dirs": f"{DATA_MOUNT}/tmp",
        "web.tmpdir": f"{DATA_MOUNT}/web",
        "web.refresh-interval": 500,
        "cluster.registration.error-delay": "500 ms",
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": f"file://{DATA_MOUNT}/checkpoints",
        "execution.checkpointing.interval": "2s",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": 100,
        "restart-strategy.fixed-delay.delay": "1 s",
    }
    if image.major < 2:
        conf["state.checkpoints.dir"] = conf.pop("execution.checkpointing.dir")
    if ha:
        conf.pop("jobmanager.rpc.address")  # the JobManagers publish their pod IPs through the ConfigMaps
        conf.update(
            {
                "high-availability.type": "kubernetes",
                "high-availability.cluster-id": cid,
                "high-availability.storageDir": f"file://{DATA_MOUNT}/ha",
                "high-availability.jobmanager.port": RPC_PORT,
            }
        )
    conf.update(extra)
    return {k: str(v) for k, v in conf.items()}


def render_config(image: FlinkImage, conf: dict[str, str]) -> str:
    """As the client prints it: `key: value` lines (standard YAML for config.yaml)."""
    if image.conf_file == "config.yaml":
        return yaml.safe_dump(conf, sort_keys=False, default_flow_style=False, width=1 << 16)
    return "".join(f"{k}: {v}\n" for k, v in conf.items())


# -- the objects ---------------------------------------------------------------------------------------------
def data_volume(data_dir: Path) -> JSON:
    return {"name": DATA_VOLUME, "hostPath": {"path": str(data_dir), "type": "DirectoryOrCreate"}}


def data_mount() -> JSON:
    return {"name": DATA_VOLUME, "mountPath": DATA_MOUNT}


def taskmanager_pod_template(data_dir: Path) -> JSON:
    """The user's TaskManager pod template: the shared data volume in the main container."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "taskmanager-pod-template"},
        "spec": {
            "containers": [{"name": MAIN_CONTAINER, "volumeMounts": [data_mount()]}],
            "volumes": [data_volume(data_dir)],
        },
    }


def config_map(image: FlinkImage, cid: str, namespace: str, conf: dict[str, str]) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"flink-config-{cid}", "namespace": namespace, "labels": labels(cid)},
        "data": {
            LOG4J: (image.home / "conf" / LOG4J).read_text(),
            image.conf_file: render_config(image, conf),
        },
    }


def pod_template_config_map(cid: str, namespace: str, template: JSON) -> JSON:
    """PodTemplateMountDecorator: the TaskManager pod template shipped to the JobManager."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"pod-template-{cid}", "namespace": namespace, "labels": labels(cid)},
        "data": {TM_TEMPLATE: yaml.safe_dump(template, sort_keys=False)},
    }


def jobmanager_deployment(
    image: FlinkImage, cid: str, namespace: str, data_dir: Path, *, replicas: int = 1
) -> JSON:
    jm_labels = labels(cid, "jobmanager")
    container = {
        "name": MAIN_CONTAINER,
        "image": image.ref,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/docker-entrypoint.sh"],
        "args": ["bash", "-c", "kubernetes-jobmanager.sh kubernetes-session"],
        "ports": [
            {"name": "rest", "containerPort": REST_PORT, "protocol": "TCP"},
            {"name": "jobmanager-rpc", "containerPort": RPC_PORT, "protocol": "TCP"},
            {"name": "blobserver", "containerPort": BLOB_PORT, "protocol": "TCP"},
        ],
        "resources": {
            "requests": {"cpu": "0.5", "memory": "1024Mi"},
            "limits": {"cpu": "0.5", "memory": "1024Mi"},
        },
        "env": [
            {
                "name": "_POD_IP_ADDRESS",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
            }
        ],
        "volumeMounts": [
            data_mount(),  # from the user's JobManager pod template
            {"name": CONF_VOLUME, "mountPath": CONF_DIR},
            {"name": TEMPLATE_VOLUME, "mountPath": TEMPLATE_DIR},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": cid, "namespace": namespace, "labels": jm_labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": jm_labels},
            "template": {
                "metadata": {"labels": jm_labels},
                "spec": {
                    "serviceAccountName": "default",
                    "restartPolicy": "Always",
                    "hostNetwork": False,
                    "containers": [container],
                    "volumes": [
                        data_volume(data_dir),
                        {
                            "name": CONF_VOLUME,
                            "configMap": {
                                "name": f"flink-config-{cid}",
                                "items": [
                                    {"key": LOG4J, "path": LOG4J},
                                    {"key": image.conf_file, "path": image.conf_file},
                                ],
                            },
                        },
                        {
                            "name": TEMPLATE_VOLUME,
                            "configMap": {
                                "name": f"pod-template-{cid}",
                                "items": [{"key": TM_TEMPLATE, "path": TM_TEMPLATE}],
                            },
                        },
                    ],
                },
            },
        },
    }


def internal_service(cid: str, namespace: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": cid, "namespace": namespace, "labels": labels(cid)},
        "spec": {
            "clusterIP": "None",
            "selector": labels(cid, "jobmanager"),
            "ports": [
                {"name": "jobmanager-rpc", "port": RPC_PORT, "targetPort": RPC_PORT, "protocol": "TCP"},
                {"name": "blobserver", "port": BLOB_PORT, "targetPort": BLOB_PORT, "protocol": "TCP"},
            ],
        },
    }


def rest_service(cid: str, namespace: str) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{cid}-rest", "namespace": namespace, "labels": labels(cid)},
        "spec": {
            "type": "ClusterIP",
            "selector": labels(cid, "jobmanager"),
            "ports": [{"name": "rest", "port": REST_PORT, "targetPort": REST_PORT, "protocol": "TCP"}],
        },
    }


def owner_reference(deployment: JSON) -> JSON:
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


async def deploy_session_cluster(
    kube: Kube,
    image: FlinkImage,
    cid: str,
    namespace: str,
    work_dir: Path,
    *,
    ha: bool = False,
    replicas: int = 1,
    **extra: Any,
) -> JSON:
    """What `kubernetes-session.sh` does: the Deployment first, then the accompanying resources with the
    Deployment as their owner. `work_dir` (host) holds the client's TaskManager pod template file and the
    `data` directory behind the `flink-data` hostPath volume. Returns the created Deployment."""
    data_dir = work_dir / "data"
    template = taskmanager_pod_template(data_dir)
    template_file = work_dir / TM_TEMPLATE
    template_file.parent.mkdir(parents=True, exist_ok=True)
    template_file.write_text(yaml.safe_dump(template, sort_keys=False))
    conf = cluster_config(image, cid, namespace, template_file, ha=ha, **extra)
    if replicas > 1:
        conf["kubernetes.jobmanager.replicas"] = str(replicas)
    manifest = jobmanager_deployment(image, cid, namespace, data_dir, replicas=replicas)
    deployment = await kube.create(DEPLOYMENTS, manifest)
    owner = owner_reference(deployment)
    accompanying = [
        config_map(image, cid, namespace, conf),
        pod_template_config_map(cid, namespace, template),
        rest_service(cid, namespace),
    ]
    if not ha:  # InternalServiceDecorator: only without HA (the TaskManagers then find the leader by IP)
        accompanying.append(internal_service(cid, namespace))
    for obj in accompanying:
        obj["metadata"]["ownerReferences"] = [owner]
        await kube.create(CONFIGMAPS if obj["kind"] == "ConfigMap" else SERVICES, obj)
    return deployment


# -- waiting -------------------------------------------------------------------------------------------------
async def eventually(
    probe: Callable[[], Awaitable[T | None] | T | None], timeout: float, what: str, interval: float = 0.25
) -> T:
    """Poll `probe` (sync or async) until it returns something truthy; fail saying what was awaited and the
    last error."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result  # type: ignore[return-value]
        except Exception as exc:  # reported when the wait runs out
            last_error = exc
        if time.monotonic() > deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s{detail}")
        await asyncio.sleep(interval)


async def get_or_none(kube: Kube, res: Resource, name: str, namespace: str) -> JSON | None:
    try:
        return await kube.get(res, name, namespace)
    except NotFound:
        return None


async def pods(kube: Kube, namespace: str, component: str, cid: str) -> list[JSON]:
    answer = await kube.list(PODS, namespace, label_selector=selector(cid, component))
    return list(answer.get("items") or [])


def pod_phase(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_running(pod: JSON) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return pod_phase(pod) == "Running" and bool(statuses) and all("running" in s["state"] for s in statuses)


class PodEvents:
    """Every watch event of the pods matching `label_selector`, collected in the background: short-lived
    states (a terminated container that Flink deletes at once) are seen even if polling would miss them."""

    def __init__(self, kube: Kube, namespace: str, label_selector: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.label_selector = label_selector
        self.events: list[tuple[str, JSON]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async for event in self.kube.watch(PODS, self.namespace, label_selector=self.label_selector):
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                self.events.append((str(event["type"]), event["object"]))

    async def __aenter__(self) -> PodEvents:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def first(self, name: str, check: Callable[[JSON], bool]) -> JSON | None:
        return next((obj for _, obj in self.events if obj["metadata"]["name"] == name and check(obj)), None)

    def deleted(self, name: str) -> bool:
        return any(kind == "DELETED" and obj["metadata"]["name"] == name for kind, obj in self.events)


def terminated(pod: JSON) -> JSON | None:
    """The terminated state of the pod's main container, if it has one."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == MAIN_CONTAINER and "terminated" in (status.get("state") or {}):
            return dict(status["state"]["terminated"])
    return None


# -- Flink ---------------------------------------------------------------------------------------------------
async def job_running(rest: FlinkRestClient, job_id: str) -> bool:
    job = await rest.job_details(job_id, timeout=5)
    return job.state == "RUNNING" and bool(job.vertices) and all(v.status == "RUNNING" for v in job.vertices)


@dataclass(frozen=True)
class Leadership:
    """Who leads an HA cluster: the lock's holder (one identity per JobManager process, from the leader
    annotation of `<cid>-cluster-config-map`) and the REST server it published (session id, pod IP)."""

    holder: str
    session: str
    ip: str


async def leadership(kube: Kube, namespace: str, cid: str) -> Leadership | None:
    cm = await get_or_none(kube, CONFIGMAPS, f"{cid}-cluster-config-map", namespace)
    if cm is None:
        return None
    record = json.loads(((cm["metadata"].get("annotations") or {}).get(LEADER_ANNOTATION)) or "{}")
    published = (cm.get("data") or {}).get("org.apache.flink.k8s.leader.restserver") or ""
    match = re.fullmatch(r"([0-9a-f-]+),http://([0-9.]+):\d+", published)
    if not record.get("holderIdentity") or match is None:
        return None
    return Leadership(str(record["holderIdentity"]), match.group(1), match.group(2))


async def pod_with_ip(kube: Kube, namespace: str, cid: str, ip: str) -> str:
    names = [
        p["metadata"]["name"]
        for p in await pods(kube, namespace, "jobmanager", cid)
        if (p.get("status") or {}).get("podIP") == ip
    ]
    assert len(names) == 1, f"JobManager pods with IP {ip}: {names}"
    return names[0]


# -- the OS process table ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    cmdline: str


def processes() -> list[Process]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        found.append(Process(int(entry.name), comm, cmdline))
    return found


def java_processes(marker: str) -> list[Process]:
    """The JVMs whose command line mentions `marker` (a pod name or a cluster id)."""
    return [p for p in processes() if p.comm == "java" and marker in p.cmdline]


def pod_java_process(pod_name: str) -> Process:
    """The one JVM of a pod: Flink's scripts put the pod's hostname (= its name) into `-Dlog.file=`."""
    pattern = re.compile(rf"-Dlog\.file=\S*-{re.escape(pod_name)}\.log(\s|$)")
    found = [p for p in processes() if p.comm == "java" and pattern.search(p.cmdline)]
    assert len(found) == 1, f"expected one JVM of pod {pod_name}, found {found}"
    return found[0]


def kill(process: Process) -> None:
    os.kill(process.pid, signal.SIGKILL)


# -- kubectl -------------------------------------------------------------------------------------------------
async def kubectl(kubeconfig: Path, *args: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """kubectl against the sandbox (asynchronously: the API server runs in this event loop)."""
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return int(process.returncode or 0), out.decode(errors="replace"), err.decode(errors="replace")


async def pod_logs(kubeconfig: Path, namespace: str, pod: str, *args: str) -> str:
    code, out, err = await kubectl(kubeconfig, "-n", namespace, "logs", pod, *args)
    assert code == 0, f"kubectl logs {pod}: {err.strip()}"
    return out


def via_pod_proxy(kube: Kube, namespace: str, pod: str, port: int) -> RestEndpoint:
    """The REST API of one pod through the API server's pods/proxy (as `via_service_proxy` does for a
    Service): to talk to one JobManager of several."""
    host = str(kube.api_client.configuration.host or "").rstrip("/")

    async def headers() -> dict[str, str]:
        return await kube._headers()

    return RestEndpoint(
        base_url=f"{host}/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy",
        description=f"pod {namespace}/{pod}:{port} through the API server {host}",
        headers_provider=headers,
        session_provider=lambda: kube.session,
    )
