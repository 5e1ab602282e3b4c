"""Invalid inputs never give a silent number (issue 20, part 4).

Losses and streaming metrics: class ids out of range, labels outside [0, 1], probabilities outside [0, 1] with
``from_logits=False`` and NaN scores raise a ValueError naming the value on concrete (eager) tensors of every
backend; in a TensorFlow graph a ``tf.debugging.Assert`` fails the step with the same message; where nothing can
raise on data (XLA, ``jax.jit``) the invalid rows are NaN. ``ThresholdTuner.load`` / ``FixedThreshold.load``
validate every field, naming the file and the field.

Runs under every backend (``KERAS_BACKEND=tensorflow | jax | torch``); the graph and XLA cases need TensorFlow,
the jit cases JAX.
"""

import json

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, compiled_update

import imbalance.losses as L
from imbalance.metrics import PRAUC, BalancedAccuracy, FBetaScore, Precision, Recall, RecallAtPrecision
from imbalance.thresholds import FixedThreshold, ThresholdTuner

COUNTS = [50.0, 30.0, 20.0]
COST = [[0, 1, 1], [5, 0, 1], [5, 1, 0]]

# (name, factory, kind): kind says which labels the loss takes.
SPARSE_LOSSES = [
    ("SparseCategoricalFocalLoss", lambda: L.SparseCategoricalFocalLoss(from_logits=True, reduction=None)),
    ("CostSensitiveCrossentropy", lambda: L.CostSensitiveCrossentropy(COST, from_logits=True, sparse=True,
                                                                      reduction=None)),
    ("LogitAdjustedLoss", lambda: L.LogitAdjustedLoss(COUNTS, reduction=None)),
    ("LDAMLoss", lambda: L.LDAMLoss(COUNTS, scale=1.0, reduction=None)),
]
ONE_HOT_LOSSES = [
    ("CategoricalFocalLoss", lambda: L.CategoricalFocalLoss(from_logits=True, reduction=None)),
    ("CostSensitiveCrossentropy", lambda: L.CostSensitiveCrossentropy(COST, from_logits=True, reduction=None)),
    ("LogitAdjustedLoss", lambda: L.LogitAdjustedLoss(COUNTS, sparse=False, reduction=None)),
    ("LDAMLoss", lambda: L.LDAMLoss(COUNTS, scale=1.0, sparse=False, reduction=None)),
]
BINARY_LOSSES = [
    ("WeightedBinaryCrossentropy", lambda f: L.WeightedBinaryCrossentropy(3.0, from_logits=f, reduction=None)),
    ("BinaryFocalLoss", lambda f: L.BinaryFocalLoss(from_logits=f, reduction=None)),
    ("AsymmetricLoss", lambda f: L.AsymmetricLoss(from_logits=f, reduction=None)),
]
SOFTMAX_PROBABILITY_LOSSES = [
    ("CategoricalFocalLoss", lambda: L.CategoricalFocalLoss(), "one_hot"),
    ("SparseCategoricalFocalLoss", lambda: L.SparseCategoricalFocalLoss(), "ids"),
    ("CostSensitiveCrossentropy", lambda: L.CostSensitiveCrossentropy(COST), "one_hot"),
]

LOGITS = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0], [0.0, 0.0, 3.0], [2.0, -1.0, 0.5]], np.float32)
GOOD_IDS = np.array([0, 1, 2, 1])
BINARY_SCORES = np.array([[0.2, 0.9], [0.7, 0.4], [0.5, 0.1]], np.float32)
BINARY_LABELS = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], np.float32)


def _ids(bad):
    ids = GOOD_IDS.copy()
    ids[1] = bad
    return ids


def _one_hot(bad_value):
    y = np.eye(3, dtype=np.float32)[GOOD_IDS]
    y[1, 1] = bad_value
    return y


def _binary(bad_value):
    y = BINARY_LABELS.copy()
    y[1, 0] = bad_value
    return y


def _probability(bad_value):
    p = BINARY_SCORES.copy()
    p[1, 1] = bad_value
    return p


