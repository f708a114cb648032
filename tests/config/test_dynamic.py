"""Dynamic operator configuration: change the files, see the new configuration applied."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from flinkop.config import ConfigWatcher, OperatorConfig, load_operator_config, log_default_configuration

INITIAL = (
    "kubernetes.operator.reconcile.interval: 15 s\nkubernetes.operator.dynamic.config.check.interval: 20 ms\n"
)


class Recorder:
    def __init__(self) -> None:
        self.configs: list[OperatorConfig] = []
        self.namespaces: list[frozenset[str]] = []
        self.changed = asyncio.Event()

    async def on_change(self, config: OperatorConfig) -> None:
        self.configs.append(config)
        self.changed.set()

    async def on_namespaces(self, namespaces: frozenset[str]) -> None:
        self.namespaces.append(namespaces)


def _setup(tmp_path: Path, text: str = INITIAL) -> tuple[Path, ConfigWatcher, Recorder]:
    conf_file = tmp_path / "flink-conf.yaml"
    conf_file.write_text(text)
    recorder = Recorder()
    watcher = ConfigWatcher(
        load_operator_config(tmp_path, environ={}),
        recorder.on_change,
        conf_dir=tmp_path,
        environ={},
        on_namespaces_change=recorder.on_namespaces,
    )
    return conf_file, watcher, recorder


def _events(logs: Sequence[Mapping[str, Any]]) -> list[Any]:
    return [entry["event"] for entry in logs]


async def test_a_changed_file_is_applied_and_logged_as_upstream_does(tmp_path: Path) -> None:
    conf_file, watcher, recorder = _setup(tmp_path)
    # What upstream's e2e test does: replace the ConfigMap content, grep the operator log.
    conf_file.write_text("kubernetes.operator.watched.namespaces: default,flink,dynamic\n")
    with capture_logs() as logs:
        new = await watcher.check()
    assert new is not None
    assert recorder.configs == [new]
    assert watcher.current is new
    assert new.watched_namespaces == {"default", "flink", "dynamic"}
    assert new.reconcile_interval == 60  # the key was removed: back to the default
    assert (
        "Setting default configuration to {kubernetes.operator.watched.namespaces=default,flink,dynamic}"
        in _events(logs)
    )
    info = [entry for entry in logs if str(entry["event"]).startswith("Setting default")]
    assert info[0]["log_level"] == "info"
    assert recorder.namespaces == []  # dynamic.namespaces.enabled is false


async def test_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    _, watcher, recorder = _setup(tmp_path)
    before = watcher.current
    with capture_logs() as logs:
        assert await watcher.check() is None
    assert watcher.current is before
    assert recorder.configs == []
    assert "Default configuration did not change, nothing to do..." in _events(logs)


async def test_a_bad_file_is_logged_and_the_old_config_kept(tmp_path: Path) -> None:
    conf_file, watcher, recorder = _setup(tmp_path)
    before = watcher.current
    conf_file.write_text("kubernetes.operator.reconcile.interval: whenever\n")
    with capture_logs() as logs:
        assert await watcher.check() is None
    assert watcher.current is before
    assert watcher.current.reconcile_interval == 15
    assert recorder.configs == []
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert errors[0]["event"] == "Error while updating operator configuration"
    assert "kubernetes.operator.reconcile.interval: invalid duration 'whenever'" in str(errors[0]["error"])
    conf_file.unlink()  # a missing file too
    with capture_logs() as logs:
        assert await watcher.check() is None
    assert "no config.yaml or flink-conf.yaml" in str(logs[-1]["error"])
    assert watcher.current is before


async def test_a_failing_callback_is_logged_and_the_new_config_stays(tmp_path: Path) -> None:
    conf_file = tmp_path / "flink-conf.yaml"
    conf_file.write_text(INITIAL)

    async def boom(config: OperatorConfig) -> None:
        raise RuntimeError("consumer failed")

    watcher = ConfigWatcher(load_operator_config(tmp_path, environ={}), boom, conf_dir=tmp_path, environ={})
    conf_file.write_text("kubernetes.operator.reconcile.interval: 1 s\n")
    with capture_logs() as logs:
        new = await watcher.check()
    assert new is not None and watcher.current.reconcile_interval == 1
    assert "Error while applying the new operator configuration" in _events(logs)


async def test_dynamic_namespaces_switch_the_watched_namespaces(tmp_path: Path) -> None:
    conf_file, watcher, recorder = _setup(
        tmp_path,
        "kubernetes.operator.dynamic.namespaces.enabled: true\nkubernetes.operator.watched.namespaces: a\n",
    )
    assert watcher.watched_namespaces == {"a"}
    conf_file.write_text(
        "kubernetes.operator.dynamic.namespaces.enabled: true\nkubernetes.operator.watched.namespaces: a,b\n"
    )
    await watcher.check()
    assert recorder.namespaces == [frozenset({"a", "b"})]
    assert watcher.watched_namespaces == {"a", "b"}
    conf_file.write_text("kubernetes.operator.dynamic.namespaces.enabled: true\n")
    await watcher.check()
    assert recorder.namespaces[-1] == frozenset()  # all namespaces


async def test_watch_namespaces_env_wins_over_the_file(tmp_path: Path) -> None:
    conf_file = tmp_path / "flink-conf.yaml"
    conf_file.write_text("kubernetes.operator.watched.namespaces: a\n")
    environ = {"WATCH_NAMESPACES": "env-ns"}
    recorder = Recorder()
    watcher = ConfigWatcher(
        load_operator_config(tmp_path, environ=environ),
        recorder.on_change,
        conf_dir=tmp_path,
        environ=environ,
    )
    conf_file.write_text("kubernetes.operator.watched.namespaces: b\n")
    new = await watcher.check()
    assert new is not None and new.watched_namespaces == {"env-ns"}


async def test_run_polls_at_the_check_interval(tmp_path: Path) -> None:
    conf_file, watcher, recorder = _setup(tmp_path)
    with capture_logs() as logs:
        task = asyncio.create_task(watcher.run())
        try:
            await asyncio.sleep(0.05)
            conf_file.write_text(INITIAL + "kubernetes.operator.job.restart.failed: true\n")
            await asyncio.wait_for(recorder.changed.wait(), timeout=5)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert recorder.configs[-1].job_restart_failed is True
    assert "Enabled dynamic config updates, checking config changes every PT0.02S" in _events(logs)


async def test_run_returns_when_dynamic_config_is_disabled(tmp_path: Path) -> None:
    _, watcher, _ = _setup(tmp_path, "kubernetes.operator.dynamic.config.enabled: false\n")
    with capture_logs() as logs:
        await asyncio.wait_for(watcher.run(), timeout=1)
    assert "Dynamic config updates are disabled" in _events(logs)


def test_the_start_up_log_line() -> None:
    with capture_logs() as logs:
        log_default_configuration(OperatorConfig.from_mapping({"a": "1"}))
    assert logs[0]["event"] == "Setting default configuration to {a=1}"
