"""Expectations: the creates and deletes a controller has asked for and not yet seen in its cache
(kube-controller-manager's UIDTrackingControllerExpectations).

A ReplicaSet that just created three pods must not, on its next sync, count the pods its informer has
not delivered yet and create three more. So a sync records what it expects; informer events lower the
counts; manage-replicas only runs again once they are met, or once the record is `ttl` old (a lost
event must not block a controller forever). Deletions are tracked by pod key, so a pod seen first as
terminating and then as deleted is only counted once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

EXPECTATIONS_TTL = 300.0  # upstream's ExpectationsTimeout: 5 minutes


@dataclass
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    def __init__(self, ttl: float = EXPECTATIONS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def expect_creations(self, key: str, count: int) -> None:
        self._records[key] = _Record(adds=count, stamp=self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        self._records[key] = _Record(adds=0, deletes=set(pod_keys), stamp=self._clock())

    def creation_observed(self, key: str) -> None:
        record = self._records.get(key)
        if record is not None and record.adds > 0:
            record.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.deletes.discard(pod_key)

    def satisfied(self, key: str) -> bool:
        record = self._records.get(key)
        if record is None:
            return True
        if (record.adds <= 0 and not record.deletes) or self._expired(record):
            return True
        return False

    def wait_left(self, key: str) -> float | None:
        """Seconds until unmet expectations expire, None when there are none."""
        record = self._records.get(key)
        if record is None or self.satisfied(key):
            return None
        return max(0.0, record.stamp + self.ttl - self._clock())

    def delete(self, key: str) -> None:
        self._records.pop(key, None)

    def _expired(self, record: _Record) -> bool:
        return self._clock() - record.stamp > self.ttl
