"""Building JobManager/TaskManager pods the way Flink's Kubernetes decorators do, shared by native and
standalone mode: a pod template is split into the pod and its main container (``flink-main-container``),
then each step overwrites some fields and merges others (lists are appended to, maps added to), and the
main container ends up last in the pod's container list.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flinkop.api.enums import FlinkVersion
from flinkop.flink.resources import keys
from flinkop.flink.resources.naming import (
    APPS_API_VERSION,
    BLOB_SERVER_PORT,
    BLOB_SERVER_PORT_NAME,
    CORE_API_VERSION,
    DEFAULT_CONTAINER_ENTRYPOINT,
    ENV_FLINK_LOG_DIR,
    ENV_POD_IP_ADDRESS,
    FLINK_CONF_DIR_IN_POD,
    FLINK_CONF_VOLUME,
    JOB_MANAGER_RPC_PORT,
    JOB_MANAGER_RPC_PORT_NAME,
    MAIN_CONTAINER_NAME,
    POD_IP_FIELD_PATH,
    REST_PORT,
    REST_PORT_NAME,
)
from flinkop.flink.resources.options import FlinkConf, ResourceRenderError
from flinkop.flink.resources.podtemplate import split_main_container

DNS_POLICY_DEFAULT = "ClusterFirst"
DNS_POLICY_HOST_NETWORK = "ClusterFirstWithHostNet"
DEFAULT_SERVICE_ACCOUNT = "default"
DEFAULT_IMAGE_PULL_POLICY = "IfNotPresent"


@dataclass
class FlinkPod:
    """A pod (metadata + spec, without the main container) and its main container, both mutable dicts."""

    pod: dict[str, Any]
    main: dict[str, Any]

    @classmethod
    def from_template(cls, template: Mapping[str, Any] | None) -> FlinkPod:
        pod, main = split_main_container(dict(template) if template is not None else None)
        return cls(pod=pod, main=main)

    @property
    def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = self.pod.setdefault("metadata", {})
        return metadata

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.pod.setdefault("spec", {})
        return spec


# -- reading the configuration ------------------------------------------------------------------------------


def default_image(version: FlinkVersion) -> str:
    """Flink's default for kubernetes.container.image.ref (used only when spec.image is not set)."""
    major_minor = version.major_minor or (2, 0)
    return f"apache/flink:{major_minor[0]}.{major_minor[1]}-scala_2.12"


def image_of(conf: FlinkConf, version: FlinkVersion) -> str:
    return conf.get_str(keys.CONTAINER_IMAGE, default_image(version), keys.CONTAINER_IMAGE_LEGACY)


def image_pull_policy_of(conf: FlinkConf) -> str:
    return conf.get_str(keys.CONTAINER_IMAGE_PULL_POLICY, DEFAULT_IMAGE_PULL_POLICY)


def container_entrypoint(conf: FlinkConf) -> str:
    return conf.get_str(keys.CONTAINER_ENTRYPOINT, DEFAULT_CONTAINER_ENTRYPOINT)


def host_network(conf: FlinkConf) -> bool:
    return conf.get_bool(keys.HOST_NETWORK_ENABLED, False)


def port_of(conf: FlinkConf, key: str, default: int, *fallbacks: str) -> int:
    port = conf.get_int(key, default, *fallbacks)
    if port <= 0:
        raise ResourceRenderError(f"{key} should not be 0.")
    return port


def rest_port(conf: FlinkConf) -> int:
    return port_of(conf, keys.REST_PORT, REST_PORT)


def rest_bind_port(conf: FlinkConf) -> int:
    return port_of(conf, keys.REST_BIND_PORT, REST_PORT, keys.REST_PORT)


def rpc_port(conf: FlinkConf) -> int:
    return port_of(conf, keys.JOB_MANAGER_RPC_PORT, JOB_MANAGER_RPC_PORT)


def blob_server_port(conf: FlinkConf) -> int:
    return port_of(conf, keys.BLOB_SERVER_PORT, BLOB_SERVER_PORT)


def _resolve_user_defined(config_set: bool, config_value: str, template_value: Any) -> str:
    """Flink's ``resolveUserDefinedValue``: an explicitly configured option beats the pod template, the pod
    template beats the option's default."""
    if template_value is not None and not config_set:
        return str(template_value)
    return config_value


# -- decorator steps ----------------------------------------------------------------------------------------


