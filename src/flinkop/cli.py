"""The `flinkop` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flinkop", description="Kubernetes operator for Apache Flink")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="the embedded local Kubernetes")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    from flinkop.sandbox.apiserver.cli import add_arguments

    add_arguments(
        sandbox_commands.add_parser("apiserver", help="run the sandbox API server in the foreground")
    )
    up = sandbox_commands.add_parser("up", help="run the whole sandbox cluster until SIGTERM")
    up.add_argument("--dir", default=".sandbox/cluster", help="state directory (kubeconfig goes there)")
    up.add_argument("--port", type=int, default=0, help="API server port on 127.0.0.1 (0 picks a free one)")
    from flinkop.operator.cli import add_arguments as add_operator_arguments

    add_operator_arguments(commands.add_parser("operator", help="run the Flink operator against a cluster"))
    from flinkop.demo import add_arguments as add_demo_arguments

    add_demo_arguments(
        commands.add_parser("demo", help="sandbox cluster + operator + examples/basic.yaml, until Ctrl-C")
    )
    crds = commands.add_parser("crds", help="generate the CustomResourceDefinitions from the models")
    crds.add_argument("--output", help="directory to write the CRD YAMLs into (default: print them)")
    crds.add_argument("--check", action="store_true", help="exit 1 when the files in --output are stale")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox" and args.sandbox_command == "apiserver":
        from flinkop.sandbox.apiserver.cli import run

        return run(args)
    if args.command == "sandbox" and args.sandbox_command == "up":
        return _sandbox_up(args)
    if args.command == "operator":
        from flinkop.operator.cli import run as run_operator

        return run_operator(args)
    if args.command == "demo":
        from flinkop.demo import run as run_demo

        return run_demo(args)
    if args.command == "crds":
        from flinkop.api.crdgen import main as crdgen

        output = ["--output", args.output] if args.output else []
        return crdgen([*output, *(["--check"] if args.check else [])])
    return 2


def _sandbox_up(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from flinkop.logs import configure_logging
    from flinkop.sandbox.cluster import SandboxCluster, run_until_signalled

    configure_logging()
    try:
        asyncio.run(run_until_signalled(SandboxCluster(Path(args.dir), port=args.port)))
    except RuntimeError as exc:  # e.g. the machine cannot make network namespaces
        print(f"flinkop sandbox up: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
