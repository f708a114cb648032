"""One Flink REST client per FlinkDeployment cluster, reused across reconciles.

In the cluster (``KUBERNETES_SERVICE_HOST`` set) a client talks to ``http://<name>-rest.<ns>:<port>``
directly; outside it, through the API server's service proxy with the kubeconfig's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from flinkop.flink.rest import FlinkRestClient, endpoint_for
from flinkop.runtime import Kube


class RestClients:
    def __init__(self, kube: Kube, *, in_cluster: bool, timeout: float = 10.0) -> None:
        self.kube = kube
        self.in_cluster = in_cluster
        self.timeout = timeout
        self._clients: dict[str, FlinkRestClient] = {}
        # given to every client: (method, path template, status or 0, seconds) of each REST call
        self.observer: Callable[[str, str, int, float], None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def client(self, namespace: str, name: str, port: int) -> FlinkRestClient:
        key = f"{namespace}/{name}"
        endpoint = endpoint_for(self.kube, namespace, name, port, in_cluster=self.in_cluster)
        existing = self._clients.get(key)
        if existing is not None and existing.endpoint.base_url == endpoint.base_url:
            existing.timeout = self.timeout
            existing.observer = self.observer
            return existing
        if existing is not None:
            self._close_later(existing)
        client = FlinkRestClient(endpoint, timeout=self.timeout)
        client.observer = self.observer
        self._clients[key] = client
        return client

    def forget(self, key: str) -> None:
        client = self._clients.pop(key, None)
        if client is not None:
            self._close_later(client)

    def _close_later(self, client: FlinkRestClient) -> None:
        try:
            task = asyncio.get_running_loop().create_task(client.close())
        except RuntimeError:  # no loop running: nothing was opened on one either
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


__all__ = ["RestClients"]
