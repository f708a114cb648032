"""Pod volumes on the host, ready to be bind-mounted at their mountPaths.

configMap, secret, downwardAPI and projected volumes are written the way the kubelet's AtomicWriter
does it: the files live in a timestamped `..<time>` directory, `..data` points at it, and each
user-visible name is a symlink through `..data`. An update writes a new directory and swaps `..data`
with one rename, so a reader inside the container sees either the old or the new set of files.
Those volumes are mounted read-only, as the kubelet mounts them.

Every pod also gets the kube-api-access volume (token, ca.crt, namespace) at
/var/run/secrets/kubernetes.io/serviceaccount unless `automountServiceAccountToken` is false.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from flinkop.sandbox.kubelet.env import (
    ConfigError,
    Lookup,
    PodAddresses,
    expand,
    field_value,
    object_data,
    resource_value,
)
from flinkop.sandbox.kubelet.launch import Mount
from flinkop.sandbox.kubelet.tokens import DEFAULT_EXPIRATION, TokenIssuer

JSON = dict[str, Any]
SERVICE_ACCOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBE_API_ACCESS = "kube-api-access-sandbox"
DATA_LINK = "..data"
READ_ONLY_KINDS = ("configMap", "secret", "downwardAPI", "projected")
SUPPORTED_KINDS = (*READ_ONLY_KINDS, "emptyDir", "hostPath")


class VolumeError(Exception):
    """A volume cannot be set up (yet); the pod waits in ContainerCreating and the kubelet retries."""


@dataclass(frozen=True)
class File:
    data: bytes
    mode: int = 0o644


# -- the atomic writer --------------------------------------------------------------------------------
def _check_path(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or pure.parts[0].startswith(".."):
        raise VolumeError(f"invalid path {path!r}: must be relative and may not contain '..'")
    return str(pure)


def _current(directory: Path) -> Path | None:
    link = directory / DATA_LINK
    return directory / os.readlink(link) if link.is_symlink() else None


def _unchanged(current: Path | None, files: Mapping[str, File]) -> bool:
    if current is None or not current.is_dir():
        return False
    present = {str(p.relative_to(current)) for p in current.rglob("*") if p.is_file()}
    if present != set(files):
        return False
    for rel, file in files.items():
        path = current / rel
        if path.read_bytes() != file.data or (path.stat().st_mode & 0o7777) != file.mode:
            return False
    return True


def write_atomic(directory: Path, files: Mapping[str, File]) -> bool:
    """Make `directory` show exactly `files`; True when anything changed."""
    files = {_check_path(rel): file for rel, file in files.items()}
    directory.mkdir(parents=True, exist_ok=True)
    current = _current(directory)
    if _unchanged(current, files):
        return False
    stamp = dt.datetime.now(dt.UTC).strftime("%Y_%m_%d_%H_%M_%S.%f")
    fresh = directory / f"..{stamp}{secrets.token_hex(3)}"
    fresh.mkdir(mode=0o755)
    for rel, file in files.items():
        path = fresh / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.data)
        path.chmod(file.mode)
    temp = directory / "..data_tmp"
    if temp.is_symlink() or temp.exists():
        temp.unlink()
    temp.symlink_to(fresh.name)
    os.replace(temp, directory / DATA_LINK)
    visible = {PurePosixPath(rel).parts[0] for rel in files}
    for name in sorted(visible):
        link = directory / name
        if not link.is_symlink():
            if link.is_dir():
                shutil.rmtree(link)
            elif link.exists():
                link.unlink()
            link.symlink_to(f"{DATA_LINK}/{name}")
    for entry in directory.iterdir():
        if entry.name.startswith(".."):
            if entry.name not in (fresh.name, DATA_LINK) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name not in visible:
            if entry.is_symlink() or entry.is_file():
                entry.unlink()
            else:
                shutil.rmtree(entry)
    return True


# -- projections --------------------------------------------------------------------------------------
def _mode(value: Any, default: int) -> int:
    return int(value) & 0o7777 if isinstance(value, int) else default


def _key_files(
    kind: str, source: JSON, namespace: str, lookup: Lookup, default_mode: int, label: str
) -> dict[str, File]:
    """The files of a configMap/secret source: all keys, or the listed `items`."""
    name = str(source.get("name") or source.get("secretName") or "")
    optional = bool(source.get("optional"))
    obj = lookup(kind, namespace, name)
    noun = "configmap" if kind == "ConfigMap" else "secret"
    if obj is None:
        if optional:
            return {}
        raise VolumeError(f'MountVolume.SetUp failed for volume "{label}" : {noun} "{name}" not found')
    data = object_data(kind, obj)
    items = source.get("items")
    if not items:
        return {key: File(value, default_mode) for key, value in data.items()}
    files: dict[str, File] = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(
                f'MountVolume.SetUp failed for volume "{label}" : {noun} references non-existent config '
                f"key: {key}"
            )
        files[str(item.get("path") or key)] = File(data[key], _mode(item.get("mode"), default_mode))
    return files


def _downward_files(
    pod: JSON, items: list[JSON], addresses: PodAddresses, default_mode: int
) -> dict[str, File]:
    files: dict[str, File] = {}
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    for item in items:
        mode = _mode(item.get("mode"), default_mode)
        try:
            if isinstance(item.get("fieldRef"), dict):
                value = field_value(pod, str(item["fieldRef"].get("fieldPath") or ""), addresses)
            elif isinstance(item.get("resourceFieldRef"), dict):
                ref = item["resourceFieldRef"]
                container = containers.get(ref.get("containerName")) or {}
                value = resource_value(container, ref, addresses)
            else:
                continue
        except ConfigError as exc:
            raise VolumeError(str(exc)) from exc
        files[str(item.get("path") or "")] = File(value.encode(), mode)
    return files


class PodVolumes:
    """The volumes of one pod under `root` (one directory per volume)."""

    def __init__(self, root: Path, tokens: TokenIssuer, ca_cert: bytes | None) -> None:
        self.root = root
        self.tokens = tokens
        self.ca_cert = ca_cert
        self._issued: dict[tuple[str, str], tuple[str, float, int]] = {}  # (volume, path) -> token

    # -- which volumes -----------------------------------------------------------------------------
    @staticmethod
    def automount(pod: JSON) -> bool:
        return (pod.get("spec") or {}).get("automountServiceAccountToken") is not False

    def volumes(self, pod: JSON) -> list[JSON]:
        """The pod's volumes, plus the implicit kube-api-access volume."""
        declared: list[JSON] = list((pod.get("spec") or {}).get("volumes") or [])
        if self.automount(pod) and not any(v.get("name") == KUBE_API_ACCESS for v in declared):
            declared.append({"name": KUBE_API_ACCESS, "projected": {"sources": [], "kubeApiAccess": True}})
        return declared

    def path(self, volume: JSON) -> Path:
        host = volume.get("hostPath")
        if isinstance(host, dict):
            return Path(str(host.get("path") or "/"))
        return self.root / str(volume.get("name"))

    # -- materializing -----------------------------------------------------------------------------
    def sync(self, pod: JSON, lookup: Lookup, addresses: PodAddresses) -> list[str]:
        """Create or refresh every volume; returns the names that changed. VolumeError on the first
        volume that cannot be set up."""
        changed = []
        for volume in self.volumes(pod):
            if self._sync_one(pod, volume, lookup, addresses):
                changed.append(str(volume.get("name")))
        return changed

    def _sync_one(self, pod: JSON, volume: JSON, lookup: Lookup, addresses: PodAddresses) -> bool:
        name = str(volume.get("name") or "")
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        directory = self.root / name
        if "emptyDir" in volume:
            if directory.is_dir():
                return False
            directory.mkdir(parents=True, mode=0o777)
            directory.chmod(0o777)
            return True
        if isinstance(volume.get("hostPath"), dict):
            return self._host_path(name, volume["hostPath"])
        if isinstance(volume.get("configMap"), dict):
            source = volume["configMap"]
            mode = _mode(source.get("defaultMode"), 0o644)
            return write_atomic(directory, _key_files("ConfigMap", source, namespace, lookup, mode, name))
        if isinstance(volume.get("secret"), dict):
            source = volume["secret"]
            mode = _mode(source.get("defaultMode"), 0o644)
            return write_atomic(directory, _key_files("Secret", source, namespace, lookup, mode, name))
        if isinstance(volume.get("downwardAPI"), dict):
            source = volume["downwardAPI"]
            mode = _mode(source.get("defaultMode"), 0o644)
            return write_atomic(directory, _downward_files(pod, source.get("items") or [], addresses, mode))
        if isinstance(volume.get("projected"), dict):
            return write_atomic(directory, self._projected(pod, name, volume["projected"], lookup, addresses))
        kinds = [k for k in volume if k != "name"]
        raise VolumeError(f'volume "{name}": unsupported volume type {kinds[0] if kinds else "(none)"}')

    @staticmethod
    def _host_path(name: str, source: JSON) -> bool:
        path = Path(str(source.get("path") or ""))
        kind = str(source.get("type") or "")
        if kind == "DirectoryOrCreate" and not path.exists():
            path.mkdir(parents=True, mode=0o755)
            return True
        if kind == "FileOrCreate" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o644)
            return True
        checks = {"Directory": path.is_dir, "File": path.is_file, "Socket": path.is_socket}
        if kind in checks and not checks[kind]():
            raise VolumeError(
                f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: '
                f"{path} is not a {kind.lower()}"
            )
        return False

    def _token(self, pod: JSON, volume: str, source: JSON) -> str:
        path = str(source.get("path") or "token")
        expiration = int(source.get("expirationSeconds") or DEFAULT_EXPIRATION)
        issued = self._issued.get((volume, path))
        if issued is None or time.time() - issued[1] > 0.8 * issued[2]:  # rotate at 80% of the TTL
            token = self.tokens.issue(pod, source.get("audience"), expiration)
            issued = (token, time.time(), expiration)
            self._issued[(volume, path)] = issued
        return issued[0]

    def _projected(
        self, pod: JSON, name: str, projected: JSON, lookup: Lookup, addresses: PodAddresses
    ) -> dict[str, File]:
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        mode = _mode(projected.get("defaultMode"), 0o644)
        files: dict[str, File] = {}
        if projected.get("kubeApiAccess"):
            files["token"] = File(self._token(pod, name, {"path": "token"}).encode(), mode)
            if self.ca_cert is not None:
                files["ca.crt"] = File(self.ca_cert, mode)
            files["namespace"] = File(namespace.encode(), mode)
            return files
        for source in projected.get("sources") or []:
            if isinstance(source.get("serviceAccountToken"), dict):
                token_source = source["serviceAccountToken"]
                path = str(token_source.get("path") or "token")
                files[path] = File(self._token(pod, name, token_source).encode(), mode)
            elif isinstance(source.get("configMap"), dict):
                files.update(_key_files("ConfigMap", source["configMap"], namespace, lookup, mode, name))
            elif isinstance(source.get("secret"), dict):
                files.update(_key_files("Secret", source["secret"], namespace, lookup, mode, name))
            elif isinstance(source.get("downwardAPI"), dict):
                files.update(_downward_files(pod, source["downwardAPI"].get("items") or [], addresses, mode))
            else:
                kinds = ", ".join(source) or "(none)"
                raise VolumeError(f'volume "{name}": unsupported projected source {kinds}')
        return files

    # -- mounting ----------------------------------------------------------------------------------
    def mounts(self, pod: JSON, container: JSON, env: Mapping[str, str]) -> list[Mount]:
        """The container's volume mounts as host source -> container path (ConfigError on a bad one)."""
        by_name = {str(v.get("name")): v for v in self.volumes(pod)}
        mounts: list[Mount] = []
        for vm in container.get("volumeMounts") or []:
            volume = by_name.get(str(vm.get("name")))
            if volume is None:
                raise ConfigError(f'cannot find volume "{vm.get("name")}" to mount into container')
            target = str(vm.get("mountPath") or "")
            if not target.startswith("/"):
                raise ConfigError(f"mount path {target!r} must be absolute")
            source = self.path(volume)
            sub = str(vm.get("subPath") or "") or expand(str(vm.get("subPathExpr") or ""), env)
            if sub:
                try:
                    source = source / _check_path(sub)
                except VolumeError as exc:
                    raise ConfigError(str(exc)) from exc
                if source.is_symlink():  # a key of a configMap/secret: pinned, as with the kubelet
                    source = source.resolve()
                elif not source.exists():
                    source.mkdir(parents=True, mode=0o755)
            read_only = bool(vm.get("readOnly")) or any(k in volume for k in READ_ONLY_KINDS)
            mounts.append(Mount(target=target, source=str(source), read_only=read_only))
        mounted = {m.target.rstrip("/") for m in mounts}
        if self.automount(pod) and SERVICE_ACCOUNT_PATH not in mounted and KUBE_API_ACCESS in by_name:
            mounts.append(
                Mount(target=SERVICE_ACCOUNT_PATH, source=str(self.root / KUBE_API_ACCESS), read_only=True)
            )
        return mounts

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
