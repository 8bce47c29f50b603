# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,fc]'
	touch $(STAMP)

## run: create the virtualenv, install, and serve on http://127.0.0.1:$(PORT) (SQLite, examples loaded)
run: $(STAMP)
	$(BIN)/fnflow server --port $(PORT) --apply examples

## test: lint, type-check and run every test (unit, store contract, end to end, examples)
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests examples bench
	$(BIN)/ruff check --fix src tests examples bench

## bench: the benchmarks in bench/ (not part of test)
bench: $(STAMP)
	$(BIN)/python bench/flows.py

clean:
	rm -rf $(VENV) .fnflow .mypy_cache .ruff_cache .pytest_cache
