"""Memory and CPU: parsing sizes, the Flink options derived from ``jobManager``/``taskManager`` resources,
and the container requests/limits Flink computes from them.

Memory strings are read as the upstream operator reads them (``FlinkConfigBuilder`` /
``ResourceConfigUtils.parseResourceMemoryString``): first as a Flink ``MemorySize`` (binary units, case
insensitive: ``2048m`` = 2048 MiB, ``2g`` = ``2 gb`` = 2 GiB), and only when that fails as a Kubernetes
quantity after normalisation (whitespace removed, upper-cased, a trailing ``B`` dropped, a trailing ``I``
made ``i``: ``2Gi``, ``1.5GiB``, ``500M``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from flinkop.api.common import JobManagerSpec, Resource, ResourceRequirements, TaskManagerSpec
from flinkop.api.enums import FlinkVersion
from flinkop.config.units import QUANTITY_MULTIPLIERS
from flinkop.flink.resources import keys
from flinkop.flink.resources.options import FlinkConf, ResourceRenderError

MIB: Final = 1 << 20
CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"

# Flink MemorySize units, in order; the second name is the one MemorySize.toString() prints.
_FLINK_UNITS: Final[tuple[tuple[tuple[str, ...], int], ...]] = (
    (("b", "bytes"), 1),
    (("k", "kb", "kibibytes"), 1 << 10),
    (("m", "mb", "mebibytes"), 1 << 20),
    (("g", "gb", "gibibytes"), 1 << 30),
    (("t", "tb", "tebibytes"), 1 << 40),
)
_MAX_LONG: Final = (1 << 63) - 1

_BINARY_SUFFIXES: Final = {k: int(v) for k, v in QUANTITY_MULTIPLIERS.items() if k.endswith("i")}
_DECIMAL_SUFFIXES: Final = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY_RE: Final = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(.*)$")
_EXPONENT_RE: Final = re.compile(r"^[eE]([+-]?\d+)$")

# Flink's memory defaults, used to derive the total process size when only parts are configured.
_JM_OFF_HEAP_DEFAULT: Final = 128 * MIB
_METASPACE_DEFAULT: Final = 256 * MIB
_OVERHEAD_MIN_DEFAULT: Final = 192 * MIB
_OVERHEAD_MAX_DEFAULT: Final = 1024 * MIB
_OVERHEAD_FRACTION_DEFAULT: Final = 0.1


# -- sizes -------------------------------------------------------------------------------------------------


def parse_flink_memory_size(text: str) -> int:
    """Bytes of a Flink ``MemorySize`` string (``1024``, ``2048m``, ``2 gb``, ``1g``); ValueError if bad."""
    trimmed = text.strip()
    if not trimmed:
        raise ValueError("argument is an empty- or whitespace-only string")
    digits = 0
    while digits < len(trimmed) and "0" <= trimmed[digits] <= "9":
        digits += 1
    number, unit = trimmed[:digits], trimmed[digits:].strip().lower()
    if not number:
        raise ValueError("text does not start with a number")
    value = int(number)
    if value > _MAX_LONG:
        raise ValueError(f"The value '{number}' cannot be re represented as 64bit number (numeric overflow).")
    multiplier = 1
    if unit:
        for names, unit_multiplier in _FLINK_UNITS:
            if unit in names:
                multiplier = unit_multiplier
                break
        else:
            known = " | ".join(" | ".join(names) for names, _ in _FLINK_UNITS)
            raise ValueError(
                f"Memory size unit '{unit}' does not match any of the recognized units: ({known})"
            )
    if value * multiplier > _MAX_LONG:
        raise ValueError(
            f"The value '{text}' cannot be re represented as 64bit number of bytes (numeric overflow)."
        )
    return value * multiplier


def parse_quantity(value: str | int | float) -> Decimal:
    """The value of a Kubernetes quantity (``2Gi``, ``500m``, ``1.5``, ``1e3``); ValueError if invalid."""
    text = str(value).strip()
    match = _QUANTITY_RE.match(text)
    if not match:
        raise ValueError(f"Invalid quantity: {text!r}")
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex only admits decimals
        raise ValueError(f"Invalid quantity: {text!r}") from None
    if suffix in _BINARY_SUFFIXES:
        return amount * _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return amount * _DECIMAL_SUFFIXES[suffix]
    exponent = _EXPONENT_RE.match(suffix)
    if exponent:
        return amount.scaleb(int(exponent.group(1)))
    raise ValueError(f"Invalid quantity: {text!r}")


def _normalize_for_quantity(text: str) -> str:
    quantity = re.sub(r"\s", "", text.strip()).upper()
    if quantity.endswith("B"):
        quantity = quantity[:-1]
    if quantity.endswith("I"):
        quantity = quantity[:-1] + "i"
    return quantity


def parse_memory_size(text: str | int | float) -> int:
    """Bytes of a memory string as the operator reads ``resource.memory`` / ``resources.*.memory``:
    Flink MemorySize first (``2048m``, ``2g``, ``2 gb``), else a Kubernetes quantity (``2Gi``, ``1.5GiB``).
    Fractional bytes are dropped. Raises ValueError when neither form parses."""
    raw = text if isinstance(text, str) else str(text)
    try:
        return parse_flink_memory_size(raw)
    except ValueError:
        pass
    try:
        amount = parse_quantity(_normalize_for_quantity(raw))
    except ValueError:
        raise ValueError(f"Invalid memory size: {raw!r}") from None
    if amount < 0:
        raise ValueError(f"Invalid memory size: {raw!r} is negative")
    return int(amount)


def format_memory_size(num_bytes: int) -> str:
    """``MemorySize.toString()``: the largest unit that divides the size exactly (``2 gb``, ``1536 mb``)."""
    chosen_name, chosen_multiplier = _FLINK_UNITS[0][0][1], 1
    for names, multiplier in _FLINK_UNITS:
        if num_bytes % multiplier != 0:
            break
        chosen_name, chosen_multiplier = names[1], multiplier
    if num_bytes == 0:
        chosen_name, chosen_multiplier = "bytes", 1
    return f"{num_bytes // chosen_multiplier} {chosen_name}"


def resource_memory_string(text: str | int | float) -> str:
    """The value the operator writes for ``*.memory.process.size``: ``MemorySize.toString()`` when the text
    is a Flink size, else the byte count of the Kubernetes quantity."""
    raw = str(text)
    try:
        return format_memory_size(parse_flink_memory_size(raw))
    except ValueError:
        return str(parse_memory_size(raw))


def java_double(value: float) -> str:
    """``String.valueOf(double)``: ``1.0``, ``0.5``, ``1.0E7``, ``1.0E-4``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    magnitude = abs(value)
    if magnitude == 0 or 1e-3 <= magnitude < 1e7:
        text = repr(float(value))
        return text if "." in text else text + ".0"
    shortest = Decimal(repr(float(value))).normalize()
    sign, digits, _ = shortest.as_tuple()
    numerals = "".join(str(digit) for digit in digits)
    return f"{'-' if sign else ''}{numerals[0]}.{numerals[1:] or '0'}E{shortest.adjusted()}"


