"""FlinkBlueGreenDeployment: two child FlinkDeployments (blue, green) switched over with a savepoint."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from flinkop.api.base import OPEN_OBJECT, WireModel
from flinkop.api.common import IngressSpec
from flinkop.api.deployment import FlinkDeploymentSpec
from flinkop.api.enums import BlueGreenState
from flinkop.api.meta import ObjectMeta
from flinkop.api.resource import CustomResource
from flinkop.api.status import JobStatus


class FlinkDeploymentTemplate(WireModel):
    # Declared open in the CRD: upstream embeds the whole ObjectMeta schema here.
    metadata: Annotated[ObjectMeta, OPEN_OBJECT] | None = None
    spec: FlinkDeploymentSpec | None = None


class FlinkBlueGreenDeploymentSpec(WireModel):
    configuration: dict[str, str] | None = Field(
        default=None, description="kubernetes.operator.bluegreen.* settings."
    )
    ingress: IngressSpec | None = Field(default=None, description="Ingress routed to the active child.")
    template: FlinkDeploymentTemplate | None = None


class FlinkBlueGreenDeploymentStatus(WireModel):
    job_status: JobStatus = Field(default_factory=JobStatus)
    blue_green_state: BlueGreenState | None = None
    last_reconciled_spec: str | None = None
    last_reconciled_timestamp: str | None = None
    abort_timestamp: str | None = None
    deployment_ready_timestamp: str | None = None
    savepoint_trigger_id: str | None = None
    error: str | None = None


class FlinkBlueGreenDeployment(CustomResource):
    PLURAL = "flinkbluegreendeployments"

    kind: str = "FlinkBlueGreenDeployment"
    spec: FlinkBlueGreenDeploymentSpec = Field(default_factory=FlinkBlueGreenDeploymentSpec)
    status: FlinkBlueGreenDeploymentStatus = Field(default_factory=FlinkBlueGreenDeploymentStatus)
