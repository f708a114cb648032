# flinkop: one command each for a fresh clone: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup test lint bench demo clean conformance

setup: $(STAMP)

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

bench: setup
	$(PY) bench/run.py --output .bench/results.json

conformance: setup
	$(PY) bench/conformance.py

demo: setup
	$(PY) -m flinkop sandbox apiserver --port 0 --kubeconfig-out .sandbox/kubeconfig

clean:
	rm -rf $(VENV) .bench .sandbox build *.egg-info