# Every invalid input, as (id, loss factory, y_true, y_pred, message pattern, invalid row).
LOSS_CASES = (
    [(f"{name}-id{bad}", make, _ids(bad), LOGITS, rf"class ids in \[0, 2\].*row 1 holds {bad}", 1)
     for name, make in SPARSE_LOSSES for bad in (5, -1)]
    + [(f"{name}-one-hot-2", make, _one_hot(2.0), LOGITS, r"labels in \[0, 1\].*row 1, column 1 holds 2\.0", 1)
       for name, make in ONE_HOT_LOSSES]
    + [(f"{name}-label{bad}", (lambda m=make: m(True)), _binary(bad), BINARY_SCORES,
        rf"labels in \[0, 1\].*row 1, column 0 holds {bad}", 1)
       for name, make in BINARY_LOSSES for bad in (2.0, -1.0)]
    + [(f"{name}-probability", (lambda m=make: m(False)), BINARY_LABELS, _probability(1.5),
        r"`y_pred` of .*probabilities in \[0, 1\] \(from_logits=False\).*row 1, column 1 holds 1\.5.*from_logits=True",
        1)
       for name, make in BINARY_LOSSES]
)
LOSS_IDS = [case[0] for case in LOSS_CASES]


def _softmax_probabilities():
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    p[2, 0] = 1.5
    return p.astype(np.float32)


def _labels_for(kind):
    return GOOD_IDS if kind == "ids" else np.eye(3, dtype=np.float32)[GOOD_IDS]


# --- losses, eager: a ValueError naming the value -------------------------------------------------------------


@pytest.mark.parametrize("case", LOSS_CASES, ids=LOSS_IDS)
def test_an_invalid_loss_input_raises_naming_the_value(case):
    _, make, y_true, y_pred, pattern, _ = case
    with pytest.raises(ValueError, match=pattern):
        make()(y_true, y_pred)


@pytest.mark.parametrize("name, make, kind", SOFTMAX_PROBABILITY_LOSSES, ids=[c[0] for c in
                                                                                SOFTMAX_PROBABILITY_LOSSES])
def test_softmax_probabilities_outside_the_unit_interval_raise(name, make, kind):
    with pytest.raises(ValueError, match=r"`y_pred` of .* row 2, column 0 holds 1\.5"):
        make()(_labels_for(kind), _softmax_probabilities())


def test_the_pure_functions_check_too():
    with pytest.raises(ValueError, match=r"`y_true` of sparse_categorical_focal_loss .* row 1 holds 5"):
        L.sparse_categorical_focal_loss(_ids(5), LOGITS, from_logits=True)
    with pytest.raises(ValueError, match="weighted_binary_crossentropy"):
        L.weighted_binary_crossentropy(_binary(2.0), BINARY_SCORES)


def test_float_class_ids_must_be_whole_numbers_and_not_nan():
    loss = L.SparseCategoricalFocalLoss(from_logits=True)
    for bad, shown in ((1.5, "1.5"), (np.nan, "nan")):
        ids = GOOD_IDS.astype(np.float32)
        ids[1] = bad
        with pytest.raises(ValueError, match=rf"row 1 holds {shown}"):
            loss(ids, LOGITS)


def test_valid_edges_are_accepted():
    """0 and K-1, soft labels, probabilities exactly 0 and 1: no error, finite losses."""
    ids = np.array([0, 2, 2, 0])
    for _, make in SPARSE_LOSSES:
        assert np.isfinite(keras.ops.convert_to_numpy(make()(ids, LOGITS))).all()
    soft = np.array([[0.0, 0.25], [1.0, 0.5], [0.5, 1.0]], np.float32)
    edges = np.array([[0.0, 1.0], [1.0, 0.5], [0.3, 0.0]], np.float32)
    for _, make in BINARY_LOSSES:
        assert np.isfinite(keras.ops.convert_to_numpy(make(False)(soft, edges))).all()


def test_a_model_trained_eagerly_on_invalid_labels_raises():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=L.SparseCategoricalFocalLoss(from_logits=True), run_eagerly=True)
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\].*holds 3"):
        model.fit(np.zeros((4, 2), np.float32), np.array([0, 1, 2, 3]), epochs=1, verbose=0)


# --- losses, compiled ---------------------------------------------------------------------------------------


needs_tf = pytest.mark.skipif(BACKEND != "tensorflow", reason="a TensorFlow graph needs the TensorFlow backend")


@needs_tf
@pytest.mark.parametrize("case", LOSS_CASES[::3], ids=LOSS_IDS[::3])
def test_a_tensorflow_graph_fails_the_step_with_the_message(case):
    import tensorflow as tf

    _, make, y_true, y_pred, pattern, _ = case
    loss = make()
    graph = tf.function(lambda y, p: loss(y, p))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be .*first invalid entry is at"):
        graph(tf.constant(y_true), tf.constant(y_pred))
    assert np.isfinite(graph(tf.constant(_valid_like(y_true, y_pred)), tf.constant(np.clip(y_pred, 0, 1))).numpy()
                       ).all()


