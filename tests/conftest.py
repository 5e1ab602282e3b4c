"""Test set-up: quiet TensorFlow, deterministic seeds, CPU only."""

import importlib.abc
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# compare() runs in this process unless a test asks for workers: pytest-xdist already gives each core a process,
# and a pool per call would spend the suite's time starting workers (tests/test_parallel.py tests the pools).
os.environ.setdefault("IMBALANCE_WORKERS", "1")
# One CPU thread per test process, as in compare's worker processes (imbalance.experiment.task.worker_environment):
# pytest-xdist already runs one process per core, and TensorFlow's multi-threaded reductions add their partial sums in
# an order that depends on the load, so a comparison in this process could differ in the last bits from one in a
# worker (the behaviour pin's multi-label case, whose 2-epoch model ties most of its scores, then moves).
for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """``import tensorflow`` fails as if it were not installed (``make test`` runs the backend suites under JAX so:
    the core must not need TensorFlow)."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by IMBALANCE_TEST_WITHOUT_TENSORFLOW)",
                                      name=name)
        return None


if os.environ.get("IMBALANCE_TEST_WITHOUT_TENSORFLOW") == "1":
    sys.meta_path.insert(0, _NoTensorFlow())

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
