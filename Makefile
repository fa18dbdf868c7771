# Two entry points: `make dev` runs the project, `make test` runs every check.
# Each installs what it needs, so both work on a fresh machine with Python 3.11+, npm and any Node npm runs on.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_READY := $(VENV)/.installed
NODE_READY := node_modules/.installed
# Netlify's CLI and bundler, kept apart from the client build's dependencies (tests/deploy drives them).
NETLIFY_TOOLS_READY := tools/netlify/node_modules/.installed
# The Node the project runs on (the Netlify function's runtime, nodejs24.x; Netlify's tools need >= 22.12):
# installed from the npm registry as a package into .node/ and put first on PATH for every step below, so
# the machine's own Node only has to run that one `npm install`.
NODE_VERSION := 24.22.3
NODE_ARCH := $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
NODE_HOME := $(CURDIR)/.node
NODE_TOOLCHAIN := $(NODE_HOME)/.installed-$(NODE_VERSION)
export PATH := $(NODE_HOME)/node_modules/node-linux-$(NODE_ARCH)/bin:$(PATH)

.PHONY: dev test test-fast lint format build bench chromium node

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

node: $(NODE_TOOLCHAIN)

$(NODE_TOOLCHAIN):
	npm install --prefix $(NODE_HOME) --no-save --no-audit --no-fund --loglevel=error node-linux-$(NODE_ARCH)@$(NODE_VERSION)
	touch $@

$(NODE_READY): package.json package-lock.json $(NODE_TOOLCHAIN)
	npm ci --no-audit --no-fund
	touch $@

$(NETLIFY_TOOLS_READY): tools/netlify/package.json tools/netlify/package-lock.json $(NODE_TOOLCHAIN)
	npm ci --prefix tools/netlify --no-audit --no-fund
	touch $@
