"""What changed between the last reconciled spec and the current one, and how much it matters
(upstream's ``ReflectiveDiffBuilder`` with the ``@SpecDiff`` annotations of the spec classes), pure.

Severity: ``IGNORE < SCALE < UPGRADE < SAVEPOINT_REDEPLOY``; the diff's type is the most severe of its
fields'. ``str(diff)`` is upstream's ``DiffResult.toString()``, used in the ``SpecChanged`` event:
``Diff: FlinkDeploymentSpec[job.parallelism : 2 -> 4, restartNonce : null -> 1]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from flinkop.api import FlinkDeploymentSpec, KubernetesDeploymentMode
from flinkop.config.values import flatten_flink_configuration


class DiffType(IntEnum):
    IGNORE = 0
    SCALE = 1
    UPGRADE = 2
    SAVEPOINT_REDEPLOY = 3


@dataclass(frozen=True)
class FieldRule:
    """How a field's change is classified: ``type``, or UPGRADE when ``modes`` is set and the deployment
    mode is not among them; ``on_null_ignore``: a change *to* null is not a change."""

    type: DiffType = DiffType.UPGRADE
    modes: tuple[KubernetesDeploymentMode, ...] = ()
    on_null_ignore: bool = False
    nested: Mapping[str, FieldRule] | None = None  # a Diffable object: its fields are compared one by one
    config: bool = False  # flinkConfiguration: compared key by key

    def type_for(self, mode: KubernetesDeploymentMode) -> DiffType:
        return self.type if not self.modes or mode in self.modes else DiffType.UPGRADE


_STANDALONE = (KubernetesDeploymentMode.STANDALONE,)
_UPGRADE = FieldRule()

JOB_SPEC_RULES: Mapping[str, FieldRule] = {
    "jarURI": _UPGRADE,
    "parallelism": FieldRule(DiffType.SCALE, _STANDALONE),
    "entryClass": _UPGRADE,
    "args": _UPGRADE,
    "state": _UPGRADE,
    "savepointTriggerNonce": FieldRule(DiffType.IGNORE),
    "initialSavepointPath": FieldRule(DiffType.IGNORE),
    "checkpointTriggerNonce": FieldRule(DiffType.IGNORE),
    "upgradeMode": FieldRule(DiffType.IGNORE),
    "allowNonRestoredState": FieldRule(DiffType.IGNORE),
    "savepointRedeployNonce": FieldRule(DiffType.SAVEPOINT_REDEPLOY, on_null_ignore=True),
    "autoscalerResetNonce": FieldRule(DiffType.IGNORE),
}
JOB_MANAGER_RULES: Mapping[str, FieldRule] = {
    "resource": _UPGRADE,
    "resources": _UPGRADE,
    "replicas": _UPGRADE,
    "podTemplate": _UPGRADE,
}
TASK_MANAGER_RULES: Mapping[str, FieldRule] = {
    "resource": _UPGRADE,
    "resources": _UPGRADE,
    "replicas": FieldRule(DiffType.SCALE, _STANDALONE),
    "podTemplate": _UPGRADE,
}
# Upstream's field order: FlinkDeploymentSpec's own fields, then AbstractFlinkSpec's.
DEPLOYMENT_SPEC_RULES: Mapping[str, FieldRule] = {
    "image": _UPGRADE,
    "imagePullPolicy": _UPGRADE,
    "serviceAccount": _UPGRADE,
    "flinkVersion": _UPGRADE,
    "ingress": _UPGRADE,
    "podTemplate": _UPGRADE,
    "jobManager": FieldRule(nested=JOB_MANAGER_RULES),
    "taskManager": FieldRule(nested=TASK_MANAGER_RULES),
    "logConfiguration": _UPGRADE,
    "mode": _UPGRADE,
    "job": FieldRule(nested=JOB_SPEC_RULES),
    "restartNonce": FieldRule(on_null_ignore=True),
    "flinkConfiguration": FieldRule(config=True),
}

# flinkConfiguration keys by prefix, first match wins; other keys are UPGRADE.
CONFIG_KEY_RULES: tuple[tuple[str, FieldRule], ...] = (
    ("parallelism.default", FieldRule(DiffType.IGNORE)),
    ("kubernetes.operator", FieldRule(DiffType.IGNORE)),
    (
        "pipeline.jobvertex-parallelism-overrides",
        FieldRule(DiffType.SCALE, (KubernetesDeploymentMode.NATIVE,)),
    ),
    ("job.autoscaler", FieldRule(DiffType.IGNORE)),
)


@dataclass(frozen=True)
class Diff:
    field: str
    before: Any
    after: Any
    type: DiffType


@dataclass(frozen=True)
class SpecDiff:
    diffs: tuple[Diff, ...]
    class_name: str = "FlinkDeploymentSpec"

    @property
    def type(self) -> DiffType:
        return max((diff.type for diff in self.diffs), default=DiffType.IGNORE)

    def __str__(self) -> str:
        if not self.diffs:
            return ""
        parts = [", ".join(_rows(diff)) for diff in self.diffs]
        return f"Diff: {self.class_name}[{', '.join(parts)}]"


def config_key_type(key: str, mode: KubernetesDeploymentMode) -> DiffType:
    for prefix, rule in CONFIG_KEY_RULES:
        if rule.modes and mode not in rule.modes:
            continue
        if key.startswith(prefix):
            return rule.type
    return DiffType.UPGRADE


def _compare(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    rules: Mapping[str, FieldRule],
    mode: Any,
    prefix: str,
) -> list[Diff]:
    diffs: list[Diff] = []
    for name, rule in rules.items():
        left, right = before.get(name), after.get(name)
        field = prefix + name
        if rule.config:
            left_map = flatten_flink_configuration(left) if isinstance(left, Mapping) else {}
            right_map = flatten_flink_configuration(right) if isinstance(right, Mapping) else {}
            for key in sorted(set(left_map) | set(right_map)):
                if left_map.get(key) != right_map.get(key):
                    diffs.append(
                        Diff(
                            f"{field}.{key}",
                            left_map.get(key),
                            right_map.get(key),
                            config_key_type(key, mode),
                        )
                    )
        elif rule.nested is not None and isinstance(left, Mapping) and isinstance(right, Mapping):
            diffs.extend(_compare(left, right, rule.nested, mode, field + "."))
        elif left != right and not (rule.on_null_ignore and right is None):
            diffs.append(Diff(field, left, right, rule.type_for(mode)))
    return diffs


def spec_diff(before: FlinkDeploymentSpec, after: FlinkDeploymentSpec) -> SpecDiff:
    """The changes from ``before`` (last reconciled) to ``after`` (desired), classified for ``after``'s
    deployment mode."""
    mode = after.mode or KubernetesDeploymentMode.NATIVE
    left = before.model_dump(mode="json", by_alias=True)
    right = after.model_dump(mode="json", by_alias=True)
    return SpecDiff(tuple(_compare(left, right, DEPLOYMENT_SPEC_RULES, mode, "")))


# -- rendering (DiffResult.toString with zjsonpatch rows) ------------------------------------------------


def _json_rows(before: Any, after: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, before, after) of each leaf that differs; objects are compared key by key, lists of equal
    length element by element, everything else as a whole (_MISSING marks an absent side)."""
    if isinstance(before, dict) and isinstance(after, dict):
        rows: list[tuple[str, Any, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            left, right = before.get(key, _MISSING), after.get(key, _MISSING)
            if left != right:
                rows.extend(_json_rows(left, right, f"{path}.{key}"))
        return rows
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        rows = []
        for index, (left, right) in enumerate(zip(before, after, strict=True)):
            if left != right:
                rows.extend(_json_rows(left, right, f"{path}.{index}"))
        return rows
    return [(path, before, after)]


class _Missing:
    pass


_MISSING = _Missing()


def _text(value: Any) -> str:
    """Jackson's ``asText()``, or the JSON when that is empty (objects, arrays); ``null`` when absent."""
    if value is None or isinstance(value, _Missing):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = str(value)
    return text if text else json.dumps(value)


def _rows(diff: Diff) -> list[str]:
    out = []
    for path, left, right in _json_rows(diff.before, diff.after, ""):
        if (right is None or isinstance(right, _Missing)) and isinstance(left, dict | list):
            shown_left = "{..}"
        else:
            shown_left = _text(left)
        out.append(f"{diff.field}{path} : {shown_left} -> {_text(right)}")
    return out


def spec_changed_message(diff: SpecDiff) -> str:
    """The ``SpecChanged`` event message."""
    return f"{diff.type.name} change(s) detected ({diff}), starting reconciliation."


__all__ = [
    "CONFIG_KEY_RULES",
    "DEPLOYMENT_SPEC_RULES",
    "Diff",
    "DiffType",
    "FieldRule",
    "SpecDiff",
    "config_key_type",
    "spec_changed_message",
    "spec_diff",
]
