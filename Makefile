# HuleEdu: the two commands are `make run` and `make test` (see README.md).
# Everything installs into the project: PDM into .tools/, the workspace into .venv/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
TOOLS := .tools
PDM := $(TOOLS)/bin/pdm
VENV := .venv
PY := $(VENV)/bin/python
INFRA := $(PY) -m huleedu_service_libs.local_infra
STAMP := $(VENV)/.synced
PROJECT_FILES := pyproject.toml pdm.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
BENCHMARKS := $(basename $(notdir $(wildcard benchmarks/*.py)))

.PHONY: help install run stop status test unit lint format typecheck bench lock clean

help:
	@echo "make run        bring up the local platform and show that it is healthy"
	@echo "make test       lint, type check and the whole test suite"
	@echo "make stop       stop what 'make run' started"
	@echo "make lint | typecheck | format | bench | bench-<name> | lock"

$(PDM): tools/pdm-requirements.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r tools/pdm-requirements.txt
	@touch $(PDM)

$(STAMP): $(PDM) $(PROJECT_FILES)
	$(PDM) sync --group :all --no-self
	@touch $(STAMP)

install: $(STAMP)

lock: $(PDM)
	$(PDM) lock --group :all

run: install
	$(PY) tools/run_platform.py

stop: install
	$(INFRA) down

status: install
	$(INFRA) status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install
	$(VENV)/bin/mypy libs services tools $(wildcard benchmarks/*.py)

test: lint typecheck
	$(PY) -m pytest

bench: $(addprefix bench-,$(BENCHMARKS))

bench-%: install
	@test -f benchmarks/$*.py || { echo "no benchmark benchmarks/$*.py"; exit 2; }
	$(INFRA) up --state-dir .local/bench >/dev/null
	eval "$$($(INFRA) env --state-dir .local/bench)" && $(PY) -P benchmarks/$*.py

clean:
	-$(INFRA) down
	rm -rf .local .mypy_cache .ruff_cache .pytest_cache
