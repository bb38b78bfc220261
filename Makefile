# Two commands: `make run` (the demo station) and `make test` (the test suite).
# Each sets up .venv first, with nothing but Python 3.11+ on the machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint lock clean

$(VENV)/.python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.run: $(VENV)/.python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test: $(VENV)/.python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.run

# The TypeScript tools tests/test_clients.py checks the API's contract with (openapi-typescript,
# tsc, openapi-fetch), at the versions clients/package-lock.json pins; only where npm is (without
# it those tests skip and say why, and CI installs it).
NPM := $(shell command -v npm 2>/dev/null)
CLIENT_TOOLS := $(if $(NPM),clients/node_modules/.installed)

clients/node_modules/.installed: clients/package.json clients/package-lock.json
	npm ci --prefix clients --silent
	@touch $@

run: $(VENV)/.run
	$(BIN)/diaspor demo $(ARGS)

# Independent test files run side by side (most of the suite waits on real time, not on the
# CPU); a file's tests stay together, in one worker, and the longest files start first (in
# the order tests/conftest.py gives, not pytest-xdist's own by number of tests).
TEST_WORKERS ?= 3

test: $(VENV)/.test $(CLIENT_TOOLS)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 $(ARGS)

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	DIASPOR_DATA_DIR=$$(mktemp -d) $(BIN)/diaspor db check

# requirements.lock: the image's dependencies (and setuptools, which builds the project), each
# pinned with its hashes; the Dockerfile installs from it with --require-hashes. Run after changing
# dependencies in pyproject.toml: pins already in the lock stay unless they must move
# (`make lock LOCK_ARGS=--upgrade` moves every one). pip-compile resolves for the Python and
# platform it runs on, so it runs only where they are the image's: Linux x86_64, CPython 3.11.
LOCK_VENV := .venv-lock
PIP_TOOLS ?= pip-tools==7.6.2

$(LOCK_VENV)/.installed:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet '$(PIP_TOOLS)'
	@touch $@

lock: $(LOCK_VENV)/.installed
	@$(LOCK_VENV)/bin/python -c 'import platform, sys; sys.exit(0 if (sys.platform, platform.machine(), sys.version_info[:2]) == ("linux", "x86_64", (3, 11)) else "requirements.lock is for the image: make it on Linux x86_64 with CPython 3.11 (PYTHON=python3.11)")'
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
		--all-build-deps --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
		--output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) $(LOCK_VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
