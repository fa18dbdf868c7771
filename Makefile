# Two entry points: `make dev` runs the project, `make test` runs every check.
# Each installs what it needs, so both work on a fresh machine with Python 3.11+, Node 20+ and npm.
# `make dev` installs only what running needs; the test tools come with the first `make test`.
# Dev server options: `make dev ARGS='--local --env-file other.env'` (PORT=9000 make dev for the port).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The runtime packages (pyproject's dependencies), then the test tools (its `test` extra) on top.
PY_READY := $(VENV)/.installed-runtime
PY_TEST_READY := $(VENV)/.installed-test
ARGS ?=
NODE_READY := node_modules/.installed
# Netlify's CLI and bundler, kept apart from the client build's dependencies (tests/deploy drives them).
NETLIFY_TOOLS_READY := tools/netlify/node_modules/.installed

.PHONY: dev test test-fast lint format build bench chromium

dev: $(PY_READY) build
	@$(PY) -m devserver $(ARGS)

test: lint $(NODE_READY) $(NETLIFY_TOOLS_READY) build chromium
	$(PY) -m pytest

# Everything but the bounded load tests (marked slow), for a quick local loop.
test-fast: lint $(NODE_READY) $(NETLIFY_TOOLS_READY) build chromium
	$(PY) -m pytest -m "not slow"

lint: $(PY_TEST_READY)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(PY_TEST_READY)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

build: $(NODE_READY)
	@echo "==> Building the page into dist/"
	@npm run --silent build

bench: $(PY_READY) $(NODE_READY)
	$(PY) bench/token_function.py
	$(PY) bench/realtime_fanout.py

chromium:
	@scripts/ensure-chromium

$(PY_READY): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: run with PYTHON=python3.11 (or newer) make ..."; exit 1; }
	@echo "==> Creating .venv with the runtime Python packages (first run only)"
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet -e .
	@touch $@

$(PY_TEST_READY): $(PY_READY)
	@echo "==> Adding the test tools to .venv (first test run only)"
	@$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

$(NODE_READY): package.json package-lock.json
	@echo "==> Installing the page's npm packages (first run only)"
	@npm ci --no-audit --no-fund
	@touch $@

$(NETLIFY_TOOLS_READY): tools/netlify/package.json tools/netlify/package-lock.json
	npm ci --prefix tools/netlify --no-audit --no-fund
	touch $@
