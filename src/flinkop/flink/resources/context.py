"""Everything rendering one FlinkDeployment needs, computed once: the cluster configuration, the Flink
version, the log files and the merged pod templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flinkop.api.deployment import FlinkDeployment
from flinkop.api.enums import FlinkVersion, KubernetesDeploymentMode
from flinkop.flink.resources import keys
from flinkop.flink.resources.cluster_config import build_cluster_config, flink_version_of, is_ha_enabled
from flinkop.flink.resources.configmap import log_configuration_files
from flinkop.flink.resources.options import FlinkConf
from flinkop.flink.resources.podtemplate import jobmanager_pod_template, taskmanager_pod_template


@dataclass(frozen=True)
class RenderContext:
    deployment: FlinkDeployment
    config: dict[str, str]  # the cluster configuration (operator keys removed)
    version: FlinkVersion
    log_files: dict[str, str]
    jobmanager_template: dict[str, Any] | None
    taskmanager_template: dict[str, Any] | None

    @property
    def conf(self) -> FlinkConf:
        return FlinkConf(self.config)

    @property
    def name(self) -> str:
        return self.deployment.name

    @property
    def namespace(self) -> str:
        return self.deployment.namespace

    @property
    def mode(self) -> KubernetesDeploymentMode:
        return self.deployment.deployment_mode

    @property
    def ha_enabled(self) -> bool:
        return is_ha_enabled(self.conf)

    @property
    def is_application(self) -> bool:
        return self.deployment.spec.job is not None


def render_context(
    deployment: FlinkDeployment,
    flink_config: Mapping[str, str],
    *,
    restore_from: str | None = None,
    allow_non_restored_state: bool | None = None,
    job_id: str | None = None,
    default_log_configuration: Mapping[str, str] | None = None,
) -> RenderContext:
    operator = FlinkConf(flink_config)  # operator keys are read before they are stripped
    merge_by_name = operator.get_bool(keys.POD_TEMPLATE_MERGE_BY_NAME, False)
    startup_probe = operator.get_bool(keys.JM_STARTUP_PROBE_ENABLED, True)
    config = build_cluster_config(
        deployment,
        flink_config,
        restore_from=restore_from,
        allow_non_restored_state=allow_non_restored_state,
        job_id=job_id,
    )
    return RenderContext(
        deployment=deployment,
        config=config,
        version=flink_version_of(deployment),
        log_files=log_configuration_files(deployment, default_log_configuration),
        jobmanager_template=jobmanager_pod_template(
            deployment, merge_arrays_by_name=merge_by_name, startup_probe=startup_probe
        ),
        taskmanager_template=taskmanager_pod_template(deployment, merge_arrays_by_name=merge_by_name),
    )
