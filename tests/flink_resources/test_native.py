"""Native mode objects against ANCHOR-INVENTORY §2.14 (Flink's KubernetesClusterDescriptor conventions)."""

from __future__ import annotations

from typing import Any

import pytest

from flinkop.flink.resources import ResourceRenderError, adopt, render

from .builders import JOB, by_kind_name, deployment, env_map, flat_config, main_container

NATIVE_JM_LABELS = {"app": "my-dep", "type": "flink-native-kubernetes", "component": "jobmanager"}
NATIVE_COMMON = {"app": "my-dep", "type": "flink-native-kubernetes"}


def render_app(**spec: Any) -> dict[tuple[str, str], dict[str, Any]]:
    dep = deployment(job=JOB, **spec)
    return by_kind_name(render(dep, flat_config(dep)))


def render_session(**spec: Any) -> dict[tuple[str, str], dict[str, Any]]:
    dep = deployment(**spec)
    return by_kind_name(render(dep, flat_config(dep)))


def test_inventory_native_objects_are_jm_deployment_two_services_and_flink_config_map() -> None:
    # §2.14: JM Deployment <name>, Service <name> (headless), Service <name>-rest,
    # ConfigMap flink-config-<name>
    dep = deployment(job=JOB)
    objects = render(dep, flat_config(dep))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Deployment", "my-dep"),
        ("Service", "my-dep"),
        ("Service", "my-dep-rest"),
        ("ConfigMap", "flink-config-my-dep"),
    ]
    assert all(o["metadata"]["namespace"] == "default" for o in objects)


def test_inventory_jm_deployment_labels_generation_annotation_owner_and_replicas() -> None:
    # §2.14: app=<name>, type=flink-native-kubernetes, component=jobmanager; annotation
    # flinkdeployment.flink.apache.org/generation; ownerRef -> CR; replicas = jobManager.replicas.
    # §2.13: kubernetes.jobmanager.owner.reference: blockOwnerDeletion=true, controller=false.
    jm = render_app()[("Deployment", "my-dep")]
    assert jm["apiVersion"] == "apps/v1"
    assert jm["metadata"]["labels"] == NATIVE_JM_LABELS
    assert jm["metadata"]["annotations"] == {"flinkdeployment.flink.apache.org/generation": "7"}
    assert jm["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkDeployment",
            "name": "my-dep",
            "uid": "uid-1234",
            "controller": False,
            "blockOwnerDeletion": True,
        }
    ]
    assert jm["spec"]["replicas"] == 1
    assert jm["spec"]["selector"] == {"matchLabels": NATIVE_JM_LABELS}
    assert jm["spec"]["template"]["metadata"]["labels"] == NATIVE_JM_LABELS
    assert jm["spec"]["template"]["metadata"]["annotations"] == {
        "flinkdeployment.flink.apache.org/generation": "7"
    }


def test_jm_labels_and_annotations_from_config_are_added() -> None:
    jm = render_app(
        flinkConfiguration={
            "kubernetes.jobmanager.labels": "team:data,app:ignored",
            "kubernetes.jobmanager.annotations": "a:1",
        }
    )[("Deployment", "my-dep")]
    # the selector labels win over user labels in native mode
    assert jm["metadata"]["labels"] == {**NATIVE_JM_LABELS, "team": "data"}
    assert jm["metadata"]["annotations"] == {"a": "1", "flinkdeployment.flink.apache.org/generation": "7"}


def test_main_container_runs_flinks_own_entrypoint_application_and_session() -> None:
    # NATIVE-MODE-NOTES: kubernetes-jobmanager.sh kubernetes-session|kubernetes-application, via bash -c
    app = main_container(render_app()[("Deployment", "my-dep")])
    assert app["command"] == ["/docker-entrypoint.sh"]
    assert app["args"] == ["bash", "-c", "kubernetes-jobmanager.sh kubernetes-application "]
    session = main_container(render_session()[("Deployment", "my-dep")])
    assert session["args"] == ["bash", "-c", "kubernetes-jobmanager.sh kubernetes-session "]


def test_main_container_name_image_ports_env_and_probe() -> None:
    main = main_container(render_app()[("Deployment", "my-dep")])
    assert main["name"] == "flink-main-container"
    assert main["image"] == "flink:2.3"
    assert main["imagePullPolicy"] == "IfNotPresent"
    assert main["ports"] == [
        {"name": "rest", "containerPort": 8081},
        {"name": "jobmanager-rpc", "containerPort": 6123},
        {"name": "blobserver", "containerPort": 6124},
    ]
    assert main["env"] == [
        {
            "name": "_POD_IP_ADDRESS",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
        }
    ]
    # §2.13: startup probe GET /config on port "rest", periodSeconds 1, failureThreshold 2147483647
    assert main["startupProbe"] == {
        "failureThreshold": 2147483647,
        "httpGet": {"path": "/config", "port": "rest"},
        "periodSeconds": 1,
    }


