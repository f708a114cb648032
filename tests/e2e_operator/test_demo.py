"""``make demo`` end to end: ``python -m flinkop.demo --until-stable`` as its own process, on the real sandbox
cluster with real Flink 2.3. It must show examples/basic.yaml going CREATED -> DEPLOYED -> STABLE with the
job RUNNING, check the Flink UI through the API server proxy, print the commands to explore the cluster,
then clean up on its own: exit 0 and no process left behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flinkop.sandbox.network import PodNetwork

from .helpers import REPO, java_processes, pid_files, process_alive

pytestmark = pytest.mark.slow

# The demo waits while another sandbox cluster runs on the machine (one per machine), so allow for that.
DEMO_TIMEOUT = 1200


@pytest.fixture
def demo_dir() -> Any:
    assert os.geteuid() == 0, "the sandbox cluster needs root (network and mount namespaces)"
    PodNetwork.check_available()  # raises, with what is missing
    directory = Path(f"/tmp/flinkop-e2e-demo-{os.getpid()}")
    shutil.rmtree(directory, ignore_errors=True)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_demo_until_stable(demo_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBERNETES_SERVICE_HOST", "KUBECONFIG")}
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    records: dict[Path, str] = {}  # every container process the kubelet recorded while the demo ran
    started = time.monotonic()
    with stdout.open("w") as out_file, stderr.open("w") as err_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "flinkop.demo", "--until-stable", "--dir", str(demo_dir)],
            cwd=REPO,
            env=env,
            stdout=out_file,
            stderr=err_file,
            text=True,
        )
        try:
            while process.poll() is None:
                records.update(pid_files(demo_dir))
                if time.monotonic() - started > DEMO_TIMEOUT:
                    process.send_signal(signal.SIGINT)
                    process.wait(120)
                    pytest.fail(f"the demo did not finish within {DEMO_TIMEOUT} s")
                time.sleep(0.25)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    out, err = stdout.read_text(), stderr.read_text()
    elapsed = time.monotonic() - started
    print(out)
    print(f"\n[timing] flinkop demo --until-stable in {elapsed:.1f} s")
    log = demo_dir / "demo.log"
    detail = f"\nstdout:\n{out[-4000:]}\nstderr:\n{err[-2000:]}"
    if log.exists():
        detail += "\ndemo.log (tail):\n" + log.read_text(errors="replace")[-3000:]
    assert process.returncode == 0, detail

    # each lifecycle transition printed as it happened, in order, with the job RUNNING at STABLE
    states = re.findall(r"FlinkDeployment basic-example: (\w+) +\(JobManager (\w+), job ([\w-]+)\)", out)
    lifecycle = [s for s, _, _ in states]
    folded = [
        s
        for i, s in enumerate(lifecycle)
        if s in ("CREATED", "DEPLOYED", "STABLE") and s not in lifecycle[:i]
    ]
    assert folded == ["CREATED", "DEPLOYED", "STABLE"], detail
    assert ("STABLE", "READY", "RUNNING") in states, detail
    assert "FlinkDeployment basic-example is STABLE with the job RUNNING" in out
    assert re.search(r"pod basic-example-[\w-]+ \(jobmanager\) Running", out), detail
    assert re.search(r"pod basic-example-taskmanager-[\w-]+ \(taskmanager\) Running", out), detail

    # the UI checked through the proxy, the commands to explore the cluster
    assert "the Flink UI loads through the API server proxy" in out, detail
    kubeconfig = demo_dir.resolve() / "kubeconfig"
    assert f"export KUBECONFIG={kubeconfig}" in out
    assert "kubectl get flinkdeployments" in out
    assert "kubectl get pods" in out
    assert re.search(r"kubectl logs -f basic-example-taskmanager-\S+ +# the job's state lines", out), detail
    assert re.search(r"e\.g\. flinkop-state key=\d+ count=\d+", out), detail
    assert "kubectl describe flinkdeployment basic-example" in out
    ui = re.search(
        r"Flink UI: http://127\.0\.0\.1:\d+/api/v1/namespaces/default/services/basic-example-rest:8081/proxy/$",
        out,
        re.MULTILINE,
    )
    assert ui, detail

    # clean-up: the FlinkDeployment deleted through the operator, then everything stopped
    assert "FlinkDeployment basic-example and its Flink cluster deleted" in out, detail
    assert "stopped; no process left" in out, detail
    assert records, "the kubelet recorded the demo's container processes"
    assert not [r for r in records.values() if process_alive(r)]
    assert not java_processes("basic-example")
