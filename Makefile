# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup services run test check bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/huiqi policy lint
	$(BIN)/huiqi match examples/manufacturer.json

check: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/huiqi policy lint
	$(BIN)/huiqi policy test

# PostgreSQL for the storage tests, Debian's Chromium for the browser tests.
services:
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh

test: check services
	$(BIN)/pytest

bench: setup
	$(BIN)/pytest bench --benchmark-enable -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
