"""The formula rooms import no deep-learning framework of their own: weighting's formulas, the splits, the
objective grammar, the diagnosis and the validation base load without TensorFlow or Keras (imbalance/__init__
itself still imports the tf.data rooms, so the package is stubbed here to load each module on its own)."""

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

LIGHT = ["imbalance._validation", "imbalance._numeric", "imbalance.labels", "imbalance.weighting",
         "imbalance.splits", "imbalance.diagnose.diagnosis"]


def _loaded_after(module: str) -> set[str]:
    code = (
        "import sys, types\n"
        f"package = types.ModuleType('imbalance'); package.__path__ = [{str(SRC / 'imbalance')!r}]\n"
        "sys.modules['imbalance'] = package\n"
        "diag = types.ModuleType('imbalance.diagnose'); "
        f"diag.__path__ = [{str(SRC / 'imbalance' / 'diagnose')!r}]; sys.modules['imbalance.diagnose'] = diag\n"
        f"import {module}\n"
        "print(' '.join(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", LIGHT)
def test_module_loads_without_a_framework(module):
    assert _loaded_after(module) == set()


def test_the_check_sees_a_framework_import():
    assert "keras" in _loaded_after("imbalance.thresholds.layers") or "tensorflow" in _loaded_after(
        "imbalance.thresholds.layers")
