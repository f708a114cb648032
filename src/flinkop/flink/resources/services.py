"""The two Services of a Flink cluster: ``<name>`` (headless, JobManager RPC and blob server) and
``<name>-rest`` (the REST API and web UI), as Flink's ``InternalServiceDecorator`` /
``ExternalServiceDecorator`` build them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flinkop.flink.resources import keys
from flinkop.flink.resources.naming import (
    BLOB_SERVER_PORT_NAME,
    CORE_API_VERSION,
    JOB_MANAGER_RPC_PORT_NAME,
    REST_PORT_NAME,
    internal_service_name,
    rest_service_name,
)
from flinkop.flink.resources.options import FlinkConf
from flinkop.flink.resources.pods import blob_server_port, rest_bind_port, rest_port, rpc_port

HEADLESS_CLUSTER_IP = "None"


def internal_service(
    cluster_id: str,
    namespace: str,
    conf: FlinkConf,
    *,
    labels: Mapping[str, str],
    selectors: Mapping[str, str],
) -> dict[str, Any]:
    """Headless Service ``<name>``: ports ``jobmanager-rpc`` and ``blobserver``."""
    return {
        "apiVersion": CORE_API_VERSION,
        "kind": "Service",
        "metadata": {
            "name": internal_service_name(cluster_id),
            "namespace": namespace,
            "labels": dict(labels),
        },
        "spec": {
            "clusterIP": HEADLESS_CLUSTER_IP,
            "selector": dict(selectors),
            "ports": [
                {"name": JOB_MANAGER_RPC_PORT_NAME, "port": rpc_port(conf)},
                {"name": BLOB_SERVER_PORT_NAME, "port": blob_server_port(conf)},
            ],
        },
    }


def rest_service(
    cluster_id: str,
    namespace: str,
    conf: FlinkConf,
    *,
    labels: Mapping[str, str],
    selectors: Mapping[str, str],
) -> dict[str, Any]:
    """Service ``<name>-rest``: port ``rest`` (``rest.port``, target ``rest.bind-port``), type from
    ``kubernetes.rest-service.exposed.type`` (``Headless_ClusterIP`` = ClusterIP with clusterIP None)."""
    exposed = conf.get_str(keys.REST_SERVICE_EXPOSED_TYPE, "ClusterIP")
    metadata: dict[str, Any] = {
        "name": rest_service_name(cluster_id),
        "namespace": namespace,
        "labels": dict(labels),
    }
    annotations = conf.get_map(keys.REST_SERVICE_ANNOTATIONS)
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"type": "ClusterIP" if exposed == "Headless_ClusterIP" else exposed}
    if exposed == "Headless_ClusterIP":
        spec["clusterIP"] = HEADLESS_CLUSTER_IP
    spec["selector"] = dict(selectors)
    spec["ports"] = [{"name": REST_PORT_NAME, "port": rest_port(conf), "targetPort": rest_bind_port(conf)}]
    return {"apiVersion": CORE_API_VERSION, "kind": "Service", "metadata": metadata, "spec": spec}
