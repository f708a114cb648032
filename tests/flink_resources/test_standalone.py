"""Standalone mode objects against ANCHOR-INVENTORY §2.14 (flink-kubernetes-standalone module)."""

from __future__ import annotations

from typing import Any

import pytest

from flinkop.flink.resources import render

from .builders import JOB, by_kind_name, deployment, flat_config, main_container

STANDALONE_COMMON = {"type": "flink-standalone-kubernetes", "app": "my-dep"}
JM_LABELS = {**STANDALONE_COMMON, "component": "jobmanager"}
TM_LABELS = {**STANDALONE_COMMON, "component": "taskmanager"}


def render_standalone(job: dict[str, Any] | None = JOB, **spec: Any) -> dict[tuple[str, str], dict[str, Any]]:
    dep = deployment(job=job, mode="standalone", **spec)
    return by_kind_name(render(dep, flat_config(dep)))


def test_inventory_standalone_has_jm_and_tm_deployments_services_and_config_map() -> None:
    # §2.14: JM Deployment <name> and TM Deployment <name>-taskmanager; same <name> / <name>-rest services
    # and flink-config-<name> ConfigMap
    dep = deployment(job=JOB, mode="standalone")
    objects = render(dep, flat_config(dep))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Deployment", "my-dep"),
        ("Service", "my-dep"),
        ("Service", "my-dep-rest"),
        ("ConfigMap", "flink-config-my-dep"),
        ("Deployment", "my-dep-taskmanager"),
    ]


def test_inventory_standalone_labels_type_flink_standalone_kubernetes() -> None:
    objects = render_standalone()
    jm, tm = objects[("Deployment", "my-dep")], objects[("Deployment", "my-dep-taskmanager")]
    assert jm["metadata"]["labels"] == JM_LABELS
    assert jm["spec"]["selector"]["matchLabels"] == JM_LABELS
    assert tm["metadata"]["labels"] == TM_LABELS
    assert tm["spec"]["selector"]["matchLabels"] == TM_LABELS
    assert tm["spec"]["template"]["metadata"]["labels"] == TM_LABELS
    for key in (("Service", "my-dep"), ("Service", "my-dep-rest"), ("ConfigMap", "flink-config-my-dep")):
        assert objects[key]["metadata"]["labels"] == STANDALONE_COMMON
    assert objects[("Service", "my-dep")]["spec"]["selector"] == JM_LABELS


def test_both_deployments_are_owned_by_the_flink_deployment() -> None:
    objects = render_standalone()
    for name in ("my-dep", "my-dep-taskmanager"):
        (reference,) = objects[("Deployment", name)]["metadata"]["ownerReferences"]
        assert reference["kind"] == "FlinkDeployment"
        assert reference["uid"] == "uid-1234"


def test_inventory_session_jm_args_jobmanager_and_tm_args_taskmanager() -> None:
    # §2.14: JM args `jobmanager` (session), TM arg `taskmanager`, via /docker-entrypoint.sh
    objects = render_standalone(job=None)
    jm = main_container(objects[("Deployment", "my-dep")])
    tm = main_container(objects[("Deployment", "my-dep-taskmanager")])
    assert (jm["command"], jm["args"]) == (["/docker-entrypoint.sh"], ["jobmanager"])
    assert (tm["command"], tm["args"]) == (["/docker-entrypoint.sh"], ["taskmanager"])
    assert tm["ports"] == [{"name": "taskmanager-rpc", "containerPort": 6122}]
    assert objects[("Deployment", "my-dep-taskmanager")]["spec"]["replicas"] == 1


