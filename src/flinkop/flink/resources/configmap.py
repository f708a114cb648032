"""The ``flink-config-<name>`` ConfigMap: the Flink config file and the log configuration of a cluster.

Flink 2.x (``flinkVersion`` v2_0 and newer) reads ``config.yaml``, standard YAML, written nested as
Flink's own ``FlinkConfMountDecorator`` writes it; Flink 1.x reads ``flink-conf.yaml``, flat ``key: value``
lines. The log configuration is ``spec.logConfiguration`` when set (only ``log4j-console.properties`` and
``logback-console.xml`` are used), else the operator's defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from flinkop.api.deployment import FlinkDeployment
from flinkop.api.enums import FlinkVersion, KubernetesDeploymentMode
from flinkop.flink import conf as flink_conf
from flinkop.flink.resources import keys
from flinkop.flink.resources.naming import (
    CONFIG_FILE_LOG4J_NAME,
    CORE_API_VERSION,
    FLINK_CONF_VOLUME,
    LOG_CONFIG_FILE_NAMES,
    TASK_MANAGER_POD_TEMPLATE_FILE_NAME,
    common_labels,
    config_map_name,
    pod_template_config_map_name,
)
from flinkop.flink.resources.options import ResourceRenderError, decode_list, decode_map_list

# The console logging every Flink process gets unless spec.logConfiguration says otherwise: INFO to the
# console (kubectl logs) and to the rolling ${sys:log.file} the REST API serves, noisy libraries kept at INFO.
DEFAULT_LOG4J_CONSOLE: Final = """\
# Flink log configuration written by flinkop (spec.logConfiguration replaces it).
monitorInterval = 30

rootLogger.level = INFO
rootLogger.appenderRef.console.ref = ConsoleAppender
rootLogger.appenderRef.rolling.ref = RollingFileAppender

logger.pekko.name = org.apache.pekko
logger.pekko.level = INFO
logger.akka.name = akka
logger.akka.level = INFO
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = INFO
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = INFO
logger.shaded_zookeeper.name = org.apache.flink.shaded.zookeeper3
logger.shaded_zookeeper.level = INFO

appender.console.name = ConsoleAppender
appender.console.type = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n

appender.rolling.name = RollingFileAppender
appender.rolling.type = RollingFile
appender.rolling.append = false
appender.rolling.fileName = ${sys:log.file}
appender.rolling.filePattern = ${sys:log.file}.%i
appender.rolling.layout.type = PatternLayout
appender.rolling.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
appender.rolling.policies.type = Policies
appender.rolling.policies.size.type = SizeBasedTriggeringPolicy
appender.rolling.policies.size.size = 100MB
appender.rolling.strategy.type = DefaultRolloverStrategy
appender.rolling.strategy.max = 10

