# tipwatch: `make demo` sets everything up and runs the pipeline on the bundled sample
# sites; `make test` runs the test suite; `make lint` runs ruff and mypy (configured in
# pyproject.toml). All need only python3 (and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tipwatch-installed

.PHONY: install demo test lint run bench clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/bootstrap.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tipwatch demo

test: $(STAMP)
	sh scripts/test-bootstrap.sh
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

run: $(STAMP)
	$(BIN)/tipwatch run

# every benchmark in bench/, one after the other; writes bench/report.md (see bench/README.md)
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data/demo data/demo.db* data/*.log
