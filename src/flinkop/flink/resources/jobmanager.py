"""The JobManager pod both deployment modes start from: image, service account, labels,
resources, ports, env and secrets. Each mode then sets its own command and mounts."""

from __future__ import annotations

from flinkop.flink.resources import keys
from flinkop.flink.resources.context import RenderContext
from flinkop.flink.resources.memory import container_resources, jobmanager_cpu, process_memory_mb
from flinkop.flink.resources.pods import (
    FlinkPod,
    env_secrets,
    init_main_container,
    init_pod,
    jobmanager_env,
    jobmanager_image,
    jobmanager_ports,
    jobmanager_service_account,
    mount_secrets,
)


def jobmanager_pod(ctx: RenderContext, labels: dict[str, str]) -> FlinkPod:
    conf = ctx.conf
    flink_pod = FlinkPod.from_template(ctx.jobmanager_template)
    image, pull_policy = jobmanager_image(flink_pod, conf, ctx.version)
    init_pod(
        flink_pod,
        conf,
        service_account=jobmanager_service_account(flink_pod, conf),
        labels=labels,
        annotations=conf.get_map(keys.JOB_MANAGER_ANNOTATIONS),
        node_selector_key=keys.JOB_MANAGER_NODE_SELECTOR,
        tolerations_key=keys.JOB_MANAGER_TOLERATIONS,
        network=True,
    )
    resources = container_resources(
        flink_pod.main.get("resources"),
        memory_mb=process_memory_mb(conf, jobmanager=True),
        memory_limit_factor=conf.get_float(keys.JOB_MANAGER_MEMORY_LIMIT_FACTOR, 1.0),
        cpu=jobmanager_cpu(conf),
        cpu_limit_factor=conf.get_float(keys.JOB_MANAGER_CPU_LIMIT_FACTOR, 1.0),
    )
    init_main_container(
        flink_pod,
        image=image,
        image_pull_policy=pull_policy,
        resources=resources,
        ports=jobmanager_ports(conf),
        env=jobmanager_env(conf),
    )
    env_secrets(flink_pod, conf)
    mount_secrets(flink_pod, conf)
    return flink_pod
