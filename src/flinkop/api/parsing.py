"""Turning objects read from the cluster into models, with one error type for bad objects.

A bad object (a field of the wrong type, an unknown enum value in its spec) must never
kill an informer or a worker: :func:`parse_resource` raises :class:`ResourceParseError`
with every problem in one readable message, and the caller logs and skips the object.

Unknown enum values are judged by where they are:
* in ``spec`` they are user intent the operator cannot act on safely (an unknown upgrade
  mode, Flink version...), so the object is rejected;
* in ``status`` they are the operator's own record, written by a newer operator or
  reported by a newer Flink. They are kept as they are, so that the resource is still
  reconciled and its status rewritten; :func:`unknown_enum_values` lists them for a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from flinkop.api.bluegreen import FlinkBlueGreenDeployment
from flinkop.api.deployment import FlinkDeployment
from flinkop.api.enums import OpenStrEnum
from flinkop.api.resource import CustomResource
from flinkop.api.session_job import FlinkSessionJob
from flinkop.api.snapshot import FlinkStateSnapshot

R = TypeVar("R", bound=CustomResource)

RESOURCE_TYPES: dict[str, type[CustomResource]] = {
    model.KIND: model
    for model in (FlinkDeployment, FlinkSessionJob, FlinkStateSnapshot, FlinkBlueGreenDeployment)
}

_MAX_SHOWN_INPUT = 60


class ResourceParseError(ValueError):
    """An object that does not fit the model; ``problems`` lists each bad field by wire path."""

    def __init__(self, kind: str, namespace: str, name: str, problems: list[str]) -> None:
        self.kind, self.namespace, self.name, self.problems = kind, namespace, name, problems
        where = f"{namespace}/{name}" if namespace else name or "<unnamed>"
        super().__init__(f"invalid {kind} {where}: " + "; ".join(problems))


def parse_resource(model: type[R], obj: Any) -> R:
    """Parse a wire object (a dict as the API server returns it) into ``model``."""
    kind, namespace, name = _identity(model, obj)
    if not isinstance(obj, Mapping):
        raise ResourceParseError(kind, namespace, name, [f"expected an object, got {type(obj).__name__}"])
    if obj.get("kind", model.KIND) != model.KIND:
        raise ResourceParseError(
            kind, namespace, name, [f"kind: expected {model.KIND!r}, got {obj['kind']!r}"]
        )
    try:
        # Wire names only: a snake_case key on the wire is an unknown field, not a field.
        resource = model.model_validate(obj, by_alias=True, by_name=False)
    except ValidationError as error:
        raise ResourceParseError(kind, namespace, name, _describe(error)) from None
    unknown = unknown_enum_values(getattr(resource, "spec", None), "spec")
    if unknown:
        raise ResourceParseError(kind, namespace, name, unknown)
    return resource


def parse_any_resource(obj: Any) -> CustomResource:
    """Parse an object of any Flink kind, chosen by its ``kind``."""
    kind = obj.get("kind") if isinstance(obj, Mapping) else None
    model = RESOURCE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        _, namespace, name = _identity(CustomResource, obj)
        raise ResourceParseError(
            str(kind), namespace, name, [f"kind: not one of {', '.join(RESOURCE_TYPES)}"]
        )
    return parse_resource(model, obj)


def parse_flink_deployment(obj: Any) -> FlinkDeployment:
    return parse_resource(FlinkDeployment, obj)


def parse_flink_session_job(obj: Any) -> FlinkSessionJob:
    return parse_resource(FlinkSessionJob, obj)


def parse_flink_state_snapshot(obj: Any) -> FlinkStateSnapshot:
    return parse_resource(FlinkStateSnapshot, obj)


def parse_flink_blue_green_deployment(obj: Any) -> FlinkBlueGreenDeployment:
    return parse_resource(FlinkBlueGreenDeployment, obj)


def unknown_enum_values(value: Any, path: str = "") -> list[str]:
    """One readable line per enum value the enums do not know, anywhere under ``value``."""
    found: list[str] = []
    if isinstance(value, OpenStrEnum):
        if not value.is_known:
            allowed = ", ".join(repr(v) for v in type(value).known_values())
            found.append(f"{path}: unknown value {value.value!r} (expected one of {allowed})")
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            found += unknown_enum_values(getattr(value, name), _join(path, info.alias or name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unknown_enum_values(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += unknown_enum_values(item, _join(path, str(key)))
    return found


def _identity(model: type[CustomResource], obj: Any) -> tuple[str, str, str]:
    """Kind, namespace and name for the message, read defensively from a possibly bad object."""
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    return (
        model.KIND or "resource",
        namespace if isinstance(namespace, str) else "",
        name if isinstance(name, str) else "",
    )


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        path = ""
        for part in item["loc"]:
            path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
        shown = repr(item["input"])
        if len(shown) > _MAX_SHOWN_INPUT:
            shown = shown[: _MAX_SHOWN_INPUT - 3] + "..."
        problems.append(f"{path or '<root>'}: {item['msg']} (got {shown})")
    return problems


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
