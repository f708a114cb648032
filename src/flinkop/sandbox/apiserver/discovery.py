"""Discovery and OpenAPI documents, built from the registry on every request (it changes with CRDs)."""

from __future__ import annotations

import hashlib
from typing import Any

from flinkop.sandbox.apiserver.resources import Registry

JSON = dict[str, Any]

SERVER_VERSION: JSON = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-flinkop-sandbox",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2026-11-25T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions(server_address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_doc(name: str, versions: list[str]) -> JSON:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(registry: Registry) -> JSON:
    groups = [_group_doc(name, versions) for name, versions in sorted(registry.groups().items()) if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> JSON | None:
    versions = registry.groups().get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, versions)}


def resource_list(registry: Registry, group_name: str, version: str) -> JSON | None:
    types = registry.resources_in(group_name, version)
    if not types:
        return None
    group_version = f"{group_name}/{version}" if group_name else version
    resources = [entry for rtype in types for entry in rtype.discovery_entries()]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _gv_path(group_name: str, version: str) -> str:
    return f"apis/{group_name}/{version}" if group_name else f"api/{version}"


def openapi_v3_root(registry: Registry) -> JSON:
    """The v3 index. Its existence, and the `fieldValidation` parameter in each document, tell
    client-go (kubectl, Helm) that this server validates fields itself."""
    paths = {}
    for group_name, versions in registry.groups().items():
        for version in versions:
            doc_hash = hashlib.sha256(repr(openapi_v3_document(registry, group_name, version)).encode())
            paths[_gv_path(group_name, version)] = {
                "serverRelativeURL": f"/openapi/v3/{_gv_path(group_name, version)}"
                f"?hash={doc_hash.hexdigest()[:32]}"
            }
    return {"paths": paths}


def openapi_v3_document(registry: Registry, group_name: str, version: str) -> JSON | None:
    types = registry.resources_in(group_name, version)
    if not types:
        return None
    base = "/" + _gv_path(group_name, version)
    field_validation = {
        "name": "fieldValidation",
        "in": "query",
        "schema": {"type": "string", "uniqueItems": True},
        "description": "fieldValidation instructs the server on how to handle objects in the "
        "request containing unknown or duplicate fields.",
    }
    paths: JSON = {}
    for rtype in types:
        gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        item = (
            f"{base}/namespaces/{{namespace}}/{rtype.plural}/{{name}}"
            if rtype.namespaced
            else f"{base}/{rtype.plural}/{{name}}"
        )
        collection = item.rsplit("/", 1)[0]
        operation = {
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [field_validation],
            "responses": {"200": {"description": "OK"}},
        }
        paths[item] = {
            "get": {**operation, "x-kubernetes-action": "get"},
            "put": {**operation, "x-kubernetes-action": "put"},
            "patch": {**operation, "x-kubernetes-action": "patch"},
            "delete": {**operation, "x-kubernetes-action": "delete"},
        }
        paths[collection] = {
            "get": {**operation, "x-kubernetes-action": "list"},
            "post": {**operation, "x-kubernetes-action": "post"},
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }
