"""The arithmetic of the streaming metrics: per-batch counts and score histograms (``keras.ops``, any backend), and
the scores computed from them (pure functions of a metric's accumulated state). Each equals its scikit-learn /
imbalanced-learn counterpart on the same decisions; :mod:`imbalance.metrics.keras_metrics` holds the Keras metric
classes that accumulate these counts.

>>> import numpy as np
>>> counts = confusion_counts(np.array([[1.0], [0.0], [1.0]]), np.array([[1.0], [1.0], [0.0]]))
>>> round(float(fbeta_from_counts(counts, average="micro")), 4)  # TP 1, FP 1, FN 1
0.5
"""

from __future__ import annotations

from typing import Any

from keras import ops

__all__ = [
    "average_precision_from_histogram",
    "average_scores",
    "balanced_accuracy_from_counts",
    "confusion_counts",
    "fbeta_from_counts",
    "geometric_mean_from_counts",
    "matthews_from_counts",
    "pr_curve_from_histogram",
    "predicted_counts",
    "score_histogram",
]


# --- counts per batch ------------------------------------------------------------------------------------------


def confusion_counts(truth: Any, decisions: Any, weight: Any = None) -> Any:
    """Weighted ``[true positives, predicted positives, actual positives, total]`` per column, shape ``(4, C)``.

    >>> import numpy as np
    >>> counts = confusion_counts(np.array([[1.0], [0.0], [1.0]]), np.array([[1.0], [1.0], [0.0]]))
    >>> ops.convert_to_numpy(counts).ravel().tolist()
    [1.0, 2.0, 2.0, 3.0]
    """
    truth = ops.convert_to_tensor(truth)
    decisions = ops.cast(decisions, truth.dtype)
    if weight is None:
        weighted_truth, weighted_decisions = truth, decisions
        total = ops.cast(ops.shape(truth)[0], truth.dtype) * ops.ones_like(truth[0])
    else:
        weight = weight * ops.ones_like(truth[:, :1])  # a scalar weight counts once per row
        weighted_truth, weighted_decisions = truth * weight, decisions * weight
        total = ops.sum(weight, axis=0) * ops.ones_like(truth[0])
    return ops.stack([
        ops.sum(weighted_truth * decisions, axis=0),
        ops.sum(weighted_decisions, axis=0),
        ops.sum(weighted_truth, axis=0),
        total,
    ])


def predicted_counts(truth: Any, decisions: Any, weight: Any = None) -> Any:
    """The first two rows of :func:`confusion_counts` only, ``[true positives, predicted positives]`` per column,
    shape ``(2, C)``: what a second decision rule on the same labels adds.

    >>> import numpy as np
    >>> counts = predicted_counts(np.array([[1.0], [0.0], [1.0]]), np.array([[1.0], [1.0], [0.0]]))
    >>> ops.convert_to_numpy(counts).ravel().tolist()
    [1.0, 2.0]
    """
    truth = ops.convert_to_tensor(truth)
    decisions = ops.cast(decisions, truth.dtype)
    if weight is not None:
        decisions = decisions * (weight * ops.ones_like(truth[:, :1]))
    return ops.stack([ops.sum(truth * decisions, axis=0), ops.sum(decisions, axis=0)])


# --- scores from counts (pure functions of the accumulated state) ---------------------------------------------


def average_scores(per_class: Any, support: Any, average: str | None) -> Any:
    if average is None:
        return per_class
    if average == "weighted":
        return ops.divide_no_nan(ops.sum(per_class * support), ops.sum(support))
    return ops.mean(per_class)


