"""Restart back-off of one container, as the kubelet's flowcontrol.Backoff keyed by container.

The first restart after a crash is immediate; each later one waits `base`, `2*base`, ... up to `cap`,
counted from when the container exited. An entry not updated for `2*cap` expires: a container that
ran that long without crashing starts over with an immediate restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RestartBackoff:
    base: float = 10.0
    cap: float = 300.0
    clock: Callable[[], float] = field(default=time.monotonic)
    current: float = 0.0
    last_update: float | None = None

    def delay(self, exited: float) -> float:
        """Seconds still to wait before restarting a container that exited at `exited` (clock time)."""
        if self.last_update is not None and exited - self.last_update > 2 * self.cap:
            self.current, self.last_update = 0.0, None
        if self.last_update is None:
            return 0.0
        return max(0.0, exited + self.current - self.clock())

    def restarted(self) -> None:
        """Record a restart: the next crash waits longer."""
        self.current = self.base if self.last_update is None else min(self.current * 2, self.cap)
        self.last_update = self.clock()

    def pull_delay(self, attempts: int) -> float:
        """The wait after `attempts` failed image pulls (ImagePullBackOff)."""
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))
