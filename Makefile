# The README's two set-up commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-tools lint typecheck pytest bench fuzz clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# setuptools tells every editable install that maps a package folder (ours maps cli/
# to flowweaver.cli on purpose) to mind same-named folders: that notice is left out.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[dev,dask,otel,metrics]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flowweaver run specs/etl.yaml

# The browser tests drive Debian's Chromium (never a browser Playwright downloads).
# Installing it needs root, as on CI; without it those tests fail, naming this command.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) || echo "warning: Chromium is not installed; the browser tests will fail"

test: $(STAMP) test-tools browser
	$(BIN)/ruff format --check flowweaver cli tests benchmarks specs
	$(BIN)/ruff check flowweaver cli tests benchmarks specs
	$(BIN)/mypy flowweaver cli
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff format flowweaver cli tests benchmarks specs
	$(BIN)/ruff check --fix flowweaver cli tests benchmarks specs

# The cron tests need the `crontab` command (Debian's cron package: the daemon need
# not run). As root with apt-get, it is installed when missing; elsewhere they skip.
test-tools:
	@command -v crontab >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cron >/dev/null; }

bench: $(STAMP)
	$(BIN)/python -m benchmarks

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	YAML_MODEL_EXAMPLES=$${FUZZ_EXAMPLES:-20000} $(BIN)/python -m pytest -q tests/spec/test_yaml_model.py
	$(BIN)/python tests/fuzz/fuzz_loader.py -max_total_time=$${FUZZ_SECONDS:-60} tests/fuzz/corpus

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .flowweaver build *.egg-info
