"""imbalance.data.augment_classes: only the chosen classes change (pixel equality of the others), eagerly and
inside tf.function, for sparse / one-hot / multi-hot labels, batched or not, and composed with balanced_dataset."""

import numpy as np
import pytest
import tensorflow as tf

from imbalance.data import augment_classes, balanced_dataset

N, K = 40, 3


def _images(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((N, 4, 5, 3)).astype("float32")
    y = np.arange(N) % K
    return x, y


def _flip(x):
    return tf.reverse(x, axis=[-2])  # left-right flip of an (h, w, c) image or a batch of them


def _collect(ds, batched=None):
    xs, ys = [], []
    for element in ds:
        xs.append(np.asarray(element[0]))
        ys.append(np.asarray(element[1]))
    batched = xs[0].ndim == 4 if batched is None else batched
    return (np.concatenate(xs) if batched else np.stack(xs)), (np.concatenate(ys) if batched else np.stack(ys))


def _check_only_chosen_changed(x, labels_as_ids, out_x, chosen):
    flipped = x[:, :, ::-1, :]
    for i, c in enumerate(labels_as_ids):
        if c in chosen:
            np.testing.assert_array_equal(out_x[i], flipped[i])
        else:
            np.testing.assert_array_equal(out_x[i], x[i])


LAYOUTS = {
    "sparse": lambda y: y,
    "sparse (n, 1)": lambda y: y[:, None],
    "one-hot": lambda y: np.eye(K, dtype="float32")[y],
}


@pytest.mark.parametrize("batch", [None, 7])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_only_the_chosen_classes_change_eagerly_and_inside_tf_function(layout, batch):
    x, y = _images()
    labels = LAYOUTS[layout](y)
    ds = tf.data.Dataset.from_tensor_slices((x, labels))
    if batch:
        ds = ds.batch(batch)
    chosen = (0, 2)
    out_x, out_y = _collect(augment_classes(ds, _flip, classes=chosen))
    np.testing.assert_array_equal(out_y, labels)
    _check_only_chosen_changed(x, y, out_x, chosen)

    @tf.function
    def run_in_graph():  # the whole pipeline built and consumed inside one tf.function
        pipeline = augment_classes(ds, _flip, classes=chosen)
        return pipeline.reduce(tf.zeros_like(x[0]), lambda acc, element: acc + tf.reduce_sum(
            tf.reshape(element[0], [-1, *x.shape[1:]]), axis=0))

    flipped_sum = np.where(np.isin(y, chosen)[:, None, None, None], x[:, :, ::-1, :], x).sum(axis=0)
    np.testing.assert_allclose(run_in_graph().numpy(), flipped_sum, rtol=1e-5)


def test_the_seed_000_mistake_fails_where_augment_classes_works():
    x, y = _images()
    ds = tf.data.Dataset.from_tensor_slices((x, y))

    def python_if(image, label):  # seed 000's augment_image: a Python `if` on a tensor
        if tf.reduce_any(tf.equal(label, 0)):
            image = _flip(image)
        return image, label

    with pytest.raises((TypeError, tf.errors.OperatorNotAllowedInGraphError)):
        ds.map(python_if, autograph=False)
    out_x, _ = _collect(augment_classes(ds, _flip, classes=0))
    _check_only_chosen_changed(x, y, out_x, (0,))


def test_multi_hot_rows_are_chosen_when_any_chosen_label_is_positive():
    x, _ = _images()
    m = (np.random.default_rng(1).random((N, K)) < 0.3).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, m)).batch(8)
    out_x, _ = _collect(augment_classes(ds, _flip, classes=[1, 2]))
    chosen_rows = m[:, 1:].any(axis=1)
    _check_only_chosen_changed(x, np.where(chosen_rows, 1, 0), out_x, (1,))


def test_probability_is_a_fresh_per_element_draw_each_epoch_and_reproducible():
    x = np.zeros((2000, 1), "float32")
    y = np.zeros(2000, "int64")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)
    out = augment_classes(ds, lambda t: t + 1.0, classes=0, probability=0.3, seed=4)
    first = _collect(out, True)[0][:, 0]
    second = _collect(out, True)[0][:, 0]
    for run in (first, second):  # binomial(2000, 0.3): sd ~ 20.5
        assert abs(run.sum() - 600) < 5 * np.sqrt(2000 * 0.3 * 0.7)
    assert not np.array_equal(first, second)
    twin = augment_classes(ds, lambda t: t + 1.0, classes=0, probability=0.3, seed=4)
    np.testing.assert_array_equal(_collect(twin, True)[0][:, 0], first)
    never = augment_classes(ds, lambda t: t + 1.0, classes=0, probability=0.0, seed=4)
    assert _collect(never, True)[0].sum() == 0


