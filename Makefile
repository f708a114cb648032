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

# Today: the sandbox cluster (run as root: pods get network namespaces). The operator joins it in issue 5.
demo: setup
	$(PY) -m flinkop sandbox up --dir .sandbox/demo

clean:
	rm -rf $(VENV) .bench .sandbox build *.egg-info
