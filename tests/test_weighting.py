"""imbalance.weighting against independent references: scikit-learn, numpy formulas written here, hand counts."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from imbalance.weighting import (
    class_counts,
    class_weights,
    class_weights_from_counts,
    decision_threshold,
    output_bias,
    pos_weights,
    sample_weights,
    weight_dataset,
)


def _random_ids(rng, n, k):
    """Random imbalanced ids in which every class appears."""
    p = rng.dirichlet(np.ones(k)) * 0.8 + 0.2 / k
    ids = rng.choice(k, size=n, p=p)
    ids[:k] = np.arange(k)
    return ids


def _random_multi_hot(rng, n, k):
    m = (rng.random((n, k)) < np.linspace(0.05, 0.5, k)).astype(np.float32)
    m[:k] = np.maximum(m[:k], np.eye(k, dtype=np.float32))  # every label has a positive
    m[k] = 1.0  # and a row with all labels
    m[k + 1] = 0.0  # and an empty row
    return m


# --- class_weights ---------------------------------------------------------------------------------------------


def test_balanced_equals_scikit_learn(rng):
    for k in (2, 5):
        ids = _random_ids(rng, 300, k)
        expected = compute_class_weight("balanced", classes=np.arange(k), y=ids)
        for y in (ids, np.eye(k)[ids]):  # sparse and one-hot
            got = class_weights(y)
            assert sorted(got) == list(range(k))
            np.testing.assert_allclose([got[i] for i in range(k)], expected, rtol=1e-12)


def _reference(counts, n, method, beta=0.999):
    counts = np.asarray(counts, dtype=np.float64)
    k = len(counts)
    if method == "balanced":
        return n / (k * counts)
    raw = {
        "inverse": 1.0 / counts,
        "sqrt": counts ** -0.5,
        "effective_number": (1.0 - beta) / (1.0 - beta ** counts),
    }[method]
    return k * raw / raw.sum()


def test_methods_match_numpy_formulas(rng):
    ids = _random_ids(rng, 400, 4)
    for method in ("inverse", "sqrt", "effective_number"):
        got = class_weights(np.eye(4)[ids], method=method, beta=0.99)
        expected = _reference(np.bincount(ids), len(ids), method, beta=0.99)
        np.testing.assert_allclose([got[i] for i in range(4)], expected, rtol=1e-10)
        assert sum(got.values()) == pytest.approx(4.0)


def test_multilabel_counts_positives_per_label(rng):
    y = _random_multi_hot(rng, 200, 3)
    for method in ("balanced", "inverse", "sqrt", "effective_number"):
        got = class_weights(y, method=method, beta=0.9)
        expected = _reference(y.sum(axis=0), len(y), method, beta=0.9)
        np.testing.assert_allclose([got[i] for i in range(3)], expected, rtol=1e-6)


def test_effective_number_limits():
    ids = np.array([0] * 50 + [1] * 5 + [2])
    assert class_weights(ids, "effective_number", beta=0.0) == {0: 1.0, 1: 1.0, 2: 1.0}
    near_inverse = class_weights(ids, "effective_number", beta=1 - 1e-9)
    inverse = class_weights(ids, "inverse")
    np.testing.assert_allclose(list(near_inverse.values()), list(inverse.values()), rtol=1e-6)


def test_binary_weights_have_the_documented_threshold():
    y = np.array([0] * 99 + [1])
    w = class_weights(y)
    assert w[0] / (w[0] + w[1]) == pytest.approx(0.01)
    assert decision_threshold(w[1] / w[0]) == pytest.approx(0.01)


def test_class_weights_errors():
    with pytest.raises(ValueError, match=r"balanced.*inverse.*sqrt.*effective_number.*Received: method='foo'"):
        class_weights([0, 1], method="foo")
    with pytest.raises(ValueError, match=r"Received: beta=1\.5"):
        class_weights([0, 1], method="effective_number", beta=1.5)
    with pytest.raises(ValueError, match=r"Received: beta=1\.0"):
        class_weights([0, 1], beta=1.0)
    with pytest.raises(ValueError, match=r"Class 3 has no samples"):
        class_weights([0, 1, 2, 1], num_classes=4)
    with pytest.raises(ValueError, match=r"Class 1 has no samples"):
        class_weights([0, 0, 0])
    with pytest.raises(ValueError, match=r"Label 1 has no positive rows"):
        class_weights([[1, 0, 1], [0, 0, 1], [0, 0, 0]])


# --- pos_weights / decision_threshold --------------------------------------------------------------------------


def test_pos_weights_binary_any_format():
    ids = np.array([0, 1, 0, 0, 0, 1, 0, 0])  # 6 negatives, 2 positives
    for y in (ids, ids[:, None], np.eye(2)[ids]):
        got = pos_weights(y)
        assert got.dtype == np.float32 and got.shape == (1,)
        assert got.tolist() == [3.0]


def test_pos_weights_multilabel_hand_count():
    y = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 0], [0, 0, 0], [1, 0, 0]])
    # label 0: 2 pos / 3 neg; label 1: 1 / 4; label 2: 2 / 3
    np.testing.assert_array_equal(pos_weights(y), np.array([1.5, 4.0, 1.5], dtype=np.float32))
    np.testing.assert_array_equal(pos_weights(y, max_weight=2.0), np.array([1.5, 2.0, 1.5], dtype=np.float32))


def test_pos_weights_label_without_positives():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    with pytest.raises(ValueError, match=r"Label 1 has no positive rows"):
        pos_weights(y)
    np.testing.assert_array_equal(pos_weights(y, max_weight=7.0), [1.0, 7.0])


def test_pos_weights_errors():
    with pytest.raises(ValueError, match=r"Label 0 is positive in every row"):
        pos_weights(np.array([[1, 0], [1, 1], [1, 0]]))
    with pytest.raises(ValueError, match=r"class_weights"):
        pos_weights([0, 1, 2, 2])
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=rf"Received: max_weight={bad!r}"):
            pos_weights([0, 1, 0], max_weight=bad)


def test_decision_threshold_values():
    assert decision_threshold(27.0) == pytest.approx(1 / 28)
    assert decision_threshold(27.0) < 0.036
    np.testing.assert_allclose(decision_threshold(np.array([0.0, 1.0, 3.0])), [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match=r"Received: pos_weight=\[-1\.0\]"):
        decision_threshold([-1.0])


def test_decision_threshold_is_the_bayes_threshold_of_the_weighted_loss():
    """The p minimising E[-w·y·log p - (1-y)·log(1-p)] crosses 0.5 exactly where the true q crosses 1/(1+w)."""
    p = np.linspace(1e-4, 1 - 1e-4, 20001)
    for w in (0.2, 3.0, 27.0):
        t = decision_threshold(w)
        for q, above in ((t * 0.98, False), (t + 0.02 * (1 - t), True)):
            loss = -w * q * np.log(p) - (1 - q) * np.log(1 - p)
            assert bool(p[np.argmin(loss)] > 0.5) == above


# --- sample_weights --------------------------------------------------------------------------------------------


def test_sample_weights_sparse_and_one_hot_take_the_class_weight(rng):
    ids = _random_ids(rng, 50, 3)
    table = {0: 0.5, 1: 2.0, 2: 4.0}
    expected = np.array([table[i] for i in ids], dtype=np.float32)
    np.testing.assert_array_equal(sample_weights(ids, table), expected)
    np.testing.assert_array_equal(sample_weights(np.eye(3)[ids], [0.5, 2.0, 4.0]), expected)
    np.testing.assert_array_equal(sample_weights(ids[:, None], table), expected)


def test_sample_weights_method_string_uses_class_weights(rng):
    ids = _random_ids(rng, 60, 4)
    balanced = compute_class_weight("balanced", classes=np.arange(4), y=ids)
    np.testing.assert_allclose(sample_weights(ids), balanced[ids], rtol=1e-6)
    sqrt = class_weights(ids, "sqrt")
    np.testing.assert_allclose(sample_weights(ids, "sqrt"), [sqrt[i] for i in ids], rtol=1e-6)


def test_sample_weights_multi_hot_mean_and_max_never_argmax(rng):
    w = np.array([10.0, 1.0, 3.0, 0.5])
    y = np.array([
        [1, 1, 1, 0],   # argmax → column 0 (10.0); mean is 14/3, max 10
        [0, 1, 0, 1],   # argmax → column 1 (1.0); mean is 0.75, max 1.0
        [0, 1, 1, 0],   # argmax → column 1 (1.0); mean is 2.0, max 3.0
        [0, 0, 0, 0],   # empty
        [0, 0, 0, 1],
    ], dtype=np.float32)
    mean = sample_weights(y, w, empty_row_weight=0.25)
    maxi = sample_weights(y, w, multilabel_reduce="max", empty_row_weight=0.25)
    expected_mean, expected_max = [], []
    for row in y:
        positive = w[row > 0]
        expected_mean.append(positive.mean() if positive.size else 0.25)
        expected_max.append(positive.max() if positive.size else 0.25)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-6)
    np.testing.assert_allclose(maxi, expected_max, rtol=1e-6)
    argmax_weights = w[np.argmax(y, axis=1)]
    assert mean[2] == 2.0 and maxi[2] == 3.0 and argmax_weights[2] == 1.0
    assert mean.dtype == np.float32 and mean.shape == (5,)


def test_sample_weights_multi_hot_random_against_loop(rng):
    y = _random_multi_hot(rng, 80, 5)
    got = sample_weights(y, "inverse")
    cw = class_weights(y, "inverse")
    w = np.array([cw[i] for i in range(5)])
    expected = [w[row > 0].mean() if row.any() else 1.0 for row in y]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sample_weights_errors():
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=rf"class 1 has weight {bad!r}"):
            sample_weights([0, 1, 1], {0: 1.0, 1: bad})
    with pytest.raises(ValueError, match=r"class 0 has weight -2\.0"):
        sample_weights([0, 1], [-2.0, 1.0])
    with pytest.raises(ValueError, match=r"Class 2 is present in `y` but has no weight"):
        sample_weights([0, 1, 2], {0: 1.0, 1: 2.0})
    with pytest.raises(ValueError, match=r"Class 2 is present in `y` but has no weight"):
        sample_weights([0, 1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"Label 1 is present in `y` but has no weight"):
        sample_weights([[1, 1], [0, 0], [1, 0]], {0: 1.0})
    with pytest.raises(ValueError, match=r"3 entries but the multi-hot labels have 2 columns"):
        sample_weights([[1, 1], [0, 0]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"mean.*max.*Received: multilabel_reduce='sum'"):
        sample_weights([0, 1], [1.0, 1.0], multilabel_reduce="sum")
    with pytest.raises(ValueError, match=r"balanced.*dict.*Received: class_weight='foo'"):
        sample_weights([0, 1], "foo")
    with pytest.raises(ValueError, match=r"Received: empty_row_weight=-1"):
        sample_weights([0, 1], [1.0, 1.0], empty_row_weight=-1)


def test_sample_weights_dict_may_skip_absent_classes():
    np.testing.assert_array_equal(sample_weights([0, 2, 2], {0: 1.0, 2: 3.0}), [1.0, 3.0, 3.0])


# --- weight_dataset --------------------------------------------------------------------------------------------


def _labels(kind, rng):
    if kind == "multi_hot":
        return _random_multi_hot(rng, 23, 4)
    ids = _random_ids(rng, 23, 4)
    return {"sparse": ids, "sparse_column": ids[:, None].astype(np.float32), "one_hot": np.eye(4)[ids]}[kind]


def _collect(dataset, index=2):
    return np.concatenate([np.reshape(element[index].numpy(), [-1]) for element in dataset])


@pytest.mark.parametrize("kind", ["sparse", "sparse_column", "one_hot", "multi_hot"])
@pytest.mark.parametrize("batch", [None, 5])
def test_weight_dataset_equals_sample_weights(rng, kind, batch):
    y = _labels(kind, rng)
    weights = [0.5, 2.0, 4.0, 1.5]
    x = rng.normal(size=(len(y), 2)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if batch:
        ds = ds.batch(batch)
    for reduce in ("mean", "max"):
        out = weight_dataset(ds, weights, multilabel_reduce=reduce, empty_row_weight=0.3)
        expected = sample_weights(y, weights, multilabel_reduce=reduce, empty_row_weight=0.3)
        np.testing.assert_allclose(_collect(out), expected, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([np.reshape(e[0], [-1, 2]) for e in out]), x)


def test_weight_dataset_multiplies_an_existing_weight(rng):
    ids = _random_ids(rng, 10, 3)
    w0 = rng.uniform(0.5, 2.0, size=10).astype(np.float32)
    table = {0: 1.0, 1: 3.0, 2: 0.25}
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((10, 1), np.float32), ids, w0))
    for dataset in (ds, ds.batch(4)):
        out = weight_dataset(dataset, table)
        np.testing.assert_allclose(_collect(out), w0 * sample_weights(ids, table), rtol=1e-6)
    # a (batch, 1) weight column keeps its shape instead of broadcasting to (batch, batch)
    column = tf.data.Dataset.from_tensor_slices((np.zeros((10, 1)), ids, w0[:, None])).batch(4)
    out = list(weight_dataset(column, table))
    assert out[0][2].shape == (4, 1)
    np.testing.assert_allclose(_collect(out), w0 * sample_weights(ids, table), rtol=1e-6)


def test_weight_dataset_label_format_override_and_dict_keys():
    ids = np.array([0, 1, 1, 0, 1, 1])  # a batch of 2 ids with a static size 2 looks like a one-hot row
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((6, 1)), ids)).batch(2, drop_remainder=True)
    got = _collect(weight_dataset(ds, {0: 5.0, 1: 1.0}, label_format="sparse"))
    np.testing.assert_array_equal(got, [5.0, 1.0, 1.0, 5.0, 1.0, 1.0])


def test_weight_dataset_errors():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 1)), np.array([0, 1, 0, 1])))
    with pytest.raises(ValueError, match=r"not a method name.*Received: class_weight='balanced'"):
        weight_dataset(ds, "balanced")
    with pytest.raises(ValueError, match=r"\(x, y\) or \(x, y, sample_weight\).*element_spec=TensorSpec"):
        weight_dataset(tf.data.Dataset.from_tensor_slices(np.array([0, 1])), [1.0, 2.0])
    four = tf.data.Dataset.from_tensor_slices((np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)))
    with pytest.raises(ValueError, match=r"element_spec=\(TensorSpec"):
        weight_dataset(four, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"class 1 is missing"):
        weight_dataset(ds, {0: 1.0, 2: 1.0})
    with pytest.raises(ValueError, match=r"class 0 has weight -1\.0"):
        weight_dataset(ds, [-1.0, 1.0])
    with pytest.raises(ValueError, match=r"Received: label_format='onehot'"):
        weight_dataset(ds, [1.0, 1.0], label_format="onehot")
    wide = tf.data.Dataset.from_tensor_slices((np.zeros((2, 1)), np.eye(3)[[0, 1]])).batch(2)
    with pytest.raises(ValueError, match=r"3 columns but there are 2 classes"):
        weight_dataset(wide, [1.0, 1.0])


# --- class_counts ----------------------------------------------------------------------------------------------


def test_class_counts_arrays(rng):
    ids = _random_ids(rng, 40, 4)
    np.testing.assert_array_equal(class_counts(ids), np.bincount(ids))
    np.testing.assert_array_equal(class_counts(np.eye(4)[ids]), np.bincount(ids))
    np.testing.assert_array_equal(class_counts(ids, num_classes=6), np.bincount(ids, minlength=6))
    y = _random_multi_hot(rng, 30, 3)
    np.testing.assert_array_equal(class_counts(y), y.sum(axis=0))
    assert class_counts(ids).dtype == np.int64


@pytest.mark.parametrize("kind", ["sparse", "one_hot"])
@pytest.mark.parametrize("batch", [None, 7])
def test_class_counts_dataset_equals_bincount(rng, kind, batch):
    ids = _random_ids(rng, 30, 4)
    for num_classes in (None, 6):
        k = num_classes or 4
        y = ids if kind == "sparse" else np.eye(k, dtype=np.float32)[ids]
        ds = tf.data.Dataset.from_tensor_slices((np.zeros((30, 1), np.float32), y, np.ones(30, np.float32)))
        if batch:
            ds = ds.batch(batch)
        got = class_counts(ds, num_classes=num_classes)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, np.bincount(ids, minlength=k))


def test_class_counts_dataset_multi_hot_and_float_ids(rng):
    y = _random_multi_hot(rng, 25, 3)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((25, 1)), y)).batch(4)
    np.testing.assert_array_equal(class_counts(ds), y.sum(axis=0))
    ids = np.array([[2.0], [0.0], [2.0]])
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((3, 1)), ids)).batch(2)
    np.testing.assert_array_equal(class_counts(ds), [1, 0, 2])


def test_class_counts_dataset_errors():
    ids = np.array([0, 3, 1, 2])
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 1)), ids)).batch(3)
    with pytest.raises(ValueError, match=r"num_classes=3; the dataset holds class id 3"):
        class_counts(ds, num_classes=3)
    negative = tf.data.Dataset.from_tensor_slices((np.zeros((2, 1)), np.array([1, -2])))
    with pytest.raises(ValueError, match=r"class id -2"):
        class_counts(negative)
    with pytest.raises(ValueError, match=r"class id -2"):
        class_counts(negative, num_classes=3)
    fractional = tf.data.Dataset.from_tensor_slices((np.zeros((2, 1)), np.array([1.0, 0.5])))
    with pytest.raises(ValueError, match=r"1 non-integer"):
        class_counts(fractional)
    with pytest.raises(ValueError, match=r"element_spec="):
        class_counts(tf.data.Dataset.from_tensor_slices(ids))


# --- output_bias -----------------------------------------------------------------------------------------------


def test_output_bias_from_labels_matches_formulas(rng):
    binary = (rng.random(200) < 0.1).astype(int)
    binary[:2] = [0, 1]
    p = binary.mean()
    np.testing.assert_allclose(output_bias(binary), [np.log(p / (1 - p))], rtol=1e-5)
    np.testing.assert_allclose(output_bias(np.eye(2)[binary]), [np.log(p / (1 - p))], rtol=1e-5)
    np.testing.assert_allclose(output_bias(binary, activation="softmax"), np.log([1 - p, p]), rtol=1e-5)

    ids = _random_ids(rng, 200, 5)
    prior = np.bincount(ids) / 200
    np.testing.assert_allclose(output_bias(ids), np.log(prior), rtol=1e-5)
    np.testing.assert_allclose(output_bias(ids, activation="sigmoid"), np.log(prior / (1 - prior)), rtol=1e-5)

    y = _random_multi_hot(rng, 200, 4)
    q = y.mean(axis=0)
    got = output_bias(y)
    assert got.dtype == np.float32 and got.shape == (4,)
    np.testing.assert_allclose(got, np.log(q) - np.log(1 - q), rtol=1e-5)


def test_output_bias_from_counts():
    np.testing.assert_allclose(output_bias([6, 3, 1], counts=True), np.log([0.6, 0.3, 0.1]), rtol=1e-6)
    np.testing.assert_allclose(output_bias({0: 6, 1: 3, 2: 1}), np.log([0.6, 0.3, 0.1]), rtol=1e-6)
    np.testing.assert_allclose(output_bias([90, 10], counts=True, activation="sigmoid"), [np.log(10 / 90)], rtol=1e-6)
    np.testing.assert_allclose(
        output_bias([5, 20, 50], counts=True, activation="sigmoid", num_samples=100),
        np.log(np.array([0.05, 0.2, 0.5]) / np.array([0.95, 0.8, 0.5])), rtol=1e-5, atol=1e-7,
    )
    # a 1-D array without counts=True is labels: [3, 1] are two samples of classes 3 and 1
    np.testing.assert_allclose(output_bias([3, 1, 0, 2, 3]), np.log([0.2, 0.2, 0.2, 0.4]), rtol=1e-6)


def test_output_bias_errors():
    with pytest.raises(ValueError, match=r"Label 1 has prior 0"):
        output_bias(np.array([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match=r"Label 0 has prior 1"):
        output_bias(np.array([[1, 0], [1, 1], [1, 0]]))
    with pytest.raises(ValueError, match=r"Class 1 has prior 0"):
        output_bias([0, 0, 0])
    with pytest.raises(ValueError, match=r"Class 2 has prior 0"):
        output_bias([4, 3, 0], counts=True)
    with pytest.raises(ValueError, match=r"needs `num_samples`.*Received counts=\[1\.0, 2\.0, 3\.0\]"):
        output_bias([1, 2, 3], counts=True, activation="sigmoid")
    with pytest.raises(ValueError, match=r"Received: activation='relu'"):
        output_bias([0, 1], activation="relu")
    with pytest.raises(ValueError, match=r"softmax"):
        output_bias(np.array([[1, 0], [0, 0], [1, 1]]), activation="softmax")
    with pytest.raises(ValueError, match=r"entry 1 is .*-1\.0"):
        output_bias([3, -1], counts=True)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_dense_layer_initialised_with_the_bias_outputs_the_prior(rng, task):
    if task == "binary":
        y = (rng.random(100) < 0.07).astype(int)
        y[:2] = [0, 1]
        prior, units, activation = np.array([y.mean()]), 1, "sigmoid"
    elif task == "multiclass":
        y = _random_ids(rng, 100, 4)
        prior, units, activation = np.bincount(y) / 100, 4, "softmax"
    else:
        y = _random_multi_hot(rng, 100, 3)
        prior, units, activation = y.mean(axis=0), 3, "sigmoid"
    layer = keras.layers.Dense(
        units, activation=activation, kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(output_bias(y)),
    )
    out = keras.ops.convert_to_numpy(layer(rng.normal(size=(2, 5)).astype(np.float32)))
    np.testing.assert_allclose(out, np.broadcast_to(prior, out.shape), rtol=1e-5)


def test_class_weights_from_counts_equals_class_weights_from_the_labels():
    rng = np.random.default_rng(7)
    y = rng.choice(4, size=500, p=[0.7, 0.2, 0.07, 0.03])
    counts = np.bincount(y, minlength=4)
    for method in ("balanced", "inverse", "sqrt", "effective_number"):
        from_labels = class_weights(y, method=method, beta=0.99)
        from_counts = class_weights_from_counts(counts, method=method, beta=0.99)
        np.testing.assert_allclose(list(from_counts.values()), list(from_labels.values()), rtol=1e-12)
    multi_hot = (rng.random((300, 3)) < [0.5, 0.1, 0.02]).astype(int)
    multi_hot[:3] = np.eye(3, dtype=int)  # every label present
    np.testing.assert_allclose(
        list(class_weights_from_counts(multi_hot.sum(0), num_samples=300).values()),
        list(class_weights(multi_hot).values()),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match=r"class 1 has count 0"):
        class_weights_from_counts([5, 0, 2])
    with pytest.raises(ValueError, match=r"counts=-1"):
        class_weights_from_counts(-1)


def test_output_bias_suggests_counts_true_when_counts_are_read_as_labels():
    with pytest.raises(ValueError, match=r"If \[80, 15, 5\] are class counts rather than labels, pass counts=True"):
        output_bias(np.array([80, 15, 5]))
    np.testing.assert_allclose(output_bias(np.array([80, 15, 5]), counts=True), np.log([0.8, 0.15, 0.05]), rtol=1e-6)


# --- implied thresholds and explain_weights (issue 8) -----------------------------------------------------------

from imbalance.weighting import explain_weights, implied_thresholds  # noqa: E402


def test_implied_thresholds_of_positive_weights_are_one_over_one_plus_w(rng):
    w = rng.uniform(0.1, 1000.0, size=7)
    np.testing.assert_allclose(implied_thresholds(w), 1.0 / (1.0 + w), rtol=1e-12)
    assert implied_thresholds(1000.0).tolist() == [1.0 / 1001.0]
    # n_neg / n_pos puts the threshold exactly at each label's base rate
    y = _random_multi_hot(rng, 400, 5)
    np.testing.assert_allclose(implied_thresholds(pos_weights(y)), y.mean(axis=0), rtol=1e-6)


def test_implied_class_weight_thresholds_are_where_argmax_of_weighted_probabilities_flips(rng):
    weights = {k: float(v) for k, v in enumerate(rng.uniform(0.2, 5.0, size=4))}
    w = np.array(list(weights.values()))
    thresholds = implied_thresholds(weights)
    for k in range(4):
        rival = max((j for j in range(4) if j != k), key=lambda j: w[j])
        for delta, wins in ((1e-6, True), (-1e-6, False)):
            p = np.zeros(4)
            p[k] = thresholds[k] + delta
            p[rival] = 1.0 - p[k]  # the worst case for k: all other mass on the heaviest rival
            assert (int(np.argmax(w * p)) == k) is wins
        # and above the threshold k wins however the rest of the mass is spread
        for _ in range(50):
            p = np.zeros(4)
            p[k] = thresholds[k] + 1e-6
            p[np.arange(4) != k] = rng.dirichlet(np.ones(3)) * (1.0 - p[k])
            assert int(np.argmax(w * p)) == k
    # two classes: the binary threshold of decision_threshold(w1 / w0); equal weights: 0.5
    assert implied_thresholds({0: 2.0, 1: 6.0})[1] == pytest.approx(decision_threshold(3.0))
    np.testing.assert_allclose(implied_thresholds({0: 1.0, 1: 1.0, 2: 1.0}), 0.5)
    np.testing.assert_allclose(implied_thresholds([1.0, 3.0], kind="class_weight"), [0.75, 0.25])


def test_a_weighted_logistic_fit_moves_its_threshold_to_one_over_one_plus_w():
    # The claim behind the docs, checked on a model class that contains the truth: weighted maximum likelihood
    # (scikit-learn, no regularisation) predicts 0.5 where the true probability is 1 / (1 + w).
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(11)
    x = rng.uniform(-6.0, 6.0, size=(200_000, 1))
    true_p = 1.0 / (1.0 + np.exp(-(1.5 * x[:, 0] - 2.0)))
    y = (rng.random(len(x)) < true_p).astype(int)
    for w in (1.0, 9.0, 99.0):
        fit = LogisticRegression(C=np.inf).fit(x, y, sample_weight=np.where(y == 1, w, 1.0))
        boundary = -fit.intercept_[0] / fit.coef_[0, 0]  # where the weighted model says 0.5
        true_logit_at_boundary = 1.5 * boundary - 2.0
        t = implied_thresholds(w)[0]
        assert true_logit_at_boundary == pytest.approx(np.log(t / (1.0 - t)), abs=0.1)  # log-odds -log(w)


def test_explain_weights_says_why_a_huge_pos_weight_predicts_all_ones():
    from imbalance.datasets import multilabel30

    y = multilabel30(n_samples=3000).y
    text = explain_weights(1000.0, y)
    assert "pos_weight 1000 moves the decision threshold from 0.5 to 1/(1+w)" in text
    assert "0.0010" in text and "30 of 30 labels have a threshold far below their base rate" in text
    balanced = explain_weights(pos_weights(y), y)
    assert "30 of 30 labels have their threshold at the base rate" in balanced and "far below" not in balanced
    assert "… 18 more" in balanced  # 30 labels: a shortened table
    ids = np.repeat([0, 1, 2], [10, 30, 60])
    text = explain_weights(class_weights(ids), ids, names=["rare", "mid", "common"])
    assert "proportional to 1 / prior" in text and "rare" in text
    assert "favoured over all others" in text and "disfavoured against all others" in text
    assert "threshold" in explain_weights({0: 1.0, 1: 4.0})  # without labels: thresholds only


def test_explain_weights_rejects_mismatched_input():
    with pytest.raises(ValueError, match=r"A dict of weights is read as class weights"):
        implied_thresholds({0: 1.0, 1: 2.0}, kind="pos_weight")
    with pytest.raises(ValueError, match=r"`kind` must be one of"):
        implied_thresholds(2.0, kind="label")
    with pytest.raises(ValueError, match=r"`weights` must be finite and >= 0.0; entry 1 is -2.0"):
        implied_thresholds([1.0, -2.0])
    with pytest.raises(ValueError, match=r"missing: \[1\]"):
        implied_thresholds({0: 1.0, 2: 3.0})
    with pytest.raises(ValueError, match=r"3 weights for 2 labels"):
        explain_weights([1.0, 2.0, 3.0], np.array([[1, 0], [0, 1], [0, 0]]))
    with pytest.raises(ValueError, match=r"multi-class \(3 classes\)"):
        explain_weights(2.0, [0, 1, 2])
    with pytest.raises(ValueError, match=r"multi-label"):
        explain_weights({0: 1.0, 1: 2.0}, np.array([[1, 1], [0, 1], [0, 0]]))
