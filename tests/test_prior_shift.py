"""prior_shift (Saerens et al. 2002) against exact posteriors of known generative models and a real resampled fit."""

import numpy as np
import pytest
from scipy import stats

from imbalance.thresholds import prior_shift


def _gaussian_posterior(x, means, prior):
    """Exact p(k | x) for 1-D unit-variance Gaussian classes with the given means and prior."""
    joint = np.asarray(prior) * stats.norm.pdf(np.asarray(x)[:, None] - np.asarray(means)[None, :])
    return joint / joint.sum(axis=1, keepdims=True)


def test_binary_matches_the_exact_posterior_under_the_new_prior(rng):
    x = rng.normal(size=2000) * 2
    balanced = _gaussian_posterior(x, [0.0, 1.5], [0.5, 0.5])[:, 1]
    exact = _gaussian_posterior(x, [0.0, 1.5], [0.97, 0.03])[:, 1]
    assert np.allclose(prior_shift(balanced, 0.5, 0.03), exact, rtol=1e-10, atol=1e-15)
    assert np.allclose(prior_shift(balanced, [0.5, 0.5], [0.97, 0.03]), exact, rtol=1e-10, atol=1e-15)
    column = prior_shift(balanced.reshape(-1, 1), 0.5, 0.03)
    assert column.shape == (2000, 1) and np.allclose(column[:, 0], exact)


def test_multiclass_matches_the_exact_posterior_under_the_new_prior(rng):
    x = rng.normal(size=1500) * 2
    means, old, new = [-1.0, 0.5, 2.0], [0.2, 0.5, 0.3], [0.05, 0.15, 0.8]
    shifted = prior_shift(_gaussian_posterior(x, means, old), old, new)
    assert np.allclose(shifted, _gaussian_posterior(x, means, new), rtol=1e-10, atol=1e-15)
    assert np.allclose(shifted.sum(axis=1), 1.0)


def test_multilabel_corrects_each_label_as_a_binary_problem(rng):
    p = rng.random((300, 3))
    old, new = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.3, 0.05])
    shifted = prior_shift(p, old, new)
    for j in range(3):
        assert np.allclose(shifted[:, j], prior_shift(p[:, j], old[j], new[j]))
    assert np.allclose(shifted[:, 1], p[:, 1])  # unchanged prior: unchanged probabilities
    assert np.allclose(prior_shift(p, 0.5, 0.1), prior_shift(p, [0.5] * 3, [0.1] * 3))
    # Rows that sum to 1 read as multi-class unless the task says otherwise.
    rows = p / p.sum(axis=1, keepdims=True)
    assert np.allclose(prior_shift(rows, old, new, task="multilabel")[:, 0], prior_shift(rows[:, 0], 0.5, 0.1))


@pytest.mark.parametrize("case", ["binary", "multilabel", "multiclass"])
def test_round_trip_returns_the_input(case, rng):
    if case == "binary":
        p, a, b = rng.random(500), 0.5, 0.02
    elif case == "multilabel":
        p, a, b = rng.random((500, 4)), [0.5, 0.4, 0.3, 0.2], [0.01, 0.2, 0.6, 0.3]
    else:
        z = rng.normal(size=(500, 4)) * 3
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        a, b = [0.25] * 4, [0.7, 0.1, 0.1, 0.1]
    there = prior_shift(p, a, b)
    assert not np.allclose(there, p)
    assert np.allclose(prior_shift(there, b, a), p, rtol=1e-12, atol=1e-15)


def test_exact_at_zero_and_one_and_keeps_float32():
    out = prior_shift(np.array([0.0, 1.0, 0.5], dtype=np.float32), 0.5, 0.01)
    assert out.dtype == np.float32
    assert out.tolist()[:2] == [0.0, 1.0] and out[2] == pytest.approx(0.01)


def test_corrected_mean_matches_the_true_base_rate_after_resampling_to_50_50(rng):
    """A logistic regression trained on data undersampled to 50/50 (imbalanced-learn) overestimates the positive
    rate; corrected from prior 0.5 to the true 5 %, its mean probability on fresh data is the base rate."""
    from imblearn.under_sampling import RandomUnderSampler
    from sklearn.linear_model import LogisticRegression

    base_rate, mu = 0.05, 2.0

    def sample(n):
        y = (rng.random(n) < base_rate).astype(int)
        return (rng.normal(size=n) + mu * y).reshape(-1, 1), y

    x, y = sample(100_000)
    x_bal, y_bal = RandomUnderSampler(random_state=0).fit_resample(x, y)
    assert y_bal.mean() == 0.5
    model = LogisticRegression().fit(x_bal, y_bal)
    x_new, y_new = sample(200_000)
    raw = model.predict_proba(x_new)[:, 1]
    corrected = prior_shift(raw, train_prior=0.5, target_prior=base_rate)
    assert raw.mean() > 0.2  # the uncorrected model is far off
    assert abs(corrected.mean() - base_rate) < 0.01
    assert abs(corrected.mean() - y_new.mean()) < 0.01
    # The exact posterior of the generative model agrees too.
    exact = _gaussian_posterior(x_new[:, 0], [0.0, mu], [1 - base_rate, base_rate])[:, 1]
    assert np.abs(corrected - exact).max() < 0.02


@pytest.mark.parametrize("args, message", [
    (([0.2, 0.9], 0.0, 0.1), r"must be in \(0, 1\).*entry 0 is 0.0"),
    (([0.2, 0.9], 0.5, 1.0), r"target_prior.*must be in \(0, 1\)"),
    (([0.2, 0.9], [0.4, 0.4], 0.1), "must sum to 1; they sum to 0.8"),
    (([0.2, 0.9], [0.2, 0.3, 0.5], 0.1), r"positive rate \(a scalar\) or \[p\(0\), p\(1\)\]"),
    (([[0.2, 0.3, 0.5]], [0.3, 0.3, 0.3], [0.2, 0.3, 0.5]), "must sum to 1"),
    (([[0.2, 0.3, 0.5]], [0.5, 0.5], [0.2, 0.3, 0.5]), "a scalar or 3 values"),
    (([[0.2, 0.3, 0.5]], 0.3, [0.2, 0.3, 0.5]), "must hold 3 class priors"),
    (([0.2, 1.5], 0.5, 0.1), "probabilities in \\[0, 1\\].*row 1 holds 1.5"),
    (([0.2, np.nan], 0.5, 0.1), "row 1 holds nan"),
    (([[0.2, 0.3, 0.6]], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5], "multiclass"), "row 0 sums to"),
    (([[0.2, 0.3]], 0.5, 0.1, "binary"), r"shape \(n,\) or \(n, 1\)"),
    (([0.2], 0.5, 0.1, "ranking"), "must be one of"),
])
def test_bad_priors_and_probabilities(args, message):
    with pytest.raises(ValueError, match=message):
        prior_shift(*args)
