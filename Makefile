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

# The calculator on embedded defaults: the shipped library, no database to set up.
run: setup
	$(BIN)/huiqi match examples/manufacturer.json
	$(BIN)/huiqi serve

check: setup
	$(BIN)/ruff check src tests bench conftest.py
	$(BIN)/ruff format --check src tests bench conftest.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/huiqi policy lint
	$(BIN)/huiqi policy test

# PostgreSQL for the storage tests, Debian's Chromium for the browser tests.
services:
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh

# The suite, then the part that reads the date (the lifecycle, notifications, officers, the CLI)
# again with the machine's clock moved past the library's end dates (time-machine): nothing may
# depend on the day CI happens to run. One moved date keeps CI under its 20 minutes; every
# other test pins its own clock (the `clock` fixture), so moving the machine's changes nothing there.
DATED_TESTS := tests/library tests/cli -m "not slow"

test: check services
	$(BIN)/pytest
	$(BIN)/pytest $(DATED_TESTS) --system-clock-at 2029-12-31

# Benchmarks are scripts (see each docstring); they take minutes and want a quiet machine.
bench: setup
	$(BIN)/python bench/bench_match.py
	$(BIN)/python bench/load_match.py
	$(BIN)/python bench/bench_batch.py
	$(BIN)/python bench/bench_trust_log.py
	$(BIN)/python bench/bench_trust_witness.py
	$(BIN)/python bench/bench_trust_fields.py
	$(BIN)/python bench/bench_sharing_cedar.py
	$(BIN)/python bench/bench_sharing_prefill.py --rate 20
	$(BIN)/python bench/bench_sharing_detect.py
	$(BIN)/python bench/bench_sharing_bulk.py --count 1000000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
