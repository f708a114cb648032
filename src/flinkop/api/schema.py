"""OpenAPI v3 (Kubernetes structural) schema of a model, read from its Python types.

Mapping: str/int/float/bool to string/integer/number/boolean; enums to string + enum
(known values); list to array; dict[str, X] to object + additionalProperties; models to
object + properties (by wire name); ``X | None`` to X (upstream declares no nullable). A
:class:`~flinkop.api.base.CrdSchema` in a field's metadata replaces the derived schema.
Types the mapping cannot express (Any, unions) need a CrdSchema, else TypeError.
"""

from __future__ import annotations

import types
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from flinkop.api.base import CrdSchema

Schema = dict[str, Any]

_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


def model_schema(model: type[BaseModel]) -> Schema:
    properties = {
        info.alias or name: field_schema(info, f"{model.__name__}.{name}")
        for name, info in model.model_fields.items()
    }
    schema: Schema = {"type": "object"}
    if properties:
        schema["properties"] = dict(sorted(properties.items()))
    return schema


def field_schema(info: FieldInfo, where: str) -> Schema:
    schema = _hinted(info.metadata) or type_schema(info.annotation, where)
    if info.description:
        schema = {**schema, "description": info.description}
    return schema


def type_schema(tp: Any, where: str) -> Schema:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _hinted(args[1:]) or type_schema(args[0], where)
    if origin in (Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        if len(present) != 1:
            raise TypeError(f"{where}: union {tp!r} needs a CrdSchema")
        return type_schema(present[0], where)
    if origin is list:
        return {"type": "array", "items": type_schema(args[0], f"{where}[]")}
    if origin is dict:
        if args[0] is not str:
            raise TypeError(f"{where}: dict keys must be str")
        return {"type": "object", "additionalProperties": type_schema(args[1], f"{where}{{}}")}
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return {"type": "string", "enum": [member.value for member in tp]}
        if issubclass(tp, BaseModel):
            return model_schema(tp)
        for scalar, name in _SCALARS.items():  # bool before int: bool is an int
            if issubclass(tp, scalar):
                return {"type": name}
    raise TypeError(f"{where}: no CRD schema for {tp!r}; annotate it with a CrdSchema")


def _hinted(metadata: Any) -> Schema | None:
    for item in metadata:
        if isinstance(item, CrdSchema):
            return dict(item.schema)
    return None
