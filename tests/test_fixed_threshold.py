"""FixedThreshold: the untuned decision rule, with ThresholdTuner's interface, checked against numpy formulas."""

import keras
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from imbalance.thresholds import ArgmaxLayer, FixedThreshold, ThresholdLayer, ThresholdTuner


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("value", [0.5, 0.3, "0.5", 0.0, 1.0])
def test_binary_decisions_are_score_at_least_the_rule(rng, value):
    y = (rng.random(200) < 0.2).astype(int)
    s = rng.random(200).astype(np.float32)
    rule = FixedThreshold(value).fit(y, s)
    assert np.array_equal(rule.predict(s), (s >= float(value)).astype(int))
    assert np.array_equal(rule.predict(s.reshape(-1, 1)), (s.reshape(-1, 1) >= float(value)).astype(int))
    assert rule.thresholds_.tolist() == [float(value)] and rule.task_ == "binary"


def test_multilabel_decisions_are_per_column(rng):
    y = (rng.random((100, 5)) < 0.2).astype(int)
    y[0] = 1  # some rows with several labels: multi-hot
    s = rng.random((100, 5))
    rule = FixedThreshold(0.4).fit(y, s)
    assert rule.task_ == "multilabel" and rule.thresholds_.tolist() == [0.4] * 5
    assert np.array_equal(rule.predict(s), (s >= 0.4).astype(int))


def test_multiclass_argmax_and_class_rule(rng):
    y = rng.integers(0, 4, size=300)
    p = _softmax(rng.normal(size=(300, 4)) * 2)
    argmax = FixedThreshold("argmax").fit(y, p)
    assert np.array_equal(argmax.predict(p), p.argmax(axis=1)) and argmax.thresholds_.size == 0
    rule = FixedThreshold(0.3, class_id=2).fit(y, p)
    others = p.copy()
    others[:, 2] = -1
    expected = np.where(p[:, 2] >= 0.3, 2, others.argmax(axis=1))
    assert np.array_equal(rule.predict(p), expected)
    assert not np.array_equal(rule.predict(p), p.argmax(axis=1))  # the class rule is not argmax
    # the same rule as a tuned threshold of that value would be: ThresholdTuner's multi-class decisions
    tuner = ThresholdTuner("f1", class_id=2).fit(y, p)
    tuner.score_thresholds_ = np.array([0.3])
    assert np.array_equal(tuner.predict(p), rule.predict(p))


@pytest.mark.parametrize("make, y, s", [
    (lambda: FixedThreshold(0.5), np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.5, 0.9], np.float32)),
    (lambda: FixedThreshold(0.5), np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]]),
     np.array([[0.6, 0.1, 0.5], [0.2, 0.9, 0.4], [0.5, 0.49, 0.1], [0.1, 0.2, 0.3]], np.float32)),
    (lambda: FixedThreshold("argmax"), np.array([0, 1, 2, 1]),
     np.array([[0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.4, 0.35, 0.25]], np.float32)),
    (lambda: FixedThreshold(0.3, class_id=0), np.array([0, 1, 2, 1]),
     np.array([[0.5, 0.3, 0.2], [0.25, 0.6, 0.15], [0.31, 0.3, 0.39], [0.4, 0.35, 0.25]], np.float32)),
])
def test_the_layer_in_a_saved_model_decides_like_predict(tmp_path, make, y, s):
    rule = make().fit(y, s)
    layer = rule.to_layer(name="decisions")
    assert isinstance(layer, ArgmaxLayer if rule.rule_ == "argmax" else ThresholdLayer)
    inputs = keras.Input(s.shape[1:] if s.ndim == 2 else (1,))
    model = keras.Model(inputs, {"decisions": layer(inputs)})
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = s if s.ndim == 2 else s.reshape(-1, 1)
    out = np.asarray(loaded.predict(x, verbose=0)["decisions"]).reshape(rule.predict(s).shape)
    assert np.array_equal(out, rule.predict(s))


def test_save_and_load_round_trip(tmp_path):
    rule = FixedThreshold(0.25, class_id=1).fit([0, 1, 2], [[0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    rule.save(tmp_path / "r.json")
    again = FixedThreshold.load(tmp_path / "r.json")
    p = np.array([[0.6, 0.26, 0.14], [0.5, 0.2, 0.3]])
    assert np.array_equal(again.predict(p), rule.predict(p)) and again.predict(p).tolist() == [1, 0]
    assert (again.task_, again.class_id_, again.thresholds_.tolist()) == ("multiclass", 1, [0.25])
    (tmp_path / "bad.json").write_text('{"format": "imbalance.ThresholdTuner"}')
    with pytest.raises(ValueError, match="Not a saved FixedThreshold"):
        FixedThreshold.load(tmp_path / "bad.json")


@pytest.mark.parametrize("rule", [-0.1, 1.5, "median", True, None, float("nan")])
def test_a_bad_rule_is_refused_quoting_it(rule):
    with pytest.raises(ValueError, match="Received: rule="):
        FixedThreshold(rule).fit([0, 1], [0.2, 0.8])


def test_errors_name_what_is_missing():
    with pytest.raises(NotFittedError, match="not fitted"):
        FixedThreshold().predict([0.5])
    with pytest.raises(ValueError, match="need `class_id`"):
        FixedThreshold(0.5).fit([0, 1, 2], np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="rule='argmax' decides multi-class scores"):
        FixedThreshold("argmax").fit([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="`scores` must be finite"):
        FixedThreshold().fit([0, 1], [0.2, float("nan")])
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        FixedThreshold("argmax").fit([0, 1, 2], np.eye(3)).predict(np.ones((2, 4)))
    assert repr(FixedThreshold(0.5)) == "FixedThreshold(0.5)" and FixedThreshold("argmax").describe() == "argmax"
