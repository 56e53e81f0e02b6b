# Set-up and everyday commands. Every target creates what it needs (.venv, the build) first and
# is fast when that is already done.
#   make demo        the main job: `nasops search --algo darts` on the bundled digits (search,
#                    retrain from scratch, test; writes search-out/)
#   make test        creates .venv (torch==$(TORCH_VERSION)), builds nasops, runs the tests
#   make lint        ruff
#   make cmake-test  builds the op library with CMake and runs its C++ dispatcher test
#   make bench       the pytest-benchmark suite (not part of `make test`)
#   make cuda-check  builds the CUDA kernels against a CUDA torch in .venv-cuda (no GPU needed),
#                    checks every op has a CUDA kernel, and runs the tests on that build

PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
SOURCES := setup.py pyproject.toml $(shell find csrc -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh')
CMAKE_BUILD := build/cmake
# The CUDA compile check: its own venv, and its own copy of the tree, so the main .venv's
# editable build (nasops/_C*.so in the source tree) is never overwritten or loaded by it.
CUDA_TORCH_VERSION ?= 2.14.1
CUDA_VENV := .venv-cuda
CUDA_PY := $(abspath $(CUDA_VENV))/bin/python
CUDA_CHECK := build/cuda-check
MAX_JOBS ?= 2

.PHONY: demo test lint cmake-test cuda-check bench build clean

demo: $(STAMPS)/build
	$(VENV)/bin/nasops search --algo darts --out search-out

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

# The copy is made afresh (tracked and untracked-but-not-ignored files, mtimes kept), so it
# matches the working tree exactly; objects live outside it, and ninja recompiles only what
# changed (--force makes setuptools hand every run to ninja, which tracks headers too).
cuda-check: $(STAMPS)/cuda-venv
	rm -rf $(CUDA_CHECK)/src && mkdir -p $(CUDA_CHECK)/src
	git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C $(CUDA_CHECK)/src
	cd $(CUDA_CHECK)/src && NASOPS_CUDA=1 MAX_JOBS=$(MAX_JOBS) $(CUDA_PY) setup.py -q build_ext \
		--force --build-lib ../lib --build-temp ../temp
	cp $(CUDA_CHECK)/lib/nasops/_C*.so $(CUDA_CHECK)/src/nasops/
	cd $(CUDA_CHECK)/src && $(CUDA_PY) .ci/check_cuda_kernels.py
	cd $(CUDA_CHECK)/src && $(CUDA_PY) -m pytest -q -p no:cacheprovider tests

$(STAMPS)/venv: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	$(PY) -m pip install -q setuptools wheel ninja
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/build: $(STAMPS)/venv $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation -e ".[dev]"
	@touch $@

# The [test] extra of pyproject.toml, installed without building nasops itself.
$(STAMPS)/cuda-venv: pyproject.toml
	test -x $(CUDA_PY) || $(PYTHON) -m venv $(CUDA_VENV)
	$(CUDA_PY) -m pip install -q torch==$(CUDA_TORCH_VERSION)
	$(CUDA_PY) -m pip install -q setuptools wheel ninja numpy pytest hypothesis expecttest pyyaml \
		scikit-learn tqdm
	@mkdir -p $(STAMPS) && touch $@

clean:
	rm -rf build $(STAMPS) nasops/_C*.so *.egg-info
