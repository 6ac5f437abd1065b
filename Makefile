# Each target sets itself up: a fresh machine needs only Python 3.11+ and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# Everything the tests exercise, so nothing skips: the MCP server, the jobs API, OpenTelemetry,
# Ray batches, the jury's alpha, the browser driver (playwright package; the browser is Debian's).
TEST_EXTRAS := dev,mcp,serve,otel,ray,jury
TOPIC ?= split the monolith?
BRIEFING ?= examples/briefings/hello-world.md

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@echo "setting up $(VENV): a first run installs amatelier and its provider SDKs (about a minute)"
	$(PYTHON) -m venv $(VENV)
	@$(PYTHON) scripts/pip_progress.py $(BIN)/python --upgrade pip
	@$(PYTHON) scripts/pip_progress.py $(BIN)/python -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	@echo "installing the test tools and every extra the tests use ($(TEST_EXTRAS)); the first time takes a few minutes"
	@$(PYTHON) scripts/pip_progress.py $(BIN)/python -e '.[$(TEST_EXTRAS)]'
	touch $(TEST_STAMP)

## Run a whole roundtable (offline backend unless a key or the claude CLI is present).
demo: $(STAMP)
	@if [ -z "$$AMATELIER_MODE" ] && [ -z "$$ANTHROPIC_API_KEY" ] && [ -z "$$OPENAI_API_KEY" ] \
	    && [ -z "$$OPENROUTER_API_KEY" ] && ! command -v claude >/dev/null 2>&1; then \
	  echo "no API key and no claude CLI found: running on the offline backend"; \
	  export AMATELIER_MODE=offline; fi; \
	$(BIN)/amatelier roundtable --topic "$(TOPIC)" --briefing $(BRIEFING) --summary

## Run the test suite: installs every extra the tests use, Debian's chromium for the browser
## tests and the pinned Claude Code CLI for the wire tests (each step skips itself when it cannot).
test: $(TEST_STAMP)
	bash scripts/install_browser.sh || true
	bash scripts/install_claude_cli.sh || true
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests scripts

bench: $(TEST_STAMP)
	$(BIN)/python scripts/bench_startup.py
	$(BIN)/python scripts/bench_roundtable.py
	$(BIN)/python scripts/bench_telemetry.py
	$(BIN)/python scripts/bench_batch.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
