"""The sandbox cluster's pod network: a bridge, a network namespace per pod, a userspace service proxy
and cluster names through per-pod hosts files (see docs/sandbox-cluster.md, "Pod network").

Typical use (as root)::

    PodNetwork.check_available()                     # RuntimeError saying what is missing
    network = PodNetwork(state_dir=sandbox_dir / "network")
    await network.start()                            # bridge flinkop0 = 10.244.0.1/16 (the gateway)
    proxy = ServiceProxy(kube, network, api_server=(network.gateway, 6443))
    await proxy.start()                              # cluster IPs, service ports, hosts-file names
    sandbox = await network.add_pod(uid, namespace, hostname)
    argv = [*network.exec_prefix(sandbox, set_hostname=True), *command]   # runs inside the pod
    ...
    await network.remove_pod(uid)                    # after the pod's processes are gone
    await proxy.stop()
    await network.stop()                             # nothing left behind
"""

from flinkop.sandbox.network.commands import IpCommandError, check_available
from flinkop.sandbox.network.pods import PodNetwork, PodSandbox
from flinkop.sandbox.network.proxy import ServiceProxy

__all__ = ["IpCommandError", "PodNetwork", "PodSandbox", "ServiceProxy", "check_available"]
