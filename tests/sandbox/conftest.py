"""Fixtures for the sandbox API server's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from flinkop.sandbox.apiserver import handlers
from flinkop.sandbox.apiserver.errors import ApiError
from flinkop.sandbox.apiserver.server import SandboxApiServer


@pytest.fixture
def no_server_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No request in the test may be answered with a 5xx (tests that inject faults don't use this)."""
    seen: list[str] = []
    original = handlers.error_response

    def recording(exc: ApiError) -> Any:
        if exc.code >= 500:
            seen.append(f"{exc.code} {exc.reason}: {exc.message}")
        return original(exc)

    monkeypatch.setattr(handlers, "error_response", recording)
    yield
    assert not seen, f"server answered 5xx: {seen}"


@pytest.fixture
async def http(apiserver: SandboxApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    """Raw HTTP to the server, for what clients hide (headers, exact bodies)."""
    async with aiohttp.ClientSession(
        base_url=apiserver.url, headers={"Authorization": "Bearer sandbox"}
    ) as session:
        yield session
