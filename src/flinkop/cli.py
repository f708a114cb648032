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
    crds = commands.add_parser("crds", help="generate the CustomResourceDefinitions from the models")
    crds.add_argument("--output", help="directory to write the CRD YAMLs into (default: print them)")
    crds.add_argument("--check", action="store_true", help="exit 1 when the files in --output are stale")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox" and args.sandbox_command == "apiserver":
        from flinkop.sandbox.apiserver.cli import run

        return run(args)
    if args.command == "crds":
        from flinkop.api.crdgen import main as crdgen

        output = ["--output", args.output] if args.output else []
        return crdgen([*output, *(["--check"] if args.check else [])])
    return 2


if __name__ == "__main__":
    sys.exit(main())
