"""The one change the official image's build makes to the distribution's conf/config.yaml.

The distribution binds to localhost; a container must listen on its own interface, so the image replaces
`localhost` by `0.0.0.0` for the bind/listen addresses and drops `taskmanager.host: localhost` (a TaskManager
then advertises its real address). Keys may be nested or flat in config.yaml; both are handled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LISTEN_ON_ALL_INTERFACES = (
    "rest.address",
    "rest.bind-address",
    "jobmanager.bind-host",
    "taskmanager.bind-host",
)
DROP_WHEN_LOCALHOST = ("taskmanager.host",)
HEADER = "# Flink configuration of the flinkop sandbox image: the distribution's, container bind addresses\n"


def prepare_image_conf(flink_home: Path) -> None:
    path = flink_home / "conf" / "config.yaml"
    if not path.exists():
        return
    doc: Any = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        return
    for key in LISTEN_ON_ALL_INTERFACES:
        found = _locate(doc, key)
        if found is not None and found[0][found[1]] == "localhost":
            found[0][found[1]] = "0.0.0.0"
    for key in DROP_WHEN_LOCALHOST:
        found = _locate(doc, key)
        if found is not None and found[0][found[1]] == "localhost":
            del found[0][found[1]]
    path.write_text(HEADER + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1 << 16))


def _locate(doc: dict[str, Any], key: str) -> tuple[dict[str, Any], str] | None:
    """The mapping holding dotted `key` and the key inside it, whether written flat or nested."""
    if key in doc:
        return doc, key
    parts = key.split(".")
    for split in range(1, len(parts)):
        child = doc.get(".".join(parts[:split]))
        if isinstance(child, dict):
            found = _locate(child, ".".join(parts[split:]))
            if found is not None:
                return found
    return None
