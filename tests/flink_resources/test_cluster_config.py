"""The configuration a cluster is deployed with: ANCHOR-INVENTORY §1.2 field mappings and §2.13 keys."""

from __future__ import annotations

from typing import Any

import pytest

from flinkop.flink.resources import ResourceRenderError, build_cluster_config

from .builders import JOB, deployment, flat_config


def config(
    job: dict[str, Any] | None = JOB, extra: dict[str, str] | None = None, **spec: Any
) -> dict[str, str]:
    dep = deployment(job=job, **spec)
    return build_cluster_config(dep, {**flat_config(dep), **(extra or {})})


def test_inventory_common_injected_keys() -> None:
    # §2.13: kubernetes.namespace, kubernetes.cluster-id, rest-service type ClusterIP default,
    # web.cancel.enable=false default, generation annotation, owner reference
    conf = config()
    assert conf["kubernetes.namespace"] == "default"
    assert conf["kubernetes.cluster-id"] == "my-dep"
    assert conf["kubernetes.rest-service.exposed.type"] == "ClusterIP"
    assert conf["web.cancel.enable"] == "false"
    assert conf["kubernetes.jobmanager.annotations"] == "flinkdeployment.flink.apache.org/generation:7"
    assert conf["kubernetes.jobmanager.owner.reference"] == (
        "apiVersion:flink.apache.org/v1beta1,kind:FlinkDeployment,name:my-dep,uid:uid-1234,"
        "blockOwnerDeletion:true,controller:false"
    )
    assert conf["$internal.flink.version"] == "v2_3"
    assert "high-availability.cluster-id" not in conf


def test_inventory_image_service_account_and_pull_policy() -> None:
    # §1.2: image -> kubernetes.container.image.ref (v1_17+) or kubernetes.container.image (older);
    # serviceAccount -> kubernetes.service-account; imagePullPolicy -> kubernetes.container.image.pull-policy
    conf = config(imagePullPolicy="Always")
    assert conf["kubernetes.container.image.ref"] == "flink:2.3"
    assert conf["kubernetes.service-account"] == "flink"
    assert conf["kubernetes.container.image.pull-policy"] == "Always"
    old = config(flinkVersion="v1_16", image="flink:1.16")
    assert old["kubernetes.container.image"] == "flink:1.16"
    assert "kubernetes.container.image.ref" not in old
    with pytest.raises(ResourceRenderError, match="imagePullPolicy"):
        config(imagePullPolicy="Sometimes")


def test_inventory_application_keys() -> None:
    # §1.2 JobSpec: jarURI -> pipeline.jars, parallelism -> parallelism.default, entryClass ->
    # $internal.application.main, args -> $internal.application.program-args, allowNonRestoredState ->
    # execution.savepoint.ignore-unclaimed-state (its Flink >= 1.20 name here); §2.13 application extras
    job = {**JOB, "entryClass": "org.example.Main", "args": ["--a", "x;y"], "allowNonRestoredState": True}
    conf = config(job=job)
    assert conf["execution.target"] == "kubernetes-application"
    assert conf["pipeline.jars"] == "local:///opt/flink/examples/streaming/StateMachineExample.jar"
    assert conf["parallelism.default"] == "2"
    assert conf["$internal.application.main"] == "org.example.Main"
    assert conf["$internal.application.program-args"] == "--a;'x;y'"
    assert conf["execution.state-recovery.ignore-unclaimed-state"] == "true"
    assert conf["execution.shutdown-on-application-finish"] == "false"
    assert conf["execution.submit-failed-job-on-application-error"] == "true"
    assert conf["pipeline.name"] == "my-dep"
    assert conf["execution.checkpointing.externalized-checkpoint-retention"] == "RETAIN_ON_CANCELLATION"
    assert conf["kubernetes.internal.jobmanager.entrypoint.class"] == (
        "org.apache.flink.kubernetes.entrypoint.KubernetesApplicationClusterEntrypoint"
    )
    assert "execution.checkpointing.interval" not in conf  # only defaulted for last-state


