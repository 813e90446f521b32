# The two set-up commands: `make run` serves the hub, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
# pytest-xdist workers for `make test` (each has its own store; 0 runs the suite serially).
TEST_WORKERS ?= 2
EXCHANGE_HOME ?= ./var
export EXCHANGE_HOME

.PHONY: run test test-faults lint venv bench demo clean catalogs

# The console's translations: the .po files are kept, their .mo compiled here (and by the hub at
# start when missing); `make catalogs` gathers new strings from the pages into the .po files.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard exchange/console/translations/*/LC_MESSAGES/*.po))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,test]'
	touch $(VENV)/.installed $@

%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

catalogs: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --omit-header -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d exchange/console/translations --no-fuzzy-matching --omit-header

venv: $(VENV)/.installed $(CATALOGS)

# The worker (checkpoints, notices) runs beside the server and stops with it.
run: $(VENV)/.installed $(CATALOGS)
	$(BIN)/exchange init
	$(BIN)/exchange worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/exchange serve --host 127.0.0.1 --port $(PORT)

test: $(VENV)/.installed-test $(CATALOGS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "not faults and not fuzz and not bench"

# The hub under faults (kills, outages, read-only stores), the OpenAPI fuzzing and the benchmarks'
# smoke runs: minutes in all, so apart from `make test`; .ci/run runs both.
test-faults: $(VENV)/.installed-test $(CATALOGS)
	$(BIN)/pytest -q -n $(TEST_WORKERS) -m "faults or fuzz or bench"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# A round of joint supervision through a real hub and four partner agents (a temporary store).
demo: $(VENV)/.installed $(CATALOGS)
	$(BIN)/exchange demo

bench: $(VENV)/.installed-test
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var