def _append(target: dict[str, Any], key: str, items: list[Any]) -> None:
    if not items:
        return
    current = target.get(key)
    target[key] = [*(current if isinstance(current, list) else []), *items]


def _add_to_map(target: dict[str, Any], key: str, values: Mapping[str, Any]) -> None:
    if not values:
        return
    current = target.get(key)
    target[key] = {**(current if isinstance(current, dict) else {}), **values}


def _tolerations(conf: FlinkConf, key: str) -> list[dict[str, Any]]:
    result = []
    for item in conf.get_map_list(key):
        toleration: dict[str, Any] = {}
        for field in ("effect", "key", "operator", "value"):
            if field in item:
                toleration[field] = item[field]
        if "tolerationSeconds" in item:
            try:
                toleration["tolerationSeconds"] = int(item["tolerationSeconds"])
            except ValueError:
                raise ResourceRenderError(f"Invalid tolerationSeconds in {key}: {item}") from None
        result.append(toleration)
    return result


def init_pod(
    flink_pod: FlinkPod,
    conf: FlinkConf,
    *,
    service_account: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    node_selector_key: str,
    tolerations_key: str,
    network: bool,
) -> None:
    """The pod-level part of ``InitJobManagerDecorator`` / ``InitStandaloneTaskManagerDecorator``."""
    spec = flink_pod.spec
    spec["serviceAccount"] = service_account
    spec["serviceAccountName"] = service_account
    if network:
        enabled = host_network(conf)
        template_dns = spec.get("dnsPolicy")
        spec["hostNetwork"] = enabled
        if enabled:
            spec["dnsPolicy"] = DNS_POLICY_HOST_NETWORK
        elif not (isinstance(template_dns, str) and template_dns.strip()):
            spec["dnsPolicy"] = DNS_POLICY_DEFAULT
    _add_to_map(flink_pod.metadata, "labels", labels)
    _add_to_map(flink_pod.metadata, "annotations", annotations)
    _append(spec, "imagePullSecrets", [{"name": s} for s in conf.get_list(keys.CONTAINER_IMAGE_PULL_SECRETS)])
    _add_to_map(spec, "nodeSelector", conf.get_map(node_selector_key))
    _append(spec, "tolerations", _tolerations(conf, tolerations_key))


def init_main_container(
    flink_pod: FlinkPod,
    *,
    image: str,
    image_pull_policy: str,
    resources: dict[str, Any],
    ports: list[dict[str, Any]],
    env: list[dict[str, Any]],
) -> None:
    main = flink_pod.main
    main["name"] = MAIN_CONTAINER_NAME
    main["image"] = image
    main["imagePullPolicy"] = image_pull_policy
    main["resources"] = resources
    _append(main, "ports", ports)
    _append(main, "env", env)


def jobmanager_image(flink_pod: FlinkPod, conf: FlinkConf, version: FlinkVersion) -> tuple[str, str]:
    """Image and pull policy of the JobManager: configured options, else the pod template, else defaults."""
    image = _resolve_user_defined(
        conf.contains(keys.CONTAINER_IMAGE, keys.CONTAINER_IMAGE_LEGACY),
        image_of(conf, version),
        flink_pod.main.get("image"),
    )
    policy = _resolve_user_defined(
        conf.contains(keys.CONTAINER_IMAGE_PULL_POLICY),
        image_pull_policy_of(conf),
        flink_pod.main.get("imagePullPolicy"),
    )
    return image, policy


def jobmanager_service_account(flink_pod: FlinkPod, conf: FlinkConf) -> str:
    template_value = flink_pod.spec.get("serviceAccount")
    if template_value is None:
        template_value = flink_pod.spec.get("serviceAccountName")
    return _resolve_user_defined(
        conf.contains(keys.JOB_MANAGER_SERVICE_ACCOUNT, keys.SERVICE_ACCOUNT),
        conf.get_str(keys.JOB_MANAGER_SERVICE_ACCOUNT, DEFAULT_SERVICE_ACCOUNT, keys.SERVICE_ACCOUNT),
        template_value,
    )


def jobmanager_ports(conf: FlinkConf) -> list[dict[str, Any]]:
    if host_network(conf):
        return []
    return [
        {"name": REST_PORT_NAME, "containerPort": rest_port(conf)},
        {"name": JOB_MANAGER_RPC_PORT_NAME, "containerPort": rpc_port(conf)},
        {"name": BLOB_SERVER_PORT_NAME, "containerPort": blob_server_port(conf)},
    ]


