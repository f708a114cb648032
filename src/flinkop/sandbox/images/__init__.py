"""Images of the sandbox cluster: image reference -> local root (Flink distributions, the host's python).

`install` (run by `make setup`) puts Flink distributions from PyPI, our entrypoint shim and the example jobs
under a root directory and records them in a manifest; `ImageRegistry(root).resolve(image)` turns an image
reference into what the kubelet needs to run a container of it, or raises `ImageNotFound`.
"""

from __future__ import annotations

from .errors import InstallError
from .install import DEFAULT_VERSIONS, install
from .manifest import FlinkDistribution, Manifest, load_manifest
from .registry import ENTRYPOINT, FLINK_HOME, Image, ImageNotFound, ImageRegistry

__all__ = [
    "DEFAULT_VERSIONS",
    "ENTRYPOINT",
    "FLINK_HOME",
    "FlinkDistribution",
    "Image",
    "ImageNotFound",
    "ImageRegistry",
    "InstallError",
    "Manifest",
    "install",
    "load_manifest",
]
