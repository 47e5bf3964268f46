# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test typecheck lint format bench install

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,lab,serving]"
	touch $@

install: $(VENV)/.installed

# The demo content first (idempotent), then JupyterLab opening the app's Voila page; the
# apps in notebooks/ (the package's own, astralytiq_jupyter/apps/notebooks) and JupyterLab
# at /lab (Launcher tile "AstralytiQ"). Both use the one store home (`astralytiq info`).
run: install
	$(BIN)/astralytiq demo seed
	$(BIN)/jupyter lab --ip=127.0.0.1 --allow-root --ServerApp.root_dir=$(CURDIR)/notebooks \
		--LabApp.default_url=/voila/render/astralytiq.ipynb

# The type check first (both backends conform to the Workspace contracts: [tool.mypy] in
# pyproject.toml), then the tests. Notebooks run under nbval against a throwaway store,
# never the developer's own.
test: install typecheck
	ASTRALYTIQ_HOME=$$(mktemp -d) $(BIN)/python -m pytest -n 2 --dist loadfile -q --nbval-lax tests notebooks

typecheck: install
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check astralytiq_jupyter tests benchmarks
	$(BIN)/ruff format --check astralytiq_jupyter tests benchmarks

format: install
	$(BIN)/ruff format astralytiq_jupyter tests benchmarks
	$(BIN)/ruff check --fix astralytiq_jupyter tests benchmarks

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done