# Netty's channel pipeline warns about things that are not problems.
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
"""

DEFAULT_LOG_CONFIGURATION: Final[Mapping[str, str]] = {CONFIG_FILE_LOG4J_NAME: DEFAULT_LOG4J_CONSOLE}


def uses_standard_yaml(version: FlinkVersion) -> bool:
    """Flink 2.0 and newer get the standard-YAML ``config.yaml``."""
    return version.is_at_least(FlinkVersion.V2_0)


def config_file_name(version: FlinkVersion) -> str:
    return flink_conf.config_file_name(version)


def cluster_side_config(conf: Mapping[str, str]) -> dict[str, str]:
    """The configuration without the keys that only make sense where the client runs."""
    return {key: value for key, value in conf.items() if key not in keys.CLIENT_SIDE_KEYS}


# -- writing the config file --------------------------------------------------------------------------------

# Strings a YAML 1.2 (core schema) reader would not read back as strings; they are single-quoted.
_NON_STRING_SCALAR: Final = re.compile(
    r"""^(?:
        ~|null|Null|NULL|
        true|True|TRUE|false|False|FALSE|
        [-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|
        [-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|
        [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    )$""",
    re.VERBOSE,
)


class _ConfigDumper(yaml.SafeDumper):
    """Block-style YAML where every configuration string reads back as the same string."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if data == "" or _NON_STRING_SCALAR.match(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return dumper.represent_str(data)


_ConfigDumper.add_representer(str, _represent_str)


def _structured_value(key: str, value: str) -> Any:
    """List-typed values the renderer writes become YAML lists in config.yaml, as upstream writes them."""
    try:
        if key in keys.LIST_KEYS:
            return decode_list(value)
        if key in keys.MAP_LIST_KEYS:
            return decode_map_list(value)
    except ValueError:
        return value
    return value


def check_no_overlapping_keys(conf: Mapping[str, str]) -> None:
    """Flink 2.x's nested config.yaml cannot hold both ``a`` and ``a.b`` (upstream refuses to deploy)."""
    present = set(conf)
    for key in sorted(present):
        parts = key.split(".")
        for end in range(1, len(parts)):
            prefix = ".".join(parts[:end])
            if prefix in present:
                raise ResourceRenderError(
                    f"Overlapping key prefixes detected ({prefix} -> {key}), please replace with "
                    "Flink v2 compatible, non-deprecated keys."
                )


def render_config_file(conf: Mapping[str, str], version: FlinkVersion) -> str:
    """The text of ``config.yaml`` (nested standard YAML) or ``flink-conf.yaml`` (``key: value`` lines)."""
    side = cluster_side_config(conf)
    if not uses_standard_yaml(version):
        lines = (flink_conf.flink_conf_line(key, side[key]) for key in sorted(side))
        return "".join(f"{line}\n" for line in lines if line is not None)
    check_no_overlapping_keys(side)
    nested: dict[str, Any] = {}
    for key in sorted(side):
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _structured_value(key, side[key])
    return yaml.dump(
        nested,
        Dumper=_ConfigDumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=2**31 - 1,
    )


# -- log configuration --------------------------------------------------------------------------------------


def log_configuration_files(
    deployment: FlinkDeployment, default_log_configuration: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The log config files of the cluster, in the order Flink lists them (logback, then log4j)."""
    source: Mapping[str, str]
    if deployment.spec.log_configuration is not None:
        source = deployment.spec.log_configuration
    elif default_log_configuration is not None:
        source = default_log_configuration
    else:
        source = DEFAULT_LOG_CONFIGURATION
    return {name: source[name] for name in LOG_CONFIG_FILE_NAMES if source.get(name) is not None}


# -- objects ------------------------------------------------------------------------------------------------


def flink_config_map(
    deployment: FlinkDeployment,
    conf: Mapping[str, str],
    version: FlinkVersion,
    *,
    log_files: Mapping[str, str],
) -> dict[str, Any]:
    data = dict(log_files)
    data[config_file_name(version)] = render_config_file(conf, version)
    return {
        "apiVersion": CORE_API_VERSION,
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(deployment.name),
            "namespace": deployment.namespace,
            "labels": common_labels(deployment.name, deployment.deployment_mode),
        },
        "data": data,
    }


def flink_config_volume(
    cluster_id: str, version: FlinkVersion, log_files: Mapping[str, str]
) -> dict[str, Any]:
    """The ``flink-config-volume`` of the JobManager/TaskManager pods: log files, then the config file."""
    items = [{"key": name, "path": name} for name in log_files]
    items.append({"key": config_file_name(version), "path": config_file_name(version)})
    return {"name": FLINK_CONF_VOLUME, "configMap": {"name": config_map_name(cluster_id), "items": items}}


def pod_template_config_map(
    cluster_id: str, namespace: str, mode: KubernetesDeploymentMode, template: Mapping[str, Any]
) -> dict[str, Any]:
    """Native mode: ``pod-template-<name>`` with the TaskManager pod template the JobManager mounts."""
    text = yaml.safe_dump(dict(template), default_flow_style=False, sort_keys=False, explicit_start=True)
    return {
        "apiVersion": CORE_API_VERSION,
        "kind": "ConfigMap",
        "metadata": {
            "name": pod_template_config_map_name(cluster_id),
            "namespace": namespace,
            "labels": common_labels(cluster_id, mode),
        },
        "data": {TASK_MANAGER_POD_TEMPLATE_FILE_NAME: text},
    }
