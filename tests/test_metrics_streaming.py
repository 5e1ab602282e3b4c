"""One conformance suite over every streaming metric in imbalance.metrics: each entry of METRICS is checked against
scikit-learn / imbalanced-learn / a brute force written here, fed in uneven batches, with and without sample
weights, on probabilities and on logits, in every label format it accepts; plus config and save/load round trips,
XLA, a compiled model's evaluate() numbers, and argument errors. Add a metric to METRICS and it gets every check."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, compiled_update
from imblearn.metrics import geometric_mean_score
from keras import ops
from scipy.special import expit, softmax
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    fbeta_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
)

from imbalance.metrics import (
    PRAUC,
    BalancedAccuracy,
    FBetaScore,
    GeometricMean,
    MatthewsCorrelation,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
)

K = 4  # classes (multi-class) or labels (multi-label)
N = 300
BATCHES = (37, 101, 62, 100)  # uneven on purpose; sums to N
NT = 1000  # thresholds of the bucketed curve metrics in these tests
LABELS = list(range(K))
T_ML = [0.3, 0.4, 0.5, 0.6]  # per-label thresholds


# --- independent references: (labels in canonical form, probabilities, weights) -> value ------------------------
# Canonical form: binary -> y (n,) 0/1 and p (n,) = P(class 1); multiclass -> ids (n,) and P (n, K);
# multilabel -> Y (n, K) 0/1 and P (n, K).


def _argmax(p):
    return np.argmax(p, axis=1)


def _per_label_mean(score, Y, D, w):
    return float(np.mean([score(Y[:, c], D[:, c], sample_weight=w) for c in range(Y.shape[1])]))


def _best_under_constraint(y, p, w, target, maximise):
    """Brute force over the thresholds j/(NT-1): predict positive when p >= t. Returns the best value of `maximise`
    ("recall" or "precision") among thresholds where the other one is >= target (precision needs a prediction)."""
    y, p = np.ravel(y).astype(bool), np.ravel(p).astype(np.float64)
    w = np.ones_like(p) if w is None else np.ravel(w)
    best = 0.0
    for j in range(NT):
        d = p >= j / (NT - 1)
        tp, fp = np.sum(w * (d & y)), np.sum(w * (d & ~y))
        precision = tp / (tp + fp) if tp + fp > 0 else 0.0
        recall = tp / np.sum(w * y)
        if maximise == "recall" and tp + fp > 0 and precision >= target:
            best = max(best, recall)
        if maximise == "precision" and recall >= target:
            best = max(best, precision)
    return best


def _pooled(y, w):
    """Labels (n, K) and per-row weights repeated for pooling every column into one binary problem."""
    return np.ravel(y), None if w is None else np.repeat(w, y.shape[1])


def _ids_to_matrix(ids):
    return np.eye(K)[ids]


# name: (factory(from_logits) -> metric, kind, reference(y, p, w), tolerance)
# kind: "binary" (one sigmoid output), "sparse" / "one_hot" (softmax outputs, fed in that format by default),
# "multi_hot" (sigmoid outputs with multi_label=True).
EXACT, CURVE = 2e-6, 1e-2
METRICS = {
    # binary, one sigmoid output
    "precision_binary": (lambda fl: Precision(from_logits=fl), "binary",
                         lambda y, p, w: precision_score(y, p >= 0.5, sample_weight=w, zero_division=0), EXACT),
    "precision_binary_class0": (lambda fl: Precision(class_id=0, from_logits=fl), "binary",
                                lambda y, p, w: precision_score(y, p >= 0.5, pos_label=0, sample_weight=w), EXACT),
    "recall_binary_t03": (lambda fl: Recall(threshold=0.3, from_logits=fl), "binary",
                          lambda y, p, w: recall_score(y, p >= 0.3, sample_weight=w), EXACT),
    "f2_binary": (lambda fl: FBetaScore(beta=2.0, from_logits=fl), "binary",
                  lambda y, p, w: fbeta_score(y, p >= 0.5, beta=2.0, sample_weight=w), EXACT),
    "prauc_binary": (lambda fl: PRAUC(num_thresholds=NT, from_logits=fl), "binary",
                     lambda y, p, w: average_precision_score(y, p, sample_weight=w), CURVE),
    "recall_at_precision_binary": (lambda fl: RecallAtPrecision(0.6, num_thresholds=NT, from_logits=fl), "binary",
                                   lambda y, p, w: _best_under_constraint(y, p, w, 0.6, "recall"), EXACT),
    "precision_at_recall_binary": (lambda fl: PrecisionAtRecall(0.7, num_thresholds=NT, from_logits=fl), "binary",
                                   lambda y, p, w: _best_under_constraint(y, p, w, 0.7, "precision"), EXACT),
    "balanced_accuracy_binary": (lambda fl: BalancedAccuracy(from_logits=fl), "binary",
                                 lambda y, p, w: balanced_accuracy_score(y, p >= 0.5, sample_weight=w), EXACT),
    "gmean_binary": (lambda fl: GeometricMean(threshold=0.4, from_logits=fl), "binary",
                     lambda y, p, w: geometric_mean_score(y, p >= 0.4, sample_weight=w), EXACT),
    "mcc_binary": (lambda fl: MatthewsCorrelation(from_logits=fl), "binary",
                   lambda y, p, w: matthews_corrcoef(y, p >= 0.5, sample_weight=w), EXACT),
    # multi-class, softmax outputs
    "precision_micro": (lambda fl: Precision(from_logits=fl), "sparse",
                        lambda y, p, w: precision_score(y, _argmax(p), labels=LABELS, average="micro",
                                                        sample_weight=w), EXACT),
    "precision_class0": (lambda fl: Precision(class_id=0, from_logits=fl), "one_hot",
                         lambda y, p, w: precision_score(y == 0, _argmax(p) == 0, sample_weight=w), EXACT),
    "precision_class0_t03": (lambda fl: Precision(class_id=0, threshold=0.3, from_logits=fl), "sparse",
                             lambda y, p, w: precision_score(y == 0, p[:, 0] >= 0.3, sample_weight=w), EXACT),
    "recall_macro": (lambda fl: Recall(average="macro", from_logits=fl), "one_hot",
                     lambda y, p, w: recall_score(y, _argmax(p), labels=LABELS, average="macro", sample_weight=w),
                     EXACT),
    "f1_macro": (lambda fl: FBetaScore(from_logits=fl), "sparse",
                 lambda y, p, w: fbeta_score(y, _argmax(p), beta=1.0, labels=LABELS, average="macro",
                                             sample_weight=w, zero_division=0), EXACT),
    "f05_weighted": (lambda fl: FBetaScore(beta=0.5, average="weighted", from_logits=fl), "one_hot",
                     lambda y, p, w: fbeta_score(y, _argmax(p), beta=0.5, labels=LABELS, average="weighted",
                                                 sample_weight=w, zero_division=0), EXACT),
    "f1_per_class_thresholds": (lambda fl: FBetaScore(average=None, threshold=[0.2, 0.25, 0.3, 0.35],
                                                      from_logits=fl), "sparse",
                                lambda y, p, w: fbeta_score(_ids_to_matrix(y), p >= [0.2, 0.25, 0.3, 0.35], beta=1.0,
                                                            average=None, sample_weight=w, zero_division=0), EXACT),
    "prauc_macro": (lambda fl: PRAUC(num_thresholds=NT, from_logits=fl), "sparse",
                    lambda y, p, w: average_precision_score(_ids_to_matrix(y), p, average="macro", sample_weight=w),
                    CURVE),
    "prauc_weighted": (lambda fl: PRAUC(num_thresholds=NT, average="weighted", from_logits=fl), "one_hot",
                       lambda y, p, w: average_precision_score(_ids_to_matrix(y), p, average="weighted",
                                                               sample_weight=w), CURVE),
    "prauc_class2": (lambda fl: PRAUC(class_id=2, num_thresholds=NT, from_logits=fl), "sparse",
                     lambda y, p, w: average_precision_score(y == 2, p[:, 2], sample_weight=w), CURVE),
    "recall_at_precision_class0": (lambda fl: RecallAtPrecision(0.4, class_id=0, num_thresholds=NT, from_logits=fl),
                                   "sparse",
                                   lambda y, p, w: _best_under_constraint(y == 0, p[:, 0], w, 0.4, "recall"), EXACT),
    "precision_at_recall_pooled": (lambda fl: PrecisionAtRecall(0.6, num_thresholds=NT, from_logits=fl), "one_hot",
                                   lambda y, p, w: _best_under_constraint(
                                       _ids_to_matrix(y), p, _pooled(_ids_to_matrix(y), w)[1], 0.6, "precision"),
                                   EXACT),
    "balanced_accuracy": (lambda fl: BalancedAccuracy(from_logits=fl), "sparse",
                          lambda y, p, w: balanced_accuracy_score(y, _argmax(p), sample_weight=w), EXACT),
    "balanced_accuracy_class1_t03": (lambda fl: BalancedAccuracy(class_id=1, threshold=0.3, from_logits=fl),
                                     "one_hot",
                                     lambda y, p, w: balanced_accuracy_score(y == 1, p[:, 1] >= 0.3, sample_weight=w),
                                     EXACT),
    "gmean": (lambda fl: GeometricMean(from_logits=fl), "one_hot",
              lambda y, p, w: geometric_mean_score(y, _argmax(p), sample_weight=w), EXACT),
    "mcc": (lambda fl: MatthewsCorrelation(from_logits=fl), "sparse",
            lambda y, p, w: matthews_corrcoef(y, _argmax(p), sample_weight=w), EXACT),
    "mcc_class3": (lambda fl: MatthewsCorrelation(class_id=3, from_logits=fl), "sparse",
                   lambda y, p, w: matthews_corrcoef(y == 3, _argmax(p) == 3, sample_weight=w), EXACT),
    # multi-label, sigmoid outputs, multi-hot labels
    "precision_ml_micro": (lambda fl: Precision(multi_label=True, from_logits=fl), "multi_hot",
                           lambda y, p, w: precision_score(y, p >= 0.5, average="micro", sample_weight=w), EXACT),
    "recall_ml_thresholds": (lambda fl: Recall(threshold=T_ML, average="macro", multi_label=True, from_logits=fl),
                             "multi_hot",
                             lambda y, p, w: recall_score(y, p >= T_ML, average="macro", sample_weight=w,
                                                          zero_division=0), EXACT),
    "f1_ml_macro": (lambda fl: FBetaScore(multi_label=True, from_logits=fl), "multi_hot",
                    lambda y, p, w: fbeta_score(y, p >= 0.5, beta=1.0, average="macro", sample_weight=w,
                                                zero_division=0), EXACT),
    "f2_ml_per_label": (lambda fl: FBetaScore(beta=2.0, average=None, multi_label=True, from_logits=fl),
                        "multi_hot",
                        lambda y, p, w: fbeta_score(y, p >= 0.5, beta=2.0, average=None, sample_weight=w,
                                                    zero_division=0), EXACT),
    "f1_ml_micro_t": (lambda fl: FBetaScore(average="micro", threshold=0.35, multi_label=True, from_logits=fl),
                      "multi_hot",
                      lambda y, p, w: fbeta_score(y, p >= 0.35, beta=1.0, average="micro", sample_weight=w), EXACT),
    "f1_ml_class3": (lambda fl: FBetaScore(class_id=3, multi_label=True, from_logits=fl), "multi_hot",
                     lambda y, p, w: fbeta_score(y[:, 3], p[:, 3] >= 0.5, beta=1.0, sample_weight=w), EXACT),
    "prauc_ml_macro": (lambda fl: PRAUC(num_thresholds=NT, multi_label=True, from_logits=fl), "multi_hot",
                       lambda y, p, w: average_precision_score(y, p, average="macro", sample_weight=w), CURVE),
    "prauc_ml_micro": (lambda fl: PRAUC(num_thresholds=NT, average="micro", multi_label=True, from_logits=fl),
                       "multi_hot",
                       lambda y, p, w: average_precision_score(y, p, average="micro", sample_weight=w), CURVE),
    "prauc_ml_per_label": (lambda fl: PRAUC(num_thresholds=NT, average=None, multi_label=True, from_logits=fl),
                           "multi_hot",
                           lambda y, p, w: average_precision_score(y, p, average=None, sample_weight=w), CURVE),
    "recall_at_precision_ml": (lambda fl: RecallAtPrecision(0.5, num_thresholds=NT, multi_label=True,
                                                            from_logits=fl), "multi_hot",
                               lambda y, p, w: _best_under_constraint(y, p, _pooled(y, w)[1], 0.5, "recall"), EXACT),
    "precision_at_recall_ml_class1": (lambda fl: PrecisionAtRecall(0.5, class_id=1, num_thresholds=NT,
                                                                   multi_label=True, from_logits=fl), "multi_hot",
                                      lambda y, p, w: _best_under_constraint(y[:, 1], p[:, 1], w, 0.5, "precision"),
                                      EXACT),
    "balanced_accuracy_ml": (lambda fl: BalancedAccuracy(multi_label=True, from_logits=fl), "multi_hot",
                             lambda y, p, w: _per_label_mean(balanced_accuracy_score, y, p >= 0.5, w), EXACT),
    "gmean_ml": (lambda fl: GeometricMean(threshold=T_ML, multi_label=True, from_logits=fl), "multi_hot",
                 lambda y, p, w: _per_label_mean(geometric_mean_score, y, p >= T_ML, w), EXACT),
    "mcc_ml": (lambda fl: MatthewsCorrelation(multi_label=True, from_logits=fl), "multi_hot",
               lambda y, p, w: _per_label_mean(matthews_corrcoef, y, p >= 0.5, w), EXACT),
}
PARAMS = [pytest.param(name, *spec, id=name) for name, spec in METRICS.items()]


# --- data ----------------------------------------------------------------------------------------------------


class Data:
    """Labels in the metric's format, logits, probabilities (float32, as a model would output them), the canonical
    labels for the reference and per-row weights."""

    def __init__(self, kind: str, seed: int = 0, n: int = N):
        rng = np.random.default_rng(seed)
        if kind == "binary":
            y = (rng.random(n) < 0.3).astype(np.int64)
            z = 1.2 * (2 * y - 1) + 1.5 * rng.normal(size=n)
            self.canonical, self.labels = y, y
            self.logits = z.reshape(-1, 1).astype(np.float32)
            self.probs = expit(self.logits.astype(np.float64)).astype(np.float32)
        elif kind in ("sparse", "one_hot"):
            ids = rng.choice(K, size=n, p=[0.1, 0.2, 0.3, 0.4])
            ids[:K] = np.arange(K)
            z = 1.5 * np.eye(K)[ids] + 1.2 * rng.normal(size=(n, K))
            self.canonical = ids
            self.labels = ids.astype(np.int32) if kind == "sparse" else np.eye(K, dtype=np.float32)[ids]
            self.logits = z.astype(np.float32)
            self.probs = softmax(self.logits.astype(np.float64), axis=1).astype(np.float32)
        else:
            y = (rng.random((n, K)) < [0.1, 0.2, 0.35, 0.5]).astype(np.float32)
            z = 1.2 * (2 * y - 1) + 1.5 * rng.normal(size=(n, K))
            self.canonical, self.labels = y.astype(np.int64), y
            self.logits = z.astype(np.float32)
            self.probs = expit(self.logits.astype(np.float64)).astype(np.float32)
        self.kind = kind
        self.weights = rng.uniform(0.2, 3.0, size=n).astype(np.float32)

    def scores(self, from_logits: bool):
        return self.logits if from_logits else self.probs

    def reference_probs(self, from_logits: bool):
        """The probabilities the metric works on: with logits, the same float32 TensorFlow op as the metric."""
        if not from_logits:
            return self.probs.astype(np.float64)
        fn = ops.softmax if self.kind in ("sparse", "one_hot") else ops.sigmoid
        return ops.convert_to_numpy(fn(self.logits)).astype(np.float64)

    def reference(self, fn, from_logits: bool, weighted: bool):
        p = self.reference_probs(from_logits)
        if self.kind == "binary":
            p = p[:, 0]
        return np.asarray(fn(self.canonical, p, self.weights.astype(np.float64) if weighted else None))


def feed(metric, labels, scores, weights=None, batches=BATCHES, update=None):
    update = update or metric.update_state
    start = 0
    for size in batches:
        sl = slice(start, start + size)
        update(labels[sl], scores[sl], None if weights is None else weights[sl])
        start += size
    return value_of(metric)


def value_of(metric):
    """The metric's value as an array: a per-class dict back in class order, a constrained metric's value without
    its threshold entry."""
    return logged_value(metric.result(), metric.name)


def logged_value(logs, name):
    """``name``'s value from a dict of logs or a metric result: the entry itself, or its ``{name}_class_{k}``
    entries stacked in class order."""
    if not isinstance(logs, dict):
        return np.asarray(ops.convert_to_numpy(logs))
    if name in logs:
        return np.asarray(ops.convert_to_numpy(logs[name]))
    keys = sorted((k for k in logs if k.startswith(f"{name}_class_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    assert keys, f"no entry {name!r} nor {name}_class_* in {sorted(logs)}"
    return np.asarray([float(ops.convert_to_numpy(logs[k])) for k in keys])


# --- conformance ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, make, kind, reference, tol", PARAMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_equals_reference_over_batches(name, make, kind, reference, tol, weighted, from_logits):
    data = Data(kind, seed=1)
    got = feed(make(from_logits), data.labels, data.scores(from_logits), data.weights if weighted else None)
    expected = data.reference(reference, from_logits, weighted)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


@pytest.mark.parametrize("name, make, kind, reference, tol", PARAMS)
def test_logits_and_probabilities_give_the_same_value(name, make, kind, reference, tol):
    data = Data(kind, seed=2)
    on_logits = feed(make(True), data.labels, data.logits)
    on_probs = feed(make(False), data.labels, data.probs)
    np.testing.assert_allclose(on_logits, on_probs, rtol=0, atol=tol)


def _formats(data):
    """Every label/output layout a metric must accept for this kind, as (labels, scores) pairs."""
    if data.kind == "binary":
        y, z = data.canonical, data.logits
        return [(y, z), (y.reshape(-1, 1), z), (y.astype(np.float32), z[:, 0]), (y.astype(bool).reshape(-1, 1), z)]
    if data.kind in ("sparse", "one_hot"):
        ids = data.canonical
        return [(ids, data.logits), (ids.reshape(-1, 1).astype(np.int64), data.logits),
                (np.eye(K, dtype=np.float32)[ids], data.logits), (np.eye(K, dtype=np.int32)[ids], data.logits)]
    return [(data.labels, data.logits), (data.labels.astype(np.int32), data.logits),
            (data.labels.astype(bool), data.logits)]


@pytest.mark.parametrize("name, make, kind, reference, tol", PARAMS)
def test_every_label_format_gives_the_same_value(name, make, kind, reference, tol):
    data = Data(kind, seed=3)
    values = [feed(make(True), labels, scores) for labels, scores in _formats(data)]
    for value in values[1:]:
        np.testing.assert_allclose(value, values[0], rtol=0, atol=1e-7)
    np.testing.assert_allclose(values[0], data.reference(reference, True, False), rtol=0, atol=tol)


@pytest.mark.parametrize("name, make, kind, reference, tol", PARAMS)
def test_config_round_trip_gives_the_same_values(name, make, kind, reference, tol):
    data = Data(kind, seed=4)
    metric = make(True)
    clone = type(metric).from_config(metric.get_config())
    assert clone.get_config() == metric.get_config()
    serialized = keras.saving.serialize_keras_object(metric)
    assert serialized["registered_name"] == f"imbalance>{type(metric).__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(metric) and restored.get_config() == metric.get_config()
    expected = feed(metric, data.labels, data.logits, data.weights)
    for other in (clone, restored):
        np.testing.assert_array_equal(feed(other, data.labels, data.logits, data.weights), expected)


@pytest.mark.parametrize("name, make, kind, reference, tol", PARAMS)
def test_reset_state_starts_over(name, make, kind, reference, tol):
    first, second = Data(kind, seed=5), Data(kind, seed=6)
    metric = make(False)
    feed(metric, first.labels, first.probs)
    metric.reset_state()
    fresh = make(False)
    np.testing.assert_array_equal(feed(metric, second.labels, second.probs, second.weights),
                                  feed(fresh, second.labels, second.probs, second.weights))


XLA = ["precision_class0_t03", "f1_ml_macro", "prauc_macro", "recall_at_precision_binary",
       "precision_at_recall_ml_class1", "balanced_accuracy", "gmean_ml", "mcc"]


@pytest.mark.parametrize("name, make, kind, reference, tol", [p for p in PARAMS if p.id in XLA])
@pytest.mark.skipif(BACKEND == "torch", reason="torch has no XLA compilation of a metric update")
def test_update_compiles_with_xla(name, make, kind, reference, tol):
    data = Data(kind, seed=7)
    metric = make(True)
    eager = feed(make(True), data.labels, data.logits, data.weights, batches=(100, 100, 100))
    compiled = compiled_update(metric)
    got = feed(metric, data.labels, data.logits, data.weights, batches=(100, 100, 100), update=compiled)
    np.testing.assert_allclose(got, eager, rtol=1e-6, atol=1e-7)


# --- identities ----------------------------------------------------------------------------------------------


def test_micro_precision_recall_and_f1_of_argmax_are_the_accuracy():
    data = Data("sparse", seed=8)
    accuracy = np.mean(np.argmax(data.probs, axis=1) == data.canonical)
    for metric in (Precision(), Recall(), FBetaScore(average="micro"), FBetaScore(beta=3.0, average="micro")):
        np.testing.assert_allclose(feed(metric, data.labels, data.probs), accuracy, rtol=1e-6)


def test_ties_in_a_multiclass_row_predict_the_first_class_as_argmax_does():
    rng = np.random.default_rng(15)
    scores = rng.integers(0, 3, size=(500, K)).astype(np.float32)  # many tied maxima, e.g. an untrained model
    ids = rng.integers(0, K, size=500)
    got = feed(Recall(average=None), ids, scores, batches=(500,))
    expected = recall_score(ids, np.argmax(scores, axis=1), labels=LABELS, average=None)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
@pytest.mark.parametrize("kind", ["binary", "sparse", "multi_hot"])
def test_prauc_is_exact_on_scores_rounded_to_the_buckets(kind, average):
    """On scores that sit inside the buckets (their midpoints), bucketing loses nothing: PR-AUC equals
    scikit-learn's average precision to float32 rounding, for every average."""
    nt = 50
    data = Data(kind, seed=9)
    mid = ((np.floor(data.probs.astype(np.float64) * (nt - 1)) + 0.5) / (nt - 1)).clip(0, 1).astype(np.float32)
    multi_label = kind == "multi_hot"
    metric = PRAUC(num_thresholds=nt, average=average, multi_label=multi_label)
    got = feed(metric, data.labels, mid, data.weights)
    truth = data.canonical if kind != "sparse" else np.eye(K)[data.canonical]
    scores = mid[:, 0] if kind == "binary" else mid
    if kind == "binary" and average is None:
        average = "macro"
    expected = average_precision_score(truth, scores.astype(np.float64), average=average,
                                       sample_weight=data.weights.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_thresholds_found_reach_the_reported_values():
    """The exposed threshold, applied to the data, gives the reported recall / precision and meets the target."""
    data = Data("binary", seed=10)
    y, p = data.canonical.astype(bool), data.probs[:, 0].astype(np.float64)
    rap = RecallAtPrecision(0.6, num_thresholds=NT)
    par = PrecisionAtRecall(0.7, num_thresholds=NT)
    for metric in (rap, par):
        feed(metric, data.labels, data.probs)
    for metric in (rap, par):
        d = p >= metric.threshold
        precision, recall = np.sum(d & y) / np.sum(d), np.sum(d & y) / np.sum(y)
        if metric is rap:
            assert precision >= 0.6
            np.testing.assert_allclose(recall, value_of(metric), rtol=1e-6)
        else:
            assert recall >= 0.7
            np.testing.assert_allclose(precision, value_of(metric), rtol=1e-6)
        # the threshold is in the result too, so fit / evaluate log it
        assert float(metric.result()[f"{metric.name}_threshold"]) == pytest.approx(metric.threshold, abs=1e-6)
    assert 0.0 < rap.threshold < 1.0 and 0.0 < par.threshold < 1.0


def test_unreachable_constraint_gives_zero_and_no_threshold():
    metric = RecallAtPrecision(1.0, num_thresholds=11)
    assert np.isnan(metric.threshold) and value_of(metric) == 0.0  # before any update
    metric.update_state([1, 0, 1], np.array([0.2, 0.9, 0.4]))  # the top score is a negative
    assert value_of(metric) == 0.0
    assert np.isnan(metric.threshold) and np.isnan(float(metric.result()["recall_at_precision_threshold"]))


def test_class_id_on_one_sigmoid_output_scores_the_negative_class():
    data = Data("binary", seed=11)
    y, p = data.canonical, data.probs[:, 0].astype(np.float64)
    got = feed(Recall(class_id=0, threshold=0.4), data.labels, data.probs)
    np.testing.assert_allclose(got, recall_score(y, p >= 0.4, pos_label=0), rtol=1e-6)
    got = feed(PRAUC(class_id=0, num_thresholds=NT), data.labels, data.probs)
    np.testing.assert_allclose(got, average_precision_score(1 - y, 1 - p), atol=CURVE)


def test_per_label_sample_weights_for_multi_label():
    """A (n, K) weight matrix weighs each label of each row; a column of ones equals no weight for that label."""
    data = Data("multi_hot", seed=12)
    w = np.random.default_rng(0).uniform(0.2, 3.0, size=(N, K)).astype(np.float32)
    got = feed(Recall(average=None, multi_label=True), data.labels, data.probs, w)
    expected = [recall_score(data.canonical[:, c], data.probs[:, c] >= 0.5, sample_weight=w[:, c]) for c in range(K)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# --- inside a compiled model -----------------------------------------------------------------------------------


def _model_problem(kind, seed=13):
    data = Data(kind, seed=seed, n=256)
    rng = np.random.default_rng(seed)
    target = data.canonical.reshape(len(data.canonical), -1)
    if kind in ("sparse", "one_hot"):
        target = np.eye(K)[data.canonical]
    x = (target @ rng.normal(size=(target.shape[1], 6)) + rng.normal(size=(len(target), 6))).astype(np.float32)
    width = 1 if kind == "binary" else K
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(width)])
    entries = {name: spec for name, spec in METRICS.items() if spec[1] == kind or
               (kind == "sparse" and spec[1] == "one_hot")}
    metrics = []
    for name, (make, *_rest) in entries.items():
        metric = make(True)
        metrics.append(type(metric).from_config({**metric.get_config(), "name": name}))
    loss = {"binary": keras.losses.BinaryCrossentropy(from_logits=True),
            "sparse": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "multi_hot": keras.losses.BinaryCrossentropy(from_logits=True)}[kind]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, metrics=metrics)
    return data, x, model, entries


