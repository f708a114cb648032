"""Validation and mutation of the Flink resources, shared by the reconciler and the admission webhook.

Pure functions, no I/O. A validator returns None for a valid resource, else the message of the
first rule it fails, worded as the upstream operator words it: the reconciler puts it in
``status.error`` with a ``ValidationError`` event, the webhook rejects the request with it.
"""

from flinkop.validation.deployment import DEPLOYMENT_RULES, validate_deployment
from flinkop.validation.ingress import IngressTemplateError, IngressUrl, expand_ingress_template
from flinkop.validation.mutation import (
    TARGET_SESSION_LABEL,
    mutate_deployment,
    mutate_session_job,
    mutate_snapshot,
)
from flinkop.validation.rules import CANARY_LABEL, Resolver, is_canary
from flinkop.validation.session_job import SESSION_CLUSTER_RULES, SESSION_JOB_RULES, validate_session_job
from flinkop.validation.snapshot import validate_snapshot

__all__ = [
    "CANARY_LABEL",
    "DEPLOYMENT_RULES",
    "SESSION_CLUSTER_RULES",
    "SESSION_JOB_RULES",
    "TARGET_SESSION_LABEL",
    "IngressTemplateError",
    "IngressUrl",
    "Resolver",
    "expand_ingress_template",
    "is_canary",
    "mutate_deployment",
    "mutate_session_job",
    "mutate_snapshot",
    "validate_deployment",
    "validate_session_job",
    "validate_snapshot",
]
