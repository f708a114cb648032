"""The option table and the typed OperatorConfig."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from flinkop.config import ConfigError, OperatorConfig
from flinkop.config.keys import (
    ALIASES,
    KEYS,
    KeyType,
    Scope,
    option_for,
    parse_schedule,
    parse_watched_namespaces,
    resource_defaults,
    validate_options,
)

INVENTORY = Path(__file__).resolve().parents[3] / "shared" / "spec" / "ANCHOR-INVENTORY.md"
NS = "kubernetes.operator.default-configuration.namespace."
VER = "kubernetes.operator.default-configuration.flink-version."


def _inventory_rows() -> list[tuple[str, str, bool]]:
    """(key, default column, starred) of every concrete key of ANCHOR-INVENTORY section 4.2."""
    assert INVENTORY.exists(), f"{INVENTORY} is missing: CI must have ../shared beside the checkout"
    text = INVENTORY.read_text(encoding="utf-8")
    section = text[text.index("### 4.2 Complete key table") : text.index("### 4.3")]
    rows = []
    for line in section.splitlines():
        match = re.match(r"\|\s*(★\s*)?`(kubernetes\.operator\.[^`]+)`[^|]*\|([^|]*)\|", line)
        if match and "<" not in match[2] and "*" not in match[2]:
            rows.append((match[2], match[3].strip(), bool(match[1])))
    return rows


def test_every_inventory_key_is_in_the_table_with_its_default_and_star() -> None:
    rows = _inventory_rows()
    assert len(rows) >= 90
    assert {name for name, _, _ in rows} == set(KEYS)
    for name, default, starred in rows:
        option = KEYS[name]
        assert option.starred == starred, name
        if default.startswith(("(none", '""', "{}", "-1 min")):
            assert option.default in (None, ""), name
        else:
            assert option.default == re.sub(r" \(chart: .*\)", "", default).strip("`"), name


@pytest.mark.parametrize("name", list(KEYS))
def test_every_key_parses_its_default(name: str) -> None:
    option = KEYS[name]
    value = option.default_value
    if option.default is None:
        assert value is None
    else:
        assert value is not None
        assert option.parse(option.default) == value


def test_typed_defaults_of_the_keys_the_operator_uses() -> None:
    config = OperatorConfig.from_mapping({})
    assert config.reconcile_interval == 60
    assert config.reconcile_parallelism == 50
    assert config.progress_check_interval == 10
    assert config.rest_ready_delay == 10
    assert config.flink_client_timeout == 10
    assert config.dynamic_config_enabled is True
    assert config.dynamic_config_check_interval == 300
    assert config.health_probe_enabled is True
    assert config.health_probe_port == 8085
    assert config.leader_election_enabled is False
    assert config.leader_election_lease_name is None
    assert (config.leader_election_lease_duration, config.leader_election_renew_deadline) == (15, 10)
    assert config.leader_election_retry_period == 2
    assert config.jm_deployment_recovery_enabled is True
    assert config.rollback_enabled is False
    assert config.readiness_timeout == 300
    assert config.snapshot_resource_enabled is True
    assert config.periodic_savepoint_interval == ""
    assert config.savepoint_format_type == "CANONICAL"
    assert config.savepoint_history_max_count == 10
    assert config.savepoint_history_max_age == 86400
    assert config.artifacts_allowed_schemes == ["https"]
    assert config.exception_label_mapper == {}
    assert config.artifacts_http_header is None
    assert config.retry_interval_multiplier == 1.5
    assert config.deletion_propagation == "Foreground"
    assert config.resource_view_refresh_interval is None
    assert config.watched_namespaces == frozenset()
    assert config.watches_all_namespaces
    assert config.metrics_config == {}


def test_operator_config_has_one_attribute_per_key() -> None:
    keyed = [item.metadata["key"] for item in fields(OperatorConfig) if "key" in item.metadata]
    assert sorted(keyed) == sorted(KEYS)


def test_deprecated_aliases_are_honoured_and_the_main_key_wins() -> None:
    assert len(ALIASES) == 8
    config = OperatorConfig.from_mapping({"kubernetes.operator.reconciler.reschedule.interval": "15 s"})
    assert config.reconcile_interval == 15
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.reconciler.reschedule.interval": "15 s",
            "kubernetes.operator.reconcile.interval": "20 s",
        }
    )
    assert config.reconcile_interval == 20
    config = OperatorConfig.from_mapping({"kubernetes.operator.session.block-on-unmanaged-jobs": "false"})
    assert config.session_block_on_unmanaged_jobs is False


def test_get_is_typed_for_known_keys_and_raw_for_others() -> None:
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.reconcile.interval": "15 s",
            "taskmanager.numberOfTaskSlots": "2",
            "pipeline.classpaths": ["a.jar", "b.jar"],
        }
    )
    assert config.get("kubernetes.operator.reconcile.interval") == 15
    assert config.get("kubernetes.operator.reconciler.reschedule.interval") == 15
    assert config.get("kubernetes.operator.rate-limiter.limit") == 5  # default
    assert config.get("taskmanager.numberOfTaskSlots") == "2"
    assert config.get("pipeline.classpaths") == ["a.jar", "b.jar"]
    assert config.get("no.such.key") is None
    assert config.get("no.such.key", "x") == "x"


def test_yaml_scalars_become_flink_strings() -> None:
    config = OperatorConfig.from_mapping(
        {"kubernetes.operator.health.probe.port": 9999, "kubernetes.operator.ingress.manage": False, "x": 1.5}
    )
    assert config.health_probe_port == 9999
    assert config.ingress_manage is False
    assert config.raw["kubernetes.operator.ingress.manage"] == "false"
    assert config.raw["x"] == "1.5"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("kubernetes.operator.savepoint.format.type", "native", "NATIVE"),
        ("kubernetes.operator.resource.deletion.propagation", "orphan", "Orphan"),
        ("kubernetes.operator.deployment.rollback.enabled", "TRUE", True),
        ("kubernetes.operator.user.artifacts.allowed-schemes", "https;http", ["https", "http"]),
        ("kubernetes.operator.user.artifacts.allowed-schemes", ["s3", "https"], ["s3", "https"]),
        ("kubernetes.operator.user.artifacts.http.header", "a:b,'c:d,e'", {"a": "b", "c": "d,e"}),
        ("kubernetes.operator.retry.interval.multiplier", "2", 2.0),
        ("kubernetes.operator.periodic.savepoint.interval", "1 h", "1 h"),
        ("kubernetes.operator.periodic.savepoint.interval", "0 0 * * * ?", "0 0 * * * ?"),
        ("kubernetes.operator.reconcile.parallelism", "-1", -1),
    ],
)
def test_values_parse_with_flinks_rules(key: str, value: object, expected: object) -> None:
    assert OperatorConfig.from_mapping({key: value}).get(key) == expected


def test_a_map_option_may_be_a_prefix_map() -> None:
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.exception.label.mapper.timeout.*": "timeout",
            "kubernetes.operator.exception.label.mapper.oom": "memory",
        }
    )
    assert config.exception_label_mapper == {"timeout.*": "timeout", "oom": "memory"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kubernetes.operator.reconcile.interval", "soon"),
        ("kubernetes.operator.reconcile.parallelism", "many"),
        ("kubernetes.operator.dynamic.config.enabled", "yes"),
        ("kubernetes.operator.savepoint.format.type", "FANCY"),
        ("kubernetes.operator.health.probe.port", "99999999999"),
        ("kubernetes.operator.retry.interval.multiplier", "1_0"),
        ("kubernetes.operator.periodic.savepoint.interval", "every day"),
        ("kubernetes.operator.user.artifacts.http.header", "novalue"),
        ("kubernetes.operator.reconcile.interval", ["1 s", "2 s"]),
    ],
)
def test_a_bad_value_raises_config_error_naming_key_and_value(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        OperatorConfig.from_mapping({key: value})
    assert len(error.value.problems) == 1
    problem = error.value.problems[0]
    assert problem.startswith(key + ":")
    assert (repr(value) if isinstance(value, str) else repr(value[0])) in problem or str(value) in problem


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        OperatorConfig.from_mapping(
            {
                "kubernetes.operator.reconcile.interval": "abc",
                "some.flink.key": "anything goes",
                "kubernetes.operator.reconciler.max.parallelism": "x",
                NS + "team-a.kubernetes.operator.job.restart.failed": "maybe",
                VER + "v1_20.kubernetes.operator.savepoint.history.max.age": "old",
            },
            source="/opt/flink/conf/flink-conf.yaml",
        )
    problems = error.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("kubernetes.operator.reconcile.interval: invalid duration 'abc'")
    assert problems[1].startswith(
        "kubernetes.operator.reconciler.max.parallelism (deprecated key of "
        "kubernetes.operator.reconcile.parallelism): invalid integer 'x'"
    )
    assert problems[2].startswith(NS + "team-a.kubernetes.operator.job.restart.failed: ")
    assert problems[3].startswith(VER + "v1_20.kubernetes.operator.savepoint.history.max.age: ")
    assert "/opt/flink/conf/flink-conf.yaml" in str(error.value)
    assert "4 problems" in str(error.value)


def test_unknown_keys_are_kept() -> None:
    raw = {"kubernetes.operator.not.a.real.option": "x", "state.savepoints.dir": "s3://b/sp"}
    assert validate_options(raw) == []
    assert OperatorConfig.from_mapping(raw).as_dict() == raw


def test_namespace_and_version_defaults_layer_in_upstreams_order() -> None:
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.reconcile.interval": "60 s",
            "taskmanager.numberOfTaskSlots": "1",
            NS + "team-a.kubernetes.operator.reconcile.interval": "10 s",
            NS + "team-a.taskmanager.numberOfTaskSlots": "4",
            VER + "v1_18+.kubernetes.operator.reconcile.interval": "18 s",
            VER + "v1_19+.kubernetes.operator.reconcile.interval": "19 s",
            VER + "v1_20.kubernetes.operator.reconcile.interval": "20 s",
            VER + "v2_1+.kubernetes.operator.reconcile.interval": "21 s",
        }
    )
    assert config.reconcile_interval == 60
    assert config.for_resource("team-a", None).reconcile_interval == 10
    assert config.for_resource("team-a", None).get("taskmanager.numberOfTaskSlots") == "4"
    assert config.for_resource("team-b", None).get("taskmanager.numberOfTaskSlots") == "1"
    # version defaults override namespace defaults; newer "+" entries override older ones
    assert config.for_resource("team-a", "v1_19").reconcile_interval == 19
    assert config.for_resource("team-a", "v1_18").reconcile_interval == 18
    assert config.for_resource(None, "v1_17").reconcile_interval == 60
    # an exact version wins over "+" entries
    assert config.for_resource(None, "v1_20").reconcile_interval == 20
    assert config.for_resource(None, "v2_0").reconcile_interval == 19
    assert config.for_resource(None, "v2_3").reconcile_interval == 21
    # namespace defaults still apply where the version sets nothing
    assert config.for_resource("team-a", "v2_3").get("taskmanager.numberOfTaskSlots") == "4"


def test_resource_defaults_keep_the_prefixed_entries_and_is_cached() -> None:
    raw = {NS + "a.x": "1", VER + "v1_20.y": "2"}
    layered = resource_defaults(raw, "a", "v1_20")
    assert layered == {**raw, "x": "1", "y": "2"}
    config = OperatorConfig.from_mapping(raw)
    assert config.for_resource("a", "v1_20") is config.for_resource("a", "v1_20")


def test_with_overrides_applies_dynamic_keys_only() -> None:
    config = OperatorConfig.from_mapping({"kubernetes.operator.reconcile.interval": "15 s"})
    resource = config.with_overrides(
        {
            "kubernetes.operator": {"savepoint.history.max.count": 3, "reconcile.interval": "1 s"},
            "kubernetes.operator.user.artifacts.allowed-schemes": "http",
            "kubernetes.operator.periodic.savepoint.interval": "1 h",
            "job.autoscaler.enabled": "true",
        }
    )
    assert resource.savepoint_history_max_count == 3
    assert resource.periodic_savepoint_interval == "1 h"
    assert resource.reconcile_interval == 15  # system option: spec values are ignored
    assert resource.artifacts_allowed_schemes == ["https"]
    assert resource.get("job.autoscaler.enabled") == "true"
    with pytest.raises(ConfigError, match=r"kubernetes\.operator\.job\.restart\.failed"):
        config.with_overrides({"kubernetes.operator.job.restart.failed": "sometimes"})


def test_option_scopes() -> None:
    assert KEYS["kubernetes.operator.reconcile.interval"].scope is Scope.SYSTEM
    assert KEYS["kubernetes.operator.deployment.rollback.enabled"].scope is Scope.DYNAMIC
    assert KEYS["kubernetes.operator.jvm.metrics.enabled"].scope is Scope.METRICS
    assert KEYS["kubernetes.operator.savepoint.format.type"].type is KeyType.ENUM
    assert (
        option_for("kubernetes.operator.reconciler.max.parallelism")
        is KEYS["kubernetes.operator.reconcile.parallelism"]
    )


def test_watched_namespaces_from_key_and_env() -> None:
    assert OperatorConfig.from_mapping(
        {"kubernetes.operator.watched.namespaces": "default, flink,dynamic"}
    ).watched_namespaces == {"default", "flink", "dynamic"}
    assert OperatorConfig.from_mapping({"kubernetes.operator.watched.namespaces": ""}).watches_all_namespaces
    assert OperatorConfig.from_mapping(
        {"kubernetes.operator.watched.namespaces": "JOSDK_ALL_NAMESPACES"}
    ).watches_all_namespaces
    env_wins = OperatorConfig.from_mapping(
        {"kubernetes.operator.watched.namespaces": "a,b"}, watch_namespaces_env="c"
    )
    assert env_wins.watched_namespaces == {"c"}
    blank_env = OperatorConfig.from_mapping(
        {"kubernetes.operator.watched.namespaces": "a"}, watch_namespaces_env=" "
    )
    assert blank_env.watched_namespaces == {"a"}
    with pytest.raises(ConfigError, match="JOSDK_ALL_NAMESPACES cannot be combined"):
        OperatorConfig.from_mapping({"kubernetes.operator.watched.namespaces": "JOSDK_ALL_NAMESPACES,a"})
    with pytest.raises(ConfigError, match=r"WATCH_NAMESPACES: "):
        OperatorConfig.from_mapping({}, watch_namespaces_env="a,JOSDK_ALL_NAMESPACES")
    assert parse_watched_namespaces(["x", " y "]) == {"x", "y"}


def test_metrics_keys_are_rekeyed_for_the_operators_registry() -> None:
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus."
            "PrometheusReporterFactory",
            "kubernetes.operator.metrics.reporter.prom.port": "9999",
            "metrics.reporter.slf4j.interval": "1 min",
        }
    )
    assert config.metrics_config == {
        "metrics.reporter.prom.factory.class": "org.apache.flink.metrics.prometheus."
        "PrometheusReporterFactory",
        "metrics.reporter.prom.port": "9999",
    }


def test_describe_prints_like_javas_hashmap_and_hides_secrets() -> None:
    config = OperatorConfig.from_mapping(
        {
            "kubernetes.operator.metrics.reporter.slf4j.factory.class": "org.apache.flink.metrics.slf4j."
            "Slf4jReporterFactory",
            "kubernetes.operator.metrics.reporter.slf4j.interval": "5 MINUTE",
            "kubernetes.operator.reconcile.interval": "15 s",
            "kubernetes.operator.observer.progress-check.interval": "5 s",
        }
    )
    # Golden value printed by OpenJDK 17's HashMap.toString for these puts in this order.
    assert config.describe() == (
        "{kubernetes.operator.reconcile.interval=15 s, "
        "kubernetes.operator.metrics.reporter.slf4j.interval=5 MINUTE, "
        "kubernetes.operator.observer.progress-check.interval=5 s, "
        "kubernetes.operator.metrics.reporter.slf4j.factory.class=org.apache.flink.metrics.slf4j."
        "Slf4jReporterFactory}"
    )
    secret = OperatorConfig.from_mapping({"s3.secret-key": "hunter2", "list.key": ["a", "b"]})
    assert "hunter2" not in secret.describe()
    assert "s3.secret-key=******" in secret.describe()
    assert "list.key=[a, b]" in secret.describe()


def test_parse_schedule() -> None:
    assert parse_schedule("") == ""
    assert parse_schedule(" 10 min ") == "10 min"
    assert parse_schedule("0 0 12 * * ? 2030") == "0 0 12 * * ? 2030"
    with pytest.raises(ValueError, match="neither a duration"):
        parse_schedule("0 12 * *")


def test_config_equality_is_by_content() -> None:
    a = OperatorConfig.from_mapping({"x": "1"})
    assert a == OperatorConfig.from_mapping({"x": "1"})
    assert a != OperatorConfig.from_mapping({"x": "2"})
    assert a != OperatorConfig.from_mapping({"x": "1"}, watch_namespaces_env="ns")
    with pytest.raises(TypeError):
        hash(a)
