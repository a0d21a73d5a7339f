# simtune — the two commands a new user needs: `make demo` and `make test`.
# Everything they need is installed here: a virtual environment (.venv), the package, and for
# `make test` the test extras and a real single-node SLURM cluster (scripts/slurm-up.sh, root).

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
DEMO_CONFIG ?= param_optim/v1_sheet.yaml
DEMO_RUN    ?= runs/demo
# SLURM=0 skips the cluster bring-up (the slurm-marked tests then skip outside CI)
SLURM  ?= 1
PYTEST_ARGS ?=

.PHONY: demo test lint venv install install-test slurm-up slurm-down clean help

help:
	@echo "make demo   - install and run the example optimisation on the local executor"
	@echo "make test   - install test extras, lint, start the local SLURM cluster, run the tests"
	@echo "make lint   - ruff, the import contract, mypy, docs/config.md against the code"
	@echo "make slurm-up / slurm-down - start / stop the single-node test cluster"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check --upgrade pip

# -qq and no version check: a new user sees simtune's own lines, not pip's
PIP = $(PY) -m pip install -qq --disable-pip-version-check

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) -e '.[test]'
	touch $(VENV)/.installed $@

venv: $(PY)
install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	rm -rf $(DEMO_RUN)
	$(VENV)/bin/simtune run $(DEMO_CONFIG) --run-dir $(DEMO_RUN) --executor local
	@echo "look at it: $(VENV)/bin/simtune status $(DEMO_RUN); $(VENV)/bin/simtune report $(DEMO_RUN)"

slurm-up:
	bash scripts/slurm-up.sh

slurm-down:
	bash scripts/slurm-down.sh

# ruff, the import contract (docs/architecture.md), mypy on the packages, docs/config.md vs code
lint: install-test
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_imports.py
	$(VENV)/bin/mypy orchestrator evaluators targets simtune_core
	$(PY) scripts/config_docs.py --check

# lint first: a lint error fails fast, before the cluster comes up
test: install-test lint
ifeq ($(SLURM),1)
	bash scripts/slurm-up.sh
endif
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
