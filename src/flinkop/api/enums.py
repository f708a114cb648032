"""The enums of the Flink CRDs, with the wire values of the upstream operator.

Every enum here is an :class:`OpenStrEnum`: a value the enum does not know (written by a
newer operator, a newer Flink, or an edited CRD) still parses, as a stand-in member whose
``is_known`` is False, and is written back unchanged. Whether such a value is acceptable
is decided in one place, :func:`flinkop.api.parsing.parse_resource` (rejected in ``spec``,
kept in ``status``), never by the model validation itself.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema


class OpenStrEnum(StrEnum):
    """A string enum that accepts unknown values instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str):
            return None
        # A stand-in member, built like enum.Flag's pseudo-members: not registered in the
        # class, so unknown values never grow it and never compare identical to a known one.
        stand_in = str.__new__(cls, value)
        stand_in._name_ = value
        stand_in._value_ = value
        return stand_in

    @property
    def is_known(self) -> bool:
        return type(self)._value2member_map_.get(self._value_) is self

    @classmethod
    def known_values(cls) -> list[str]:
        return [member.value for member in cls]

    @classmethod
    def _from_wire(cls, value: Any) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        raise PydanticCustomError(
            "enum_type",
            "Input should be a string, one of {expected}",
            {"expected": ", ".join(repr(v) for v in cls.known_values())},
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A plain validator keeps enums lax (strings accepted) while the models are strict,
        # and serializes to the bare string so dumps are plain data in every mode.
        return core_schema.no_info_plain_validator_function(
            cls._from_wire,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )


class FlinkVersion(OpenStrEnum):
    V1_13 = "v1_13"
    V1_14 = "v1_14"
    V1_15 = "v1_15"
    V1_16 = "v1_16"
    V1_17 = "v1_17"
    V1_18 = "v1_18"
    V1_19 = "v1_19"
    V1_20 = "v1_20"
    V2_0 = "v2_0"
    V2_1 = "v2_1"
    V2_2 = "v2_2"
    V2_3 = "v2_3"
    V2_4 = "v2_4"

    @property
    def major_minor(self) -> tuple[int, int] | None:
        """(major, minor) read from the value, so versions newer than this enum still compare."""
        match = re.fullmatch(r"v(\d+)_(\d+)", self.value)
        return (int(match[1]), int(match[2])) if match else None

    def is_at_least(self, other: FlinkVersion) -> bool:
        mine, theirs = self.major_minor, other.major_minor
        return mine is not None and theirs is not None and mine >= theirs


class KubernetesDeploymentMode(OpenStrEnum):
    """spec.mode; absent means native."""

    NATIVE = "native"
    STANDALONE = "standalone"


class JobState(OpenStrEnum):
    """The desired state of a job (spec.job.state)."""

    RUNNING = "running"
    SUSPENDED = "suspended"


class UpgradeMode(OpenStrEnum):
    SAVEPOINT = "savepoint"
    LAST_STATE = "last-state"
    STATELESS = "stateless"


class FlinkJobState(OpenStrEnum):
    """The state Flink reports for a job (status.jobStatus.state); RECONCILING = not known yet."""

    INITIALIZING = "INITIALIZING"
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"
    RESTARTING = "RESTARTING"
    SUSPENDED = "SUSPENDED"
    RECONCILING = "RECONCILING"


class ResourceLifecycleState(OpenStrEnum):
    CREATED = "CREATED"
    SUSPENDED = "SUSPENDED"
    UPGRADING = "UPGRADING"
    DEPLOYED = "DEPLOYED"
    STABLE = "STABLE"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"
    DELETING = "DELETING"
    DELETED = "DELETED"


class ReconciliationState(OpenStrEnum):
    DEPLOYED = "DEPLOYED"
    UPGRADING = "UPGRADING"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"


class JobManagerDeploymentStatus(OpenStrEnum):
    READY = "READY"
    DEPLOYED_NOT_READY = "DEPLOYED_NOT_READY"
    DEPLOYING = "DEPLOYING"
    MISSING = "MISSING"
    ERROR = "ERROR"


class SnapshotTriggerType(OpenStrEnum):
    MANUAL = "MANUAL"
    PERIODIC = "PERIODIC"
    UPGRADE = "UPGRADE"
    UNKNOWN = "UNKNOWN"


class SavepointFormatType(OpenStrEnum):
    CANONICAL = "CANONICAL"
    NATIVE = "NATIVE"
    UNKNOWN = "UNKNOWN"


class CheckpointType(OpenStrEnum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"
    UNKNOWN = "UNKNOWN"


class JobKind(OpenStrEnum):
    """The kind a FlinkStateSnapshot's jobReference points at."""

    FLINK_DEPLOYMENT = "FlinkDeployment"
    FLINK_SESSION_JOB = "FlinkSessionJob"


class SnapshotState(OpenStrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"
    TRIGGER_PENDING = "TRIGGER_PENDING"
    ABANDONED = "ABANDONED"


class BlueGreenState(OpenStrEnum):
    INITIALIZING_BLUE = "INITIALIZING_BLUE"
    ACTIVE_BLUE = "ACTIVE_BLUE"
    ACTIVE_GREEN = "ACTIVE_GREEN"
    TRANSITIONING_TO_BLUE = "TRANSITIONING_TO_BLUE"
    TRANSITIONING_TO_GREEN = "TRANSITIONING_TO_GREEN"
    SAVEPOINTING_BLUE = "SAVEPOINTING_BLUE"
    SAVEPOINTING_GREEN = "SAVEPOINTING_GREEN"
