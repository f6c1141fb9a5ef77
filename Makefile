# tipwatch: `make demo` sets everything up and runs the pipeline on the bundled sample
# sites; `make test` runs the test suite. Both need only python3 (and make).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.tipwatch-installed

.PHONY: install demo test run bench clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/bootstrap.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tipwatch demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

run: $(STAMP)
	$(BIN)/tipwatch run

clean:
	rm -rf $(VENV) data/demo.db* data/*.log
