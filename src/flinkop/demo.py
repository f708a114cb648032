"""``flinkop demo`` (``make demo``): the sandbox cluster and the operator in this process, one example
FlinkDeployment taken to STABLE with its job RUNNING, then the commands to explore it, until Ctrl-C.

1. The sandbox cluster starts (``--dir``, default ``.sandbox/demo``; one per machine, so this waits while
   another one runs) and writes its kubeconfig there.
2. An operator configuration directory is written under it (``operator/config.yaml``: short reconcile and
   progress-check intervals, the Java 17 options of the installed Flink images for Flink 1.19+) and the
   operator starts from it, in this process, from *outside* the cluster: a kubeconfig, the JobManager REST
   APIs through the API server's service proxy. The file is re-read while the demo runs.
3. ``examples/basic.yaml`` is applied (server-side apply) with the ``flink`` ServiceAccount it names, and
   every change of its status is printed as it happens: CREATED -> DEPLOYED -> STABLE, the JobManager
   deployment status and the job state, and the cluster's pods as they come and go.
4. Once STABLE with the job RUNNING: the Flink UI is checked through the API server's service proxy (the
   page and its relative assets), and the commands to explore the cluster are printed.
5. Ctrl-C / SIGTERM (or, with ``--until-stable``, right away): the FlinkDeployment is deleted and awaited
   (the operator deletes the Flink cluster), then the operator and the cluster stop; no process is left.

Exit status: 0 after a clean run (Ctrl-C once STABLE counts as one), 1 when STABLE is not reached within
``--timeout`` (or the cluster cannot start here), 130 when interrupted before STABLE. Logs of the cluster
and the operator go to ``<dir>/demo.log``, not to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urljoin

import aiohttp
import structlog
import yaml

from flinkop.config import ConfigError, check_startup, load_operator_config
from flinkop.operator.app import FLINK_DEPLOYMENTS, Operator
from flinkop.reconcilers.errors import error_message
from flinkop.runtime import ApiError, Conflict, Kube, NotFound, Resource, new_api_client
from flinkop.runtime.kube import APPLY
from flinkop.sandbox.cluster import REPO, SandboxCluster
from flinkop.sandbox.images import ImageNotFound, ImageRegistry

JSON = dict[str, Any]
T = TypeVar("T")

PODS = Resource("", "v1", "pods", kind="Pod")
EVENTS = Resource("", "v1", "events", kind="Event")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")

DEFAULT_DIR = ".sandbox/demo"
DEFAULT_EXAMPLE = REPO / "examples" / "basic.yaml"
DEFAULT_TIMEOUT = 180.0
FAST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"
JAVA_OPTS_KEY = "kubernetes.operator.default-configuration.flink-version.v1_19+.env.java.default-opts.all"
JVM_OPTS_KEY = "kubernetes.operator.default-configuration.flink-version.v1_19+.env.java.opts.all"
DELETE_TIMEOUT = 120.0
PROCESS_TIMEOUT = 30.0
MACHINE_LOCK = "\0flinkop-sandbox-cluster"  # SandboxCluster's: one sandbox cluster per machine


class Interrupted(Exception):
    """Ctrl-C / SIGTERM arrived while waiting for something."""


class DemoFailed(Exception):
    """The demo cannot go on; the message says why."""


# -- the operator configuration ------------------------------------------------------------------------


def java_default_opts(images_root: Path) -> str:
    """The JVM options (Java 17 module opens) the newest installed Flink image ships in its config.yaml,
    which the operator passes on as upstream's Helm chart does; '' when no image is installed."""
    found = sorted(images_root.glob("flink-*/site/pyflink/conf/config.yaml"), key=_version_key)
    for conf in reversed(found):
        try:
            document = yaml.safe_load(conf.read_text())
            opts = document["env"]["java"]["opts"]["all"]
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            continue
        if isinstance(opts, str) and opts.strip():
            return opts.strip()
    return ""


def _version_key(path: Path) -> tuple[int, ...]:
    name = next((p for p in path.parts if p.startswith("flink-")), "flink-0")
    return tuple(int(n) for n in re.findall(r"\d+", name))