def test_fn_with_a_seed_gets_a_new_stateless_seed_per_element_and_epoch():
    x, y = _images()
    y = np.zeros(N, "int64")
    ds = tf.data.Dataset.from_tensor_slices((x, y))

    def random_flip(image, seed):
        return tf.image.stateless_random_flip_left_right(image, seed=seed)

    tf.random.set_seed(9)  # a global seed would freeze stateful random ops; the stateless seed moves on
    out = augment_classes(ds, random_flip, classes=0)
    flipped = [np.array([not np.array_equal(a, b) for a, b in zip(_collect(out)[0], x)]) for _ in range(2)]
    assert 5 < flipped[0].sum() < N - 5  # about half the images flipped
    assert not np.array_equal(flipped[0], flipped[1])


def test_composes_with_balanced_dataset_and_keeps_weights():
    x, y = _images()
    x = x.copy()
    x[:, 0, 0, 0] = np.arange(N)  # row id in a corner that a flip moves elsewhere
    corner = x[:, 0, -1, 0].copy()
    y = np.where(np.arange(N) < 5, 0, 1)
    weights = np.linspace(1, 2, N).astype("float32")
    ds = balanced_dataset(x, np.eye(2, dtype="float32")[y], batch_size=9, seed=0, sample_weight=weights)
    out = augment_classes(ds, _flip, classes=0)
    assert int(out.cardinality()) == ds.steps_per_epoch
    for xb, yb, wb in out:
        xb, yb, wb = xb.numpy(), yb.numpy(), wb.numpy()
        for image, label, weight in zip(xb, yb, wb):
            if label[0] == 1:  # class 0: flipped, so the row id is now in the other corner
                row = int(image[0, -1, 0])
                assert y[row] == 0 and image[0, 0, 0] == corner[row]
            else:
                row = int(image[0, 0, 0])
                assert y[row] == 1
                np.testing.assert_array_equal(image, x[row])
            assert weight == weights[row]


def test_dict_features():
    x, y = _images()
    ds = tf.data.Dataset.from_tensor_slices(({"image": x, "id": np.arange(N)}, y)).batch(16)
    out = augment_classes(ds, lambda f: {"image": _flip(f["image"]), "id": f["id"] + 1000}, classes=1)
    for features, labels in out:
        ids = features["id"].numpy()
        for i, label in zip(ids, labels.numpy()):
            assert (i >= 1000) == (label == 1)


def test_bad_inputs():
    x, y = _images()
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    with pytest.raises(TypeError, match=r"needs a tf.data.Dataset. Received an object of type ndarray"):
        augment_classes(x, _flip)
    with pytest.raises(TypeError, match=r"`fn` must be callable"):
        augment_classes(ds, "flip")
    with pytest.raises(ValueError, match=r"Received: classes=\[\]"):
        augment_classes(ds, _flip, classes=[])
    with pytest.raises(ValueError, match=r"Received: classes=\[-1\]"):
        augment_classes(ds, _flip, classes=[-1])
    with pytest.raises(ValueError, match=r"`probability` must be <= 1.0. Received: probability=1.5"):
        augment_classes(ds, _flip, probability=1.5)
    with pytest.raises(ValueError, match=r"\(x, y\) or \(x, y, sample_weight\)"):
        augment_classes(tf.data.Dataset.from_tensor_slices(x), _flip)
    one_hot = tf.data.Dataset.from_tensor_slices((x, np.eye(K)[y]))
    with pytest.raises(ValueError, match=r"Class 3 in `classes` is not a column of the one-hot labels \(3 columns\)"):
        augment_classes(one_hot, _flip, classes=3)
    with pytest.raises(TypeError, match=r"keep the dtype.*float32.*float64"):
        augment_classes(ds, lambda t: tf.cast(t, tf.float64))
    with pytest.raises(ValueError, match=r"batched=True but the labels are scalars"):
        augment_classes(ds, _flip, batched=True)
