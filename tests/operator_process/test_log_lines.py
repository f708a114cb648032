"""The console line and the resource fields, as pure functions (the process tests show them end to end)."""

from __future__ import annotations

import logging

import pytest

from flinkop.logs import add_resource_fields, render_console, resolve_format, resolve_level

TS = "2025-05-01T10:00:00.123456Z"


def line(**event: object) -> str:
    return render_console(None, "info", {"timestamp": TS, "level": "info", "logger": "flinkop.x", **event})


def test_a_reconcile_line_starts_its_message_with_namespace_and_name() -> None:
    rendered = line(
        event="Deploying for the first time",
        namespace="default",
        name="basic",
        resource="default/basic",
        controller="flinkdeployment",
        generation=2,
    )
    assert rendered == f"{TS} INFO  flinkop.x - [default/basic] Deploying for the first time generation=2"


def test_a_line_without_a_resource_has_no_prefix_and_quotes_values_with_spaces() -> None:
    rendered = line(event="starting operator", namespaces=["a", "b"], error="no route to host", port=8085)
    assert rendered == (
        f"{TS} INFO  flinkop.x - starting operator namespaces=['a', 'b'] error=\"no route to host\" port=8085"
    )


def test_levels_are_log4j_names_and_a_traceback_follows_the_line() -> None:
    rendered = render_console(
        None,
        "error",
        {"timestamp": TS, "level": "warning", "logger": "l", "event": "e", "exception": "Tb\nX"},
    )
    assert rendered == f"{TS} WARN  l - e\nTb\nX"


def test_the_controllers_resource_key_gives_namespace_and_name() -> None:
    event = add_resource_fields(None, "info", {"event": "e", "resource": "ns1/job", "controller": "c"})
    assert (event["namespace"], event["name"]) == ("ns1", "job")
    bound = {"event": "e", "resource": "ns1/job", "controller": "c", "namespace": "n", "name": "m"}
    assert add_resource_fields(None, "info", dict(bound)) == bound  # what the reconciler bound wins
    informer = {"event": "e", "resource": "deployments.apps"}
    assert add_resource_fields(None, "info", dict(informer)) == informer


def test_settings_from_arguments_else_environment() -> None:
    assert resolve_level(None, {}) == logging.INFO
    assert resolve_level("warn", {}) == logging.WARNING
    assert resolve_level(None, {"FLINKOP_LOG_LEVEL": "debug"}) == logging.DEBUG
    assert resolve_format(None, {}) == "console"
    assert resolve_format(None, {"FLINKOP_LOG_FORMAT": "JSON"}) == "json"
    assert resolve_format(None, {"FLINKOP_LOG_JSON": "1"}) == "json"
    assert resolve_format("console", {"FLINKOP_LOG_FORMAT": "json"}) == "console"
    with pytest.raises(ValueError, match="FLINKOP_LOG_LEVEL: unknown level 'LOUD'"):
        resolve_level(None, {"FLINKOP_LOG_LEVEL": "loud"})
    with pytest.raises(ValueError, match="log format: unknown format 'xml'"):
        resolve_format("xml", {})