def _valid_like(y_true, y_pred):
    if y_true.ndim == 1:
        return GOOD_IDS
    return np.clip(y_true, 0.0, 1.0)


def _jit(fn):
    """``fn`` compiled where no Python can look at the values: XLA on TensorFlow, ``jax.jit`` on JAX."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    pytest.skip("torch has no cheap jit of a loss here (torch.compile: see test_torch_compile_gives_nan)")


def _two_bad(y, rows_and_values):
    y = y.copy()
    for index, value in rows_and_values:
        y[index] = value
    return y


# One compiled case per loss and input kind, each with two invalid rows: (id, factory, y_true, y_pred, bad rows).
COMPILED_CASES = (
    [(f"{name}-ids", make, _two_bad(GOOD_IDS, [(1, 5), (3, -1)]), LOGITS, [1, 3]) for name, make in SPARSE_LOSSES]
    + [(f"{name}-one-hot", make, _two_bad(_one_hot(1.0), [((1, 1), 2.0), ((3, 0), -1.0)]), LOGITS, [1, 3])
       for name, make in ONE_HOT_LOSSES]
    + [(f"{name}-labels", (lambda m=make: m(True)), _two_bad(BINARY_LABELS, [((1, 0), 2.0), ((2, 1), -1.0)]),
        BINARY_SCORES, [1, 2]) for name, make in BINARY_LOSSES]
    + [(f"{name}-probabilities", (lambda m=make: m(False)), BINARY_LABELS, _probability(1.5), [1])
       for name, make in BINARY_LOSSES]
)


@pytest.mark.parametrize("case", COMPILED_CASES, ids=[c[0] for c in COMPILED_CASES])
def test_compiled_an_invalid_batch_is_nan_and_a_valid_one_unchanged(case):
    """Under XLA / jax.jit an assert cannot fire: a batch with an invalid entry gives NaN for every row (so the
    batch loss is NaN); the same compiled function on the valid batch gives the eager values."""
    name, make, y_true, y_pred, bad_rows = case
    loss = make()
    compiled = _jit(lambda y, p: loss(y, p))
    assert np.isnan(keras.ops.convert_to_numpy(compiled(y_true, y_pred))).all()
    fixed_true = y_true.copy()
    fixed_true[bad_rows] = GOOD_IDS[bad_rows] if y_true.ndim == 1 else 0.0
    fixed_pred = np.clip(y_pred, 0.0, 1.0)
    got = keras.ops.convert_to_numpy(compiled(fixed_true, fixed_pred))
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(make()(fixed_true, fixed_pred)), rtol=1e-5)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("name, make", BINARY_LOSSES, ids=[c[0] for c in BINARY_LOSSES])
def test_compiled_a_nan_label_or_probability_is_nan(name, make):
    """NaN needs no flag when compiled: it makes its row NaN by itself (eagerly it raises, as above)."""
    compiled = _jit(lambda y, p, loss=make(False): loss(y, p))
    for y, p in ((_binary(np.nan), BINARY_SCORES), (BINARY_LABELS, _probability(np.nan))):
        assert np.isnan(keras.ops.convert_to_numpy(compiled(y, p))[1])


def test_compiled_the_gradient_stays_finite():
    """Value-only poison: the NaN adds no gradient path, so an optimizer step does not turn the weights NaN."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        z = tf.Variable(LOGITS)
        loss = L.SparseCategoricalFocalLoss(from_logits=True)

        @tf.function(jit_compile=True)
        def value_and_grad():
            with tf.GradientTape() as tape:
                value = loss(tf.constant(_ids(7)), z)
            return value, tape.gradient(value, z)

        value, grad = (t.numpy() for t in value_and_grad())
    elif BACKEND == "jax":
        import jax

        loss = L.SparseCategoricalFocalLoss(from_logits=True)
        value, grad = jax.jit(jax.value_and_grad(lambda z: loss(_ids(7), z)))(LOGITS)
    else:
        pytest.skip("covered on TensorFlow and JAX")
    assert np.isnan(value) and np.isfinite(np.asarray(grad)).all()


