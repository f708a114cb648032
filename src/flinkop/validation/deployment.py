"""FlinkDeployment validation: upstream's rules in upstream's order, the first failure reported."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from flinkop.api import FlinkDeployment, FlinkDeploymentSpec, unknown_enum_values
from flinkop.validation import rules
from flinkop.validation._flink_config import ConfigValueError, FlinkConfig, flatten_flink_configuration
from flinkop.validation.autoscaler import autoscaler_error


@dataclass(frozen=True)
class DeploymentCheck:
    """What the rules of one validation see."""

    resource: FlinkDeployment
    last: FlinkDeploymentSpec | None
    conf: FlinkConfig  # operator defaults + spec.flinkConfiguration
    operator_conf: FlinkConfig

    @property
    def spec(self) -> FlinkDeploymentSpec:
        return self.resource.spec


def _unknown_enums_error(check: DeploymentCheck) -> str | None:
    """Message ours, the rule a flinkop addition (the API server's CRD schema rejects these first)."""
    problems = unknown_enum_values(check.spec, "spec")
    return "Invalid spec: " + "; ".join(problems) if problems else None


DeploymentRule = Callable[[DeploymentCheck], "str | None"]

DEPLOYMENT_RULES: tuple[tuple[str, DeploymentRule], ...] = (
    ("metadata.name", lambda c: rules.deployment_name_error(c.resource.metadata.name)),
    ("spec.flinkVersion", lambda c: rules.flink_version_error(c.spec, c.last)),
    ("spec enums", _unknown_enums_error),
    ("spec.flinkConfiguration", lambda c: rules.deployment_config_error(c.conf)),
    ("spec.ingress", lambda c: rules.ingress_error(c.spec.ingress, c.resource.name, c.resource.namespace)),
    ("spec.logConfiguration", lambda c: rules.log_config_error(c.spec.log_configuration)),
    ("spec.job", lambda c: rules.job_spec_error(c.spec.job, c.spec.task_manager, c.conf)),
    ("spec.job.jarURI", lambda c: rules.application_jar_error(c.spec.job)),
    ("spec.jobManager", lambda c: rules.jm_spec_error(c.spec.job_manager, c.conf)),
    ("spec.taskManager", lambda c: rules.tm_spec_error(c.spec.task_manager, c.conf)),
    ("spec change", lambda c: rules.spec_change_error(c.spec, c.last)),
    ("spec.serviceAccount", lambda c: rules.service_account_error(c.spec.service_account)),
    ("autoscaler", lambda c: autoscaler_error(c.conf, c.operator_conf)),
)
"""(what is checked, rule), in the order the rules run."""


def validate_deployment(
    new: FlinkDeployment,
    old_reconciled_spec: FlinkDeploymentSpec | None,
    operator_config: Mapping[str, str] | None = None,
) -> str | None:
    """None if ``new`` is valid, else the message of the first rule it fails.

    ``old_reconciled_spec`` is the spec of ``status.reconciliationStatus.lastReconciledSpec``
    (None before the first deployment). ``operator_config`` is the operator's default Flink
    configuration for the resource, already resolved for its namespace and Flink version
    (``kubernetes.operator.default-configuration.*``); ``spec.flinkConfiguration`` is laid over it.
    Canary resources are always valid.
    """
    if rules.is_canary(new):
        return None
    operator_conf = FlinkConfig(operator_config)
    check = DeploymentCheck(
        resource=new,
        last=old_reconciled_spec,
        conf=FlinkConfig(operator_config, flatten_flink_configuration(new.spec.flink_configuration)),
        operator_conf=operator_conf,
    )
    try:
        return rules.first_error(partial(rule, check) for _, rule in DEPLOYMENT_RULES)
    except ConfigValueError as error:  # a value Flink could not read fails the validation with its message
        return str(error)
