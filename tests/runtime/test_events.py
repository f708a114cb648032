"""The event recorder over real HTTP against the sandbox API server: upstream's names and aggregation."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes_asyncio import client

from flinkop.runtime.events import EVENTS, EventRecorder, event_name, java_string_hash
from flinkop.runtime.kube import Kube, Resource
from flinkop.sandbox.apiserver.server import SandboxApiServer
from tests.conftest import widget

WIDGETS = Resource("example.com", "v1", "widgets", kind="Widget")
NAME = re.compile(r"^(Operator|JobManagerDeployment|Job|Snapshot)\.[0-9]+$")


class Clock:
    """A wall clock the test moves by hand, so timestamps differ deterministically."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def _widget(kube: Kube, name: str = "w1") -> dict[str, Any]:
    return await kube.create(WIDGETS, widget(name))


async def _events(kube: Kube, namespace: str = "default") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await kube.list(EVENTS, namespace))["items"]
    return items


def test_java_string_hash_matches_java() -> None:
    # Values of java.lang.String#hashCode, including UTF-16 surrogate pairs and the famous MIN_VALUE.
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("Hello World") == -862545276
    assert java_string_hash("é") == 233
    assert java_string_hash("\U0001f600") == 1772899
    assert java_string_hash("polygenelubricants") == -(2**31)


def test_event_name_is_upstreams() -> None:
    obj = {"kind": "FlinkDeployment", "metadata": {"name": "basic", "uid": "u-1"}}
    joined = "SpecChanged" + "UPGRADE change(s) detected" + "Normal" + "FlinkDeployment" + "basic" + "u-1"
    name = event_name(obj, "Normal", "SpecChanged", "UPGRADE change(s) detected", "Operator")
    assert name == f"Operator.{java_string_hash(joined) & 0x7FFFFFFF}"
    assert NAME.match(name)
    # Positive even when the Java hash is negative.
    assert event_name({"kind": "", "metadata": {}}, "", "polygenelubricants", "", "Job") == "Job.0"


async def test_record_creates_an_event_with_upstreams_fields(
    api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    clock = Clock()
    recorder = EventRecorder(kube, reporting_instance="operator-0", now=clock)
    cr = await _widget(kube)

    written = await recorder.record(cr, "Normal", "SpecChanged", "UPGRADE change(s) detected")

    assert written is not None
    events = await _events(kube)
    assert len(events) == 1
    event = events[0]
    meta = cr["metadata"]
    assert event["metadata"]["name"] == event_name(
        cr, "Normal", "SpecChanged", "UPGRADE change(s) detected", "Operator"
    )
    assert NAME.match(event["metadata"]["name"])
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"] == {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "name": "w1",
        "namespace": "default",
        "uid": meta["uid"],
        "resourceVersion": meta["resourceVersion"],
    }
    assert event["reason"] == "SpecChanged"
    assert event["message"] == "UPGRADE change(s) detected"
    assert event["type"] == "Normal"
    assert event["source"] == {"component": "Operator"}
    assert event["reportingComponent"] == "Operator"
    assert event["reportingInstance"] == "operator-0"
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-11-26T12:00:00Z"
    assert event["count"] == 1


