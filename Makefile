# identity_assets task runner. `make help` lists the targets.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export IDENTITY_LANDING_DIR ?= $(CURDIR)/data/landing
export IDENTITY_DUCKDB_PATH ?= $(CURDIR)/data/identity.duckdb

.PHONY: help setup run test test-fast lint fmt dev bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@# Bytecode at install time: with PYTHONDONTWRITEBYTECODE set, every command would otherwise
	@# recompile about 2,500 modules (5 s) each time it starts. A file that fails is just skipped.
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	@touch $@

# A changed dagster.yaml (the run queue's limits) reaches an existing Dagster home too.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $@

setup: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml ## create or reuse .venv and install the project

run: setup ## write the sample exports, start the stand-in API, materialise every landed day
	$(BIN)/identity-assets sample --out $(IDENTITY_LANDING_DIR)
	@# the run pushes only to the stand-in this starts (a taken port stops it, nothing sent)
	@$(BIN)/python scripts/with_stand_in.py --port $${STAND_IN_PORT:-8787} -- \
		$(BIN)/identity-assets run --all

test: setup ## lint, format check and the test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# two workers, one a core: the suite waits on processes and servers as much as on DuckDB
	$(BIN)/pytest -q -n 2 --dist loadscope --no-loadscope-reorder

test-fast: setup ## the stage functions on small tables, no process, nothing heavy (under a minute)
	$(BIN)/pytest -q -n 2 --dist loadscope --no-loadscope-reorder -m "not slow and not heavy"

fmt: setup ## fix lint findings and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: setup ## open the Dagster UI on http://127.0.0.1:3000
	@# stops within seconds on SIGINT or SIGTERM, even when started in the background
	$(BIN)/python scripts/stoppable.py -- $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${DEV_PORT:-3000}

bench: setup ## the whole pipeline, stage by stage (1,000,000 lines over 30 days; LINES=n)
	$(BIN)/python benchmarks/pipeline.py --lines $${LINES:-1000000} --days 30

clean: ## remove the local warehouse, sample data and Dagster home
	rm -rf data $(DAGSTER_HOME)