def jobmanager_env(conf: FlinkConf) -> list[dict[str, Any]]:
    """``containerized.master.env.*``, the pod IP as ``_POD_IP_ADDRESS``, and ``FLINK_LOG_DIR`` if set."""
    env: list[dict[str, Any]] = [
        {"name": name, "value": value} for name, value in conf.with_prefix(keys.MASTER_ENV_PREFIX).items()
    ]
    env.append(
        {
            "name": ENV_POD_IP_ADDRESS,
            "valueFrom": {"fieldRef": {"apiVersion": CORE_API_VERSION, "fieldPath": POD_IP_FIELD_PATH}},
        }
    )
    env.extend(log_dir_env(conf))
    return env


def log_dir_env(conf: FlinkConf) -> list[dict[str, Any]]:
    log_dir = conf.get(keys.FLINK_LOG_DIR)
    return [] if log_dir is None else [{"name": ENV_FLINK_LOG_DIR, "value": log_dir}]


def env_secrets(flink_pod: FlinkPod, conf: FlinkConf) -> None:
    """``EnvSecretsDecorator``: ``kubernetes.env.secretKeyRef`` (``env:NAME,secret:S,key:K;...``)."""
    env = []
    for item in conf.get_map_list(keys.ENV_SECRET_KEY_REF):
        if not {"env", "secret", "key"} <= item.keys():
            raise ResourceRenderError(f"Invalid {keys.ENV_SECRET_KEY_REF} item: {item}")
        env.append(
            {"name": item["env"], "valueFrom": {"secretKeyRef": {"name": item["secret"], "key": item["key"]}}}
        )
    _append(flink_pod.main, "env", env)


def mount_secrets(flink_pod: FlinkPod, conf: FlinkConf) -> None:
    """``MountSecretsDecorator``: ``kubernetes.secrets`` (``secret:/mount/path,...``)."""
    secrets = conf.get_map(keys.SECRETS)
    _append(
        flink_pod.spec,
        "volumes",
        [{"name": f"{secret}-volume", "secret": {"secretName": secret}} for secret in secrets],
    )
    _append(
        flink_pod.main,
        "volumeMounts",
        [{"name": f"{secret}-volume", "mountPath": path} for secret, path in secrets.items()],
    )


def mount_volume(flink_pod: FlinkPod, volume: dict[str, Any], mount_path: str) -> None:
    _append(flink_pod.spec, "volumes", [volume])
    _append(flink_pod.main, "volumeMounts", [{"name": volume["name"], "mountPath": mount_path}])


def mount_flink_conf(flink_pod: FlinkPod, conf: FlinkConf, volume: dict[str, Any]) -> None:
    """``FlinkConfMountDecorator``: the ConfigMap volume at ``kubernetes.flink.conf.dir``."""
    assert volume["name"] == FLINK_CONF_VOLUME
    mount_volume(flink_pod, volume, conf.get_str(keys.FLINK_CONF_DIR, FLINK_CONF_DIR_IN_POD))


# -- the Deployment -----------------------------------------------------------------------------------------


def build_deployment(
    *,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    owner_references: list[dict[str, Any]],
    replicas: int,
    selectors: Mapping[str, str],
    flink_pod: FlinkPod,
) -> dict[str, Any]:
    """An apps/v1 Deployment of the pod, the main container appended after the template's containers."""
    spec = copy.deepcopy(flink_pod.spec)
    spec["containers"] = [*(spec.get("containers") or []), copy.deepcopy(flink_pod.main)]
    pod_metadata = copy.deepcopy(flink_pod.metadata)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if owner_references:
        metadata["ownerReferences"] = owner_references
    return {
        "apiVersion": APPS_API_VERSION,
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(selectors)},
            "template": {"metadata": pod_metadata, "spec": spec},
        },
    }


def owner_references_from_config(conf: FlinkConf) -> list[dict[str, Any]]:
    """``kubernetes.jobmanager.owner.reference`` as ownerReferences (booleans parsed)."""
    references = []
    for item in conf.get_map_list(keys.JOB_MANAGER_OWNER_REFERENCE):
        reference: dict[str, Any] = {}
        for field in ("apiVersion", "kind", "name", "uid"):
            if field in item:
                reference[field] = item[field]
        for field in ("controller", "blockOwnerDeletion"):
            if field in item:
                reference[field] = item[field].strip().lower() == "true"
        references.append(reference)
    return references
