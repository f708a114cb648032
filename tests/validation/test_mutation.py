"""The webhook's mutations."""

from __future__ import annotations

from flinkop.validation import TARGET_SESSION_LABEL, mutate_deployment, mutate_session_job, mutate_snapshot

from .builders import application, labels, remove, savepoint, session_job


def test_session_job_gets_its_session_label() -> None:
    job = session_job(labels(team="a"))
    mutated = mutate_session_job(job)
    assert mutated.metadata.labels == {"team": "a", TARGET_SESSION_LABEL: "test-cluster"}
    assert job.metadata.labels == {"team": "a"}, "the input is not changed"
    assert (
        mutated.model_dump(mode="json", exclude_unset=True)["metadata"]["labels"] == mutated.metadata.labels
    )


def test_session_job_label_is_corrected() -> None:
    mutated = mutate_session_job(session_job(labels(**{TARGET_SESSION_LABEL: "old-cluster"})))
    assert mutated.metadata.labels == {TARGET_SESSION_LABEL: "test-cluster"}


def test_session_job_already_labelled_is_returned_as_is() -> None:
    job = session_job(labels(**{TARGET_SESSION_LABEL: "test-cluster"}))
    assert mutate_session_job(job) is job


def test_session_job_without_deployment_name_is_left_alone() -> None:
    job = session_job(remove("spec", "deploymentName"))
    assert mutate_session_job(job) is job


def test_deployments_and_snapshots_are_not_mutated() -> None:
    deployment, snapshot = application(), savepoint()
    assert mutate_deployment(deployment) is deployment
    assert mutate_snapshot(snapshot) is snapshot
