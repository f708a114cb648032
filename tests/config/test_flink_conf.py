"""A deployment's effective Flink configuration and the Flink 1.x/2.x config files."""

from __future__ import annotations

import pytest

from flinkop.api.enums import FlinkVersion
from flinkop.config import OperatorConfig
from flinkop.config.loader import parse_config_yaml, parse_flink_conf_yaml
from flinkop.flink.conf import (
    KEY_RENAMES,
    config_file_name,
    effective_flink_config,
    flink_option,
    normalize_keys,
)

NS = "kubernetes.operator.default-configuration.namespace."
VER = "kubernetes.operator.default-configuration.flink-version."

OPERATOR_DEFAULTS = OperatorConfig.from_mapping(
    {
        "taskmanager.numberOfTaskSlots": "1",
        "parallelism.default": "1",
        "metrics.reporter.slf4j.factory.class": "org.apache.flink.metrics.slf4j.Slf4jReporterFactory",
        "kubernetes.operator.reconcile.interval": "15 s",
        "kubernetes.operator.metrics.reporter.slf4j.interval": "5 MINUTE",
        "state.savepoints.dir": "s3://bucket/savepoints",
        NS + "team-a.taskmanager.numberOfTaskSlots": "4",
        NS + "team-a.kubernetes.operator.job.restart.failed": "true",
        VER + "v1_18.env.java.opts.all": "--add-opens=java.base/java.util=ALL-UNNAMED",
        VER + "v1_19+.env.java.default-opts.all": "--add-opens=java.base/java.lang=ALL-UNNAMED",
        VER + "v1_19+.taskmanager.numberOfTaskSlots": "2",
    }
)


@pytest.mark.parametrize(
    ("version", "name"),
    [
        ("v1_15", "flink-conf.yaml"),
        ("v1_20", "flink-conf.yaml"),
        (FlinkVersion.V1_19, "flink-conf.yaml"),
        ("v2_0", "config.yaml"),
        (FlinkVersion.V2_3, "config.yaml"),
        ("v3_1", "config.yaml"),
    ],
)
def test_config_file_name(version: str, name: str) -> None:
    assert config_file_name(version) == name


def test_config_file_name_rejects_what_is_not_a_version() -> None:
    with pytest.raises(ValueError, match="not a Flink version"):
        config_file_name("1.20")


def test_operator_keys_never_leak_and_shared_flink_keys_do() -> None:
    config = effective_flink_config(
        OPERATOR_DEFAULTS,
        {"kubernetes.operator.savepoint.history.max.count": "3", "pipeline.name": "job"},
        namespace="default",
        flink_version="v1_18",
    )
    assert not [key for key in config if key.startswith("kubernetes.operator.")]
    assert config == {
        "taskmanager.numberOfTaskSlots": "1",
        "parallelism.default": "1",
        "metrics.reporter.slf4j.factory.class": "org.apache.flink.metrics.slf4j.Slf4jReporterFactory",
        "state.savepoints.dir": "s3://bucket/savepoints",
        "env.java.opts.all": "--add-opens=java.base/java.util=ALL-UNNAMED",
        "pipeline.name": "job",
    }


def test_namespace_and_version_defaults_then_the_spec() -> None:
    team_a = effective_flink_config(OPERATOR_DEFAULTS, None, namespace="team-a", flink_version="v1_18")
    assert team_a["taskmanager.numberOfTaskSlots"] == "4"
    # version defaults override namespace defaults
    newer = effective_flink_config(
        OPERATOR_DEFAULTS, {}, namespace="team-a", flink_version=FlinkVersion.V1_20
    )
    assert newer["taskmanager.numberOfTaskSlots"] == "2"
    assert newer["env.java.default-opts.all"] == "--add-opens=java.base/java.lang=ALL-UNNAMED"
    assert "env.java.opts.all" not in newer
    assert "env.java.default-opts.all" not in effective_flink_config(
        OPERATOR_DEFAULTS, {}, namespace=None, flink_version="v1_17"
    )
    # the spec wins over everything
    spec = effective_flink_config(
        OPERATOR_DEFAULTS, {"taskmanager.numberOfTaskSlots": 8}, namespace="team-a", flink_version="v2_1"
    )
    assert spec["taskmanager.numberOfTaskSlots"] == "8"


def test_a_nested_spec_is_flattened_and_values_are_flink_strings() -> None:
    config = effective_flink_config(
        OperatorConfig.from_mapping({}),
        {
            "high-availability": {"type": "kubernetes", "storageDir": "s3://b/ha"},
            "web.cancel.enable": False,
            "pipeline.classpaths": ["file:///a.jar", "file:///b.jar"],
            "execution.checkpointing.interval": "10 s",
            "kubernetes.operator": {"job.restart.failed": True},
        },
        namespace="default",
        flink_version="v2_0",
    )
    assert config == {
        "high-availability.type": "kubernetes",
        "high-availability.storageDir": "s3://b/ha",
        "web.cancel.enable": "false",
        "pipeline.classpaths": "file:///a.jar;file:///b.jar",
        "execution.checkpointing.interval": "10 s",
    }


def test_yaml_lists_of_the_operator_config_are_joined() -> None:
    operator = OperatorConfig.from_mapping({"env.java.opts.all": ["-Da=1", "-Db=2"]})
    config = effective_flink_config(operator, None, namespace=None, flink_version="v2_0")
    assert config == {"env.java.opts.all": "-Da=1;-Db=2"}


def test_renames_go_both_ways() -> None:
    old = {
        "state.savepoints.dir": "s3://b/sp",
        "state.checkpoints.dir": "s3://b/cp",
        "state.backend": "rocksdb",
        "high-availability": "kubernetes",
        "kubernetes.jobmanager.cpu": "1",
        "kubernetes.container.image": "flink:2.0",
        "execution.savepoint.path": "s3://b/sp/1",
        "rest.port": "8081",
    }
    new = {
        "execution.checkpointing.savepoint-dir": "s3://b/sp",
        "execution.checkpointing.dir": "s3://b/cp",
        "state.backend.type": "rocksdb",
        "high-availability.type": "kubernetes",
        "kubernetes.jobmanager.cpu.amount": "1",
        "kubernetes.container.image.ref": "flink:2.0",
        "execution.state-recovery.path": "s3://b/sp/1",
        "rest.port": "8081",
    }
    assert normalize_keys(old, "v2_0") == new
    assert normalize_keys(new, "v2_0") == new
    assert normalize_keys(new, FlinkVersion.V1_16) == old
    assert normalize_keys(old, "v1_16") == old
    # per rename: 1.20 already reads the reorganised checkpointing keys, 1.19 does not
    assert normalize_keys({"state.savepoints.dir": "x"}, "v1_20") == {
        "execution.checkpointing.savepoint-dir": "x"
    }
    assert normalize_keys({"execution.checkpointing.savepoint-dir": "x"}, "v1_19") == {
        "state.savepoints.dir": "x"
    }
    assert normalize_keys({"kubernetes.taskmanager.cpu.amount": "2"}, "v1_16") == {
        "kubernetes.taskmanager.cpu": "2"
    }
    assert normalize_keys({"kubernetes.taskmanager.cpu": "2"}, "v1_17") == {
        "kubernetes.taskmanager.cpu.amount": "2"
    }


def test_when_both_names_are_set_the_one_the_version_reads_wins() -> None:
    both = {"state.savepoints.dir": "old", "execution.checkpointing.savepoint-dir": "new"}
    assert normalize_keys(both, "v2_0") == {"execution.checkpointing.savepoint-dir": "new"}
    assert normalize_keys(both, "v1_19") == {"state.savepoints.dir": "old"}


def test_a_later_layer_wins_whichever_name_it_used() -> None:
    operator = OperatorConfig.from_mapping({"execution.checkpointing.savepoint-dir": "s3://defaults"})
    config = effective_flink_config(
        operator, {"state.savepoints.dir": "s3://mine"}, namespace=None, flink_version="v2_1"
    )
    assert config == {"execution.checkpointing.savepoint-dir": "s3://mine"}
    config = effective_flink_config(operator, {}, namespace=None, flink_version="v1_18")
    assert config == {"state.savepoints.dir": "s3://defaults"}


def test_flink_option_reads_any_name() -> None:
    assert flink_option({"state.savepoints.dir": "a"}, "execution.checkpointing.savepoint-dir") == "a"
    assert flink_option({"execution.checkpointing.savepoint-dir": "b"}, "state.savepoints.dir") == "b"
    assert flink_option({"rest.port": "8081"}, "rest.port") == "8081"
    assert flink_option({}, "state.savepoints.dir") is None


def test_the_rename_table_has_no_duplicates() -> None:
    names = [name for rename in KEY_RENAMES for name in (rename.old, rename.new)]
    assert len(names) == len(set(names))


TRICKY = {
    "rest.port": "8081",
    "web.cancel.enable": "false",
    "job.id.like": "0123",
    "kubernetes.jobmanager.annotations": "a: b,c:d",
    "hash": "#not-a-comment",
    "lead.space": " x",
    "empty": "",
    "null.word": "null",
    "float.like": "1e3",
    "path": "s3://bucket/path?x=1&y=2",
    "unicode": "héllo ✓",
    "quote": 'it\'s "quoted"',
    "env.java.opts.all": "--add-opens=java.base/java.util=ALL-UNNAMED -Dx=[1, 2]",
    "pipeline.classpaths": "file:///a.jar;file:///b.jar",
    "weird key: with colon": "v",
}


def _render(config: dict[str, str], version: str) -> str:
    """The one config-file writer: the ConfigMap renderer's."""
    from flinkop.flink.resources.configmap import render_config_file

    return render_config_file(config, FlinkVersion(version))


def test_a_config_yaml_reads_back_as_the_same_strings() -> None:
    from flinkop.flink.resources import keys as resource_keys

    scalars = {
        k: v
        for k, v in TRICKY.items()
        if k not in resource_keys.LIST_KEYS and k not in resource_keys.MAP_LIST_KEYS
    }
    text = _render(scalars, "v2_0")
    assert parse_config_yaml(text) == scalars
    assert "port: '8081'\n" in text  # quoted: Flink gets back exactly the string it was given
    assert "'0123'" in text  # YAML would read 123


def test_a_flink_conf_yaml_reads_back_as_the_same_strings() -> None:
    simple = {
        key: value for key, value in TRICKY.items() if "#" not in value and key != "weird key: with colon"
    }
    text = _render(simple, "v1_20")
    expected = {key: value.strip() for key, value in simple.items() if value.strip()}
    assert parse_flink_conf_yaml(text) == expected
    assert "rest.port: 8081\n" in text
    assert "empty" not in text


@pytest.mark.parametrize(("key", "value"), [("hash", "#x"), ("multi", "a\nb"), ("a#b", "x")])
def test_what_flink_1_cannot_read_raises(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key.replace("#", "\\#") if "\n" not in value else key):
        _render({key: value}, "v1_19")
