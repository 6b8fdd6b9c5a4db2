# Tally: `make demo` runs the product with demo data; `make test` runs the suite.
# With DATABASE_URL unset, both use an embedded PostgreSQL (pgserver wheel) in .pgdata/.
SHELL := /bin/bash
# The first of python3.11, python3.12 and python3 that runs and is 3.11 or 3.12 (a pyenv shim of a version not
# selected does not run). Override with `make test PYTHON=/path/to/python3.12 VENV=.venv-py312`.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml sdk/pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
# `make demo PORT=8001`, `make serve PORT=8001`: where the web server listens.
HOST ?= 127.0.0.1
PORT ?= 8000
# When this make started: the demo's ready message counts the whole start, virtualenv and database included.
STARTED := $(shell date +%s.%N)
# The embedded PostgreSQL asks platformdirs for a runtime directory, which warns on every start when
# XDG_RUNTIME_DIR is unset (containers, CI); a private one of our own keeps the output quiet.
RUNTIME_DIR := $(or $(XDG_RUNTIME_DIR),/tmp/tally-runtime-$(shell id -u))
QUIET_ENV = XDG_RUNTIME_DIR=$(RUNTIME_DIR)

.PHONY: demo test venv lint serve worker beat bench-ingest bench-reconcile bench-freshness bench-portal bench-rollups stop-db clean-db

venv: $(STAMP)

$(STAMP):
	@test -n "$(PYTHON)" || { echo "Python 3.11 or 3.12 is required (set PYTHON=...)"; exit 1; }
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12)), "Python 3.11 or 3.12 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e ./sdk
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	@mkdir -p -m 700 $(RUNTIME_DIR)
	@$(QUIET_ENV) $(BIN)/python manage.py run_demo --host $(HOST) --port $(PORT) --started $(STARTED)

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

serve: venv
	@mkdir -p -m 700 $(RUNTIME_DIR)
	$(QUIET_ENV) $(BIN)/gunicorn -c config/gunicorn.py config.wsgi:application --bind $(HOST):$(PORT) --workers 2

worker: venv
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2 -Q tally,payments,webhooks

beat: venv
	$(BIN)/celery -A config beat --loglevel=INFO

bench-ingest: venv
	$(BIN)/python bench/ingest.py

bench-reconcile: venv
	$(BIN)/python bench/reconcile.py

bench-freshness: venv
	$(BIN)/python bench/freshness.py

bench-portal: venv
	$(BIN)/python bench/portal.py

bench-rollups: venv
	$(BIN)/python bench/rollup_mechanism.py

stop-db:
	@mkdir -p -m 700 $(RUNTIME_DIR)
	@$(QUIET_ENV) $(BIN)/python -m demo.db stop

clean-db: stop-db
	rm -rf .pgdata
	@echo "Deleted the embedded database's data (.pgdata/); the next start creates it empty."
