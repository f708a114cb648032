"""Observation of Flink clusters and jobs into the FlinkDeployment status: the JobManager Deployment
(:mod:`.jobmanager`), the job (:mod:`.job`), the cluster's REST API and resources (:mod:`.cluster`), and the
whole observe step of a reconcile (:mod:`.deployment`)."""

from flinkop.observer.cluster import cluster_info, cluster_resources, observe_cluster_info, observe_session
from flinkop.observer.deployment import clear_errors_if_healthy, observe, ready_to_observe
from flinkop.observer.job import JOB_NOT_FOUND, JobStateChange, apply_job_summary, find_job, observe_job
from flinkop.observer.jobmanager import (
    MISSING_MESSAGE,
    container_failure,
    deployment_available,
    failed_create,
    observe_jobmanager,
)

__all__ = [
    "JOB_NOT_FOUND",
    "MISSING_MESSAGE",
    "JobStateChange",
    "apply_job_summary",
    "clear_errors_if_healthy",
    "cluster_info",
    "cluster_resources",
    "container_failure",
    "deployment_available",
    "failed_create",
    "find_job",
    "observe",
    "observe_cluster_info",
    "observe_job",
    "observe_jobmanager",
    "observe_session",
    "ready_to_observe",
]
