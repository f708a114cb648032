"""The sandbox cluster's kubelet: node "sandbox", pods run as local processes (see docs/sandbox-cluster.md).

    network = PodNetwork(state_dir=...)                    # started, with its ServiceProxy
    kubelet = Kubelet(kube, network, ImageRegistry(root), KubeletConfig(state_dir=..., ca_file=ca_crt))
    await kubelet.start()   # registers Node "sandbox", serves containerLogs, binds and runs pods
    ...
    await kubelet.stop()    # kills every container, removes every pod sandbox

Modules: kubelet (pod sync), worker (one pod), runner (one container), containers (processes),
launch (the in-namespace launcher), containerspec, env, volumes, mountpoints, cgroups, probes, hooks,
status, logs/logfile, node, scheduler, objects, tokens, backoff, quantity, config, context.

Names are imported lazily: `python -m flinkop.sandbox.kubelet.launch` starts once per container and must
not pay for the kubelet's own imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flinkop.sandbox.kubelet.config import KubeletConfig
    from flinkop.sandbox.kubelet.kubelet import Kubelet

__all__ = ["Kubelet", "KubeletConfig"]


def __getattr__(name: str) -> Any:
    if name == "Kubelet":
        from flinkop.sandbox.kubelet.kubelet import Kubelet

        return Kubelet
    if name == "KubeletConfig":
        from flinkop.sandbox.kubelet.config import KubeletConfig

        return KubeletConfig
    raise AttributeError(name)
