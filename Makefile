# dingstore — `make run` starts the server on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.installed-dev
DATA_DIR ?= ./data
PORT   ?= 8080
TEST_WORKERS ?= 4

.PHONY: help run test release-test fuzz docs lint format bench dist clean

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP)  ## Start the server on the embedded default (SQLite + files in ./data)
	$(BIN)/dingstore serve --data-dir $(DATA_DIR) --port $(PORT)

test: $(DEV)  ## Run the whole test suite, on both shapes, in TEST_WORKERS processes
	scripts/browser-tools  # headless Chromium for the preview pages, if missing
	scripts/node-tools     # DingTalk's Node SDK for the docs' code and examples/node-testing, if missing
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

release-test: $(DEV)  ## The wheel round trip and the 20k-node backup (tests/release; ~1 minute)
	$(BIN)/python -m pytest -q -p no:randomly -m "wheel or backup20k" tests/release

fuzz: $(DEV)  ## Schemathesis over /openapi.json against a fresh server (about 2 minutes)
	$(BIN)/python tests/fuzz/schemathesis_run.py

docs: $(DEV)  ## Build the documentation site into site/, failing on any warning
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(DEV)  ## ruff, mypy and the layer contracts
	$(BIN)/ruff check src tests bench docs/hooks.py
	$(BIN)/ruff format --check src tests bench docs/hooks.py
	$(BIN)/mypy src
	$(BIN)/lint-imports

format: $(DEV)  ## Format the code
	$(BIN)/ruff format src tests bench docs/hooks.py
	$(BIN)/ruff check --fix src tests bench docs/hooks.py

bench: $(DEV)  ## Run the benchmarks (see bench/README.md); installs wrk and nginx if missing
	scripts/bench-tools
	$(BIN)/python bench/get_task.py

dist: $(DEV)  ## Build the sdist and the wheel into dist/
	$(BIN)/python -m build --outdir dist .

clean:  ## Remove the virtualenv and caches (not the data dir)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site tests/docs/node/node_modules
