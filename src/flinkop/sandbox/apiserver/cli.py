"""`flinkop sandbox apiserver`: run the sandbox API server in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from flinkop.logs import configure_logging
from flinkop.sandbox.apiserver.server import SandboxApiServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--portfile", help="write the chosen port to this file once listening")
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig for this server to this file")
    parser.add_argument("--history", type=int, default=1000, help="watch history kept per resource")
    parser.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between bookmarks")
    parser.add_argument(
        "--watch-timeout",
        type=float,
        default=1800.0,
        help="watches without timeoutSeconds end after this many seconds (times 1 to 2)",
    )
    parser.add_argument("--no-gc", action="store_true", help="disable ownerReference garbage collection")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", help="private key of --tls-cert")


async def serve(args: argparse.Namespace) -> None:
    server = SandboxApiServer(
        args.host,
        args.port,
        history_size=args.history,
        bookmark_interval=args.bookmark_interval,
        watch_timeout=args.watch_timeout,
        gc=not args.no_gc,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        if args.kubeconfig_out:
            server.write_kubeconfig(args.kubeconfig_out)
        if args.portfile:
            Path(args.portfile).write_text(str(server.port))  # noqa: ASYNC240 -- once, before serving
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0
