"""Ingress template expansion, shared by the validator and whoever renders the Ingress.

Upstream (``IngressUtils.getIngressUrl``): ``{{name}}`` / ``{{namespace}}`` are replaced
(case-insensitively), ``http://`` is prepended unless the template starts with ``http://`` or
``https://``, and the result is parsed with ``java.net.URL``; the rule's host is the URL's host,
its path the URL's path. :func:`expand_ingress_template` reproduces that parse, including its
failures (a bad port, a bad IPv6 literal) and their messages, so a template upstream rejects is
rejected here with the same text.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from flinkop.validation._units import java_trim

NAME_PLACEHOLDER = re.compile(r"\{\{name\}\}", re.IGNORECASE)
NAMESPACE_PLACEHOLDER = re.compile(r"\{\{namespace\}\}", re.IGNORECASE)
_PROTOCOL = re.compile(r"^https?://", re.IGNORECASE)


class IngressTemplateError(ValueError):
    """A template that does not expand to a URL; the message is upstream's."""

    def __init__(self, template: str, reason: str) -> None:
        self.template, self.reason = template, reason
        super().__init__(f"Unable to process the Ingress template({template}). Error: {reason}")


@dataclass(frozen=True)
class IngressUrl:
    """The parts of the expanded template the Ingress rule uses ('' when absent)."""

    host: str
    path: str
    port: int = -1


def has_placeholder(template: str) -> bool:
    return bool(NAME_PLACEHOLDER.search(template) or NAMESPACE_PLACEHOLDER.search(template))


def expand_ingress_template(template: str, name: str, namespace: str) -> IngressUrl:
    """Expand and parse ``spec.ingress.template`` for the resource ``namespace/name``."""
    url = template if _PROTOCOL.search(template) else "http://" + template
    url = NAME_PLACEHOLDER.sub(lambda _: name, url)
    url = NAMESPACE_PLACEHOLDER.sub(lambda _: namespace, url)
    try:
        return _parse_java_url(url)
    except ValueError as error:
        raise IngressTemplateError(template, str(error)) from None


def _parse_java_url(spec: str) -> IngressUrl:
    """``new java.net.URL(spec)`` for an http(s) spec: host, port and normalised path."""
    spec = java_trim(spec)
    start = spec.index("://") + 1  # the protocol is known to be there
    limit = len(spec)
    if (ref := spec.find("#", start)) >= 0:
        limit = ref
    if (query := spec.find("?", start)) >= 0 and query < limit:
        limit = query
    spec = spec[:limit]
    host, port, path = "", -1, ""
    if spec.startswith("//", start) and not spec.startswith("////", start):
        start += 2
        end = spec.find("/", start)
        end = limit if end < 0 else end
        authority = spec[start:end]
        host, port = _parse_authority(authority)
        start = end
    if start < limit:
        path = spec[start:limit]
    return IngressUrl(host=host, path=_normalize_path(path), port=port)


def _parse_authority(authority: str) -> tuple[str, int]:
    host: str | None = authority
    if "@" in authority:
        host = None if authority.count("@") > 1 else authority[authority.index("@") + 1 :]
    if host is None:
        return "", -1
    port = -1
    if host.startswith("["):
        close = host.find("]")
        if close <= 2:
            raise ValueError(f"Invalid authority field: {authority}")
        rest = host[close + 1 :]
        host = host[: close + 1]
        try:
            ipaddress.IPv6Address(host[1:-1].split("%")[0])
        except ValueError:
            raise ValueError(f"Invalid host: {host}") from None
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"Invalid authority field: {authority}")
            if len(rest) > 1:
                port = _java_parse_int(rest[1:])
    elif (colon := host.find(":")) >= 0:
        if len(host) > colon + 1:
            port = _java_parse_int(host[colon + 1 :])
        host = host[:colon]
    if port < -1:
        raise ValueError(f"Invalid port number :{port}")
    return host, port


def _java_parse_int(text: str) -> int:
    """``Integer.parseInt`` of a sub-sequence, with its error text ("Error at index 0 in: ...")."""

    def error(index: int) -> ValueError:
        return ValueError(f'Error at index {index} in: "{text}"')

    index, negative = 0, False
    if text[0] < "0":
        if text[0] not in "+-":
            raise error(0)
        negative, index = text[0] == "-", 1
        if index == len(text):
            raise error(index)
    result = 0
    for position in range(index, len(text)):
        if not "0" <= text[position] <= "9":
            raise error(position)
        result = result * 10 + int(text[position])
        if result > 2**31 - (0 if negative else 1):
            raise error(position)
    return -result if negative else result


def _normalize_path(path: str) -> str:
    """The dot-segment clean-up ``URLStreamHandler.parseURL`` applies to the path."""
    while (i := path.find("/./")) >= 0:
        path = path[:i] + path[i + 2 :]
    i = 0
    while (i := path.find("/../", i)) >= 0:
        previous = path.rfind("/", 0, i) if i > 0 else -1
        if previous >= 0 and path.find("/../", previous) != 0:
            path = path[:previous] + path[i + 3 :]
            i = 0
        else:
            i += 3
    while path.endswith("/.."):
        i = path.find("/..")
        previous = path.rfind("/", 0, i) if i > 0 else -1
        if previous < 0:
            break
        path = path[: previous + 1]
    if path.startswith("./") and len(path) > 2:
        path = path[2:]
    if path.endswith("/."):
        path = path[:-1]
    return path