def operator_configuration(images_root: Path) -> dict[str, str]:
    """The demo's operator defaults: those of the operator e2e tests (fast reconciles, Java 17 opts)."""
    conf = {
        "kubernetes.operator.reconcile.interval": "2 s",
        "kubernetes.operator.observer.progress-check.interval": "1 s",
        "kubernetes.operator.observer.rest-ready.delay": "1 s",
        "kubernetes.operator.flink.client.timeout": "5 s",
        "kubernetes.operator.resource.cleanup.timeout": "90 s",
    }
    opts = java_default_opts(images_root)
    if opts:
        conf[JAVA_OPTS_KEY] = opts
    conf[JVM_OPTS_KEY] = FAST_JVM
    return conf


def write_operator_conf(directory: Path, conf: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    header = "# The demo's operator configuration (flinkop demo writes it; edits apply while it runs).\n"
    (directory / "config.yaml").write_text(header + yaml.safe_dump(conf, sort_keys=False, width=100000))
    return directory


# -- output --------------------------------------------------------------------------------------------


class Console:
    """Timestamped progress lines on stdout."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.started = time.monotonic()

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def step(self, text: str) -> None:
        self.line(f"[{time.monotonic() - self.started:6.1f}s] {text}")


def configure_file_logging(path: Path, level: str = "INFO") -> IO[str]:
    """The cluster's and the operator's logs into ``path`` (the terminal is the demo's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = path.open("w", buffering=1, encoding="utf-8")
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(numeric)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    return stream


# -- signals -------------------------------------------------------------------------------------------


class StopSignal:
    """SIGINT/SIGTERM: the first asks for a clean stop, a later one makes the clean-up skip its waits."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()
        self.count = 0
        self.on_signal: Callable[[int], None] | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._received)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)

    def _received(self) -> None:
        self.count += 1
        if self.count > 1:
            self.forced.set()
        self.requested.set()
        if self.on_signal is not None:
            self.on_signal(self.count)

    async def race(self, awaitable: Coroutine[Any, Any, T], event: asyncio.Event | None = None) -> T:
        """``awaitable``'s result, or :class:`Interrupted` (the awaitable cancelled) once ``event``
        (default: a stop request) is set."""
        stop = event or self.requested
        if stop.is_set():
            awaitable.close()
            raise Interrupted
        task = asyncio.ensure_future(awaitable)
        waiter = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if task.cancelled():
            raise Interrupted
        return task.result()


# -- the example ---------------------------------------------------------------------------------------


def load_example(path: Path, namespace: str) -> JSON:
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError) as error:
        raise DemoFailed(f"cannot read {path}: {error}") from None
    found = [d for d in documents if d.get("kind") == "FlinkDeployment"]
    if len(found) != 1:
        raise DemoFailed(f"{path}: expected exactly one FlinkDeployment, found {len(found)}")
    document = found[0]
    document.setdefault("metadata", {}).setdefault("namespace", namespace)
    return document


async def ensure_service_account(kube: Kube, name: str, namespace: str) -> None:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
    with contextlib.suppress(Conflict):
        await kube.create(SERVICE_ACCOUNTS, body, namespace)


async def apply(kube: Kube, document: JSON) -> JSON:
    """``kubectl apply --server-side``."""
    meta = document["metadata"]
    return await kube.patch(
        FLINK_DEPLOYMENTS, meta["name"], document, meta["namespace"], content_type=APPLY, force=True
    )


# -- following the resource ----------------------------------------------------------------------------


def _status(obj: JSON | None) -> JSON:
    status = (obj or {}).get("status")
    return status if isinstance(status, dict) else {}


def _summary(status: JSON) -> tuple[str, str, str]:
    job = status.get("jobStatus") or {}
    return (
        str(status.get("lifecycleState") or "-"),
        str(status.get("jobManagerDeploymentStatus") or "-"),
        str(job.get("state") or "-"),
    )


def is_stable(status: JSON, application: bool) -> bool:
    lifecycle, _jm, job = _summary(status)
    return lifecycle == "STABLE" and (job == "RUNNING" or not application)


class Follower:
    """Prints each change of the FlinkDeployment's status and of its cluster's pods, from watches."""

    def __init__(self, kube: Kube, console: Console, namespace: str, name: str, application: bool) -> None:
        self.kube = kube
        self.console = console
        self.namespace = namespace
        self.name = name
        self.application = application
        self.stable = asyncio.Event()
        self.last_status: JSON = {}
        self._printed: tuple[str, str, str] | None = None
        self._errors_shown: set[str] = set()
        self._pods: dict[str, str] = {}

    def on_status(self, status: JSON) -> None:
        self.last_status = status
        summary = _summary(status)
        if summary != self._printed and summary[0] != "-":
            self._printed = summary
            lifecycle, jm, job = summary
            self.console.step(
                f"FlinkDeployment {self.name}: {lifecycle:<9} (JobManager {jm}, job {job})"
                if self.application
                else f"FlinkDeployment {self.name}: {lifecycle:<9} (JobManager {jm})"
            )
        error = status.get("error")
        if error and str(error) not in self._errors_shown:
            self._errors_shown.add(str(error))
            self.console.step(f"FlinkDeployment {self.name}: error: {error_message(str(error))}")
        if is_stable(status, self.application):
            self.stable.set()

    def on_pod(self, kind: str, pod: JSON) -> None:
        meta = pod.get("metadata") or {}
        name = str(meta.get("name"))
        component = (meta.get("labels") or {}).get("component", "pod")
        if kind == "DELETED":
            if self._pods.pop(name, None) is not None:
                self.console.step(f"pod {name} ({component}) deleted")
            return
        phase = pod_state(pod)
        if self._pods.get(name) != phase:
            self._pods[name] = phase
            self.console.step(f"pod {name} ({component}) {phase}")

    async def follow_status(self) -> None:
        selector = f"metadata.name={self.name}"
        await _watch_forever(self.kube, FLINK_DEPLOYMENTS, self.namespace, selector, None, self._status_event)

    async def follow_pods(self) -> None:
        await _watch_forever(self.kube, PODS, self.namespace, None, f"app={self.name}", self.on_pod)

    def _status_event(self, kind: str, obj: JSON) -> None:
        if kind in ("ADDED", "MODIFIED"):
            self.on_status(_status(obj))


def pod_state(pod: JSON) -> str:
    """What ``kubectl get pods`` shows in STATUS, roughly: a waiting reason, Terminating, else the phase."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "ContainerCreating":
            return str(waiting["reason"])
    phase = str(status.get("phase") or "Pending")
    if phase == "Running":
        statuses = status.get("containerStatuses") or []
        ready = sum(1 for c in statuses if c.get("ready"))
        return f"Running ({ready}/{len(statuses)} ready)" if statuses else phase
    return phase


async def _watch_forever(
    kube: Kube,
    res: Resource,
    namespace: str,
    field_selector: str | None,
    label_selector: str | None,
    handle: Callable[[str, JSON], None],
) -> None:
    rv: str | None = None
    while True:
        try:
            if rv is None:
                listed = await kube.list(
                    res, namespace, field_selector=field_selector, label_selector=label_selector
                )
                rv = str(listed["metadata"]["resourceVersion"])
                for item in listed.get("items") or []:
                    handle("ADDED", item)
            async for event in kube.watch(
                res,
                namespace,
                resource_version=rv,
                timeout_seconds=60,
                field_selector=field_selector,
                label_selector=label_selector,
            ):
                obj = event.get("object") or {}
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    handle(str(event["type"]), obj)
        except asyncio.CancelledError:
            raise
        except Exception:
            rv = None
            await asyncio.sleep(0.5)


# -- the Flink UI --------------------------------------------------------------------------------------

_ASSET = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_BASE = re.compile(r"""<base\b[^>]*\bhref\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def relative_assets(html: str) -> list[str]:
    """The page's own assets (scripts, stylesheets, icons) referenced by relative URLs."""
    found = []
    for ref in _ASSET.findall(html):
        if re.match(r"^([a-z][a-z0-9+.-]*:|//|#)", ref, re.IGNORECASE):
            continue
        found.append(ref)
    return list(dict.fromkeys(found))


async def check_ui(session: aiohttp.ClientSession, url: str) -> list[str]:
    """Load the UI's page and every relative asset it names through ``url``; the problems found."""
    async with session.get(url, allow_redirects=True) as response:
        html = await response.text(errors="replace")
        if response.status != 200:
            return [f"{url}: HTTP {response.status}"]
    if "<html" not in html.lower():
        return [f"{url}: not an HTML page"]
    base_match = _BASE.search(html)
    base = urljoin(url, base_match.group(1)) if base_match else url
    problems = []
    assets = relative_assets(html)
    if not assets:
        problems.append(f"{url}: the page names no assets")
    for ref in [*assets, "config"]:  # "config": the first REST call the UI makes, relative as well
        target = urljoin(base, ref)
        async with session.get(target) as response:
            await response.read()
            if response.status != 200:
                problems.append(f"{target}: HTTP {response.status}")
    return problems


def another_cluster_running() -> bool:
    """Whether a sandbox cluster holds the machine lock now (then starting one waits for it)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.bind(MACHINE_LOCK)
    except OSError:
        return True
    finally:
        probe.close()
    return False


# -- processes -----------------------------------------------------------------------------------------


def container_processes(cluster_dir: Path) -> dict[Path, str]:
    """The kubelet's records of container processes: pid file -> "<pid> <start time>"."""
    found: dict[Path, str] = {}
    for path in (cluster_dir / "kubelet" / "pods").glob("*/containers/*/*/pid"):
        with contextlib.suppress(OSError):
            found[path] = path.read_text().strip()
    return found


def process_alive(record: str) -> bool:
    """Whether the process of a pid-file record ("<pid> <start time>") still runs (pid reuse told apart)."""
    pid_text, _, started = record.partition(" ")
    try:
        fields = Path(f"/proc/{int(pid_text)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return False
    return not started or fields[19] == started


async def wait_for(
    probe: Callable[[], Awaitable[bool]],
    timeout: float,
    interval: float = 0.5,
    cancel: asyncio.Event | None = None,
) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ApiError):
            if await probe():
                return True
        if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
            return False
        await asyncio.sleep(interval)


# -- the demo ------------------------------------------------------------------------------------------


class Demo:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.directory = Path(args.dir).resolve()
        self.example_path = Path(args.example).absolute()
        self.namespace = "default"
        self.signals = StopSignal()
        self.cluster: SandboxCluster | None = None
        self.operator: Operator | None = None
        self.kube: Kube | None = None
        self.applied: JSON | None = None
        self.processes: dict[Path, str] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self) -> int:
        self.signals.install()
        self.signals.on_signal = self._on_signal
        try:
            try:
                return await self._run()
            finally:
                await self._clean_up()
        finally:
            self.signals.uninstall()

    def _on_signal(self, count: int) -> None:
        if count == 1:
            self.console.step("stopping (Ctrl-C again to skip waiting for a clean shutdown of Flink)")
        elif count == 2:
            self.console.step("not waiting for Flink any more; stopping the cluster")

    async def _run(self) -> int:
        document = load_example(self.example_path, self.namespace)
        name = str(document["metadata"]["name"])
        namespace = str(document["metadata"]["namespace"])
        application = bool((document.get("spec") or {}).get("job"))
        cluster = SandboxCluster(self.directory, port=int(self.args.port))
        image = (document.get("spec") or {}).get("image")
        if image:
            try:
                ImageRegistry(cluster.images_root).resolve(str(image))
            except ImageNotFound as error:
                raise DemoFailed(
                    f"the sandbox cannot run {error} (`make setup` installs its images)"
                ) from None
        try:
            await self._start_cluster(cluster)
            await self._start_operator()
        except Interrupted:
            return 130
        assert self.cluster is not None and self.kube is not None
        kube = self.kube

        follower = Follower(kube, self.console, namespace, name, application)
        loop = asyncio.get_running_loop()
        self._tasks += [
            loop.create_task(follower.follow_status(), name="demo-status"),
            loop.create_task(follower.follow_pods(), name="demo-pods"),
        ]
        account = (document.get("spec") or {}).get("serviceAccount")
        if account:
            await ensure_service_account(kube, str(account), namespace)
        self.applied = await apply(kube, document)
        shown = self._shown_path(self.example_path)
        self.console.step(f"applied {shown}: flinkdeployment.flink.apache.org/{name}")

        timeout = float(self.args.timeout)
        started = time.monotonic()
        try:
            await self.signals.race(asyncio.wait_for(follower.stable.wait(), timeout))
        except Interrupted:
            return 130
        except TimeoutError:
            await self._report_timeout(kube, follower, namespace, name, timeout)
            return 1
        elapsed = time.monotonic() - started
        what = "STABLE with the job RUNNING" if application else "STABLE"
        self.console.step(f"FlinkDeployment {name} is {what}, {elapsed:.0f} s after it was applied")
        self.processes.update(container_processes(self.cluster.directory))

        try:
            await self.signals.race(self._explore(kube, namespace, name, application))
        except Interrupted:
            return 0
        if self.args.until_stable:
            return 0
        self.console.line()
        self.console.line("Press Ctrl-C to delete the FlinkDeployment and stop the operator and the cluster.")
        await self.signals.requested.wait()
        return 0

    async def _start_cluster(self, cluster: SandboxCluster) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.console.step(f"starting the sandbox cluster in {self._shown_path(self.directory)}")

        if another_cluster_running():
            self.console.step("another sandbox cluster runs on this machine (one at a time): waiting for it")
        await self.signals.race(cluster.start())
        self.cluster = cluster
        self._closers.append(self._stop_cluster)
        assert cluster.apiserver is not None
        self.console.step(f"sandbox cluster up: API server {cluster.apiserver.url}")

    async def _stop_cluster(self) -> None:
        assert self.cluster is not None
        await self.cluster.stop()

    async def _start_operator(self) -> None:
        assert self.cluster is not None
        conf_dir = write_operator_conf(
            self.directory / "operator", operator_configuration(self.cluster.images_root)
        )
        try:
            config = load_operator_config(conf_dir)
            check_startup(config)
        except ConfigError as error:
            raise DemoFailed(f"the operator configuration in {conf_dir}: {error}") from None
        user_client = await new_api_client(str(self.cluster.kubeconfig))
        self._closers.append(user_client.close)
        self.kube = Kube(user_client, field_manager="kubectl")
        operator_client = await new_api_client(str(self.cluster.kubeconfig))
        self._closers.append(operator_client.close)
        operator = Operator(
            Kube(operator_client, field_manager="flinkop-operator"),
            config,
            in_cluster=False,
            operator_namespace=self.namespace,
            watch_config=True,
            conf_dir=str(conf_dir),
        )
        await operator.start()
        self.operator = operator
        self._closers.append(operator.stop)
        self.console.step(
            f"operator started (configuration {self._shown_path(conf_dir / 'config.yaml')}), "
            "reaching Flink through the API server's service proxy"
        )

    async def _explore(self, kube: Kube, namespace: str, name: str, application: bool) -> None:
        assert self.cluster is not None and self.cluster.apiserver is not None
        api = self.cluster.apiserver.url.rstrip("/")
        # The trailing slash matters: the UI's page loads its scripts and styles by relative paths.
        ui = f"{api}/api/v1/namespaces/{namespace}/services/{name}-rest:8081/proxy/"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            try:
                problems = await check_ui(session, ui)
            except (aiohttp.ClientError, TimeoutError) as error:
                problems = [repr(error)]
        if problems:
            self.console.step("the Flink UI did not load through the proxy: " + "; ".join(problems))
        else:
            self.console.step("the Flink UI loads through the API server proxy (page, scripts, styles)")
        tm_pod = await self._first_taskmanager(kube, namespace, name) if application else None
        state_line = await self._state_line(kube, namespace, tm_pod) if tm_pod else None
        kubeconfig = self.cluster.kubeconfig
        c = self.console
        c.line()
        c.line("Explore it (in another terminal):")
        c.line(f"  export KUBECONFIG={kubeconfig}")
        c.line("  kubectl get flinkdeployments")
        c.line("  kubectl get pods")
        if tm_pod:
            c.line(f"  kubectl logs -f {tm_pod}      # the job's state lines")
            if state_line:
                c.line(f"      e.g. {state_line}")
        c.line(f"  kubectl describe flinkdeployment {name}")
        c.line()
        c.line(f"Flink UI: {ui}")
        c.line(f"Logs of the cluster and the operator: {self.directory / 'demo.log'}")

    async def _first_taskmanager(self, kube: Kube, namespace: str, name: str) -> str | None:
        selector = f"app={name},component=taskmanager"
        found: list[str] = []

        async def probe() -> bool:
            pods = (await kube.list(PODS, namespace, label_selector=selector)).get("items") or []
            found[:] = sorted(p["metadata"]["name"] for p in pods)
            return bool(found)

        await wait_for(probe, 30)
        return found[0] if found else None

    async def _state_line(self, kube: Kube, namespace: str, pod: str) -> str | None:
        """A line the job printed on the TaskManager (the container log through the API server)."""
        line: list[str] = []

        async def probe() -> bool:
            answer = await kube.session.get(
                f"{kube.api_client.configuration.host}{PODS.path(namespace, pod, 'log')}",
                params={"tailLines": "50"},
            )
            async with answer:
                if answer.status != 200:
                    return False
                text = await answer.text(errors="replace")
            found = [ln for ln in text.splitlines() if ln.startswith("flinkop-state ")]
            if found:
                line[:] = [found[-1]]
            return bool(found)

        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            await wait_for(probe, 20)
        return line[0] if line else None

    async def _report_timeout(
        self, kube: Kube, follower: Follower, namespace: str, name: str, timeout: float
    ) -> None:
        lifecycle, jm, job = _summary(follower.last_status)
        error = follower.last_status.get("error")
        detail = f"; status.error: {error_message(str(error))}" if error else ""
        self.console.step(
            f"FAILED: FlinkDeployment {name} did not reach STABLE with the job RUNNING "
            f"within {timeout:.0f} s (lifecycle {lifecycle}, JobManager {jm}, job {job}){detail}"
        )
        with contextlib.suppress(ApiError):
            selector = f"involvedObject.name={name}"
            events = (await kube.list(EVENTS, namespace, field_selector=selector)).get("items") or []
            for event in events:
                if event.get("type") == "Warning":
                    self.console.line(f"  Warning {event.get('reason')}: {event.get('message')}")
        self.console.line(f"  logs of the cluster and the operator: {self.directory / 'demo.log'}")

    # -- clean-up ----------------------------------------------------------------------------------------
    async def _clean_up(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.applied is not None and self.kube is not None:
            await self._delete_example(self.kube)
        if self.cluster is not None:
            self.processes.update(container_processes(self.cluster.directory))
            self.console.step("stopping the operator and the sandbox cluster")
        for close in reversed(self._closers):
            try:
                await close()
            except Exception as error:  # keep closing the rest
                self.console.step(f"while stopping: {error!r}")
        if self.cluster is not None:
            left = [r for r in self.processes.values() if process_alive(r)]
            if left:
                self.console.step(f"WARNING: {len(left)} container process(es) still running: {left}")
            else:
                self.console.step("stopped; no process left")

    async def _delete_example(self, kube: Kube) -> None:
        assert self.applied is not None and self.cluster is not None
        meta = self.applied["metadata"]
        name, namespace = str(meta["name"]), str(meta["namespace"])
        self.console.step(f"deleting FlinkDeployment {name} (the operator deletes its Flink cluster)")
        try:
            await kube.delete(FLINK_DEPLOYMENTS, name, namespace)
        except NotFound:
            pass
        except ApiError as error:
            self.console.step(f"could not delete FlinkDeployment {name}: {error}")
            return
        started = time.monotonic()

        async def gone() -> bool:
            try:
                await kube.get(FLINK_DEPLOYMENTS, name, namespace)
                return False
            except NotFound:
                pass
            pods = await kube.list(PODS, namespace, label_selector=f"app={name}")
            return not pods.get("items")

        if not await wait_for(gone, DELETE_TIMEOUT, cancel=self.signals.forced):
            self.console.step(f"FlinkDeployment {name} not gone; the cluster's stop takes its pods down")
            return
        self.processes.update(container_processes(self.cluster.directory))

        async def no_process() -> bool:
            return not any(process_alive(r) for r in self.processes.values())

        await wait_for(no_process, PROCESS_TIMEOUT, interval=0.25, cancel=self.signals.forced)
        self.console.step(
            f"FlinkDeployment {name} and its Flink cluster deleted ({time.monotonic() - started:.0f} s)"
        )

    @staticmethod
    def _shown_path(path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"state directory (default {DEFAULT_DIR})")
    parser.add_argument(
        "--port", type=int, default=0, help="API server port on 127.0.0.1 (0 picks a free one)"
    )
    parser.add_argument(
        "--example",
        default=str(DEFAULT_EXAMPLE),
        help="the FlinkDeployment to apply (default examples/basic.yaml)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to reach STABLE before giving up (default {DEFAULT_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--until-stable",
        action="store_true",
        help="clean up and exit 0 once STABLE and the commands are printed (no Ctrl-C needed)",
    )
    parser.add_argument("--log-level", default="INFO", help="level of the logs in <dir>/demo.log")


def run(args: argparse.Namespace) -> int:
    console = Console()
    directory = Path(args.dir).resolve()
    log_stream = configure_file_logging(directory / "demo.log", args.log_level)
    try:
        return asyncio.run(Demo(args, console).run())
    except (DemoFailed, RuntimeError, ApiError) as error:  # RuntimeError: e.g. no network namespaces here
        console.line(f"flinkop demo: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        log_stream.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="flinkop demo", description="The sandbox cluster, the operator and examples/basic.yaml"
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


__all__ = ["add_arguments", "main", "run"]

if __name__ == "__main__":
    sys.exit(main())
