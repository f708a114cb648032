"""How to reach a Flink cluster's REST API.

* In the cluster: directly, `http://<name>-rest.<namespace>:<rest.port>`.
* Outside it (local development against a kubeconfig): through the API server's service proxy,
  `<api server>/api/v1/namespaces/<ns>/services/<name>-rest:<port>/proxy/...`, over the kubeconfig's
  ApiClient: its aiohttp session (TLS context, client certificates) and its credentials, refreshed for
  every request as `Kube` does (exec plugins and service account tokens rotate). No port-forward needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from flinkop.runtime.kube import Kube

HeadersProvider = Callable[[], Awaitable[dict[str, str]]]
SessionProvider = Callable[[], aiohttp.ClientSession]


def rest_service_name(name: str) -> str:
    """The REST Service of a Flink cluster (FlinkDeployment or session cluster) `name`."""
    return f"{name}-rest"


@dataclass(frozen=True)
class RestEndpoint:
    """A base URL plus, for the service proxy, the API server's session and credentials.

    `session` is None for a direct endpoint: the REST client then opens (and owns) its own session.
    """

    base_url: str
    description: str
    headers_provider: HeadersProvider | None = None
    session_provider: SessionProvider | None = None

    @classmethod
    def direct(cls, base_url: str) -> RestEndpoint:
        base = base_url.rstrip("/")
        return cls(base_url=base, description=base)

    @classmethod
    def via_service_proxy(cls, kube: Kube, namespace: str, service: str, port: int | str) -> RestEndpoint:
        host = str(kube.api_client.configuration.host or "").rstrip("/")
        proxy = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe='')}:{quote(str(port), safe='')}/proxy"
        )

        async def headers() -> dict[str, str]:
            return await kube._headers()

        return cls(
            base_url=host + proxy,
            description=f"service {namespace}/{service}:{port} through the API server {host}",
            headers_provider=headers,
            session_provider=lambda: kube.session,
        )

    @property
    def via_proxy(self) -> bool:
        return self.session_provider is not None

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def headers(self) -> dict[str, str]:
        return dict(await self.headers_provider()) if self.headers_provider is not None else {}

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self.session_provider() if self.session_provider is not None else None


def endpoint_for(kube: Kube, namespace: str, name: str, port: int, *, in_cluster: bool) -> RestEndpoint:
    """The REST endpoint of the Flink cluster `name` (its `<name>-rest` Service on `port`): direct when the
    operator runs in the cluster, else through the API server's service proxy."""
    service = rest_service_name(name)
    if in_cluster:
        return RestEndpoint.direct(f"http://{service}.{namespace}:{port}")
    return RestEndpoint.via_service_proxy(kube, namespace, service, port)


__all__ = ["RestEndpoint", "endpoint_for", "rest_service_name"]