def test_inventory_application_jm_args_standalone_job_and_usrlib() -> None:
    # §2.14: `standalone-job` (application); user jar dir /opt/flink/usrlib (volume user-lib-dir)
    job = {**JOB, "entryClass": "org.example.Main", "args": ["--rate", "10"], "allowNonRestoredState": True}
    dep = deployment(job=job, mode="standalone")
    objects = by_kind_name(render(dep, flat_config(dep), restore_from="file:///sp/savepoint-1"))
    jm_obj = objects[("Deployment", "my-dep")]
    jm = main_container(jm_obj)
    assert jm["args"] == [
        "standalone-job",
        "--job-classname",
        "org.example.Main",
        "--allowNonRestoredState",
        "--fromSavepoint",
        "file:///sp/savepoint-1",
        "--rate",
        "10",
    ]
    assert {"name": "user-lib-dir", "emptyDir": {}} in jm_obj["spec"]["template"]["spec"]["volumes"]
    assert {"name": "user-lib-dir", "mountPath": "/opt/flink/usrlib"} in jm["volumeMounts"]


def test_ha_adds_the_pod_ip_to_the_jobmanager_args() -> None:
    ha = {"high-availability.type": "kubernetes", "high-availability.storageDir": "file:///ha"}
    session = render_standalone(job=None, flinkConfiguration=ha)
    assert main_container(session[("Deployment", "my-dep")])["args"] == ["jobmanager", "$(_POD_IP_ADDRESS)"]
    application = render_standalone(flinkConfiguration=ha)
    assert main_container(application[("Deployment", "my-dep")])["args"] == [
        "standalone-job",
        "--host",
        "$(_POD_IP_ADDRESS)",
    ]
    assert ("Service", "my-dep") in application  # standalone always has the internal Service


def test_inventory_tm_replicas_from_task_manager_replicas_or_parallelism_over_slots() -> None:
    # §2.14: TM replicas = taskManager.replicas or ceil(parallelism/slots)
    by_parallelism = render_standalone(job={**JOB, "parallelism": 5})  # 2 slots -> 3 TMs
    assert by_parallelism[("Deployment", "my-dep-taskmanager")]["spec"]["replicas"] == 3
    by_replicas = render_standalone(taskManager={"replicas": 4, "resource": {"memory": "1g"}})
    assert by_replicas[("Deployment", "my-dep-taskmanager")]["spec"]["replicas"] == 4


def test_tm_container_resources_image_service_account_and_conf_volume() -> None:
    tm_obj = render_standalone()[("Deployment", "my-dep-taskmanager")]
    pod = tm_obj["spec"]["template"]["spec"]
    tm = main_container(tm_obj)
    assert tm["image"] == "flink:2.3"
    assert tm["resources"] == {
        "requests": {"memory": "2048Mi", "cpu": "1.0"},
        "limits": {"memory": "2048Mi", "cpu": "1.0"},
    }
    assert pod["serviceAccountName"] == "flink"
    assert "startupProbe" not in tm
    assert {"name": "flink-config-volume", "mountPath": "/opt/flink/conf"} in tm["volumeMounts"]
    assert "env" not in tm  # standalone TaskManagers get their environment from the pod template only


def test_tm_cpu_falls_back_to_task_slots() -> None:
    tm_obj = render_standalone(taskManager={"resource": {"memory": "1g"}})[
        ("Deployment", "my-dep-taskmanager")
    ]
    assert main_container(tm_obj)["resources"]["requests"] == {"memory": "1024Mi", "cpu": "2.0"}


def test_standalone_config_targets_remote_with_classpaths() -> None:
    data = render_standalone()[("ConfigMap", "flink-config-my-dep")]["data"]["config.yaml"]
    assert "remote" in data
    from .builders import flatten_yaml

    flat = flatten_yaml(data)
    assert flat["execution.target"] == "remote"
    assert flat["kubernetes.internal.cluster-mode"] == "APPLICATION"
    assert flat["pipeline.classpaths"] == ["file:///opt/flink/examples/streaming/StateMachineExample.jar"]
    assert flat["jobmanager.rpc.address"] == "my-dep.default"


@pytest.mark.parametrize("job", [None, JOB])
def test_standalone_has_no_pod_template_config_map(job: dict[str, Any] | None) -> None:
    objects = render_standalone(job=job, podTemplate={"spec": {"containers": [{"name": "side"}]}})
    assert not any(name.startswith("pod-template-") for _, name in objects)
