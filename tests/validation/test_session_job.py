"""FlinkSessionJob validation: alone, and against its session cluster."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from flinkop.api import FlinkDeployment, FlinkSessionJob, FlinkSessionJobSpec
from flinkop.validation import SESSION_CLUSTER_RULES, SESSION_JOB_RULES, validate_session_job

from .builders import (
    Edit,
    application,
    conf,
    job,
    labels,
    remove,
    replace_conf,
    session_cluster,
    session_job,
    spec,
)

NAME_RULE = (
    "The FlinkDeployment name: {} is invalid, must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123'), and the length must be no more than 45 characters."
)
ALLOW_HTTP = {"kubernetes.operator.user.artifacts.allowed-schemes": "http;https"}


def deployment_name(value: str | None) -> Edit:
    return spec(deploymentName=value)


FAILING: list[tuple[str, FlinkSessionJob, FlinkDeployment | None, FlinkSessionJobSpec | None, str]] = [
    (
        "deployment-name-invalid",
        session_job(deployment_name("Session_1")),
        None,
        None,
        NAME_RULE.format("Session_1"),
    ),
    (
        "deployment-name-missing",
        session_job(remove("spec", "deploymentName")),
        None,
        None,
        NAME_RULE.format("null"),
    ),
    ("job-missing", session_job(remove("spec", "job")), None, None, "The job spec should not be empty"),
    (
        "deployment-name-changed",
        session_job(deployment_name("other-cluster")),
        None,
        session_job().spec,
        "The deploymentName can't be changed",
    ),
    (
        "application-cluster",
        session_job(),
        application(),
        None,
        "Can not submit session job to application cluster",
    ),
    (
        "cluster-name-mismatch",
        session_job(deployment_name("not-match")),
        session_cluster(),
        None,
        "The session job's cluster id is not match with the session cluster",
    ),
    (
        "savepoint-mode-without-dirs",
        session_job(job(upgradeMode="savepoint")),
        session_cluster(replace_conf({})),
        None,
        "Checkpoint directory[execution.checkpointing.dir] must be defined for last-state and savepoint "
        "upgrade modes",
    ),
    (
        "parallelism-zero",
        session_job(job(parallelism=0)),
        session_cluster(),
        None,
        "Job parallelism must be larger than 0",
    ),
    (
        "autoscaler-in-session-config",
        session_job(),
        session_cluster(
            conf({"job.autoscaler.enabled": "true", "job.autoscaler.scale-down.max-factor": "-0.1"})
        ),
        None,
        "The AutoScalerOption job.autoscaler.scale-down.max-factor is invalid, it should be a value within "
        "the range [0.0, +Infinity]",
    ),
]


@pytest.mark.parametrize(
    ("resource", "session", "last", "expected"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING]
)
def test_rule_reports_its_exact_message(
    resource: FlinkSessionJob,
    session: FlinkDeployment | None,
    last: FlinkSessionJobSpec | None,
    expected: str,
) -> None:
    assert validate_session_job(resource, session, last) == expected


PASSING: list[tuple[str, FlinkSessionJob, FlinkDeployment | None]] = [
    ("with-session", session_job(), session_cluster()),
    ("session-not-created-yet", session_job(), None),
    ("last-state-with-session-checkpoint-dir", session_job(job(upgradeMode="last-state")), session_cluster()),
    (
        "periodic-savepoints-with-session-savepoint-dir",
        session_job(conf({"kubernetes.operator.periodic.savepoint.interval": "1m"})),
        session_cluster(),
    ),
    (
        "dirs-in-job-config-only",
        session_job(
            job(upgradeMode="savepoint"),
            conf(
                {"state.savepoints.dir": "test-savepoint-dir", "state.checkpoints.dir": "test-checkpoint-dir"}
            ),
        ),
        session_cluster(replace_conf({})),
    ),
    (
        "artifact-http-headers",
        session_job(conf({"kubernetes.operator.user.artifacts.http.header": "k1:v1,k2:v2"})),
        session_cluster(),
    ),
    ("job-without-jar", session_job(remove("spec", "job", "jarURI")), session_cluster()),
    ("canary", session_job(labels(**{"flink.apache.org/canary": "true"}), remove("spec", "job")), None),
]


@pytest.mark.parametrize(("resource", "session"), [c[1:] for c in PASSING], ids=[c[0] for c in PASSING])
def test_valid_session_job_passes(resource: FlinkSessionJob, session: FlinkDeployment | None) -> None:
    assert validate_session_job(resource, session) is None


def test_unchanged_deployment_name_passes() -> None:
    assert validate_session_job(session_job(), session_cluster(), session_job().spec) is None


def test_job_alone_is_checked_before_the_cluster() -> None:
    # Both a job-only rule and a cluster rule fail: the job-only one is reported.
    assert (
        validate_session_job(session_job(remove("spec", "job")), application())
        == "The job spec should not be empty"
    )


def test_rule_order() -> None:
    assert [what for what, _ in SESSION_JOB_RULES] == [
        "spec.deploymentName",
        "spec.job",
        "spec enums",
        "spec change",
        "spec.job.jarURI",
    ]
    assert [what for what, _ in SESSION_CLUSTER_RULES] == [
        "session cluster mode",
        "session cluster name",
        "spec.job with cluster config",
        "autoscaler",
    ]


class TestJarUri:
    def jar(self, uri: str) -> FlinkSessionJob:
        return session_job(job(jarURI=uri))

    def test_scheme_must_be_allowed(self) -> None:
        assert validate_session_job(self.jar("local:///opt/flink/job.jar"), None) == (
            "The jarURI local:///opt/flink/job.jar must use one of the allowed schemes [https] "
            "(kubernetes.operator.user.artifacts.allowed-schemes)"
        )

    def test_allowed_schemes_come_from_the_operator_configuration(self) -> None:
        operator = {"kubernetes.operator.user.artifacts.allowed-schemes": "HTTPS;Local"}
        assert validate_session_job(self.jar("local:///opt/flink/job.jar"), None, None, operator) is None

    def test_allowed_schemes_in_the_resource_are_ignored(self) -> None:
        resource = session_job(
            job(jarURI="local:///job.jar"),
            conf({"kubernetes.operator.user.artifacts.allowed-schemes": "local"}),
        )
        assert validate_session_job(resource, None) is not None

    @pytest.mark.parametrize(
        ("uri", "host", "address"),
        [
            ("https://127.0.0.1/job.jar", "127.0.0.1", "127.0.0.1"),
            ("https://10.1.2.3:8443/job.jar", "10.1.2.3", "10.1.2.3"),
            ("https://172.20.0.1/job.jar", "172.20.0.1", "172.20.0.1"),
            ("https://192.168.1.1/job.jar", "192.168.1.1", "192.168.1.1"),
            ("https://169.254.169.254/latest/meta-data", "169.254.169.254", "169.254.169.254"),
            ("https://0.0.0.0/job.jar", "0.0.0.0", "0.0.0.0"),
            ("https://224.0.0.1/job.jar", "224.0.0.1", "224.0.0.1"),
            ("https://[::1]/job.jar", "::1", "::1"),
            ("https://[fe80::1]/job.jar", "fe80::1", "fe80::1"),
            ("https://[::ffff:127.0.0.1]/job.jar", "::ffff:127.0.0.1", "::ffff:7f00:1"),
            ("http://localhost:8080/job.jar", "localhost", "127.0.0.1"),
        ],
    )
    def test_restricted_hosts_are_rejected(self, uri: str, host: str, address: str) -> None:
        message = validate_session_job(self.jar(uri), None, None, ALLOW_HTTP)
        assert message == (
            f"The jarURI host {host} is a restricted address ({address}: loopback, link-local, site-local, "
            "wildcard or multicast); set kubernetes.operator.user.artifacts.disallow-restricted-hosts: false "
            "to allow it"
        )

    def test_restricted_hosts_may_be_allowed(self) -> None:
        operator = {**ALLOW_HTTP, "kubernetes.operator.user.artifacts.disallow-restricted-hosts": "false"}
        assert validate_session_job(self.jar("http://127.0.0.1/job.jar"), None, None, operator) is None

    def test_public_ip_passes(self) -> None:
        assert validate_session_job(self.jar("https://151.101.0.1/job.jar"), None) is None

    def test_host_is_required(self) -> None:
        assert (
            validate_session_job(self.jar("https:///job.jar"), None)
            == "The jarURI https:///job.jar has no host"
        )

    def test_host_names_are_resolved_only_with_a_resolver(self) -> None:
        resource = self.jar("https://artifacts.internal/job.jar")
        assert validate_session_job(resource, None) is None

        def private(host: str) -> Iterable[str]:
            return ["192.168.7.7"]

        assert validate_session_job(resource, None, resolve_host=private) == (
            "The jarURI host artifacts.internal is a restricted address (192.168.7.7: loopback, "
            "link-local, site-local, wildcard or multicast); set "
            "kubernetes.operator.user.artifacts.disallow-restricted-hosts: false to allow it"
        )

    def test_unresolvable_host(self) -> None:
        def unresolvable(host: str) -> Iterable[str]:
            raise OSError("Name or service not known")

        resource = self.jar("https://nowhere.invalid/job.jar")
        assert (
            validate_session_job(resource, None, resolve_host=unresolvable)
            == "The jarURI host nowhere.invalid could not be resolved"
        )
