"""Container lifecycle hooks (postStart, preStop): exec in the container, httpGet to the pod, or sleep."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from flinkop.sandbox.kubelet.probes import ProbeTarget, probe_once

JSON = dict[str, Any]


async def run_hook(
    container: JSON, kind: str, target: ProbeTarget, session: aiohttp.ClientSession, timeout: float
) -> str | None:
    """Run the container's `lifecycle.<kind>` handler within `timeout` seconds; the failure message, or
    None when it succeeded (or there is none)."""
    handler = (container.get("lifecycle") or {}).get(kind)
    if not isinstance(handler, dict):
        return None
    if isinstance(handler.get("sleep"), dict):
        await asyncio.sleep(min(max(0.0, timeout), float(handler["sleep"].get("seconds") or 0)))
        return None
    try:
        ok, message = await asyncio.wait_for(probe_once(handler, target, session, timeout), max(0.0, timeout))
    except TimeoutError:
        return f"{kind} hook did not finish within {timeout:g}s"
    return None if ok else (message or f"{kind} hook failed")
