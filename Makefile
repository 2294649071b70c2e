# dlnotes — two commands on a fresh machine (Python 3.11, make, git, node/npm):
#   make serve   set up (if needed) and serve the site on http://127.0.0.1:8000
#   make test    set up (if needed) and run the whole test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-setup
export NO_MKDOCS_2_WARNING := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup serve build test test-fast lint typecheck pytest browser clean bench

setup: $(STAMP) node_modules/.package-lock.json

# The virtual environment, with every Python package pinned by constraints.txt.
# torch==2.13.0 is the CPU wheel (an unpinned torch would pull a CUDA build).
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# Front-end assets served from the site (Mermaid), pinned by package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found (install nodejs/npm)" >&2; exit 2; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

serve: setup
	$(BIN)/mkdocs serve --livereload --dirty --dev-addr 127.0.0.1:8000

build: setup
	$(BIN)/mkdocs build --strict

# Debian's chromium for the real-browser tests (Playwright drives it).
browser:
	@bash scripts/install_browser.sh

lint: setup
	$(BIN)/ruff check dlnotes tests scripts
	$(BIN)/ruff format --check dlnotes tests scripts
	$(BIN)/lint-imports --no-cache
	npx --no-install eslint dlnotes/site/static

typecheck: setup
	$(BIN)/mypy dlnotes

# The whole suite with coverage of the package (report printed at the end).
pytest: setup browser
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q --cov=dlnotes --cov-report=term:skip-covered --cov-report=html:.cache/coverage

# The edit-test loop: unit tests only (no browser, no site build, no slow runs),
# two workers; under two minutes.
test-fast: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 -m "not browser and not slow and not site" -p no:cacheprovider

test: lint typecheck pytest

bench: setup
	$(BIN)/python scripts/bench_conv.py
	$(BIN)/python scripts/bench_lstm.py

clean:
	rm -rf site .cache .pytest_cache .mypy_cache .ruff_cache