@pytest.mark.parametrize("kind", ["binary", pytest.param("sparse", marks=pytest.mark.slow),  # ~12 s each: make
                                  pytest.param("multi_hot", marks=pytest.mark.slow)])  # test-slow
def test_compiled_model_evaluate_equals_scikit_learn_on_predict(kind):
    data, x, model, entries = _model_problem(kind)
    model.fit(x, data.labels, epochs=1, batch_size=64, verbose=0)
    results = model.evaluate(x, data.labels, batch_size=64, verbose=0, return_dict=True)
    logits = model.predict(x, batch_size=64, verbose=0)
    probs = ops.convert_to_numpy(ops.softmax(logits) if kind == "sparse" else ops.sigmoid(logits))
    probs = probs.astype(np.float64)[:, 0] if kind == "binary" else probs.astype(np.float64)
    for name, (_make, _kind, reference, tol) in entries.items():
        np.testing.assert_allclose(logged_value(results, name), reference(data.canonical, probs, None), rtol=0,
                                   atol=tol, err_msg=name)


@pytest.mark.parametrize("kind", ["binary", pytest.param("sparse", marks=pytest.mark.slow),  # ~13 s each: make
                                  pytest.param("multi_hot", marks=pytest.mark.slow)])  # test-slow
def test_model_compiled_with_the_metrics_survives_save_and_load(kind, tmp_path):
    data, x, model, entries = _model_problem(kind, seed=14)
    before = model.evaluate(x, data.labels, batch_size=64, verbose=0, return_dict=True)
    path = tmp_path / "model.keras"
    model.save(path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        loaded = keras.models.load_model(path)
    after = loaded.evaluate(x, data.labels, batch_size=64, verbose=0, return_dict=True)
    assert set(after) == set(before)
    for name in entries:
        logged_value(after, name)  # every metric is logged, as itself or one entry per class
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-6, err_msg=name)
    metrics = {m.name: m for m in loaded.metrics[1].metrics} if len(loaded.metrics) > 1 else {}
    for name in entries:
        original = next(m for m in model.metrics[1].metrics if m.name == name)
        assert type(metrics[name]) is type(original)
        assert metrics[name].get_config() == original.get_config()


