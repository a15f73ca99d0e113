# cryo -- two commands set up everything: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup venv criu demo test bench doctor clean

setup: venv criu

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

criu: venv
	$(PY) -m criu_backend.install

demo: setup
	$(VENV)/bin/cryo demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/cryo bench

doctor: venv
	$(VENV)/bin/cryo doctor

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
