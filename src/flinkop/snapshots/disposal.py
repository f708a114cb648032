"""Disposal of a savepoint's data when its FlinkStateSnapshot is deleted.

As upstream: through the JobManager of the referenced job (``POST /savepoint-disposal``), which must be
RUNNING. Our addition: when no JobManager is there to ask (the job is gone or stopped, or its REST endpoint
cannot be reached) and the savepoint is on a ``file:`` path (or a bare absolute path) the operator can see,
its directory is deleted on the local file system. Only a directory holding a ``_metadata`` file (a
savepoint) is ever deleted; anything else is a cleanup failure, retried later.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from flinkop.flink.rest import FlinkClientError, FlinkUnreachable
from flinkop.snapshots.decisions import SAVEPOINT_METADATA, local_path
from flinkop.snapshots.run import SnapshotRun
from flinkop.snapshots.target import JobTarget


async def dispose(run: SnapshotRun, target: JobTarget | None, path: str) -> str | None:
    """Dispose the savepoint at ``path``; None when done, else why not (for a ``CleanupFailed`` event)."""
    timeout = run.operator.flink_client_timeout
    if target is not None and target.running:
        client = run.rest(target)
        try:
            trigger = await client.dispose_savepoint(path, timeout=timeout)
            await client.wait_for_disposal(trigger, timeout=max(timeout, 1.0) * 3)
            run.log.info("Savepoint disposed", path=path)
            return None
        except FlinkUnreachable as error:
            why = f"the JobManager cannot be reached ({error})"
        except (FlinkClientError, TimeoutError) as error:
            return f"Failed to dispose savepoint {path}: {error}"
    elif target is None:
        why = "the referenced job was not found"
    else:
        why = "the referenced job is not running"
    local = local_path(path)
    if local is None:
        return f"Cannot dispose savepoint {path}: {why}"
    return await _delete_local(run, local, path, why)


async def _delete_local(run: SnapshotRun, directory: Path, path: str, why: str) -> str | None:
    problem = await asyncio.to_thread(_delete_savepoint_directory, directory, path, why)
    if problem is None:
        run.log.info("Savepoint directory deleted on the local file system", path=path, reason=why)
    return problem


def _delete_savepoint_directory(directory: Path, path: str, why: str) -> str | None:
    if not directory.is_dir():
        return (
            f"Cannot dispose savepoint {path}: {why}, and it is not on the operator's file system "
            "(remove the finalizer to keep the data)"
        )
    if not (directory / SAVEPOINT_METADATA).is_file():
        return f"Cannot dispose savepoint {path}: {directory} holds no {SAVEPOINT_METADATA} file"
    try:
        shutil.rmtree(directory)
    except OSError as error:
        return f"Failed to delete savepoint directory {directory}: {error}"
    return None


__all__ = ["dispose"]
