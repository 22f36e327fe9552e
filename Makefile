# relais: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench console clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/relais run

console: run

lint: $(TEST_STAMP)
	$(BIN)/ruff check bot handlers storage tests bench
	$(BIN)/mypy bot handlers storage
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_architecture.py
	RELAIS_DATABASE_URL=sqlite:///$(CURDIR)/$(VENV)/db-check.db $(BIN)/relais db-check

test: lint
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider -n 3 --dist loadfile --durations=12

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) relais.db* data bench/results.json