# -- resources -> Flink config ------------------------------------------------------------------------------


def _has_requirements(resources: ResourceRequirements | None) -> bool:
    return resources is not None and bool(resources.requests or resources.limits)


def _request_or_limit(resources: ResourceRequirements, key: str) -> Any:
    if resources.requests and resources.requests.get(key) is not None:
        return resources.requests[key]
    if resources.limits and resources.limits.get(key) is not None:
        return resources.limits[key]
    return None


def _memory_limit_factor(resources: ResourceRequirements) -> float | None:
    request = (resources.requests or {}).get(MEMORY)
    limit = (resources.limits or {}).get(MEMORY)
    if request is None or limit is None:
        return None
    request_bytes = parse_memory_size(request)
    return None if request_bytes <= 0 else parse_memory_size(limit) / request_bytes


def _cpu_limit_factor(resources: ResourceRequirements) -> float | None:
    request = (resources.requests or {}).get(CPU)
    limit = (resources.limits or {}).get(CPU)
    if request is None or limit is None:
        return None
    request_cores = parse_quantity(request)
    return None if request_cores <= 0 else float(parse_quantity(limit) / request_cores)


def resource_config(
    spec: JobManagerSpec | TaskManagerSpec | None, *, jobmanager: bool, flink_version: FlinkVersion
) -> dict[str, str]:
    """The Flink keys the operator sets from ``jobManager``/``taskManager`` ``resources`` (preferred when it
    has requests or limits) or the deprecated ``resource``: process memory, CPU, limit factors."""
    if spec is None:
        return {}
    memory_key = keys.JOB_MANAGER_PROCESS_MEMORY if jobmanager else keys.TASK_MANAGER_PROCESS_MEMORY
    cpu_keys = _cpu_keys(jobmanager=jobmanager, flink_version=flink_version)
    result: dict[str, str] = {}
    try:
        if _has_requirements(spec.resources):
            assert spec.resources is not None
            memory = _request_or_limit(spec.resources, MEMORY)
            cpu = _request_or_limit(spec.resources, CPU)
            if memory is not None:
                result[memory_key] = resource_memory_string(memory)
            if cpu is not None:
                for key in cpu_keys:
                    result[key] = java_double(float(parse_quantity(cpu)))
            memory_factor = _memory_limit_factor(spec.resources)
            cpu_factor = _cpu_limit_factor(spec.resources)
            if memory_factor is not None:
                factor_key = (
                    keys.JOB_MANAGER_MEMORY_LIMIT_FACTOR
                    if jobmanager
                    else keys.TASK_MANAGER_MEMORY_LIMIT_FACTOR
                )
                result[factor_key] = java_double(memory_factor)
            if cpu_factor is not None:
                factor_key = (
                    keys.JOB_MANAGER_CPU_LIMIT_FACTOR if jobmanager else keys.TASK_MANAGER_CPU_LIMIT_FACTOR
                )
                result[factor_key] = java_double(cpu_factor)
        elif spec.resource is not None:
            if spec.resource.memory is not None:
                result[memory_key] = resource_memory_string(spec.resource.memory)
            if spec.resource.cpu is not None:
                for key in cpu_keys:
                    result[key] = java_double(float(spec.resource.cpu))
    except ValueError as error:
        component = "jobManager" if jobmanager else "taskManager"
        raise ResourceRenderError(f"Invalid {component} resources: {error}") from None
    return result


