"""The Endpoints controller: one Endpoints object per Service with a selector, listing its pods.

As kube-controller-manager's (pkg/controller/endpoint), observed through the API:
- for a Service with a non-empty selector (and not ExternalName), an Endpoints of the same name and
  namespace with the Service's labels (plus `service.kubernetes.io/headless` for headless Services)
  and no owner; deleted when the Service goes;
- pods matching the selector that are not terminal, have an IP of the Service's IP family and are not
  being deleted (unless `publishNotReadyAddresses`) become addresses `{ip, hostname, nodeName,
  targetRef}`: ready ones (or all, with `publishNotReadyAddresses`) under `addresses`, the others under
  `notReadyAddresses`; `hostname` only for pods whose `subdomain` is the Service's name;
- each Service port becomes an endpoint port `{name, port, protocol, appProtocol}`, the port being a
  numeric `targetPort`, or the container port of that name and protocol (a pod without it is left out
  of that port); headless Services without ports list addresses without ports;
- addresses offering the same set of ports are packed into one subset (upstream's RepackSubsets);
- written only when subsets or labels change, with `endpoints.kubernetes.io/last-change-trigger-time`.

Approximated: upstream orders ports and subsets by a hash of their Go values; we order them by port
name/number and by their first address. The trigger time is the latest of the Service's creation and
the pods' Ready transitions rather than upstream's per-sync tracker. Endpoints are not truncated at
1000 addresses, and no leftover Endpoints of Services deleted while the controller was down are
removed at start.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog

from flinkop.runtime.cache import BY_NAMESPACE, object_key
from flinkop.runtime.client import Conflict, NotFound
from flinkop.runtime.controller import Controller, Result
from flinkop.runtime.informer import Handler, InformerFactory
from flinkop.runtime.kube import Kube
from flinkop.sandbox.controllers.common import (
    ENDPOINTS,
    PODS,
    SERVICES,
    Events,
    deep_copy,
    deleting,
    is_pod_ready,
    labels_of,
    map_selector_matches,
    meta,
    parse_time,
    pod_condition,
    pod_phase,
    rfc3339,
    split_key,
)

JSON = dict[str, Any]
HEADLESS = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"

log = structlog.get_logger("flinkop.sandbox.controllers.endpoints")


class EndpointsController:
    def __init__(self, kube: Kube, informers: InformerFactory, events: Events, *, workers: int = 5) -> None:
        self.kube = kube
        self.events = events
        self.services = informers.informer(SERVICES)
        self.pods = informers.informer(PODS)
        self.endpoints = informers.informer(ENDPOINTS)
        self.controller = Controller("endpoint", self.reconcile, workers=workers)
        self.controller.watch(self.services)
        self.pods.add_handler(
            Handler(on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)
        )
        # Someone deleted an Endpoints: put it back if its Service wants one.
        self.endpoints.add_handler(Handler(on_delete=self._endpoints_deleted))
        # Endpoints we wrote that the cache may not show yet (read-your-writes; updates of Endpoints
        # do not wake the controller, so a stale cached one would only make the next write conflict).
        self._written: dict[str, JSON] = {}

    # -- event handlers ------------------------------------------------------------------------------
    def _services_of(self, pod: JSON) -> list[str]:
        labels = labels_of(pod)
        return [
            object_key(svc)
            for svc in self.services.cache.by_index(BY_NAMESPACE, meta(pod).get("namespace") or "")
            if map_selector_matches((svc.get("spec") or {}).get("selector"), labels)
        ]

    def _endpoints_deleted(self, ep: JSON) -> None:
        key = object_key(ep)
        self._written.pop(key, None)
        self.controller.queue.add(key)

    def _current(self, key: str) -> JSON | None:
        cached = self.endpoints.cache.get(key)
        mine = self._written.get(key)
        if mine is None:
            return cached
        if cached is not None and _rv(cached) >= _rv(mine):
            del self._written[key]
            return cached
        return mine

    def _pod_changed(self, pod: JSON) -> None:
        for key in self._services_of(pod):
            self.controller.queue.add(key)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        labels_changed = labels_of(old) != labels_of(new)
        if not labels_changed and _endpoint_view(old) == _endpoint_view(new):
            return
        keys = set(self._services_of(new))
        if labels_changed:
            keys.update(self._services_of(old))
        for key in sorted(keys):
            self.controller.queue.add(key)

    # -- reconcile ----------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        namespace, name = split_key(key)
        bound = log.bind(service=key)
        svc = self.services.cache.get(key)
        if svc is None:
            self._written.pop(key, None)
            try:
                await self.kube.delete(ENDPOINTS, name, namespace)
                bound.info("deleted endpoints of a deleted service")
            except NotFound:
                pass
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return None  # no endpoints from us: those of selector-less services are managed by hand
        subsets, trigger = self._subsets(svc)
        labels = dict(labels_of(svc))
        if not _has_cluster_ip(svc):
            labels[HEADLESS] = ""
        current = self._current(key)
        if (
            current is not None
            and _same(current.get("subsets") or [], subsets)
            and labels_of(current) == labels
        ):
            return None
        body: JSON = (
            deep_copy(current)
            if current is not None
            else {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace}}
        )
        body["metadata"]["labels"] = labels
        annotations = dict(body["metadata"].get("annotations") or {})
        if trigger is not None:
            annotations[TRIGGER_TIME] = rfc3339_from(trigger)
        else:
            annotations.pop(TRIGGER_TIME, None)
        body["metadata"]["annotations"] = annotations
        if subsets:
            body["subsets"] = subsets
        else:
            body.pop("subsets", None)
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        written = await self._write(body, create=current is None)
        self._written[key] = written
        bound.info("endpoints written", ready=ready, not_ready=not_ready)
        return None

    async def _write(self, body: JSON, *, create: bool) -> JSON:
        """Create or replace; when the stored object is not the one we started from (a 409, or it is
        gone), start from the stored one once, as upstream's retry on the next sync would."""
        m = body["metadata"]
        for attempt in range(2):
            try:
                if create:
                    m.pop("resourceVersion", None)
                    return await self.kube.create(ENDPOINTS, body, m["namespace"])
                return await self.kube.replace(ENDPOINTS, body)
            except (Conflict, NotFound) as exc:
                if attempt:
                    raise
                if isinstance(exc, Conflict) and create and exc.reason != "AlreadyExists":
                    raise
                try:
                    stored = await self.kube.get(ENDPOINTS, m["name"], m["namespace"])
                except NotFound:
                    create = True
                    continue
                create = False
                m["resourceVersion"] = stored["metadata"]["resourceVersion"]
        raise AssertionError("unreachable")  # pragma: no cover

    def _subsets(self, svc: JSON) -> tuple[list[JSON], float | None]:
        spec = svc.get("spec") or {}
        selector = spec.get("selector") or {}
        publish = bool(spec.get("publishNotReadyAddresses"))
        ports = spec.get("ports") or []
        entries: list[tuple[JSON, JSON | None, bool]] = []
        trigger = parse_time(meta(svc).get("creationTimestamp"))
        namespace = meta(svc).get("namespace") or ""
        for pod in self.pods.cache.by_index(BY_NAMESPACE, namespace):
            if not map_selector_matches(selector, labels_of(pod)):
                continue
            if not _should_be_in_endpoints(pod, publish):
                continue
            address = _address(svc, pod)
            if address is None:
                continue
            changed = _pod_trigger_time(pod)
            if changed is not None and (trigger is None or changed > trigger):
                trigger = changed
            ready = publish or is_pod_ready(pod)
            if not ports:
                if not _has_cluster_ip(svc):
                    entries.append((address, None, ready))
                continue
            for service_port in ports:
                number = find_port(pod, service_port)
                if number is None:
                    continue
                entries.append((address, _endpoint_port(service_port, number), ready))
        return repack(entries), trigger


# -- pure helpers ------------------------------------------------------------------------------------------
def rfc3339_from(epoch: float) -> str:
    return rfc3339(datetime.fromtimestamp(epoch, UTC))


def _rv(obj: JSON) -> int:
    value = str(meta(obj).get("resourceVersion") or "")
    return int(value) if value.isdigit() else 0


def _has_cluster_ip(svc: JSON) -> bool:
    cluster_ip = (svc.get("spec") or {}).get("clusterIP")
    return bool(cluster_ip) and cluster_ip != "None"


def _should_be_in_endpoints(pod: JSON, include_terminating: bool) -> bool:
    if pod_phase(pod) in ("Succeeded", "Failed"):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not deleting(pod)


def _is_ipv6(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).version == 6
    except ValueError:
        return False


def _address(svc: JSON, pod: JSON) -> JSON | None:
    """The pod's address of the Service's IP family (upstream's podToEndpointAddressForService)."""
    spec = svc.get("spec") or {}
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]  # the API server backfills podIPs from podIP
    families = spec.get("ipFamilies") or []
    if families:
        want_v6 = families[0] == "IPv6"
    elif _has_cluster_ip(svc):
        want_v6 = _is_ipv6(str(spec.get("clusterIP")))
    else:
        want_v6 = _is_ipv6(str(status.get("podIP") or ""))
    ip = next((candidate for candidate in ips if _is_ipv6(candidate) == want_v6), None)
    if ip is None:
        return None
    m = meta(pod)
    pod_spec = pod.get("spec") or {}
    address: JSON = {"ip": ip}
    if pod_spec.get("hostname") and pod_spec.get("subdomain") == meta(svc).get("name"):
        address["hostname"] = pod_spec["hostname"]
    if pod_spec.get("nodeName"):
        address["nodeName"] = pod_spec["nodeName"]
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": m.get("namespace"),
        "name": m["name"],
        "uid": m.get("uid"),
    }
    return address


