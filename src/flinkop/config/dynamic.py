"""Dynamic operator configuration: re-read the conf dir and apply what changed.

Upstream (``FlinkConfigManager``): when ``kubernetes.operator.dynamic.config.enabled`` (default
true) a background task re-reads the files every ``kubernetes.operator.dynamic.config.check.interval``
(default 5 min). A changed configuration is logged as ``Setting default configuration to
{k1=v1, k2=v2}`` and becomes the default for everything generated afterwards; an unchanged one
logs ``Default configuration did not change, nothing to do...``; one that fails to load or
validate is logged as an error naming the key and value, and the configuration in force stays.

The map in the log line is Java's ``HashMap.toString``: ``{key=value, ...}`` in the order a
Java ``HashMap`` iterates these keys (not file order, not sorted), sensitive values shown as
``******``, so log scrapers and e2e checks written against upstream match (upstream's e2e
greps ``Setting default configuration to {kubernetes.operator.watched.namespaces=default,flink,dynamic}``).

Differences from upstream, on purpose: the check interval is re-read from each new
configuration (upstream keeps the one it started with); whether the watcher runs at all is
decided once, from the configuration it starts with (as upstream).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping

import structlog

from flinkop.config.errors import ConfigError
from flinkop.config.keys import OperatorConfig
from flinkop.config.loader import load_operator_config
from flinkop.config.units import format_iso8601_duration

__all__ = [
    "ConfigWatcher",
    "NamespacesCallback",
    "OnChange",
    "log_default_configuration",
]

log = structlog.get_logger("flinkop.config")

OnChange = Callable[[OperatorConfig], Awaitable[None]]
"""Called with the new configuration after it replaced the old one."""
NamespacesCallback = Callable[[frozenset[str]], Awaitable[None]]
"""Called with the new watched namespaces (empty = all) when they changed and
``kubernetes.operator.dynamic.namespaces.enabled`` is true."""


def log_default_configuration(config: OperatorConfig) -> None:
    """Log ``Setting default configuration to {...}`` exactly as upstream does (also at start)."""
    log.info(f"Setting default configuration to {config.describe()}")


class ConfigWatcher:
    """Polls the operator's config files and applies changes; never raises out of :meth:`run`."""

    def __init__(
        self,
        current: OperatorConfig,
        on_change: OnChange,
        *,
        conf_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        override_dir: str | os.PathLike[str] | None = None,
        on_namespaces_change: NamespacesCallback | None = None,
    ) -> None:
        self._current = current
        self._on_change = on_change
        self._on_namespaces_change = on_namespaces_change
        self._conf_dir = conf_dir
        self._environ = environ
        self._override_dir = override_dir

    @property
    def current(self) -> OperatorConfig:
        """The configuration in force."""
        return self._current

    @property
    def watched_namespaces(self) -> frozenset[str]:
        """The namespaces to watch now (empty = all)."""
        return self._current.watched_namespaces

    async def check(self) -> OperatorConfig | None:
        """Re-read the configuration once; apply and return it if it changed, else None.

        A configuration that does not load or validate is logged as an error and ignored.
        Errors raised by the callbacks are logged; the new configuration stays in force.
        """
        log.debug("Checking for config update changes...")
        try:
            # File reads are small and local (a mounted ConfigMap); no thread needed.
            new = load_operator_config(self._conf_dir, environ=self._environ, override_dir=self._override_dir)
        except ConfigError as error:
            log.error("Error while updating operator configuration", error=str(error))
            return None
        except Exception as error:  # a loop that must survive anything the files throw at it
            log.exception("Error while updating operator configuration", error=str(error))
            return None
        old = self._current
        if new == old:
            log.info("Default configuration did not change, nothing to do...")
            return None
        log_default_configuration(new)
        self._current = new
        try:
            await self._on_change(new)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Error while applying the new operator configuration")
        if (
            self._on_namespaces_change is not None
            and new.dynamic_namespaces_enabled
            and new.watched_namespaces != old.watched_namespaces
        ):
            try:
                await self._on_namespaces_change(new.watched_namespaces)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Error while changing the watched namespaces")
        return new

    async def run(self) -> None:
        """Check every ``dynamic.config.check.interval`` until cancelled; returns at once when
        ``dynamic.config.enabled`` is false in the starting configuration."""
        if not self._current.dynamic_config_enabled:
            log.info("Dynamic config updates are disabled")
            return
        interval = self._current.dynamic_config_check_interval
        log.info(
            "Enabled dynamic config updates, checking config changes every "
            f"{format_iso8601_duration(interval)}"
        )
        while True:
            await asyncio.sleep(max(self._current.dynamic_config_check_interval, 0.001))
            await self.check()
