"""The `pod-template-hash` of a Deployment's pod template, and template equality ignoring it.

Upstream (`controller.ComputeHash`) hashes the Go struct of the PodTemplateSpec, printed by
go-spew, with FNV-1a 32 bit; a `status.collisionCount`, when set, is then fed to the hasher as 8
bytes (its uint32 little-endian, four zero bytes after). The decimal string of the 32-bit sum is
rendered with `rand.SafeEncodeString`: each byte `b` of it becomes `ALPHABET[b % 27]` of the alphabet
without vowels and lookalikes, so hashes look like `6d4cf56db6` and never spell words.

We cannot reproduce spew's rendering of Go structs, so the hashed bytes differ (and so do the hash
values): we hash the canonical JSON of the template (keys sorted, no whitespace, UTF-8) after
normalising what Go would not tell apart (null values, empty lists, empty label/annotation maps, the
template's null `creationTimestamp`). Everything after that is upstream's: FNV-1a 32, the collision
count bytes, the decimal rendering and the safe encoding. The hash is stable across processes and
Python versions, and only changes when the template does.
"""

from __future__ import annotations

import json
import struct
from typing import Any

JSON = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
FNV32_OFFSET_BASIS = 0x811C9DC5
FNV32_PRIME = 0x01000193


def fnv1a_32(data: bytes, state: int = FNV32_OFFSET_BASIS) -> int:
    """FNV-1a, 32 bit; pass the previous result as `state` to continue a hash."""
    h = state
    for byte in data:
        h ^= byte
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """apimachinery's rand.SafeEncodeString."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def _normalise(value: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            here = (*path, key)
            if here == ("metadata", "creationTimestamp"):
                continue
            normal = _normalise(item, here)
            if isinstance(normal, list) and not normal:
                continue
            if here in (("metadata", "labels"), ("metadata", "annotations"), ("metadata",)) and not normal:
                continue
            out[key] = normal
        return out
    if isinstance(value, list):
        return [_normalise(item, path) for item in value]
    return value


def canonical_template(template: JSON) -> JSON:
    """A pod template with the differences Go's semantic equality ignores taken out."""
    normal: JSON = _normalise(template or {})
    return normal


def encode_template(template: JSON) -> bytes:
    return json.dumps(
        canonical_template(template), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def pod_template_hash(template: JSON, collision_count: int | None = None) -> str:
    h = fnv1a_32(encode_template(template))
    if collision_count is not None:
        h = fnv1a_32(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return safe_encode(str(h))


def without_hash_label(template: JSON) -> JSON:
    labels = dict(((template or {}).get("metadata") or {}).get("labels") or {})
    labels.pop(POD_TEMPLATE_HASH, None)
    metadata = {**((template or {}).get("metadata") or {}), "labels": labels}
    return {**(template or {}), "metadata": metadata}


def equal_ignoring_hash(a: JSON, b: JSON) -> bool:
    """Upstream's EqualIgnoreHash: the templates are semantically equal once the hash label is dropped."""
    return canonical_template(without_hash_label(a)) == canonical_template(without_hash_label(b))
