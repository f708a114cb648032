"""Validation rules shared by the kinds, each returning the error message or None.

Messages are upstream's (DefaultValidator, flink-kubernetes-operator) word for word, except
where a comment says "Message ours": those rules exist upstream without a message we could
check (they are paraphrased in the anchor inventory), or are flinkop additions.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from urllib.parse import urlsplit

from flinkop.api import (
    CustomResource,
    FlinkDeploymentSpec,
    FlinkVersion,
    IngressSpec,
    JobManagerSpec,
    JobSpec,
    JobState,
    KubernetesDeploymentMode,
    Resource,
    ResourceRequirements,
    TaskManagerSpec,
    UpgradeMode,
)
from flinkop.config.units import parse_memory_size
from flinkop.validation import _options as opt
from flinkop.validation._flink_config import ConfigOption, FlinkConfig
from flinkop.validation._units import is_blank, parse_quantity, parse_resource_memory, quantity_text
from flinkop.validation.ingress import IngressTemplateError, expand_ingress_template, has_placeholder

Check = Callable[[], "str | None"]
"""A rule bound to its inputs; rules run in order and the first message wins."""

CANARY_LABEL = "flink.apache.org/canary"
DEPLOYMENT_NAME_PATTERN = re.compile(r"[a-z]([-a-z0-9]{0,43}[a-z0-9])?")
FORBIDDEN_CONF_KEYS = (opt.KUBERNETES_NAMESPACE, opt.KUBERNETES_CLUSTER_ID, opt.HA_CLUSTER_ID)
# Upstream formats a Java Set.of(...), whose iteration order varies between JVM runs; this is one of them.
ALLOWED_LOG_CONF_KEYS = ("log4j-console.properties", "logback-console.xml")
MIN_SUPPORTED_FLINK_VERSION = FlinkVersion.V1_15

JM_MEMORY_UNDEFINED = "JobManager resource memory must be defined using `spec.jobManager.resource.memory`"
TM_MEMORY_UNDEFINED = "TaskManager resource memory must be defined using `spec.taskManager.resource.memory`"


def first_error(checks: Iterable[Check]) -> str | None:
    """Run the checks in order; the first message is the result (upstream's ``firstPresent``)."""
    for check in checks:
        if (message := check()) is not None:
            return message
    return None


def is_canary(resource: CustomResource) -> bool:
    """Canary resources (the operator's own health probes) bypass validation."""
    labels = resource.metadata.labels or {}
    return labels.get(CANARY_LABEL, "false").lower() == "true"


def is_ha_enabled(conf: FlinkConfig) -> bool:
    """Flink ``HighAvailabilityMode.isHighAvailabilityModeActivated``: any mode but NONE/standalone."""
    mode = conf.get_string(opt.HA_MODE)
    return mode is not None and mode.upper() != "NONE" and mode.lower() != "standalone"


# --- metadata / version -------------------------------------------------------------------------


def deployment_name_error(name: str | None) -> str | None:
    """A FlinkDeployment name (also a session job's deploymentName): a DNS label of at most 45 chars."""
    if name is not None and DEPLOYMENT_NAME_PATTERN.fullmatch(name):
        return None
    return (
        f"The FlinkDeployment name: {'null' if name is None else name} is invalid, must consist of lower "
        "case alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123'), and the length must be no more than 45 "
        "characters."
    )


def flink_version_error(spec: FlinkDeploymentSpec, last: FlinkDeploymentSpec | None) -> str | None:
    version = spec.flink_version
    if version is None:
        return "Flink Version must be defined."
    # An unknown value (a stand-in enum member) is as unsupported as v1_14.
    if not (version.is_known and version.is_at_least(MIN_SUPPORTED_FLINK_VERSION)):
        return f"Flink version {version.value} is not supported by this operator version"
    if (
        last is not None
        and last.job is not None
        and spec.job is not None
        and spec.job.upgrade_mode != UpgradeMode.STATELESS
        and last.job.state == JobState.SUSPENDED
        and last.job.upgrade_mode == UpgradeMode.LAST_STATE
        and last.flink_version != version
    ):
        return (
            "Changing flinkVersion after last-state suspend is not allowed. Restore your cluster with the "
            "current flinkVersion and perform the version upgrade afterwards."
        )
    return None


# --- configuration ------------------------------------------------------------------------------


def deployment_config_error(conf: FlinkConfig) -> str | None:
    for key in FORBIDDEN_CONF_KEYS:
        if key in conf:
            return f"Forbidden Flink config key: {key}"
    if conf.get_bool(opt.DEPLOYMENT_ROLLBACK_ENABLED) and not is_ha_enabled(conf):
        return "HA must be enabled for rollback support."
    if conf.get_bool(opt.CLUSTER_HEALTH_CHECK_ENABLED) and not conf.get_bool(
        opt.JM_DEPLOYMENT_RECOVERY_ENABLED
    ):
        return (
            f"Deployment recovery ({opt.JM_DEPLOYMENT_RECOVERY_ENABLED.key}) must be enabled for job health "
            f"check ({opt.CLUSTER_HEALTH_CHECK_ENABLED.key}) support."
        )
    return None


def ingress_error(ingress: IngressSpec | None, name: str, namespace: str) -> str | None:
    if ingress is None:
        return None
    if ingress.template is None:
        return "Ingress template must be defined"
    try:
        expand_ingress_template(ingress.template, name, namespace)
    except IngressTemplateError as error:
        return str(error)
    if not has_placeholder(ingress.template):
        # Message ours, and the rule a flinkop addition: upstream accepts a template without
        # placeholders, which gives every FlinkDeployment using it the same Ingress route.
        return (
            f"Ingress template({ingress.template}) must contain a {{{{name}}}} or {{{{namespace}}}} "
            "placeholder, e.g. '{{name}}.{{namespace}}.flink.k8s.io' or '/{{namespace}}/{{name}}(/|$)(.*)'"
        )
    return None


def log_config_error(log_configuration: Mapping[str, str] | None) -> str | None:
    for key in log_configuration or {}:
        if key not in ALLOWED_LOG_CONF_KEYS:
            return f"Invalid log config key: {key}. Allowed keys are [{', '.join(ALLOWED_LOG_CONF_KEYS)}]"
    return None


def service_account_error(service_account: str | None) -> str | None:
    if service_account is None:
        return (
            "spec.serviceAccount must be defined. If you use helm, its value should be the same with the "
            "name of jobServiceAccount."
        )
    return None


# --- job ------------------------------------------------------------------------------------------


def job_spec_error(job: JobSpec | None, tm: TaskManagerSpec | None, conf: FlinkConfig) -> str | None:
    """Upgrade-mode and snapshot requirements, parallelism (FlinkDeployment and FlinkSessionJob)."""
    if job is None:
        return None
    if job.upgrade_mode != UpgradeMode.STATELESS and is_blank(conf.get_string(opt.CHECKPOINTS_DIRECTORY)):
        return (
            f"Checkpoint directory[{opt.CHECKPOINTS_DIRECTORY.key}] must be defined for last-state and "
            "savepoint upgrade modes"
        )
    if is_blank(conf.get_string(opt.SAVEPOINT_DIRECTORY)):
        key = opt.SAVEPOINT_DIRECTORY.key
        if job.upgrade_mode == UpgradeMode.SAVEPOINT:
            return f"Job could not be upgraded with savepoint while config key[{key}] is not set"
        if job.savepoint_trigger_nonce is not None:
            return (
                "Savepoint could not be manually triggered for the running job while config "
                f"key[{key}] is not set"
            )
        if conf.contains(opt.PERIODIC_SAVEPOINT_INTERVAL):
            return f"Periodic savepoints cannot be enabled when config key[{key}] is not set"
        if conf.get_duration_nanos(opt.LAST_STATE_MAX_CHECKPOINT_AGE) is not None:
            return (
                f"In order to use max-checkpoint age functionality config key[{key}] must be set to allow "
                "triggering savepoint upgrades."
            )
    if tm is not None and tm.replicas is not None:
        if tm.replicas < 1:
            return "TaskManager replicas must be larger than 0"
    elif job.parallelism < 1:
        return "Job parallelism must be larger than 0"
    return None


def application_jar_error(job: JobSpec | None) -> str | None:
    """An application needs a job jar to run.

    Message ours, and the rule a flinkop addition: upstream leaves ``jarURI`` optional, because
    a jar in the image's ``usrlib`` plus an ``entryClass`` is enough. So only a job with neither
    is rejected, which upstream would accept and then fail to start.
    """
    if job is None or job.jar_uri is not None or job.entry_class is not None:
        return None
    return (
        "Jar URI must be defined: set spec.job.jarURI (e.g. local:///opt/flink/usrlib/my-job.jar), or "
        "spec.job.entryClass for a job jar already on the image's classpath"
    )


# --- JobManager / TaskManager -------------------------------------------------------------------


def jm_spec_error(jm: JobManagerSpec | None, conf: FlinkConfig) -> str | None:
    memory_in_spec = jm is not None and _memory_defined(jm.resource, jm.resources)
    if not memory_in_spec and not _jm_memory_configured(conf):
        return JM_MEMORY_UNDEFINED
    if jm is None:
        return None
    return (
        resource_error("JobManager", jm.resource)
        or resources_error("JobManager", jm.resources)
        or _jm_replicas_error(jm.replicas, conf)
    )


def tm_spec_error(tm: TaskManagerSpec | None, conf: FlinkConfig) -> str | None:
    memory_in_spec = tm is not None and _memory_defined(tm.resource, tm.resources)
    if not memory_in_spec and not _tm_memory_configured(conf):
        return TM_MEMORY_UNDEFINED
    if tm is None:
        return None
    if error := resource_error("TaskManager", tm.resource) or resources_error("TaskManager", tm.resources):
        return error
    if tm.replicas is not None and tm.replicas < 1:
        return "TaskManager replicas should not be configured less than one."
    return None


def _jm_replicas_error(replicas: int, conf: FlinkConfig) -> str | None:
    if replicas < 1:
        return "JobManager replicas should not be configured less than one."
    if replicas > 1 and not is_ha_enabled(conf):
        return "High availability should be enabled when starting standby JobManagers."
    return None


def _memory_defined(resource: Resource | None, resources: ResourceRequirements | None) -> bool:
    if resource is not None and not is_blank(resource.memory):
        return True
    return resources is not None and any(
        (section or {}).get("memory") is not None for section in (resources.requests, resources.limits)
    )


def _memory_options_parse(conf: FlinkConfig, options: Iterable[ConfigOption]) -> bool:
    for option in options:
        value = conf.raw(option)
        if value is not None:
            try:
                parse_memory_size(value)
            except ValueError:
                return False
    return True


def _jm_memory_configured(conf: FlinkConfig) -> bool:
    """Whether Flink can size the JobManager process from the configuration alone.

    Checks what Flink's ``JobManagerProcessUtils`` requires (the heap, the total Flink memory or
    the total process memory, set and parseable; the legacy heap keys count as the heap) but not
    whether the derived memory components fit together: a too small process size fails when the
    JobManager starts, not here.
    """
    explicit = (opt.JM_JVM_HEAP_MEMORY, opt.JM_TOTAL_FLINK_MEMORY, opt.JM_TOTAL_PROCESS_MEMORY)
    if not _memory_options_parse(conf, explicit):
        return False
    if any(conf.raw(option) is not None for option in explicit):
        return True
    if conf.raw(opt.JM_LEGACY_HEAP_MEMORY) is not None:
        return _memory_options_parse(conf, (opt.JM_LEGACY_HEAP_MEMORY,))
    legacy_mb = conf.raw(opt.JM_LEGACY_HEAP_MEMORY_MB)
    return legacy_mb is not None and re.fullmatch(r"\s*[+-]?\d+\s*", legacy_mb) is not None


def _tm_memory_configured(conf: FlinkConfig) -> bool:
    """Like :func:`_jm_memory_configured`, for ``TaskExecutorProcessUtils``: task heap and managed
    memory together, or the total Flink memory, or the total process memory."""
    options = (
        opt.TM_TASK_HEAP_MEMORY,
        opt.TM_MANAGED_MEMORY_SIZE,
        opt.TM_TOTAL_FLINK_MEMORY,
        opt.TM_TOTAL_PROCESS_MEMORY,
    )
    if not _memory_options_parse(conf, options):
        return False
    fine_grained = (
        conf.raw(opt.TM_TASK_HEAP_MEMORY) is not None and conf.raw(opt.TM_MANAGED_MEMORY_SIZE) is not None
    )
    return (
        fine_grained
        or conf.raw(opt.TM_TOTAL_FLINK_MEMORY) is not None
        or conf.raw(opt.TM_TOTAL_PROCESS_MEMORY) is not None
    )


def resource_error(component: str, resource: Resource | None) -> str | None:
    """The deprecated ``resource`` form: memory and ephemeral storage must parse.

    Both problems are reported together, concatenated without a separator, as upstream does.
    """
    if resource is None:
        return None
    message = ""
    if resource.memory is not None:
        try:
            parse_resource_memory(resource.memory)
        except ValueError as error:
            message += f"{component} resource memory parse error: {error}"
    if resource.ephemeral_storage is not None:
        try:
            parse_quantity(resource.ephemeral_storage)
        except ValueError as error:
            message += f"{component} resource ephemeral storage parse error: {error}"
    return message if message.strip() else None


def resources_error(component: str, resources: ResourceRequirements | None) -> str | None:
    """The ``resources`` form (Kubernetes ResourceRequirements).

    Message ours: the rules are upstream's (memory and cpu > 0, other resources >= 0, request <=
    limit for cpu and memory); its wording is not available to us.
    """
    if resources is None:
        return None
    parsed: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for section, quantities in (("requests", resources.requests), ("limits", resources.limits)):
        for name, raw in (quantities or {}).items():
            text = quantity_text(raw)
            field = f"{component} resources.{section}.{name}"
            try:
                value = parse_resource_memory(text) if name == "memory" else parse_quantity(text)
            except ValueError as error:
                return f"{field} parse error: {error}"
            if name in ("memory", "cpu") and value <= 0:
                return f"{field} must be larger than 0, got {text}"
            if value < 0:
                return f"{field} must not be negative, got {text}"
            parsed[section, name] = (value, text)
    for name in ("cpu", "memory"):
        request, limit = parsed.get(("requests", name)), parsed.get(("limits", name))
        if request is not None and limit is not None and request[0] > limit[0]:
            return (
                f"{component} resources.requests.{name} ({request[1]}) must not be larger than "
                f"resources.limits.{name} ({limit[1]})"
            )
    return None


# --- spec changes ---------------------------------------------------------------------------------


def spec_change_error(spec: FlinkDeploymentSpec, last: FlinkDeploymentSpec | None) -> str | None:
    """What may not change against the last reconciled spec (None: never deployed)."""
    if last is None:
        return None
    if spec.job is not None and last.job is None:
        return "Cannot switch from session to job cluster"
    if spec.job is None and last.job is not None:
        return "Cannot switch from job to session cluster"
    native, standalone = KubernetesDeploymentMode.NATIVE, KubernetesDeploymentMode.STANDALONE
    last_mode, mode = last.mode or native, spec.mode or native
    if last_mode == native and mode != native:
        return "Cannot switch from native kubernetes to standalone kubernetes cluster"
    if last_mode == standalone and mode != standalone:
        return "Cannot switch from standalone kubernetes to native kubernetes cluster"
    if (
        spec.job is not None
        and last.job is not None
        and spec.job.savepoint_redeploy_nonce is not None
        and spec.job.savepoint_redeploy_nonce != last.job.savepoint_redeploy_nonce
        and is_blank(spec.job.initial_savepoint_path)
    ):
        return "InitialSavepointPath must not be empty for savepoint redeployment"
    return None


# --- session job artifacts ------------------------------------------------------------------------

Resolver = Callable[[str], Iterable[str]]
"""Host name -> IP addresses (e.g. via ``socket.getaddrinfo``); raises OSError when unresolvable."""


def jar_uri_error(
    jar_uri: str | None, operator_conf: FlinkConfig, resolve_host: Resolver | None
) -> str | None:
    """A session job's jar must come from an allowed scheme and, for http(s), a public host.

    Message ours (the rule is upstream's). Pure by default: a host name is only resolved when
    ``resolve_host`` is given; IP literals and ``localhost`` are judged without it.
    """
    if jar_uri is None:
        return None
    try:
        parts = urlsplit(jar_uri)
        host = parts.hostname
    except ValueError as error:
        return f"Invalid jarURI {jar_uri}: {error}"
    allowed = [scheme.lower() for scheme in operator_conf.get_list(opt.USER_ARTIFACTS_ALLOWED_SCHEMES)]
    scheme = parts.scheme.lower()
    if scheme not in allowed:
        return (
            f"The jarURI {jar_uri} must use one of the allowed schemes [{', '.join(allowed)}] "
            f"({opt.USER_ARTIFACTS_ALLOWED_SCHEMES.key})"
        )
    if scheme not in ("http", "https") or not operator_conf.get_bool(
        opt.USER_ARTIFACTS_DISALLOW_RESTRICTED_HOSTS
    ):
        return None
    if not host:
        return f"The jarURI {jar_uri} has no host"
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = []
        if host == "localhost":
            addresses = ["127.0.0.1"]
        elif resolve_host is not None:
            try:
                addresses = list(resolve_host(host))
            except OSError:
                addresses = []
            if not addresses:
                return f"The jarURI host {host} could not be resolved"
    for address in addresses:
        if _is_restricted_address(address):
            switch = opt.USER_ARTIFACTS_DISALLOW_RESTRICTED_HOSTS.key
            return (
                f"The jarURI host {host} is a restricted address ({address}: loopback, link-local, "
                f"site-local, wildcard or multicast); set {switch}: false to allow it"
            )
    return None


_SITE_LOCAL = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fec0::/10")
)


def _is_restricted_address(text: str) -> bool:
    """Java ``InetAddress``: loopback, link-local, site-local, any-local (wildcard) or multicast."""
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or any(address in net for net in _SITE_LOCAL)
    )
