"""imbalance.data.sampling: balanced_dataset (arrays) and rebalance (streams) against formulas written here,
binomial tolerances over many epochs, the dataset graph's own buffer sizes, and model.fit."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from imbalance.data import balanced_dataset, rebalance, rebalance_plan, sampling_plan

COUNTS = (60, 25, 8)


def _labels(counts=COUNTS, seed=0):
    y = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(y)


def _rows(ds):
    """Row indices of one epoch (x holds the row index in its first column) and the batch sizes."""
    rows, sizes = [], []
    for batch in ds:
        x = batch[0]
        rows.append(np.asarray(x)[:, 0].astype(np.int64))
        sizes.append(len(rows[-1]))
    return np.concatenate(rows), sizes


def _epochs(ds, epochs):
    """Row indices of ``epochs`` consecutive epochs, shape (epochs, epoch size): ``repeat`` starts a new iteration
    (a new draw) of the dataset each time, in one pass."""
    total = epochs * ds.sampling_plan.epoch_size
    flat = next(iter(ds.repeat(epochs).map(lambda x, *rest: x[:, 0]).unbatch().batch(total)))
    return flat.numpy().astype(np.int64).reshape(epochs, -1)


def _index_features(n):
    return np.stack([np.arange(n), np.zeros(n)], axis=1).astype("float32")


def _expected_share(target, counts):
    counts = np.asarray(counts, dtype=np.float64)
    if target == "balanced":
        return np.full(counts.size, 1.0 / counts.size)
    if target == "sqrt":
        return np.sqrt(counts) / np.sqrt(counts).sum()
    return np.array([target[c] for c in range(counts.size)], dtype=np.float64)


TARGETS = ["balanced", "sqrt", {0: 0.5, 1: 0.2, 2: 0.3}]


@pytest.mark.parametrize("method", ["oversample", "undersample"])
@pytest.mark.parametrize("target", TARGETS, ids=["balanced", "sqrt", "dict"])
def test_class_frequencies_match_the_target_over_many_epochs(target, method):
    y = _labels()
    share = _expected_share(target, COUNTS)
    ratios = np.array(COUNTS) / share
    size = math.ceil(ratios.max() - 1e-9) if method == "oversample" else math.floor(ratios.min() + 1e-9)
    ds = balanced_dataset(_index_features(y.size), y, batch_size=16, target=target, method=method, seed=3)
    epochs = 40
    total = np.zeros(len(COUNTS))
    for rows in _epochs(ds, epochs):
        assert rows.size == size
        per_epoch = np.bincount(y[rows], minlength=len(COUNTS))
        # exact allocation: every class within rounding of size * share, every epoch
        assert np.all(np.abs(per_epoch - size * share) < 1.0 + 1e-9), per_epoch
        total += per_epoch
    n = epochs * size
    tolerance = 4 * np.sqrt(n * share * (1 - share)) + epochs  # binomial band (+ rounding per epoch)
    assert np.all(np.abs(total - n * share) <= tolerance), (total, n * share)


def test_epochs_differ_a_seed_reproduces_and_a_global_seed_does_not_freeze_the_draw():
    y = _labels()
    x = _index_features(y.size)
    ds = balanced_dataset(x, y, batch_size=10, seed=7)
    first, second = _rows(ds)[0], _rows(ds)[0]
    assert not np.array_equal(first, second)
    again = balanced_dataset(x, y, batch_size=10, seed=7)
    np.testing.assert_array_equal(_rows(again)[0], first)
    np.testing.assert_array_equal(_rows(again)[0], second)
    assert not np.array_equal(_rows(balanced_dataset(x, y, batch_size=10, seed=8))[0], first)
    # A global seed makes stateful tf.random ops in dataset functions repeat every epoch; the draw must not.
    tf.random.set_seed(5)
    unseeded = balanced_dataset(x, y, batch_size=10, method="undersample")
    assert not np.array_equal(_rows(unseeded)[0], _rows(unseeded)[0])


def test_no_row_is_starved():
    y = _labels()
    x = _index_features(y.size)
    over = balanced_dataset(x, y, batch_size=32, seed=0)
    for _ in range(3):  # oversampling: every row of every class appears in every epoch
        rows, _ = _rows(over)
        assert set(rows.tolist()) == set(range(y.size))
    under = balanced_dataset(x, y, batch_size=32, method="undersample", seed=0)
    seen = np.zeros(y.size, dtype=bool)
    for rows in _epochs(under, 150):  # each majority row is kept with probability 8/60 per epoch
        assert len(set(rows.tolist())) == rows.size  # undersampling never repeats a row within an epoch
        np.testing.assert_array_equal(np.bincount(y[rows], minlength=3), [8, 8, 8])
        seen[rows] = True
    assert seen.all(), np.flatnonzero(~seen)


@pytest.mark.parametrize("row_values", [2, 128 * 128])  # 16 batches gathered at a time; fewer for big rows
@pytest.mark.parametrize("batch_size", [1, 7, 16, 180])
def test_steps_per_epoch_is_exact_and_the_last_partial_batch_is_kept(batch_size, row_values):
    y = _labels()
    x = np.zeros((y.size, row_values), dtype="float32")
    x[:, 0] = np.arange(y.size)
    ds = balanced_dataset(x, y, batch_size=batch_size, seed=0)
    size = 3 * max(COUNTS)
    steps = -(-size // batch_size)
    assert int(ds.cardinality()) == steps == ds.steps_per_epoch == ds.sampling_plan.steps_per_epoch(batch_size)
    _, sizes = _rows(ds)
    assert len(sizes) == steps
    assert sizes[:-1] == [batch_size] * (steps - 1)
    assert sizes[-1] == size - batch_size * (steps - 1)
    assert int(ds.map(lambda x, y: y).cardinality()) == steps  # stays known through further maps


def test_epoch_size_override_and_sampling_plan_numbers():
    y = _labels()
    plan = sampling_plan(y, epoch_size=y.size)
    assert plan.epoch_size == y.size and plan.epoch_class_counts.sum() == y.size
    assert np.all(np.abs(plan.epoch_class_counts - y.size / 3) < 1)
    np.testing.assert_allclose(plan.row_repeats, plan.epoch_class_counts[y] / np.array(COUNTS)[y])
    ds = balanced_dataset(_index_features(y.size), y, batch_size=20, epoch_size=y.size, seed=0)
    rows, _ = _rows(ds)
    np.testing.assert_array_equal(np.bincount(y[rows]), plan.epoch_class_counts)


def test_dict_and_tuple_inputs_one_hot_labels_and_sample_weights_stay_aligned():
    y = _labels()
    n = y.size
    x = {"index": np.arange(n, dtype="float32")[:, None], "image": np.arange(n * 4, dtype="float32").reshape(n, 2, 2)}
    one_hot = np.eye(3, dtype="float32")[y]
    weights = np.linspace(0.5, 2.0, n).astype("float32")
    ds = balanced_dataset(x, one_hot, batch_size=32, seed=1, sample_weight=weights)
    counts = np.zeros(3)
    for xb, yb, wb in ds:
        rows = xb["index"].numpy()[:, 0].astype(int)
        np.testing.assert_array_equal(xb["image"].numpy(), x["image"][rows])
        np.testing.assert_array_equal(yb.numpy(), one_hot[rows])
        np.testing.assert_array_equal(wb.numpy(), weights[rows])
        counts += yb.numpy().sum(axis=0)
    np.testing.assert_array_equal(counts, [60, 60, 60])
    tuple_ds = balanced_dataset((x["index"], x["image"]), y, batch_size=32, seed=1)
    (first, second), yb = next(iter(tuple_ds))
    rows = first.numpy()[:, 0].astype(int)
    np.testing.assert_array_equal(second.numpy(), x["image"][rows])
    np.testing.assert_array_equal(yb.numpy(), y[rows])


def _lvis_repeats(m, target, method):
    """Repeat-factor sampling written out here: label factor from counts, row factor = max over its labels."""
    counts = m.sum(axis=0)
    factor = counts.max() / counts
    if target == "sqrt":
        factor = np.sqrt(factor)
    row = np.array([factor[r > 0].max() if r.any() else 1.0 for r in m])
    return row / row.max() if method == "undersample" else row


@pytest.mark.parametrize("method", ["oversample", "undersample"])
@pytest.mark.parametrize("target", ["balanced", "sqrt"])
def test_multilabel_repeat_factor_sampling(target, method):
    rng = np.random.default_rng(1)
    m = (rng.random((120, 4)) < [0.5, 0.2, 0.08, 0.03]).astype("float32")
    m[0, 3] = 1.0
    expected = _lvis_repeats(m, target, method)
    whole = np.floor(expected + 1e-9)
    frac_total = (expected - whole).sum()
    size = int(whole.sum() + math.floor(frac_total + 1e-9))
    ds = balanced_dataset(_index_features(len(m)), m, batch_size=50, target=target, method=method, seed=2)
    assert ds.sampling_plan.epoch_size == size
    epochs = 200
    copies = np.zeros(len(m))
    for rows in _epochs(ds, epochs):
        assert rows.size == size
        per_epoch = np.bincount(rows, minlength=len(m))
        assert np.all(per_epoch >= whole) and np.all(per_epoch <= np.ceil(expected - 1e-9))
        copies += per_epoch
    # the fractional parts are scaled by floor(T) / T to make the epoch size exact
    scaled = whole + (expected - whole) * (math.floor(frac_total + 1e-9) / frac_total if frac_total else 0.0)
    p = scaled - whole
    tolerance = 5 * np.sqrt(epochs * p * (1 - p)) + 1e-9
    assert np.all(np.abs(copies / 1.0 - epochs * scaled) <= tolerance)
    np.testing.assert_allclose(ds.sampling_plan.row_repeats, scaled)


def test_model_fit_sees_a_new_draw_every_epoch_and_the_same_draws_as_iteration():
    y = _labels()
    x = _index_features(y.size)[:, :1]

    def metric(y_true, y_pred):  # the model passes x through: the epoch mean of sin(1.7 x) tells the draws apart
        return tf.sin(1.7 * y_pred[:, 0])

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones",
                                                                    bias_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=[metric])
    history = model.fit(balanced_dataset(x, y, batch_size=32, seed=11), epochs=3, verbose=0)
    seen = history.history["metric"]
    # Every new iterator is a new draw. Keras may open an iterator it does not use (with a known cardinality it
    # opens the next epoch's iterator at the end of each epoch), so fit epoch k is one of the draws, in order.
    twin = balanced_dataset(x, y, batch_size=32, seed=11)
    draws = [float(np.mean(np.sin(1.7 * rows))) for rows in _epochs(twin, 8)]
    assert len(set(np.round(draws, 6))) == 8
    matched = [int(np.argmin(np.abs(np.array(draws) - value))) for value in seen]
    np.testing.assert_allclose(seen, [draws[i] for i in matched], rtol=1e-4, atol=1e-5)
    assert matched[0] == 0 and matched == sorted(set(matched))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"target": {0: 0.5, 1: 0.3, 2: 0.1}}, ValueError, r"sum to 1; they sum to 0\.9"),
        ({"target": {0: 0.5, 1: 0.25, 2: 0.25, 5: 0.0}}, ValueError, r"Class 5 in `target` is not a class"),
        ({"target": {0: 0.5, 1: 0.5}}, ValueError, r"Class 2 has 8 rows in the data but no fraction"),
        ({"target": {0: 0.5, 1: -0.5, 2: 1.0}}, ValueError, r"class 1 has -0\.5"),
        ({"target": "inverse"}, ValueError, r"balanced.*sqrt.*Received: target='inverse'"),
        ({"method": "smote"}, ValueError, r"oversample.*undersample.*Received: method='smote'"),
        ({"batch_size": 0}, ValueError, r"`batch_size` must be a positive integer. Received: batch_size=0"),
        ({"batch_size": -3}, ValueError, r"Received: batch_size=-3"),
        ({"batch_size": 2.5}, ValueError, r"Received: batch_size=2\.5"),
        ({"seed": -1}, ValueError, r"Received: seed=-1"),
        ({"epoch_size": 0}, ValueError, r"Received: epoch_size=0"),
        ({"sample_weight": np.ones(5)}, ValueError, r"one weight per row of `y` \(93\)"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    y = _labels()
    args = {"batch_size": 8, **kwargs}
    with pytest.raises(error, match=match):
        balanced_dataset(_index_features(y.size), y, **args)


def test_bad_data_raise_clear_errors():
    y = _labels()
    with pytest.raises(ValueError, match=r"`x` has 92 rows but `y` has 93 rows"):
        balanced_dataset(np.zeros((92, 2)), y, 8)
    with pytest.raises(ValueError, match=r"`x\['b'\]` has 3 rows but `y` has 93 rows"):
        balanced_dataset({"a": np.zeros((93, 1)), "b": np.zeros((3, 1))}, y, 8)
    absent = np.array([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"Class 2 has fraction 0\.2 in `target` but no rows"):
        balanced_dataset(np.zeros((5, 1)), absent, 2, target={0: 0.4, 1: 0.4, 2: 0.2}, num_classes=3)
    with pytest.raises(ValueError, match=r"multi-label.*dict of class fractions"):
        balanced_dataset(np.zeros((2, 1)), [[1, 1], [0, 1]], 2, target={0: 0.5, 1: 0.5})
    with pytest.raises(ValueError, match=r"row 1 holds -1"):
        balanced_dataset(np.zeros((3, 1)), [0, -1, 1], 2)


# --- rebalance (streaming) -------------------------------------------------------------------------------------


def _stream_from_generator(n, prior, seed=0):
    """A generator-backed stream (nothing held in memory): row i has features [i, 0] and a class drawn from prior."""
    labels = np.random.default_rng(seed).choice(len(prior), size=n, p=prior)

    def rows():
        for i in range(n):
            yield np.array([i, 0.0], dtype=np.float32), labels[i]

    spec = (tf.TensorSpec((2,), tf.float32), tf.TensorSpec((), tf.int64))
    return tf.data.Dataset.from_generator(rows, output_signature=spec), labels


def _graph_nodes(ds):
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(ds._as_serialized_graph(external_state_policy=tf.data.experimental.ExternalStatePolicy.WARN)
                          .numpy())
    nodes = {node.name: node for node in graph.node}
    return nodes


def _buffer_constants(ds):
    """Every buffer size of the dataset graph: {op type: [sizes]} read from the constants feeding their inputs."""
    nodes = _graph_nodes(ds)
    sizes = {}
    for node in nodes.values():
        if any(word in node.op for word in ("Shuffle", "Prefetch", "Batch", "Cache", "Window", "Snapshot")):
            name = node.input[1].split(":")[0]
            value = tf.make_ndarray(nodes[name].attr["value"].tensor)
            sizes.setdefault(node.op, []).append(int(value))
    return sizes


def test_rebalance_on_a_stream_far_larger_than_its_buffers_keeps_buffers_fixed_and_reaches_the_target():
    prior = [0.9, 0.08, 0.02]
    n = 12_000
    stream, labels = _stream_from_generator(n, prior)
    counts = np.bincount(labels, minlength=3)
    out = rebalance(stream, seed=0, counts=counts, shuffle_buffer=256)
    plan = out.rebalance_plan
    max_copies = math.ceil(counts[0] / counts[2] - 1e-9)
    block = min(128, 1024 // max_copies)
    assert plan.buffer_sizes == {"block": block, "repeat": block * max_copies, "shuffle": 256}
    # the graph TensorFlow runs holds one block of the input and one shuffle buffer of those sizes, nothing else
    buffers = _buffer_constants(out)
    assert buffers == {"BatchDatasetV2": [block], "ShuffleDatasetV3": [256]}
    # the same pipeline over 1000× more rows allocates the same buffers
    big = tf.data.Dataset.range(n * 1000).map(lambda i: (tf.cast(tf.stack([i, i]), tf.float32), i % 3))
    big_out = rebalance(big, seed=0, counts=counts * 1000, shuffle_buffer=256)
    assert big_out.rebalance_plan.buffer_sizes == plan.buffer_sizes
    assert _buffer_constants(big_out) == buffers
    # one pass reaches the target: each class' output count is a sum of floor(r) + Bernoulli(frac r) copies
    got = np.zeros(3)
    for _, y in out.batch(8192):
        got += np.bincount(y.numpy(), minlength=3)
    r = counts.max() / counts
    expected = counts * r
    spread = np.sqrt(counts * (r - np.floor(r)) * (1 - (r - np.floor(r))))
    assert np.all(np.abs(got - expected) <= 5 * spread + 1), (got, expected)
    np.testing.assert_allclose(plan.expected_copies, r)


def test_rebalance_repeats_an_element_at_most_max_copies_times_and_redraws_every_epoch():
    prior = [0.7, 0.2, 0.1]
    stream, labels = _stream_from_generator(1500, prior, seed=3)
    counts = np.bincount(labels)
    out = rebalance(stream, seed=1, counts=counts, shuffle_buffer=0)  # no shuffle: copies stay adjacent
    rows = np.concatenate([x.numpy()[:, 0] for x, _ in out.batch(4096)]).astype(int)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, rows, -1]) != 0))
    assert runs.max() <= out.rebalance_plan.max_copies
    assert np.all(np.diff(np.unique(rows)) > 0) and set(rows.tolist()) == set(range(1500))  # nobody is dropped

    shuffled = rebalance(stream, seed=1, counts=counts)
    first = np.concatenate([x.numpy()[:, 0] for x, _ in shuffled.batch(4096)])
    second = np.concatenate([x.numpy()[:, 0] for x, _ in shuffled.batch(4096)])
    assert not np.array_equal(first, second)
    twin = rebalance(stream, seed=1, counts=counts)
    np.testing.assert_array_equal(np.concatenate([x.numpy()[:, 0] for x, _ in twin.batch(4096)]), first)
    tf.random.set_seed(3)  # a global seed must not freeze the per-element decisions either
    unseeded = rebalance(stream, counts=counts, method="undersample")
    a = np.concatenate([x.numpy()[:, 0] for x, _ in unseeded.batch(4096)])
    b = np.concatenate([x.numpy()[:, 0] for x, _ in unseeded.batch(4096)])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("target", TARGETS, ids=["balanced", "sqrt", "dict"])
def test_rebalance_undersample_reaches_each_target_with_counts_computed_in_graph(target):
    rng = np.random.default_rng(4)
    y = rng.choice(3, size=8000, p=[0.6, 0.3, 0.1])
    one_hot = np.eye(3, dtype="float32")[y]
    ds = tf.data.Dataset.from_tensor_slices((np.arange(y.size, dtype="float32")[:, None], one_hot))
    out = rebalance(ds, target=target, method="undersample", seed=0)  # counts from one in-graph pass
    counts = np.bincount(y)
    np.testing.assert_array_equal(out.rebalance_plan.class_counts, counts)
    share = _expected_share(target, counts)
    keep = (share / (counts / counts.sum())) / (share / (counts / counts.sum())).max()
    np.testing.assert_allclose(out.rebalance_plan.keep_probability, keep)
    got = np.zeros(3)
    previous = -1.0
    for x, yb in out.batch(2000):
        got += yb.numpy().sum(axis=0)
        order = x.numpy()[:, 0]
        assert np.all(np.diff(order) > 0) and order[0] > previous  # undersampling keeps the input order
        previous = order[-1]
    expected = counts * keep
    assert np.all(np.abs(got - expected) <= 5 * np.sqrt(counts * keep * (1 - keep)) + 1), (got, expected)


def test_rebalance_passes_sample_weights_through_and_works_in_model_fit():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.1).astype("int64")
    x = rng.standard_normal((600, 3)).astype("float32")
    w = rng.random(600).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w))
    out = rebalance(ds, seed=0)
    for xe, ye, we in out.take(200):
        row = int(np.argmin(np.abs(x - xe.numpy()).sum(axis=1)))
        assert ye.numpy() == y[row] and we.numpy() == w[row]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    history = model.fit(out.batch(64), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_rebalance_of_elements_of_varying_shape_decides_them_one_by_one():
    labels = np.random.default_rng(5).permutation((np.arange(3000) % 5 == 0).astype(np.int64))  # 2400 vs 600

    def rows():
        for i, label in enumerate(labels):
            yield np.full(1 + i % 3, i, dtype=np.float32), label  # features of length 1, 2 or 3

    spec = (tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.int64))
    stream = tf.data.Dataset.from_generator(rows, output_signature=spec)
    out = rebalance(stream, counts=np.bincount(labels), seed=0, shuffle_buffer=64)
    assert out.rebalance_plan.buffer_sizes == {"block": 1, "repeat": 4, "shuffle": 64}
    got = np.zeros(2)
    for x, y in out:
        row = int(x.numpy()[0])
        assert x.shape[0] == 1 + row % 3 and y.numpy() == labels[row]
        got[int(y)] += 1
    counts = np.bincount(labels)
    np.testing.assert_array_equal(got, [counts[0], 4 * counts[1]])  # r = 4 exactly: no randomness in the counts


def test_rebalance_bad_inputs():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((6, 1)), [0, 0, 0, 0, 1, 1]))
    with pytest.raises(TypeError, match=r"needs a tf.data.Dataset. Received an object of type ndarray"):
        rebalance(np.zeros(3))
    with pytest.raises(ValueError, match=r"unbatched dataset.*shape \(None,\)"):
        rebalance(ds.batch(2))
    with pytest.raises(ValueError, match=r"Class 2 has fraction 0\.2 in `target` but no rows"):
        rebalance(ds, target={0: 0.4, 1: 0.4, 2: 0.2}, num_classes=3)
    with pytest.raises(ValueError, match=r"sum to 1; they sum to 1\.2"):
        rebalance(ds, target={0: 0.6, 1: 0.6})
    with pytest.raises(ValueError, match=r"`counts` has 3 entries but the data has 2 classes"):
        rebalance(ds, counts=[4, 2, 0], num_classes=2)
    with pytest.raises(ValueError, match=r"whole numbers >= 0.*Received: counts=\[4, -2\]"):
        rebalance(ds, counts=[4, -2])
    with pytest.raises(ValueError, match=r"Received: shuffle_buffer=-1"):
        rebalance(ds, shuffle_buffer=-1)
    multi_hot = tf.data.Dataset.from_tensor_slices((np.zeros((3, 1)), np.array([[1, 1], [0, 1], [1, 0]], "float32")))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"multi-hot rows have no single class"):
        list(rebalance(multi_hot, counts=[2, 2]))
    with pytest.raises(ValueError, match=r"oversample.*undersample"):
        rebalance_plan([3, 1], method="both")


@pytest.mark.parametrize("method, epoch_size", [("oversample", None), ("undersample", None), ("oversample", 50)])
def test_index_draws_follow_the_plan_row_for_row(method, epoch_size):
    """The numpy draws a streamed source trains on: exactly the plan's rows per class, each row of a class
    ``m_c // n_c`` or one more times (distinct extras), seeded by (seed, epoch), a new draw each epoch."""
    from imbalance.data.sampling import index_draws, sampling_plan

    y = np.array([0] * 23 + [1] * 5 + [2] * 2, dtype=np.int8)
    plan = sampling_plan(y, method=method, epoch_size=epoch_size)
    draw = index_draws(plan, y, seed=3)
    first = draw(0)
    assert first.dtype == np.int32 and len(first) == plan.epoch_size
    assert np.bincount(y[first], minlength=3).tolist() == plan.epoch_class_counts.tolist()
    for c in range(3):
        copies = np.bincount(first[y[first] == c], minlength=len(y))[y == c]
        low = plan.epoch_class_counts[c] // (y == c).sum()
        assert set(copies.tolist()) <= {int(low), int(low) + 1}
    np.testing.assert_array_equal(first, index_draws(plan, y, seed=3)(0))
    assert first.tolist() != draw(1).tolist()
    # in file order (a source that shuffles as it reads): the same rows, sorted
    np.testing.assert_array_equal(index_draws(plan, y, seed=3, in_order=True)(0), np.sort(first))
