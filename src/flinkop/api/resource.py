"""What every Flink custom resource shares: API group, version, kind and metadata."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from flinkop.api.base import WireModel
from flinkop.api.meta import ObjectMeta

GROUP = "flink.apache.org"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"


class CustomResource(WireModel):
    """Base of the top-level resources.

    Subclasses set ``PLURAL``, give ``kind`` its default (the kind's name, read back into
    ``KIND``) and add ``spec`` and ``status``.
    """

    KIND: ClassVar[str] = ""
    PLURAL: ClassVar[str] = ""

    api_version: str = API_VERSION
    kind: str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.KIND = cls.model_fields["kind"].default

    @classmethod
    def finalizer(cls) -> str:
        """The finalizer name the upstream operator (JOSDK) puts on this kind."""
        return f"{cls.PLURAL}.{GROUP}/finalizer"

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""

    @property
    def name(self) -> str:
        return self.metadata.name or ""
