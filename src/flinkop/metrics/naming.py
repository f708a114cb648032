"""How a metric is named by each kind of reporter (Flink's scope formats and logical scopes).

* Labelling reporters (Prometheus): ``flink_<logical scope>_<group keys>_<name>``, every character outside
  ``[a-zA-Z0-9_:]`` replaced by ``_``, the scope variables as labels: ``host``, ``name``,
  ``namespace`` always,
  ``resourcens`` and ``resourcetype`` in the namespace and resource scopes, ``resourcename`` in the resource
  scope, plus one label per key/value group. Logical scopes: ``k8soperator``, ``k8soperator_namespace``,
  ``k8soperator_namespace_resource``.
* Identifier reporters (slf4j): the scope format (``kubernetes.operator.metrics.scope.k8soperator.*``) with
  its ``<variables>`` filled in, then the groups and the name, dot separated.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

from flinkop.metrics.model import MetricId, ScopeKind

DEFAULT_SYSTEM_SCOPE = "<host>.k8soperator.<namespace>.<name>.system"
DEFAULT_NAMESPACE_SCOPE = "<host>.k8soperator.<namespace>.<name>.namespace.<resourcens>.<resourcetype>"
DEFAULT_RESOURCE_SCOPE = (
    "<host>.k8soperator.<namespace>.<name>.resource.<resourcens>.<resourcename>.<resourcetype>"
)
DEFAULT_OPERATOR_NAME = "flink-kubernetes-operator"

_LOGICAL_SCOPE = {
    ScopeKind.SYSTEM: ("k8soperator",),
    ScopeKind.NAMESPACE: ("k8soperator", "namespace"),
    ScopeKind.RESOURCE: ("k8soperator", "namespace", "resource"),
}
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_VARIABLE = re.compile(r"<([a-z]+)>")


def prometheus_name(text: str) -> str:
    return _INVALID.sub("_", text)


@dataclass(frozen=True)
class Naming:
    """The operator's scope variables and formats."""

    host: str
    namespace: str = "default"
    name: str = DEFAULT_OPERATOR_NAME
    system_scope: str = DEFAULT_SYSTEM_SCOPE
    namespace_scope: str = DEFAULT_NAMESPACE_SCOPE
    resource_scope: str = DEFAULT_RESOURCE_SCOPE

    @classmethod
    def from_environment(
        cls,
        system_scope: str = DEFAULT_SYSTEM_SCOPE,
        namespace_scope: str = DEFAULT_NAMESPACE_SCOPE,
        resource_scope: str = DEFAULT_RESOURCE_SCOPE,
    ) -> Naming:
        """Variables as upstream reads them: ``HOSTNAME``, ``OPERATOR_NAMESPACE``, ``OPERATOR_NAME``."""
        return cls(
            host=os.environ.get("HOSTNAME") or socket.gethostname(),
            namespace=os.environ.get("OPERATOR_NAMESPACE") or "default",
            name=os.environ.get("OPERATOR_NAME") or DEFAULT_OPERATOR_NAME,
            system_scope=system_scope,
            namespace_scope=namespace_scope,
            resource_scope=resource_scope,
        )

    def variables(self, metric: MetricId) -> dict[str, str]:
        scope = metric.scope
        out = {"host": self.host, "namespace": self.namespace, "name": self.name}
        if scope.kind is not ScopeKind.SYSTEM:
            out["resourcens"] = scope.resource_namespace
            out["resourcetype"] = scope.resource_type
        if scope.kind is ScopeKind.RESOURCE:
            out["resourcename"] = scope.resource_name
        return out

    # -- labelling reporters -----------------------------------------------------------------------------
    def prometheus(self, metric: MetricId) -> tuple[str, dict[str, str]]:
        """The Prometheus metric name and labels."""
        parts = [*_LOGICAL_SCOPE[metric.scope.kind]]
        labels = self.variables(metric)
        for group in metric.groups:
            if isinstance(group, tuple):
                parts.append(group[0])
                labels[prometheus_name(group[0])] = group[1]
            else:
                parts.append(group)
        parts.append(metric.name)
        return prometheus_name("flink_" + "_".join(parts)), labels

    # -- identifier reporters ----------------------------------------------------------------------------
    def identifier(self, metric: MetricId) -> str:
        """The dotted name, e.g. ``host.k8soperator.default.flink-kubernetes-operator.system.X.Y``."""
        template = {
            ScopeKind.SYSTEM: self.system_scope,
            ScopeKind.NAMESPACE: self.namespace_scope,
            ScopeKind.RESOURCE: self.resource_scope,
        }[metric.scope.kind]
        variables = self.variables(metric)
        scope = _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), template)
        parts = [scope]
        for group in metric.groups:
            parts.extend(group if isinstance(group, tuple) else (group,))
        parts.append(metric.name)
        return ".".join(parts)