def test_inventory_session_keys_have_no_job() -> None:
    # §2.13: session cluster -> execution.target kubernetes-session, no job keys
    conf = config(job=None)
    assert conf["execution.target"] == "kubernetes-session"
    assert conf["kubernetes.internal.jobmanager.entrypoint.class"] == (
        "org.apache.flink.kubernetes.entrypoint.KubernetesSessionClusterEntrypoint"
    )
    for key in (
        "pipeline.jars",
        "parallelism.default",
        "pipeline.name",
        "$internal.application.program-args",
    ):
        assert key not in conf


def test_user_values_win_over_operator_defaults() -> None:
    conf = config(
        extra={
            "pipeline.name": "custom",
            "web.cancel.enable": "true",
            "kubernetes.rest-service.exposed.type": "NodePort",
        }
    )
    assert (conf["pipeline.name"], conf["web.cancel.enable"]) == ("custom", "true")
    assert conf["kubernetes.rest-service.exposed.type"] == "NodePort"


def test_last_state_defaults_the_checkpoint_interval_to_five_minutes() -> None:
    assert config(job={**JOB, "upgradeMode": "last-state"})["execution.checkpointing.interval"] == "5 min"


def test_inventory_parallelism_from_task_manager_replicas_times_slots() -> None:
    # §1.2: taskManager.replicas set -> parallelism = replicas x taskmanager.numberOfTaskSlots
    conf = config(taskManager={"replicas": 3, "resource": {"memory": "1g"}})
    assert conf["parallelism.default"] == "6"
    assert conf["kubernetes.internal.taskmanager.replicas"] == "3"


def test_parallelism_from_vertex_overrides() -> None:
    conf = config(extra={"pipeline.jobvertex-parallelism-overrides": "a:3,b:5"})
    assert conf["parallelism.default"] == "5"


def test_restore_path_and_job_id_for_application_clusters() -> None:
    dep = deployment(job=JOB)
    conf = build_cluster_config(
        dep,
        {**flat_config(dep), "execution.savepoint.path": "file:///stale"},
        restore_from="file:///sp/savepoint-1",
        job_id="0" * 32,
        allow_non_restored_state=False,
    )
    assert conf["execution.state-recovery.path"] == "file:///sp/savepoint-1"
    assert "execution.savepoint.path" not in conf  # one name only, the one Flink 2.x reads
    assert conf["$internal.pipeline.job-id"] == "0" * 32
    assert conf["execution.state-recovery.ignore-unclaimed-state"] == "false"
    # without a restore path an inherited one is removed (a stateless start)
    fresh = build_cluster_config(dep, {**flat_config(dep), "execution.state-recovery.path": "file:///old"})
    assert "execution.state-recovery.path" not in fresh


def test_restore_keys_before_flink_1_20_use_the_savepoint_names() -> None:
    dep = deployment(job={**JOB, "allowNonRestoredState": True}, flinkVersion="v1_19", image="flink:1.19")
    conf = build_cluster_config(dep, flat_config(dep), restore_from="file:///sp/1")
    assert conf["execution.savepoint.path"] == "file:///sp/1"
    assert conf["execution.savepoint.ignore-unclaimed-state"] == "true"
    assert "execution.state-recovery.path" not in conf


def test_inventory_ha_keys() -> None:
    # §2.13: high-availability.cluster-id=<CR name> (if HA)
    conf = config(
        extra={"high-availability.type": "kubernetes", "high-availability.storageDir": "file:///ha"}
    )
    assert conf["high-availability.cluster-id"] == "my-dep"
    assert conf["high-availability.jobmanager.port"] == "6123"
    assert "jobmanager.rpc.address" not in conf  # native HA: the JobManager is reached by pod IP
    legacy = config(
        extra={
            "high-availability": "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory"
        }
    )
    assert legacy["high-availability.cluster-id"] == "my-dep"
    assert "high-availability.cluster-id" not in config(extra={"high-availability.type": "NONE"})


