# pybaton developer commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NATIVE := $(VENV)/.native

.PHONY: demo test bench lint proto servers native clean dist

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (pybaton needs Python 3.11+)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

## make demo: sync the built-in demo connector (no credentials) and show what it found
demo: $(STAMP)
	$(BIN)/pybaton sync demo -f demo.c1z --data-dir .pybaton/demo --log-level warn
	$(BIN)/pybaton -f demo.c1z summary

## make native: drivers built against system libraries (mysqlclient: libmariadb-dev, installed by `make servers`).
## Optional: without them the sql connector uses PyMySQL on MySQL/MariaDB (same results, slower).
native: $(NATIVE)

$(NATIVE): $(STAMP) | servers
	$(BIN)/pip install -q --group native && touch $(NATIVE) || \
		echo "make: mysqlclient did not build (needs libmariadb-dev, pkg-config, a C compiler); the sql connector uses PyMySQL"

## make test: install what the tests need (servers from Debian packages), run the whole suite
test: $(STAMP) servers $(NATIVE)
	$(BIN)/pytest -n 2 --dist loadgroup tests

## make servers: install the database/directory servers the tests start (Debian packages)
servers:
	bash scripts/install-test-servers.sh

## make bench: print the performance figures (see bench/README.md)
# The benches time CLI processes as a user runs them: an installed package has its bytecode compiled
# (pip does it at install), an editable checkout does not when PYTHONDONTWRITEBYTECODE is set, and
# each CLI start would then compile the newest modules again (about 0.1 s).
bench: $(STAMP) servers $(NATIVE)
	$(PY) -m compileall -q src
	$(PY) bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

## make dist: build dist/pybaton, the pybaton command as one self-contained executable (PyInstaller)
dist: $(STAMP)
	@mkdir -p dist
	$(BIN)/pybaton build --pybaton -o dist/pybaton

## make proto: regenerate src/pybaton/pb from proto/ (generated code is committed)
proto: $(STAMP)
	bash scripts/gen-proto.sh $(PY)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo.c1z .pybaton dist build
