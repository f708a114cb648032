"""The Ingress against ANCHOR-INVENTORY §8 (IngressUtils)."""

from __future__ import annotations

from typing import Any

import pytest

from flinkop.flink.resources import IngressTemplateError, ingress_url, render, validate_ingress_template

from .builders import JOB, by_kind_name, deployment, flat_config


def ingress(template: str | None = None, **ingress_spec: Any) -> dict[str, Any]:
    spec = {"template": template, **ingress_spec} if template is not None else ingress_spec
    dep = deployment(job=JOB, ingress=spec)
    result: dict[str, Any] = by_kind_name(render(dep, flat_config(dep)))[("Ingress", "my-dep")]
    return result


def backend(port: int = 8081) -> dict[str, Any]:
    return {"service": {"name": "my-dep-rest", "port": {"number": port}}}


def test_inventory_host_and_path_template() -> None:
    # §8: flink.k8s.io/{{namespace}}/{{name}}(/|$)(.*) -> host flink.k8s.io, path /default/my-dep(/|$)(.*)
    obj = ingress("flink.k8s.io/{{namespace}}/{{name}}(/|$)(.*)")
    assert obj["apiVersion"] == "networking.k8s.io/v1"
    assert obj["spec"]["rules"] == [
        {
            "host": "flink.k8s.io",
            "http": {
                "paths": [
                    {
                        "path": "/default/my-dep(/|$)(.*)",
                        "pathType": "ImplementationSpecific",
                        "backend": backend(),
                    }
                ]
            },
        }
    ]


def test_inventory_host_only_template() -> None:
    # §8: {{name}}.{{namespace}}.flink.k8s.io -> host my-dep.default.flink.k8s.io, no path
    obj = ingress("{{name}}.{{namespace}}.flink.k8s.io")
    assert obj["spec"]["rules"] == [
        {
            "host": "my-dep.default.flink.k8s.io",
            "http": {"paths": [{"pathType": "ImplementationSpecific", "backend": backend()}]},
        }
    ]


def test_inventory_path_only_template_with_the_users_rewrite_annotation() -> None:
    # §8: /{{namespace}}/{{name}}(/|$)(.*) -> rule without host; advanced-ingress example sets
    # nginx rewrite-target /$2 and className nginx (passed through, the operator adds no annotation)
    obj = ingress(
        "/{{namespace}}/{{name}}(/|$)(.*)",
        className="nginx",
        annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$2"},
    )
    assert obj["spec"]["ingressClassName"] == "nginx"
    assert obj["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}
    assert obj["spec"]["rules"] == [
        {
            "http": {
                "paths": [
                    {
                        "path": "/default/my-dep(/|$)(.*)",
                        "pathType": "ImplementationSpecific",
                        "backend": backend(),
                    }
                ]
            }
        }
    ]


def test_inventory_metadata_labels_component_ingress_and_owner() -> None:
    # §8: labels spec.ingress.labels + {component: ingress}; ownerReferences controller true,
    # blockOwnerDeletion true
    obj = ingress("{{name}}.example.com", labels={"team": "data"})
    assert obj["metadata"]["name"] == "my-dep"
    assert obj["metadata"]["namespace"] == "default"
    assert obj["metadata"]["labels"] == {"team": "data", "component": "ingress"}
    assert obj["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "flink.apache.org/v1beta1",
            "kind": "FlinkDeployment",
            "name": "my-dep",
            "uid": "uid-1234",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert "annotations" not in obj["metadata"]


def test_tls_and_rest_port() -> None:
    dep = deployment(
        job=JOB,
        ingress={
            "template": "{{name}}.example.com",
            "tls": [{"hosts": ["my-dep.example.com"], "secretName": "tls"}],
        },
        flinkConfiguration={"rest.port": "9000"},
    )
    obj = by_kind_name(render(dep, flat_config(dep)))[("Ingress", "my-dep")]
    assert obj["spec"]["tls"] == [{"hosts": ["my-dep.example.com"], "secretName": "tls"}]
    assert obj["spec"]["rules"][0]["http"]["paths"][0]["backend"] == backend(9000)


def test_placeholders_are_case_insensitive_and_https_query_fragment_are_dropped() -> None:
    url = ingress_url("https://{{NAME}}.{{Namespace}}.example.com:8443/ui/?x=1#top", "my-dep", "prod")
    assert (url.host, url.path) == ("my-dep.prod.example.com", "/ui/")
    trailing = ingress_url("{{name}}.example.com/", "my-dep", "prod")
    assert trailing.path == "/"


def test_ingress_is_not_rendered_when_management_is_off() -> None:
    dep = deployment(job=JOB, ingress={"template": "{{name}}.example.com"})
    objects = render(dep, {**flat_config(dep), "kubernetes.operator.ingress.manage": "false"})
    assert not [o for o in objects if o["kind"] == "Ingress"]


def test_validation_messages_like_upstream() -> None:
    assert validate_ingress_template(None) == "Ingress template must be defined"
    assert validate_ingress_template("example.com:port") == (
        'Unable to process the Ingress template(example.com:port). Error: Error at index 0 in: "port"'
    )
    assert validate_ingress_template("example.com/{{namespace}}/{{name}}") is None
    assert validate_ingress_template("/{{namespace}}/{{name}}(/|$)(.*)") is None
    # upstream accepts a template without placeholders (every deployment would share it)
    assert validate_ingress_template("flink.example.com") is None


def test_render_rejects_a_bad_template() -> None:
    with pytest.raises(IngressTemplateError, match="Unable to process the Ingress template"):
        ingress("example.com:80x")
