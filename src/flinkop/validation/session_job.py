"""FlinkSessionJob validation: the job alone, then against its session cluster when that exists.

A session job whose FlinkDeployment does not exist (yet) is not rejected, as upstream: both are
often applied together, and the reconciler waits for the session cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from flinkop.api import FlinkDeployment, FlinkSessionJob, FlinkSessionJobSpec, unknown_enum_values
from flinkop.validation import rules
from flinkop.validation._flink_config import ConfigValueError, FlinkConfig, flatten_flink_configuration
from flinkop.validation.autoscaler import autoscaler_error


@dataclass(frozen=True)
class SessionJobCheck:
    resource: FlinkSessionJob
    session: FlinkDeployment | None
    last: FlinkSessionJobSpec | None
    conf: FlinkConfig  # operator defaults + session cluster's + job's flinkConfiguration
    operator_conf: FlinkConfig
    resolve_host: rules.Resolver | None

    @property
    def spec(self) -> FlinkSessionJobSpec:
        return self.resource.spec


def _job_present_error(check: SessionJobCheck) -> str | None:
    return "The job spec should not be empty" if check.spec.job is None else None


def _unknown_enums_error(check: SessionJobCheck) -> str | None:
    """Message ours, the rule a flinkop addition (the API server's CRD schema rejects these first)."""
    problems = unknown_enum_values(check.spec, "spec")
    return "Invalid spec: " + "; ".join(problems) if problems else None


def _deployment_name_change_error(check: SessionJobCheck) -> str | None:
    if check.last is not None and check.last.deployment_name != check.spec.deployment_name:
        return "The deploymentName can't be changed"
    return None


def _jar_uri_error(check: SessionJobCheck) -> str | None:
    job = check.spec.job
    return rules.jar_uri_error(job.jar_uri if job else None, check.operator_conf, check.resolve_host)


def _application_cluster_error(check: SessionJobCheck) -> str | None:
    assert check.session is not None
    return "Can not submit session job to application cluster" if check.session.spec.job is not None else None


def _cluster_id_error(check: SessionJobCheck) -> str | None:
    assert check.session is not None
    if check.session.metadata.name != check.spec.deployment_name:
        return "The session job's cluster id is not match with the session cluster"
    return None


SessionJobRule = Callable[[SessionJobCheck], "str | None"]

SESSION_JOB_RULES: tuple[tuple[str, SessionJobRule], ...] = (
    ("spec.deploymentName", lambda c: rules.deployment_name_error(c.spec.deployment_name)),
    ("spec.job", _job_present_error),
    ("spec enums", _unknown_enums_error),
    ("spec change", _deployment_name_change_error),
    ("spec.job.jarURI", _jar_uri_error),
)
"""Rules on the session job alone, in order."""

SESSION_CLUSTER_RULES: tuple[tuple[str, SessionJobRule], ...] = (
    ("session cluster mode", _application_cluster_error),
    ("session cluster name", _cluster_id_error),
    ("spec.job with cluster config", lambda c: rules.job_spec_error(c.spec.job, None, c.conf)),
    ("autoscaler", lambda c: autoscaler_error(c.conf, c.operator_conf)),
)
"""Rules that need the session FlinkDeployment, run after :data:`SESSION_JOB_RULES` when it exists."""


def validate_session_job(
    job: FlinkSessionJob,
    session_deployment: FlinkDeployment | None,
    old_reconciled_spec: FlinkSessionJobSpec | None = None,
    operator_config: Mapping[str, str] | None = None,
    *,
    resolve_host: rules.Resolver | None = None,
) -> str | None:
    """None if ``job`` is valid, else the message of the first rule it fails.

    ``session_deployment``: the FlinkDeployment named by ``spec.deploymentName`` in the job's
    namespace, None if there is none. ``old_reconciled_spec``: the job's last reconciled spec.
    ``operator_config``: as for :func:`~flinkop.validation.validate_deployment`, resolved for the
    session cluster's Flink version; it also holds the artifact settings
    (``kubernetes.operator.user.artifacts.*``), which a resource cannot override.
    ``resolve_host``: resolves a jarURI host name to addresses for the restricted-host check;
    without it (the default, no I/O) only IP literals and ``localhost`` are checked.
    """
    if rules.is_canary(job):
        return None
    session_conf = session_deployment.spec.flink_configuration if session_deployment else None
    check = SessionJobCheck(
        resource=job,
        session=session_deployment,
        last=old_reconciled_spec,
        conf=FlinkConfig(
            operator_config,
            flatten_flink_configuration(session_conf),
            flatten_flink_configuration(job.spec.flink_configuration),
        ),
        operator_conf=FlinkConfig(operator_config),
        resolve_host=resolve_host,
    )
    selected = SESSION_JOB_RULES + (SESSION_CLUSTER_RULES if session_deployment is not None else ())
    try:
        return rules.first_error(partial(rule, check) for _, rule in selected)
    except ConfigValueError as error:
        return str(error)
