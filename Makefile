# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench install

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,lab]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/jupyter lab --ip=127.0.0.1 --allow-root --ServerApp.root_dir=$(CURDIR)/notebooks \
		--ServerApp.default_url=/lab/tree/demo.ipynb

# Notebooks run under nbval against a throwaway store, never the developer's own.
test: install
	ASTRALYTIQ_HOME=$$(mktemp -d) $(BIN)/python -m pytest -n 2 --dist loadfile -q --nbval-lax tests notebooks

lint: install
	$(BIN)/ruff check astralytiq_jupyter tests benchmarks
	$(BIN)/ruff format --check astralytiq_jupyter tests benchmarks

format: install
	$(BIN)/ruff format astralytiq_jupyter tests benchmarks
	$(BIN)/ruff check --fix astralytiq_jupyter tests benchmarks

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done
