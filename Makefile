# ЭЖ-box: two entry points for a fresh clone (see README.md).
#   make demo  — install and run the demo school on http://127.0.0.1:8080
#   make test  — install test dependencies, lint, run every test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/ezh demo --data ./demo-data

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/pages.py --quick
	$(BIN)/python bench/journal.py --quick
	$(BIN)/python bench/diary.py --quick
	$(BIN)/python bench/timetable.py --quick
	$(BIN)/python bench/ktp.py --quick

clean:
	rm -rf $(VENV) demo-data .pytest_cache .ruff_cache
