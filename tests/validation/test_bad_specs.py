"""The bad specs users actually write, applied as YAML: each is rejected with a message saying what to fix."""

from __future__ import annotations

import pytest
import yaml

from flinkop.api import FlinkDeployment, ResourceParseError, parse_flink_deployment
from flinkop.validation import validate_deployment

BASIC = """
apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: basic-example
  namespace: default
spec:
  image: flink:2.2
  flinkVersion: v2_2
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: 2
  serviceAccount: flink
  jobManager:
    resources:
      requests:
        memory: "2048m"
        cpu: "1"
  taskManager:
    resources:
      requests:
        memory: "2048m"
        cpu: "1"
  job:
    jarURI: local:///opt/flink/examples/streaming/StateMachineExample.jar
    parallelism: 2
    upgradeMode: stateless
"""


def apply(yaml_text: str) -> str | None:
    return validate_deployment(parse_flink_deployment(yaml.safe_load(yaml_text)), None)


def test_basic_example_is_valid() -> None:
    assert apply(BASIC) is None


def test_unknown_flink_version() -> None:
    bad = BASIC.replace("flinkVersion: v2_2", "flinkVersion: v1_99")
    # Reading the object already rejects it, naming the field and the known versions...
    with pytest.raises(ResourceParseError) as caught:
        parse_flink_deployment(yaml.safe_load(bad))
    assert "spec.flinkVersion: unknown value 'v1_99' (expected one of 'v1_13'," in str(caught.value)
    # ...and the validator, given such a model, says the operator does not support it.
    model = FlinkDeployment.model_validate(yaml.safe_load(bad))
    assert validate_deployment(model, None) == "Flink version v1_99 is not supported by this operator version"


def test_flink_version_too_old() -> None:
    bad = BASIC.replace("flinkVersion: v2_2", "flinkVersion: v1_14")
    assert apply(bad) == "Flink version v1_14 is not supported by this operator version"


def test_negative_parallelism() -> None:
    assert (
        apply(BASIC.replace("parallelism: 2", "parallelism: -2")) == "Job parallelism must be larger than 0"
    )


def test_missing_jar_uri_for_an_application() -> None:
    bad = BASIC.replace("    jarURI: local:///opt/flink/examples/streaming/StateMachineExample.jar\n", "")
    assert apply(bad) == (
        "Jar URI must be defined: set spec.job.jarURI (e.g. local:///opt/flink/usrlib/my-job.jar), or "
        "spec.job.entryClass for a job jar already on the image's classpath"
    )


@pytest.mark.parametrize(
    ("memory", "reason"),
    [
        ("2 gigs", "Invalid quantity format passed to parse"),
        (
            "lots",
            'Character L is neither a decimal digit number, decimal point, nor "e" notation exponential '
            "mark.",
        ),
        ("-1Gi", "text does not start with a number"),
    ],
)
def test_bad_memory_string(memory: str, reason: str) -> None:
    tm_block = '  taskManager:\n    resources:\n      requests:\n        memory: "2048m"\n        cpu: "1"\n'
    bad = BASIC.replace(tm_block, f'  taskManager:\n    resource:\n      memory: "{memory}"\n')
    assert apply(bad) == f"TaskManager resource memory parse error: {reason}"


def test_bad_memory_quantity_in_resources() -> None:
    bad = BASIC.replace('memory: "2048m"', 'memory: "2 gigs"', 1)
    assert (
        apply(bad)
        == "JobManager resources.requests.memory parse error: Invalid quantity format passed to parse"
    )


def test_ingress_template_without_a_placeholder() -> None:
    bad = BASIC + '  ingress:\n    template: "flink.example.com"\n'
    assert apply(bad) == (
        "Ingress template(flink.example.com) must contain a {{name}} or {{namespace}} placeholder, e.g. "
        "'{{name}}.{{namespace}}.flink.k8s.io' or '/{{namespace}}/{{name}}(/|$)(.*)'"
    )


def test_ingress_template_with_a_bad_port() -> None:
    bad = BASIC + '  ingress:\n    template: "{{name}}.example.com:80a/"\n'
    assert apply(bad) == (
        'Unable to process the Ingress template({{name}}.example.com:80a/). Error: Error at index 2 in: "80a"'
    )


def test_several_mistakes_report_the_first() -> None:
    bad = BASIC.replace("parallelism: 2", "parallelism: 0").replace(
        "name: basic-example", "name: Basic_Example"
    )
    message = apply(bad)
    assert message is not None
    assert message.startswith("The FlinkDeployment name: Basic_Example is invalid")
