# Two entry points: `make dev` runs the project, `make test` runs every check.
# Each installs what it needs, so both work on a fresh machine with Python 3.11+, Node 20 and npm.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_READY := $(VENV)/.installed
NODE_READY := node_modules/.installed
# Netlify's CLI and bundler, kept apart from the client build's dependencies (tests/deploy drives them).
NETLIFY_TOOLS_READY := tools/netlify/node_modules/.installed

.PHONY: dev test test-fast lint format build bench chromium

dev: $(PY_READY) build
	$(PY) -m devserver

test: lint $(NODE_READY) $(NETLIFY_TOOLS_READY) build chromium
	$(PY) -m pytest

# Everything but the bounded load tests (marked slow), for a quick local loop.
test-fast: lint $(NODE_READY) $(NETLIFY_TOOLS_READY) build chromium
	$(PY) -m pytest -m "not slow"

lint: $(PY_READY)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(PY_READY)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

build: $(NODE_READY)
	npm run build

bench: $(PY_READY) $(NODE_READY)
	$(PY) bench/token_function.py
	$(PY) bench/realtime_fanout.py

chromium:
	@scripts/ensure-chromium

$(PY_READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(NODE_READY): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(NETLIFY_TOOLS_READY): tools/netlify/package.json tools/netlify/package-lock.json
	npm ci --prefix tools/netlify --no-audit --no-fund
	touch $@
