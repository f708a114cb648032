"""The sandbox API server: in-process (`async with SandboxApiServer() as api`) or from the CLI."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
import yaml
from aiohttp import web

from flinkop.sandbox.apiserver.controllers import Controllers
from flinkop.sandbox.apiserver.faults import FaultRule, Faults
from flinkop.sandbox.apiserver.handlers import Handlers, json_response
from flinkop.sandbox.apiserver.objects import Objects
from flinkop.sandbox.apiserver.proxy import Proxy
from flinkop.sandbox.apiserver.resources import Registry
from flinkop.sandbox.apiserver.store import Store
from flinkop.sandbox.apiserver.tls import ServingCertificate

JSON = dict[str, Any]
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class SandboxApiServer:
    """A local Kubernetes API server over real HTTP (and optionally HTTPS)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        history_size: int = 1000,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        gc: bool = True,
        established_delay: float = 0.05,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.tls = (tls_cert, tls_key) if tls_cert and tls_key else None
        self.log = structlog.get_logger("flinkop.sandbox.apiserver")
        self.registry = Registry.with_builtins()
        self.store = Store(history_size=history_size)
        for rtype in self.registry.all():
            self.store.ensure(rtype.storage_key)
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None
        pods = self.registry.get("", "v1", "pods")
        assert pods is not None
        self.objects = Objects(self.store, namespaces, pods)
        self.proxy = Proxy(self)
        self.controllers = Controllers(
            self.store, self.registry, self.objects, gc_enabled=gc, established_delay=established_delay
        )
        self.faults = Faults()
        self.handlers = Handlers(self)
        self.watches_open = 0
        self._runner: web.AppRunner | None = None
        self._secure_listeners: list[tuple[str, int, ServingCertificate]] = []
        self.secure_urls: list[str] = []
        for ns in DEFAULT_NAMESPACES:
            self.objects.create(namespaces, None, {"metadata": {"name": ns}}, field_manager="kube-apiserver")
        services = self.registry.get("", "v1", "services")
        assert services is not None
        self.objects.create(
            services,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                    "clusterIP": "10.96.0.1",
                },
            },
            field_manager="kube-apiserver",
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> SandboxApiServer:
        app = web.Application(client_max_size=64 * 1024 * 1024, handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self.handlers.dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        self.port = await self._listen(self.host, self.port, context)
        for host, port, cert in self._secure_listeners:
            secure = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            secure.load_cert_chain(str(cert.cert), str(cert.key))
            bound = await self._listen(host, port, secure)
            self.secure_urls.append(f"https://{host}:{bound}")
        self.controllers.start()
        self.log.info("sandbox API server listening", url=self.url)
        return self

    async def _listen(self, host: str, port: int, context: ssl.SSLContext | None) -> int:
        assert self._runner is not None
        site = web.TCPSite(self._runner, host, port, ssl_context=context)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1])

    def add_secure_listener(self, host: str, port: int, certificate: ServingCertificate) -> None:
        """Also serve HTTPS on host:port (e.g. the pod network's gateway for in-cluster clients)."""
        self._secure_listeners.append((host, port, certificate))

    async def stop(self) -> None:
        self.store.drop_watches()
        await self.controllers.stop()
        await self.proxy.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxApiServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def kubeconfig(self, namespace: str = "default") -> JSON:
        cluster: JSON = {"server": self.url}
        if self.tls:
            cluster["insecure-skip-tls-verify"] = True
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "sandbox",
            "preferences": {},
            "clusters": [{"name": "sandbox", "cluster": cluster}],
            "users": [{"name": "sandbox", "user": {"token": "sandbox"}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": namespace},
                }
            ],
        }

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(namespace), sort_keys=False))
        return target

    # -- test controls (also served under /sandbox/) ----------------------------------------------------
    def drop_watches(self) -> int:
        return self.store.drop_watches()

    def compact(self) -> int:
        return self.store.compact()

    def add_fault(self, **rule: Any) -> FaultRule:
        return self.faults.add(FaultRule(**rule))

    def clear_faults(self) -> None:
        self.faults.clear()

    def stats(self) -> JSON:
        return {
            "resourceVersion": self.store.rv,
            "objects": self.store.count(),
            "watchers": self.store.watcher_count(),
            "faults": [r.describe() for r in self.faults.rules],
        }

    async def control(self, request: web.Request) -> web.StreamResponse:
        """`/sandbox/...`: compaction, dropped watches, fault rules; not part of the Kubernetes API."""
        action = request.path[len("/sandbox/") :].strip("/")
        if action == "stats" and request.method == "GET":
            return json_response(self.stats())
        if action == "watches/drop" and request.method == "POST":
            return json_response({"dropped": self.drop_watches()})
        if action == "compact" and request.method == "POST":
            return json_response({"resourceVersion": str(self.compact())})
        if action == "faults" and request.method == "POST":
            try:
                spec = json.loads(await request.read() or b"{}")
                rule = self.add_fault(**{_snake(k): v for k, v in spec.items()})
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(rule.describe(), 201)
        if action == "faults" and request.method == "DELETE":
            self.clear_faults()
            return json_response({"cleared": True})
        if action == "faults" and request.method == "GET":
            return json_response([r.describe() for r in self.faults.rules])
        return json_response({"error": f"unknown sandbox control {request.method} {request.path}"}, 404)


def _snake(name: str) -> str:
    return {"retryAfter": "retry_after"}.get(name, name)
