"""The committed CRDs are generated from the models and match the upstream operator's CRDs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from flinkop.api.crdgen import ENVELOPES, generate, main
from flinkop.api.schema import model_schema

from .conftest import CRD_DIR

REGENERATE = "run `make crds` or `.venv/bin/python -m flinkop.api.crdgen --output deploy/crds` and commit"


def test_committed_crds_equal_freshly_generated_ones() -> None:
    generated = generate()
    committed = {path.name for path in CRD_DIR.glob("*.yml")}
    assert committed == set(generated), f"deploy/crds has {sorted(committed)}; {REGENERATE}"
    for name, text in generated.items():
        assert (CRD_DIR / name).read_text() == text, f"deploy/crds/{name} is stale: {REGENERATE}"


def test_crds_are_compatible_with_upstream(shared: Path) -> None:
    kinds = ",".join(envelope.resource.KIND for envelope in ENVELOPES)
    result = subprocess.run(
        [sys.executable, str(shared / "tools" / "crd_compat.py"), str(CRD_DIR), "--kinds", kinds],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert report.strip().splitlines()[-1] == f"{len(ENVELOPES)} kinds checked, 0 differences", report


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_schemas_are_structural() -> None:
    """Kubernetes accepts a CRD schema only if every node has a type, except open or int-or-string ones."""

    def untyped(node: dict[str, Any], path: str) -> list[str]:
        if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
            return []
        found = [] if "type" in node else [path]
        for name, child in (node.get("properties") or {}).items():
            found += untyped(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += untyped(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += untyped(node["additionalProperties"], f"{path}{{}}")
        return found

    for name, text in generate().items():
        crd = yaml.safe_load(text)
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert untyped(root, "") == [], name


def test_output_writes_files_and_check_detects_stale_ones(tmp_path: Path) -> None:
    assert main(["--output", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(generate())
    assert main(["--output", str(tmp_path), "--check"]) == 0
    stale = tmp_path / ENVELOPES[0].file_name
    stale.write_text(stale.read_text().replace("flinkdep", "flinkdp"))
    assert main(["--output", str(tmp_path), "--check"]) == 1


def test_without_output_all_crds_go_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [doc["spec"]["names"]["kind"] for doc in documents] == [e.resource.KIND for e in ENVELOPES]


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "flinkop.api.crdgen", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("*.yml"))) == len(ENVELOPES)


def test_a_field_without_a_schema_mapping_is_an_error() -> None:
    class Untyped(BaseModel):
        anything: Any = None

    with pytest.raises(TypeError, match=r"Untyped\.anything"):
        model_schema(Untyped)
