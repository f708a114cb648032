"""A local Kubernetes API server that behaves like kube-apiserver over real HTTP."""

from flinkop.sandbox.apiserver.faults import FaultRule
from flinkop.sandbox.apiserver.server import SandboxApiServer

__all__ = ["FaultRule", "SandboxApiServer"]
