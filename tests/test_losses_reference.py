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


# ---- exactness at ties, far leaders, soft labels and z = 0 ----------------------------------------------------------


def np_log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_one_minus_softmax(z):
    """1 - p_k in float64 without cancellation: 1 - p where p < 1/2, else the summed probability of the others."""
    p = np.exp(np_log_softmax(z))
    others = np.stack([np.delete(p, k, axis=-1).sum(-1) for k in range(p.shape[-1])], axis=-1)
    return np.where(p < 0.5, 1.0 - p, others)


def ref_categorical_focal_stable(y, z, gamma, alpha):
    a = 1.0 if alpha is None else np.asarray(alpha)
    return np.sum(-y * a * np_one_minus_softmax(z) ** gamma * np_log_softmax(z), axis=-1)


def numeric_grad(f, z, h=1e-6):
    """Central differences of sum(f(z)) in float64."""
    z = np.asarray(z, dtype=np.float64)
    grad = np.zeros_like(z)
    for index in np.ndindex(*z.shape):
        up, down = z.copy(), z.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (np.sum(f(up)) - np.sum(f(down))) / (2 * h)
    return grad


def value_and_grad(loss_fn, y, z):
    variable = tf.Variable(z)
    with tf.GradientTape() as tape:
        value = loss_fn(y, variable * 1)
        total = tf.reduce_sum(value)
    return value.numpy().astype(np.float64), tape.gradient(total, variable).numpy().astype(np.float64)


def assert_grad_close(grad, expected, rtol=2e-4, atol=1e-6):
    scale = np.abs(expected).max(-1, keepdims=True)
    assert np.all(np.abs(grad - expected) <= rtol * scale + atol), np.abs(grad - expected).max()


def multiclass_rows(rng, k=L):
    """Moderate rows (random, ties for the max, a class just above / below p = e^-0.5) and far-leader rows in which
    every other class underflows (leads of 50 to 1e4)."""
    moderate = [rng.normal(scale=2.0, size=(12, k)), np.zeros((1, k)), np.r_[[4.0, 4.0], -np.arange(k - 2.0)][None]]
    for p_top in (np.exp(-0.5) - 1e-3, np.exp(-0.5) + 1e-3, 0.999):
        moderate.append(np.r_[np.log(p_top * (k - 1) / (1 - p_top)), np.zeros(k - 1)][None])
    far = [np.r_[gap, rng.normal(size=k - 1)][None] for gap in (50.0, 120.0, 800.0, 1e4)]
    far.append(np.r_[1e4, 1e4, -1e4 * np.ones(k - 2)][None])
    return np.concatenate(moderate), np.concatenate(far)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_complement_does_not_cancel_for_the_leading_class(dtype):
    from imbalance.losses._common import softmax_complement

    rng = np.random.default_rng(6)
    moderate, far = multiclass_rows(rng)
    z = np.concatenate([moderate, far, np.c_[np.arange(1.0, 40.0, 3.0), np.zeros((13, L - 1))]])
    log_p = np_log_softmax(z)  # exact in float64, then rounded: the leader's log p keeps its relative precision
    got = keras.ops.convert_to_numpy(softmax_complement(log_p.astype(dtype))).astype(np.float64)
    # 1 - p of the leader is the others' mass (down to 1e-17 here), not 1 - exp(log p), which cancels
    np.testing.assert_allclose(got, np_one_minus_softmax(z), rtol=1e-5 if dtype == "float32" else 1e-13,
                               atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 1.5, 2.0, 3.0, 20.0])
@pytest.mark.parametrize("alpha", [None, [0.1, 0.5, 1.0, 2.0, 4.0]])
def test_categorical_focal_with_soft_labels_ties_and_far_leaders(gamma, alpha):
    rng = np.random.default_rng(7)
    moderate, far = multiclass_rows(rng)
    for z, check_grad in ((moderate, True), (far, False)):
        soft = rng.dirichlet(np.ones(L), size=len(z))
        hard = np.eye(L)[rng.integers(0, L, size=len(z))]
        on_leader = np.eye(L)[np.argmax(z, axis=-1)]
        for y in (soft, hard, on_leader, 0.5 * soft + 0.5 * on_leader):
            for dtype in ("float32", "float64"):
                zd = z.astype(dtype)
                value, grad = value_and_grad(lambda t, s: categorical_focal_loss(t, s, gamma, alpha, True), y, zd)
                expected = ref_categorical_focal_stable(y, zd.astype(np.float64), gamma, alpha)
                np.testing.assert_allclose(value, expected, rtol=1e-5 if dtype == "float32" else 1e-10, atol=1e-7)
                assert np.all(np.isfinite(grad))
                if check_grad:
                    reference = numeric_grad(lambda s: ref_categorical_focal_stable(y, s, gamma, alpha), zd)
                    assert_grad_close(grad, reference, atol=1e-6 if dtype == "float32" else 1e-8)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 3.0])
def test_sparse_focal_at_ties_and_far_leaders(gamma):
    rng = np.random.default_rng(8)
    moderate, far = multiclass_rows(rng)
    alpha = [0.1, 0.5, 1.0, 2.0, 4.0]
    for z, check_grad in ((moderate, True), (far, False)):
        for ids in (np.argmax(z, axis=-1), np.argmin(z, axis=-1), rng.integers(0, L, size=len(z))):
            y = np.eye(L)[ids]
            value, grad = value_and_grad(lambda t, s: sparse_categorical_focal_loss(t, s, gamma, alpha, True),
                                         ids, z.astype("float32"))
            expected = ref_categorical_focal_stable(y, z.astype("float32").astype(np.float64), gamma, alpha)
            np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-7)
            assert np.all(np.isfinite(grad))
            if check_grad:
                reference = numeric_grad(lambda s: ref_categorical_focal_stable(y, s, gamma, alpha),
                                         z.astype("float32"))
                assert_grad_close(grad, reference)


