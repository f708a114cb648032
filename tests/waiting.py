"""Waiting for a condition in asynchronous tests: poll, fail naming what was awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, interval: float = 0.25
) -> T:
    """Poll ``probe`` until it returns something truthy. An AssertionError of the probe fails at once;
    other errors are retried and the last one is reported when the wait runs out."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = await probe()
            if result:
                return result
        except AssertionError:
            raise
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s{detail}")
        await asyncio.sleep(interval)


__all__ = ["eventually"]
