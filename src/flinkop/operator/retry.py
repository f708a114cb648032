"""Retries of failed reconciles: upstream's ``kubernetes.operator.retry.*`` (exponential from the initial
interval with the multiplier, optionally capped), combined with the work queue's overall token bucket."""

from __future__ import annotations

from collections.abc import Hashable

from flinkop.config import OperatorConfig
from flinkop.runtime.workqueue import MaxOf, RateLimiter, TokenBucket


class RetryBackoff:
    """Per-key delay ``initial * multiplier ** failures``, at most ``max_interval`` (when set)."""

    def __init__(
        self, initial: float = 5.0, multiplier: float = 1.5, max_interval: float | None = None
    ) -> None:
        self.initial = initial
        self.multiplier = multiplier
        self.max_interval = max_interval
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay: float = self.initial * self.multiplier**failures
        return delay if self.max_interval is None else min(delay, self.max_interval)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


def retry_rate_limiter(config: OperatorConfig) -> RateLimiter:
    return MaxOf(
        RetryBackoff(
            config.retry_initial_interval, config.retry_interval_multiplier, config.retry_max_interval
        ),
        TokenBucket(10.0, 100),
    )


__all__ = ["RetryBackoff", "retry_rate_limiter"]