def find_port(pod: JSON, service_port: JSON) -> int | None:
    """The pod port a Service port targets: a number as is, a name looked up among the container ports
    (of the same protocol) of the containers and of restartable (sidecar) init containers."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if not isinstance(target, str):
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + [
        c
        for c in spec.get("initContainers") or []
        if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    ]
    for container in containers:
        for port in (container or {}).get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                number = port.get("containerPort")
                return int(number) if isinstance(number, int) else None
    return None


def _endpoint_port(service_port: JSON, number: int) -> JSON:
    port: JSON = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _pod_trigger_time(pod: JSON) -> float | None:
    ready = pod_condition(pod, "Ready")
    if ready is not None:
        when = parse_time(ready.get("lastTransitionTime"))
        if when is not None:
            return when
    return parse_time(meta(pod).get("creationTimestamp"))


def _endpoint_view(pod: JSON) -> tuple[Any, ...]:
    """What of a pod can change its endpoints (besides labels)."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    return (
        meta(pod).get("deletionTimestamp"),
        is_pod_ready(pod),
        pod_phase(pod) in ("Succeeded", "Failed"),
        status.get("podIP"),
        repr(status.get("podIPs")),
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
    )


def _address_key(address: JSON) -> tuple[str, str]:
    return (str(address.get("ip")), str((address.get("targetRef") or {}).get("uid") or ""))


def _port_key(port: JSON | None) -> tuple[Any, ...]:
    if port is None:
        return ("", -1, "", "")
    return (port.get("name", ""), port.get("port"), port.get("protocol", ""), port.get("appProtocol", ""))


def repack(entries: Sequence[tuple[JSON, JSON | None, bool]]) -> list[JSON]:
    """Pack (address, port, ready) entries into subsets: addresses offering exactly the same ports (with
    the same readiness) share a subset. An address not ready for one port is not ready for it."""
    addresses: dict[tuple[str, str], JSON] = {}
    ports: dict[tuple[Any, ...], JSON | None] = {}
    by_port: dict[tuple[Any, ...], dict[tuple[str, str], bool]] = {}
    for address, port, ready in entries:
        akey = _address_key(address)
        addresses.setdefault(akey, address)
        pkey = _port_key(port)
        ports.setdefault(pkey, port)
        readiness = by_port.setdefault(pkey, {})
        if readiness.get(akey, True):  # not ready trumps ready
            readiness[akey] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[tuple[Any, ...]]] = {}
    for pkey, readiness in by_port.items():
        groups.setdefault(frozenset(readiness.items()), []).append(pkey)
    subsets = []
    for members, pkeys in groups.items():
        ready_addrs = sorted((a for a, r in members if r))
        not_ready_addrs = sorted((a for a, r in members if not r))
        subset: JSON = {}
        if ready_addrs:
            subset["addresses"] = [addresses[a] for a in ready_addrs]
        if not_ready_addrs:
            subset["notReadyAddresses"] = [addresses[a] for a in not_ready_addrs]
        real_ports = [ports[p] for p in sorted(pkeys, key=_sortable_port) if ports[p] is not None]
        if real_ports:
            subset["ports"] = real_ports
        subsets.append(subset)
    subsets.sort(key=_subset_order)
    return subsets


def _sortable_port(pkey: tuple[Any, ...]) -> tuple[str, int, str, str]:
    name, number, protocol, app = pkey
    return (str(name), int(number) if isinstance(number, int) else -1, str(protocol), str(app))


def _subset_order(subset: JSON) -> tuple[tuple[str, str], list[tuple[str, int, str, str]]]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    return (_address_key(first), [_sortable_port(_port_key(p)) for p in subset.get("ports") or []])


def _same(current: list[JSON], wanted: list[JSON]) -> bool:
    """Subsets equal, ignoring the pods' resourceVersions in targetRefs (written by older controllers)."""

    def strip(subsets: list[JSON]) -> list[JSON]:
        out = deep_copy(subsets)
        for subset in out:
            for field in ("addresses", "notReadyAddresses"):
                for address in subset.get(field) or []:
                    (address.get("targetRef") or {}).pop("resourceVersion", None)
        return list(out)

    return strip(current) == strip(wanted)
