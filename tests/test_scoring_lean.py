"""The flat-memory binary curve ``compare`` uses on millions of test rows equals scikit-learn's, point for point."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve

from imbalance.experiment import scoring


@pytest.mark.parametrize("ties", [False, True])
def test_the_lean_curve_and_average_precision_equal_scikit_learn(monkeypatch, ties):
    monkeypatch.setattr(scoring, "LEAN_CURVE_ROWS", 0)
    rng = np.random.default_rng(1 + ties)
    y = (rng.random(5000) < 0.03).astype(np.int8)
    s = (rng.random(5000) * 0.6 + 0.4 * y).astype(np.float32)
    if ties:
        s = np.round(s, 2)
    precision, recall = scoring._precision_recall(y, s)
    ref_p, ref_r, _ = precision_recall_curve(y, s)
    np.testing.assert_allclose(precision, ref_p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(recall, ref_r, rtol=0, atol=1e-12)
    assert scoring._average_precision(precision, recall) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_evaluate_gives_the_same_numbers_on_either_path(monkeypatch):
    from imbalance.data.sources import ArraySource
    from imbalance.experiment.data import from_source
    from imbalance.thresholds import parse_objective

    rng = np.random.default_rng(5)
    y = (rng.random(4000) < 0.05).astype(np.int8)
    s = np.clip(rng.random(4000) * 0.7 + 0.3 * y, 0, 1).astype(np.float32)[:, None]
    d = from_source(ArraySource(np.zeros((4000, 1), np.float32), y))
    rule, _ = scoring.tune(d, "f1", None, 0.9, y, s)
    reference = scoring.evaluate(d, parse_objective("f1"), None, rule, y, s)
    monkeypatch.setattr(scoring, "LEAN_CURVE_ROWS", 0)
    lean = scoring.evaluate(d, parse_objective("f1"), None, rule, y, s)
    _same(lean, reference)


def _same(lean, reference):
    assert lean.keys() == reference.keys()
    for key, value in reference.items():
        if isinstance(value, float):
            assert lean[key] == pytest.approx(value, abs=1e-12, nan_ok=True), key
        else:
            assert lean[key] == value, key


def test_multiclass_counts_equal_scikit_learn_on_the_lean_path(monkeypatch):
    """Confusion matrix, balanced accuracy and per-class precision / recall from one bincount, a class never
    predicted and one absent from the test rows included."""
    from imbalance.data.sources import ArraySource
    from imbalance.experiment.data import from_source
    from imbalance.thresholds import parse_objective

    rng = np.random.default_rng(7)
    y = rng.choice(4, size=3000, p=[0.1, 0.3, 0.6, 0.0]).astype(np.int8)
    s = rng.dirichlet(np.ones(4), size=3000).astype(np.float32)
    s[:, 3] = 0.0  # class 3: absent and never predicted
    d = from_source(ArraySource(np.zeros((3000, 1), np.float32), np.r_[y[:-1], 3]))
    for class_id in (None, 0):
        goal = parse_objective("f1")
        rule = None if class_id is None else scoring.tune(d, "f1", class_id, 0.9, y, s)[0]
        monkeypatch.setattr(scoring, "LEAN_CURVE_ROWS", 1_000_000)
        reference = scoring.evaluate(d, goal, class_id, rule, y, s)
        monkeypatch.setattr(scoring, "LEAN_CURVE_ROWS", 0)
        _same(scoring.evaluate(d, goal, class_id, rule, y, s), reference)
