# flinkop: one command each for a fresh clone: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test lint bench demo clean crds

setup: $(STAMP)
	@$(PY) -m flinkop.sandbox.images install --dir .sandbox/images

# Re-install only when the project's dependency list changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy --strict src
	$(PY) -m flinkop crds --output deploy/crds --check

# Regenerate deploy/crds from the models in src/flinkop/api.
crds: setup
	$(PY) -m flinkop crds --output deploy/crds

bench: setup
	$(PY) bench/run.py --output .bench/results.json
	$(PY) bench/cluster_bench.py --output .bench/cluster.json
	$(PY) bench/operator_bench.py --output .bench/operator.json

# The sandbox cluster and the operator in one process (run as root: pods get network namespaces):
# examples/basic.yaml to STABLE with its job RUNNING, then the kubectl commands and the Flink UI URL;
# Ctrl-C deletes it and stops everything. Logs in .sandbox/demo/demo.log.
demo: setup
	$(PY) -m flinkop.demo --dir .sandbox/demo

clean:
	rm -rf $(VENV) .bench .sandbox build *.egg-info
