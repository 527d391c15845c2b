PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test install dev lint schema bench clean

$(BIN)/masthead: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/masthead
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/masthead

dev: $(VENV)/.dev

serve: install
	$(BIN)/masthead db upgrade
	$(BIN)/masthead demo --if-empty
	$(BIN)/masthead serve --host $(HOST) --port $(PORT)

test: dev
	$(BIN)/python -m pytest

lint: dev
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: install
	$(BIN)/masthead schema > schema.graphql

clean:
	rm -rf $(VENV) masthead.db
