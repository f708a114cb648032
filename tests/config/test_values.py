"""Flink's value syntax and Java's printing of values and maps."""

from __future__ import annotations

import pytest

from flinkop.config.javamap import JavaHashMap, java_map_string, java_string_hash
from flinkop.config.values import (
    flatten_flink_configuration,
    java_double_str,
    parse_bool,
    parse_list,
    parse_map,
    split_escaped,
    to_flink_string,
)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a;b;c", ["a", "b", "c"]),
        (" a ; b ", ["a", "b"]),
        ("a;;b", ["a", "", "b"]),
        ("a;", ["a"]),
        ("'a;b';c", ["a;b", "c"]),
        ('"it""s";x', ['it"s', "x"]),
        ("", []),
    ],
)
def test_split_escaped_is_flinks_structured_options_splitter(text: str, parts: list[str]) -> None:
    assert split_escaped(text, ";") == parts


def test_split_escaped_rejects_bad_quoting() -> None:
    with pytest.raises(ValueError, match="not closed"):
        split_escaped("'abc", ";")
    with pytest.raises(ValueError, match="illegal quoting"):
        split_escaped("'a'b;c", ";")


def test_lists_maps_and_booleans() -> None:
    assert parse_list("https;http") == ["https", "http"]
    assert parse_map("k1:v1,k2:v2") == {"k1": "v1", "k2": "v2"}
    assert parse_map("") == {}
    assert parse_bool("False") is False
    with pytest.raises(ValueError, match="expected true or false"):
        parse_bool("1")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.5, "0.5"),
        (100.0, "100.0"),
        (1e-5, "1.0E-5"),
        (1.5e-5, "1.5E-5"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (9999999.0, "9999999.0"),
        (0.001, "0.001"),
        (-2.5, "-2.5"),
        (0.0, "0.0"),
    ],
)
def test_java_double_str(value: float, text: str) -> None:
    assert java_double_str(value) == text


def test_to_flink_string() -> None:
    assert to_flink_string(True) == "true"
    assert to_flink_string(8085) == "8085"
    assert to_flink_string(["a", 1, False]) == "a;1;false"
    assert to_flink_string({"k": "v", "n": 2}) == "k:v,n:2"


def test_flatten_flink_configuration_is_upstreams_as_flat_map() -> None:
    assert flatten_flink_configuration(
        {
            "taskmanager.numberOfTaskSlots": 2,
            "state": {"savepoints": {"dir": "s3://b/sp"}, "backend.type": "rocksdb"},
            "pipeline.classpaths": ["file:///a.jar", "file:///b.jar"],
            "empty.list": [],
            "nothing": None,
            "web.cancel.enable": False,
        }
    ) == {
        "taskmanager.numberOfTaskSlots": "2",
        "state.savepoints.dir": "s3://b/sp",
        "state.backend.type": "rocksdb",
        "pipeline.classpaths": "file:///a.jar;file:///b.jar",
        "web.cancel.enable": "false",
    }
    assert flatten_flink_configuration(None) == {}


def test_java_string_hash() -> None:
    # Values of "...".hashCode() in Java.
    assert java_string_hash("") == 0
    assert java_string_hash("a") == 97
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("kubernetes.operator.reconcile.interval") == -144844217


def test_java_map_order_matches_openjdk() -> None:
    # Golden values printed by OpenJDK 17 for new HashMap() + put() in this order.
    assert java_map_string([("kubernetes.operator.watched.namespaces", "default,flink,dynamic")]) == (
        "{kubernetes.operator.watched.namespaces=default,flink,dynamic}"
    )
    entries = [
        ("taskmanager.numberOfTaskSlots", "1"),
        ("parallelism.default", "1"),
        ("kubernetes.operator.metrics.reporter.slf4j.factory.class", "F"),
        ("kubernetes.operator.metrics.reporter.slf4j.interval", "5 MINUTE"),
        ("kubernetes.operator.reconcile.interval", "15 s"),
        ("kubernetes.operator.observer.progress-check.interval", "5 s"),
        ("kubernetes.operator.health.probe.enabled", "true"),
        ("kubernetes.operator.health.probe.port", "8085"),
    ]
    assert java_map_string(entries) == (
        "{parallelism.default=1, taskmanager.numberOfTaskSlots=1, "
        "kubernetes.operator.reconcile.interval=15 s, "
        "kubernetes.operator.metrics.reporter.slf4j.interval=5 MINUTE, "
        "kubernetes.operator.observer.progress-check.interval=5 s, "
        "kubernetes.operator.health.probe.enabled=true, kubernetes.operator.health.probe.port=8085, "
        "kubernetes.operator.metrics.reporter.slf4j.factory.class=F}"
    )


def test_java_hash_map_resizes_and_presizes_like_java() -> None:
    many = [(f"key.{i}", str(i)) for i in range(40)]
    grown: JavaHashMap[str] = JavaHashMap()
    for key, value in many:
        grown.put(key, value)
    presized: JavaHashMap[str] = JavaHashMap()
    presized.put_all(many)
    assert len(grown) == len(presized) == 40
    assert grown.to_dict() == dict(many)
    # Java: incremental growth ends at 64 buckets, putAll pre-sizes to 64 too -> same order.
    assert list(grown.keys()) == list(presized.keys())
    grown.put("key.3", "replaced")
    assert list(grown.keys()) == list(presized.keys())
