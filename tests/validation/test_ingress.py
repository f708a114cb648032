"""Ingress template expansion, as upstream's IngressUtils parses it (java.net.URL semantics)."""

from __future__ import annotations

import pytest

from flinkop.validation import IngressTemplateError, IngressUrl, expand_ingress_template


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # The three documented forms.
        (
            "flink.k8s.io/{{namespace}}/{{name}}(/|$)(.*)",
            IngressUrl("flink.k8s.io", "/default/my-dep(/|$)(.*)"),
        ),
        ("{{name}}.{{namespace}}.flink.k8s.io", IngressUrl("my-dep.default.flink.k8s.io", "")),
        ("/{{namespace}}/{{name}}(/|$)(.*)", IngressUrl("", "/default/my-dep(/|$)(.*)")),
        # Details of the URL parse.
        ("{{name}}.flink.k8s.io/", IngressUrl("my-dep.flink.k8s.io", "/")),
        ("https://{{name}}.flink.k8s.io/ui", IngressUrl("my-dep.flink.k8s.io", "/ui")),
        ("HTTP://{{NAME}}.{{Namespace}}.k8s.io", IngressUrl("my-dep.default.k8s.io", "")),
        ("{{name}}.k8s.io:8080/x", IngressUrl("my-dep.k8s.io", "/x", 8080)),
        ("{{name}}.k8s.io:/x", IngressUrl("my-dep.k8s.io", "/x")),
        ("user@{{name}}.k8s.io/x", IngressUrl("my-dep.k8s.io", "/x")),
        ("[::1]:9/{{name}}", IngressUrl("[::1]", "/my-dep", 9)),
        ("k8s.io/{{name}}?query#fragment", IngressUrl("k8s.io", "/my-dep")),
        ("k8s.io/a/./b/../{{name}}", IngressUrl("k8s.io", "/a/my-dep")),
        ("  k8s.io/{{name}}  ", IngressUrl("  k8s.io", "/my-dep")),  # only the ends are trimmed
    ],
)
def test_expansion(template: str, expected: IngressUrl) -> None:
    assert expand_ingress_template(template, "my-dep", "default") == expected


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("example.com:port", 'Error at index 0 in: "port"'),
        ("{{name}}.k8s.io:80a", 'Error at index 2 in: "80a"'),
        ("k8s.io:-", 'Error at index 1 in: "-"'),
        ("k8s.io:-5/{{name}}", "Invalid port number :-5"),
        ("k8s.io:99999999999", 'Error at index 9 in: "99999999999"'),
        ("[z]/{{name}}", "Invalid authority field: [z]"),
        ("[zz]/{{name}}", "Invalid host: [zz]"),
        ("[::1]x/{{name}}", "Invalid authority field: [::1]x"),
    ],
)
def test_unparseable_template(template: str, reason: str) -> None:
    with pytest.raises(IngressTemplateError) as caught:
        expand_ingress_template(template, "my-dep", "default")
    assert str(caught.value) == f"Unable to process the Ingress template({template}). Error: {reason}"
