"""The admission webhook's mutations (upstream ``DefaultFlinkMutator``). Pure: the input is never changed.

Each function returns the resource to admit; when nothing changes it returns its input itself,
so the webhook's original-to-mutated diff is empty.
"""

from __future__ import annotations

from flinkop.api import FlinkDeployment, FlinkSessionJob, FlinkStateSnapshot

TARGET_SESSION_LABEL = "target.session"
"""Set on every FlinkSessionJob to its ``spec.deploymentName``: lets the operator list a session's jobs."""


def mutate_session_job(job: FlinkSessionJob) -> FlinkSessionJob:
    deployment_name = job.spec.deployment_name
    labels = job.metadata.labels or {}
    if deployment_name is None or labels.get(TARGET_SESSION_LABEL) == deployment_name:
        return job
    metadata = job.metadata.model_copy(update={"labels": {**labels, TARGET_SESSION_LABEL: deployment_name}})
    return job.model_copy(update={"metadata": metadata})


def mutate_deployment(deployment: FlinkDeployment) -> FlinkDeployment:
    """No built-in mutation of FlinkDeployments (upstream has a plugin hook only)."""
    return deployment


def mutate_snapshot(snapshot: FlinkStateSnapshot) -> FlinkStateSnapshot:
    """No built-in mutation of FlinkStateSnapshots."""
    return snapshot
