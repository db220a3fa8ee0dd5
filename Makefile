# `make demo` and `make test` each set up .venv (Python 3.11, the package and every dependency) first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# constraints.txt pins torch==2.13.0: a CPU wheel on these machines' disk. The package itself declares a range.
INSTALLED := $(VENV)/.installed

.PHONY: install demo test clean

$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(INSTALLED)

demo: install
	$(BIN)/curate demo

# Slurm (Debian's packages) for the test that runs a recipe on a real single-node cluster
test: install
	bash scripts/install_slurm.sh
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) curate-demo
