"""The threshold layer: a saved and reloaded model serves the same decisions as ThresholdTuner.predict."""

import warnings

import keras
import numpy as np
import pytest
from backend_tools import has_float64

from imbalance.thresholds import ThresholdLayer, ThresholdTuner, UnreachableTargetWarning


def _model(outputs, activation, features=6, seed=0):
    inputs = keras.Input((features,))
    hidden = keras.layers.Dense(8, activation="relu", kernel_initializer=keras.initializers.GlorotNormal(seed))(inputs)
    scores = keras.layers.Dense(outputs, activation=activation,
                                kernel_initializer=keras.initializers.GlorotNormal(seed + 1))(hidden)
    return keras.Model(inputs, scores)


def _data(rng, n=300, features=6):
    x = rng.normal(size=(n, features)).astype("float32")
    return x


def _reload(model, tmp_path, name="served.keras"):
    path = tmp_path / name
    model.save(path)
    return keras.models.load_model(path)


def test_binary_sequential_round_trip(tmp_path, rng):
    x = _data(rng)
    base = _model(1, "sigmoid")
    scores = base.predict(x, verbose=0)
    y = (scores[:, 0] + 0.1 * rng.normal(size=len(x)) > np.median(scores)).astype(int)
    tuner = ThresholdTuner("f1").fit(y, scores)
    served = keras.Sequential([base, tuner.to_layer()])
    loaded = _reload(served, tmp_path)
    decisions = loaded.predict(x, verbose=0)
    assert decisions.shape == (len(x), 1) and decisions.dtype == np.int32
    assert np.array_equal(decisions, tuner.predict(scores))
    assert 0 < decisions.sum() < len(x)  # the threshold splits the rows: the comparison is not trivial


def test_multilabel_functional_model_serves_scores_and_decisions(tmp_path, rng):
    x = _data(rng)
    base = _model(4, "sigmoid", seed=2)
    scores = base.predict(x, verbose=0)
    y = (scores + 0.05 * rng.normal(size=scores.shape) > np.quantile(scores, 0.8, axis=0)).astype(int)
    tuner = ThresholdTuner("recall@precision>=0.7", on_unreachable="best")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableTargetWarning)
        tuner.fit(y, scores)
    inputs = keras.Input((6,))
    out = base(inputs)
    served = keras.Model(inputs, [out, tuner.to_layer(name="decisions")(out)])
    loaded = _reload(served, tmp_path)
    loaded_scores, decisions = loaded.predict(x, verbose=0)
    assert np.array_equal(loaded_scores, scores)
    assert decisions.shape == (len(x), 4)
    assert np.array_equal(decisions, tuner.predict(scores))
    assert len(set(tuner.thresholds_.tolist())) == 4  # one threshold per label, all in use


def test_multiclass_class_id_round_trip(tmp_path, rng):
    x = 3 * _data(rng, n=400)
    base = _model(3, "softmax", seed=30)
    scores = base.predict(x, verbose=0)
    y = np.argmax(scores + 0.1 * rng.normal(size=scores.shape), axis=1)
    tuner = ThresholdTuner("recall@precision>=0.6", class_id=0, confidence=None).fit(y, scores)
    served = keras.Sequential([base, tuner.to_layer()])
    loaded = _reload(served, tmp_path)
    decisions = loaded.predict(x, verbose=0)
    assert decisions.shape == (len(x),)
    expected = tuner.predict(scores)
    assert np.array_equal(decisions, expected)
    assert set(expected.tolist()) == {0, 1, 2}
    # The rule differs from argmax: some rows go to class 0 although it is not their most probable class, or back.
    assert np.any(expected != np.argmax(scores, axis=1))


def test_binary_from_logits_compares_logits_exactly(tmp_path, rng):
    x = _data(rng)
    base = _model(1, None, seed=6)
    logits = base.predict(x, verbose=0) * 20.0  # large logits: their sigmoids saturate in float32
    scaled = keras.Sequential([base, keras.layers.Rescaling(20.0)])
    assert np.array_equal(scaled.predict(x, verbose=0), logits)
    y = (logits[:, 0] > np.quantile(logits, 0.7)).astype(int)
    y[:10] = 1 - y[:10]
    tuner = ThresholdTuner("f1", from_logits=True).fit(y, logits)
    loaded = _reload(keras.Sequential([scaled, tuner.to_layer()]), tmp_path)
    assert np.array_equal(loaded.predict(x, verbose=0), tuner.predict(logits))
    assert tuner.thresholds_[0] == pytest.approx(1 / (1 + np.exp(-tuner.score_thresholds_[0])))