def fbeta_from_counts(counts: Any, beta: float = 1.0, average: str | None = "macro", kind: str = "fbeta") -> Any:
    """Precision (``kind="precision"``), recall (``"recall"``) or F-beta (``"fbeta"``) from :func:`confusion_counts`.

    ``F_beta = (1 + β²)·TP / (β²·(TP + FN) + TP + FP)``, 0 when the denominator is 0 (scikit-learn's
    ``zero_division=0``); ``average`` as in :func:`sklearn.metrics.fbeta_score` with ``labels=range(K)``.

    >>> import numpy as np
    >>> counts = np.array([[2.0, 1.0], [4.0, 1.0], [3.0, 2.0], [6.0, 6.0]])  # TP, TP+FP, TP+FN, total
    >>> ops.convert_to_numpy(fbeta_from_counts(counts, average=None)).round(4).tolist()
    [0.5714, 0.6667]
    """
    counts = ops.convert_to_tensor(counts)
    tp, predicted, actual = counts[0], counts[1], counts[2]
    if average == "micro":
        tp, predicted, actual = ops.sum(tp), ops.sum(predicted), ops.sum(actual)
    if kind == "precision":
        score = ops.divide_no_nan(tp, predicted)
    elif kind == "recall":
        score = ops.divide_no_nan(tp, actual)
    else:
        b2 = float(beta) ** 2
        score = ops.divide_no_nan((1.0 + b2) * tp, b2 * actual + predicted)
    return score if average == "micro" else average_scores(score, actual, average)


def _class_recalls(counts: Any, single_label: bool) -> tuple[Any, Any]:
    """Recall of every class that has support, and the mask of those classes.

    ``single_label``: the columns are the classes of one prediction per row (multi-class ``argmax``), shape
    ``(K,)``. Otherwise every column is its own binary problem and its two classes are (positive, negative):
    recalls TPR and TNR, shape ``(C, 2)``.
    """
    tp, predicted, actual, total = counts[0], counts[1], counts[2], counts[3]
    if single_label:
        return ops.divide_no_nan(tp, actual), actual > 0
    negatives = total - actual
    tn = total - predicted - actual + tp
    recalls = ops.stack([ops.divide_no_nan(tp, actual), ops.divide_no_nan(tn, negatives)], axis=-1)
    present = ops.stack([actual > 0, negatives > 0], axis=-1)
    return recalls, present


def balanced_accuracy_from_counts(counts: Any, single_label: bool) -> Any:
    """Mean recall over the classes present in the labels (:func:`sklearn.metrics.balanced_accuracy_score`); for
    per-column binary problems (binary, one class, multi-label) ``(TPR + TNR) / 2`` per column, then the mean.

    >>> import numpy as np
    >>> counts = np.array([[3.0], [4.0], [5.0], [10.0]])  # TPR 3/5, TNR 4/5
    >>> round(float(balanced_accuracy_from_counts(counts, single_label=False)), 4)
    0.7
    """
    recalls, present = _class_recalls(ops.convert_to_tensor(counts), single_label)
    mask = ops.cast(present, recalls.dtype)
    per_problem = ops.divide_no_nan(ops.sum(recalls * mask, axis=-1), ops.sum(mask, axis=-1))
    return per_problem if single_label else ops.mean(per_problem)


def geometric_mean_from_counts(counts: Any, single_label: bool) -> Any:
    """Geometric mean of the recalls of the classes present in the labels (imbalanced-learn's
    ``geometric_mean_score``: ``sqrt(TPR · TNR)`` for a binary problem); per column then the mean for per-column
    binary problems.

    >>> import numpy as np
    >>> counts = np.array([[3.0], [4.0], [5.0], [10.0]])  # TPR 3/5, TNR 4/5
    >>> round(float(geometric_mean_from_counts(counts, single_label=False)), 4)
    0.6928
    """
    recalls, present = _class_recalls(ops.convert_to_tensor(counts), single_label)
    mask = ops.cast(present, recalls.dtype)
    positive = present & (recalls > 0)
    logs = ops.log(ops.where(positive, recalls, ops.ones_like(recalls)))
    gmean = ops.exp(ops.divide_no_nan(ops.sum(logs, axis=-1), ops.sum(mask, axis=-1)))
    zero = ops.any(present & (recalls <= 0), axis=-1) | (ops.sum(mask, axis=-1) == 0)
    per_problem = ops.where(zero, ops.zeros_like(gmean), gmean)
    return per_problem if single_label else ops.mean(per_problem)


