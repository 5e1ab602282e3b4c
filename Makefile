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

.PHONY: install test test-slow demo bench bench-quick clean FORCE

# Reinstall when the stamp is older than pyproject.toml, or when the venv no longer finds the packages
# (a venv whose Python was removed or upgraded, a half-finished install).
VENV_OK := $(shell $(BIN)/python -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('imbalance', 'keras', 'tensorflow', 'sklearn', 'pytest')))" 2>/dev/null && echo yes)
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

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadfile $(QUIET_TF)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(QUIET_TF); rc=$$?; if [ $$rc -eq 5 ]; then echo "no slow tests yet"; else exit $$rc; fi

demo: $(STAMP)
	$(BIN)/imbalance demo $(QUIET_TF)

bench: $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run

bench-quick: $(STAMP)
	$(BIN)/python -m pip install -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
