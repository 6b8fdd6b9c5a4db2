# Tally: `make demo` runs the product with demo data; `make test` runs the suite.
# With DATABASE_URL unset, both use an embedded PostgreSQL (pgserver wheel) in .pgdata/.
SHELL := /bin/bash
# The first of python3.11, python3.12 and python3 that runs and is 3.11 or 3.12 (a pyenv shim of a version not
# selected does not run). Override with `make test PYTHON=/path/to/python3.12 VENV=.venv-py312`.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml sdk/pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: demo test venv lint serve worker beat bench-ingest bench-reconcile stop-db clean-db

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
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

serve: venv
	$(BIN)/gunicorn -c config/gunicorn.py config.wsgi:application --bind 127.0.0.1:8000 --workers 2

worker: venv
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2 -Q tally

beat: venv
	$(BIN)/celery -A config beat --loglevel=INFO

bench-ingest: venv
	$(BIN)/python bench/ingest.py

bench-reconcile: venv
	$(BIN)/python bench/reconcile.py

stop-db:
	@test -d .pgdata && $(BIN)/python -c "import pgserver; pgserver.get_server('.pgdata', cleanup_mode='stop').cleanup()" 2>/dev/null; true

clean-db: stop-db
	rm -rf .pgdata
