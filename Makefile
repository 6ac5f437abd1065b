# Each target sets itself up: a fresh machine needs only Python 3.11+ and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOPIC ?= split the monolith?
BRIEFING ?= examples/briefings/hello-world.md

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@echo "setting up $(VENV): a first run installs every dependency (about a minute and a half)"
	$(PYTHON) -m venv $(VENV)
	@$(PYTHON) scripts/pip_progress.py $(BIN)/python --upgrade pip
	@$(PYTHON) scripts/pip_progress.py $(BIN)/python -e '.[dev,ray]'
	touch $(STAMP)

## Run a whole roundtable (offline backend unless a key or the claude CLI is present).
demo: $(STAMP)
	@if [ -z "$$AMATELIER_MODE" ] && [ -z "$$ANTHROPIC_API_KEY" ] && [ -z "$$OPENAI_API_KEY" ] \
	    && [ -z "$$OPENROUTER_API_KEY" ] && ! command -v claude >/dev/null 2>&1; then \
	  echo "no API key and no claude CLI found: running on the offline backend"; \
	  export AMATELIER_MODE=offline; fi; \
	$(BIN)/amatelier roundtable --topic "$(TOPIC)" --briefing $(BRIEFING) --summary

## Run the test suite (installs the pinned Claude Code CLI for the wire tests when npm is present).
test: $(STAMP)
	bash scripts/install_claude_cli.sh || true
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts

bench: $(STAMP)
	$(BIN)/python scripts/bench_startup.py
	$(BIN)/python scripts/bench_roundtable.py
	$(BIN)/python scripts/bench_telemetry.py
	$(BIN)/python scripts/bench_batch.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
