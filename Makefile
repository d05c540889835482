# Two entry points: `make run` (demo gateway) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit install clean load mutation cost fuzz browser screenshots

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/returnbridge demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench specs
	$(BIN)/ruff format --check src tests bench specs

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# Tests run in TEST_WORKERS processes (pytest-xdist); most tests wait on servers and
# subprocesses, so three workers keep both cores of a 2-core machine busy. TEST_WORKERS=0 runs
# them in one process.
TEST_WORKERS ?= 3

test: lint typecheck browser
	$(BIN)/pytest -q -n $(TEST_WORKERS)

# The browser tests (tests/browser) drive Debian's chromium through Playwright; this installs
# the package when it is missing.
browser:
	scripts/ensure-chromium

# Photographs of every dashboard page against the demo, into docs/screenshots (a minute).
screenshots: $(STAMP) browser
	$(BIN)/python scripts/dashboard_screenshots.py docs/screenshots

# The OpenAPI fuzz at eight times the examples of `make test` (not part of it; several
# minutes): schemathesis on SQLite and PostgreSQL (127.0.0.1:5432).
fuzz: $(STAMP)
	RETURNBRIDGE_FUZZ_EXAMPLES=200 $(BIN)/pytest -q tests/e2e/test_openapi_fuzz.py

# Issue 5 load script (not part of `make test`): all scenarios at full size, SQLite then
# PostgreSQL (127.0.0.1:5432); heavy on a 2-core machine. Figures go to .returnbridge/load.json.
load: $(STAMP)
	mkdir -p .returnbridge
	$(BIN)/python bench/load.py --backend both --json .returnbridge/load.json

# Issue 7 cost benchmark (not part of `make test`; a few minutes on 2 cores): CPU per return of
# each process, GraphQL calls and cost points per return, returns/s per store at Shopify's
# standard plan (100 points/s) for 1, 4 and 16 stores, next to bare DBOS and a naive script, on
# SQLite and PostgreSQL (127.0.0.1:5432). Figures go to .returnbridge/cost.json; see
# docs/performance.md.
cost: $(STAMP)
	mkdir -p .returnbridge
	$(BIN)/python bench/cost.py --json .returnbridge/cost.json

# Issue 6 mutation run (not part of `make test`; about 10 minutes on 2 cores): mutmut mutates
# src/returnbridge/domain/ and runs tests/unit against each mutant (config in pyproject.toml).
# Results are cached in mutants/; `rm -rf mutants` for a clean run. Read the survivors with
# `$(BIN)/mutmut results` and `$(BIN)/mutmut show <name>` (docs/refund-math.md).
mutation: $(STAMP)
	$(BIN)/mutmut run
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/python -c "import json; print(json.load(open('mutants/mutmut-cicd-stats.json')))"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