async def test_a_repeat_bumps_count_and_last_timestamp(
    api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    clock = Clock()
    recorder = EventRecorder(kube, now=clock)
    cr = await _widget(kube)
    first = await recorder.record(cr, "Warning", "Missing", "Missing JobManager deployment")
    assert first is not None

    clock.advance(5)
    second = await recorder.record(cr, "Warning", "Missing", "Missing JobManager deployment")

    events = await _events(kube)
    assert len(events) == 1
    event = events[0]
    assert second is not None and event["metadata"]["name"] == first["metadata"]["name"]
    assert event["metadata"]["uid"] == first["metadata"]["uid"]  # the same object, updated
    assert event["count"] == 2
    assert event["firstTimestamp"] == "2026-11-26T12:00:00Z"
    assert event["lastTimestamp"] == "2026-11-26T12:00:05Z"

    # A fresh recorder (a restarted operator, empty cache) finds the same event and bumps it further.
    clock.advance(5)
    again = await EventRecorder(kube, now=clock).record(
        cr, "Warning", "Missing", "Missing JobManager deployment"
    )
    assert again is not None
    events = await _events(kube)
    assert [(e["metadata"]["name"], e["count"], e["lastTimestamp"]) for e in events] == [
        (first["metadata"]["name"], 3, "2026-11-26T12:00:10Z")
    ]


async def test_different_events_are_different_objects(
    api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    recorder = EventRecorder(kube)
    cr = await _widget(kube)
    other = await _widget(kube, "w2")

    await recorder.record(cr, "Normal", "Submit", "Starting deployment")
    await recorder.record(cr, "Normal", "Submit", "Starting deployment again")  # other message
    await recorder.record(cr, "Warning", "Submit", "Starting deployment")  # other type
    await recorder.record(other, "Normal", "Submit", "Starting deployment")  # other object
    await recorder.record(cr, "Normal", "Scaling", "Scaling vertices", component="JobManagerDeployment")

    events = await _events(kube)
    assert len(events) == 5
    assert all(e["count"] == 1 for e in events)
    assert all(NAME.match(e["metadata"]["name"]) for e in events)
    scaling = next(e for e in events if e["reason"] == "Scaling")
    assert scaling["metadata"]["name"].startswith("JobManagerDeployment.")
    assert scaling["source"] == {"component": "JobManagerDeployment"}


async def test_a_stale_cached_event_is_read_again_and_a_deleted_one_created_again(
    api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    recorder = EventRecorder(kube)
    cr = await _widget(kube)
    first = await recorder.record(cr, "Normal", "JobStatusChanged", "Job status changed to RUNNING")
    assert first is not None
    name = first["metadata"]["name"]

    # Another writer bumps it: our cached resourceVersion is stale, the PUT gets a real 409.
    await kube.replace(EVENTS, {**first, "count": 2})
    assert await recorder.record(cr, "Normal", "JobStatusChanged", "Job status changed to RUNNING")
    assert (await kube.get(EVENTS, name, "default"))["count"] == 3

    # Events expire: the cached one is gone, the next record creates it again at count 1.
    await kube.delete(EVENTS, name, "default")
    recreated = await recorder.record(cr, "Normal", "JobStatusChanged", "Job status changed to RUNNING")
    assert recreated is not None and recreated["count"] == 1
    assert (await kube.get(EVENTS, name, "default"))["count"] == 1


async def test_concurrent_repeats_are_all_counted(
    api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    cr = await _widget(kube)
    recorders = [EventRecorder(kube), EventRecorder(kube)]  # two processes, empty caches

    results = await asyncio.gather(*(r.record(cr, "Normal", "Cleanup", "Cleaning up") for r in recorders))

    assert all(results)
    events = await _events(kube)
    assert [e["count"] for e in events] == [2]


async def test_api_failures_never_raise(
    apiserver: SandboxApiServer, api: client.ApiClient, widgets: client.CustomObjectsApi
) -> None:
    kube = Kube(api)
    recorder = EventRecorder(kube)
    cr = await _widget(kube)

    rule = apiserver.add_fault(path=r"/events", code=500)
    assert await recorder.record(cr, "Warning", "Error", "boom") is None
    assert rule.hits >= 1
    apiserver.clear_faults()

    assert await recorder.record(cr, "Warning", "Error", "boom") is not None
    apiserver.add_fault(path=r"/events", method="PUT", code=500)  # the bump fails
    assert await recorder.record(cr, "Warning", "Error", "boom") is None
    apiserver.clear_faults()
    assert (await _events(kube))[0]["count"] == 1

    # Nothing to refer to, or an unreachable server: logged, not raised.
    assert await recorder.record({"kind": "Widget"}, "Normal", "Submit", "x") is not None
    await api.close()
    assert await recorder.record(cr, "Normal", "Submit", "after close") is None
