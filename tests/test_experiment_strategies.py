"""Every registered strategy trains on every task it claims, and the plans it builds are what it says."""

import keras
import numpy as np
import pytest

from imbalance.experiment import Budget, ComparisonData, train_model
from imbalance.experiment.strategies import STRATEGIES, StrategyContext, get_strategy
from imbalance.weighting import pos_weights

BUDGET = Budget(epochs=1, batch_size=32, learning_rate=1e-2)


def _data(task, rng):
    n = 240
    x = rng.normal(size=(n, 6)).astype(np.float32)
    if task == "binary":
        y = (rng.random(n) < 0.15).astype(np.int64)
        y[:10] = 1
        return ComparisonData("t", x, y, task, 2, ["0", "1"])
    if task == "multiclass":
        y = rng.choice(3, size=n, p=[0.1, 0.3, 0.6]).astype(np.int64)
        y[:10] = 0
        return ComparisonData("t", x, y, task, 3, ["a", "b", "c"])
    y = (rng.random((n, 4)) < [0.05, 0.1, 0.2, 0.3]).astype(np.int64)
    y[:10, 0] = 1
    return ComparisonData("t", x, y, task, 4, list("abcd"))


CASES = [(name, task) for name, s in sorted(STRATEGIES.items()) for task in s.tasks]


@pytest.mark.parametrize("name, task", CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_strategy_trains_on_every_task_it_claims(name, task, rng):
    d = _data(task, rng)
    net, seen = train_model(d, name, d.x, d.y, BUDGET, "mlp", seed=0)
    out = np.asarray(net(d.x[:5], training=False))
    assert out.shape == (5, 1 if task == "binary" else d.num_classes)
    assert np.all(np.isfinite(out))
    assert all(np.isfinite(w).all() for w in net.get_weights())
    if seen is not None:
        assert len(seen) == d.num_classes and np.all(np.asarray(seen) >= 0)


def test_plans_use_the_data_derived_weights(rng):
    d = _data("multilabel", rng)
    ctx = StrategyContext(task="multilabel", num_classes=4, x=d.x, y=d.y, epochs=1, batch_size=32, seed=0)
    loss = get_strategy("weighted_bce").build(ctx).loss
    np.testing.assert_allclose(loss.get_config()["pos_weight"], pos_weights(d.y.astype(np.float32)), rtol=1e-6)
    d = _data("binary", rng)
    ctx = StrategyContext(task="binary", num_classes=2, x=d.x, y=d.y, epochs=1, batch_size=32, seed=0)
    weights = get_strategy("class_weight").build(ctx).fit_inputs["sample_weight"]
    n, n1 = len(d.y), d.y.sum()
    expected = np.where(d.y == 1, n / (2 * n1), n / (2 * (n - n1)))  # scikit-learn's "balanced"
    np.testing.assert_allclose(weights, expected, rtol=1e-6)


def test_oversampling_plan_sees_balanced_classes(rng):
    d = _data("multiclass", rng)
    ctx = StrategyContext(task="multiclass", num_classes=3, x=d.x, y=d.y, epochs=1, batch_size=32, seed=0)
    plan = get_strategy("oversample").build(ctx)
    seen = np.concatenate([np.asarray(yb) for _, yb in plan.fit_inputs["x"]])
    counts = np.bincount(seen, minlength=3)
    assert counts.sum() == len(d.y)  # same epoch size as the data: the same number of gradient steps
    assert np.abs(counts - len(d.y) / 3).max() <= 1
    keras.backend.clear_session()
