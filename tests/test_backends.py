"""The product on the backend this run uses (``KERAS_BACKEND``): compare, train_strategy, CollapseMonitor, the
served decision layers and ``.keras`` round trips, and the TensorFlow-free import path.

``make test`` runs this file under TensorFlow, then under JAX with ``import tensorflow`` blocked (as if it were not
installed); ``make test-torch`` under PyTorch in a venv without TensorFlow. Each check is against an independent
computation (scikit-learn, numpy, the tuner's own ``predict``), so it fails on a backend where the code is wrong.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, has_float64, slow_on_tensorflow, tensorflow_importable
from sklearn.metrics import average_precision_score, f1_score

from imbalance.diagnose import CollapseMonitor
from imbalance.experiment import compare, predict_scores, train_strategy
from imbalance.experiment.data import from_arrays
from imbalance.experiment.strategies import available, resolve
from imbalance.thresholds import FixedThreshold, ThresholdTuner

HAS_TF = tensorflow_importable()


def _binary(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    x = (rng.normal(size=(n, 5)) + 1.5 * y[:, None] * np.array([1.0, 0.5, 0.0, 0.0, 0.0])).astype(np.float32)
    return x, y


def _logits(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False)).astype(np.float64)


# --- import without TensorFlow -------------------------------------------------------------------------------

OTHER_BACKENDS = [b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None]


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_core_imports_without_loading_tensorflow(backend):
    code = ("import sys, imbalance, imbalance.losses, imbalance.metrics, imbalance.thresholds, imbalance.diagnose, "
            "imbalance.weighting, imbalance.labels, imbalance.experiment, imbalance.data, imbalance.cli; "
            "print(sorted(m for m in ('tensorflow', 'jax', 'torch') if m in sys.modules))")
    env = {**os.environ, "KERAS_BACKEND": backend}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == repr([backend])


@pytest.mark.skipif(HAS_TF, reason="checks the TensorFlow-free run; with TensorFlow the samplers work (below)")
def test_without_tensorflow_the_tf_data_rooms_say_which_extra_to_install():
    import imbalance.data

    with pytest.raises(ModuleNotFoundError, match=r"pip install 'imbalance\[tensorflow\]'"):
        imbalance.data.balanced_dataset  # noqa: B018
    assert "oversample" not in available("binary") and "baseline" in available("binary")
    with pytest.raises(ValueError, match=r"'oversample' samples in tf.data and needs TensorFlow.*"
                                         r"imbalance\[tensorflow\]"):
        resolve(["baseline", "oversample"], "binary")


@pytest.mark.skipif(not HAS_TF, reason="the tf.data samplers need TensorFlow; the line above checks their error")
def test_tf_data_samplers_feed_fit_on_this_backend():
    x, y = _binary()
    net = train_strategy("oversample", x, y, epochs=2, seed=0)
    assert np.all(np.isfinite(_logits(net, x)))


# --- training, monitoring, comparing ---------------------------------------------------------------------------


def test_train_strategy_is_deterministic_and_learns():
    x, y = _binary()
    first = _logits(train_strategy("class_weight", x, y, epochs=5, seed=3), x)
    again = _logits(train_strategy("class_weight", x, y, epochs=5, seed=3), x)
    np.testing.assert_allclose(first, again, rtol=1e-5, atol=1e-6)
    assert average_precision_score(y, first[:, 0]) > 3 * y.mean()  # far above chance


def test_collapse_monitor_pr_auc_is_the_model_s_average_precision():
    x, y = _binary(seed=1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    monitor = CollapseMonitor((x, y), from_logits=True, verbose=False, max_samples=None)
    model.fit(x, y.astype(np.float32), epochs=2, batch_size=64, verbose=0, callbacks=[monitor])
    assert [d.epoch for d in monitor.history_] == [1, 2]
    expected = average_precision_score(y, _logits(model, x)[:, 0])
    assert monitor.history_[-1].pr_auc == pytest.approx(expected, abs=1e-6)


@slow_on_tensorflow  # on TensorFlow: tests/test_experiment_compare.py, tests/test_behaviour_pin.py
def test_compare_runs_and_its_served_model_decides_as_its_numbers_say(tmp_path):
    x, y = _binary(n=800, seed=2)
    results = compare((x, y), strategies=["baseline", "weighted_bce"], objective="f1", epochs=3, seeds=1,
                      out_dir=tmp_path, progress=False)
    records = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert {r["strategy"] for r in records} == {"baseline", "weighted_bce"}
    assert all(np.isfinite(r["objective"]) for r in records if r.get("objective") is not None)
    best = results.best
    assert best.strategy in {"baseline", "weighted_bce"}
    results.save()
    served = keras.models.load_model(tmp_path / "best.keras")
    out = served(x[:200])
    scores = keras.ops.convert_to_numpy(out["scores"])
    decisions = keras.ops.convert_to_numpy(out["decisions"]).reshape(-1)
    rule = json.loads((tmp_path / "thresholds.json").read_text())
    if rule.get("tuned") is False:
        expected = scores.reshape(-1) >= 0.5
    else:
        expected = ThresholdTuner.load(tmp_path / "thresholds.json").predict(scores).reshape(-1)
    np.testing.assert_array_equal(decisions, np.asarray(expected, decisions.dtype))


@slow_on_tensorflow  # on TensorFlow: the behaviour pin reproduces stored runs
def test_compare_is_deterministic_for_fixed_seeds(tmp_path):
    x, y = _binary(n=500, seed=4)
    runs = []
    for name in ("a", "b"):
        r = compare((x, y), strategies=["baseline"], objective="f1", epochs=2, seeds=1, folds=2,
                    out_dir=tmp_path / name, progress=False)
        runs.append([(rec["strategy"], rec["fold"], rec["objective"]) for rec in r.runs])
    assert runs[0] == runs[1]


# --- decisions inside a saved model ----------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["binary", "multilabel", "multiclass"])
def test_tuned_and_fixed_rules_round_trip_through_a_keras_file(task, tmp_path):
    rng = np.random.default_rng(5)
    n, k = 400, 3
    if task == "binary":
        y = (rng.random(n) < 0.2).astype(np.int64)
        width, objective = 1, "f1"
    elif task == "multilabel":
        y = (rng.random((n, k)) < 0.2).astype(np.int64)
        width, objective = k, "f1"
    else:
        y = rng.choice(k, size=n, p=[0.1, 0.3, 0.6])
        width, objective = k, "recall@precision>=0.5"
    x = rng.normal(size=(n, 4)).astype(np.float32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(width)])
    logits = _logits(model, x).astype(np.float32)
    target = logits[:, 0] if task == "binary" else logits
    kwargs = {"class_id": 0} if task == "multiclass" else {}
    tuner = ThresholdTuner(objective, from_logits=True, on_unreachable="best", **kwargs).fit(y, target)
    rules = [tuner, FixedThreshold("argmax" if task == "multiclass" else 0.0).fit(y, target)]
    for i, rule in enumerate(rules):
        served = keras.Sequential([model, rule.to_layer()])
        path = tmp_path / f"served{i}.keras"
        served.save(path)
        loaded = keras.models.load_model(path)
        got = keras.ops.convert_to_numpy(loaded(x)).reshape(np.shape(rule.predict(target)))
        expected = rule.predict(target)
        if task == "multiclass" and rule is tuner and not has_float64():
            # JAX without x64: the layer's float32 softmax may put the row whose probability *is* the tuned
            # threshold on the other side; every other row decides as the tuner does.
            p0 = np.exp(target[:, 0] - np.logaddexp.reduce(target.astype(np.float64), axis=1))
            at_threshold = np.abs(p0 - tuner.thresholds_[0]) <= 1e-6
            assert np.all(at_threshold[got != expected]) and at_threshold.sum() <= 2
            got, expected = got[~at_threshold], expected[~at_threshold]
        np.testing.assert_array_equal(got, expected)
    if task != "multiclass":  # the tuned rule is each label's best F1 over every threshold (brute force)
        decided = tuner.predict(target).reshape(n, -1)
        columns_y, columns_z = y.reshape(n, -1), target.reshape(n, -1)
        for c in range(columns_y.shape[1]):
            best = max(f1_score(columns_y[:, c], columns_z[:, c] >= t) for t in np.unique(columns_z[:, c]))
            assert f1_score(columns_y[:, c], decided[:, c]) == pytest.approx(best, abs=1e-12)


def test_predict_scores_take_a_model_output_that_requires_grad():
    """PyTorch model outputs require grad; scores must be detached before numpy (the crash of the issue)."""
    x, y = _binary(n=200)
    net = train_strategy("baseline", x, y, epochs=1)
    d = from_arrays("arrays", x, y, None, None)
    probs = predict_scores(d, net, x)
    np.testing.assert_allclose(probs[:, 0], 1 / (1 + np.exp(-_logits(net, x)[:, 0])), rtol=1e-5, atol=1e-6)


def test_this_run_uses_the_backend_it_says():
    assert BACKEND == os.environ.get("KERAS_BACKEND", "tensorflow")