def test_focal_with_a_single_class_is_zero():
    z = np.array([[3.0], [-2.0], [1e4]], dtype="float32")
    for loss_fn, y in ((lambda t, s: categorical_focal_loss(t, s, 2.0, None, True), np.ones((3, 1))),
                       (lambda t, s: categorical_focal_loss(t, s, 0.5, None, True), np.ones((3, 1))),
                       (lambda t, s: sparse_categorical_focal_loss(t, s, 2.0, None, True), np.zeros(3, "int32"))):
        value, grad = value_and_grad(loss_fn, y, z)
        np.testing.assert_array_equal(value, 0.0)
        np.testing.assert_array_equal(grad, 0.0)


SIGMOID_LOGITS = np.array([-1e4, -200.0, -88.0, -30.0, -17.0, -6.0, -2.0, -0.5, 0.0, 0.5, 2.0, 6.0, 17.0, 30.0,
                           88.0, 200.0, 1e4])
MODERATE = np.abs(SIGMOID_LOGITS) <= 6.0  # where central differences of the float64 reference are reliable


def np_log_sigmoid_pair(z):
    z = np.asarray(z, dtype=np.float64)
    return -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)


def ref_binary_focal_stable(y, z, gamma, alpha):
    log_p, log_q = np_log_sigmoid_pair(z)
    a_t = 1.0 if alpha is None else y * alpha + (1 - y) * (1 - alpha)
    cross_entropy = -(y * log_p + (1 - y) * log_q)
    return np.mean(a_t * np.exp(gamma * (y * log_q + (1 - y) * log_p)) * cross_entropy, axis=-1)


def ref_asymmetric_stable(y, z, gamma_neg, gamma_pos, clip):
    log_p, log_q = np_log_sigmoid_pair(z)
    q = np.exp(log_q)
    one_minus_pm = np.minimum(q + clip, 1.0)
    log_one_minus_pm = np.log(one_minus_pm) if clip > 0 else log_q
    p_m = 1.0 - one_minus_pm if clip > 0 else np.exp(log_p)
    positive = q**gamma_pos * log_p
    negative = p_m**gamma_neg * log_one_minus_pm
    return np.mean(-(y * positive + (1 - y) * negative), axis=-1)


def sigmoid_batch():
    z = np.tile(SIGMOID_LOGITS, (3, 1))
    y = np.stack([np.ones_like(SIGMOID_LOGITS), np.zeros_like(SIGMOID_LOGITS), np.full_like(SIGMOID_LOGITS, 0.3)])
    return y, z


FOCAL_ARGS = [(2.0, None), (0.5, 0.25), (1.0, 0.9), (3.0, None)]
ASYMMETRIC_ARGS = [(4.0, 1.0, 0.05), (0.0, 0.0, 0.0), (2.0, 0.0, 0.2), (0.5, 0.5, 0.0), (0.0, 1.0, 0.05),
                   (4.0, 2.5, 0.05), (3.0, 20.0, 0.1), (1.5, 2.0, 0.0), (17.0, 1.0, 0.3)]


@pytest.mark.parametrize(
    "family, args",
    [("binary_focal", a) for a in FOCAL_ARGS] + [("asymmetric", a) for a in ASYMMETRIC_ARGS],
)
def test_binary_focal_and_asymmetric_at_zero_and_extreme_logits(family, args):
    loss_fn, reference = {
        "binary_focal": (binary_focal_loss, ref_binary_focal_stable),
        "asymmetric": (asymmetric_loss, ref_asymmetric_stable),
    }[family]
    y, z = sigmoid_batch()
    for dtype in ("float32", "float64"):
        value, grad = value_and_grad(lambda t, s: loss_fn(t, s, *args, from_logits=True), y, z.astype(dtype))
        expected = reference(y, z, *args)
        np.testing.assert_allclose(value, expected, rtol=1e-5 if dtype == "float32" else 1e-10, atol=1e-7)
        assert np.all(np.isfinite(grad))
        # The gradient at z = 0 exactly (among others) against central differences: a relu and an |z| taking
        # different one-sided derivatives there would be off by a half. The loss is a mean over the labels, the
        # reference's over the moderate ones only: rescale.
        expected_grad = numeric_grad(lambda s: reference(y[:, MODERATE], s, *args), z[:, MODERATE])
        assert_grad_close(grad[:, MODERATE] * len(SIGMOID_LOGITS) / MODERATE.sum(), expected_grad,
                          atol=1e-6 if dtype == "float32" else 1e-8)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 7.0, 16.0, 17.0, 2.5])
def test_safe_pow_value_and_gradient_including_zero(exponent):
    from imbalance.losses._common import safe_pow

    base = tf.Variable(np.array([0.0, 1e-20, 0.3, 1.0, 2.0]))
    with tf.GradientTape() as tape:
        value = safe_pow(base * 1, exponent)
    grad = tape.gradient(value, base, unconnected_gradients="zero").numpy()  # exponent 0: a constant
    b = base.numpy()
    tiny = np.finfo(np.float64).tiny  # TensorFlow flushes subnormal results to 0
    np.testing.assert_allclose(value.numpy(), b**exponent, rtol=1e-12, atol=tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(b > 0, exponent * b ** (exponent - 1.0), 1.0 if exponent == 1.0 else 0.0)
    expected = expected if exponent != 0.0 else np.zeros_like(b)
    # at 0: the derivative (1 for exponent 1, 0 above), and 0 rather than inf or NaN below 1
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=tiny)
