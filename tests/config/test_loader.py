"""Reading the operator configuration from its conf dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from flinkop.config import ConfigError, check_startup, load_operator_config
from flinkop.config.loader import parse_config_yaml, parse_flink_conf_yaml

# The ConfigMap key `flink-conf.yaml` the chart renders for the seed runbook's values
# (defaultConfiguration.append: true): the chart's conf/flink-conf.yaml defaults, the
# runbook's `flink-conf.yaml: |+` block, then the keys the chart always adds.
SEED_RUNBOOK_FLINK_CONF = """\
# Flink job/cluster related configs
taskmanager.numberOfTaskSlots: 1
parallelism.default: 1

# Flink operator related configs
# kubernetes.operator.reconcile.interval: 60 s
# kubernetes.operator.leader-election.enabled: true
# kubernetes.operator.leader-election.lease-name: flink-operator-lease

# Flink Config Overrides
kubernetes.operator.metrics.reporter.slf4j.factory.class: org.apache.flink.metrics.slf4j.Slf4jReporterFactory
kubernetes.operator.metrics.reporter.slf4j.interval: 5 MINUTE

kubernetes.operator.reconcile.interval: 15 s
kubernetes.operator.observer.progress-check.interval: 5 s

kubernetes.operator.health.probe.enabled: true
kubernetes.operator.health.probe.port: 8085
"""

NESTED_CONFIG_YAML = """\
kubernetes.operator:
  metrics.reporter.slf4j:
    factory.class: org.apache.flink.metrics.slf4j.Slf4jReporterFactory
    interval: 5 MINUTE
  reconcile.interval: 15 s
  observer.progress-check.interval: 5 s
taskmanager:
  numberOfTaskSlots: 1
parallelism.default: 1
env.java.opts.all: ["-Da=1", "-Db=2"]
"""

FLAT_CONFIG_YAML = """\
kubernetes.operator.metrics.reporter.slf4j.factory.class: org.apache.flink.metrics.slf4j.Slf4jReporterFactory
kubernetes.operator.metrics.reporter.slf4j.interval: 5 MINUTE
kubernetes.operator.reconcile.interval: 15 s
kubernetes.operator.observer.progress-check.interval: 5 s
taskmanager.numberOfTaskSlots: 1
parallelism.default: 1
env.java.opts.all:
  - -Da=1
  - -Db=2