def test_model_fit_compiled_reports_nan_and_terminate_on_nan_stops():
    """TensorFlow with XLA and JAX (jit): the step's loss is NaN, TerminateOnNaN stops after the first batch and
    the weights stay finite. Torch trains eagerly: the ValueError."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=L.SparseCategoricalFocalLoss(from_logits=True),
                  jit_compile=BACKEND != "torch")
    x, y = np.ones((8, 2), np.float32), np.array([0, 1, 2, 1, 0, 1, 2, 4])
    if BACKEND == "torch":
        with pytest.raises(ValueError, match=r"row 7 holds 4"):  # the row of the batch
            model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        return
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert np.isnan(history.history["loss"][0]) and len(history.history["loss"]) == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())


@needs_tf
def test_model_fit_in_a_tensorflow_graph_raises():
    import tensorflow as tf

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=L.WeightedBinaryCrossentropy(from_logits=True), jit_compile=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"weighted_binary_crossentropy must be 0/1"):
        model.fit(np.zeros((4, 2), np.float32), _binary(2.0)[[0, 1, 2, 0]], epochs=1, verbose=0)


def test_torch_compile_gives_nan():
    if BACKEND != "torch":
        pytest.skip("torch only")
    import torch

    loss = L.WeightedBinaryCrossentropy(from_logits=True, reduction=None)
    got = torch.compile(lambda y, p: loss(y, p))(torch.tensor(_binary(2.0)), torch.tensor(BINARY_SCORES))
    assert torch.isnan(got).all()


# --- metrics ------------------------------------------------------------------------------------------------

SOFTMAX = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]], np.float32)
METRIC_CASES = [
    ("precision-nan-score", lambda: Precision(), np.array([0, 1, 0]), np.array([0.2, np.nan, 0.9], np.float32),
     r"`y_pred` of Precision \('precision'\) must be scores, not NaN; row 1 holds nan"),
    ("recall-nan-logit", lambda: Recall(from_logits=True), np.array([0, 1, 0]),
     np.array([0.2, np.nan, 0.9], np.float32), r"must be logits, not NaN; row 1 holds nan"),
    ("precision-id-out-of-range", lambda: Precision(), np.array([0, 1, 3, 2]), SOFTMAX,
     r"`y_true` of Precision .*class ids in \[0, 2\].*row 2 holds 3"),
    ("fbeta-negative-id", lambda: FBetaScore(), np.array([0, -1, 2, 2]), SOFTMAX, r"row 1 holds -1"),
    ("balanced-accuracy-label-2", lambda: BalancedAccuracy(), np.array([0, 2, 1]),
     np.array([0.2, 0.6, 0.9], np.float32), r"0/1 labels in \[0, 1\]; row 1 holds 2"),
    ("fbeta-multi-hot-2", lambda: FBetaScore(multi_label=True), _binary(2.0), BINARY_SCORES,
     r"multi-hot labels in \[0, 1\]; row 1, column 0 holds 2\.0"),
    ("prauc-probability-1.5", lambda: PRAUC(), np.array([0, 1, 1]), np.array([0.2, 1.5, 0.9], np.float32),
     r"probabilities in \[0, 1\] \(from_logits=False\); row 1 holds 1\.5"),
    ("recall-at-precision-nan", lambda: RecallAtPrecision(0.5), np.array([0, 1, 1]),
     np.array([0.2, np.nan, 0.9], np.float32), r"row 1 holds nan"),
]


@pytest.mark.parametrize("name, make, y_true, y_pred, pattern", METRIC_CASES, ids=[c[0] for c in METRIC_CASES])
def test_a_metric_refuses_invalid_values_eagerly(name, make, y_true, y_pred, pattern):
    metric = make()
    with pytest.raises(ValueError, match=pattern):
        metric.update_state(y_true, y_pred)


def _scalar(result):
    result = next(iter(result.values())) if isinstance(result, dict) else result
    return float(keras.ops.convert_to_numpy(result))


@pytest.mark.parametrize("name, make, y_true, y_pred, pattern", METRIC_CASES, ids=[c[0] for c in METRIC_CASES])
def test_a_compiled_metric_reads_nan_until_reset(name, make, y_true, y_pred, pattern):
    """XLA / jax.jit: the invalid batch poisons the state (every score NaN, never the 1.0 or 0 of a guarded
    division); reset_state clears it."""
    metric = make()
    update = compiled_update(metric)
    if update is None:
        pytest.skip("no compiled metric update on this backend")
    valid_true = np.clip(y_true, 0, 2 if y_true.ndim == 1 and y_pred.ndim == 2 else 1)
    valid_pred = np.nan_to_num(np.clip(y_pred, 0.0, 1.0), nan=0.5)
    update(valid_true, valid_pred)  # the first batch creates the state (eagerly on JAX)
    assert np.isfinite(_scalar(metric.result()))
    update(y_true, y_pred)
    assert np.isnan(_scalar(metric.result()))
    metric.reset_state()
    update(valid_true, valid_pred)
    assert np.isfinite(_scalar(metric.result()))


@needs_tf
def test_a_metric_in_a_tensorflow_graph_fails_the_update():
    import tensorflow as tf

    metric = Precision()
    metric.update_state(np.array([0, 1]), np.array([0.2, 0.9], np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be scores, not NaN; the first invalid entry"):
        tf.function(metric.update_state)(tf.constant([0, 1]), tf.constant([0.2, np.nan]))


def test_infinite_logits_are_not_nan():
    """+inf and -inf logits in one batch sum to NaN; the graph's one-sum NaN test must not take them for NaN."""
    y, z = np.array([0.0, 1.0, 1.0]), np.array([-np.inf, np.inf, 1.0], np.float32)
    metric = Precision(from_logits=True)
    metric.update_state(y, z)
    assert _scalar(metric.result()) == 1.0
    updates = [compiled_update(metric)]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        updates.append(tf.function(metric.update_state))
    for update in (u for u in updates if u is not None):
        metric.reset_state()
        update(y, z)
        update(y, z)
        assert _scalar(metric.result()) == 1.0


