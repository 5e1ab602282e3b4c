"""One suite run over every loss: finite at extreme logits (float32 and mixed_float16), save/load round trip,
config round trip, and `model.fit` decreases the loss. Add each new loss to LOSSES and it gets every check."""

import keras
import numpy as np
import pytest
from backend_tools import has_float64, value_and_gradient

from imbalance.losses import (
    AsymmetricLoss,
    BinaryFocalLoss,
    CategoricalFocalLoss,
    CostSensitiveCrossentropy,
    LDAMLoss,
    LogitAdjustedLoss,
    SparseCategoricalFocalLoss,
    WeightedBinaryCrossentropy,
)

K = 3
COUNTS = [50.0, 10.0, 2.0]
COST = [[0.0, 1.0, 1.0], [4.0, 0.0, 1.0], [4.0, 1.0, 0.0]]

LOSSES = {  # name: (factory, label kind)
    "wbce": (lambda: WeightedBinaryCrossentropy(pos_weight=[1.0, 5.0, 20.0], from_logits=True), "multi_hot"),
    "wbce_scalar_probs": (lambda: WeightedBinaryCrossentropy(pos_weight=3.0), "multi_hot"),
    "binary_focal": (lambda: BinaryFocalLoss(gamma=2.0, alpha=0.25, from_logits=True), "multi_hot"),
    "binary_focal_small_gamma": (lambda: BinaryFocalLoss(gamma=0.5, alpha=[0.2, 0.5, 0.9], from_logits=True), "multi_hot"),
    "categorical_focal": (lambda: CategoricalFocalLoss(gamma=2.0, alpha=[0.2, 1.0, 3.0], from_logits=True), "one_hot"),
    "categorical_focal_small_gamma": (lambda: CategoricalFocalLoss(gamma=0.5, from_logits=True), "one_hot"),
    "sparse_focal": (lambda: SparseCategoricalFocalLoss(gamma=2.0, from_logits=True), "sparse"),
    "cost_sensitive": (lambda: CostSensitiveCrossentropy(COST, from_logits=True), "one_hot"),
    "cost_sensitive_sparse": (lambda: CostSensitiveCrossentropy(COST, from_logits=True, sparse=True), "sparse"),
    "logit_adjusted": (lambda: LogitAdjustedLoss(COUNTS, tau=1.0), "sparse"),
    "logit_adjusted_one_hot": (lambda: LogitAdjustedLoss(COUNTS, tau=2.0, sparse=False), "one_hot"),
    "ldam": (lambda: LDAMLoss(COUNTS, max_margin=0.5, scale=30.0), "sparse"),
    "ldam_weighted": (lambda: LDAMLoss(COUNTS, scale=5.0, class_weight=[0.5, 1.0, 2.0]), "sparse"),
    "asymmetric": (lambda: AsymmetricLoss(from_logits=True), "multi_hot"),
    "asymmetric_no_clip": (lambda: AsymmetricLoss(gamma_neg=0.5, gamma_pos=0.0, clip=0.0, from_logits=True), "multi_hot"),
}
PARAMS = [pytest.param(*spec, id=name) for name, spec in LOSSES.items()]
LOGIT_LOSSES = [p for p in PARAMS if p.id != "wbce_scalar_probs"]

EXTREMES = np.array([-1e4, -100.0, 0.0, 100.0, 1e4])


def make_labels(kind, n, rng):
    ids = rng.integers(0, K, size=n)
    if kind == "sparse":
        return ids.astype("int32")
    if kind == "one_hot":
        return np.eye(K, dtype="float32")[ids]
    y = (rng.random((n, K)) < 0.4).astype("float32")
    y[np.arange(n), ids] = 1.0  # at least one positive per row, and every label present
    return y


def extreme_logits():
    """Every ordered combination of extreme values over K columns (5**3 = 125 rows)."""
    grid = np.stack(np.meshgrid(*[EXTREMES] * K, indexing="ij"), axis=-1).reshape(-1, K)
    return grid


@pytest.mark.parametrize("make_loss, kind", LOGIT_LOSSES)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_finite_value_and_gradient_at_extreme_logits(make_loss, kind, dtype):
    if dtype == "float64" and not has_float64():
        pytest.skip("JAX without jax_enable_x64 computes no float64 (it would silently run float32)")
    rng = np.random.default_rng(0)
    logits = extreme_logits()
    loss = make_loss()
    for _ in range(3):  # several label draws against the same extreme logits
        y = make_labels(kind, len(logits), rng)
        value, grad = value_and_gradient(lambda z: loss(y, z), logits.astype(dtype))
        assert np.isfinite(value), f"loss is {value}"
        assert np.all(np.isfinite(grad)), "non-finite gradient"


@pytest.mark.parametrize("make_loss, kind", LOGIT_LOSSES)
def test_training_step_under_mixed_float16_stays_finite(make_loss, kind):
    keras.config.set_dtype_policy("mixed_float16")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = make_labels(kind, 64, rng)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(K, kernel_initializer=keras.initializers.RandomNormal(stddev=3000.0)),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(1e-6), loss=make_loss())
    out = model.predict(x, verbose=0)
    assert model.layers[-1].compute_dtype == "float16"
    assert np.abs(out).max() > 1000  # the logits really are extreme in float16
    value = model.train_on_batch(x, y)
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def _small_problem(kind, rng, n=256):
    y = make_labels(kind, n, rng)
    target = y if kind != "sparse" else np.eye(K)[y]
    x = (target @ rng.normal(size=(K, 6)) + 0.5 * rng.normal(size=(n, 6))).astype("float32")
    return x, y


def _model(activation=None):
    return keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(K, activation=activation)]
    )


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("make_loss, kind", PARAMS)
def test_round_trip_through_a_saved_model(make_loss, kind, tmp_path):
    rng = np.random.default_rng(2)
    x, y = _small_problem(kind, rng, n=64)
    loss = make_loss()
    activation = None if getattr(loss, "from_logits", True) else "sigmoid"
    model = _model(activation)
    model.compile(optimizer="adam", loss=loss)
    before = model.evaluate(x, y, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    after = loaded.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(after, before, rtol=1e-6)


@pytest.mark.parametrize("make_loss, kind", PARAMS)
def test_config_round_trip_gives_the_same_values(make_loss, kind):
    rng = np.random.default_rng(3)
    loss = make_loss()
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    y = make_labels(kind, 32, rng)
    z = rng.normal(size=(32, K)).astype("float32") * 3
    if not getattr(loss, "from_logits", True):
        z = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(float(clone(y, z)), float(loss(y, z)), rtol=1e-7)
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"].startswith("imbalance>")
    restored = keras.saving.deserialize_keras_object(serialized)
    np.testing.assert_allclose(float(restored(y, z)), float(loss(y, z)), rtol=1e-7)


@pytest.mark.parametrize("make_loss, kind", PARAMS)
def test_fit_for_two_epochs_decreases_the_loss(make_loss, kind):
    rng = np.random.default_rng(4)
    x, y = _small_problem(kind, rng)
    loss = make_loss()
    activation = None if getattr(loss, "from_logits", True) else "sigmoid"
    model = _model(activation)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    start = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False)
    end = model.evaluate(x, y, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert end < start
