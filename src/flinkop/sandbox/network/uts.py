"""Give a pod process its own hostname: a new UTS namespace with the pod's hostname set.

`ip netns exec` changes the network and mount namespaces only, so `gethostname()` inside a pod
would return the machine's name, which the pod's hosts file does not list (the JVM's
`InetAddress.getLocalHost()` then fails). Run `python -m flinkop.sandbox.network.uts HOSTNAME CMD...`
after `ip netns exec` (see `PodNetwork.exec_prefix(sandbox, set_hostname=True)`), or call
`enter_uts_namespace()` from a launcher already running inside the pod.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import sys

CLONE_NEWUTS = 0x04000000


def enter_uts_namespace(hostname: str) -> None:
    """unshare(CLONE_NEWUTS) for this process and set the hostname there (needs CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.unshare(CLONE_NEWUTS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUTS) failed: {os.strerror(err)}")
    socket.sethostname(hostname)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m flinkop.sandbox.network.uts HOSTNAME [--] COMMAND [ARG...]", file=sys.stderr)
        return 2
    hostname, command = argv[0], argv[1:]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("uts: no command given", file=sys.stderr)
        return 2
    enter_uts_namespace(hostname)
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
