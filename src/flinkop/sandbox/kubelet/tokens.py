"""Service-account tokens for pods: JWTs with the claims kube-apiserver's TokenRequest puts in them,
signed (HS256) with a key of this kubelet. The sandbox API server accepts any bearer token, so nobody
verifies the signature; clients that read the claims (expiry, namespace) find them where they expect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

JSON = dict[str, Any]
DEFAULT_EXPIRATION = 3607  # what the kube-api-access volume asks for
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self, pod: JSON, audience: str | None = None, expiration: int = DEFAULT_EXPIRATION) -> str:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        namespace = str(meta.get("namespace") or "default")
        account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        issued = int(time.time())
        claims = {
            "aud": [audience or ISSUER],
            "exp": issued + max(600, int(expiration)),
            "iat": issued,
            "nbf": issued,
            "iss": ISSUER,
            "sub": f"system:serviceaccount:{namespace}:{account}",
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": str(spec.get("nodeName") or "")},
                "pod": {"name": meta.get("name"), "uid": meta.get("uid")},
                "serviceaccount": {"name": account},
            },
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"