"""


def _conf_dir(tmp_path: Path, *, config_yaml: str | None = None, flink_conf_yaml: str | None = None) -> Path:
    conf = tmp_path / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for name, text in (("config.yaml", config_yaml), ("flink-conf.yaml", flink_conf_yaml)):
        if text is not None:
            (conf / name).write_text(text, encoding="utf-8")
    return conf


def test_the_seed_runbooks_default_configuration_parses_and_applies(tmp_path: Path) -> None:
    conf = _conf_dir(tmp_path, flink_conf_yaml=SEED_RUNBOOK_FLINK_CONF)
    config = load_operator_config(conf, environ={})
    assert config.reconcile_interval == 15
    assert config.progress_check_interval == 5
    assert config.health_probe_enabled is True
    assert config.health_probe_port == 8085
    assert config.metrics_config == {
        "metrics.reporter.slf4j.factory.class": "org.apache.flink.metrics.slf4j.Slf4jReporterFactory",
        "metrics.reporter.slf4j.interval": "5 MINUTE",
    }
    assert config.get("taskmanager.numberOfTaskSlots") == "1"
    assert config.leader_election_enabled is False  # commented out
    assert config.source == str(conf / "flink-conf.yaml")
    # As OpenJDK 17 prints the same Configuration (HashMap.toString).
    assert config.describe() == (
        "{parallelism.default=1, taskmanager.numberOfTaskSlots=1, "
        "kubernetes.operator.reconcile.interval=15 s, "
        "kubernetes.operator.metrics.reporter.slf4j.interval=5 MINUTE, "
        "kubernetes.operator.observer.progress-check.interval=5 s, "
        "kubernetes.operator.health.probe.enabled=true, kubernetes.operator.health.probe.port=8085, "
        "kubernetes.operator.metrics.reporter.slf4j.factory.class="
        "org.apache.flink.metrics.slf4j.Slf4jReporterFactory}"
    )


def test_nested_and_flat_config_yaml_are_the_same_configuration(tmp_path: Path) -> None:
    nested = load_operator_config(_conf_dir(tmp_path / "a", config_yaml=NESTED_CONFIG_YAML), environ={})
    flat = load_operator_config(_conf_dir(tmp_path / "b", config_yaml=FLAT_CONFIG_YAML), environ={})
    assert nested == flat
    assert nested.reconcile_interval == 15
    assert nested.get("taskmanager.numberOfTaskSlots") == "1"
    assert nested.get("env.java.opts.all") == ["-Da=1", "-Db=2"]  # lists stay lists
    # Golden value from OpenJDK 17 running Flink's GlobalConfiguration.flatten on this document.
    assert nested.describe() == (
        "{parallelism.default=1, taskmanager.numberOfTaskSlots=1, "
        "kubernetes.operator.reconcile.interval=15 s, "
        "kubernetes.operator.metrics.reporter.slf4j.interval=5 MINUTE, "
        "kubernetes.operator.observer.progress-check.interval=5 s, env.java.opts.all=[-Da=1, -Db=2], "
        "kubernetes.operator.metrics.reporter.slf4j.factory.class="
        "org.apache.flink.metrics.slf4j.Slf4jReporterFactory}"
    )


def test_config_yaml_wins_over_flink_conf_yaml(tmp_path: Path) -> None:
    conf = _conf_dir(
        tmp_path,
        config_yaml="kubernetes.operator.reconcile.interval: 7 s\n",
        flink_conf_yaml="kubernetes.operator.reconcile.interval: 9 s\n",
    )
    config = load_operator_config(conf, environ={})
    assert config.reconcile_interval == 7
    assert config.source == str(conf / "config.yaml")


def test_config_yaml_is_yaml_1_2() -> None:
    flat = parse_config_yaml(
        "a: on\nb: yes\nc: 0o17\nd: 017\ne: true\nf: 1.5\ng: 1e3\n"
        "h: 2001-12-14\ni: 1:30\nj: '0123'\nk: [1, x]\n"
    )
    assert flat == {
        "a": "on",
        "b": "yes",
        "c": "15",
        "d": "17",
        "e": "true",
        "f": "1.5",
        "g": "1000.0",
        "h": "2001-12-14",
        "i": "1:30",
        "j": "0123",
        "k": ["1", "x"],
    }


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("kubernetes.operator:\n  reconcile.interval:\n", "kubernetes.operator.reconcile.interval: no value"),
        ("a: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "expected a map"),
    ],
)
def test_bad_config_yaml_raises_config_error(tmp_path: Path, text: str, fragment: str) -> None:
    conf = _conf_dir(tmp_path, config_yaml=text)
    with pytest.raises(ConfigError, match=fragment) as error:
        load_operator_config(conf, environ={})
    assert str(conf / "config.yaml") in str(error.value)


def test_flink_conf_yaml_uses_flinks_line_parser() -> None:
    with capture_logs() as logs:
        flat = parse_flink_conf_yaml(
            "# a comment\r\n"
            "a.b: 1 # trailing comment\r\n"
            "url: http://host:8081/path\n"
            "quoted: 'kept as is'\n"
            "  indented.key  :   spaced value  \n"
            "no.space:value\n"
            "empty.value: \n"
            ": no key\n"
            "dup: first\n"
            "dup: second\n"
            "hash: a#b\n"
            "list: a;b\n"
        )
    assert flat == {
        "a.b": "1",
        "url": "http://host:8081/path",
        "quoted": "'kept as is'",
        "indented.key": "spaced value",
        "dup": "second",
        "hash": "a",
        "list": "a;b",
    }
    assert list(flat)[4] == "dup"  # a repeated key keeps its first place, as in Java's map
    assert [entry["line"] for entry in logs if entry["log_level"] == "warning"] == [6, 7, 8]


def test_a_bad_value_in_the_files_names_the_key(tmp_path: Path) -> None:
    conf = _conf_dir(
        tmp_path,
        flink_conf_yaml=(
            "kubernetes.operator.reconcile.interval: often\nkubernetes.operator.health.probe.port: x\n"
        ),
    )
    with pytest.raises(ConfigError) as error:
        load_operator_config(conf, environ={})
    assert error.value.problems[0].startswith(
        "kubernetes.operator.reconcile.interval: invalid duration 'often'"
    )
    assert error.value.problems[1].startswith("kubernetes.operator.health.probe.port: invalid integer 'x'")


def test_environment_overrides(tmp_path: Path) -> None:
    conf = _conf_dir(tmp_path, flink_conf_yaml="kubernetes.operator.watched.namespaces: a,b\n")
    environ = {
        "FLINK_CONF_DIR": str(conf),
        "FLINK_CONF_KUBERNETES_OPERATOR_RECONCILE_INTERVAL": "15_s",
        "FLINK_CONF_KUBERNETES_OPERATOR_LEADER__ELECTION_ENABLED": "true",
        "WATCH_NAMESPACES": "x,y",
    }
    config = load_operator_config(environ=environ)
    assert config.reconcile_interval == 15
    assert config.leader_election_enabled is True
    assert config.watched_namespaces == {"x", "y"}
    assert config.get("kubernetes.operator.watched.namespaces") == "a,b"  # the map is unchanged
    assert load_operator_config(conf, environ={}).watched_namespaces == {"a", "b"}


def test_conf_override_dir_is_layered_on_top(tmp_path: Path) -> None:
    conf = _conf_dir(tmp_path, flink_conf_yaml="kubernetes.operator.reconcile.interval: 15 s\nx: 1\n")
    override = tmp_path / "override"
    override.mkdir()
    (override / "flink-conf.yaml").write_text(
        "kubernetes.operator.dynamic.namespaces.enabled: true\n"
        "kubernetes.operator.watched.namespaces: default,flink\n"
    )
    config = load_operator_config(conf, environ={"CONF_OVERRIDE_DIR": str(override)})
    assert config.dynamic_namespaces_enabled is True
    assert config.watched_namespaces == {"default", "flink"}
    assert config.reconcile_interval == 15
    assert config.get("x") == "1"
    assert str(override / "flink-conf.yaml") in (config.source or "")


def test_missing_default_dir_means_defaults_but_a_named_dir_must_have_a_file(tmp_path: Path) -> None:
    config = load_operator_config(environ={})  # /opt/flink/conf does not exist on test machines
    if not Path("/opt/flink/conf").exists():
        assert config.reconcile_interval == 60
    with pytest.raises(ConfigError, match=r"no config\.yaml or flink-conf\.yaml"):
        load_operator_config(tmp_path, environ={})
    with pytest.raises(ConfigError, match=r"no config\.yaml or flink-conf\.yaml"):
        load_operator_config(environ={"FLINK_CONF_DIR": str(tmp_path / "nope")})


def test_leader_election_needs_a_lease_name_at_startup() -> None:
    from flinkop.config import OperatorConfig

    check_startup(OperatorConfig.from_mapping({}))
    enabled = OperatorConfig.from_mapping({"kubernetes.operator.leader-election.enabled": "true"})
    with pytest.raises(ConfigError, match=r"leader-election\.lease-name: must be set"):
        check_startup(enabled)
    check_startup(
        OperatorConfig.from_mapping(
            {
                "kubernetes.operator.leader-election.enabled": "true",
                "kubernetes.operator.leader-election.lease-name": "flink-operator-lease",
            }
        )
    )
