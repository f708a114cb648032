"""The sandbox API server as `python -m flinkop sandbox apiserver` runs it, plus `--gc-freeze S`.

    .venv/bin/python bench/sandbox_server.py --port 0 --portfile F --kubeconfig-out K --history 100000 \\
        --gc-freeze 1.0

Same arguments and same server (`flinkop.sandbox.apiserver.cli.serve`). `--gc-freeze S` runs
`flinkop.runtime.gctune` in the server process: with 5000 custom resources and a watch history of
100 000 events, the server's own CPython gen-2 collections pause it for 100-300 ms, and every watcher
sees that as latency (the runtime benchmark's "watch floor"). The peerbench baseline of kopf was
measured against a fake API server patched the same way (`--gc-freeze`), so the operators, not the
server's collector, make the tail. `--gc-freeze 0` (the default) is the plain CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import time
from typing import Any

from flinkop.logs import configure_logging
from flinkop.runtime import gctune
from flinkop.sandbox.apiserver.cli import add_arguments, serve


def log_gc_pauses(threshold_ms: float) -> None:
    """'gc <generation> <pause_ms> <collected>' on stderr for collections longer than `threshold_ms`."""
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        pause_ms = (time.perf_counter() - started[0]) * 1e3
        if pause_ms >= threshold_ms:
            print(f"gc {info['generation']} {pause_ms:.1f} {info['collected']}", file=sys.stderr, flush=True)

    gc.callbacks.append(callback)


async def serve_frozen(args: argparse.Namespace) -> None:
    task = gctune.start_gc_tuning(args.gc_freeze) if args.gc_freeze > 0 else None
    try:
        await serve(args)
    finally:
        if task is not None:
            await gctune.stop_gc_tuning(task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--gc-freeze", type=float, default=0.0,
                        help="gc.freeze() every S seconds in the server process (0: off)")
    parser.add_argument("--gc-log-ms", type=float, default=0.0,
                        help="log collections longer than this many ms to stderr (0: off)")
    args = parser.parse_args(argv)
    configure_logging()
    if args.gc_log_ms > 0:
        log_gc_pauses(args.gc_log_ms)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_frozen(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
