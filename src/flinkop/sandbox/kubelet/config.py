"""The kubelet's settings."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KubeletConfig:
    state_dir: Path  # pods' volumes, logs and launch specs
    node_name: str = "sandbox"
    node_ip: str = "127.0.0.1"  # the node's InternalIP: where the API server reaches the log endpoint
    api_host: str | None = None  # KUBERNETES_SERVICE_HOST in pods (default: the pod network's gateway)
    api_port: int = 6443  # KUBERNETES_SERVICE_PORT in pods
    ca_file: Path | None = None  # ca.crt of the service-account volume (the API server's CA)
    log_port: int = 0  # the kubelet endpoint (containerLogs) on node_ip; 0 picks a free port
    backoff_base: float = 10.0  # container restart and image pull back-off: base..cap seconds
    backoff_cap: float = 300.0
    config_retry: float = 2.0  # retry interval for CreateContainerConfigError and volume setup
    volume_resync: float = 60.0  # periodic refresh of volumes (tokens, missed object updates)
    heartbeat_interval: float = 10.0  # node Lease renewal
    status_interval: float = 60.0  # node status update
    lease_duration: int = 40
    schedule: bool = True  # also run the default scheduler (binding pending pods to this node)
    python: str = sys.executable  # the interpreter that runs the container launcher
    cluster_domain: str = "cluster.local"
    # Benchmark mode (off by default): pods whose every container image matches one of these patterns
    # (fnmatch, e.g. "flink:*") run no process; one in-process Flink REST stub answers for them (stub.py).
    stub_images: tuple[str, ...] = ()
