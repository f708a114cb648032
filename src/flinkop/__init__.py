"""flinkop: a Kubernetes operator for Apache Flink."""

__version__ = "0.1.0"
