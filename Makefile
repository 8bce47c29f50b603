# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080

.PHONY: run test lint format bench clean browser wrk

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,fc]'
	touch $(STAMP)

## run: create the virtualenv, install, and serve on http://127.0.0.1:$(PORT) (SQLite, examples loaded)
run: $(STAMP)
	$(BIN)/fnflow server --port $(PORT) --apply examples

## test: lint, type-check and run every test (unit, store contract, end to end, examples, browser)
# Four workers on two cores: most end-to-end tests wait on servers, timers and leases. The hundreds
# of servers and commands the tests start compile fnflow once, not each (.pyc files, even where the
# environment says PYTHONDONTWRITEBYTECODE).
test: lint browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 4 --dist loadgroup

## browser: Debian's Chromium for the console's browser tests, installed if missing (as root, with apt)
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) || \
	  echo "could not install chromium: the browser tests will say so"

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests examples bench
	$(BIN)/ruff check --fix src tests examples bench

## bench: every benchmark scenario with its baseline in the same run (bench/README.md; not part of test)
bench: $(STAMP) wrk
	$(BIN)/python bench/run.py

## wrk: the HTTP load generator the accept benchmark uses, installed if missing (as root, with apt)
wrk:
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
	  apt-get install -y -q wrk >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1) || \
	  echo "could not install wrk: the accept benchmark needs it (apt-get install wrk)"

clean:
	rm -rf $(VENV) .fnflow .mypy_cache .ruff_cache .pytest_cache
