"""``flinkop operator``: run the operator against a cluster, from inside it (service account) or from
outside it (a kubeconfig; the Flink REST APIs are then reached through the API server's service proxy)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import yaml

from flinkop.config import ConfigError, check_startup, load_operator_config
from flinkop.logs import configure_logging
from flinkop.operator.app import Operator
from flinkop.runtime import Kube, new_api_client
from flinkop.runtime.client import SERVICE_ACCOUNT_DIR, in_cluster, kubeconfig_namespace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, else KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument(
        "--conf-dir",
        help="operator configuration directory (config.yaml or flink-conf.yaml; default FLINK_CONF_DIR)",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=None,
        metavar="NS",
        help="namespace to watch (repeatable or comma-separated; default: the configuration's, else all)",
    )


def namespaces_of(values: list[str] | None) -> frozenset[str] | None:
    if not values:
        return None
    return frozenset(ns.strip() for value in values for ns in value.split(",") if ns.strip())


def operator_namespace(kubeconfig: str | None, context: str | None) -> str:
    """Where the operator's own objects (the leader Lease) live."""
    if os.environ.get("OPERATOR_NAMESPACE"):
        return os.environ["OPERATOR_NAMESPACE"]
    if kubeconfig is None and in_cluster():
        path = SERVICE_ACCOUNT_DIR / "namespace"
        return path.read_text().strip() if path.exists() else "default"
    path = Path(kubeconfig or os.environ.get("KUBECONFIG") or Path.home() / ".kube" / "config")
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return "default"
    return kubeconfig_namespace(document, context) if isinstance(document, dict) else "default"


async def _main(args: argparse.Namespace) -> None:
    config = load_operator_config(args.conf_dir)
    check_startup(config)
    api_client = await new_api_client(args.kubeconfig, context=args.context)
    try:
        operator = Operator(
            Kube(api_client, field_manager="flinkop-operator"),
            config,
            namespaces=namespaces_of(args.namespace),
            operator_namespace=operator_namespace(args.kubeconfig, args.context),
            watch_config=True,
            conf_dir=args.conf_dir,
        )
        await operator.run()
    finally:
        await api_client.close()


def run(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        asyncio.run(_main(args))
    except ConfigError as error:
        print(f"flinkop operator: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flinkop operator", description="Run the Flink operator")
    add_arguments(parser)
    return run(parser.parse_args(argv))


__all__ = ["add_arguments", "main", "run"]
