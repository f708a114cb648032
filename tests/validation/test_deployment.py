"""FlinkDeployment validation: one minimal failing spec per rule, with the exact message, and the order."""

from __future__ import annotations

from typing import ClassVar

import pytest

from flinkop.api import FlinkDeployment, FlinkDeploymentSpec, FlinkVersion
from flinkop.validation import DEPLOYMENT_RULES, validate_deployment

from .builders import (
    APPLICATION,
    application,
    conf,
    edited,
    jm,
    jm_resource,
    job,
    labels,
    name,
    remove,
    replace_conf,
    session_cluster,
    spec,
    spec_of,
    tm,
    tm_resource,
)

NAME_RULE = (
    "The FlinkDeployment name: {} is invalid, must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123'), and the length must be no more than 45 characters."
)
NO_SAVEPOINT_DIR = {"state.savepoints.dir": None}
NO_CHECKPOINT_DIR = {"state.checkpoints.dir": None}
HA = {"high-availability.type": "kubernetes", "high-availability.storageDir": "file:///flink-data/ha"}
BIG_E = 'neither a decimal digit number, decimal point, nor "e" notation exponential mark.'
AUTOSCALER = {
    "job.autoscaler.enabled": "true",
    "job.autoscaler.utilization.target": "0.7",
    "job.autoscaler.utilization.max": "1.0",
    "job.autoscaler.utilization.min": "0.3",
}


def assert_error(deployment: FlinkDeployment, expected: str, last: FlinkDeploymentSpec | None = None) -> None:
    assert validate_deployment(deployment, last) == expected


