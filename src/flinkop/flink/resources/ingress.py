"""The Ingress of a FlinkDeployment (upstream ``IngressUtils``, docs/operations/ingress.md).

``spec.ingress.template`` is expanded (``{{name}}``, ``{{namespace}}``, case-insensitive), ``http://`` is
prepended unless it starts with ``http://``/``https://``, and the result is read as a URL the way
``java.net.URL`` reads it: its host becomes the rule's host, its path the rule's path; query and fragment
are dropped. Templates in use:

* host only, ``{{name}}.{{namespace}}.flink.k8s.io`` -> host ``my-dep.default.flink.k8s.io``, no path;
* host and path, ``flink.k8s.io/{{namespace}}/{{name}}(/|$)(.*)``;
* path only, ``/{{namespace}}/{{name}}(/|$)(.*)`` -> a rule without host. The Flink UI then needs the
  controller to rewrite the path; that is the user's annotation (nginx: ``rewrite-target: /$2``), the
  operator adds none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from flinkop.api.base import to_wire
from flinkop.api.deployment import FlinkDeployment
from flinkop.flink.resources.naming import (
    COMPONENT_INGRESS,
    LABEL_COMPONENT,
    NETWORKING_API_VERSION,
    ingress_name,
    ingress_owner_reference,
    rest_service_name,
)
from flinkop.flink.resources.options import ResourceRenderError

_NAME: Final = re.compile(r"\{\{name\}\}", re.IGNORECASE)
_NAMESPACE: Final = re.compile(r"\{\{namespace\}\}", re.IGNORECASE)
_PROTOCOL: Final = re.compile(r"^https?://", re.IGNORECASE)
_INT_MAX: Final = 2**31 - 1


class IngressTemplateError(ResourceRenderError):
    """The ingress template does not expand to a URL."""


@dataclass(frozen=True)
class IngressUrl:
    host: str
    path: str


def expand_ingress_template(template: str, name: str, namespace: str) -> str:
    url = template if _PROTOCOL.match(template) else "http://" + template
    url = _NAME.sub(lambda _: name, url)
    return _NAMESPACE.sub(lambda _: namespace, url)


def ingress_url(template: str, name: str, namespace: str) -> IngressUrl:
    """Host and path of the expanded template; IngressTemplateError when ``java.net.URL`` would reject it."""
    url = expand_ingress_template(template, name, namespace)
    try:
        return _parse_url(url)
    except ValueError as error:
        raise IngressTemplateError(
            f"Unable to process the Ingress template({template}). Error: {error}"
        ) from None


def validate_ingress_template(
    template: str | None, name: str = "name", namespace: str = "namespace"
) -> str | None:
    """The validator's message for ``spec.ingress.template``, or None when it is usable.

    As upstream: a missing template is an error, a template that does not parse as a URL is an error; a
    template without placeholders is accepted (all FlinkDeployments would share the host/path)."""
    if template is None:
        return "Ingress template must be defined"
    try:
        ingress_url(template, name, namespace)
    except IngressTemplateError as error:
        return str(error)
    return None


def _parse_url(url: str) -> IngressUrl:
    """The host and path ``java.net.URL`` gives for an ``http(s)://`` URL."""
    scheme_end = url.index("://")
    rest = url[scheme_end + 3 :]
    rest = rest.split("#", 1)[0]
    rest = rest.split("?", 1)[0]
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority:
        authority = authority.split("@", 1)[1] if authority.count("@") == 1 else ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise ValueError(f"Invalid host: {authority}")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise ValueError(f"Invalid authority field: {authority}")
        port_text = after[1:] if after else ""
    else:
        host, _, port_text = authority.partition(":")
    if port_text:
        _java_parse_port(port_text)
    return IngressUrl(host=host, path=path)


def _java_parse_port(text: str) -> int:
    """``Integer.parseInt`` with JDK's error message ("Error at index i in: \"text\"")."""
    index = 0
    negative = False
    if text[0] in "+-":
        negative = text[0] == "-"
        index = 1
        if len(text) == 1:
            raise ValueError(f'Error at index 1 in: "{text}"')
    value = 0
    for position in range(index, len(text)):
        if not "0" <= text[position] <= "9":
            raise ValueError(f'Error at index {position} in: "{text}"')
        value = value * 10 + int(text[position])
        if value > _INT_MAX + (1 if negative else 0):
            raise ValueError(f'Error at index {position} in: "{text}"')
    port = -value if negative else value
    if port < -1:
        raise ValueError(f"Invalid port number :{port}")
    return port


def render_ingress(deployment: FlinkDeployment, rest_port: int) -> dict[str, Any]:
    """networking.k8s.io/v1 Ingress ``<name>`` routing to ``<name>-rest:<rest.port>``."""
    spec = deployment.spec.ingress
    if spec is None:
        raise ResourceRenderError("spec.ingress is not set")
    if spec.template is None:
        raise IngressTemplateError("Ingress template must be defined")
    url = ingress_url(spec.template, deployment.name, deployment.namespace)
    path: dict[str, Any] = {
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": rest_service_name(deployment.name), "port": {"number": rest_port}}},
    }
    if url.path.strip():
        path = {"path": url.path, **path}
    rule: dict[str, Any] = {"http": {"paths": [path]}}
    if url.host.strip():
        rule = {"host": url.host, **rule}
    metadata: dict[str, Any] = {
        "name": ingress_name(deployment.name),
        "namespace": deployment.namespace,
        "labels": {**(spec.labels or {}), LABEL_COMPONENT: COMPONENT_INGRESS},
    }
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    if deployment.metadata.uid:
        metadata["ownerReferences"] = [ingress_owner_reference(deployment)]
    ingress_spec: dict[str, Any] = {}
    if spec.class_name is not None:
        ingress_spec["ingressClassName"] = spec.class_name
    if spec.tls is not None:
        ingress_spec["tls"] = [to_wire(tls) for tls in spec.tls]
    ingress_spec["rules"] = [rule]
    return {
        "apiVersion": NETWORKING_API_VERSION,
        "kind": "Ingress",
        "metadata": metadata,
        "spec": ingress_spec,
    }