def _cpu_keys(*, jobmanager: bool, flink_version: FlinkVersion) -> tuple[str, ...]:
    if flink_version.is_at_least(FlinkVersion.V1_17):
        return (keys.JOB_MANAGER_CPU if jobmanager else keys.TASK_MANAGER_CPU,)
    # Older Flink versions only read the legacy keys; they are written as well.
    if jobmanager:
        return (keys.JOB_MANAGER_CPU, keys.JOB_MANAGER_CPU_LEGACY)
    return (keys.TASK_MANAGER_CPU, keys.TASK_MANAGER_CPU_LEGACY)


def extra_container_resources(spec: JobManagerSpec | TaskManagerSpec | None) -> dict[str, dict[str, Any]]:
    """Requests/limits other than cpu and memory (ephemeral storage, GPUs...) that the operator puts on the
    main container of the component's pod template."""
    if spec is None:
        return {}
    if _has_requirements(spec.resources):
        assert spec.resources is not None
        extra: dict[str, dict[str, Any]] = {}
        for section, values in (("requests", spec.resources.requests), ("limits", spec.resources.limits)):
            kept = {k: v for k, v in (values or {}).items() if k not in (CPU, MEMORY)}
            if kept:
                extra[section] = kept
        return extra
    resource: Resource | None = spec.resource
    if resource is not None and resource.ephemeral_storage and resource.ephemeral_storage.strip():
        storage = resource.ephemeral_storage
        return {"limits": {EPHEMERAL_STORAGE: storage}, "requests": {EPHEMERAL_STORAGE: storage}}
    return {}


# -- Flink config -> container resources --------------------------------------------------------------------


def _size(conf: FlinkConf, key: str, default: int | None = None, *fallbacks: str) -> int | None:
    text = conf.get(key, *fallbacks)
    if text is None:
        return default
    try:
        return parse_flink_memory_size(text)
    except ValueError as error:
        raise ResourceRenderError(f"Could not parse value '{text}' for key '{key}': {error}") from None


