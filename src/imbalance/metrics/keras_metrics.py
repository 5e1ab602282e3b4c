"""Keras streaming metrics for imbalanced problems, on probabilities or logits, for every label format.

Every metric is a ``keras.metrics.Metric`` written with ``keras.ops``: it accumulates a few counts per batch in
``update_state`` (vectorised; no Python loop over rows or classes) and turns them into the score in ``result``, so
it runs inside ``model.compile(metrics=[...])``, ``fit`` and ``evaluate`` (XLA included), and survives
``model.save`` / ``keras.models.load_model``.

**Which problem, from static shapes.** The metric sees graph tensors, so it decides the task once, from the static
shapes of ``y_true`` and ``y_pred`` (the same rules as :mod:`imbalance.labels`, which reads the values instead):

==========================  ======================================  ==============================================
``y_pred``                  ``y_true``                              read as
==========================  ======================================  ==============================================
``(n,)`` or ``(n, 1)``      ``(n,)`` or ``(n, 1)`` of 0/1           binary, one sigmoid output; positive class = 1
``(n, K)``, ``K > 1``       ``(n,)`` or ``(n, 1)`` integer ids      multi-class (softmax), sparse labels
``(n, K)``                  ``(n, K)``, ``multi_label=False``       multi-class (softmax), one-hot labels
``(n, K)``                  ``(n, K)``, ``multi_label=True``        multi-label (one sigmoid per label), multi-hot
==========================  ======================================  ==============================================

A ``(n, K)`` label matrix is one-hot unless ``multi_label=True`` says it is multi-hot (as Keras' ``AUC``): the two
cannot be told apart from shapes, and a one-hot problem whose labels happen to be valid multi-hot rows is the
common case. ``from_logits=True`` applies the softmax (multi-class) or the sigmoid (binary, multi-label) before
any threshold or score bucket, so logits and probabilities give the same values.

**Decisions.** Binary and multi-label outputs are thresholded per label (``threshold=None`` means 0.5; a scalar or
one value per label). A multi-class output predicts its ``argmax`` when ``threshold`` is None; with a threshold
each class is decided one-vs-rest on its softmax probability (``p_k >= t_k``), which is what
``class_id=k, threshold=t`` is for ("call it class k when ``p_k >= t``", seed 000). ``class_id`` restricts a metric
to one class (one-vs-rest); for a single sigmoid output ``class_id=0`` is the negative class (``1 - p``).

**Averages.** ``"macro"`` is the unweighted mean over all ``K`` classes/labels (a class that is never true nor
predicted counts with score 0, as scikit-learn with ``labels=range(K)``), ``"weighted"`` weighs by support,
``"micro"`` pools the counts (for a multi-class ``argmax``, micro precision = micro recall = accuracy), ``None``
returns the per-class vector. Empty denominators give 0 (scikit-learn's ``zero_division=0``).

**Curves.** :class:`PRAUC`, :class:`RecallAtPrecision` and :class:`PrecisionAtRecall` are *bucketed*, as Keras'
``AUC``: ``num_thresholds`` evenly spaced thresholds ``t_j = j / (num_thresholds - 1)`` on the probability, and a
per-class histogram of positive / negative weight per bucket (memory ``O(classes × num_thresholds)``, independent
of the number of rows). PR-AUC is the step-wise *average precision* ``Σ_j (R_j − R_{j+1}) · P_j`` of
:func:`sklearn.metrics.average_precision_score` (no interpolation) evaluated at the bucket edges: it equals
scikit-learn exactly on scores rounded to the buckets, and to about ``1 / num_thresholds`` on raw scores. For an
exact search over every distinct score use :class:`imbalance.thresholds.ThresholdTuner` on validation scores.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from imbalance._validation import check_scalar, check_vector, quote

__all__ = [
    "BalancedAccuracy",
    "FBetaScore",
    "GeometricMean",
    "MatthewsCorrelation",
    "PRAUC",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
]

AVERAGES = ("macro", "micro", "weighted", None)


# --- argument checks -----------------------------------------------------------------------------------------


def _check_class_id(class_id: Any) -> int | None:
    if class_id is None:
        return None
    if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) or class_id < 0:
        raise ValueError(f"`class_id` must be a non-negative integer or None. Received: class_id={quote(class_id)}")
    return int(class_id)


def _check_threshold(threshold: Any) -> float | tuple[float, ...] | None:
    if threshold is None:
        return None
    value = check_vector("threshold", threshold, low=0.0, high=1.0)
    return value if isinstance(value, float) else tuple(value)


def _check_average(average: Any, allowed: Sequence[Any] = AVERAGES) -> str | None:
    if average not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"`average` must be one of {choices}. Received: average={quote(average)}")
    return average


def _check_num_thresholds(num_thresholds: Any) -> int:
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 2:
        raise ValueError(
            f"`num_thresholds` must be an integer >= 2. Received: num_thresholds={quote(num_thresholds)}"
        )
    return int(num_thresholds)


# --- inputs: task from static shapes, probabilities, decisions -------------------------------------------------


def resolve_task(true_shape: Sequence[int | None], pred_shape: Sequence[int | None],
                 multi_label: bool = False) -> tuple[str, int]:
    """``(task, K)`` from the static shapes of the labels and the model output (see the module docstring).

    >>> resolve_task((None,), (None, 3))
    ('multiclass', 3)
    >>> resolve_task((None, 3), (None, 3), multi_label=True)
    ('multilabel', 3)
    >>> resolve_task((None,), (None, 1))
    ('binary', 1)
    """
    true_shape, pred_shape = tuple(true_shape), tuple(pred_shape)
    if len(pred_shape) not in (1, 2):
        raise ValueError(
            "Model outputs must have shape (n,), (n, 1) (binary) or (n, K) (multi-class / multi-label). "
            f"Received y_pred of shape {pred_shape}."
        )
    k = 1 if len(pred_shape) == 1 else pred_shape[-1]
    if k is None:
        raise ValueError(f"The last axis of the model output must have a known size. Received shape {pred_shape}.")
    t_rank = len(true_shape)
    t_last = true_shape[-1] if t_rank else None
    if k == 1:
        if t_rank in (1, 2) and (t_rank == 1 or t_last in (1, None)):
            return "binary", 1
    elif t_rank == 2 and t_last in (k, None):
        return ("multilabel" if multi_label else "multiclass"), k
    elif t_rank == 1 or (t_rank == 2 and t_last == 1):
        if multi_label:
            raise ValueError(
                f"`multi_label=True` needs multi-hot labels of shape (n, {k}), one column per output. Received "
                f"labels of shape {true_shape} (class ids?). Pass multi_label=False for integer class ids."
            )
        return "multiclass", k
    raise ValueError(
        f"Labels of shape {true_shape} do not match model outputs of shape {pred_shape}: expected "
        + ("0/1 labels of shape (n,) or (n, 1)." if k == 1 else
           f"class ids of shape (n,) or (n, 1), or a one-hot / multi-hot matrix of shape (n, {k}).")
    )


def _labels_matrix(task: str, y_true: Any, k: int, dtype: str) -> Any:
    """``(n, K)`` 0/1 truth: the column itself (binary), one-hot of the ids, or the matrix as given."""
    if task == "binary":
        return ops.reshape(ops.cast(y_true, dtype), (-1, 1))
    if len(y_true.shape) == 1 or y_true.shape[-1] == 1:
        ids = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        return ops.one_hot(ids, k, dtype=dtype)
    return ops.cast(y_true, dtype)


def _probabilities(task: str, y_pred: Any, from_logits: bool) -> Any:
    if not from_logits:
        return y_pred
    return ops.softmax(y_pred, axis=-1) if task == "multiclass" else ops.sigmoid(y_pred)


def _weights(sample_weight: Any, task: str, k: int, dtype: str) -> Any:
    """``None``, or weights shaped ``(n, 1)`` (one per row) or ``(n, K)`` (one per label, multi-label only)."""
    if sample_weight is None:
        return None
    w = ops.cast(ops.convert_to_tensor(sample_weight), dtype)
    rank = len(w.shape)
    if rank == 0:
        return ops.reshape(w, (1, 1))
    if rank == 1:
        return ops.expand_dims(w, -1)
    if rank == 2 and (w.shape[-1] == 1 or (w.shape[-1] == k and task != "multiclass")):
        return w
    per_label = f", or (n, {k}) for one weight per label" if task != "multiclass" and k > 1 else ""
    raise ValueError(
        f"`sample_weight` must have shape (n,) or (n, 1){per_label}. Received shape {tuple(w.shape)}."
    )


def _argmax(y_pred: Any) -> Any:
    """Index of the largest column, the first among ties (as ``argmax``). ``top_k`` is one kernel where Keras'
    TensorFlow ``argmax`` adds five element-wise passes to handle negative zeros (``Precision()`` on a 4096×10
    batch: 0.73 → 0.41 ms per update)."""
    return ops.top_k(y_pred, 1, sorted=False)[1][:, 0]


def _select(columns: Any, class_id: int | None, task: str) -> Any:
    """The column of ``class_id`` (``(n, 1)``); for a single sigmoid output class 0 is ``1 - column``."""
    if class_id is None:
        return columns
    if task == "binary":
        return 1.0 - columns if class_id == 0 else columns
    return columns[:, class_id: class_id + 1]


def _select_weight(weight: Any, class_id: int | None) -> Any:
    if weight is None or class_id is None or weight.shape[-1] == 1:
        return weight
    return weight[:, class_id: class_id + 1]


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


# --- scores from counts (pure functions of the accumulated state) ---------------------------------------------


def _average(per_class: Any, support: Any, average: str | None) -> Any:
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
    return score if average == "micro" else _average(score, actual, average)


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


# --- metric classes --------------------------------------------------------------------------------------------


class _StreamingMetric(keras.metrics.Metric):
    """Shared machinery: decide the task from the first batch's static shapes, check the arguments that depend
    on the number of outputs, create the state then, and refuse later batches of another layout."""

    def __init__(self, class_id: int | None = None, from_logits: bool = False, multi_label: bool = False,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.class_id = _check_class_id(class_id)
        self.from_logits = bool(from_logits)
        self.multi_label = bool(multi_label)
        self._layout: tuple[str, int] | None = None

    # subclasses: _build_state(task, k), _check_layout(task, k)
    def _check_layout(self, task: str, k: int) -> None:
        if self.class_id is not None:
            num = 2 if task == "binary" else k
            if self.class_id >= num:
                what = "a single sigmoid output has classes 0 and 1" if task == "binary" else (
                    f"the model output has {k} {'labels' if task == 'multilabel' else 'classes'} (ids 0..{k - 1})")
                raise ValueError(f"`class_id` is out of range: {what}. Received: class_id={self.class_id}")

    def _prepare(self, y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[str, int, Any, Any, Any]:
        y_true = ops.convert_to_tensor(y_true)
        if hasattr(y_pred, "read_value"):
            y_pred = y_pred.read_value()
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        task, k = resolve_task(y_true.shape, y_pred.shape, self.multi_label)
        if self._layout is None:
            self._check_layout(task, k)
            self._build_state(task, k)
            self._layout = (task, k)
        elif self._layout != (task, k):
            raise ValueError(
                f"{type(self).__name__} was first updated with a {self._layout[0]} output of {self._layout[1]} "
                f"column(s); this batch is {task} with {k}. Use one metric object per model output."
            )
        if len(y_pred.shape) == 1:
            y_pred = ops.expand_dims(y_pred, -1)
        truth = _labels_matrix(task, y_true, k, self.dtype)
        return task, k, truth, y_pred, _weights(sample_weight, task, k, self.dtype)

    def _build_state(self, task: str, k: int) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id, "from_logits": self.from_logits,
                "multi_label": self.multi_label}


class _ConfusionMetric(_StreamingMetric):
    """Counts TP, TP+FP, TP+FN and the total weight per class (or for ``class_id`` only): state ``(4, C)``."""

    _needs_single_prediction = False  # metrics that need one predicted class per multi-class row

    def __init__(self, class_id: int | None = None, threshold: float | Sequence[float] | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, from_logits=from_logits, multi_label=multi_label, name=name,
                         dtype=dtype)
        self.threshold = _check_threshold(threshold)

    def _check_layout(self, task: str, k: int) -> None:
        super()._check_layout(task, k)
        if isinstance(self.threshold, tuple) and len(self.threshold) != k:
            raise ValueError(
                f"`threshold` has {len(self.threshold)} entries but the model output has {k} column(s): give a "
                f"scalar or one threshold per output column. Received: threshold={list(self.threshold)}"
            )
        if (self._needs_single_prediction and task == "multiclass" and self.class_id is None
                and self.threshold is not None):
            received = list(self.threshold) if isinstance(self.threshold, tuple) else self.threshold
            raise ValueError(
                f"{type(self).__name__} on a multi-class output needs one predicted class per row: leave "
                "`threshold=None` (argmax), or give `class_id` with its threshold (one-vs-rest). "
                f"Received: threshold={quote(received)}"
            )

    def _build_state(self, task: str, k: int) -> None:
        columns = 1 if self.class_id is not None else k
        self.counts = self.add_variable(shape=(4, columns), initializer="zeros", name="counts")

    @property
    def _single_label(self) -> bool:
        return self._layout is not None and self._layout[0] == "multiclass" and self.class_id is None \
            and self.threshold is None

    def _decisions(self, task: str, k: int, y_pred: Any) -> Any:
        """0/1 decisions ``(n, C)``, already restricted to ``class_id`` when one is given."""
        if task == "multiclass" and self.threshold is None:
            predicted = _argmax(y_pred)
            if self.class_id is not None:
                return ops.cast(ops.expand_dims(predicted == self.class_id, -1), self.dtype)
            return ops.one_hot(predicted, k, dtype=self.dtype)
        probs = _probabilities(task, y_pred, self.from_logits)
        threshold = 0.5 if self.threshold is None else self.threshold
        if self.class_id is not None and task != "binary":
            probs = probs[:, self.class_id: self.class_id + 1]
            if isinstance(threshold, tuple):
                threshold = threshold[self.class_id]
        threshold = ops.convert_to_tensor(np.asarray(threshold, dtype=self.dtype))
        return _select(ops.cast(probs >= threshold, self.dtype), self.class_id if task == "binary" else None, task)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        task, k, truth, y_pred, weight = self._prepare(y_true, y_pred, sample_weight)
        decisions = self._decisions(task, k, y_pred)
        truth, weight = _select(truth, self.class_id, task), _select_weight(weight, self.class_id)
        self.counts.assign_add(confusion_counts(truth, decisions, weight))

    def reset_state(self) -> None:
        if self._layout is not None:
            self.counts.assign(ops.zeros_like(self.counts))

    def result(self) -> Any:
        if self._layout is None:
            return ops.convert_to_tensor(0.0, dtype=self.dtype)
        return self._score(ops.convert_to_tensor(self.counts))

    def _score(self, counts: Any) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        threshold = list(self.threshold) if isinstance(self.threshold, tuple) else self.threshold
        return {**super().get_config(), "threshold": threshold}


@keras.saving.register_keras_serializable(package="imbalance")
class FBetaScore(_ConfusionMetric):
    """Streaming F-beta score on probabilities or logits, for binary, multi-class and multi-label outputs.

    Args:
        beta: weight of recall relative to precision (``> 0``; 1 is F1, 2 favours recall).
        average: ``"macro"`` (unweighted mean over all classes/labels), ``"micro"`` (pooled counts),
            ``"weighted"`` (mean weighted by support) or ``None`` (per-class vector).
        threshold: ``None`` (0.5 for sigmoid outputs, ``argmax`` for multi-class), a probability in ``[0, 1]``, or
            one per output column; on a multi-class output a threshold decides every class one-vs-rest.
        class_id: score one class only (one-vs-rest); for a single sigmoid output 0 is the negative class.
        from_logits: whether ``y_pred`` holds logits (softmax for multi-class, sigmoid otherwise).
        multi_label: read a ``(n, K)`` label matrix as multi-hot (sigmoid outputs) instead of one-hot.

    Equals :func:`sklearn.metrics.fbeta_score` (``labels=range(K)``, ``zero_division=0``) on the decisions.

    >>> import numpy as np
    >>> m = FBetaScore(beta=1.0, average="macro", multi_label=True)
    >>> m.update_state(np.array([[1, 0], [1, 1], [0, 1]]), np.array([[0.9, 0.2], [0.4, 0.7], [0.6, 0.8]]))
    >>> round(float(m.result()), 4)  # label 0: P=1/2, R=1/2; label 1: P=R=1
    0.75
    """

    def __init__(self, beta: float = 1.0, average: str | None = "macro",
                 threshold: float | Sequence[float] | None = None, class_id: int | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str = "fbeta_score",
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, threshold=threshold, from_logits=from_logits, multi_label=multi_label,
                         name=name, dtype=dtype)
        self.beta = check_scalar("beta", beta, low=0.0, low_inclusive=False)
        self.average = _check_average(average)

    def _score(self, counts: Any) -> Any:
        average = "micro" if self.class_id is not None else self.average
        return fbeta_from_counts(counts, self.beta, average, "fbeta")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta, "average": self.average}


class _PrecisionRecall(_ConfusionMetric):
    _kind = "precision"

    def __init__(self, class_id: int | None = None, threshold: float | Sequence[float] | None = None,
                 from_logits: bool = False, average: str | None = "micro", multi_label: bool = False,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(class_id=class_id, threshold=threshold, from_logits=from_logits, multi_label=multi_label,
                         name=name or self._kind, dtype=dtype)
        self.average = _check_average(average)

    def _score(self, counts: Any) -> Any:
        average = "micro" if self.class_id is not None else self.average
        return fbeta_from_counts(counts, 1.0, average, self._kind)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average}


@keras.saving.register_keras_serializable(package="imbalance")
class Precision(_PrecisionRecall):
    """Streaming precision ``TP / (TP + FP)`` on probabilities or logits, sparse / one-hot / multi-hot labels.

    Args as :class:`FBetaScore`; ``average`` defaults to ``"micro"`` (pooled counts over all columns, as Keras'
    ``Precision``) and does not matter with ``class_id`` or a single sigmoid output. Seed 000's "precision of
    class 0" is ``Precision(class_id=0)`` (argmax decisions) or ``Precision(class_id=0, threshold=t)`` (call it
    class 0 when ``p_0 >= t``). Equals :func:`sklearn.metrics.precision_score` on the decisions.

    >>> import numpy as np
    >>> m = Precision(class_id=0)
    >>> m.update_state([0, 1, 0, 2], np.array([[.8, .1, .1], [.6, .3, .1], [.2, .7, .1], [.1, .2, .7]]))
    >>> float(m.result())  # rows 0 and 1 are predicted class 0; row 0 is right
    0.5
    """

    _kind = "precision"


@keras.saving.register_keras_serializable(package="imbalance")
class Recall(_PrecisionRecall):
    """Streaming recall ``TP / (TP + FN)``; arguments and decisions as :class:`Precision` (equals
    :func:`sklearn.metrics.recall_score`).

    >>> import numpy as np
    >>> m = Recall(from_logits=True, multi_label=True)  # seed 002: 30 sigmoid logits, multi-hot labels
    >>> m.update_state(np.array([[1, 0, 1]]), np.array([[2.0, 1.0, -1.0]]))
    >>> float(m.result())
    0.5
    """

    _kind = "recall"


@keras.saving.register_keras_serializable(package="imbalance")
class BalancedAccuracy(_ConfusionMetric):
    """Streaming balanced accuracy: the mean recall over the classes present in the labels.

    Multi-class (``argmax``): :func:`sklearn.metrics.balanced_accuracy_score`. Binary or ``class_id``: the same for
    the two classes of that problem, ``(TPR + TNR) / 2``. Multi-label: ``(TPR + TNR) / 2`` per label, then the mean
    over labels. A threshold on a multi-class output needs ``class_id`` (one predicted class per row).

    >>> import numpy as np
    >>> m = BalancedAccuracy()
    >>> m.update_state([0, 0, 0, 1], np.array([0.1, 0.2, 0.7, 0.9]))
    >>> round(float(m.result()), 4)  # recall of class 0: 2/3, of class 1: 1
    0.8333
    """

    _needs_single_prediction = True

    def __init__(self, class_id: int | None = None, threshold: float | Sequence[float] | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str = "balanced_accuracy",
                 dtype: Any = None) -> None:
        super().__init__(class_id, threshold, from_logits, multi_label, name, dtype)

    def _score(self, counts: Any) -> Any:
        return balanced_accuracy_from_counts(counts, self._single_label)


@keras.saving.register_keras_serializable(package="imbalance")
class GeometricMean(_ConfusionMetric):
    """Streaming geometric mean of the per-class recalls (G-mean; binary: ``sqrt(TPR · TNR)``).

    Multi-class (``argmax``): imbalanced-learn's ``geometric_mean_score`` over the classes present in the labels
    (a class that is predicted but never true does not zero the score here). Multi-label: per label, then the mean.

    >>> import numpy as np
    >>> m = GeometricMean()
    >>> m.update_state([0, 0, 1, 1], np.array([0.1, 0.6, 0.7, 0.9]))
    >>> round(float(m.result()), 4)  # sqrt(1/2 · 1)
    0.7071
    """

    _needs_single_prediction = True

    def __init__(self, class_id: int | None = None, threshold: float | Sequence[float] | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str = "geometric_mean",
                 dtype: Any = None) -> None:
        super().__init__(class_id, threshold, from_logits, multi_label, name, dtype)

    def _score(self, counts: Any) -> Any:
        return geometric_mean_from_counts(counts, self._single_label)


@keras.saving.register_keras_serializable(package="imbalance")
class MatthewsCorrelation(_ConfusionMetric):
    """Streaming Matthews correlation coefficient (:func:`sklearn.metrics.matthews_corrcoef`; multi-class uses the
    K-class generalisation). Multi-label: per label, then the mean over labels. 0 when undefined.

    >>> import numpy as np
    >>> m = MatthewsCorrelation(from_logits=True)
    >>> m.update_state([0, 1, 1, 0], np.array([-2.0, 3.0, 0.5, 1.0]))
    >>> round(float(m.result()), 4)
    0.5774
    """

    _needs_single_prediction = True

    def __init__(self, class_id: int | None = None, threshold: float | Sequence[float] | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str = "matthews_correlation",
                 dtype: Any = None) -> None:
        super().__init__(class_id, threshold, from_logits, multi_label, name, dtype)

    def _score(self, counts: Any) -> Any:
        return matthews_from_counts(counts, self._single_label)


class _CurveMetric(_StreamingMetric):
    """Histogram of positive / negative weight over ``num_thresholds`` score buckets per column: ``(C, N, 2)``."""

    def __init__(self, class_id: int | None = None, from_logits: bool = False, num_thresholds: int = 200,
                 multi_label: bool = False, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(class_id=class_id, from_logits=from_logits, multi_label=multi_label, name=name,
                         dtype=dtype)
        self.num_thresholds = _check_num_thresholds(num_thresholds)

    @property
    def _pool(self) -> bool:
        """Pool all columns into one histogram (the micro-averaged curve)."""
        return True

    @property
    def thresholds(self) -> list[float]:
        """The probability thresholds ``j / (num_thresholds - 1)`` of the buckets."""
        return [j / (self.num_thresholds - 1) for j in range(self.num_thresholds)]

    def _build_state(self, task: str, k: int) -> None:
        columns = 1 if self.class_id is not None or self._pool else k
        self.histogram = self.add_variable(shape=(columns, self.num_thresholds, 2), initializer="zeros",
                                           name="histogram")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        task, k, truth, y_pred, weight = self._prepare(y_true, y_pred, sample_weight)
        scores = _probabilities(task, y_pred, self.from_logits)
        truth, scores = _select(truth, self.class_id, task), _select(scores, self.class_id, task)
        weight = _select_weight(weight, self.class_id)
        self.histogram.assign_add(score_histogram(truth, scores, self.num_thresholds, weight, pool=self._pool))

    def reset_state(self) -> None:
        if self._layout is not None:
            self.histogram.assign(ops.zeros_like(self.histogram))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_thresholds": self.num_thresholds}


@keras.saving.register_keras_serializable(package="imbalance")
class PRAUC(_CurveMetric):
    """Streaming area under the precision-recall curve, as *average precision* over ``num_thresholds`` buckets.

    The step-wise sum of :func:`sklearn.metrics.average_precision_score` (no interpolation, unlike Keras'
    ``AUC(curve="PR")``), computed at the bucket edges ``j / (num_thresholds − 1)``: exact on scores rounded to the
    buckets, within about ``1 / num_thresholds`` on raw scores. Multi-class outputs are scored one-vs-rest on their
    softmax probabilities; ``average`` as in scikit-learn (``"macro"`` default, ``"micro"``, ``"weighted"``,
    ``None``); a class without positives scores 0.

    >>> import numpy as np
    >>> m = PRAUC(num_thresholds=11)
    >>> m.update_state([1, 0, 1], np.array([0.9, 0.6, 0.3]))
    >>> round(float(m.result()), 4)
    0.8333
    """

    def __init__(self, class_id: int | None = None, from_logits: bool = False, num_thresholds: int = 200,
                 average: str | None = "macro", multi_label: bool = False, name: str = "pr_auc",
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, from_logits=from_logits, num_thresholds=num_thresholds,
                         multi_label=multi_label, name=name, dtype=dtype)
        self.average = _check_average(average)

    @property
    def _pool(self) -> bool:
        return self.average == "micro"

    def result(self) -> Any:
        if self._layout is None:
            return ops.convert_to_tensor(0.0, dtype=self.dtype)
        histogram = ops.convert_to_tensor(self.histogram)
        ap = average_precision_from_histogram(histogram)
        if self.class_id is not None or self._pool:
            return ap[0]
        support = ops.sum(histogram[:, :, 0], axis=1)
        return _average(ap, support, self.average)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average}


class _ConstrainedCurveMetric(_CurveMetric):
    """Best value of one of precision / recall subject to a floor on the other, over the bucket thresholds."""

    def _curve(self) -> tuple[Any, Any, Any]:
        histogram = ops.convert_to_tensor(self.histogram)
        precision, recall = pr_curve_from_histogram(histogram)
        predicted = ops.flip(ops.cumsum(ops.flip(ops.sum(histogram[0], axis=-1), axis=0), axis=0), axis=0)
        return precision[0], recall[0], predicted

    def _best(self) -> tuple[Any, Any]:
        """(value, bucket index or -1 when the constraint is never met)."""
        raise NotImplementedError

    def result(self) -> Any:
        if self._layout is None:
            return ops.convert_to_tensor(0.0, dtype=self.dtype)
        return self._best()[0]

    @property
    def threshold(self) -> float:
        """The probability threshold at which :meth:`result` is reached (predict positive when ``p >= threshold``);
        NaN when no threshold meets the constraint or before any update."""
        if self._layout is None:
            return math.nan
        index = int(ops.convert_to_numpy(self._best()[1]))
        return math.nan if index < 0 else index / (self.num_thresholds - 1)


@keras.saving.register_keras_serializable(package="imbalance")
class RecallAtPrecision(_ConstrainedCurveMetric):
    """Streaming best recall among the bucket thresholds whose precision is ``>= precision``; ``threshold`` holds
    the threshold that reaches it (the highest one among equal recalls). 0 (and a NaN threshold) when no threshold
    reaches the precision.

    Without ``class_id``, all columns of a multi-class or multi-label output are pooled (one shared threshold, as
    Keras' ``RecallAtPrecision``). ``num_thresholds`` evenly spaced buckets, as :class:`PRAUC`.

    >>> import numpy as np
    >>> m = RecallAtPrecision(0.6, num_thresholds=11)
    >>> m.update_state([1, 0, 1, 0], np.array([0.9, 0.6, 0.3, 0.1]))
    >>> float(m.result()), m.threshold  # at 0.3: 2 of 3 predicted are positive, both positives found
    (1.0, 0.3)
    """

    def __init__(self, precision: float, class_id: int | None = None, from_logits: bool = False,
                 num_thresholds: int = 200, multi_label: bool = False, name: str = "recall_at_precision",
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, from_logits=from_logits, num_thresholds=num_thresholds,
                         multi_label=multi_label, name=name, dtype=dtype)
        self.precision = check_scalar("precision", precision, low=0.0, high=1.0)

    def _best(self) -> tuple[Any, Any]:
        precision, recall, predicted = self._curve()
        feasible = (precision >= self.precision) & (predicted > 0)
        best = ops.max(ops.where(feasible, recall, -ops.ones_like(recall)))
        # the highest threshold with the best recall: argmax over the reversed curve
        hits = ops.cast(feasible & (recall >= best), "int32")
        index = self.num_thresholds - 1 - ops.cast(ops.argmax(ops.flip(hits, axis=0)), "int32")
        found = ops.any(feasible)
        return ops.where(found, best, ops.zeros_like(best)), ops.where(found, index, -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "precision": self.precision}


@keras.saving.register_keras_serializable(package="imbalance")
class PrecisionAtRecall(_ConstrainedCurveMetric):
    """Streaming best precision among the bucket thresholds whose recall is ``>= recall``; ``threshold`` holds the
    threshold that reaches it (the lowest one, i.e. the highest recall, among equal precisions). Pooling and
    buckets as :class:`RecallAtPrecision`.

    >>> import numpy as np
    >>> m = PrecisionAtRecall(0.5, num_thresholds=11)
    >>> m.update_state([1, 0, 1, 0], np.array([0.9, 0.6, 0.3, 0.1]))
    >>> float(m.result()), m.threshold  # 0.7, 0.8 and 0.9 all keep 1 of 2 positives at precision 1
    (1.0, 0.7)
    """

    def __init__(self, recall: float, class_id: int | None = None, from_logits: bool = False,
                 num_thresholds: int = 200, multi_label: bool = False, name: str = "precision_at_recall",
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, from_logits=from_logits, num_thresholds=num_thresholds,
                         multi_label=multi_label, name=name, dtype=dtype)
        self.recall = check_scalar("recall", recall, low=0.0, high=1.0)

    def _best(self) -> tuple[Any, Any]:
        precision, recall, _ = self._curve()
        feasible = recall >= self.recall
        masked = ops.where(feasible, precision, -ops.ones_like(precision))
        index = ops.cast(ops.argmax(masked), "int32")  # first (lowest threshold) among equal precisions
        found = ops.any(feasible)
        return ops.where(found, ops.max(masked), ops.zeros_like(precision[0])), ops.where(found, index, -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recall": self.recall}