def test_fixed_ports_and_internal_service_address() -> None:
    conf = config()
    assert conf["blob.server.port"] == "6124"
    assert conf["taskmanager.rpc.port"] == "6122"
    assert conf["jobmanager.rpc.address"] == "my-dep.default"
    assert config(extra={"blob.server.port": "0"})["blob.server.port"] == "6124"
    assert config(extra={"blob.server.port": "7000"})["blob.server.port"] == "7000"
    with pytest.raises(ResourceRenderError, match="fixed port"):
        config(extra={"blob.server.port": "6124-6130"})


def test_inventory_operator_keys_are_stripped() -> None:
    # §2.13: all kubernetes.operator.* and job.autoscaler.* keys are stripped before handing the config
    # to Flink
    conf = config(extra={"kubernetes.operator.reconcile.interval": "15 s", "job.autoscaler.enabled": "true"})
    assert not [key for key in conf if key.startswith(("kubernetes.operator.", "job.autoscaler."))]


def test_inventory_resources_mapping() -> None:
    # §1.2: memory -> jobmanager.memory.process.size / taskmanager.memory.process.size; cpu -> *.cpu.amount;
    # requests + limits -> limit-factor keys
    conf = config(
        jobManager={
            "resources": {"requests": {"memory": "2048m", "cpu": "1"}, "limits": {"memory": "3g", "cpu": "2"}}
        },
        taskManager={"resource": {"memory": "2Gi", "cpu": 0.5}},
    )
    assert conf["jobmanager.memory.process.size"] == "2 gb"
    assert conf["kubernetes.jobmanager.cpu.amount"] == "1.0"
    assert conf["kubernetes.jobmanager.memory.limit-factor"] == "1.5"
    assert conf["kubernetes.jobmanager.cpu.limit-factor"] == "2.0"
    assert conf["taskmanager.memory.process.size"] == "2147483648"  # a Kubernetes quantity: bytes
    assert conf["kubernetes.taskmanager.cpu.amount"] == "0.5"
    assert "kubernetes.taskmanager.cpu.limit-factor" not in conf


def test_inventory_legacy_cpu_keys_before_v1_17() -> None:
    # §1.2: for flinkVersion < v1_17 the legacy keys kubernetes.jobmanager.cpu / kubernetes.taskmanager.cpu
    # are written as well
    conf = config(flinkVersion="v1_16", image="flink:1.16")
    assert conf["kubernetes.jobmanager.cpu"] == conf["kubernetes.jobmanager.cpu.amount"] == "1.0"
    assert conf["kubernetes.taskmanager.cpu"] == "1.0"


def test_resources_win_over_deprecated_resource() -> None:
    conf = config(jobManager={"resource": {"memory": "1g"}, "resources": {"requests": {"memory": "4g"}}})
    assert conf["jobmanager.memory.process.size"] == "4 gb"
    empty = config(jobManager={"resource": {"memory": "1g"}, "resources": {}})
    assert empty["jobmanager.memory.process.size"] == "1 gb"


def test_standalone_keys() -> None:
    conf = config(mode="standalone")
    assert conf["execution.target"] == "remote"
    assert conf["kubernetes.internal.cluster-mode"] == "APPLICATION"
    assert conf["pipeline.classpaths"] == "file:///opt/flink/examples/streaming/StateMachineExample.jar"
    assert conf["kubernetes.internal.taskmanager.replicas"] == "1"
    assert "kubernetes.internal.jobmanager.entrypoint.class" not in conf
    assert config(job=None, mode="standalone")["kubernetes.internal.cluster-mode"] == "SESSION"


def test_a_missing_flink_version_or_namespace_is_an_error() -> None:
    with pytest.raises(ResourceRenderError, match="Flink Version must be defined"):
        config(flinkVersion=None)
    with pytest.raises(ResourceRenderError, match="namespace"):
        dep = deployment(namespace="", job=JOB)
        build_cluster_config(dep, {})


def test_no_owner_reference_without_a_uid() -> None:
    dep = deployment(job=JOB, uid=None)
    assert "kubernetes.jobmanager.owner.reference" not in build_cluster_config(dep, flat_config(dep))