# (id, resource, last reconciled spec, exact message)
FAILING: list[tuple[str, FlinkDeployment, FlinkDeploymentSpec | None, str]] = [
    # metadata.name
    (
        "name-not-dns-label",
        application(name("session-cluster-1.13")),
        None,
        NAME_RULE.format("session-cluster-1.13"),
    ),
    ("name-too-long", application(name("a" * 46)), None, NAME_RULE.format("a" * 46)),
    ("name-starts-with-digit", application(name("1abc")), None, NAME_RULE.format("1abc")),
    ("name-upper-case", application(name("Basic")), None, NAME_RULE.format("Basic")),
    # spec.flinkVersion
    (
        "flink-version-missing",
        application(remove("spec", "flinkVersion")),
        None,
        "Flink Version must be defined.",
    ),
    (
        "flink-version-unsupported",
        application(spec(flinkVersion="v1_14")),
        None,
        "Flink version v1_14 is not supported by this operator version",
    ),
    (
        "flink-version-after-last-state-suspend",
        application(spec(flinkVersion="v1_20"), job(upgradeMode="savepoint")),
        spec_of(spec(flinkVersion="v1_18"), job(upgradeMode="last-state", state="suspended")),
        "Changing flinkVersion after last-state suspend is not allowed. Restore your cluster with the "
        "current flinkVersion and perform the version upgrade afterwards.",
    ),
    # spec.flinkConfiguration
    *[
        (f"forbidden-{key}", application(conf({key: "x"})), None, f"Forbidden Flink config key: {key}")
        for key in ("kubernetes.namespace", "kubernetes.cluster-id", "high-availability.cluster-id")
    ],
    (
        "rollback-without-ha",
        application(conf({"kubernetes.operator.deployment.rollback.enabled": "true"})),
        None,
        "HA must be enabled for rollback support.",
    ),
    (
        "health-check-without-jm-recovery",
        application(
            conf(
                {
                    "kubernetes.operator.cluster.health-check.enabled": "true",
                    "kubernetes.operator.jm-deployment-recovery.enabled": "false",
                }
            )
        ),
        None,
        "Deployment recovery (kubernetes.operator.jm-deployment-recovery.enabled) must be enabled for job "
        "health check (kubernetes.operator.cluster.health-check.enabled) support.",
    ),
    (
        "config-value-not-boolean",
        application(conf({"kubernetes.operator.deployment.rollback.enabled": "yes"})),
        None,
        "Could not parse value 'yes' for key 'kubernetes.operator.deployment.rollback.enabled'.",
    ),
    # spec.ingress
    (
        "ingress-without-template",
        application(spec(ingress={"className": "nginx"})),
        None,
        "Ingress template must be defined",
    ),
    (
        "ingress-template-bad-port",
        application(spec(ingress={"template": "example.com:port"})),
        None,
        'Unable to process the Ingress template(example.com:port). Error: Error at index 0 in: "port"',
    ),
    (
        "ingress-template-without-placeholder",
        application(spec(ingress={"template": "flink.example.com"})),
        None,
        "Ingress template(flink.example.com) must contain a {{name}} or {{namespace}} placeholder, e.g. "
        "'{{name}}.{{namespace}}.flink.k8s.io' or '/{{namespace}}/{{name}}(/|$)(.*)'",
    ),
    # spec.logConfiguration
    (
        "log-config-unknown-key",
        application(spec(logConfiguration={"random": "config"})),
        None,
        "Invalid log config key: random. Allowed keys are [log4j-console.properties, logback-console.xml]",
    ),
    # spec.job
    *[
        (
            f"{mode}-without-checkpoint-dir",
            application(conf(NO_CHECKPOINT_DIR), job(upgradeMode=mode)),
            None,
            "Checkpoint directory[execution.checkpointing.dir] must be defined for last-state and savepoint "
            "upgrade modes",
        )
        for mode in ("savepoint", "last-state")
    ],
    (
        "savepoint-mode-without-savepoint-dir",
        application(conf(NO_SAVEPOINT_DIR), job(upgradeMode="savepoint")),
        None,
        "Job could not be upgraded with savepoint while config key[execution.checkpointing.savepoint-dir] is "
        "not set",
    ),
    (
        "savepoint-nonce-without-savepoint-dir",
        application(conf(NO_SAVEPOINT_DIR), job(savepointTriggerNonce=7)),
        None,
        "Savepoint could not be manually triggered for the running job while config "
        "key[execution.checkpointing.savepoint-dir] is not set",
    ),
    (
        "periodic-savepoints-without-savepoint-dir",
        application(replace_conf({"kubernetes.operator.periodic.savepoint.interval": "1m"})),
        None,
        "Periodic savepoints cannot be enabled when config key[execution.checkpointing.savepoint-dir] is not "
        "set",
    ),
    (
        "max-checkpoint-age-without-savepoint-dir",
        application(
            replace_conf({"kubernetes.operator.job.upgrade.last-state.max.allowed.checkpoint.age": "1m"})
        ),
        None,
        "In order to use max-checkpoint age functionality config key[execution.checkpointing.savepoint-dir] "
        "must be set to allow triggering savepoint upgrades.",
    ),
    (
        "taskmanager-replicas-zero",
        application(tm(replicas=0)),
        None,
        "TaskManager replicas must be larger than 0",
    ),
    ("parallelism-zero", application(job(parallelism=0)), None, "Job parallelism must be larger than 0"),
    ("parallelism-negative", application(job(parallelism=-1)), None, "Job parallelism must be larger than 0"),
    (
        "application-without-jar",
        application(remove("spec", "job", "jarURI")),
        None,
        "Jar URI must be defined: set spec.job.jarURI (e.g. local:///opt/flink/usrlib/my-job.jar), or "
        "spec.job.entryClass for a job jar already on the image's classpath",
    ),
    # spec.jobManager
    (
        "jobmanager-memory-undefined",
        application(jm_resource(memory=None)),
        None,
        "JobManager resource memory must be defined using `spec.jobManager.resource.memory`",
    ),
    (
        "jobmanager-missing",
        application(remove("spec", "jobManager")),
        None,
        "JobManager resource memory must be defined using `spec.jobManager.resource.memory`",
    ),
    (
        "jobmanager-memory-unparseable",
        application(jm_resource(memory="invalid")),
        None,
        f"JobManager resource memory parse error: Character I is {BIG_E}",
    ),
    (
        "jobmanager-ephemeral-storage-unparseable",
        application(jm_resource(ephemeralStorage="abc")),
        None,
        f"JobManager resource ephemeral storage parse error: Character a is {BIG_E}",
    ),
    (
        "jobmanager-memory-and-storage-unparseable",
        application(jm_resource(memory="2 gigs", ephemeralStorage="abc")),
        None,
        "JobManager resource memory parse error: Invalid quantity format passed to parse"
        f"JobManager resource ephemeral storage parse error: Character a is {BIG_E}",
    ),
    (
        "jobmanager-resources-memory-zero",
        application(remove("spec", "jobManager", "resource"), jm(resources={"requests": {"memory": "0"}})),
        None,
        "JobManager resources.requests.memory must be larger than 0, got 0",
    ),
    (
        "jobmanager-resources-unparseable",
        application(jm(resources={"limits": {"cpu": "one"}})),
        None,
        f"JobManager resources.limits.cpu parse error: Character o is {BIG_E}",
    ),
    (
        "jobmanager-resources-request-above-limit",
        application(jm(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}})),
        None,
        "JobManager resources.requests.cpu (2) must not be larger than resources.limits.cpu (500m)",
    ),
    (
        "jobmanager-resources-negative-storage",
        application(jm(resources={"requests": {"ephemeral-storage": "-1Gi"}})),
        None,
        "JobManager resources.requests.ephemeral-storage must not be negative, got -1Gi",
    ),
    (
        "jobmanager-replicas-zero",
        application(jm(replicas=0)),
        None,
        "JobManager replicas should not be configured less than one.",
    ),
    (
        "standby-jobmanagers-without-ha",
        application(jm(replicas=2)),
        None,
        "High availability should be enabled when starting standby JobManagers.",
    ),
    # spec.taskManager
    (
        "taskmanager-memory-undefined",
        application(tm_resource(memory=None)),
        None,
        "TaskManager resource memory must be defined using `spec.taskManager.resource.memory`",
    ),
    (
        "taskmanager-only-task-heap-configured",
        application(tm_resource(memory=None), conf({"taskmanager.memory.task.heap.size": "1024m"})),
        None,
        "TaskManager resource memory must be defined using `spec.taskManager.resource.memory`",
    ),
    (
        "taskmanager-memory-unparseable",
        application(tm_resource(memory="invalid")),
        None,
        f"TaskManager resource memory parse error: Character I is {BIG_E}",
    ),
    (
        "taskmanager-ephemeral-storage-unparseable",
        application(tm_resource(ephemeralStorage="abc")),
        None,
        f"TaskManager resource ephemeral storage parse error: Character a is {BIG_E}",
    ),
    (
        "taskmanager-resources-memory-request-above-limit",
        application(tm(resources={"requests": {"memory": "4Gi"}, "limits": {"memory": "2048m"}})),
        None,
        "TaskManager resources.requests.memory (4Gi) must not be larger than resources.limits.memory (2048m)",
    ),
    (
        "session-taskmanager-replicas-zero",
        session_cluster(tm(replicas=0)),
        None,
        "TaskManager replicas should not be configured less than one.",
    ),
    # spec changes against the last reconciled spec
    (
        "session-to-job",
        application(),
        spec_of(remove("spec", "job")),
        "Cannot switch from session to job cluster",
    ),
    ("job-to-session", session_cluster(), spec_of(), "Cannot switch from job to session cluster"),
    (
        "native-to-standalone",
        application(spec(mode="standalone")),
        spec_of(spec(mode="native")),
        "Cannot switch from native kubernetes to standalone kubernetes cluster",
    ),
    (
        "default-mode-to-standalone",
        application(spec(mode="standalone")),
        spec_of(),
        "Cannot switch from native kubernetes to standalone kubernetes cluster",
    ),
    (
        "standalone-to-native",
        application(spec(mode="native")),
        spec_of(spec(mode="standalone")),
        "Cannot switch from standalone kubernetes to native kubernetes cluster",
    ),
    (
        "standalone-to-default-mode",
        application(),
        spec_of(spec(mode="standalone")),
        "Cannot switch from standalone kubernetes to native kubernetes cluster",
    ),
    (
        "savepoint-redeploy-without-path",
        application(job(savepointRedeployNonce=1)),
        spec_of(),
        "InitialSavepointPath must not be empty for savepoint redeployment",
    ),
    (
        "savepoint-redeploy-with-blank-path",
        application(job(savepointRedeployNonce=2, initialSavepointPath=" ")),
        spec_of(job(savepointRedeployNonce=1, initialSavepointPath="s")),
        "InitialSavepointPath must not be empty for savepoint redeployment",
    ),
    # spec.serviceAccount
    (
        "service-account-missing",
        application(remove("spec", "serviceAccount")),
        None,
        "spec.serviceAccount must be defined. If you use helm, its value should be the same with the name of "
        "jobServiceAccount.",
    ),
]


