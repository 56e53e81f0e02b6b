# Set-up and everyday commands. Every target creates what it needs (.venv, the build) first and
# is fast when that is already done.
#   make demo        the main job: the ops side by side with Python sum, then a SPOS search
#   make test        creates .venv (torch==$(TORCH_VERSION)), builds nasops, runs the tests
#   make lint        ruff
#   make cmake-test  builds the op library with CMake and runs its C++ dispatcher test
#   make bench       the pytest-benchmark suite (not part of `make test`)

PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
SOURCES := setup.py pyproject.toml $(shell find csrc -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh')
CMAKE_BUILD := build/cmake

.PHONY: demo test lint cmake-test bench build clean

demo: $(STAMPS)/build
	$(PY) examples/quickstart.py
	$(PY) examples/razor_spos.py

test: $(STAMPS)/build
	$(PY) -m pytest -q

lint: $(STAMPS)/venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

build: $(STAMPS)/build

bench: $(STAMPS)/build
	$(PY) -m pytest benchmarks --benchmark-only -s

cmake-test: $(STAMPS)/venv
	cmake -S . -B $(CMAKE_BUILD) -G Ninja -DCMAKE_PREFIX_PATH="$$($(PY) -c 'import torch; print(torch.utils.cmake_prefix_path)')"
	cmake --build $(CMAKE_BUILD)
	ctest --test-dir $(CMAKE_BUILD) --output-on-failure

$(STAMPS)/venv: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q setuptools wheel ninja
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/build: $(STAMPS)/venv $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation -e ".[dev]"
	@touch $@

clean:
	rm -rf build $(STAMPS) nasops/_C*.so *.egg-info
