"""Spec parts shared by the kinds: the job, JobManager/TaskManager, resources, ingress."""

from __future__ import annotations

from pydantic import Field

from flinkop.api.base import Number, OpenObject, Quantity, WireModel
from flinkop.api.enums import JobState, UpgradeMode


class JobSpec(WireModel):
    """spec.job of a FlinkDeployment (application cluster) or a FlinkSessionJob.

    Field order follows upstream's JobSpec: it is the key order of lastReconciledSpec.
    """

    jar_uri: str | None = Field(
        default=None,
        description="Job jar: a local:// path inside the image, or a remote URI for session jobs.",
    )
    parallelism: int = Field(
        default=0, description="Job parallelism; ignored when taskManager.replicas is set."
    )
    entry_class: str | None = Field(default=None, description="Main class of the job.")
    args: list[str] = Field(default_factory=list, description="Program arguments.")
    state: JobState = Field(default=JobState.RUNNING, description="Desired state: running or suspended.")
    savepoint_trigger_nonce: int | None = Field(
        default=None, description="Deprecated: change to trigger a manual savepoint."
    )
    initial_savepoint_path: str | None = Field(
        default=None, description="Savepoint to restore from on first deployment or savepoint redeploy."
    )
    checkpoint_trigger_nonce: int | None = Field(
        default=None, description="Deprecated: change to trigger a manual checkpoint."
    )
    upgrade_mode: UpgradeMode = Field(
        default=UpgradeMode.STATELESS, description="How state is carried over an upgrade or suspend."
    )
    allow_non_restored_state: bool | None = Field(
        default=None, description="Allow skipping savepoint state that cannot be restored."
    )
    savepoint_redeploy_nonce: int | None = Field(
        default=None, description="Change to redeploy from initialSavepointPath, discarding current state."
    )
    autoscaler_reset_nonce: int | None = Field(
        default=None, description="Change to reset the autoscaler's state and overrides."
    )


class Resource(WireModel):
    """Deprecated JobManager/TaskManager resource form; ``resources`` wins when both are set."""

    cpu: Number | None = Field(default=None, description="CPU cores.")
    memory: str | None = Field(
        default=None, description="Flink memory size (1024m, 2g) or a Kubernetes quantity."
    )
    ephemeral_storage: str | None = Field(default=None, description="Ephemeral storage quantity.")


class ResourceClaim(WireModel):
    name: str | None = None
    request: str | None = None


class ResourceRequirements(WireModel):
    """Kubernetes ResourceRequirements."""

    claims: list[ResourceClaim] | None = None
    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class JobManagerSpec(WireModel):
    resource: Resource | None = None
    resources: ResourceRequirements | None = Field(
        default=None, description="Kubernetes resource requests and limits of the JobManager container."
    )
    replicas: int = Field(default=1, description="JobManager replicas; more than one requires HA.")
    pod_template: OpenObject | None = Field(default=None, description="Pod template for JobManager pods.")


class TaskManagerSpec(WireModel):
    resource: Resource | None = None
    resources: ResourceRequirements | None = Field(
        default=None, description="Kubernetes resource requests and limits of the TaskManager container."
    )
    replicas: int | None = Field(
        default=None, description="TaskManager replicas; when set, parallelism = replicas x task slots."
    )
    pod_template: OpenObject | None = Field(default=None, description="Pod template for TaskManager pods.")


class IngressTLS(WireModel):
    hosts: list[str] | None = None
    secret_name: str | None = None


class IngressSpec(WireModel):
    template: str | None = Field(
        default=None, description="Ingress URL template; {{name}} and {{namespace}} are expanded."
    )
    class_name: str | None = Field(default=None, description="Ingress class name.")
    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    tls: list[IngressTLS] | None = None
