# The two commands the README promises. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint install bench

# constraints.txt pins every package to the versions the suite is proven on (the Dockerfile installs from it
# too); editing it or pyproject.toml reinstalls on the next make.
$(BIN)/rbsync: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(BIN)/rbsync

install: $(BIN)/rbsync

run: install
	$(BIN)/rbsync run

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench
