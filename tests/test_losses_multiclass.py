"""Multi-class losses (cost-sensitive CE, logit adjustment, LDAM + DRW) against numpy references written here.

The cross-loss checks (finite at extreme logits, save/load round trip, training decreases the loss) live in the
shared conformance suite; this file pins each formula, its identities and its error messages.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from imbalance.losses import (
    CostSensitiveCrossentropy,
    DeferredReweighting,
    LDAMLoss,
    LogitAdjustedLoss,
    cost_sensitive_crossentropy,
    ldam_loss,
    logit_adjusted_loss,
)

K = 4
N = 32
RTOL = 1e-5
ATOL = 1e-6  # float32 evaluation of values near 0 (a confident correct prediction)


# --- numpy references ---------------------------------------------------------------------------------------


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_one_hot(ids: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[np.asarray(ids).reshape(-1)]


def np_logits_of(y_pred: np.ndarray, from_logits: bool) -> np.ndarray:
    """Probabilities are read as Keras reads them: clipped to [1e-7, 1], renormalised by the softmax of their log."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    return y_pred if from_logits else np.log(np.clip(y_pred, 1e-7, 1.0))


def np_cost_sensitive(y_onehot, y_pred, cost, from_logits):
    log_p = np_log_softmax(np_logits_of(y_pred, from_logits))
    p = np.exp(log_p)
    cross_entropy = -(y_onehot * log_p).sum(-1)
    expected_cost = y_onehot @ np.asarray(cost, dtype=np.float64)
    return cross_entropy - (expected_cost * np.log1p(-p)).sum(-1)


def np_logit_adjusted(y_onehot, logits, counts, tau):
    prior = np.asarray(counts, dtype=np.float64) / np.sum(counts)
    return -(y_onehot * np_log_softmax(np.asarray(logits, np.float64) + tau * np.log(prior))).sum(-1)


def np_ldam(y_onehot, logits, counts, max_margin, scale, weights=None):
    # Cao et al. (2019), eq. (13): Δ_j = C / n_j^(1/4), with C chosen so the largest margin is max_margin.
    counts = np.asarray(counts, dtype=np.float64)
    c = max_margin * counts.min() ** 0.25
    delta = c / counts**0.25
    z = np.asarray(logits, dtype=np.float64)
    margin_of_true = (y_onehot * delta).sum(-1, keepdims=True)
    shifted = scale * (z - margin_of_true * y_onehot)
    loss = -(y_onehot * np_log_softmax(shifted)).sum(-1)
    if weights is not None:
        loss = (y_onehot @ np.asarray(weights, dtype=np.float64)) * loss
    return loss


def np_effective_number(counts, beta=0.9999):
    counts = np.asarray(counts, dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return weights / weights.sum() * len(counts)


# --- data ---------------------------------------------------------------------------------------------------


def random_batch(rng, from_logits=True, k=K, n=N):
    ids = rng.integers(0, k, size=n)
    if from_logits:
        y_pred = rng.normal(scale=3.0, size=(n, k)).astype("float32")
    else:
        y_pred = rng.dirichlet(np.ones(k), size=n).astype("float32")
    return ids, y_pred


def labels(ids, sparse, k=K):
    return ids.astype("int32") if sparse else np_one_hot(ids, k).astype("float32")


def random_cost_matrix(rng, k=K):
    cost = rng.uniform(0.0, 5.0, size=(k, k))
    np.fill_diagonal(cost, 0.0)
    return cost


def close(actual, expected):
    np.testing.assert_allclose(keras.ops.convert_to_numpy(actual), expected, rtol=RTOL, atol=ATOL)


# --- cost-sensitive cross-entropy ---------------------------------------------------------------------------


@pytest.mark.parametrize("from_logits", [True, False])
def test_cost_sensitive_matches_reference(rng, from_logits):
    ids, y_pred = random_batch(rng, from_logits)
    cost = random_cost_matrix(rng)
    expected = np_cost_sensitive(np_one_hot(ids, K), y_pred, cost, from_logits)
    for sparse in (True, False):
        close(cost_sensitive_crossentropy(labels(ids, sparse), y_pred, cost, from_logits, sparse), expected)
        loss = CostSensitiveCrossentropy(cost.tolist(), from_logits=from_logits, sparse=sparse)
        close(loss(labels(ids, sparse), y_pred), expected.mean())


def test_cost_sensitive_accepts_sparse_column_labels(rng):
    ids, z = random_batch(rng)
    cost = random_cost_matrix(rng)
    a = cost_sensitive_crossentropy(ids.reshape(-1, 1), z, cost, from_logits=True, sparse=True)
    close(a, np_cost_sensitive(np_one_hot(ids, K), z, cost, True))


def test_zero_cost_matrix_is_crossentropy(rng):
    zero = np.zeros((K, K))
    for from_logits in (True, False):
        ids, y_pred = random_batch(rng, from_logits)
        expected = keras.losses.categorical_crossentropy(np_one_hot(ids, K), y_pred, from_logits=from_logits)
        close(cost_sensitive_crossentropy(np_one_hot(ids, K), y_pred, zero, from_logits=from_logits), expected)
        expected_sparse = keras.losses.sparse_categorical_crossentropy(ids, y_pred, from_logits=from_logits)
        close(cost_sensitive_crossentropy(ids, y_pred, zero, from_logits=from_logits, sparse=True), expected_sparse)


def seed000_cost(w, k=3):
    cost = np.zeros((k, k))
    cost[1:, 0] = w  # predicting 0 when the truth is not 0
    return cost


def test_seed000_cost_penalises_class0_only_on_other_classes():
    cost = seed000_cost(4.0)
    p0 = np.linspace(0.05, 0.6, 12)
    rest = (1.0 - p0) / 2.0
    probs = np.stack([p0, rest, rest], axis=1).astype("float32")
    # Truth 1: with p_1 fixed by construction the cross-entropy falls as p_0 rises; the penalty must win.
    on_class1 = keras.ops.convert_to_numpy(cost_sensitive_crossentropy(np.ones(12, "int32"), probs, cost, sparse=True))
    assert np.all(np.diff(on_class1) > 0), on_class1
    close(on_class1, -np.log(rest) - 4.0 * np.log1p(-p0))
    # Truth 0: the term is zero, the loss is plain cross-entropy.
    on_class0 = cost_sensitive_crossentropy(np.zeros(12, "int32"), probs, cost, sparse=True)
    close(on_class0, -np.log(p0))


def _optimal_p0(fp_cost: float) -> float:
    """Gradient descent on one logit vector shared by an ambiguous group: half class 0, the rest classes 1 and 2."""
    y = np.array([0] * 5 + [1] * 3 + [2] * 2, dtype="int32")
    loss = CostSensitiveCrossentropy(seed000_cost(fp_cost), from_logits=True, sparse=True)
    z = tf.Variable(tf.zeros((1, 3)))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss(y, tf.tile(z, [len(y), 1]))
        z.assign_sub(0.5 * tape.gradient(value, z))

    for _ in range(400):
        step()
    return float(tf.nn.softmax(z)[0, 0])


def test_raising_false_positive_cost_of_class0_lowers_its_optimal_probability():
    optimum = [_optimal_p0(w) for w in (0.0, 1.0, 4.0)]
    assert optimum[0] == pytest.approx(0.5, abs=1e-3)  # cross-entropy: the empirical frequency
    assert optimum[0] > optimum[1] > optimum[2], optimum


# --- logit-adjusted loss ------------------------------------------------------------------------------------

COUNTS = [500, 120, 30, 7]


@pytest.mark.parametrize("sparse", [True, False])
def test_logit_adjusted_matches_reference(rng, sparse):
    ids, z = random_batch(rng)
    for tau in (0.5, 1.0, 2.0):
        expected = np_logit_adjusted(np_one_hot(ids, K), z, COUNTS, tau)
        close(logit_adjusted_loss(labels(ids, sparse), z, COUNTS, tau=tau, sparse=sparse), expected)
        loss = LogitAdjustedLoss(np.array(COUNTS), tau=tau, sparse=sparse)
        close(loss(labels(ids, sparse), z), expected.mean())


def test_logit_adjusted_accepts_dict_counts(rng):
    ids, z = random_batch(rng)
    as_dict = {3: 7, 0: 500, 1: 120, 2: 30}
    close(logit_adjusted_loss(ids, z, as_dict), np_logit_adjusted(np_one_hot(ids, K), z, COUNTS, 1.0))
    assert LogitAdjustedLoss(as_dict).get_config()["class_counts"] == [500.0, 120.0, 30.0, 7.0]


def test_logit_adjusted_with_equal_counts_is_crossentropy(rng):
    ids, z = random_batch(rng)
    expected = keras.losses.sparse_categorical_crossentropy(ids, z, from_logits=True)
    for tau in (0.0, 0.5, 1.0, 3.0):
        close(logit_adjusted_loss(ids, z, [40] * K, tau=tau), expected)


def test_logit_adjusted_with_tau_zero_is_crossentropy(rng):
    ids, z = random_batch(rng)
    expected = keras.losses.categorical_crossentropy(np_one_hot(ids, K), z, from_logits=True)
    close(logit_adjusted_loss(np_one_hot(ids, K), z, COUNTS, tau=0.0, sparse=False), expected)


# --- LDAM ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [True, False])
def test_ldam_matches_reference(rng, sparse):
    ids, z = random_batch(rng)
    z = z / 3.0  # cosine-like logits
    weights = [0.5, 1.0, 2.0, 4.0]
    y = labels(ids, sparse)
    for max_margin, scale in [(0.5, 30.0), (0.3, 2.0)]:
        expected = np_ldam(np_one_hot(ids, K), z, COUNTS, max_margin, scale)
        close(ldam_loss(y, z, COUNTS, max_margin, scale, sparse=sparse), expected)
        weighted = np_ldam(np_one_hot(ids, K), z, COUNTS, max_margin, scale, weights)
        close(ldam_loss(y, z, COUNTS, max_margin, scale, sparse=sparse, class_weight=weights), weighted)
        loss = LDAMLoss(COUNTS, max_margin=max_margin, scale=scale, sparse=sparse, class_weight=weights)
        close(loss(y, z), weighted.mean())


def test_ldam_without_margin_and_scale_is_crossentropy(rng):
    ids, z = random_batch(rng)
    expected = keras.losses.sparse_categorical_crossentropy(ids, z, from_logits=True)
    close(ldam_loss(ids, z, COUNTS, max_margin=0.0, scale=1.0), expected)
    close(LDAMLoss(COUNTS, max_margin=0.0, scale=1.0)(ids, z), keras.ops.mean(expected))


def test_ldam_config_keeps_the_initial_weights_not_the_variable():
    loss = LDAMLoss(COUNTS, class_weight={0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0})
    loss.class_weight_variable.assign(np.ones(K, "float32"))
    config = loss.get_config()
    assert config["class_weight"] == [1.0, 2.0, 3.0, 4.0]
    clone = LDAMLoss.from_config(config)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone.class_weight_variable), [1.0, 2.0, 3.0, 4.0])
    assert clone.class_weight_variable is not loss.class_weight_variable
    assert not clone.class_weight_variable.trainable
    assert LDAMLoss(COUNTS).get_config()["class_weight"] is None


# --- deferred re-weighting ----------------------------------------------------------------------------------


class _RecordWeights(keras.callbacks.Callback):
    def __init__(self, loss):
        super().__init__()
        self.loss, self.seen = loss, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.setdefault(self.epoch, []).append(keras.ops.convert_to_numpy(self.loss.class_weight_variable))


def test_deferred_reweighting_switches_weights_inside_fit(rng):
    counts = [300, 60, 12]
    target = [1.0, 5.0, 10.0]
    x = rng.normal(size=(24, 5)).astype("float32")
    y = rng.integers(0, 3, size=24).astype("int32")
    loss = LDAMLoss(counts, max_margin=0.5, scale=2.0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=loss)  # frozen: one batch, fixed logits
    recorder = _RecordWeights(loss)
    history = model.fit(
        x, y, batch_size=24, epochs=3, shuffle=False, verbose=0,
        callbacks=[DeferredReweighting(start_epoch=2, class_weight=target), recorder],
    )
    for epoch in (0, 1):
        for value in recorder.seen[epoch]:
            np.testing.assert_array_equal(value, np.ones(3))
    for value in recorder.seen[2]:
        np.testing.assert_array_equal(value, target)

    # The traced train function read the variable: its loss per epoch follows the weights.
    logits = keras.ops.convert_to_numpy(model(x))
    onehot = np_one_hot(y, 3)
    unweighted = np_ldam(onehot, logits, counts, 0.5, 2.0).mean()
    weighted = np_ldam(onehot, logits, counts, 0.5, 2.0, target).mean()
    assert abs(weighted - unweighted) > 0.1
    np.testing.assert_allclose(history.history["loss"], [unweighted, unweighted, weighted], rtol=RTOL)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), weighted, rtol=RTOL)
    close(keras.ops.mean(ldam_loss(y, logits, counts, 0.5, 2.0, class_weight=target)), weighted)


def _attach(callback, model):
    callback.set_model(model)
    callback.on_train_begin()
    return callback


def test_deferred_reweighting_effective_number():
    counts = [5000, 800, 60, 3]
    loss = LDAMLoss(counts)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss=loss)
    callback = _attach(DeferredReweighting(start_epoch=3, class_weight="effective_number"), model)
    callback.on_epoch_begin(2)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loss.class_weight_variable), np.ones(4))
    callback.on_epoch_begin(3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loss.class_weight_variable), np_effective_number(counts),
                               rtol=RTOL)


def test_deferred_reweighting_finds_the_loss_in_a_list_or_dict_of_losses():
    inputs = keras.Input((2,))
    outputs = {"a": keras.layers.Dense(3, name="a")(inputs), "b": keras.layers.Dense(1, name="b")(inputs)}
    model = keras.Model(inputs, outputs)
    for wrap in (lambda loss: {"a": loss, "b": "mse"}, lambda loss: [loss, "mse"]):
        loss = LDAMLoss([10, 5, 1])
        model.compile(optimizer="sgd", loss=wrap(loss))
        _attach(DeferredReweighting(start_epoch=0, class_weight={0: 1.0, 1: 2.0, 2: 3.0}), model).on_epoch_begin(0)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loss.class_weight_variable), [1.0, 2.0, 3.0])


# --- errors -------------------------------------------------------------------------------------------------


BAD_COST_MATRICES = [
    ([[0, 1, 2], [1, 0, 3]], "square K×K matrix", "[[0, 1, 2], [1, 0, 3]]"),
    ([0, 1], "square K×K matrix", "[0, 1]"),  # not 2-D
    ([[0, -1], [1, 0]], "entries must be >= 0; entry [0, 1] is -1.0", "[[0, -1], [1, 0]]"),
    ([[1, 0], [0, 0]], "zero diagonal", "[[1, 0], [0, 0]]"),
    ([[0, float("nan")], [1, 0]], "must be finite; entry [0, 1] is nan", "[[0, nan], [1, 0]]"),
    ([[0, float("inf")], [1, 0]], "must be finite; entry [0, 1] is inf", "[[0, inf], [1, 0]]"),
]


def test_bad_cost_matrix_is_quoted():
    for cost, reason, quoted in BAD_COST_MATRICES:
        expected = re.escape(reason) + ".*" + re.escape(f"Received: cost_matrix={quoted}")
        with pytest.raises(ValueError, match=expected):
            CostSensitiveCrossentropy(cost)
        with pytest.raises(ValueError, match=expected):
            cost_sensitive_crossentropy(np.array([0]), np.array([[0.5, 0.5]]), cost)


