# The README's two commands. Each creates the virtual environment on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/shopbridge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/shopbridge

demo: $(BIN)/shopbridge
	$(BIN)/shopbridge demo

test: $(BIN)/shopbridge
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/shopbridge
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