def test_threshold_property_is_nan_after_a_poisoned_batch():
    metric = RecallAtPrecision(0.5, num_thresholds=11)
    update = compiled_update(metric)
    if update is None:
        pytest.skip("no compiled metric update on this backend")
    update(np.array([0, 1, 1]), np.array([0.2, 0.6, 0.9], np.float32))
    update(np.array([0, 1, 1]), np.array([0.2, np.nan, 0.9], np.float32))
    assert np.isnan(metric.threshold)


# --- ThresholdTuner.load / FixedThreshold.load ----------------------------------------------------------------


def _saved(tmp_path, tuner, y, s, edit=None):
    tuner.fit(y, s)
    path = tmp_path / "tuner.json"
    tuner.save(path)
    if edit is not None:
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
    return path


def _binary_data():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.3).astype(int)
    return y, np.clip(0.25 * rng.standard_normal(300) + 0.3 + 0.35 * y, 0.001, 0.999)


def _set(**fields):
    def edit(data):
        for key, value in fields.items():
            if value is _DELETE:
                del data[key]
            else:
                data[key] = value
    return edit


_DELETE = object()

LOAD_CASES = [
    ("threshold-5", {"from_logits": True}, _set(thresholds=[5.0]), r"`thresholds` must hold probabilities in \[0, 1\]"),
    ("threshold-nan", {}, _set(thresholds=["nan"]), r"`thresholds` must hold numbers.*not NaN"),
    ("three-thresholds", {}, _set(thresholds=[0.2, 0.3, 0.4]), r"`thresholds` must be a list of 1 number"),
    ("threshold-text", {}, _set(thresholds=["high"]), r"`thresholds` must hold numbers"),
    ("threshold-not-a-list", {}, _set(thresholds=0.4), r"`thresholds` must be a list of 1"),
    ("edited-threshold", {}, _set(thresholds=[0.2]), r"`score_thresholds` disagrees with `thresholds`"),
    ("edited-logit-threshold", {"from_logits": True}, _set(thresholds=[0.2]),
     r"sigmoid\(score_thresholds\) == thresholds"),
    ("task", {}, _set(task="regression"), r"`task` must be one of"),
    ("num-outputs", {}, _set(num_outputs=2), r"`num_outputs` must be 1 for a binary tuner"),
    ("num-outputs-text", {}, _set(num_outputs="1"), r"`num_outputs` must be a positive integer"),
    ("class-id", {}, _set(class_id=0), r"`class_id` must be null for a binary tuner"),
    ("params", {}, _set(params={"objective": "f1", "on_unreachable": "maybe"}), r"`params` holds an invalid"),
    ("objective", {}, _set(params={"objective": "accuracy"}), r"`params` holds an invalid"),
    ("params-unknown", {}, _set(params={"objective": "f1", "colour": 1}), r"`params` must be an object"),
    ("confidence", {}, _set(confidence_used=0.7), r"`confidence_used` must be None"),
    ("best-score", {}, _set(best_score="good"), r"`best_score` must hold numbers"),
    ("best-score-list", {}, _set(best_score=[0.5]), r"`best_score` must be one number"),
    ("achieved", {}, _set(achieved={"tp": 1}), r"`achieved` must be an object with at least"),
    ("version", {}, _set(version=2), r"`version` must be 1"),
    ("missing", {}, _set(thresholds=_DELETE), r"missing: \['thresholds'\]"),
]


