"""The sandbox's example Flink jobs: Java sources here, compiled per distribution by `images install`.

Every job keeps keyed state and reports each update as a TaskManager stdout line matched by `STATE_LINE`,
so tests can read the state of a running job from `kubectl logs` and check that it survives a savepoint
restore or an upgrade. See README.md beside this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

JAVA_SOURCES = Path(__file__).parent / "java"
# Where the jars go inside FLINK_HOME: the paths of the upstream image's examples.
EXAMPLES_DIR = "examples/streaming"
STATE_LINE = re.compile(r"flinkop-state key=(?P<key>\S+) count=(?P<count>\d+)")


@dataclass(frozen=True)
class ExampleJar:
    file_name: str
    main_class: str


STATE_JOB = ExampleJar("flinkop-state-job.jar", "flinkop.jobs.KeyedCounterJob")
STATE_MACHINE_EXAMPLE = ExampleJar(
    "StateMachineExample.jar", "org.apache.flink.streaming.examples.statemachine.StateMachineExample"
)
TOP_SPEED_WINDOWING = ExampleJar(
    "TopSpeedWindowing.jar", "org.apache.flink.streaming.examples.windowing.TopSpeedWindowing"
)
EXAMPLE_JARS = (STATE_JOB, STATE_MACHINE_EXAMPLE, TOP_SPEED_WINDOWING)


def parse_state_lines(text: str) -> list[tuple[str, int]]:
    """(key, count) of every state line in `text`, in order."""
    return [(m.group("key"), int(m.group("count"))) for m in STATE_LINE.finditer(text)]