def test_cost_matrix_size_must_match_the_output():
    loss = CostSensitiveCrossentropy(np.zeros((3, 3)), from_logits=True, sparse=True)
    with pytest.raises(ValueError, match=r"3×3 but the model output has 4 classes"):
        loss(np.array([0]), np.zeros((1, 4)))


def test_label_format_mismatch_is_explained():
    with pytest.raises(ValueError, match=r"`sparse=True` expects integer class ids"):
        logit_adjusted_loss(np.eye(3), np.zeros((3, 3)), [1, 2, 3])
    with pytest.raises(ValueError, match=r"`sparse=False` expects one-hot labels with 3 columns"):
        cost_sensitive_crossentropy(np.array([[0], [1]]), np.zeros((2, 3)), np.zeros((3, 3)))


def test_zero_count_names_the_class():
    for make in (LogitAdjustedLoss, LDAMLoss, logit_adjusted_loss, ldam_loss):
        with pytest.raises(ValueError, match=r"class 1 has count 0.*" + re.escape("class_counts=[10, 0, 5]")):
            if isinstance(make, type):
                make([10, 0, 5])
            else:
                make(np.array([0]), np.zeros((1, 3)), [10, 0, 5])


def test_count_length_must_match_the_output():
    with pytest.raises(ValueError, match=r"has 3 entries but the model output has 4"):
        LogitAdjustedLoss([1, 2, 3])(np.array([0]), np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"has 3 entries but the model output has 4"):
        LDAMLoss([1, 2, 3])(np.array([0]), np.zeros((1, 4)))


BAD_ARGUMENTS = [
    (lambda: LogitAdjustedLoss(COUNTS, tau=-1), "tau=-1"),
    (lambda: LogitAdjustedLoss(COUNTS, tau=float("inf")), "tau=inf"),
    (lambda: LDAMLoss(COUNTS, max_margin=-0.1), "max_margin=-0.1"),
    (lambda: LDAMLoss(COUNTS, scale=0), "scale=0"),
    (lambda: LDAMLoss(COUNTS, scale=-2.0), "scale=-2.0"),
    (lambda: LDAMLoss(COUNTS, class_weight=[1, 2]), "class_weight=[1.0, 2.0]"),
    (lambda: LDAMLoss(COUNTS, class_weight=[1, -2, 1, 1]), "class_weight=[1, -2, 1, 1]"),
    (lambda: DeferredReweighting(start_epoch=-1), "start_epoch=-1"),
    (lambda: DeferredReweighting(start_epoch=1.5), "start_epoch=1.5"),
    (lambda: DeferredReweighting(start_epoch=True), "start_epoch=True"),
    (lambda: DeferredReweighting(start_epoch=2, class_weight="balanced"), "class_weight='balanced'"),
]


def test_bad_arguments_quote_the_value():
    for make, quoted in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=re.escape(f"Received: {quoted}")):
            make()


def test_deferred_reweighting_needs_an_ldam_loss():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    for loss, named in [
        (keras.losses.SparseCategoricalCrossentropy(from_logits=True), "SparseCategoricalCrossentropy"),
        ("sparse_categorical_crossentropy", "'sparse_categorical_crossentropy'"),
    ]:
        model.compile(optimizer="sgd", loss=loss)
        expected = r"needs a model compiled with an imbalance\.losses\.LDAMLoss.*" + re.escape(named)
        with pytest.raises(ValueError, match=expected):
            _attach(DeferredReweighting(start_epoch=1), model)


def test_deferred_reweighting_weight_length_must_match_the_loss():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=LDAMLoss([10, 5, 1]))
    with pytest.raises(ValueError, match=re.escape("class_weight=[1.0, 2.0]")):
        _attach(DeferredReweighting(start_epoch=1, class_weight=[1, 2]), model)


# --- exact log(1 - p): ties, far leaders, dtypes ------------------------------------------------------------


