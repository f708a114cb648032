"""From a pod's container, its image and its resolved environment to the launcher's spec: the command
line (Kubernetes' command/args over the image's ENTRYPOINT/CMD), the environment (the image's ENV under
the pod's), the working directory, the hostname and the mounts."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flinkop.sandbox.images import Image
from flinkop.sandbox.kubelet.env import expand
from flinkop.sandbox.kubelet.launch import LaunchSpec, Mount

JSON = dict[str, Any]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def pod_hostname(pod: JSON) -> str:
    """`spec.hostname`, else the pod name cut to 63 characters (as the kubelet does); the node's name
    for host-network pods."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return socket.gethostname()
    name = str(spec.get("hostname") or (pod.get("metadata") or {}).get("name") or "pod")
    return name[:63].rstrip("-.") or "pod"


def command_line(container: JSON, image: Image, env: Mapping[str, str]) -> list[str]:
    """command+args with `$(VAR)` expanded; the image's ENTRYPOINT/CMD fill in what is not given."""
    command = [expand(str(c), env) for c in container.get("command") or []]
    args = [expand(str(a), env) for a in container.get("args") or []]
    if command:
        return command + args
    return [*image.entrypoint, *(args if container.get("args") else image.cmd)]


def process_env(image: Image, hostname: str, pod_env: Mapping[str, str]) -> dict[str, str]:
    """The process environment: the image's ENV, HOSTNAME, then the pod's variables on top."""
    env = {"PATH": DEFAULT_PATH, **image.env, "HOSTNAME": hostname}
    env.setdefault("HOME", "/root")
    env.update(pod_env)
    return env


def image_mounts(image: Image, layer_dir: Path) -> list[Mount]:
    """The image's paths: directories as an overlay with a writable layer of this container, files
    bound read-only."""
    mounts = []
    for index, (target, source) in enumerate(sorted(image.mounts.items())):
        if source.is_dir():
            layer = layer_dir / str(index)
            mounts.append(
                Mount(
                    target=target,
                    source=str(source),
                    kind="overlay",
                    upper=str(layer / "upper"),
                    work=str(layer / "work"),
                )
            )
        else:
            mounts.append(Mount(target=target, source=str(source), read_only=True))
    return mounts


def launch_spec(
    pod: JSON,
    container: JSON,
    image: Image,
    pod_env: Mapping[str, str],
    volume_mounts: list[Mount],
    *,
    layer_dir: Path,
    error_file: Path,
) -> LaunchSpec:
    hostname = pod_hostname(pod)
    return LaunchSpec(
        argv=command_line(container, image, pod_env),
        env=process_env(image, hostname, pod_env),
        working_dir=str(container.get("workingDir") or image.working_dir or "/"),
        hostname=hostname,
        error_file=str(error_file),
        mounts=[*image_mounts(image, layer_dir), *volume_mounts],
    )


def container_id(uid: str, name: str, restart: int) -> str:
    digest = hashlib.sha256(f"{uid}/{name}/{restart}".encode()).hexdigest()
    return f"sandbox://{digest}"


def image_id(image: Image) -> str:
    return f"sandbox://{image.name}"


def spec_hash(container: JSON) -> str:
    """What decides a restart on update (the kubelet hashes the container spec)."""
    return hashlib.sha256(json.dumps(container, sort_keys=True, default=str).encode()).hexdigest()