def matthews_from_counts(counts: Any, single_label: bool) -> Any:
    """Matthews correlation coefficient (:func:`sklearn.metrics.matthews_corrcoef`, 0 when undefined).

    Multi-class (``single_label``): ``(c·s − Σ p_k·t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))`` with ``c`` the correct
    predictions, ``s`` the total, ``p_k``/``t_k`` the predicted/true counts of class ``k``. Per-column binary
    problems: ``(s·TP − p·t) / sqrt(p·t·(s − p)·(s − t))`` per column, then the mean.

    >>> import numpy as np
    >>> counts = np.array([[3.0], [4.0], [5.0], [10.0]])
    >>> round(float(matthews_from_counts(counts, single_label=False)), 4)
    0.4082
    """
    counts = ops.convert_to_tensor(counts)
    tp, predicted, actual, total = counts[0], counts[1], counts[2], counts[3]
    if single_label:
        s = total[0]
        numerator = ops.sum(tp) * s - ops.sum(predicted * actual)
        denominator = ops.sqrt((s * s - ops.sum(predicted * predicted)) * (s * s - ops.sum(actual * actual)))
        return ops.divide_no_nan(numerator, denominator)
    numerator = total * tp - predicted * actual
    denominator = ops.sqrt(predicted * actual * (total - predicted) * (total - actual))
    return ops.mean(ops.divide_no_nan(numerator, denominator))


def score_histogram(truth: Any, scores: Any, num_thresholds: int, weight: Any = None, pool: bool = False) -> Any:
    """Weight of positives and negatives per score bucket: shape ``(C, num_thresholds, 2)`` (``(1, …)`` with
    ``pool=True``, all columns together). Bucket ``j`` holds the scores in ``[j/(N−1), (j+1)/(N−1))``, the last
    one the scores equal to 1; one ``segment_sum`` per update, no loop over thresholds. Labels are 0/1 (a label
    ``>= 0.5`` counts as positive).

    >>> import numpy as np
    >>> h = score_histogram(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]]), num_thresholds=3)
    >>> ops.convert_to_numpy(h)[0].tolist()  # buckets [0, .5), [.5, 1), {1}: (positive, negative) weight
    [[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    """
    truth = ops.convert_to_tensor(truth)
    scores = ops.cast(scores, truth.dtype)
    num_columns = truth.shape[-1]
    buckets = ops.cast(ops.floor(ops.clip(scores, 0.0, 1.0) * (num_thresholds - 1)), "int32")
    if not pool:
        buckets = buckets + ops.arange(num_columns, dtype="int32") * num_thresholds
    # One 1-D segment sum: slot 2·bucket holds the positives, 2·bucket + 1 the negatives (a 2-column segment sum
    # costs about twice as much on CPU).
    segment_ids = ops.reshape(2 * buckets + ops.cast(truth < 0.5, "int32"), (-1,))
    data = ops.ones_like(scores) if weight is None else weight * ops.ones_like(scores)
    segments = 2 * num_thresholds * (1 if pool else num_columns)
    histogram = ops.segment_sum(ops.reshape(data, (-1,)), segment_ids, num_segments=segments)
    return ops.reshape(histogram, (1 if pool else num_columns, num_thresholds, 2))


def pr_curve_from_histogram(histogram: Any) -> tuple[Any, Any]:
    """``(precision, recall)`` at every threshold ``t_j`` (predict positive when ``score >= t_j``), shape ``(C, N)``.
    Precision is 0 where nothing is predicted positive."""
    histogram = ops.convert_to_tensor(histogram)
    at_or_above = ops.flip(ops.cumsum(ops.flip(histogram, axis=1), axis=1), axis=1)  # (C, N, 2)
    tp, fp = at_or_above[..., 0], at_or_above[..., 1]
    precision = ops.divide_no_nan(tp, tp + fp)
    recall = ops.divide_no_nan(tp, tp[:, :1])
    return precision, recall


def average_precision_from_histogram(histogram: Any) -> Any:
    """Average precision ``Σ_j (R_j − R_{j+1}) · P_j`` per column (``R_N = 0``), as scikit-learn's
    ``average_precision_score`` on scores rounded down to the bucket edges; 0 for a column without positives.

    >>> import numpy as np
    >>> h = score_histogram(np.array([[1.0], [0.0], [1.0]]), np.array([[0.9], [0.6], [0.3]]), num_thresholds=11)
    >>> round(float(average_precision_from_histogram(h)[0]), 4)  # sklearn: (1 + 2/3) / 2
    0.8333
    """
    precision, recall = pr_curve_from_histogram(histogram)
    next_recall = ops.concatenate([recall[:, 1:], ops.zeros_like(recall[:, :1])], axis=1)
    return ops.sum((recall - next_recall) * precision, axis=1)
