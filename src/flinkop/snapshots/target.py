"""The job a FlinkStateSnapshot points at: its resource, its Flink job, and the cluster to ask.

A ``FlinkDeployment`` reference is the application (or session) cluster itself; a ``FlinkSessionJob``
reference is reached through the session cluster its ``spec.deploymentName`` names. FlinkDeployments come
from the informer cache; session jobs are read from the API server (the operator keeps no cache of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from flinkop.api import (
    GROUP,
    CustomResource,
    FlinkDeployment,
    FlinkJobState,
    FlinkSessionJob,
    FlinkStateSnapshot,
    JobKind,
    JobStatus,
    ResourceParseError,
    parse_flink_deployment,
    parse_flink_session_job,
)
from flinkop.config import OperatorConfig
from flinkop.config.values import to_flink_string
from flinkop.flink.conf import flink_option
from flinkop.flink.resources.options import FlinkConf
from flinkop.flink.resources.pods import rest_port
from flinkop.reconcilers.config import cluster_config
from flinkop.runtime import Kube, NotFound, Resource

JSON = dict[str, Any]
FLINK_SESSION_JOBS = Resource(GROUP, "v1beta1", FlinkSessionJob.PLURAL, kind="FlinkSessionJob")
SAVEPOINT_DIR = "execution.checkpointing.savepoint-dir"  # flink_option() also finds state.savepoints.dir
log = structlog.get_logger("flinkop.snapshots.target")


@dataclass(frozen=True)
class JobTarget:
    resource: CustomResource  # the FlinkDeployment or FlinkSessionJob referenced
    cluster: FlinkDeployment | None  # the cluster running the job (None: a session job without its session)
    conf: dict[str, str]  # the job's effective Flink configuration

    @property
    def job_id(self) -> str | None:
        return self._job_status.job_id

    @property
    def job_state(self) -> FlinkJobState | None:
        return self._job_status.state

    @property
    def running(self) -> bool:
        return self.cluster is not None and self.job_state == FlinkJobState.RUNNING and bool(self.job_id)

    @property
    def _job_status(self) -> JobStatus:
        resource = self.resource
        if isinstance(resource, FlinkDeployment | FlinkSessionJob):
            return resource.status.job_status
        return JobStatus()

    @property
    def rest_port(self) -> int:
        return rest_port(FlinkConf(self.conf))

    @property
    def savepoint_dir(self) -> str | None:
        return flink_option(self.conf, SAVEPOINT_DIR) or None


def deployment_conf(operator: OperatorConfig, deployment: FlinkDeployment) -> dict[str, str]:
    """The deployment's cluster configuration; its own flinkConfiguration when that cannot be rendered."""
    try:
        return cluster_config(operator, deployment)
    except Exception as error:  # an invalid spec: the deployment's reconciler reports it
        log.debug("cluster configuration not rendered", error=repr(error))
        return {k: to_flink_string(v) for k, v in (deployment.spec.flink_configuration or {}).items()}


class TargetFinder:
    def __init__(
        self, kube: Kube, deployments: Callable[[str], JSON | None], operator: Callable[[], OperatorConfig]
    ) -> None:
        self.kube = kube
        self.deployments = deployments
        self.operator = operator

    def _deployment(self, namespace: str, name: str) -> FlinkDeployment | None:
        obj = self.deployments(f"{namespace}/{name}")
        if obj is None:
            return None
        try:
            return parse_flink_deployment(obj)
        except ResourceParseError:
            return None

    async def find(self, snapshot: FlinkStateSnapshot) -> JobTarget | None:
        """The referenced job, None when it does not exist (or cannot be read)."""
        ref = snapshot.spec.job_reference
        if ref is None or not ref.name:
            return None
        namespace = snapshot.namespace
        if ref.kind == JobKind.FLINK_SESSION_JOB:
            return await self._session_job(namespace, ref.name)
        if ref.kind not in (None, JobKind.FLINK_DEPLOYMENT):
            return None
        deployment = self._deployment(namespace, ref.name)
        if deployment is None:
            return None
        return JobTarget(deployment, deployment, deployment_conf(self.operator(), deployment))

    async def _session_job(self, namespace: str, name: str) -> JobTarget | None:
        try:
            session_job = parse_flink_session_job(await self.kube.get(FLINK_SESSION_JOBS, name, namespace))
        except (NotFound, ResourceParseError):
            return None
        session_name = session_job.spec.deployment_name
        cluster = self._deployment(namespace, session_name) if session_name else None
        conf = deployment_conf(self.operator(), cluster) if cluster is not None else {}
        # the job's own configuration (e.g. its savepoint directory) wins over the session cluster's
        conf.update({k: to_flink_string(v) for k, v in (session_job.spec.flink_configuration or {}).items()})
        return JobTarget(session_job, cluster, conf)


__all__ = ["FLINK_SESSION_JOBS", "JobTarget", "TargetFinder", "deployment_conf"]
