"""Scripted failures for tests: error answers, Retry-After throttling and latency."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from flinkop.sandbox.apiserver import errors
from flinkop.sandbox.apiserver.errors import ApiError

_ids = itertools.count(1)


@dataclass
class FaultRule:
    """Requests matching `method` and `path` (a regular expression) fail or slow down.

    `code` 0 means no error (latency only). `times` 0 means until removed.
    """

    path: str = ".*"
    method: str = "*"
    code: int = 0
    times: int = 0
    retry_after: int = 1
    latency: float = 0.0
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and bool(self._regex.search(path))

    def error(self) -> ApiError | None:
        if self.code == 0:
            return None
        if self.code == 429:
            return errors.too_many_requests(self.retry_after)
        if self.code == 503:
            return errors.unavailable("the server is currently unable to handle the request")
        if self.code == 500:
            return errors.internal("injected fault")
        return ApiError(self.code, "InternalError", f"injected fault with status {self.code}")

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "method": self.method,
            "code": self.code,
            "times": self.times,
            "retryAfter": self.retry_after,
            "latency": self.latency,
            "hits": self.hits,
        }


class Faults:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def match(self, method: str, path: str) -> tuple[float, ApiError | None]:
        """The latency to add and the error to answer (if any) for this request."""
        latency, error = 0.0, None
        for rule in list(self.rules):
            if not rule.matches(method, path):
                continue
            rule.hits += 1
            latency = max(latency, rule.latency)
            error = error or rule.error()
            if rule.times and rule.hits >= rule.times:
                self.rules.remove(rule)
        return latency, error
