"""status.reconciliationStatus.lastReconciledSpec / lastStableSpec: a spec as a JSON string.

Format written (the upstream operator's, so either operator can take over a resource):
``{"spec": <full spec, defaults and nulls included>, "resource_metadata":
{"apiVersion": "flink.apache.org/v1beta1", "firstDeployment": <bool>}}``, compact JSON,
keys in upstream's field order. Also read: the legacy format, the spec itself with an
``apiVersion`` key and no ``resource_metadata`` (first deployment long done).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from flinkop.api.base import WireModel
from flinkop.api.resource import API_VERSION

S = TypeVar("S", bound=WireModel)


class ReconciliationMetadata(WireModel):
    # Older operators also wrote {"metadata": {"generation": N}}; kept as an unknown field.
    api_version: str = API_VERSION
    first_deployment: bool = False


class ReconciledSpecError(ValueError):
    """lastReconciledSpec / lastStableSpec is not a readable spec."""


@dataclass(frozen=True)
class ReconciledSpec(Generic[S]):
    spec: S
    metadata: ReconciliationMetadata


def serialize_reconciled_spec(spec: WireModel, *, first_deployment: bool) -> str:
    document = {
        "spec": spec.model_dump(mode="json", by_alias=True),
        "resource_metadata": ReconciliationMetadata(first_deployment=first_deployment).model_dump(
            mode="json"
        ),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def deserialize_reconciled_spec(text: str, spec_type: type[S]) -> ReconciledSpec[S]:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReconciledSpecError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ReconciledSpecError("not a JSON object")
    if "resource_metadata" in document:
        spec_data, meta_data = document.get("spec"), document["resource_metadata"]
    else:
        spec_data = {key: value for key, value in document.items() if key != "apiVersion"}
        meta_data = {"apiVersion": document.get("apiVersion", API_VERSION), "firstDeployment": False}
    try:
        spec = spec_type.model_validate(spec_data, by_alias=True, by_name=False)
        metadata = ReconciliationMetadata.model_validate(meta_data, by_alias=True, by_name=False)
    except ValidationError as error:
        raise ReconciledSpecError(str(error)) from None
    return ReconciledSpec(spec, metadata)
