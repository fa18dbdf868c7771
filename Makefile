# Two entry points: `make dev` runs the project, `make test` runs every check.
# Each installs what it needs, so both work on a fresh machine with Python 3.11+, npm and any Node npm runs on.
# `make dev` installs only what running needs; the test tools come with the first `make test`.
# Dev server options: `make dev ARGS='--local --env-file other.env'` (PORT=9000 make dev for the port).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The runtime packages (pyproject's dependencies and its `dev` extra: the dev server and the token
# function); with the test tools (its `test` extra) for the tests.
PY_READY := $(VENV)/.installed-runtime
PY_TEST_READY := $(VENV)/.installed-test
# mutmut, for `make mutation` only (pyproject's `mutation` extra).
PY_MUTATION_READY := $(VENV)/.installed-mutation
ARGS ?=
# The local service's sans-I/O core, which setup.py compiles with mypyc in place (the .so files beside it).
CORE_SOURCES := setup.py $(wildcard src/ably_local/*.py)
CORE_BUILD := src/*__mypyc*.so src/ably_local/*.so
CORE_COMPILED := $(VENV)/.compiled-core
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

.PHONY: dev test test-fast lint docs format build bench chromium mutation

# The Python and npm installs of a first run go side by side (-j2): they wait on different registries.
dev:
	@$(MAKE) --no-print-directory --silent -j2 $(PY_READY) build
	@$(PY) -m devserver $(ARGS)

# Every step of `make test` says what it does in one `==> ` line (tests/test_makefile.py holds it to that).
test: lint docs $(CORE_COMPILED) $(NODE_READY) $(NETLIFY_TOOLS_READY) build chromium
	@echo "==> Running the tests (pytest; screenshots and timings go to artifacts/)"
	$(PY) -m pytest

# Everything but the bounded load tests (marked slow), for a quick local loop.
test-fast: lint docs $(CORE_COMPILED) $(NODE_READY) $(NETLIFY_TOOLS_READY) build chromium
	@echo "==> Running the tests but the slow ones (pytest -m 'not slow')"
	$(PY) -m pytest -m "not slow"

lint: $(PY_TEST_READY)
	@echo "==> Checking the Python code (ruff, ruff format, mypy --strict)"
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# The documentation site, into site/; strict: a broken link, anchor or include fails the build.
docs: $(PY_TEST_READY)
	@echo "==> Building the documentation into site/ (MkDocs, every link checked)"
	@$(PY) -m mkdocs build --strict

format: $(PY_TEST_READY)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The page is rebuilt when its sources changed (or dist/ is gone), so a later `make dev` starts at once.
build: dist/app.js

dist/app.js: $(NODE_READY) package-lock.json scripts/build-client.mjs $(shell find client -type f)
	@echo "==> Building the page into dist/"
	@npm run --silent build

# The token-function bench runs moto's server for the SSM row, so it needs the test tools too.
bench: $(CORE_COMPILED) $(NODE_READY) build chromium
	$(PY) bench/token_function.py
	$(PY) bench/identity_check.py
	$(PY) bench/realtime_fanout.py
	$(PY) bench/publish_instructions.py
	$(PY) bench/pytest_fixtures.py
	$(PY) bench/join_to_connected.py
	$(PY) bench/first_run.py

chromium:
	@echo "==> Checking for Chromium for the browser tests"
	@scripts/ensure-chromium

# How many deliberate small bugs in the token function its tests (tests/function) notice: the score per
# module and every mutant they miss. Not part of `make test`: it takes minutes, on half the cores, niced.
mutation: $(PY_MUTATION_READY)
	nice -n 10 $(PY) scripts/mutation.py

# .venv starts without pip when $(PYTHON) has pip 22.3+ to install into it (`pip --python`): bootstrapping
# pip into .venv was a third of a first run's CPU time. Otherwise .venv gets its own pip.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed: run with PYTHON=python3.11 (or newer) make ..."; exit 1; }
	@$(PYTHON) -m venv --without-pip $(VENV)
	@$(PYTHON) -m pip --python $(PY) --version >/dev/null 2>&1 || $(PY) -m ensurepip --default-pip >/dev/null

PIP = $(if $(wildcard $(VENV)/bin/pip),$(PY) -m pip,$(PYTHON) -m pip --python $(PY))

# --no-compile: bytecode is written for what is imported, at first import, instead of for every file.
# `make dev` never waits for the core's compile: it runs the compiled core when `make test` or `make bench`
# built one from the current sources, and the plain Python otherwise (a core source edited since then
# brings this rule back, which removes the outdated build).
$(PY_READY): pyproject.toml $(CORE_SOURCES) | $(PY)
	@echo "==> Installing the runtime Python packages into .venv (first run only)"
	@rm -f $(CORE_BUILD)
	@ABLY_LOCAL_PURE_PYTHON=1 $(PIP) install --quiet --no-compile -e '.[dev]'
	@touch $@

# One install of the project with its test extra, not the runtime install and then this one (each resolves
# and builds the project): it holds the runtime packages too, so it stamps those done and a later `make dev`
# installs nothing. pip itself too: the Netlify build test runs `python -m pip wheel` with .venv's python.
$(PY_TEST_READY): pyproject.toml | $(PY)
	@echo "==> Installing the Python packages with the test tools into .venv (first test run only)"
	@ABLY_LOCAL_PURE_PYTHON=1 $(PIP) install --quiet -e '.[dev,test]' pip
	@touch $(PY_READY) $@

# The test install plus mutmut, in one install like the one above.
$(PY_MUTATION_READY): pyproject.toml | $(PY)
	@echo "==> Installing the Python packages with the test tools and mutmut into .venv (first mutation run only)"
	@ABLY_LOCAL_PURE_PYTHON=1 $(PIP) install --quiet -e '.[dev,test,mutation]' pip
	@touch $(PY_READY) $(PY_TEST_READY) $@

# The tests and the benchmarks run the core as users who install the package get it: compiled (setup.py).
$(CORE_COMPILED): $(CORE_SOURCES) $(PY_TEST_READY)
	@echo "==> Compiling the local service's core with mypyc (about 2 minutes; again when its sources change)"
	@ABLY_LOCAL_REQUIRE_COMPILED=1 $(PIP) install --quiet --no-compile --no-deps -e .
	@touch $(PY_READY) $@

$(NODE_TOOLCHAIN):
	@echo "==> Installing Node $(NODE_VERSION) from npm into .node/ (first run only)"
	@npm install --prefix $(NODE_HOME) --no-save --no-audit --no-fund --loglevel=error node-linux-$(NODE_ARCH)@$(NODE_VERSION)
	@touch $@

$(NODE_READY): package.json package-lock.json $(NODE_TOOLCHAIN)
	@echo "==> Installing the page's npm packages (first run only)"
	@npm ci --no-audit --no-fund --ignore-scripts  # esbuild's postinstall is optional; npm 11 warns about it
	@touch $@

# --ignore-scripts: npm 11 skips unapproved install scripts anyway (the tools work without them) and warns.
$(NETLIFY_TOOLS_READY): tools/netlify/package.json tools/netlify/package-lock.json $(NODE_TOOLCHAIN)
	@echo "==> Installing Netlify's CLI and bundler into tools/netlify/ (first test run only)"
	@npm ci --prefix tools/netlify --no-audit --no-fund --ignore-scripts
	@touch $@
