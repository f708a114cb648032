"""Pod template merging as upstream's FlinkUtils.mergePodTemplates (ANCHOR-INVENTORY §2.13)."""

from __future__ import annotations

from typing import Any

from flinkop.flink.resources import render
from flinkop.flink.resources.podtemplate import (
    add_main_container_resources,
    jobmanager_pod_template,
    merge_pod_templates,
    split_main_container,
    taskmanager_pod_template,
)

from .builders import JOB, by_kind_name, deployment, env_map, flat_config, main_container

COMMON: dict[str, Any] = {
    "metadata": {"labels": {"team": "data"}},
    "spec": {
        "containers": [
            {
                "name": "flink-main-container",
                "env": [{"name": "A", "value": "common"}, {"name": "B", "value": "common"}],
                "volumeMounts": [{"name": "logs", "mountPath": "/opt/flink/log"}],
            }
        ],
        "volumes": [{"name": "logs", "emptyDir": {}}],
    },
}


def test_main_container_is_merged_by_index_by_default() -> None:
    jm = {"spec": {"containers": [{"name": "flink-main-container", "image": "custom"}]}}
    merged = merge_pod_templates(COMMON, jm)
    assert merged is not None
    (main,) = merged["spec"]["containers"]
    assert main["image"] == "custom"
    assert main["volumeMounts"] == [{"name": "logs", "mountPath": "/opt/flink/log"}]


def test_inventory_arrays_merge_by_index_so_a_lone_sidecar_lands_on_the_main_container() -> None:
    # §2.13: arrays merged by index (upstream default): element 0 of the component template is merged into
    # element 0 of the common template, whatever its name
    jm = {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}
    merged = merge_pod_templates(COMMON, jm)
    assert merged is not None
    assert [c["name"] for c in merged["spec"]["containers"]] == ["sidecar"]


def test_inventory_arrays_merge_by_name_when_enabled() -> None:
    # §2.13 / §4.2 kubernetes.operator.pod-template.merge-arrays-by-name=true
    jm = {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}
    merged = merge_pod_templates(COMMON, jm, merge_arrays_by_name=True)
    assert merged is not None
    assert [c["name"] for c in merged["spec"]["containers"]] == ["flink-main-container", "sidecar"]


def test_env_merge_precedence() -> None:
    jm = {"spec": {"containers": [{"name": "flink-main-container", "env": [{"name": "B", "value": "jm"}]}]}}
    by_name = merge_pod_templates(COMMON, jm, merge_arrays_by_name=True)
    assert by_name is not None
    assert by_name["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "common"},
        {"name": "B", "value": "jm"},
    ]
    # by index the component's first env var overwrites the common's first one (upstream behaviour)
    by_index = merge_pod_templates(COMMON, jm)
    assert by_index is not None
    assert by_index["spec"]["containers"][0]["env"] == [
        {"name": "B", "value": "jm"},
        {"name": "B", "value": "common"},
    ]


def test_volumes_merge_and_scalars_are_replaced() -> None:
    jm = {
        "spec": {
            "volumes": [{"name": "logs", "emptyDir": {}}, {"name": "extra", "emptyDir": {}}],
            "priorityClassName": "x",
        }
    }
    merged = merge_pod_templates(COMMON, jm, merge_arrays_by_name=True)
    assert merged is not None
    assert [v["name"] for v in merged["spec"]["volumes"]] == ["logs", "extra"]
    assert merged["spec"]["priorityClassName"] == "x"
    assert merged["metadata"] == {"labels": {"team": "data"}}


def test_scalar_arrays_keep_the_common_values_by_index() -> None:
    common = {"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}}
    component = {"spec": {"containers": [{"name": "c", "args": ["x"]}]}}
    merged = merge_pod_templates(common, component)
    assert merged is not None
    assert merged["spec"]["containers"][0]["args"] == ["a", "b"]


def test_none_templates() -> None:
    assert merge_pod_templates(None, None) is None
    assert merge_pod_templates(COMMON, None) == COMMON
    assert merge_pod_templates(None, COMMON) == COMMON
    assert merge_pod_templates(COMMON, None) is not COMMON


def test_merge_does_not_modify_inputs() -> None:
    before = repr(COMMON)
    merge_pod_templates(COMMON, {"spec": {"containers": [{"name": "flink-main-container", "image": "i"}]}})
    assert repr(COMMON) == before


def test_ephemeral_storage_goes_on_the_main_container() -> None:
    result = add_main_container_resources(
        None, {"limits": {"ephemeral-storage": "2G"}, "requests": {"ephemeral-storage": "2G"}}
    )
    assert result == {
        "spec": {
            "containers": [
                {
                    "name": "flink-main-container",
                    "resources": {
                        "limits": {"ephemeral-storage": "2G"},
                        "requests": {"ephemeral-storage": "2G"},
                    },
                }
            ]
        }
    }


def test_component_templates_from_the_spec() -> None:
    dep = deployment(
        job=JOB,
        podTemplate=COMMON,
        taskManager={"resource": {"memory": "1g", "ephemeralStorage": "5G"}},
    )
    jm = jobmanager_pod_template(dep)
    assert jm is not None and "startupProbe" in jm["spec"]["containers"][0]
    tm = taskmanager_pod_template(dep)
    assert tm is not None
    assert tm["spec"]["containers"][0]["resources"] == {
        "limits": {"ephemeral-storage": "5G"},
        "requests": {"ephemeral-storage": "5G"},
    }
    assert taskmanager_pod_template(deployment(job=JOB)) is None


def test_resources_extras_other_than_cpu_and_memory_go_on_the_main_container() -> None:
    dep = deployment(
        job=JOB,
        jobManager={
            "resources": {
                "requests": {"memory": "1g", "cpu": 1, "ephemeral-storage": "1G"},
                "limits": {"nvidia.com/gpu": 1},
            }
        },
    )
    objects = by_kind_name(render(dep, flat_config(dep)))
    resources = main_container(objects[("Deployment", "my-dep")])["resources"]
    assert resources == {
        "requests": {"ephemeral-storage": "1G", "memory": "1024Mi", "cpu": "1.0"},
        "limits": {"nvidia.com/gpu": 1, "memory": "1024Mi", "cpu": "1.0"},
    }


def test_jm_and_tm_templates_in_the_rendered_objects() -> None:
    dep = deployment(
        job=JOB,
        podTemplate=COMMON,
        jobManager={
            "resource": {"memory": "1g"},
            "podTemplate": {
                "spec": {
                    "containers": [{"name": "flink-main-container", "env": [{"name": "A", "value": "jm"}]}]
                }
            },
        },
        taskManager={"resource": {"memory": "1g"}},
    )
    objects = by_kind_name(render(dep, flat_config(dep)))
    jm_pod = objects[("Deployment", "my-dep")]["spec"]["template"]
    assert jm_pod["metadata"]["labels"]["team"] == "data"
    env = env_map(main_container(objects[("Deployment", "my-dep")]))
    assert env["A"] == "jm" and env["B"] == "common"
    assert [v["name"] for v in jm_pod["spec"]["volumes"]] == [
        "logs",
        "flink-config-volume",
        "pod-template-volume",
    ]
    import yaml

    tm_template = yaml.safe_load(
        objects[("ConfigMap", "pod-template-my-dep")]["data"]["taskmanager-pod-template.yaml"]
    )
    assert tm_template == COMMON


def test_split_main_container() -> None:
    pod, main = split_main_container(COMMON)
    assert main["name"] == "flink-main-container"
    assert pod["spec"]["containers"] == []
    pod, main = split_main_container(None)
    assert (pod, main) == ({"metadata": {}, "spec": {}}, {})
