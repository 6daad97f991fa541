# Two commands for a new user: `make run` (the service with a demo network on SQLite)
# and `make test` (lint, types and the whole test suite). Both install what they need first:
# the versions uv.lock names, with their hashes. Only `make lock` changes uv.lock.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv works on $(VENV), made by $(PYTHON); it never fetches a Python of its own.
UV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(BIN)/uv
# `make lock` takes the newest releases pyproject.toml allows; `make lock LOCK_FLAGS=` only
# records a change to pyproject.toml, keeping every other version where it is.
LOCK_FLAGS ?= --upgrade
# Test processes (pytest-xdist): most tests wait on sockets, subprocesses and fsync, so three
# share two cores well. `make test TEST_WORKERS=0` runs the suite in one process.
TEST_WORKERS ?= 3

.PHONY: install lock run test lint format bench clean

# uv itself comes from requirements-uv.txt (its version and hashes, shared with the Dockerfile);
# it lives in $(VENV), which uv sync leaves it in.
$(BIN)/uv: requirements-uv.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r requirements-uv.txt
	touch $@

# --locked: install uv.lock as it is (the project editable, with its dev extra), and stop,
# without touching uv.lock, if pyproject.toml asks for something uv.lock does not hold.
# --compile-bytecode: every `rilon` process the tests start would otherwise compile its
# imports again (~1 s of CPU each) wherever PYTHONDONTWRITEBYTECODE is set, as on CI.
$(STAMP): $(BIN)/uv pyproject.toml uv.lock
	$(UV) sync --locked --extra dev --compile-bytecode \
		|| { echo >&2 "make: if uv.lock is out of date with pyproject.toml, run make lock"; exit 1; }
	touch $(STAMP)

install: $(STAMP)

lock: $(BIN)/uv
	$(UV) lock $(LOCK_FLAGS)

run: install
	$(BIN)/rilon demo
	$(BIN)/rilon serve

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
