# cryo -- two commands set up everything: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=
# llama-cpp-python (the `llm` extra) is compiled from source; its multimodal part is not needed.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF

.PHONY: setup venv criu buildtools demo test bench doctor clean

setup: venv criu

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | buildtools
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install --quiet -e '.[dev,llm]'
	touch $@

# A C/C++ compiler and CMake for llama-cpp-python's build; installed with apt only when missing (as root).
buildtools:
	@if command -v gcc >/dev/null && command -v g++ >/dev/null && command -v cmake >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    build-essential cmake; \
	else echo "make setup: need gcc, g++ and cmake to build llama-cpp-python (install build-essential cmake)" >&2; \
	  exit 1; fi

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