def np_logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def np_log1m_softmax(z: np.ndarray) -> np.ndarray:
    """log(1 - p_k) in float64: log1p(-p) where p < 1/2, else the logsumexp of the other logits minus the row's."""
    z = np.asarray(z, dtype=np.float64)
    log_p = np_log_softmax(z)
    leave_one_out = np.stack([np_logsumexp(np.delete(z, k, axis=-1)) for k in range(z.shape[-1])], axis=-1)
    from_rest = leave_one_out - np_logsumexp(z)[:, None]
    return np.where(log_p < np.log(0.5), np.log1p(-np.exp(np.minimum(log_p, np.log(0.5)))), from_rest)


def np_log1m_softmax_grad(z: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d/dz sum(a · log p + b · log(1 - p)) in float64: d log p_k / dz_i = [i=k] - p_i and
    d log(1 - p_k) / dz_i = [i!=k] p_i / (1 - p_k) - p_i."""
    z = np.asarray(z, dtype=np.float64)
    log_p, log_1m = np_log_softmax(z), np_log1m_softmax(z)
    p = np.exp(log_p)
    grad = a - p * a.sum(-1, keepdims=True)
    for k in range(z.shape[-1]):
        with np.errstate(over="ignore"):  # column k itself (p_k / (1 - p_k)) is dropped
            q = np.exp(log_p - log_1m[:, k:k + 1])  # p_i / (1 - p_k)
        q[:, k] = 0.0
        grad += b[:, k:k + 1] * (q - p)
    return grad


def hard_rows(rng, k):
    """Logit rows that stress log(1 - p): ties for the max, the e^-0.5 boundary, leaders far enough ahead that every
    other class underflows in float32 (> 87) and float64 (> 708), and large offsets."""
    rows = [np.zeros(k), np.r_[5.0, 5.0, -np.arange(k - 2.0)], np.r_[-3.0, 7.0, 7.0, np.zeros(max(k - 3, 0))][-k:]]
    for p_top in (0.5, 0.55, np.exp(-0.5) - 1e-4, np.exp(-0.5) + 1e-4, 0.7, 0.99):
        rows.append(np.r_[np.log(p_top * (k - 1) / (1 - p_top)), np.zeros(k - 1)])  # p of class 0 is p_top
    for gap in (1.0, 17.0, 30.0, 50.0, 88.0, 104.0, 200.0, 750.0, 1e4):
        rows.append(np.r_[gap, rng.normal(size=k - 1)])
        rows.append(np.r_[0.0, -gap, -gap + 0.5 * np.arange(1, k - 1)])
        rows.append(np.r_[rng.normal(size=k - 1), gap][::-1])
    rows.append(1e4 + rng.normal(size=k))
    rows.append(np.r_[-1e4 * np.ones(k - 2), 1e4, 1e4])
    return np.stack(rows)


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log1m_softmax_is_exact_at_ties_and_far_leaders(rng, k, dtype):
    from imbalance.losses._common import log_softmax_and_log1m

    z = hard_rows(rng, k).astype(dtype)
    z64 = z.astype(np.float64)  # the reference sees the same (rounded) logits
    expected = np_log1m_softmax(z64)
    a, b = rng.random(z.shape), rng.random(z.shape)
    variable = tf.Variable(z)
    with tf.GradientTape() as tape:
        log_p, log_1m = log_softmax_and_log1m(variable * 1)
        objective = tf.reduce_sum(a.astype(dtype) * log_p + b.astype(dtype) * log_1m)
    grad = tape.gradient(objective, variable).numpy()
    rtol, eps, tiny = (2e-6 if dtype == "float32" else 1e-12), np.finfo(dtype).eps, np.finfo(dtype).tiny
    # log(1 - p) to relative precision, down to the tiniest (log1p(-p) ~ -p) and the largest (a lead of 1e4)
    np.testing.assert_allclose(log_1m.numpy(), expected, rtol=rtol, atol=tiny)
    np.testing.assert_allclose(log_p.numpy(), np_log_softmax(z64), rtol=rtol, atol=4 * eps)  # log p ~ 0: absolute
    assert np.all(np.isfinite(grad))
    # Gradients against the float64 formula, relative to each row's largest entry (float32 rounds the logits
    # themselves by up to 1e-3 at |z| = 1e4, hence the looser float32 tolerance).
    expected_grad = np_log1m_softmax_grad(z64, a, b)
    scale = np.abs(expected_grad).max(-1, keepdims=True)
    assert np.all(np.abs(grad - expected_grad) <= (2e-4 if dtype == "float32" else 1e-9) * scale + 16 * eps)


def test_log1m_softmax_of_a_single_class():
    from imbalance.losses._common import log_softmax_and_log1m

    log_p, log_1m = log_softmax_and_log1m(np.array([[3.0], [-2.0]]))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(log_p), 0.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(log_1m), -np.inf)


def np_cost_sensitive_grad(y_onehot, logits, cost):
    """d/dz of np_cost_sensitive (logits) in float64: cross-entropy p - y, and for each class j the penalty
    -c_j log(1 - p_j), whose gradient is c_j (p_i - [i!=j] p_i / (1 - p_j))."""
    z = np.asarray(logits, dtype=np.float64)
    log_p, log_1m = np_log_softmax(z), np_log1m_softmax(z)
    p = np.exp(log_p)
    c = y_onehot @ np.asarray(cost, dtype=np.float64)
    grad = p - y_onehot
    for j in range(z.shape[-1]):
        with np.errstate(over="ignore"):
            q = np.exp(log_p - log_1m[:, j:j + 1])
        q[:, j] = 0.0
        grad += c[:, j:j + 1] * (p - q)
    return grad


def np_cost_sensitive_exact(y_onehot, logits, cost):
    """np_cost_sensitive (logits) with log(1 - p) from np_log1m_softmax, exact where p rounds to 1."""
    expected_cost = y_onehot @ np.asarray(cost, dtype=np.float64)
    return -(y_onehot * np_log_softmax(logits)).sum(-1) - (expected_cost * np_log1m_softmax(logits)).sum(-1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cost_sensitive_is_exact_when_a_costly_class_leads_by_far(rng, dtype):
    # A wrong class far ahead costs c · (its lead): -log(1 - p_j) must not saturate when every other p underflows.
    z = hard_rows(rng, K).astype(dtype)
    cost = random_cost_matrix(rng)
    rtol, atol = (2e-6, 1e-6) if dtype == "float32" else (1e-12, 1e-12)  # -log p_y ~ 0 is absolute to ~eps
    for ids in (np.zeros(len(z), "int64"), np.full(len(z), K - 1), rng.integers(0, K, size=len(z))):
        expected = np_cost_sensitive_exact(np_one_hot(ids, K), z.astype(np.float64), cost)
        variable = tf.Variable(z)
        for sparse in (True, False):
            with tf.GradientTape() as tape:
                value = cost_sensitive_crossentropy(labels(ids, sparse), variable * 1, cost, True, sparse)
            grad = tape.gradient(value, variable).numpy()
            np.testing.assert_allclose(value.numpy(), expected, rtol=rtol, atol=atol)
            expected_grad = np_cost_sensitive_grad(np_one_hot(ids, K), z, cost)
            scale = np.abs(expected_grad).max(-1, keepdims=True)
            assert np.all(np.abs(grad - expected_grad) <= (2e-4 if dtype == "float32" else 1e-9) * scale + atol)
    lead = np.zeros((1, K))
    lead[0, 0] = 1e4
    value = cost_sensitive_crossentropy(np.array([1]), lead.astype(dtype), [[0, 0, 0, 0], [3, 0, 0, 0]] + [[0] * 4] * 2,
                                        from_logits=True, sparse=True)
    # -log p_1 = 1e4 (+ 3e^-1e4) and -log(1 - p_0) = logsumexp(all) - logsumexp(the three zeros) = 1e4 - log 3
    np.testing.assert_allclose(value.numpy(), [1e4 + 3 * (1e4 - np.log(3.0))], rtol=1e-6)