@pytest.mark.parametrize(
    ("deployment", "last", "expected"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING]
)
def test_rule_reports_its_exact_message(
    deployment: FlinkDeployment, last: FlinkDeploymentSpec | None, expected: str
) -> None:
    assert_error(deployment, expected, last)


PASSING: list[tuple[str, FlinkDeployment, FlinkDeploymentSpec | None]] = [
    ("base-application", application(), None),
    ("base-session-cluster", session_cluster(), None),
    ("name-45-chars", application(name("a" * 45)), None),
    ("name-single-letter", application(name("a")), None),
    ("suspended-at-creation", application(job(state="suspended")), None),
    ("oldest-supported-version", application(spec(flinkVersion="v1_15")), None),
    ("newest-version", application(spec(flinkVersion="v2_4")), None),
    ("tm-replicas-instead-of-parallelism", application(tm(replicas=1), job(parallelism=0)), None),
    ("stateless-without-checkpoint-dir", application(conf(NO_CHECKPOINT_DIR)), None),
    ("last-state-with-checkpoint-dir-no-ha", application(job(upgradeMode="last-state")), None),
    (
        "new-checkpoint-keys",
        application(replace_conf({"execution.checkpointing.dir": "d"}), job(upgradeMode="last-state")),
        None,
    ),
    (
        "nested-flink-configuration",
        application(replace_conf({"state": {"checkpoints.dir": "d"}}), job(upgradeMode="last-state")),
        None,
    ),
    ("unknown-config-key", application(conf({"random": "config"})), None),
    (
        "rollback-with-ha",
        application(conf({**HA, "kubernetes.operator.deployment.rollback.enabled": "true"})),
        None,
    ),
    ("standby-jobmanagers-with-ha", application(conf(HA), jm(replicas=2)), None),
    (
        "log4j-config",
        application(spec(logConfiguration={"log4j-console.properties": "rootLogger.level = INFO"})),
        None,
    ),
    (
        "ingress-host-and-path",
        application(spec(ingress={"template": "example.com/{{namespace}}/{{name}}"})),
        None,
    ),
    ("ingress-path-only", application(spec(ingress={"template": "/{{namespace}}/{{name}}(/|$)(.*)"})), None),
    (
        "ingress-upper-case-placeholder",
        application(spec(ingress={"template": "{{NAME}}.flink.k8s.io"})),
        None,
    ),
    ("tm-memory-1G", application(tm_resource(memory="1G")), None),
    ("tm-memory-bytes", application(tm_resource(memory="100")), None),
    ("jm-memory-k8s-quantity", application(jm_resource(memory="1Gi")), None),
    ("tm-memory-fractional-quantity", application(tm_resource(memory="1.5Gi")), None),
    (
        "jm-memory-from-flink-config",
        application(jm_resource(memory=None), conf({"jobmanager.memory.heap.size": "2048m"})),
        None,
    ),
    (
        "jm-memory-from-legacy-key",
        application(jm_resource(memory=None), conf({"jobmanager.heap.mb": "1024"})),
        None,
    ),
    (
        "tm-memory-flink-total",
        application(tm_resource(memory=None), conf({"taskmanager.memory.flink.size": "2048m"})),
        None,
    ),
    (
        "tm-memory-heap-and-managed",
        application(
            tm_resource(memory=None),
            conf({"taskmanager.memory.task.heap.size": "1024m", "taskmanager.memory.managed.size": "1024m"}),
        ),
        None,
    ),
    (
        "memory-from-resources-only",
        application(
            remove("spec", "jobManager", "resource"),
            remove("spec", "taskManager", "resource"),
            jm(
                resources={"requests": {"memory": "2048m", "cpu": "1"}, "limits": {"memory": "2Gi", "cpu": 2}}
            ),
            tm(resources={"limits": {"memory": "2Gi", "nvidia.com/gpu": 1, "ephemeral-storage": "0"}}),
        ),
        None,
    ),
    ("same-spec-redeployed", application(), spec_of()),
    ("suspend-with-last-state", application(job(state="suspended", upgradeMode="last-state")), spec_of()),
    (
        "savepoint-redeploy-with-path",
        application(job(savepointRedeployNonce=1, initialSavepointPath="s")),
        spec_of(),
    ),
    (
        "savepoint-redeploy-nonce-unchanged",
        application(job(savepointRedeployNonce=1)),
        spec_of(job(savepointRedeployNonce=1, initialSavepointPath="s")),
    ),
    (
        "savepoint-redeploy-nonce-removed",
        application(),
        spec_of(job(savepointRedeployNonce=1, initialSavepointPath="s")),
    ),
    (
        "version-change-after-last-state-suspend-to-stateless",
        application(spec(flinkVersion="v1_20"), job(upgradeMode="stateless")),
        spec_of(spec(flinkVersion="v1_18"), job(upgradeMode="last-state", state="suspended")),
    ),
    *[
        (
            f"version-change-while-running-from-{mode}",
            application(spec(flinkVersion="v1_20"), job(upgradeMode="savepoint")),
            spec_of(spec(flinkVersion="v1_18"), job(upgradeMode=mode)),
        )
        for mode in ("savepoint", "last-state", "stateless")
    ],
    (
        "version-change-after-savepoint-suspend",
        application(spec(flinkVersion="v1_20"), job(upgradeMode="last-state")),
        spec_of(spec(flinkVersion="v1_18"), job(upgradeMode="savepoint", state="suspended")),
    ),
    (
        "canary-without-spec",
        FlinkDeployment.model_validate(
            {"metadata": {"name": "canary", "labels": {"flink.apache.org/canary": "true"}}}
        ),
        None,
    ),
    (
        "canary-with-invalid-spec",
        application(labels(**{"flink.apache.org/canary": "TRUE"}), job(parallelism=0)),
        None,
    ),
]


