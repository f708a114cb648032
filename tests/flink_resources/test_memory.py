"""Memory strings and the Flink memory options (ANCHOR-INVENTORY §1.2 "Memory string parsing subtlety")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flinkop.flink.resources import ResourceRenderError
from flinkop.flink.resources.memory import (
    container_resources,
    format_memory_size,
    java_double,
    parse_flink_memory_size,
    parse_memory_size,
    parse_quantity,
    process_memory_mb,
    resource_memory_string,
)
from flinkop.flink.resources.options import FlinkConf

GIB = 1 << 30
MIB = 1 << 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Flink MemorySize: binary units, case insensitive
        ("2048m", 2048 * MIB),
        ("2g", 2 * GIB),
        ("2G", 2 * GIB),
        ("2 gb", 2 * GIB),
        ("2 GB", 2 * GIB),
        ("1024", 1024),
        ("1 kibibytes", 1024),
        ("100 b", 100),
        ("1t", 1 << 40),
        # Kubernetes quantities (after trailing B stripped, I -> i)
        ("2Gi", 2 * GIB),
        ("1.5Gi", 3 * GIB // 2),
        ("1.5 GiB", 3 * GIB // 2),
        ("500Mi", 500 * MIB),
        ("1.5g", 1_500_000_000),
        ("1e3", 1000),
    ],
)
def test_parse_memory_size(text: str, expected: int) -> None:
    assert parse_memory_size(text) == expected


@pytest.mark.parametrize("text", ["", "  ", "abc", "2 parsecs", "-1g", "1..5g"])
def test_parse_memory_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_memory_size(text)


def test_flink_parser_is_strict_about_units() -> None:
    with pytest.raises(ValueError, match="does not match any of the recognized units"):
        parse_flink_memory_size("2Gi")
    with pytest.raises(ValueError, match="does not start with a number"):
        parse_flink_memory_size("g")


def test_parse_quantity() -> None:
    assert parse_quantity("500m") == Decimal("0.5")
    assert parse_quantity(2) == 2
    assert parse_quantity("1.5") == Decimal("1.5")
    assert parse_quantity("1Ki") == 1024
    assert parse_quantity("2k") == 2000


def test_memory_size_to_string_like_flink() -> None:
    assert format_memory_size(2 * GIB) == "2 gb"
    assert format_memory_size(1536 * MIB) == "1536 mb"
    assert format_memory_size(1025) == "1025 bytes"
    assert format_memory_size(0) == "0 bytes"


def test_resource_memory_string_like_the_operator() -> None:
    assert resource_memory_string("2048m") == "2 gb"
    assert resource_memory_string("2Gi") == "2147483648"
    assert resource_memory_string(1073741824) == "1 gb"


def test_java_double() -> None:
    assert [java_double(v) for v in (1.0, 0.5, 2.0, 1e7, 1e-4, 0.001)] == [
        "1.0",
        "0.5",
        "2.0",
        "1.0E7",
        "1.0E-4",
        "0.001",
    ]


def test_process_memory_from_process_size_flink_size_or_heap() -> None:
    assert process_memory_mb(FlinkConf({"jobmanager.memory.process.size": "2 gb"}), jobmanager=True) == 2048
    # flink size 1g + metaspace 256m, overhead = (1280m * 0.1 / 0.9) = 142m -> min 192m
    assert (
        process_memory_mb(FlinkConf({"taskmanager.memory.flink.size": "1g"}), jobmanager=False)
        == 1024 + 256 + 192
    )
    # heap 1g + off-heap 128m + metaspace 256m + overhead 192m
    assert process_memory_mb(FlinkConf({"jobmanager.memory.heap.size": "1g"}), jobmanager=True) == 1600
    assert process_memory_mb(FlinkConf({"jobmanager.heap.size": "1g"}), jobmanager=True) == 1024
    with pytest.raises(ResourceRenderError, match="TaskManager memory is not configured"):
        process_memory_mb(FlinkConf({}), jobmanager=False)


def test_container_resources_keep_template_extras() -> None:
    template = {"requests": {"ephemeral-storage": "2G", "memory": "1"}, "limits": {"nvidia.com/gpu": 1}}
    assert container_resources(
        template, memory_mb=1024, memory_limit_factor=1.5, cpu=0.5, cpu_limit_factor=2
    ) == {
        "requests": {"ephemeral-storage": "2G", "memory": "1024Mi", "cpu": "0.5"},
        "limits": {"nvidia.com/gpu": 1, "memory": "1536Mi", "cpu": "1.0"},
    }
