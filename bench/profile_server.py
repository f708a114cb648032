"""Profile the sandbox API server under the bench's create and watch load.

    python bench/profile_server.py [--creates 3000] [--watchers 10] [--top 30] [--dump /tmp/apiserver.prof]

The server runs in this process under cProfile; the load comes from a child process
(`--client URL`) that reuses bench/apiserver_bench.py, so the profile holds server work only.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import apiserver_bench as ab  # a sibling module, found through the path set above

from flinkop.sandbox.apiserver.server import SandboxApiServer

JSON = dict[str, Any]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=3000, help="ConfigMaps in the create phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--watchers", type=int, default=10, help="watchers in the fan-out phase (0: skip)")
    parser.add_argument("--watch-creates", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30, help="functions to print per ordering")
    parser.add_argument("--dump", type=Path, help="also write the raw profile (for snakeviz, pstats)")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)  # internal: be the load generator
    return parser.parse_args(argv)


# -- the load generator (child process) -------------------------------------------------------------------


async def client_load(url: str, args: argparse.Namespace) -> JSON:
    async with ab.new_session(args.concurrency + args.watchers + 2) as session:
        bodies = [ab.dumps(ab.configmap(f"cm-{i:05d}", {"index": str(i)})) for i in range(args.creates)]
        result = await ab.create_many(session, url + ab.collection_path("default"), bodies, args.concurrency)
        result.check(args.creates, "profile creates")
        out: JSON = {"creates_per_second": round(args.creates / result.wall_seconds, 1)}
        if args.watchers:
            out["watch"] = await watch_load(session, url, args)
        return out


async def watch_load(session: Any, url: str, args: argparse.Namespace) -> JSON:
    namespace = "bench-watch"
    await ab.create_namespace(session, url, namespace)
    collection = url + ab.collection_path(namespace)
    _count, rv = await ab.list_items(session, collection)
    logs = [ab.WatchLog() for _ in range(args.watchers)]
    watch_url = f"{collection}?watch=1&resourceVersion={rv}"
    tasks = [asyncio.create_task(ab.watch_stream(session, watch_url, args.watch_creates, log))
             for log in logs]
    await ab.wait_for_watchers(session, url, args.watchers)
    await ab.timestamped_creates(session, collection, args.watch_creates, 4)
    await asyncio.wait(tasks, timeout=ab.EVENTS_TIMEOUT)
    for task in tasks:
        task.cancel()
    latencies, received, _others = ab.event_latencies(logs)
    return {"events": received, "latency_ms": ab.latency_summary_ms(latencies)}


# -- the profiled server (this process) -------------------------------------------------------------------


async def serve_and_load(args: argparse.Namespace, profiler: cProfile.Profile) -> JSON:
    async with SandboxApiServer() as server:
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", server.url, *client_flags(args),
            stdout=asyncio.subprocess.PIPE)
        profiler.enable()
        start = time.perf_counter()
        stdout, _ = await child.communicate()
        elapsed = time.perf_counter() - start
        profiler.disable()
        if child.returncode != 0:
            raise ab.BenchError(f"the load generator failed with exit code {child.returncode}")
        result: JSON = json.loads(stdout)
        result["profiled_seconds"] = round(elapsed, 2)
        return result


def client_flags(args: argparse.Namespace) -> list[str]:
    return ["--creates", str(args.creates), "--concurrency", str(args.concurrency),
            "--watchers", str(args.watchers), "--watch-creates", str(args.watch_creates)]


def print_stats(profiler: cProfile.Profile, top: int) -> None:
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order)
        stats.print_stats(top)
        print(f"==== top {top} by {order} ====")
        print(buffer.getvalue().strip("\n"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        print(json.dumps(asyncio.run(client_load(args.client, args))))
        return 0
    profiler = cProfile.Profile()
    result = asyncio.run(serve_and_load(args, profiler))
    print(f"load (measured under the profiler, so slower than the bench): {json.dumps(result)}")
    print_stats(profiler, args.top)
    if args.dump:
        profiler.dump_stats(args.dump)
        print(f"raw profile written to {args.dump}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
