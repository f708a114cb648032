"""The flink-config-<name> ConfigMap: config.yaml (v2_x) vs flink-conf.yaml (v1_x), log configuration."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from flinkop.api import FlinkVersion
from flinkop.flink.resources import ResourceRenderError, build_cluster_config, render, render_config_file
from flinkop.flink.resources.configmap import DEFAULT_LOG4J_CONSOLE
from flinkop.flink.resources.options import decode_list, decode_map_list

from .builders import JOB, by_kind_name, deployment, flat_config, flatten_yaml


def config_map(**kwargs: Any) -> dict[str, Any]:
    dep = deployment(**kwargs)
    return by_kind_name(render(dep, flat_config(dep)))[("ConfigMap", "flink-config-my-dep")]


def test_inventory_v2_cluster_gets_config_yaml_and_log4j_console_properties() -> None:
    # §2.14: keys config.yaml (Flink >= v2_0) plus log4j-console.properties; labels app/type
    cm = config_map(job=JOB)
    assert cm["metadata"] == {
        "name": "flink-config-my-dep",
        "namespace": "default",
        "labels": {"type": "flink-native-kubernetes", "app": "my-dep"},
    }
    assert list(cm["data"]) == ["log4j-console.properties", "config.yaml"]
    assert cm["data"]["log4j-console.properties"] == DEFAULT_LOG4J_CONSOLE


@pytest.mark.parametrize("version", ["v1_15", "v1_18", "v1_19", "v1_20"])
def test_inventory_v1_cluster_gets_flink_conf_yaml(version: str) -> None:
    # §2.14: flink-conf.yaml for versions older than v2_0
    cm = config_map(job=JOB, flinkVersion=version)
    assert set(cm["data"]) == {"log4j-console.properties", "flink-conf.yaml"}


def test_config_yaml_parses_back_to_the_cluster_configuration() -> None:
    dep = deployment(job={**JOB, "args": ["--input", "a;b", "it's"]})
    config = build_cluster_config(dep, flat_config(dep))
    text = render_config_file(config, FlinkVersion.V2_3)
    assert text.startswith("$internal:\n")  # nested standard YAML, as Flink's own client writes it
    read = flatten_yaml(text)
    assert set(read) == set(config)
    for key, value in read.items():
        if key in ("pipeline.jars", "$internal.application.program-args"):
            assert value == decode_list(config[key])
        elif key == "kubernetes.jobmanager.owner.reference":
            assert value == decode_map_list(config[key])
        else:
            assert value == config[key], key  # every other value reads back as the same string
    assert read["$internal.application.program-args"] == ["--input", "a;b", "it's"]


def test_config_yaml_quotes_values_that_would_not_read_back_as_strings() -> None:
    text = render_config_file(
        {"a": "1", "b": "true", "c": "null", "d": "1.5", "e": "0x1F", "f": "", "g": "plain", "h": "yes"},
        FlinkVersion.V2_0,
    )
    assert yaml.safe_load(text) == {
        "a": "1",
        "b": "true",
        "c": "null",
        "d": "1.5",
        "e": "0x1F",
        "f": "",
        "g": "plain",
        "h": "yes",
    }
    assert "a: '1'" in text and "g: plain" in text


def test_flink_conf_yaml_is_flat_key_value_lines() -> None:
    dep = deployment(job=JOB, flinkVersion="v1_20", image="flink:1.20")
    config = build_cluster_config(dep, flat_config(dep))
    text = render_config_file(config, FlinkVersion.V1_20)
    lines = text.splitlines()
    assert lines == sorted(lines)
    parsed = dict(line.split(": ", 1) for line in lines)
    # Flink 1.x skips a key without a value, so the writer leaves such keys out.
    assert parsed == {key: value for key, value in config.items() if value.strip()}
    assert parsed["pipeline.jars"] == "local:///opt/flink/examples/streaming/StateMachineExample.jar"
    assert parsed["kubernetes.container.image.ref"] == "flink:1.20"


def test_client_side_keys_are_not_written() -> None:
    config = {
        "kubernetes.config.file": "/k",
        "rest.bind-address": "0.0.0.0",
        "taskmanager.host": "h",
        "k": "v",
    }
    assert flatten_yaml(render_config_file(config, FlinkVersion.V2_3)) == {"k": "v"}


def test_v2_refuses_overlapping_key_prefixes_like_upstream() -> None:
    with pytest.raises(ResourceRenderError, match=r"Overlapping key prefixes detected \(state.backend -> "):
        render_config_file(
            {"state.backend": "rocksdb", "state.backend.incremental": "true"}, FlinkVersion.V2_1
        )
    # Flink 1.x flat files have no such restriction
    render_config_file({"state.backend": "rocksdb", "state.backend.incremental": "true"}, FlinkVersion.V1_20)


def test_spec_log_configuration_replaces_the_default_log_files() -> None:
    cm = config_map(job=JOB, logConfiguration={"log4j-console.properties": "rootLogger.level = DEBUG\n"})
    assert cm["data"]["log4j-console.properties"] == "rootLogger.level = DEBUG\n"


def test_logback_configuration_is_listed_before_log4j() -> None:
    dep = deployment(
        job=JOB,
        logConfiguration={"log4j-console.properties": "x=1\n", "logback-console.xml": "<configuration/>"},
    )
    objects = by_kind_name(render(dep, flat_config(dep)))
    assert list(objects[("ConfigMap", "flink-config-my-dep")]["data"]) == [
        "logback-console.xml",
        "log4j-console.properties",
        "config.yaml",
    ]
    items = objects[("Deployment", "my-dep")]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"]
    assert [item["key"] for item in items] == [
        "logback-console.xml",
        "log4j-console.properties",
        "config.yaml",
    ]


def test_operator_default_log_configuration_can_be_supplied() -> None:
    dep = deployment(job=JOB)
    objects = by_kind_name(
        render(dep, flat_config(dep), default_log_configuration={"logback-console.xml": "<configuration/>"})
    )
    assert objects[("ConfigMap", "flink-config-my-dep")]["data"]["logback-console.xml"] == "<configuration/>"
    assert "log4j-console.properties" not in objects[("ConfigMap", "flink-config-my-dep")]["data"]