@pytest.mark.parametrize(("deployment", "last"), [c[1:] for c in PASSING], ids=[c[0] for c in PASSING])
def test_valid_spec_passes(deployment: FlinkDeployment, last: FlinkDeploymentSpec | None) -> None:
    assert validate_deployment(deployment, last) is None


def test_unknown_flink_version_is_not_supported() -> None:
    deployment = application()
    deployment.spec.flink_version = FlinkVersion("v9_9")  # a value this operator does not know
    assert_error(deployment, "Flink version v9_9 is not supported by this operator version")


def test_unknown_enum_value_in_spec() -> None:
    deployment = FlinkDeployment.model_validate(edited(APPLICATION, job(upgradeMode="fast")))
    assert_error(
        deployment,
        "Invalid spec: spec.job.upgradeMode: unknown value 'fast' (expected one of 'savepoint', "
        "'last-state', 'stateless')",
    )


class TestOperatorDefaults:
    """The operator's default configuration is the base of the effective configuration."""

    def test_defaults_satisfy_requirements(self) -> None:
        defaults = {**HA, "execution.checkpointing.dir": "cpdir"}
        deployment = application(replace_conf({}), job(upgradeMode="last-state"), jm(replicas=2))
        assert validate_deployment(deployment, None, defaults) is None

    def test_forbidden_key_in_defaults_is_reported(self) -> None:
        assert (
            validate_deployment(application(), None, {"kubernetes.cluster-id": "x"})
            == "Forbidden Flink config key: kubernetes.cluster-id"
        )

    def test_spec_overrides_defaults(self) -> None:
        deployment = application(conf({"kubernetes.operator.deployment.rollback.enabled": "false"}))
        defaults = {"kubernetes.operator.deployment.rollback.enabled": "true"}
        assert validate_deployment(deployment, None, defaults) is None


