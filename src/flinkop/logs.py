"""Logging set-up shared by every flinkop process: structlog and the standard library's ``logging`` (aiohttp,
kubernetes-asyncio, asyncio) rendered alike, to stderr and optionally to a file as well.

Settings, each an argument of :func:`configure_logging` or else an environment variable:

* level (``FLINKOP_LOG_LEVEL``, default ``INFO``): ``DEBUG``, ``INFO``, ``WARNING``/``WARN``, ``ERROR``,
  ``CRITICAL``;
* format (``FLINKOP_LOG_FORMAT``, default ``console``; ``FLINKOP_LOG_JSON=1`` is the older spelling of
  ``json``):

  - ``console``: one line per record in the shape of the upstream operator's log4j pattern, with the
    resource of the reconcile (its MDC) in brackets at the start of the message::

        2025-05-01T10:00:00.123456Z INFO  flinkop.reconcilers.deployment - [default/basic] Deploying a=1

  - ``json``: one JSON object per line with ``timestamp``, ``level``, ``logger``, ``event`` and every bound
    field (``namespace`` and ``name`` inside a reconcile), ``exception`` when there is one;

* file (``FLINKOP_LOG_FILE``): the same lines appended to this file too (its directory is created), e.g.
  ``/opt/flink/log/operator.log`` for a sidecar that tails ``/opt/flink/log/*.log``.

The resource of a line: the ``namespace`` and ``name`` the reconcilers bind with
``structlog.contextvars.bound_contextvars``; on the controller's own lines (bound ``controller`` and
``resource="<namespace>/<name>"``) they are taken from ``resource``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "ENV_LOG_FILE",
    "ENV_LOG_FORMAT",
    "ENV_LOG_LEVEL",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "configure_logging",
    "render_console",
    "resolve_format",
    "resolve_level",
]

ENV_LOG_LEVEL = "FLINKOP_LOG_LEVEL"
ENV_LOG_FORMAT = "FLINKOP_LOG_FORMAT"
ENV_LOG_FILE = "FLINKOP_LOG_FILE"
ENV_LOG_JSON = "FLINKOP_LOG_JSON"  # older spelling: "1" means json
LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL")
_CONSOLE_LEVELS = {"warning": "WARN", "critical": "FATAL"}  # log4j's names
_HIDDEN_WITH_RESOURCE = ("controller", "resource")  # said by the [namespace/name] prefix already
_PLAIN = re.compile(r"^[^\s\"'=]+$")


# -- settings --------------------------------------------------------------------------------------------


def resolve_level(level: str | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The numeric level of ``level``, else of ``$FLINKOP_LOG_LEVEL``, else INFO; ValueError if unknown."""
    env = os.environ if environ is None else environ
    source = "log level" if level else ENV_LOG_LEVEL
    text = (level or env.get(ENV_LOG_LEVEL) or "INFO").strip().upper()
    if text not in LOG_LEVELS:
        raise ValueError(f"{source}: unknown level {text!r} (one of {', '.join(LOG_LEVELS)})")
    return logging.WARNING if text == "WARN" else logging.getLevelNamesMapping()[text]


def resolve_format(log_format: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``log_format``, else ``$FLINKOP_LOG_FORMAT``, else json if ``$FLINKOP_LOG_JSON=1``, else console."""
    env = os.environ if environ is None else environ
    source = "log format" if log_format else ENV_LOG_FORMAT
    text = log_format or env.get(ENV_LOG_FORMAT) or ("json" if env.get(ENV_LOG_JSON) == "1" else "console")
    text = text.strip().lower()
    if text not in LOG_FORMATS:
        raise ValueError(f"{source}: unknown format {text!r} (one of {', '.join(LOG_FORMATS)})")
    return text


# -- processors ------------------------------------------------------------------------------------------


def add_resource_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """``namespace``/``name`` from the controller's ``resource`` key if the reconciler has not bound them."""
    resource = event_dict.get("resource")
    if (
        "controller" in event_dict
        and isinstance(resource, str)
        and resource.count("/") == 1
        and "namespace" not in event_dict
        and "name" not in event_dict
    ):
        event_dict["namespace"], event_dict["name"] = resource.split("/")
    return event_dict


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value if _PLAIN.match(value) else json.dumps(value, ensure_ascii=False)
    return repr(value)


def render_console(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    """``<timestamp> <LEVEL> <logger> - [<namespace>/<name>] <event> key=value ...`` (+ the traceback)."""
    fields = dict(event_dict)
    timestamp = fields.pop("timestamp", "")
    level = str(fields.pop("level", "info"))
    logger = fields.pop("logger", None) or fields.pop("logger_name", "root")
    event = fields.pop("event", "")
    exception = fields.pop("exception", None)
    stack = fields.pop("stack", None)
    prefix = ""
    namespace, name = fields.get("namespace"), fields.get("name")
    if isinstance(namespace, str) and isinstance(name, str):
        prefix = f"[{namespace}/{name}] "
        del fields["namespace"], fields["name"]
        if fields.get("resource") in (f"{namespace}/{name}", None):
            for key in _HIDDEN_WITH_RESOURCE:
                fields.pop(key, None)
    line = f"{timestamp} {_CONSOLE_LEVELS.get(level, level.upper()):<5} {logger} - {prefix}{event}"
    if fields:
        line += " " + " ".join(f"{key}={_value(value)}" for key, value in fields.items())
    for extra in (stack, exception):
        if extra:
            line += "\n" + str(extra).rstrip("\n")
    return line


def add_record_time(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A standard-library record's own creation time (the same on every handler), as TimeStamper's."""
    record = event_dict.get("_record")
    when = datetime.fromtimestamp(record.created, UTC) if record is not None else datetime.now(UTC)
    event_dict["timestamp"] = when.isoformat().replace("+00:00", "Z")
    return event_dict


def _shared_processors(timestamper: Processor) -> list[Processor]:
    """What every record gets, from structlog or from the standard library."""
    return [
        structlog.contextvars.merge_contextvars,
        add_resource_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]


# -- set-up ----------------------------------------------------------------------------------------------

_HANDLER_MARK = "_flinkop_handler"


def _handlers(
    formatter: logging.Formatter, stream: TextIO | None, log_file: Path | None
) -> list[logging.Handler]:
    handlers: list[logging.Handler] = []
    if stream is not None:
        handlers.append(logging.StreamHandler(stream))
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _HANDLER_MARK, True)
    return handlers


def configure_logging(
    level: str | None = None,
    *,
    log_format: str | None = None,
    log_file: str | os.PathLike[str] | None = None,
    stream: TextIO | None = None,
    console: bool = True,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Set up logging for this process (again: replaces what an earlier call installed).

    ``level``, ``log_format`` and ``log_file`` default to their environment variables (see the module
    docstring). Records go to ``stream`` (default stderr) unless ``console`` is false, and to ``log_file``
    (appended) when set. ValueError for an unknown level or format, OSError when the file cannot be opened.
    """
    env = os.environ if environ is None else environ
    numeric = resolve_level(level, env)
    fmt = resolve_format(log_format, env)
    file_name = log_file if log_file is not None else env.get(ENV_LOG_FILE) or None
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json" else render_console
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(add_record_time),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handlers = _handlers(
        formatter,
        (stream or sys.stderr) if console else None,
        Path(file_name).expanduser() if file_name else None,
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[
            *_shared_processors(structlog.processors.TimeStamper(fmt="iso", utc=True)),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
