"""`python -m flinkop.sandbox.images install|list|resolve --dir D`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import InstallError
from .install import DEFAULT_VERSIONS, install
from .registry import FLINK_HOME, ImageNotFound, ImageRegistry

DEFAULT_DIR = Path(".sandbox/images")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flinkop.sandbox.images", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    install_cmd = commands.add_parser("install", help="install Flink distributions and example jobs")
    install_cmd.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="images root (%(default)s)")
    install_cmd.add_argument(
        "--versions",
        default=",".join(DEFAULT_VERSIONS),
        help="comma-separated exact Flink versions (%(default)s)",
    )
    list_cmd = commands.add_parser("list", help="list the installed images")
    list_cmd.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    resolve_cmd = commands.add_parser("resolve", help="show what an image reference maps to")
    resolve_cmd.add_argument("image")
    resolve_cmd.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)

    if args.command == "install":
        versions = [v.strip() for v in args.versions.split(",") if v.strip()]
        try:
            install(args.dir, versions)
        except InstallError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    registry = ImageRegistry(args.dir)
    if args.command == "list":
        return _list(registry)
    return _resolve(registry, args.image)


def _list(registry: ImageRegistry) -> int:
    distributions = registry.flink_distributions()
    if not distributions:
        print(f"no Flink distribution installed under {registry.root}", file=sys.stderr)
        return 1
    for dist in distributions:
        minor = ".".join(dist.version.split(".")[:2])
        print(f"flink {dist.version} (scala {dist.scala}): {registry.root / dist.home}")
        tags = f"flink:{minor}, flink:{dist.version}-scala_{dist.scala}-java17, apache/flink:{dist.version}"
        print(f"  images:   {tags}")
        for path in dist.examples.values():
            print(f"  example:  local://{FLINK_HOME}/{path}")
    print(f"python: {registry.python} (python:3.x)")
    return 0


def _resolve(registry: ImageRegistry, image: str) -> int:
    try:
        resolved = registry.resolve(image)
    except ImageNotFound as exc:
        print(f"ErrImagePull: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "name": resolved.name,
                "flinkVersion": resolved.flink_version,
                "mounts": {target: str(source) for target, source in resolved.mounts.items()},
                "env": resolved.env,
                "entrypoint": resolved.entrypoint,
                "cmd": resolved.cmd,
                "workingDir": resolved.working_dir,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
