"""The configurations one FlinkDeployment is handled with, from the operator configuration and a spec:

* the resource's operator options (``for_resource(namespace, version).with_overrides(flinkConfiguration)``);
* the render input (:func:`render_config`): the effective Flink configuration plus the operator keys the
  renderer reads (pod-template merging, startup probe, ingress management);
* the cluster configuration (:func:`cluster_config`): what the cluster runs with, as rendered into its
  ConfigMap (rest port, JobManager/TaskManager resources, HA).

Upstream's *deploy config* is the one of the desired spec, its *observe config* the one of the deployed spec.
"""

from __future__ import annotations

from flinkop.api import FlinkDeployment, FlinkDeploymentSpec
from flinkop.config import ConfigError, OperatorConfig
from flinkop.flink.conf import effective_flink_config
from flinkop.flink.resources import build_cluster_config, keys
from flinkop.flink.resources.options import FlinkConf


def with_spec(deployment: FlinkDeployment, spec: FlinkDeploymentSpec) -> FlinkDeployment:
    """``deployment`` with another spec (its metadata and status shared, not copied)."""
    return deployment.model_copy(update={"spec": spec})


def resource_operator_config(base: OperatorConfig, deployment: FlinkDeployment) -> OperatorConfig:
    """The operator options for this resource; the base ones when its overrides do not read."""
    version = deployment.spec.flink_version
    scoped = base.for_resource(deployment.namespace, str(version) if version else None)
    try:
        return scoped.with_overrides(deployment.spec.flink_configuration)
    except ConfigError:
        return scoped  # the validator reports the bad value


def render_config(base: OperatorConfig, deployment: FlinkDeployment) -> dict[str, str]:
    """Input of :func:`flinkop.flink.resources.render` for ``deployment``'s spec (its version must be set)."""
    version = deployment.spec.flink_version
    assert version is not None
    flink = effective_flink_config(
        base, deployment.spec.flink_configuration, namespace=deployment.namespace, flink_version=version
    )
    operator = resource_operator_config(base, deployment)
    for key, value in operator.raw.items():
        if key.startswith(keys.OPERATOR_KEY_PREFIXES):
            flink.setdefault(key, ";".join(value) if isinstance(value, list) else value)
    return flink


def cluster_config(base: OperatorConfig, deployment: FlinkDeployment) -> dict[str, str]:
    """The configuration the cluster of ``deployment``'s spec runs with."""
    return build_cluster_config(deployment, render_config(base, deployment))


def taskmanager_count(conf: dict[str, str]) -> int:
    """``FlinkUtils.getNumTaskManagers``: ceil(parallelism.default / taskmanager.numberOfTaskSlots)."""
    view = FlinkConf(conf)
    parallelism = view.get_int(keys.DEFAULT_PARALLELISM, 1)
    slots = max(view.get_int(keys.NUM_TASK_SLOTS, 1), 1)
    return (parallelism + slots - 1) // slots


__all__ = [
    "cluster_config",
    "render_config",
    "resource_operator_config",
    "taskmanager_count",
    "with_spec",
]
