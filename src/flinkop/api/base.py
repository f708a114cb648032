"""The base of every CR model, and the hints that shape a field's CRD schema.

Wire rules shared by all models:
* camelCase on the wire (``jar_uri`` in Python, ``jarURI`` in YAML); Python names work too
  when building models in code.
* Unknown fields are kept (``extra="allow"``), so an object written by a newer operator or
  CRD round-trips: ``model.model_dump(mode="json", exclude_unset=True)`` equals the input.
* Types are strict (``"1"`` is not an integer, ``1`` is not a string), like the API server's
  schema check; enums are open (see :mod:`flinkop.api.enums`).
* An explicit ``null`` on a field that has a default means the default, as the API server's
  null pruning does; fields without a default keep their ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


@dataclass(frozen=True, eq=False)  # identity hash: typing hashes Annotated metadata in unions
class CrdSchema:
    """Put in a field's ``Annotated[...]`` metadata: the field's CRD schema, used verbatim.

    For what the Python type cannot say (preserve-unknown objects, int-or-string).
    """

    schema: Mapping[str, Any] = field(default_factory=dict)


# Upstream embeds the full Kubernetes Pod schema for pod templates; an open object keeps
# our CRDs small and accepts every Pod field of every Kubernetes version.
OPEN_OBJECT = CrdSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
# flinkConfiguration: a map of any YAML values (nested maps, numbers, lists), declared
# without a type as upstream does; the models still require a map, as upstream's Java type does.
ANY_VALUE = CrdSchema({"x-kubernetes-preserve-unknown-fields": True})
INT_OR_STRING = CrdSchema(
    {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
)
NUMBER = CrdSchema({"type": "number"})


def _quantity(value: Any) -> int | float | str:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("quantity_type", "Input should be an integer or a quantity string")


def _number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("number_type", "Input should be a number")


# Plain validators: one clear error instead of one per union member, and values kept
# exactly as read (an int stays an int).
# Kubernetes resource quantity ("1", 2, "2048Mi"); floats are tolerated for hand-written input.
Quantity = Annotated[int | float | str, PlainValidator(_quantity), INT_OR_STRING]
Number = Annotated[int | float, PlainValidator(_number), NUMBER]
OpenObject = Annotated[dict[str, Any], OPEN_OBJECT]
AnyValueMap = Annotated[dict[str, Any], ANY_VALUE]


# Wire names that are not plain camelCase of the Python name.
_IRREGULAR_WIRE_NAMES = {"jar_uri": "jarURI"}


def wire_name(python_name: str) -> str:
    # An alias generator rather than Field(alias=...): type checkers then keep accepting
    # the Python name in constructors.
    return _IRREGULAR_WIRE_NAMES.get(python_name) or to_camel(python_name)


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=wire_name,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
        strict=True,
    )

    # Wire and Python names of fields whose null means "use the default".
    _null_means_default: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names: set[str] = set()
        for name, info in cls.model_fields.items():
            if not info.is_required() and info.get_default(call_default_factory=True) is not None:
                names.update({name, info.alias or name})
        cls._null_means_default = frozenset(names)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls_that_mean_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(data.get(key, 0) is None for key in cls._null_means_default):
            return {k: v for k, v in data.items() if not (v is None and k in cls._null_means_default)}
        return data


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The JSON-ready dict the operator writes: every field with a value, defaults included
    (as upstream writes its status), nulls left out, unknown fields kept."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
