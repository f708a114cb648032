"""FlinkSessionJob: a job submitted to a session FlinkDeployment in the same namespace."""

from __future__ import annotations

from pydantic import Field

from flinkop.api.base import AnyValueMap, WireModel
from flinkop.api.common import JobSpec
from flinkop.api.resource import CustomResource
from flinkop.api.status import FlinkSessionJobStatus


class FlinkSessionJobSpec(WireModel):
    """Field order follows upstream's FlinkSessionJobSpec: it is the key order of lastReconciledSpec."""

    job: JobSpec | None = Field(default=None, description="The job; required.")
    restart_nonce: int | None = Field(
        default=None, description="Change to a new value to force a full restart."
    )
    flink_configuration: AnyValueMap | None = Field(
        default=None, description="Job-level Flink configuration, merged over the session cluster's."
    )
    deployment_name: str | None = Field(default=None, description="Name of the session FlinkDeployment.")


class FlinkSessionJob(CustomResource):
    PLURAL = "flinksessionjobs"

    kind: str = "FlinkSessionJob"
    spec: FlinkSessionJobSpec = Field(default_factory=FlinkSessionJobSpec)
    status: FlinkSessionJobStatus = Field(default_factory=FlinkSessionJobStatus)
