# The two commands: `make lab` (JupyterLab on the quickstart) and `make test`.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LAB_STAMP := $(VENV)/.installed-lab
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: lab demo test lint typecheck pytest notebooks bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What every notebook needs: 07 starts mcp-server-time, 09 traces with OpenTelemetry.
$(LAB_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[lab,mcp,otel]" mcp-server-time
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[lab,dev,redis,postgres,dynamodb,otel]"
	touch $@ $(LAB_STAMP)

lab: $(LAB_STAMP)  ## JupyterLab on the quickstart notebook
	$(BIN)/jupyter lab notebooks/01_quickstart.ipynb

demo: $(LAB_STAMP)  ## run the quickstart headless and print what the agent did
	$(BIN)/python notebooks/run_headless.py notebooks/01_quickstart.ipynb

test: lint typecheck pytest  ## ruff, mypy --strict, pytest (notebooks included)

lint: $(DEV_STAMP)
	$(BIN)/ruff check deepagents_nb tests benchmarks notebooks/run_headless.py notebooks/conftest.py
	$(BIN)/ruff format --check deepagents_nb tests benchmarks notebooks/run_headless.py notebooks/conftest.py

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	# No real keys reach the tests or the notebooks nbval runs; vendor calls are refused.
	env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u GEMINI_API_KEY -u GOOGLE_API_KEY \
		DEEPAGENTS_NB_BLOCK_VENDOR_REQUESTS=1 $(BIN)/pytest tests --nbval notebooks \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg

notebooks: $(DEV_STAMP)  ## re-execute every notebook in place, offline (after changing what they show)
	for nb in notebooks/[0-9]*.ipynb; do \
		env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY -u GEMINI_API_KEY -u GOOGLE_API_KEY \
			DEEPAGENTS_NB_BLOCK_VENDOR_REQUESTS=1 \
			$(BIN)/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; \
	done

bench: $(DEV_STAMP)  ## ours vs LangChain deepagents and pydantic-ai (benchmarks/README.md)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
