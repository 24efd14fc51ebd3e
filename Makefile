# Set-up contract: `make demo` and `make test` work on a fresh machine with nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.imagebio-installed
BENCH_STAMP := $(VENV)/.imagebio-bench-installed
DEMO_OUT ?= demo_output

.PHONY: venv demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/imagebio demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[benchmarks]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
