"""Weighted BCE, focal (binary, categorical, sparse) and asymmetric losses against numpy formulas written here from
the papers, against Keras / TensorFlow where they coincide, plus identities and bad-input errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from imbalance.losses import (
    AsymmetricLoss,
    BinaryFocalLoss,
    CategoricalFocalLoss,
    SparseCategoricalFocalLoss,
    WeightedBinaryCrossentropy,
    asymmetric_loss,
    binary_focal_loss,
    categorical_focal_loss,
    sparse_categorical_focal_loss,
    weighted_binary_crossentropy,
)

N, L = 64, 5


# ---- numpy references (float64, straight from the definitions) ---------------------------------------------------


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ref_weighted_bce(y, p, w):
    return np.mean(-(w * y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1)


def ref_binary_focal(y, p, gamma, alpha):
    p_t = np.where(y == 1, p, 1 - p)
    a_t = 1.0 if alpha is None else np.where(y == 1, alpha, 1 - np.asarray(alpha))
    return np.mean(-a_t * (1 - p_t) ** gamma * np.log(p_t), axis=-1)


def ref_categorical_focal(y_one_hot, p, gamma, alpha):
    a = 1.0 if alpha is None else np.asarray(alpha)
    return np.sum(-y_one_hot * a * (1 - p) ** gamma * np.log(p), axis=-1)


def ref_asymmetric(y, p, gamma_neg, gamma_pos, clip):
    p_m = np.maximum(p - clip, 0.0)
    pos = (1 - p) ** gamma_pos * np.log(p)
    neg = p_m**gamma_neg * np.log(1 - p_m)
    return np.mean(-(y * pos + (1 - y) * neg), axis=-1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(N, L))
    y = (rng.random((N, L)) < 0.3).astype("float64")
    return y, logits


def _both_inputs(logits):
    """(y_pred, from_logits, probabilities) for the logits and the probability version of the same scores."""
    p = np_sigmoid(logits)
    return [(logits.astype("float32"), True, p), (p.astype("float32"), False, p)]


# ---- weighted BCE ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [1.0, 7.5, [1.0, 2.0, 5.0, 0.5, 30.0]])
def test_weighted_bce_matches_numpy_reference(data, w):
    y, logits = data
    for y_pred, from_logits, p in _both_inputs(logits):
        got = WeightedBinaryCrossentropy(pos_weight=w, from_logits=from_logits, reduction=None)(y, y_pred)
        np.testing.assert_allclose(got, ref_weighted_bce(y, p, np.asarray(w)), rtol=1e-5)


def test_weighted_bce_with_unit_weight_is_keras_bce(data):
    y, logits = data
    for y_pred, from_logits, _ in _both_inputs(logits):
        ours = weighted_binary_crossentropy(y, y_pred, 1.0, from_logits=from_logits)
        keras_bce = keras.losses.binary_crossentropy(y, y_pred, from_logits=from_logits)
        np.testing.assert_allclose(ours, keras_bce, rtol=1e-5)


@pytest.mark.parametrize("w", [0.3, 27.0, [1.0, 2.0, 5.0, 0.5, 30.0]])
def test_weighted_bce_is_tf_weighted_cross_entropy_with_logits(data, w):
    y, logits = data
    reference = tf.reduce_mean(
        tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=logits, pos_weight=tf.constant(w, tf.float64)), -1
    )
    ours = weighted_binary_crossentropy(y, logits, w, from_logits=True)
    np.testing.assert_allclose(ours, reference, rtol=1e-5)


def test_weighted_bce_binary_labels_against_single_output():
    y = np.array([0, 1, 1, 0])
    z = np.array([[0.2], [-1.0], [3.0], [0.5]], dtype="float32")
    got = WeightedBinaryCrossentropy(pos_weight=4.0, from_logits=True, reduction=None)(y, z)
    np.testing.assert_allclose(got, ref_weighted_bce(y[:, None], np_sigmoid(z.astype("float64")), 4.0), rtol=1e-5)


# ---- focal ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma, alpha", [(2.0, None), (2.0, 0.25), (0.5, 0.9), (3.0, [0.1, 0.3, 0.5, 0.7, 0.9])])
def test_binary_focal_matches_numpy_reference(data, gamma, alpha):
    y, logits = data
    for y_pred, from_logits, p in _both_inputs(logits):
        got = BinaryFocalLoss(gamma=gamma, alpha=alpha, from_logits=from_logits, reduction=None)(y, y_pred)
        np.testing.assert_allclose(got, ref_binary_focal(y, p, gamma, alpha), rtol=1e-5)


def test_binary_focal_with_gamma_zero_is_bce(data):
    y, logits = data
    for y_pred, from_logits, _ in _both_inputs(logits):
        focal = binary_focal_loss(y, y_pred, gamma=0.0, alpha=None, from_logits=from_logits)
        bce = keras.losses.binary_crossentropy(y, y_pred, from_logits=from_logits)
        np.testing.assert_allclose(focal, bce, rtol=1e-5)


@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (1.0, 0.9)])
def test_binary_focal_equals_keras_with_class_balancing(data, gamma, alpha):
    y, logits = data
    keras_focal = keras.losses.binary_focal_crossentropy(
        y, logits, apply_class_balancing=True, alpha=alpha, gamma=gamma, from_logits=True
    )
    ours = binary_focal_loss(y, logits, gamma=gamma, alpha=alpha, from_logits=True)
    np.testing.assert_allclose(ours, keras_focal, rtol=1e-5)


def _categorical_data():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=(N, L))
    ids = rng.integers(0, L, size=N)
    return ids, np.eye(L)[ids], logits


@pytest.mark.parametrize("gamma, alpha", [(2.0, None), (0.5, [0.1, 0.5, 1.0, 2.0, 4.0]), (3.0, 0.25)])
def test_categorical_and_sparse_focal_match_numpy_reference(gamma, alpha):
    ids, one_hot, logits = _categorical_data()
    p = np_softmax(logits)
    expected = ref_categorical_focal(one_hot, p, gamma, alpha)
    for y_pred, from_logits in [(logits.astype("float32"), True), (p.astype("float32"), False)]:
        dense = CategoricalFocalLoss(gamma=gamma, alpha=alpha, from_logits=from_logits, reduction=None)(one_hot, y_pred)
        sparse = SparseCategoricalFocalLoss(gamma=gamma, alpha=alpha, from_logits=from_logits, reduction=None)(ids, y_pred)
        sparse_column = sparse_categorical_focal_loss(ids[:, None], y_pred, gamma, alpha, from_logits)
        for got in (dense, sparse, sparse_column):
            np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_categorical_focal_with_gamma_zero_is_cross_entropy():
    _, one_hot, logits = _categorical_data()
    for y_pred, from_logits in [(logits, True), (np_softmax(logits), False)]:
        focal = categorical_focal_loss(one_hot, y_pred, gamma=0.0, from_logits=from_logits)
        cce = keras.losses.categorical_crossentropy(one_hot, y_pred, from_logits=from_logits)
        np.testing.assert_allclose(focal, cce, rtol=1e-5)


def test_categorical_focal_equals_keras_with_scalar_alpha():
    _, one_hot, logits = _categorical_data()
    keras_focal = keras.losses.categorical_focal_crossentropy(one_hot, logits, alpha=0.25, gamma=2.0, from_logits=True)
    np.testing.assert_allclose(categorical_focal_loss(one_hot, logits, 2.0, 0.25, True), keras_focal, rtol=1e-5)


def test_categorical_focal_is_exact_where_the_probability_saturates():
    # p_true = 1 - 1e-9 exactly representable only in log space: (1-p)^2 * -log p ~ 1e-18 * 1e-9, not 0 * 0 = NaN.
    logits = np.array([[30.0, 30.0 - 20.7232658369]], dtype="float64")  # 1 - p_0 = sigmoid(-20.72..) ~ 1e-9
    y = np.array([[1.0, 0.0]])
    got = float(categorical_focal_loss(y, logits, gamma=1.0, from_logits=True)[0])
    one_minus_p = 1.0 / (1.0 + np.exp(20.7232658369))
    expected = one_minus_p * -np.log1p(-one_minus_p)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# ---- asymmetric ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma_neg, gamma_pos, clip", [(4.0, 1.0, 0.05), (2.0, 0.0, 0.2), (0.5, 0.5, 0.0)])
def test_asymmetric_matches_numpy_reference(data, gamma_neg, gamma_pos, clip):
    y, logits = data
    for y_pred, from_logits, p in _both_inputs(logits):
        loss = AsymmetricLoss(gamma_neg, gamma_pos, clip, from_logits=from_logits, reduction=None)
        np.testing.assert_allclose(loss(y, y_pred), ref_asymmetric(y, p, gamma_neg, gamma_pos, clip), rtol=1e-5)


def test_asymmetric_without_focusing_or_clip_is_bce(data):
    y, logits = data
    for y_pred, from_logits, _ in _both_inputs(logits):
        asl = asymmetric_loss(y, y_pred, 0.0, 0.0, 0.0, from_logits=from_logits)
        bce = keras.losses.binary_crossentropy(y, y_pred, from_logits=from_logits)
        np.testing.assert_allclose(asl, bce, rtol=1e-5)


def test_asymmetric_ignores_negatives_below_the_clip():
    y = np.zeros((1, 3))
    z = np.log(np.array([[0.01, 0.04, 0.049]]) / (1 - np.array([[0.01, 0.04, 0.049]])))
    assert float(asymmetric_loss(y, z, clip=0.05, from_logits=True)[0]) == 0.0
    grad_input = tf.Variable(z)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(asymmetric_loss(y, grad_input * 1.0, clip=0.05, from_logits=True))
    np.testing.assert_array_equal(tape.gradient(value, grad_input).numpy(), 0.0)


# ---- bad inputs ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: WeightedBinaryCrossentropy(pos_weight=-1.0), r"pos_weight=-1\.0"),
        (lambda: WeightedBinaryCrossentropy(pos_weight=float("nan")), r"pos_weight=nan"),
        (lambda: WeightedBinaryCrossentropy(pos_weight=[1.0, -2.0]), r"entry 1 is -2\.0"),
        (lambda: WeightedBinaryCrossentropy(pos_weight=[[1.0]]), r"pos_weight=\[\[1\.0\]\]"),
        (lambda: BinaryFocalLoss(gamma=-1), r"gamma=-1"),
        (lambda: BinaryFocalLoss(alpha=1.5), r"alpha=1\.5"),
        (lambda: BinaryFocalLoss(alpha=[0.5, -0.1]), r"entry 1 is -0\.1"),
        (lambda: CategoricalFocalLoss(gamma=float("inf")), r"gamma=inf"),
        (lambda: CategoricalFocalLoss(alpha=[1.0, -1.0]), r"entry 1 is -1\.0"),
        (lambda: SparseCategoricalFocalLoss(gamma="two"), r"gamma='two'"),
        (lambda: AsymmetricLoss(gamma_neg=-0.5), r"gamma_neg=-0\.5"),
        (lambda: AsymmetricLoss(gamma_pos=-2), r"gamma_pos=-2"),
        (lambda: AsymmetricLoss(clip=1.0), r"clip=1\.0"),
    ],
)
def test_bad_arguments_quote_the_received_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_per_label_weights_of_the_wrong_length_name_both_sizes():
    loss = WeightedBinaryCrossentropy(pos_weight=[1.0, 2.0, 3.0], from_logits=True)
    with pytest.raises(ValueError, match=r"3 entries but the model output has 5"):
        loss(np.zeros((2, 5)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"`alpha` has 2 entries"):
        CategoricalFocalLoss(alpha=[1.0, 2.0])(np.eye(3)[[0, 1]], np.zeros((2, 3)))
