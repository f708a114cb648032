"""Property: any object our CRD schema admits (plus unknown fields) parses and is written back unchanged."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flinkop.api import parse_any_resource, unknown_enum_values
from flinkop.api.crdgen import ENVELOPES, build_crd

JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
OPEN_OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)
# Unknown field names: "x" + a capital never collides with a model field's wire or Python name.
UNKNOWN_NAMES = st.from_regex(r"x[A-Z][a-zA-Z]{0,6}", fullmatch=True)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema.get("x-kubernetes-int-or-string"):
        return st.integers(-(2**31), 2**31) | st.text(max_size=8)
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        # Declared without a type (flinkConfiguration, as upstream) or as an object: both are
        # maps in the models, as in upstream's Java types.
        return OPEN_OBJECTS
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema["type"]
    if kind == "string":
        return st.text(max_size=12)
    if kind == "integer":
        return st.integers(-(2**63), 2**63 - 1)
    if kind == "number":
        return st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(from_schema(schema["items"]), max_size=3)
    if "additionalProperties" in schema:
        return st.dictionaries(st.text(max_size=8), from_schema(schema["additionalProperties"]), max_size=3)
    properties = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
    known = st.fixed_dictionaries({}, optional=properties)
    unknown = st.dictionaries(UNKNOWN_NAMES, JSON_VALUES, max_size=2)
    return st.tuples(known, unknown).map(lambda parts: {**parts[1], **parts[0]})


def resources() -> st.SearchStrategy[dict[str, Any]]:
    options = []
    for envelope in ENVELOPES:
        crd = yaml.safe_load(yaml.safe_dump(build_crd(envelope)))
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        metadata = st.fixed_dictionaries(
            {"name": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)},
            optional={
                "namespace": st.just("default"),
                "labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
            },
        )
        options.append(
            st.fixed_dictionaries(
                {
                    "apiVersion": st.just("flink.apache.org/v1beta1"),
                    "kind": st.just(envelope.resource.KIND),
                    "metadata": metadata,
                },
                optional={"spec": from_schema(root["spec"]), "status": from_schema(root["status"])},
            )
        )
    return st.one_of(options)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources())
def test_any_schema_valid_object_round_trips(obj: dict[str, Any]) -> None:
    resource = parse_any_resource(obj)
    assert resource.model_dump(mode="json", exclude_unset=True) == obj
    assert unknown_enum_values(resource) == []


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=12).filter(lambda s: s not in {"RUNNING", "FAILED"}))
def test_any_status_enum_value_round_trips(state: str) -> None:
    obj = {"kind": "FlinkSessionJob", "metadata": {"name": "j"}, "status": {"jobStatus": {"state": state}}}
    resource = parse_any_resource(obj)
    assert resource.model_dump(mode="json", exclude_unset=True) == obj
