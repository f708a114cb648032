"""FlinkDeployment: a Flink cluster, in application mode (spec.job set) or session mode."""

from __future__ import annotations

from pydantic import Field

from flinkop.api.base import AnyValueMap, OpenObject, WireModel
from flinkop.api.common import IngressSpec, JobManagerSpec, JobSpec, TaskManagerSpec
from flinkop.api.enums import FlinkVersion, KubernetesDeploymentMode
from flinkop.api.resource import CustomResource
from flinkop.api.status import FlinkDeploymentStatus


class FlinkDeploymentSpec(WireModel):
    """Field order follows upstream's FlinkDeploymentSpec: it is the key order of lastReconciledSpec."""

    job: JobSpec | None = Field(
        default=None, description="Present for an application cluster, absent for a session cluster."
    )
    restart_nonce: int | None = Field(
        default=None, description="Change to a new value to force a full restart."
    )
    flink_configuration: AnyValueMap | None = Field(
        default=None, description="Flink configuration; nested maps are flattened with '.'."
    )
    image: str | None = Field(default=None, description="Flink image for JobManager and TaskManager.")
    image_pull_policy: str | None = Field(default=None, description="Always, IfNotPresent or Never.")
    service_account: str | None = Field(default=None, description="Service account of the Flink pods.")
    flink_version: FlinkVersion | None = Field(default=None, description="Flink version of the image.")
    ingress: IngressSpec | None = Field(default=None, description="Ingress to the Flink REST API and UI.")
    pod_template: OpenObject | None = Field(default=None, description="Base pod template for all Flink pods.")
    job_manager: JobManagerSpec | None = None
    task_manager: TaskManagerSpec | None = None
    log_configuration: dict[str, str] | None = Field(
        default=None, description="Whole log4j-console.properties or logback-console.xml, by file name."
    )
    mode: KubernetesDeploymentMode | None = Field(default=None, description="native (default) or standalone.")


class FlinkDeployment(CustomResource):
    PLURAL = "flinkdeployments"

    kind: str = "FlinkDeployment"
    spec: FlinkDeploymentSpec = Field(default_factory=FlinkDeploymentSpec)
    status: FlinkDeploymentStatus = Field(default_factory=FlinkDeploymentStatus)

    @property
    def is_application(self) -> bool:
        return self.spec.job is not None

    @property
    def deployment_mode(self) -> KubernetesDeploymentMode:
        return self.spec.mode or KubernetesDeploymentMode.NATIVE
