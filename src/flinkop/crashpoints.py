"""Named points in the operator's destructive sequences where a test can make the process die.

``FLINKOP_CRASH_AT=<point>[,<point>...]`` makes the process exit at once (``os._exit``, exit code 99, no
cleanup, no status write: as abrupt as a SIGKILL) the first time it reaches one of the named points. The
crash-safety tests kill the operator this way between every two steps of a savepoint upgrade and check
that a restarted operator finishes the upgrade from what the status says. Unset (always, outside those
tests) a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys

import structlog

ENV = "FLINKOP_CRASH_AT"
EXIT_CODE = 99
log = structlog.get_logger("flinkop.crashpoints")

# The points, in the order a savepoint upgrade reaches them.
SAVEPOINT_TRIGGER_RECORDED = "savepoint-trigger-recorded"  # the trigger id is in the status, nothing sent
SAVEPOINT_TRIGGERED = "savepoint-triggered"  # stop-with-savepoint sent, its result not awaited
SAVEPOINT_COMPLETED = "savepoint-completed"  # Flink finished the savepoint, its path not yet recorded
SAVEPOINT_PATH_RECORDED = "savepoint-path-recorded"  # the path and the upgrade are in the status
OLD_CLUSTER_DELETED = "old-cluster-deleted"  # the stopped cluster is gone, the new one not submitted
CLUSTER_SUBMITTED = "cluster-submitted"  # the new cluster's objects exist, DEPLOYED not yet recorded

SAVEPOINT_UPGRADE_POINTS = (
    SAVEPOINT_TRIGGER_RECORDED,
    SAVEPOINT_TRIGGERED,
    SAVEPOINT_COMPLETED,
    SAVEPOINT_PATH_RECORDED,
    OLD_CLUSTER_DELETED,
    CLUSTER_SUBMITTED,
)


def crash_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted or name not in wanted.split(","):
        return
    log.warning("crash point reached, exiting", point=name)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_CODE)


__all__ = ["ENV", "EXIT_CODE", "SAVEPOINT_UPGRADE_POINTS", "crash_point"]