# --- argument and input errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("build, match", [
    (lambda: Precision(threshold=1.5), r"`threshold` must be .*<= 1.0.*Received: threshold=1.5"),
    (lambda: Recall(threshold=-0.1), r"`threshold` must be .*>= 0.0.*Received: threshold=-0.1"),
    (lambda: FBetaScore(threshold=[0.5, 1.2]), r"entry 1 is 1.2"),
    (lambda: BalancedAccuracy(threshold=float("nan")), r"`threshold` must be a finite number"),
    (lambda: FBetaScore(beta=0.0), r"`beta` must be > 0.0. Received: beta=0.0"),
    (lambda: FBetaScore(beta=-1), r"Received: beta=-1"),
    (lambda: FBetaScore(average="samples"), r"`average` must be one of .*Received: average='samples'"),
    (lambda: Precision(average="binary"), r"Received: average='binary'"),
    (lambda: PRAUC(average="mean"), r"Received: average='mean'"),
    (lambda: Precision(class_id=-1), r"`class_id` must be a non-negative integer.*Received: class_id=-1"),
    (lambda: MatthewsCorrelation(class_id=1.5), r"Received: class_id=1.5"),
    (lambda: PRAUC(num_thresholds=1), r"`num_thresholds` must be an integer >= 2. Received: num_thresholds=1"),
    (lambda: RecallAtPrecision(1.5), r"`precision` must be <= 1.0. Received: precision=1.5"),
    (lambda: PrecisionAtRecall(-0.2), r"`recall` must be >= 0.0. Received: recall=-0.2"),
])
def test_bad_arguments_raise_at_construction(build, match):
    with pytest.raises(ValueError, match=match):
        build()