def _process_from_flink_memory(conf: FlinkConf, prefix: str, flink_memory: int) -> int:
    metaspace = _size(conf, f"{prefix}.memory.jvm-metaspace.size", _METASPACE_DEFAULT)
    overhead_min = _size(conf, f"{prefix}.memory.jvm-overhead.min", _OVERHEAD_MIN_DEFAULT)
    overhead_max = _size(conf, f"{prefix}.memory.jvm-overhead.max", _OVERHEAD_MAX_DEFAULT)
    fraction = conf.get_float(f"{prefix}.memory.jvm-overhead.fraction", _OVERHEAD_FRACTION_DEFAULT)
    assert metaspace is not None and overhead_min is not None and overhead_max is not None
    base = flink_memory + metaspace
    overhead = int(base * fraction / (1 - fraction)) if fraction < 1 else overhead_max
    overhead = max(overhead_min, min(overhead_max, overhead))
    return base + overhead


def process_memory_bytes(conf: FlinkConf, *, jobmanager: bool) -> int:
    """The total process memory Flink derives for the JobManager / TaskManager (what it requests from
    Kubernetes): ``*.memory.process.size``, else derived from ``*.memory.flink.size`` (JobManager also from
    ``jobmanager.memory.heap.size`` or the legacy heap keys)."""
    prefix = "jobmanager" if jobmanager else "taskmanager"
    process = _size(conf, f"{prefix}.memory.process.size")
    if process is not None:
        return process
    flink_memory = _size(conf, f"{prefix}.memory.flink.size")
    if flink_memory is not None:
        return _process_from_flink_memory(conf, prefix, flink_memory)
    if jobmanager:
        heap = _size(conf, "jobmanager.memory.heap.size")
        if heap is not None:
            off_heap = _size(conf, "jobmanager.memory.off-heap.size", _JM_OFF_HEAP_DEFAULT)
            assert off_heap is not None
            return _process_from_flink_memory(conf, prefix, heap + off_heap)
        legacy = _size(conf, "jobmanager.heap.size")
        if legacy is not None:
            return legacy
        legacy_mb = conf.get("jobmanager.heap.mb")
        if legacy_mb is not None:
            return conf.get_int("jobmanager.heap.mb", 0) * MIB
    component = "JobManager" if jobmanager else "TaskManager"
    raise ResourceRenderError(
        f"{component} memory is not configured: set spec.{prefix.replace('manager', 'Manager')}.resource(s) "
        f"memory or {prefix}.memory.process.size / {prefix}.memory.flink.size"
    )


def process_memory_mb(conf: FlinkConf, *, jobmanager: bool) -> int:
    return process_memory_bytes(conf, jobmanager=jobmanager) >> 20


def jobmanager_cpu(conf: FlinkConf) -> float:
    return conf.get_float(keys.JOB_MANAGER_CPU, 1.0, keys.JOB_MANAGER_CPU_LEGACY)


def taskmanager_cpu(conf: FlinkConf) -> float:
    """``kubernetes.taskmanager.cpu.amount``; when unset (Flink's -1) the number of task slots, as Flink's
    TaskExecutorProcessUtils falls back to."""
    cpu = conf.get_float(keys.TASK_MANAGER_CPU, -1.0, keys.TASK_MANAGER_CPU_LEGACY)
    return cpu if cpu > 0 else float(conf.get_int(keys.NUM_TASK_SLOTS, 1))


def container_resources(
    template_resources: dict[str, Any] | None,
    *,
    memory_mb: int,
    memory_limit_factor: float,
    cpu: float,
    cpu_limit_factor: float,
) -> dict[str, Any]:
    """``KubernetesUtils.getResourceRequirements``: the pod template's requirements with memory
    (``<MiB>Mi``) and cpu (``String.valueOf(double)``) requests and limits set by Flink."""
    result = {
        key: value for key, value in (template_resources or {}).items() if key not in ("requests", "limits")
    }
    requests = dict((template_resources or {}).get("requests") or {})
    limits = dict((template_resources or {}).get("limits") or {})
    requests[MEMORY] = f"{memory_mb}Mi"
    requests[CPU] = java_double(cpu)
    limits[MEMORY] = f"{int(memory_mb * memory_limit_factor)}Mi"
    limits[CPU] = java_double(cpu * cpu_limit_factor)
    return {**result, "requests": requests, "limits": limits}
