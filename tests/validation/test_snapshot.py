"""FlinkStateSnapshot validation."""

from __future__ import annotations

from flinkop.validation import validate_snapshot

from .builders import NAMESPACE, application, remove, savepoint, spec


def test_savepoint_of_an_existing_job_passes() -> None:
    assert validate_snapshot(savepoint(), application()) is None


def test_checkpoint_passes() -> None:
    checkpoint = savepoint(remove("spec", "savepoint"), spec(checkpoint={}))
    assert validate_snapshot(checkpoint, application()) is None


def test_savepoint_and_checkpoint_together() -> None:
    both = savepoint(spec(checkpoint={}))
    assert validate_snapshot(both, application()) == (
        "Exactly one of checkpoint or savepoint configurations has to be set."
    )


def test_neither_savepoint_nor_checkpoint() -> None:
    neither = savepoint(remove("spec", "savepoint"))
    assert validate_snapshot(neither, application()) == (
        "Exactly one of checkpoint or savepoint configurations has to be set."
    )


def test_job_reference_required() -> None:
    unreferenced = savepoint(remove("spec", "jobReference"))
    assert validate_snapshot(unreferenced, None) == "Job reference must be supplied for this snapshot"


def test_existing_savepoint_needs_nothing_else() -> None:
    existing = savepoint(
        remove("spec", "jobReference"), spec(savepoint={"alreadyExists": True, "path": "/sp"})
    )
    assert validate_snapshot(existing, None) is None


def test_target_must_exist_while_pending() -> None:
    orphan = savepoint(spec(jobReference={"kind": "FlinkDeployment", "name": "does-not-exist"}))
    assert validate_snapshot(orphan, None) == f"Target for snapshot {NAMESPACE}/does-not-exist was not found"


def test_target_may_be_gone_once_triggered() -> None:
    done = savepoint(lambda d: d.update(status={"state": "COMPLETED", "path": "/sp"}))
    assert validate_snapshot(done, None) is None
