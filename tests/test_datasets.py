"""Embedded demo datasets: seed 002's generator reproduced exactly, a long tail with class 0 rarest, fraud with signal."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from imbalance.datasets import load_demo, multilabel30, multilabel30_bayes_f1


def seed_002_loop(n_observations, outputs=30):
    """The seed question's generator, verbatim apart from the size (it seeds the global RNG with 0)."""
    np.random.seed(0)
    y = np.random.rand(n_observations, outputs)
    y = (y <= (1 / outputs)).astype(int)
    X = np.zeros((n_observations, outputs))
    for i in range(len(y)):
        for j, feature in enumerate(y[i]):
            if feature == 1:
                X[i][j] = 1 if np.random.rand(1) > 0.9 else 0
    return X, y


def test_multilabel30_reproduces_the_seed_generator_exactly():
    x_seed, y_seed = seed_002_loop(2000)
    data = multilabel30(n_samples=2000, seed=0)
    np.testing.assert_array_equal(data.y, y_seed)
    np.testing.assert_array_equal(data.x, x_seed)


def test_multilabel30_bayes_f1_matches_a_brute_force_over_rules_on_a_large_sample():
    x, y = multilabel30(n_samples=200000, seed=3)
    lit = x == 1
    # The two candidate optimal rules: predict lit cells only, or everything.
    rules = {"lit": lit, "all": np.ones_like(lit)}
    f1 = {}
    for name, pred in rules.items():
        tp = np.sum(pred & (y == 1))
        f1[name] = 2 * tp / (pred.sum() + y.sum())
    assert max(f1.values()) == pytest.approx(multilabel30_bayes_f1(), abs=0.003)
    assert multilabel30_bayes_f1() == pytest.approx(2 / 11)


def test_digits_lt_is_long_tailed_with_class_0_rarest():
    data = load_demo("digits_lt")
    counts = np.bincount(data.y, minlength=10)
    assert counts.argmin() == 0 and counts.argmax() == 9
    assert counts[9] / counts[0] == pytest.approx(10, rel=0.15)
    assert np.all(np.diff(counts) > 0)
    assert data.x.min() >= 0 and data.x.max() <= 1 and data.x.shape[1] == 64


def test_fraud_has_one_percent_positives_and_real_signal():
    x, y = load_demo("fraud", n_samples=20000)
    assert y.mean() == pytest.approx(0.01, abs=0.002)
    model = LogisticRegression(max_iter=1000).fit(x[:10000], y[:10000])
    ap = average_precision_score(y[10000:], model.predict_proba(x[10000:])[:, 1])
    assert ap > 0.2  # far above the 0.01 base rate: something to learn


def test_unknown_demo_lists_the_choices():
    with pytest.raises(ValueError, match="digits_lt, fraud, multilabel30"):
        load_demo("mnist")