def test_multiclass_from_logits_applies_softmax(tmp_path, rng):
    x = _data(rng)
    base = _model(3, None, seed=8)
    logits = base.predict(x, verbose=0)
    y = np.argmax(logits + 0.3 * rng.normal(size=logits.shape), axis=1)
    tuner = ThresholdTuner("f1", class_id=2, from_logits=True).fit(y, logits)
    loaded = _reload(keras.Sequential([base, tuner.to_layer()]), tmp_path)
    decisions = loaded.predict(x, verbose=0)
    expected = tuner.predict(logits)
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    at_threshold = np.abs(p[:, 2] - tuner.thresholds_[0]) < 1e-12  # a softmax may differ in the last bit there
    assert np.array_equal(decisions[~at_threshold], expected[~at_threshold])
    assert at_threshold.sum() <= 1


def test_predict_nothing_threshold_survives_saving(tmp_path, rng):
    x = _data(rng, n=200)
    base = _model(1, "sigmoid", seed=10)
    scores = base.predict(x, verbose=0)
    y = (rng.random(len(x)) < 0.3).astype(int)
    y[np.argmax(scores)] = 0
    tuner = ThresholdTuner("cost:fp=100,fn=1").fit(y, scores)
    assert np.isinf(tuner.thresholds_[0])
    loaded = _reload(keras.Sequential([base, tuner.to_layer()]), tmp_path)
    assert loaded.predict(x, verbose=0).sum() == 0


def test_layer_config_round_trip_and_direct_call():
    layer = ThresholdLayer([0.2, 0.5, 0.9], task="multilabel", name="cut")
    clone = ThresholdLayer.from_config(layer.get_config())
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    # JAX without x64 holds no float64 array: there the scores are float32, as its models output them, and they
    # must still be decided as the float64 comparison decides them (0.9f < 0.9, 0.2f > 0.2)
    dtype = "float64" if has_float64() else "float32"
    scores = np.array([[0.2, 0.49, 0.95], [0.1, 0.5, 0.9]], dtype=dtype)
    expected = (scores.astype(np.float64) >= np.array([0.2, 0.5, 0.9])).astype(np.int32)
    for candidate in (layer, clone, restored):
        assert np.array_equal(keras.ops.convert_to_numpy(candidate(scores)), expected)
    assert clone.get_config()["thresholds"] == [0.2, 0.5, 0.9] and restored.name == "cut"
    if has_float64():  # float64 scores are not rounded to float32 before the comparison
        tight = ThresholdLayer([0.1 + 1e-12])
        assert keras.ops.convert_to_numpy(tight(np.array([[0.1 + 1e-12], [0.1]]))).ravel().tolist() == [1, 0]


@pytest.mark.parametrize("kwargs, shape, message", [
    ({"thresholds": [0.5, 0.5], "task": "multilabel"}, (None, 3), "2 thresholds but its input has 3 columns"),
    ({"thresholds": [0.5], "task": "multiclass", "class_id": 3}, (None, 3), "class_id=3 but its input has 3"),
    ({"thresholds": [0.5], "task": "binary"}, (None, 2), "one score column"),
])
def test_layer_rejects_mismatched_inputs(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        ThresholdLayer(**kwargs)(keras.Input(shape[1:]))


@pytest.mark.parametrize("kwargs, message", [
    ({"thresholds": [0.5], "task": "multiclass"}, "needs a class_id"),
    ({"thresholds": [0.5, 0.6], "task": "binary"}, "takes one threshold"),
    ({"thresholds": [0.5], "task": "binary", "class_id": 0}, "only for task='multiclass'"),
    ({"thresholds": [0.5], "task": "ranking"}, "must be one of"),
    ({"thresholds": [], "task": "multilabel"}, "non-empty"),
])
def test_layer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThresholdLayer(**kwargs)