P3 = np.full((4, 3), 1 / 3, dtype=np.float32)


@pytest.mark.parametrize("metric, y, p, match", [
    (Precision(class_id=3), [0, 1, 2, 0], P3, r"`class_id` is out of range: the model output has 3 classes \(ids "
                                              r"0..2\). Received: class_id=3"),
    (PRAUC(class_id=5, multi_label=True), np.zeros((4, 3)), P3, r"3 labels .*Received: class_id=5"),
    (Recall(class_id=2), [0, 1, 1, 0], np.full((4, 1), 0.5), r"classes 0 and 1. Received: class_id=2"),
    (FBetaScore(threshold=[0.2, 0.3]), [0, 1, 2, 0], P3, r"`threshold` has 2 entries but the model output has 3"),
    (MatthewsCorrelation(threshold=0.3), [0, 1, 2, 0], P3, r"needs one predicted class per row"),
    (Precision(multi_label=True), [0, 1, 2, 0], P3, r"`multi_label=True` needs multi-hot labels of shape \(n, 3\)"),
    (Recall(), np.zeros((4, 2)), P3, r"Labels of shape \(4, 2\) do not match model outputs of shape \(4, 3\)"),
    (PRAUC(), np.zeros((4, 1, 3)), np.zeros((4, 1, 3)), r"Model outputs must have shape"),
    (Recall(), [0, 1, 2, 0], P3, None),  # valid; the next line checks a second, different layout
])
def test_bad_inputs_raise_a_clear_error(metric, y, p, match):
    if match is None:
        metric.update_state(y, p)
        with pytest.raises(ValueError, match=r"first updated with a multiclass output of 3 column\(s\)"):
            metric.update_state([0, 1], np.full((2, 1), 0.5, dtype=np.float32))
        with pytest.raises(ValueError, match=r"`sample_weight` must have shape \(n,\) or \(n, 1\)"):
            metric.update_state([0, 1, 2, 0], P3, np.ones((4, 3)))
        return
    with pytest.raises(ValueError, match=match):
        metric.update_state(y, p)


# --- a multi-hot matrix without multi_label=True ---------------------------------------------------------------

ML_PARAMS = [p for p in PARAMS if p.values[2] == "multi_hot"]


@pytest.mark.parametrize("name, make, kind, reference, tol", ML_PARAMS)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
def test_multi_hot_labels_without_multi_label_give_the_multi_label_value(name, make, kind, reference, tol,
                                                                           from_logits):
    """The (n, K) matrix cannot be told multi-hot from its shape; its values say so, and the metric then gives the
    multi-label value (the reference, on sigmoid probabilities) — never an argmax of multi-hot rows."""
    data = Data(kind, seed=16)
    declared = make(from_logits)
    undeclared = type(declared).from_config({**declared.get_config(), "multi_label": False})
    if getattr(declared, "_needs_single_prediction", False) and declared.class_id is None \
            and declared.threshold is not None:
        # thresholds without class_id have no one-hot reading for these metrics: the error says what to pass
        with pytest.raises(ValueError, match=r"For multi-hot labels pass multi_label=True"):
            feed(undeclared, data.labels, data.scores(from_logits), data.weights)
        return
    got = feed(undeclared, data.labels, data.scores(from_logits), data.weights)
    np.testing.assert_allclose(got, data.reference(reference, from_logits, True), rtol=0, atol=tol)
    np.testing.assert_allclose(got, feed(declared, data.labels, data.scores(from_logits), data.weights),
                               rtol=0, atol=1e-6)


