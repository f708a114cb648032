"""``flinkop operator`` (also ``python -m flinkop.operator``): run the operator against a cluster, from inside
it (service account) or from outside it (a kubeconfig; the Flink REST APIs are then reached through the API
server's service proxy).

Exit codes: 0 after SIGTERM/SIGINT (the operator drains its workers for at most
``kubernetes.operator.termination.timeout`` and releases its lease); 1 when it cannot start (bad operator
configuration, unusable kubeconfig: one log line saying what, no traceback) or fails; 2 for bad command-line
arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path

import structlog
import yaml
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import ConfigException

from flinkop.config import ConfigError, check_startup, load_operator_config
from flinkop.logs import ENV_LOG_FILE, ENV_LOG_FORMAT, ENV_LOG_LEVEL, LOG_FORMATS, configure_logging
from flinkop.operator.app import Operator, on_signals
from flinkop.runtime import Kube, new_api_client
from flinkop.runtime.client import SERVICE_ACCOUNT_DIR, in_cluster, kubeconfig_namespace

log = structlog.get_logger("flinkop.operator")
PROG = "flinkop operator"
DEFAULT_KUBECONFIG = "~/.kube/config"

EPILOG = f"""\
environment:
  KUBERNETES_SERVICE_HOST  set (in a pod) and no --kubeconfig/--context: use the service account
  KUBECONFIG               the kubeconfig when --kubeconfig is not given (default {DEFAULT_KUBECONFIG})
  FLINK_CONF_DIR           the configuration directory when --conf-dir is not given (default /opt/flink/conf)
  CONF_OVERRIDE_DIR        a second configuration directory whose keys override
  FLINK_CONF_<KEY>         one configuration key (FLINK_CONF_KUBERNETES_OPERATOR_RECONCILE_INTERVAL=15_s)
  WATCH_NAMESPACES         namespaces to watch, comma-separated (over kubernetes.operator.watched.namespaces)
  OPERATOR_NAMESPACE       namespace of the leader-election Lease (default: the service account's or the
                           kubeconfig context's)
  POD_NAME                 leader-election identity (default: the host name)
  {ENV_LOG_LEVEL}        default of --log-level
  {ENV_LOG_FORMAT}       default of --log-format
  {ENV_LOG_FILE}         default of --log-file
"""


class StartupError(Exception):
    """The operator cannot start; the message says why in one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file (default: the service account in a pod, else $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument(
        "--context", help="kubeconfig context (default: its current-context); implies a kubeconfig"
    )
    parser.add_argument(
        "--conf-dir",
        metavar="DIR",
        help="operator configuration directory: config.yaml or flink-conf.yaml "
        "(default: $FLINK_CONF_DIR, else /opt/flink/conf)",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=None,
        metavar="NS",
        help="namespace to watch (repeatable or comma-separated; default: $WATCH_NAMESPACES, else "
        "kubernetes.operator.watched.namespaces, else all); fixed: dynamic configuration does not change it",
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        help=f"DEBUG, INFO, WARNING, ERROR or CRITICAL (default: ${ENV_LOG_LEVEL}, else INFO)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="console: human-readable lines with [namespace/name] in reconciles; json: one JSON object "
        f"per line (default: ${ENV_LOG_FORMAT}, else console)",
    )
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        help="also append the log lines to this file, creating its directory, e.g. "
        f"/opt/flink/log/operator.log (default: ${ENV_LOG_FILE}, else none)",
    )


def namespaces_of(values: list[str] | None) -> frozenset[str] | None:
    if not values:
        return None
    return frozenset(ns.strip() for value in values for ns in value.split(",") if ns.strip())


def kubeconfig_path(kubeconfig: str | None, context: str | None) -> str | None:
    """The kubeconfig to use, or None for the in-cluster service account (in a pod, nothing named).
    StartupError when no file of it exists."""
    if kubeconfig is None and context is None and in_cluster():
        return None
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path(DEFAULT_KUBECONFIG).expanduser())
    if not any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p):
        raise StartupError(f"kubeconfig {path}: no such file")
    return path


def operator_namespace(kubeconfig: str | None, context: str | None) -> str:
    """Where the operator's own objects (the leader Lease) live."""
    if os.environ.get("OPERATOR_NAMESPACE"):
        return os.environ["OPERATOR_NAMESPACE"]
    if kubeconfig is None:
        path = SERVICE_ACCOUNT_DIR / "namespace"
        return path.read_text().strip() if path.exists() else "default"
    try:
        document = yaml.safe_load(Path(kubeconfig.split(os.pathsep)[0]).expanduser().read_text())
    except (OSError, yaml.YAMLError):
        return "default"
    return kubeconfig_namespace(document, context) if isinstance(document, dict) else "default"


async def api_client(kubeconfig: str | None, context: str | None) -> ApiClient:
    """The API client, or StartupError naming the kubeconfig and what is wrong with it."""
    where = "in-cluster configuration" if kubeconfig is None else f"kubeconfig {kubeconfig}"
    try:
        return await new_api_client(kubeconfig, context=context)
    except (ConfigException, yaml.YAMLError, OSError, ValueError, KeyError, TypeError) as error:
        raise StartupError(f"{where}: {one_line(str(error))}") from None


def one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text.strip())


async def _main(args: argparse.Namespace) -> None:
    task = asyncio.current_task()
    if task is not None:  # a signal before the operator exists: nothing to drain, stop at once
        on_signals(task.cancel)
    try:
        config = load_operator_config(args.conf_dir)
        check_startup(config)
    except ConfigError as error:
        raise StartupError(one_line(str(error))) from None
    kubeconfig = kubeconfig_path(args.kubeconfig, args.context)
    client = await api_client(kubeconfig, args.context)
    try:
        operator = Operator(
            Kube(client, field_manager="flinkop-operator"),
            config,
            namespaces=namespaces_of(args.namespace),
            in_cluster=kubeconfig is None,
            operator_namespace=operator_namespace(kubeconfig, args.context),
            watch_config=True,
            conf_dir=args.conf_dir,
        )
        await operator.run()
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    try:
        configure_logging(args.log_level, log_format=args.log_format, log_file=args.log_file)
    except (ValueError, OSError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_main(args))
    except StartupError as error:
        log.error(f"Cannot start the operator: {error}")
        return 1
    except (asyncio.CancelledError, KeyboardInterrupt):
        log.info("stopped before the operator started")
        return 0
    except Exception:
        log.exception("operator failed")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Run the Flink operator")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


__all__ = ["StartupError", "add_arguments", "build_parser", "main", "run"]