def test_startup_probe_can_be_disabled_and_master_env_is_passed() -> None:
    dep = deployment(job=JOB)
    config = {
        **flat_config(dep),
        "kubernetes.operator.jm-deployment.startup.probe.enabled": "false",
        "containerized.master.env.ENABLE_BUILT_IN_PLUGINS": "flink-s3-fs-hadoop-2.3.0.jar",
        "kubernetes.flink.log.dir": "/opt/flink/log",
    }
    main = main_container(by_kind_name(render(dep, config))[("Deployment", "my-dep")])
    assert "startupProbe" not in main
    env = env_map(main)
    assert list(env) == ["ENABLE_BUILT_IN_PLUGINS", "_POD_IP_ADDRESS", "FLINK_LOG_DIR"]
    assert env["ENABLE_BUILT_IN_PLUGINS"] == "flink-s3-fs-hadoop-2.3.0.jar"
    assert env["FLINK_LOG_DIR"] == "/opt/flink/log"


def test_resources_requests_and_limits_from_spec_resources() -> None:
    main = main_container(render_app()[("Deployment", "my-dep")])
    assert main["resources"] == {
        "requests": {"memory": "2048Mi", "cpu": "1.0"},
        "limits": {"memory": "2048Mi", "cpu": "1.0"},
    }


def test_limit_factors_raise_the_limits() -> None:
    jm_resources = {"requests": {"memory": "1g", "cpu": "500m"}, "limits": {"memory": "2g", "cpu": "2"}}
    main = main_container(render_app(jobManager={"resources": jm_resources})[("Deployment", "my-dep")])
    assert main["resources"] == {
        "requests": {"memory": "1024Mi", "cpu": "0.5"},
        "limits": {"memory": "2048Mi", "cpu": "2.0"},
    }


def test_pod_spec_service_account_dns_and_config_volume() -> None:
    pod = render_app()[("Deployment", "my-dep")]["spec"]["template"]["spec"]
    assert pod["serviceAccount"] == pod["serviceAccountName"] == "flink"
    assert pod["hostNetwork"] is False
    assert pod["dnsPolicy"] == "ClusterFirst"
    # the config ConfigMap mounted at /opt/flink/conf, items: log4j-console.properties + config.yaml
    assert pod["volumes"] == [
        {
            "name": "flink-config-volume",
            "configMap": {
                "name": "flink-config-my-dep",
                "items": [
                    {"key": "log4j-console.properties", "path": "log4j-console.properties"},
                    {"key": "config.yaml", "path": "config.yaml"},
                ],
            },
        }
    ]
    assert main_container({"spec": {"template": {"spec": pod}}})["volumeMounts"] == [
        {"name": "flink-config-volume", "mountPath": "/opt/flink/conf"}
    ]


def test_v1_cluster_mounts_flink_conf_yaml() -> None:
    objects = render_app(flinkVersion="v1_20", image="flink:1.20")
    pod = objects[("Deployment", "my-dep")]["spec"]["template"]["spec"]
    items = pod["volumes"][0]["configMap"]["items"]
    assert items[-1] == {"key": "flink-conf.yaml", "path": "flink-conf.yaml"}
    assert set(objects[("ConfigMap", "flink-config-my-dep")]["data"]) == {
        "log4j-console.properties",
        "flink-conf.yaml",
    }


def test_inventory_internal_service_is_headless_with_rpc_and_blob_ports() -> None:
    # §2.14: ClusterIP None; ports jobmanager-rpc 6123, blobserver 6124;
    # selector app/type/component=jobmanager
    service = render_app()[("Service", "my-dep")]
    assert service["metadata"]["labels"] == NATIVE_COMMON
    assert service["spec"] == {
        "clusterIP": "None",
        "selector": NATIVE_JM_LABELS,
        "ports": [{"name": "jobmanager-rpc", "port": 6123}, {"name": "blobserver", "port": 6124}],
    }


def test_inventory_rest_service_port_8081_type_cluster_ip_by_default() -> None:
    # §2.14: port rest = rest.port (8081); type from kubernetes.rest-service.exposed.type (default ClusterIP)
    service = render_app()[("Service", "my-dep-rest")]
    assert service["metadata"]["labels"] == NATIVE_COMMON
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": NATIVE_JM_LABELS,
        "ports": [{"name": "rest", "port": 8081, "targetPort": 8081}],
    }


@pytest.mark.parametrize(
    ("exposed", "expected"),
    [
        ("NodePort", {"type": "NodePort"}),
        ("LoadBalancer", {"type": "LoadBalancer"}),
        ("Headless_ClusterIP", {"type": "ClusterIP", "clusterIP": "None"}),
    ],
)
def test_rest_service_exposed_types(exposed: str, expected: dict[str, str]) -> None:
    spec = render_app(
        flinkConfiguration={
            "kubernetes.rest-service.exposed.type": exposed,
            "kubernetes.rest-service.annotations": "lb:internal",
            "rest.port": "9081",
        }
    )[("Service", "my-dep-rest")]
    assert {key: spec["spec"][key] for key in expected} == expected
    assert spec["spec"]["ports"] == [{"name": "rest", "port": 9081, "targetPort": 9081}]
    assert spec["metadata"]["annotations"] == {"lb": "internal"}