class TestAutoscaler:
    def range_message(self, key: str, low: str, high: str) -> str:
        return (
            f"The AutoScalerOption job.autoscaler.{key} is invalid, it should be a value within the range "
            f"[{low}, {high}]"
        )

    def test_valid_autoscaler_configuration(self) -> None:
        assert validate_deployment(application(conf(AUTOSCALER)), None) is None

    OUT_OF_RANGE: ClassVar[list[tuple[dict[str, str], str, str, str]]] = [
        ({"scale-down.max-factor": "-0.1"}, "scale-down.max-factor", "0.0", "+Infinity"),
        ({"scale-up.max-factor": "-0.1"}, "scale-up.max-factor", "0.0", "+Infinity"),
        ({"utilization.target": "1.5"}, "utilization.target", "0.0", "1.0"),
        ({"utilization.target": "-0.6"}, "utilization.target", "0.0", "1.0"),
        ({"target.utilization.boundary": "-1"}, "target.utilization.boundary", "0.0", "+Infinity"),
        ({"utilization.max": "-0.6"}, "utilization.max", "0.7", "1.0"),
        ({"utilization.target": "0.5", "utilization.max": "0.4"}, "utilization.max", "0.5", "1.0"),
        ({"utilization.min": "0.8"}, "utilization.min", "0.0", "0.7"),
        (
            {"observed-scalability.coefficient-min": "1.2"},
            "observed-scalability.coefficient-min",
            "0.01",
            "1.0",
        ),
        ({"memory.gc-pressure.threshold": "2"}, "memory.gc-pressure.threshold", "0.0", "1.0"),
        ({"memory.heap-usage.threshold": "-1"}, "memory.heap-usage.threshold", "0.0", "1.0"),
    ]

    @pytest.mark.parametrize(
        ("entries", "key", "low", "high"),
        OUT_OF_RANGE,
        ids=[f"{key}={entries[key]}" for entries, key, _, _ in OUT_OF_RANGE],
    )
    def test_out_of_range(self, entries: dict[str, str], key: str, low: str, high: str) -> None:
        deployment = application(
            conf({**AUTOSCALER, **{f"job.autoscaler.{k}": v for k, v in entries.items()}})
        )
        assert_error(deployment, self.range_message(key, low, high))

    def test_legacy_key_is_read(self) -> None:
        deployment = application(
            conf(
                {
                    "kubernetes.operator.job.autoscaler.enabled": "true",
                    "kubernetes.operator.job.autoscaler.scale-down.max-factor": "-1",
                }
            )
        )
        assert_error(deployment, self.range_message("scale-down.max-factor", "0.0", "+Infinity"))

    def test_unparseable_number(self) -> None:
        deployment = application(conf({**AUTOSCALER, "job.autoscaler.scale-up.max-factor": "lots"}))
        assert_error(deployment, "Invalid value in the autoscaler config job.autoscaler.scale-up.max-factor")

    def test_excluded_period(self) -> None:
        deployment = application(conf({**AUTOSCALER, "job.autoscaler.excluded.periods": "12:00-10:00"}))
        assert_error(
            deployment,
            "Invalid value 12:00-10:00 in the autoscaler config job.autoscaler.excluded.periods, the value "
            "is neither a valid daily expression nor a valid cron expression",
        )

    def test_metrics_window_shorter_than_reconcile_interval(self) -> None:
        deployment = application(conf({**AUTOSCALER, "job.autoscaler.metrics.window": "30 s"}))
        assert_error(
            deployment,
            "The AutoScalerOption job.autoscaler.metrics.window is invalid, it must not be shorter than "
            "kubernetes.operator.reconcile.interval (30 s < 60 s)",
        )

    def test_disabled_autoscaler_is_not_checked(self) -> None:
        bad = {"job.autoscaler.scale-down.max-factor": "-1.6", "job.autoscaler.utilization.target": "-1.6"}
        assert validate_deployment(application(conf(bad)), None) is None
        assert (
            validate_deployment(application(conf({**bad, "job.autoscaler.enabled": "false"})), None) is None
        )


