# Every target creates .venv when it is missing or older than pyproject.toml, then runs.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0
# TensorFlow's C++ start-up lines ("I0000 ... oneDNN custom operations are on", "failed call to cuInit" on a machine
# without a GPU) ignore TF_CPP_MIN_LOG_LEVEL and arrive after pytest's summary from the worker processes; drop just
# those lines, keep the exit status.
QUIET_TF := 2>&1 | grep --line-buffered -vE '^[IW]0000 [0-9:. ]+[0-9]+ [a-z_]+\.cc:[0-9]+\]|^E0000 .*cuda_platform\.cc:[0-9]+\] failed call to cuInit|^WARNING: All log messages before absl::InitializeLog'

.PHONY: install test test-jax test-ray test-torch test-slow demo bench bench-quick clean FORCE

# The suites that run on every Keras backend: the loss and metric conformance suites, the README examples, the
# decision layers and tuners, diagnosis, and compare / train_strategy (tests/test_backends.py).
BACKEND_SUITES := tests/test_backends.py tests/test_losses_conformance.py tests/test_metrics_streaming.py \
	tests/test_readme.py tests/test_thresholds_layer.py tests/test_fixed_threshold.py tests/test_diagnose.py \
	tests/test_thresholds.py
# What make test runs on JAX: the loss and metric conformance suites, the decision layers, and compare,
# train_strategy, CollapseMonitor and the TensorFlow-free import path (tests/test_backends.py). make test-jax and
# make test-torch add the README's examples, the tuners and diagnosis (numpy on top of the backend's scores; make
# test runs them on TensorFlow).
BACKEND_CORE := tests/test_backends.py tests/test_losses_conformance.py tests/test_metrics_streaming.py \
	tests/test_thresholds_layer.py tests/test_fixed_threshold.py
TORCH_VENV := .venv-torch
TORCH_STAMP := $(TORCH_VENV)/.installed
# The CPU build of PyTorch (the PyPI default pulls several GB of CUDA libraries).
TORCH_PIN ?= torch==2.13.0

# Reinstall when the stamp is older than pyproject.toml, or when the venv no longer finds the packages
# (a venv whose Python was removed or upgraded, a half-finished install).
VENV_OK := $(shell $(BIN)/python -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('imbalance', 'keras', 'tensorflow', 'jax', 'sklearn', 'pytest', 'loky')))" 2>/dev/null && echo yes)
ifneq ($(VENV_OK),yes)
$(STAMP): FORCE
endif

install: $(STAMP)

FORCE:

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

# TensorFlow (every test but the slow and Ray ones), then the backend core on JAX with `import tensorflow` blocked,
# as in an environment without it.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not ray" -n 2 --dist loadfile $(QUIET_TF)
	IMBALANCE_TEST_WITHOUT_TENSORFLOW=1 KERAS_BACKEND=jax $(BIN)/python -m pytest -m "not slow" -n 2 --dist loadfile \
		$(BACKEND_CORE) $(QUIET_TF)

# Every backend suite on JAX, the README's examples included (make test runs the core of them on JAX).
test-jax: $(STAMP)
	IMBALANCE_TEST_WITHOUT_TENSORFLOW=1 KERAS_BACKEND=jax $(BIN)/python -m pytest -n 2 --dist loadfile \
		$(BACKEND_SUITES) $(QUIET_TF)

# Ray: compare(ray="local") against a serial comparison (a local Ray cluster starts in each test).
test-ray: $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,ray]"
	$(BIN)/python -m pytest -m ray $(QUIET_TF)

$(TORCH_STAMP): pyproject.toml
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --upgrade pip
	$(TORCH_VENV)/bin/python -m pip install "$(TORCH_PIN)"
	$(TORCH_VENV)/bin/python -m pip install -e ".[test,torch]"
	touch $(TORCH_STAMP)

# PyTorch, in its own venv without TensorFlow (not part of `make test`: the wheel is large).
test-torch: $(TORCH_STAMP)
	KERAS_BACKEND=torch $(TORCH_VENV)/bin/python -m pytest -m "not slow" -n 2 --dist loadfile $(BACKEND_SUITES)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow and not ray" $(QUIET_TF)
	IMBALANCE_TEST_WITHOUT_TENSORFLOW=1 KERAS_BACKEND=jax $(BIN)/python -m pytest -m slow $(BACKEND_SUITES) $(QUIET_TF)

demo: $(STAMP)
	$(BIN)/imbalance demo $(QUIET_TF)

bench: $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run

bench-quick: $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) $(TORCH_VENV) build *.egg-info src/*.egg-info .pytest_cache