def test_unknown_exposed_type_is_an_error() -> None:
    with pytest.raises(ResourceRenderError, match=r"exposed\.type"):
        render_app(flinkConfiguration={"kubernetes.rest-service.exposed.type": "Bogus"})


def test_ha_cluster_has_no_internal_service_and_allows_standby_jobmanagers() -> None:
    ha = {"high-availability.type": "kubernetes", "high-availability.storageDir": "file:///ha"}
    objects = render_app(flinkConfiguration=ha, jobManager={"replicas": 2, "resource": {"memory": "1g"}})
    assert ("Service", "my-dep") not in objects
    assert objects[("Deployment", "my-dep")]["spec"]["replicas"] == 2


def test_standby_jobmanagers_need_ha() -> None:
    with pytest.raises(ResourceRenderError, match="High availability should be enabled"):
        render_app(jobManager={"replicas": 2, "resource": {"memory": "1g"}})


def test_tm_pod_template_goes_to_pod_template_config_map_mounted_in_the_jm() -> None:
    # §2.14: TM pod-template ConfigMap pod-template-<name>, key taskmanager-pod-template.yaml
    tm_template = {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}
    objects = render_app(taskManager={"resource": {"memory": "1g"}, "podTemplate": tm_template})
    config_map = objects[("ConfigMap", "pod-template-my-dep")]
    assert config_map["metadata"]["labels"] == NATIVE_COMMON
    import yaml

    assert yaml.safe_load(config_map["data"]["taskmanager-pod-template.yaml"]) == tm_template
    jm = objects[("Deployment", "my-dep")]
    assert {
        "name": "pod-template-volume",
        "configMap": {
            "name": "pod-template-my-dep",
            "items": [{"key": "taskmanager-pod-template.yaml", "path": "taskmanager-pod-template.yaml"}],
        },
    } in jm["spec"]["template"]["spec"]["volumes"]
    assert {"name": "pod-template-volume", "mountPath": "/opt/flink/pod-template"} in main_container(jm)[
        "volumeMounts"
    ]


def test_no_pod_template_config_map_without_a_tm_template() -> None:
    assert ("ConfigMap", "pod-template-my-dep") not in render_app()


def test_template_sidecars_come_first_and_the_main_container_last() -> None:
    template = {
        "spec": {
            "containers": [
                {"name": "flink-main-container", "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "busybox"},
            ]
        }
    }
    jm = render_app(podTemplate=template)[("Deployment", "my-dep")]
    names = [c["name"] for c in jm["spec"]["template"]["spec"]["containers"]]
    assert names == ["sidecar", "flink-main-container"]
    # template env first, then Flink's
    assert list(env_map(main_container(jm))) == ["A", "_POD_IP_ADDRESS"]


def test_configured_image_beats_template_image_and_template_beats_default_pull_policy() -> None:
    template = {
        "spec": {"containers": [{"name": "flink-main-container", "image": "x", "imagePullPolicy": "Always"}]}
    }
    main = main_container(render_app(podTemplate=template)[("Deployment", "my-dep")])
    assert main["image"] == "flink:2.3"
    assert main["imagePullPolicy"] == "Always"


def test_secrets_and_pull_secrets_from_config() -> None:
    main_jm = render_app(
        flinkConfiguration={
            "kubernetes.secrets": "creds:/opt/creds",
            "kubernetes.env.secretKeyRef": "env:TOKEN,secret:creds,key:token",
            "kubernetes.container.image.pull-secrets": "regcred",
            "kubernetes.jobmanager.node-selector": "disk:ssd",
            "kubernetes.jobmanager.tolerations": "key:dedicated,operator:Equal,value:flink,effect:NoSchedule",
        }
    )[("Deployment", "my-dep")]
    pod = main_jm["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["tolerations"] == [
        {"effect": "NoSchedule", "key": "dedicated", "operator": "Equal", "value": "flink"}
    ]
    assert {"name": "creds-volume", "secret": {"secretName": "creds"}} in pod["volumes"]
    main = main_container(main_jm)
    assert {"name": "creds-volume", "mountPath": "/opt/creds"} in main["volumeMounts"]
    assert env_map(main)["TOKEN"] == {"secretKeyRef": {"name": "creds", "key": "token"}}


def test_adopt_gives_services_and_config_maps_the_jm_deployment_as_owner() -> None:
    dep = deployment(job=JOB)
    objects = render(dep, flat_config(dep))
    created = {**objects[0], "metadata": {**objects[0]["metadata"], "uid": "jm-uid"}}
    adopted = adopt(objects, created)
    for obj in adopted[1:]:
        assert obj["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "my-dep",
                "uid": "jm-uid",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    assert adopted[0] == objects[0]
    assert "ownerReferences" not in objects[1]["metadata"]  # inputs untouched


def test_render_is_deterministic() -> None:
    dep = deployment(job=JOB, podTemplate={"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}})
    assert render(dep, flat_config(dep)) == render(dep, flat_config(dep))


def test_missing_memory_is_an_error() -> None:
    with pytest.raises(ResourceRenderError, match="JobManager memory is not configured"):
        render_app(jobManager={"replicas": 1})
