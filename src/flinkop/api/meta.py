"""The part of Kubernetes ObjectMeta the operator reads; every other metadata field is kept as is."""

from __future__ import annotations

from flinkop.api.base import OpenObject, WireModel


class OwnerReference(WireModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(WireModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    # Timestamps stay RFC 3339 strings: parsing them would change them on the way back.
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None
    owner_references: list[OwnerReference] | None = None
    managed_fields: list[OpenObject] | None = None