def test_rules_run_in_upstream_order() -> None:
    assert [what for what, _ in DEPLOYMENT_RULES] == [
        "metadata.name",
        "spec.flinkVersion",
        "spec enums",
        "spec.flinkConfiguration",
        "spec.ingress",
        "spec.logConfiguration",
        "spec.job",
        "spec.job.jarURI",
        "spec.jobManager",
        "spec.taskManager",
        "spec change",
        "spec.serviceAccount",
        "autoscaler",
    ]


# Each step breaks one more rule, earlier in the order: the reported error is always the earliest.
ORDER = [
    (spec(serviceAccount=None), "spec.serviceAccount must be defined."),
    (jm(replicas=0), "JobManager replicas should not be configured less than one."),
    (job(parallelism=0), "Job parallelism must be larger than 0"),
    (spec(logConfiguration={"random": ""}), "Invalid log config key: random."),
    (spec(ingress={}), "Ingress template must be defined"),
    (conf({"kubernetes.namespace": "x"}), "Forbidden Flink config key: kubernetes.namespace"),
    (spec(flinkVersion="v1_13"), "Flink version v1_13 is not supported"),
    (name("Bad_Name"), "The FlinkDeployment name: Bad_Name is invalid"),
]


@pytest.mark.parametrize("broken", range(1, len(ORDER) + 1))
def test_first_failing_rule_is_reported(broken: int) -> None:
    edits = [edit for edit, _ in ORDER[:broken]]
    deployment = application(*edits)
    message = validate_deployment(deployment, None)
    assert message is not None
    assert message.startswith(ORDER[broken - 1][1])


def test_spec_change_is_checked_after_resources_and_before_service_account() -> None:
    last = spec_of(remove("spec", "job"))
    assert_error(
        application(tm_resource(memory="x")),
        "TaskManager resource memory parse error: Character X is " + BIG_E,
        last,
    )
    assert_error(application(spec(serviceAccount=None)), "Cannot switch from session to job cluster", last)


def test_validation_does_not_change_the_resource() -> None:
    deployment = application(job(parallelism=0))
    before = deployment.model_dump()
    validate_deployment(deployment, spec_of())
    assert deployment.model_dump() == before
