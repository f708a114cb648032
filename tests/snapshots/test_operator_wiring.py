"""The operator runs the FlinkStateSnapshot controller only in snapshot-resource mode: the option on and the
CRD installed (checked once at start). Against the sandbox API server; no Flink needed."""

from __future__ import annotations

from typing import Any

from flinkop.config import OperatorConfig
from flinkop.operator.app import Operator, snapshot_crd_installed
from flinkop.runtime import Kube, NotFound
from flinkop.snapshots.controller import FINALIZER
from flinkop.snapshots.resources import FLINK_STATE_SNAPSHOTS

from .conftest import NS, eventually, install_crds

JSON = dict[str, Any]


def operator_for(kube: Kube, **options: str) -> Operator:
    config = OperatorConfig.from_mapping({"kubernetes.operator.reconcile.interval": "1 s", **options})
    return Operator(kube, config, namespaces=[NS], in_cluster=False, poll_interval=0.1)


async def test_with_the_crd_the_operator_completes_snapshots(kube: Kube) -> None:
    await install_crds(kube)
    assert await snapshot_crd_installed(kube)
    op = operator_for(kube)
    await op.start()
    try:
        assert op.services.snapshot_crd_installed and op.snapshot_controller is not None
        assert op.snapshot_controller in op.manager.controllers
        body = {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkStateSnapshot",
            "metadata": {"name": "upgrade-sp", "namespace": NS},
            "spec": {
                "jobReference": {"kind": "FlinkDeployment", "name": "app"},
                "savepoint": {"path": "file:///sp/1", "alreadyExists": True, "disposeOnDelete": False},
            },
        }
        await kube.create(FLINK_STATE_SNAPSHOTS, body, NS)

        async def completed() -> JSON | None:
            obj = await kube.get(FLINK_STATE_SNAPSHOTS, "upgrade-sp", NS)
            return obj if (obj.get("status") or {}).get("state") == "COMPLETED" else None

        obj = await eventually(completed, 10, "COMPLETED")
        assert obj["metadata"]["finalizers"] == [FINALIZER]
        assert obj["metadata"]["labels"]["snapshot.state"] == "COMPLETED"

        await kube.delete(FLINK_STATE_SNAPSHOTS, "upgrade-sp", NS)

        async def deleted() -> bool:
            try:
                await kube.get(FLINK_STATE_SNAPSHOTS, "upgrade-sp", NS)
            except NotFound:
                return True
            return False

        await eventually(deleted, 10, "deleted")
    finally:
        await op.stop()


async def test_without_the_crd_there_is_no_snapshot_controller(kube: Kube) -> None:
    await install_crds(kube, skip=("flinkstatesnapshots",))
    assert not await snapshot_crd_installed(kube)
    op = operator_for(kube)
    await op.start()
    try:
        assert not op.services.snapshot_crd_installed
        assert op.snapshot_controller is None and op.snapshots is None
        assert [c.name for c in op.manager.controllers] == ["flinkdeployment"]
    finally:
        await op.stop()


async def test_snapshot_resources_switched_off(kube: Kube) -> None:
    await install_crds(kube)
    op = operator_for(kube, **{"kubernetes.operator.snapshot.resource.enabled": "false"})
    await op.start()
    try:
        assert op.services.snapshot_crd_installed  # the CRD is there, but the mode is off
        assert op.snapshot_controller is None
    finally:
        await op.stop()


async def test_no_api_group_at_all(kube: Kube) -> None:
    assert not await snapshot_crd_installed(kube)