@pytest.mark.parametrize("name, params, edit, pattern", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_load_refuses_an_invalid_field_naming_the_file_and_the_field(tmp_path, name, params, edit, pattern):
    y, s = _binary_data()
    scores = np.log(s / (1 - s)) if params.get("from_logits") else s
    path = _saved(tmp_path, ThresholdTuner("f1", **params), y, scores, edit)
    with pytest.raises(ValueError, match=pattern) as error:
        ThresholdTuner.load(path)
    assert str(path) in str(error.value)


def test_load_refuses_multiclass_and_multilabel_inconsistencies(tmp_path):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet(np.ones(3), 200) * 0.5 + 0.5 * np.eye(3)[y]
    path = _saved(tmp_path, ThresholdTuner("f1", class_id=2), y, p, _set(class_id=1))
    with pytest.raises(ValueError, match=r"`class_id` disagrees with params.class_id=2"):
        ThresholdTuner.load(path)
    path = _saved(tmp_path, ThresholdTuner("f1", class_id=2), y, p, _set(thresholds=[1.2], score_thresholds=[1.2]))
    with pytest.raises(ValueError, match=r"must hold probabilities in \[0, 1\].*multi-class"):
        ThresholdTuner.load(path)
    labels = (rng.random((200, 3)) < 0.4).astype(int)
    scores = np.clip(0.5 * labels + 0.5 * rng.random((200, 3)), 0, 1)
    path = _saved(tmp_path, ThresholdTuner("f1"), labels, scores, _set(thresholds=[0.5, 0.5]))
    with pytest.raises(ValueError, match=r"`thresholds` must be a list of 3 number\(s\) \(one threshold per label"):
        ThresholdTuner.load(path)
    path = _saved(tmp_path, ThresholdTuner("f1"), labels, scores, _set(best_score=[0.5]))
    with pytest.raises(ValueError, match=r"`best_score` must be a list of 3"):
        ThresholdTuner.load(path)


def test_an_edited_threshold_is_used_once_score_thresholds_is_removed(tmp_path):
    """The documented way to change a threshold by hand: edit `thresholds`, delete `score_thresholds`."""
    y, s = _binary_data()
    path = _saved(tmp_path, ThresholdTuner("f1"), y, s, _set(thresholds=[0.55], score_thresholds=_DELETE))
    loaded = ThresholdTuner.load(path)
    assert loaded.thresholds_.tolist() == [0.55] and loaded.score_thresholds_.tolist() == [0.55]
    assert loaded.predict([0.54, 0.55, 0.9]).tolist() == [0, 1, 1]
    logit = _saved(tmp_path, ThresholdTuner("f1", from_logits=True), y, np.log(s / (1 - s)),
                   _set(thresholds=[0.5], score_thresholds=_DELETE))
    loaded = ThresholdTuner.load(logit)
    assert loaded.score_thresholds_.tolist() == [0.0]
    assert loaded.predict([-0.01, 0.0]).tolist() == [0, 1]


def test_a_never_positive_threshold_and_score_scale_thresholds_still_load(tmp_path):
    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.05).astype(int)
    path = _saved(tmp_path, ThresholdTuner("cost:fp=50,fn=1"), y, rng.random(300))
    assert ThresholdTuner.load(path).thresholds_.tolist() == [np.inf]
    # a binary tuner fitted with from_logits=False on scores that are not probabilities keeps their scale
    y, s = _binary_data()
    path = _saved(tmp_path, ThresholdTuner("f1"), y, 10.0 * s)
    assert ThresholdTuner.load(path).thresholds_[0] > 1.0


def test_fixed_threshold_load_refuses_edited_thresholds(tmp_path):
    path = tmp_path / "rule.json"
    FixedThreshold(0.5).fit([0, 1, 1], [0.2, 0.6, 0.4]).save(path)
    data = json.loads(path.read_text())
    data["thresholds"] = [0.3]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"rule.json: field `thresholds` must be \[0.5\]"):
        FixedThreshold.load(path)
    data["thresholds"], data["num_outputs"] = [0.5], 0
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"field `num_outputs`"):
        FixedThreshold.load(path)
