"""The resource registry: which kinds the server serves, and how each behaves.

Built-in kinds are declared here; custom resources are added and removed as their
CustomResourceDefinitions come and go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    # Paths (spec path, status path, label-selector path) of the /scale subresource.
    scale: tuple[str, str, str | None] | None = None
    # Built-in kinds accept strategic merge patch; custom resources answer 415.
    builtin: bool = True
    # Kinds whose writes bump metadata.generation.
    has_generation: bool = False
    # Whether a PUT without metadata.resourceVersion is allowed.
    unconditional_update: bool = True
    crd_name: str | None = None
    # Every version of the same resource shares one storage.
    storage_version: str = ""
    # A CRD version's additionalPrinterColumns, as JSON (kept hashable).
    printer_columns_json: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> str:
        """Versions of one resource share storage, keyed by group and plural."""
        return f"{self.group}/{self.plural}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def discovery_entries(self) -> list[JSON]:
        entries: list[JSON] = [
            {
                "name": self.plural,
                "singularName": self.singular,
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(ALL_VERBS),
                **({"shortNames": list(self.short_names)} if self.short_names else {}),
                **({"categories": list(self.categories)} if self.categories else {}),
                "storageVersionHash": "",
            }
        ]
        if self.has_status:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scale is not None:
            entries.append(
                {
                    "name": f"{self.plural}/scale",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    generation: bool = False,
    scale: tuple[str, str, str | None] | None = None,
    unconditional: bool = True,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        has_status=status,
        has_generation=generation,
        scale=scale,
        unconditional_update=unconditional,
        categories=categories,
    )


_REPLICAS_SCALE = ("spec.replicas", "status.replicas", "spec.selector")

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "services", "Service", short=("svc",), status=True, categories=("all",)),
    _builtin("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("", "v1", "pods", "Pod", short=("po",), status=True, categories=("all",)),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _builtin("", "v1", "nodes", "Node", namespaced=False, short=("no",), status=True),
    _builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        status=True,
        generation=True,
        scale=_REPLICAS_SCALE,
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        status=True,
        generation=True,
        scale=_REPLICAS_SCALE,
        categories=("all",),
    ),
    _builtin(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        status=True,
        generation=True,
        scale=_REPLICAS_SCALE,
        categories=("all",),
    ),
    _builtin("batch", "v1", "jobs", "Job", status=True, generation=True, categories=("all",)),
    _builtin("batch", "v1", "cronjobs", "CronJob", short=("cj",), status=True, generation=True),
    _builtin(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        status=True,
        generation=True,
    ),
    _builtin(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=("pdb",),
        status=True,
        generation=True,
    ),
    _builtin("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), status=True, generation=True),
    _builtin(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",), generation=True
    ),
    _builtin("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False, generation=True),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", unconditional=False),
    _builtin("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
        generation=True,
    ),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
        generation=True,
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        status=True,
        generation=True,
    ),
)


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version order: GA before beta before alpha, higher numbers first."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)  # non-conforming versions sort last
    major = int(match.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor)


@dataclass
class Registry:
    """Served resource types by (group, version, plural), plus lookups by kind."""

    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> Registry:
        registry = cls()
        for rtype in BUILTIN_TYPES:
            registry.add(rtype)
        return registry

    def add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [t for t in self._types.values() if t.crd_name == crd_name]
        for rtype in gone:
            del self._types[(rtype.group, rtype.version, rtype.plural)]
        return gone

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        for rtype in self._types.values():
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        return None

    def by_storage_key(self, key: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.storage_key == key]

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, best first."""
        found: dict[str, set[str]] = {}
        for rtype in self._types.values():
            found.setdefault(rtype.group, set()).add(rtype.version)
        return {g: sorted(vs, key=_version_priority) for g, vs in found.items()}

    def resources_in(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (t for t in self._types.values() if t.group == group and t.version == version),
            key=lambda t: t.plural,
        )


def types_from_crd(crd: JSON) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), "")
    out = []
    for ver in versions:
        subresources = ver.get("subresources") or {}
        scale = subresources.get("scale")
        scale_paths = None
        if isinstance(scale, dict):
            scale_paths = (
                str(scale.get("specReplicasPath", ".spec.replicas")).lstrip("."),
                str(scale.get("statusReplicasPath", ".status.replicas")).lstrip("."),
                str(scale["labelSelectorPath"]).lstrip(".") if scale.get("labelSelectorPath") else None,
            )
        out.append(
            ResourceType(
                group=group,
                version=ver["name"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                has_status="status" in subresources,
                scale=scale_paths,
                builtin=False,
                has_generation=True,
                unconditional_update=False,
                crd_name=crd["metadata"]["name"],
                storage_version=storage,
                printer_columns_json=json.dumps(ver.get("additionalPrinterColumns") or []),
            )
        )
    return out