def test_the_multi_hot_trap_of_the_issue_is_gone_and_matches_keras_recall():
    """4 labels, multi-hot, Recall() without multi_label: the element-wise micro recall (what Keras' Recall reads),
    not the argmax one."""
    data = Data("multi_hot", seed=17)
    ours = feed(Recall(), data.labels, data.probs)
    element_wise = recall_score(data.canonical, data.probs >= 0.5, average="micro")
    top_one = recall_score(data.canonical, np.eye(K)[np.argmax(data.probs, axis=1)], average="micro")
    keras_recall = keras.metrics.Recall()
    keras_recall.update_state(data.labels, data.probs)
    np.testing.assert_allclose(ours, element_wise, rtol=1e-6)
    np.testing.assert_allclose(ours, float(keras_recall.result()), rtol=1e-6)
    assert abs(element_wise - top_one) > 0.05  # the two readings really differ on this data


def test_one_multi_hot_row_late_in_the_stream_switches_every_row_to_the_multi_label_reading():
    data = Data("sparse", seed=18)
    one_hot = np.eye(K, dtype=np.float32)[data.canonical]
    labels = one_hot.copy()
    labels[-1] = [1.0, 1.0, 0.0, 0.0]  # the last batch holds one row with two labels
    for metric_type in (Precision, BalancedAccuracy, PRAUC):
        on_one_hot = feed(metric_type(from_logits=True), one_hot, data.logits)
        on_sparse = feed(metric_type(from_logits=True), data.canonical, data.logits)
        np.testing.assert_allclose(on_one_hot, on_sparse, rtol=1e-6)  # one-hot rows: the multi-class value
        mixed = feed(metric_type(from_logits=True), labels, data.logits)
        declared = feed(metric_type(from_logits=True, multi_label=True), labels, data.logits)
        np.testing.assert_allclose(mixed, declared, rtol=1e-6, err_msg=metric_type.__name__)


