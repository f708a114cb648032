"""Reconciling FlinkDeployments (application and session clusters).

The driver of one reconcile is :class:`flinkop.reconcilers.deployment.FlinkDeploymentReconciler`
(import it from its module: it depends on :mod:`flinkop.observer`, which depends on the modules below).

* :mod:`.upgrade` decides (pure), :mod:`.actions` carries the decision out, :mod:`.deploy` creates and
  deletes the Kubernetes objects;
* :mod:`.specs` keeps ``status.reconciliationStatus`` (pure), :mod:`.lifecycle` and :mod:`.conditions`
  derive ``lifecycleState`` and the ``Running`` condition (pure), :mod:`.status` writes the status;
* :mod:`.diff` classifies spec changes, :mod:`.schedule` picks the next reconcile (pure);
* :mod:`.errors` gives ``status.error`` documents, :mod:`.config` the configurations of a spec,
  :mod:`.context` what a reconcile works with.
"""

from flinkop.reconcilers.diff import DiffType, SpecDiff, spec_changed_message, spec_diff
from flinkop.reconcilers.errors import (
    DeploymentFailedError,
    ReconcileError,
    StatusConflictError,
    UpgradeFailureError,
    ValidationError,
    error_document,
)
from flinkop.reconcilers.lifecycle import lifecycle_state
from flinkop.reconcilers.schedule import Intervals, reschedule_after
from flinkop.reconcilers.status import StatusRecorder
from flinkop.reconcilers.upgrade import Action, Decision, Situation, decide

__all__ = [
    "Action",
    "Decision",
    "DeploymentFailedError",
    "DiffType",
    "Intervals",
    "ReconcileError",
    "Situation",
    "SpecDiff",
    "StatusConflictError",
    "StatusRecorder",
    "UpgradeFailureError",
    "ValidationError",
    "decide",
    "error_document",
    "lifecycle_state",
    "reschedule_after",
    "spec_changed_message",
    "spec_diff",
]
