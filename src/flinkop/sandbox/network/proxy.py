"""kube-proxy in userspace mode, plus cluster DNS through each pod's hosts file.

Every Service with a cluster IP gets that IP on the pod bridge (`ip addr add <ip>/32`) and an asyncio
TCP listener per service port; each accepted connection is spliced to one ready endpoint (round robin
over the Endpoints object's addresses for the port's name). The `kubernetes` Service in `default`
forwards to the API server's own listener when `api_server` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import structlog

from flinkop.runtime.cache import object_key
from flinkop.runtime.informer import Handler, SharedInformer
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.network.etcfiles import HostsEntry
from flinkop.sandbox.network.pods import PodNetwork, PodSandbox

JSON = dict[str, Any]
SERVICES = Resource("", "v1", "services", kind="Service")
ENDPOINTS = Resource("", "v1", "endpoints", kind="Endpoints")
API_SERVICE = "default/kubernetes"
CHUNK = 64 * 1024

PortKey = tuple[str, str]  # (service "namespace/name", service port name)
Backend = tuple[str, int]  # (address, port)
Bind = tuple[str, int]  # (cluster IP, service port)

log = structlog.get_logger("flinkop.sandbox.network.proxy")


@dataclass(frozen=True, order=True)
class NameRecord:
    """One hosts line: `address label[.label].namespace.svc.<domain> ...`."""

    namespace: str
    labels: tuple[str, ...]
    address: str


@dataclass
class _Plan:
    addresses: dict[str, str] = field(default_factory=dict)  # cluster IP -> service key
    binds: dict[Bind, PortKey] = field(default_factory=dict)
    backends: dict[PortKey, list[Backend]] = field(default_factory=dict)
    records: list[NameRecord] = field(default_factory=list)


@dataclass
class _Listener:
    bind: Bind
    server: asyncio.Server
    connections: set[asyncio.Task[Any]] = field(default_factory=set)


class ServiceProxy:
    """Service cluster IPs and ports on the pod network, and the cluster names in pods' hosts files."""

    def __init__(
        self,
        kube: Kube,
        network: PodNetwork,
        *,
        cluster_domain: str = "cluster.local",
        api_server: tuple[str, int] | None = None,
        debounce: float = 0.05,
        connect_timeout: float = 5.0,
        retry_interval: float = 2.0,
        sync_timeout: float = 30.0,
    ) -> None:
        self.kube = kube
        self.network = network
        self.cluster_domain = cluster_domain
        self.api_server = api_server
        self.debounce = debounce
        self.connect_timeout = connect_timeout
        self.retry_interval = retry_interval
        self.sync_timeout = sync_timeout
        self._services: SharedInformer | None = None
        self._endpoints: SharedInformer | None = None
        self._listeners: dict[Bind, _Listener] = {}
        self._addresses: set[str] = set()
        self._binds: dict[Bind, PortKey] = {}
        self._backends: dict[PortKey, list[Backend]] = {}
        self._round_robin: dict[PortKey, int] = {}
        self._records: list[NameRecord] = []
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._retry_delay = retry_interval
        self._sync_lock = asyncio.Lock()
        self.syncs = 0
        self.log = log.bind(bridge=network.bridge)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the informers, wait for their first list and apply it before returning."""
        if self._task is not None:
            return
        if not self.network.started:
            raise RuntimeError("ServiceProxy needs a started PodNetwork")
        handler = Handler(
            on_add=self._changed, on_update=lambda _old, new: self._changed(new), on_delete=self._changed
        )
        self._services = SharedInformer(self.kube, SERVICES)
        self._endpoints = SharedInformer(self.kube, ENDPOINTS)
        for informer in (self._services, self._endpoints):
            informer.add_handler(handler)
            informer.start()
        synced = await asyncio.gather(
            self._services.wait_for_sync(self.sync_timeout), self._endpoints.wait_for_sync(self.sync_timeout)
        )
        if not all(synced):
            await self._stop_informers()
            raise RuntimeError(f"service proxy: Services/Endpoints not listed within {self.sync_timeout}s")
        self.network.set_hosts_provider(self.hosts_entries)
        self._dirty.clear()
        if not await self._sync_logged():
            self._schedule_retry()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="service proxy")
        self.log.info("service proxy started", services=len(self._services.cache))

    async def stop(self) -> None:
        """Close every listener and connection, remove the cluster IPs, reset the hosts files."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_informers()
        await asyncio.gather(*(self._close_listener(bind) for bind in list(self._listeners)))
        for address in sorted(self._addresses):
            try:
                await self.network.remove_address(address)
            except Exception:
                self.log.exception("cannot remove service address", address=address)
        self._addresses.clear()
        self._binds, self._backends, self._records = {}, {}, []
        self.network.set_hosts_provider(None)
        self.network.refresh_hosts()
        self.log.info("service proxy stopped")

    async def _stop_informers(self) -> None:
        for informer in (self._services, self._endpoints):
            if informer is not None:
                await informer.stop()
        self._services = self._endpoints = None

    # -- introspection -----------------------------------------------------------------------------
    def listening(self) -> set[Bind]:
        return set(self._listeners)

    def backends(self, namespace: str, name: str, port_name: str = "") -> list[Backend]:
        return list(self._backends.get((f"{namespace}/{name}", port_name), ()))

    def records(self) -> list[NameRecord]:
        return list(self._records)

    # -- change handling ---------------------------------------------------------------------------
    def _changed(self, _obj: JSON | None = None) -> None:
        self._dirty.set()

    def _schedule_retry(self) -> None:
        """Retry a failed sync later, backing off (doubling up to 30 s) while it keeps failing."""
        if self._retry is None:
            loop = asyncio.get_running_loop()
            self._retry = loop.call_later(self._retry_delay, self._retry_now)
            self._retry_delay = min(30.0, self._retry_delay * 2)

    def _retry_now(self) -> None:
        self._retry = None
        self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.debounce)  # one sync for a burst of changes
            self._dirty.clear()
            if not await self._sync_logged():
                self._schedule_retry()

    async def _sync_logged(self) -> bool:
        try:
            ok = await self.sync()
        except Exception:
            self.log.exception("service proxy sync failed")
            ok = False
        if ok:
            self._retry_delay = self.retry_interval
        return ok

    async def sync(self) -> bool:
        """Make addresses, listeners, backends and hosts files match the caches now.

        Returns False when something could not be applied (it is retried later)."""
        async with self._sync_lock:
            return await self._apply(self._plan())

    async def _apply(self, plan: _Plan) -> bool:
        ok = True
        for bind in [b for b in self._listeners if b not in plan.binds]:
            await self._close_listener(bind)
        self._binds = plan.binds
        self._backends = plan.backends
        for key in [k for k in self._round_robin if k not in plan.backends]:
            del self._round_robin[key]
        for address in sorted(self._addresses - set(plan.addresses)):
            try:
                await self.network.remove_address(address)
                self._addresses.discard(address)
                self.log.info("service address removed", address=address)
            except Exception as exc:
                ok = False
                self.log.error("cannot remove service address", address=address, error=str(exc))
        for address, service in sorted(plan.addresses.items()):
            if address in self._addresses:
                continue
            self._addresses.add(address)  # before the attempt: stop() removes it even if cancelled midway
            try:
                await self.network.add_address(address)
                self.log.info("service address added", address=address, service=service)
            except Exception as exc:
                self._addresses.discard(address)
                ok = False
                self.log.error("cannot add service address", address=address, service=service, error=str(exc))
        for bind, target in sorted(plan.binds.items()):
            if bind in self._listeners or bind[0] not in self._addresses:
                continue
            try:
                await self._open_listener(bind)
                self.log.info("service port listening", address=bind[0], port=bind[1], service=target[0])
            except OSError as exc:
                ok = False
                self.log.error(
                    "cannot listen on service port",
                    address=bind[0],
                    port=bind[1],
                    service=target[0],
                    error=str(exc),
                )
        self._records = plan.records
        self.network.refresh_hosts()
        self.syncs += 1
        return ok

    # -- the desired state -------------------------------------------------------------------------
    def _plan(self) -> _Plan:
        plan = _Plan()
        if self._services is None or self._endpoints is None:
            return plan
        records: set[NameRecord] = set()
        for svc in sorted(self._services.cache.values(), key=object_key):
            meta = svc.get("metadata") or {}
            spec = svc.get("spec") or {}
            namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
            key = f"{namespace}/{name}"
            if spec.get("type") == "ExternalName":
                continue
            endpoints = self._endpoints.cache.get(key) or {}
            subsets = [s for s in endpoints.get("subsets") or [] if isinstance(s, dict)]
            cluster_ip = spec.get("clusterIP")
            if cluster_ip == "None":
                with_not_ready = bool(spec.get("publishNotReadyAddresses"))
                for subset in subsets:
                    addresses = list(subset.get("addresses") or [])
                    if with_not_ready:
                        addresses += subset.get("notReadyAddresses") or []
                    for address in addresses:
                        ip = _ipv4(address.get("ip"))
                        if ip is None:
                            continue
                        records.add(NameRecord(namespace, (name,), ip))
                        hostname = address.get("hostname")
                        if isinstance(hostname, str) and hostname:
                            records.add(NameRecord(namespace, (hostname, name), ip))
                continue
            ip = _ipv4(cluster_ip)
            if ip is None:
                continue
            plan.addresses[ip] = key
            records.add(NameRecord(namespace, (name,), ip))
            ports = [
                p
                for p in spec.get("ports") or []
                if isinstance(p, dict) and (p.get("protocol") or "TCP") == "TCP" and _port(p.get("port"))
            ]
            for port in ports:
                port_key = (key, str(port.get("name") or ""))
                plan.binds[(ip, _port(port.get("port")))] = port_key
                if key == API_SERVICE and self.api_server is not None:
                    plan.backends[port_key] = [self.api_server]
                else:
                    plan.backends[port_key] = _endpoint_backends(subsets, port_key[1], len(ports) == 1)
        plan.records = sorted(records)
        return plan

    def hosts_entries(self, sandbox: PodSandbox) -> list[HostsEntry]:
        """The cluster names for one pod's hosts file (short names only for its own namespace)."""
        domain = self.cluster_domain
        entries: list[HostsEntry] = []
        for record in self._records:
            base = ".".join(record.labels)
            names = [f"{base}.{record.namespace}.svc.{domain}", f"{base}.{record.namespace}.svc"]
            names.append(f"{base}.{record.namespace}")
            if record.namespace == sandbox.namespace:
                names.append(base)
            entries.append((record.address, names))
        return entries

    # -- listeners and connections -----------------------------------------------------------------
    async def _open_listener(self, bind: Bind) -> None:
        address, port = bind

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._connection(bind, reader, writer)

        server = await asyncio.start_server(
            accepted, host=address, port=port, reuse_address=True, backlog=512
        )
        self._listeners[bind] = _Listener(bind, server)

    async def _close_listener(self, bind: Bind) -> None:
        listener = self._listeners.pop(bind, None)
        if listener is None:
            return
        listener.server.close()
        for task in listener.connections:
            task.cancel()
        await asyncio.gather(*listener.connections, return_exceptions=True)
        await listener.server.wait_closed()
        self.log.info("service port closed", address=bind[0], port=bind[1])

    async def _connection(
        self, bind: Bind, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Splice one accepted connection to a backend; reset it when there is none.

        Cancellation (the listener closing) ends the connection; it is not re-raised because the
        stream server's callback of Python 3.11 treats a cancelled handler task as an error."""
        listener = self._listeners.get(bind)
        task = asyncio.current_task()
        if listener is not None and task is not None:
            listener.connections.add(task)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            target = self._binds.get(bind)
            backends = list(self._backends.get(target, ())) if target is not None else []
            if backends and target is not None:
                first = self._round_robin.get(target, 0)
                self._round_robin[target] = first + 1
                for i in range(len(backends)):
                    host, port = backends[(first + i) % len(backends)]
                    try:
                        upstream = await asyncio.wait_for(
                            asyncio.open_connection(host, port), self.connect_timeout
                        )
                        break
                    except (OSError, TimeoutError) as exc:
                        self.log.warning(
                            "endpoint unreachable",
                            service=target[0],
                            endpoint=f"{host}:{port}",
                            error=str(exc),
                        )
            if upstream is None:
                self.log.debug("no endpoint: connection reset", address=bind[0], port=bind[1])
                _reset(writer)
                return
            await _splice(reader, writer, *upstream)
        except asyncio.CancelledError:
            _reset(writer)
            if upstream is not None:
                _reset(upstream[1])
        except Exception:
            self.log.exception("proxied connection failed", address=bind[0], port=bind[1])
            _reset(writer)
        finally:
            if listener is not None and task is not None:
                listener.connections.discard(task)


def _endpoint_backends(subsets: list[JSON], port_name: str, single_port: bool) -> list[Backend]:
    """Ready addresses x the subset port named like the service port (any lone port for a
    single-port service, as hand-written Endpoints often leave the name out)."""
    backends: list[Backend] = []
    for subset in subsets:
        ports = [
            p
            for p in subset.get("ports") or []
            if isinstance(p, dict) and (p.get("protocol") or "TCP") == "TCP" and _port(p.get("port"))
        ]
        match = [p for p in ports if str(p.get("name") or "") == port_name]
        if not match and single_port and len(ports) == 1:
            match = ports
        if not match:
            continue
        port = _port(match[0].get("port"))
        for address in subset.get("addresses") or []:
            ip = _ipv4(address.get("ip")) if isinstance(address, dict) else None
            if ip is not None and (ip, port) not in backends:
                backends.append((ip, port))
    return backends


def _ipv4(value: Any) -> str | None:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return None


def _port(value: Any) -> int:
    return value if isinstance(value, int) and 0 < value < 65536 else 0


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the client sees the connection refused/reset, not a clean EOF."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    while data := await src.read(CHUNK):
        dst.write(data)
        await dst.drain()
    if dst.can_write_eof() and not dst.is_closing():
        dst.write_eof()  # half-close: the other side still may answer


async def _splice(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until both sides have sent EOF; an error on either side resets both."""
    loop = asyncio.get_running_loop()
    pumps = [
        loop.create_task(_pump(client_reader, upstream_writer)),
        loop.create_task(_pump(upstream_reader, client_writer)),
    ]
    failed = False
    try:
        done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
        failed = any(not t.cancelled() and t.exception() is not None for t in done)
    except asyncio.CancelledError:
        failed = True
        raise
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for writer in (client_writer, upstream_writer):
            if failed:
                _reset(writer)
            else:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