# --- what fit logs -------------------------------------------------------------------------------------------


def test_per_class_and_threshold_entries_reach_csv_logger(tmp_path):
    """Per-class values are logged one scalar per class and the constrained metrics log their threshold, so
    CSVLogger writes numbers (not a quoted vector) and the values equal the metrics' own."""
    import csv

    data, x, _model, _entries = _model_problem("sparse", seed=19)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(K)])
    metrics = [FBetaScore(average=None, from_logits=True, name="f1"),
               RecallAtPrecision(0.2, class_id=0, from_logits=True, num_thresholds=NT)]
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=metrics)
    path = tmp_path / "log.csv"
    model.fit(x, data.labels, epochs=10, batch_size=64, verbose=0, validation_data=(x, data.labels),
              callbacks=[keras.callbacks.CSVLogger(str(path))])
    rows = list(csv.DictReader(path.open()))
    expected = [*(f"f1_class_{k}" for k in range(K)), "recall_at_precision", "recall_at_precision_threshold"]
    for key in expected:
        assert key in rows[-1] and f"val_{key}" in rows[-1], sorted(rows[-1])
        float(rows[-1][key])  # a number, not a quoted vector
    logits = model.predict(x, verbose=0)
    ids = np.argmax(logits, axis=1)
    np.testing.assert_allclose([float(rows[-1][f"val_f1_class_{k}"]) for k in range(K)],
                               fbeta_score(data.canonical, ids, beta=1.0, labels=LABELS, average=None), atol=1e-5)
    rap = RecallAtPrecision(0.2, class_id=0, from_logits=True, num_thresholds=NT)
    rap.update_state(data.labels, logits)
    assert 0.0 < rap.threshold < 1.0
    assert float(rows[-1]["val_recall_at_precision_threshold"]) == pytest.approx(rap.threshold, abs=1e-6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="Keras' TensorBoard callback writes through tf.summary")
def test_tensorboard_takes_the_per_class_metrics(tmp_path):
    data, x, _model, _entries = _model_problem("sparse", seed=20)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(K)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[FBetaScore(average=None, from_logits=True), PRAUC(average=None, from_logits=True),
                           PrecisionAtRecall(0.5, from_logits=True)])
    history = model.fit(x, data.labels, epochs=1, verbose=0, validation_data=(x, data.labels),
                        callbacks=[keras.callbacks.TensorBoard(str(tmp_path))])
    assert "val_fbeta_score_class_2" in history.history and "pr_auc_class_0" in history.history
    assert "precision_at_recall_threshold" in history.history
    assert any(tmp_path.rglob("events.out.tfevents.*"))
