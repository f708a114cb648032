"""The operator process: :class:`~flinkop.operator.app.Operator` wires informers, the FlinkDeployment
controller, events, status writes and Flink REST clients under one Manager; :mod:`.cli` is
``flinkop operator``."""

from flinkop.operator.app import FLINK_DEPLOYMENTS, Operator
from flinkop.operator.rest import RestClients
from flinkop.operator.retry import RetryBackoff, retry_rate_limiter

__all__ = ["FLINK_DEPLOYMENTS", "Operator", "RestClients", "RetryBackoff", "retry_rate_limiter"]
