"""The two kinds of snapshot the manager looks after."""

from __future__ import annotations

from enum import StrEnum


class SnapshotKind(StrEnum):
    SAVEPOINT = "savepoint"
    CHECKPOINT = "checkpoint"

    @property
    def capitalized(self) -> str:
        return self.value.capitalize()


__all__ = ["SnapshotKind"]
