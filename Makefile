# Isthmus — every task has a target; `make help` lists them. CI runs `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo serve test lint format typecheck architecture pytest test-fast lock i18n clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Isthmus needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) \
	  && $(BIN)/uv pip install --python $(BIN)/python -q -r requirements.lock \
	  || $(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
	  || $(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Isthmus with its locked dependencies

demo: install ## Migrate, load the guide's demo data, serve on http://127.0.0.1:8000
	$(BIN)/isthmus demo

serve: install ## Serve the product on the configured database (no demo data)
	$(BIN)/isthmus db upgrade && $(BIN)/isthmus serve

test: install lint typecheck architecture pytest ## Everything CI checks: ruff, mypy --strict, import-linter, pytest

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## Reformat the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy --strict on src and tests
	$(BIN)/mypy

architecture: install ## import-linter: domain packages never import adapters or frameworks
	$(BIN)/lint-imports

pytest: install ## The test suite on SQLite and a throwaway PostgreSQL, browser tests included
	$(BIN)/pytest

test-fast: install ## pytest without PostgreSQL and browser tests
	$(BIN)/pytest -m "not postgres and not browser"

i18n: install ## Extract and merge the translation catalogs, then check zh_CN coverage
	scripts/i18n check

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock -q

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
