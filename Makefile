# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run test screenshots lint format install install-dev clean

# Some machines set PYTHONDONTWRITEBYTECODE=1. Without .pyc files every process compiles
# the app and its libraries again (~2.4 s of CPU each: the test workers, the CLI and
# `make run` tests' subprocesses, and each of `make run`'s three commands), and pytest
# rewrites every test module's asserts again in each worker.
unexport PYTHONDONTWRITEBYTECODE

# Tests run on every core (pytest-xdist); `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= auto

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the project in about half the time pip takes on a fresh machine (it downloads
# in parallel); it comes from PyPI like everything else, into the project's own venv.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check uv

UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python

# Stamp files make a second `make run` skip the install unless pyproject.toml changed.
$(VENV)/.installed: pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# HOST and PORT also reach the app: without PUBLIC_BASE_URL its links use them.
run: export HOST := $(HOST)
run: export PORT := $(PORT)
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo
	OUTBOX_THREAD=1 $(BIN)/flask run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The browser tests again, saving their pages in test-artifacts/ to look at (phone and
# desktop sizes); `make test` skips the pictures, which nothing else checks.
screenshots: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS) -m browser --screenshots $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
