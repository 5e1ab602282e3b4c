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

Per-pixel outputs (segmentation, ``(N, H, W, K)``) are read as one row per pixel, with ids ``(N, H, W)`` or
one-hot / multi-hot masks ``(N, H, W, K)`` and a weight map ``(N, H, W)`` (:func:`imbalance.dense.flatten_pixels`).

A ``(n, K)`` label matrix cannot be told one-hot from multi-hot by its shape, so without ``multi_label=True`` the
metric reads it both ways and lets the *values* decide: as long as every row is one-hot it is a multi-class problem
(``argmax`` decisions, softmax on logits); once any row does not sum to 1 (two labels, no label: seed 002's
all-zero rows), the result is the multi-label value, per element, as Keras' ``Precision`` / ``Recall`` read such a
matrix — never a silent ``argmax`` of multi-hot rows. Pass ``multi_label=True`` to say so up front, or class ids for
a multi-class problem: either skips the second count (about +0.2 ms per 4096×10 update on this CPU).
``from_logits=True`` applies the softmax (multi-class) or the sigmoid (binary, multi-label) before any threshold or
score bucket, so logits and probabilities give the same values.

**Decisions.** Binary and multi-label outputs are thresholded per label (``threshold=None`` means 0.5; a scalar or
one value per label). A multi-class output predicts its ``argmax`` when ``threshold`` is None; with a threshold
each class is decided one-vs-rest on its softmax probability (``p_k >= t_k``), which is what
``class_id=k, threshold=t`` is for ("call it class k when ``p_k >= t``", seed 000). ``class_id`` restricts a metric
to one class (one-vs-rest); for a single sigmoid output ``class_id=0`` is the negative class (``1 - p``).

**Averages.** ``"macro"`` is the unweighted mean over all ``K`` classes/labels (a class that is never true nor
predicted counts with score 0, as scikit-learn with ``labels=range(K)``), ``"weighted"`` weighs by support,
``"micro"`` pools the counts (for a multi-class ``argmax``, micro precision = micro recall = accuracy), ``None``
gives one scalar per class. Empty denominators give 0 (scikit-learn's ``zero_division=0``).

**Logged values.** Keras' callbacks (``TensorBoard``, ``CSVLogger``, ``EarlyStopping``) take scalars, so a metric
with several values returns a dict, which ``fit`` / ``evaluate`` log as separate entries: ``average=None`` gives
``{name}_class_{k}`` per class, and :class:`RecallAtPrecision` / :class:`PrecisionAtRecall` give ``{name}`` and
``{name}_threshold`` (the threshold that reaches it). With several outputs, give each output's metric its own
``name``.

**Invalid inputs.** NaN scores, probabilities outside ``[0, 1]`` for the bucketed curve metrics without
``from_logits`` (a threshold or an ``argmax`` works on any other scale), labels outside ``[0, 1]`` and class ids
outside ``0..K-1`` are refused: on concrete tensors (eager, every backend) ``update_state`` raises a ValueError
naming the metric, the row of the batch and the value; in a TensorFlow graph a ``tf.debugging.Assert`` fails the
update with the same text; where nothing can raise on data (XLA, ``jax.jit``) the batch makes the state NaN, so
every result of the metric reads NaN (never a 1.0 or 0 from a guarded division) until ``reset_state``.

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

from imbalance._validation import (
    check_scalar,
    check_tensor,
    check_vector,
    invalid_class_ids,
    nan_flag,
    nan_where,
    outside_unit_interval,
    quote,
    sum_is_nan,
    unit_interval_flag,
)
from imbalance.dense import flatten_pixels
from imbalance.metrics.counts import (  # noqa: F401  (the scores from counts, also importable from here)
    average_precision_from_histogram,
    average_scores,
    balanced_accuracy_from_counts,
    confusion_counts,
    fbeta_from_counts,
    geometric_mean_from_counts,
    matthews_from_counts,
    pr_curve_from_histogram,
    predicted_counts,
    score_histogram,
)

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
    batch: 0.73 → 0.41 ms per update). Elsewhere ``argmax`` itself: torch's ``topk`` does not keep the first of
    tied maxima."""
    if keras.backend.backend() != "tensorflow":
        return ops.argmax(y_pred, axis=-1)
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


# --- metric classes --------------------------------------------------------------------------------------------


class _StreamingMetric(keras.metrics.Metric):
    """Shared machinery: decide the task from the first batch's static shapes, check the arguments that depend
    on the number of outputs, create the state then, and refuse later batches of another layout."""

    _bucketed = False  # scores bucketed on [0, 1] (curve metrics): probabilities must lie in it

    def __init__(self, class_id: int | None = None, from_logits: bool = False, multi_label: bool = False,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.class_id = _check_class_id(class_id)
        self.from_logits = bool(from_logits)
        self.multi_label = bool(multi_label)
        self._layout: tuple[str, int] | None = None
        self._either = False  # set with the layout: also count the multi-label reading of a label matrix

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
        y_true, y_pred, sample_weight = flatten_pixels(y_true, y_pred, sample_weight)  # masks: a row per pixel
        task, k = resolve_task(y_true.shape, y_pred.shape, self.multi_label)
        if self._layout is None:
            # a (n, K) label matrix of a multi-class layout may turn out multi-hot: read it both ways
            self._either = task == "multiclass" and len(y_true.shape) == 2 and y_true.shape[-1] != 1
            self._check_layout(task, k)
            self._build_state(task, k)
            if self._either:
                self.multi_hot_seen = self.add_variable(shape=(), initializer="zeros", name="multi_hot_seen")
            self._layout = (task, k)
        elif self._layout != (task, k):
            raise ValueError(
                f"{type(self).__name__} was first updated with a {self._layout[0]} output of {self._layout[1]} "
                f"column(s); this batch is {task} with {k}. Use one metric object per model output."
            )
        poison = self._check_inputs(task, k, y_true, y_pred)
        if len(y_pred.shape) == 1:
            y_pred = ops.expand_dims(y_pred, -1)
        truth = _labels_matrix(task, y_true, k, self.dtype)
        return task, k, truth, y_pred, _weights(sample_weight, task, k, self.dtype), poison

    def _check_inputs(self, task: str, k: int, y_true: Any, y_pred: Any) -> Any:
        """Scores (not NaN; probabilities in ``[0, 1]`` for the bucketed curve metrics without ``from_logits``) and
        labels (0/1 or one-hot / multi-hot values in ``[0, 1]``, or class ids ``0..K-1``): a ValueError on concrete
        values (eager), else a scalar
        poison, NaN when any entry of the batch is invalid, to add to the state (see
        :func:`imbalance._validation.check_tensor`; in a TensorFlow graph an assert fails the step as well)."""
        metric = f"{type(self).__name__} ({self.name!r})"
        if self.from_logits or not self._bucketed:
            what = "logits" if self.from_logits else "scores"
            scores = check_tensor(y_pred, ops.isnan, f"`y_pred` of {metric}", f"{what}, not NaN",
                                  "NaN scores usually mean the model diverged.", self.dtype, flag=nan_flag,
                                  graph_flag=sum_is_nan)
        else:
            scores = check_tensor(y_pred, outside_unit_interval, f"`y_pred` of {metric}",
                                  "probabilities in [0, 1] (from_logits=False)",
                                  "Pass from_logits=True for logits; NaN scores usually mean the model diverged.",
                                  self.dtype, flag=lambda p: ops.logical_or(unit_interval_flag(p), nan_flag(p)))
        if task == "multiclass" and (len(y_true.shape) == 1 or y_true.shape[-1] == 1):
            labels = check_tensor(ops.reshape(y_true, (-1,)), invalid_class_ids(k), f"`y_true` of {metric}",
                                  f"integer class ids in [0, {k - 1}] (the model output has {k} classes)",
                                  "Class ids count from 0, one model output per class.", self.dtype)
        else:
            # NaN labels need no flag: they make the counts, and so every result, NaN by themselves
            expected = "0/1 labels in [0, 1]" if task == "binary" else "one-hot or multi-hot labels in [0, 1]"
            labels = check_tensor(ops.cast(y_true, self.dtype), outside_unit_interval, f"`y_true` of {metric}",
                                  expected, "Class ids of a multi-class problem need one output column per class.",
                                  self.dtype, flag=unit_interval_flag)
        if scores is None or labels is None:
            return labels if scores is None else scores
        return scores + labels

    @staticmethod
    def _poisoned(add: Any, poison: Any) -> Any:
        """A state increment plus the batch's poison (NaN when the batch held invalid values)."""
        return add if poison is None else add + poison

    @staticmethod
    def _nan_if_poisoned(state: Any, value: Any) -> Any:
        """``value`` (a score from ``state``), or NaN once an invalid batch has poisoned the state: every score of
        a metric fed invalid values reads NaN until ``reset_state``, whatever division guards it has."""
        return value + nan_where(ops.isnan(ops.sum(state)), value.dtype)

    def _build_state(self, task: str, k: int) -> None:
        raise NotImplementedError

    def _note_multi_hot(self, truth: Any) -> None:
        """Remember whether any row of the 0/1 label matrix so far does not sum to 1: two labels or none, a
        multi-label problem (one row reduction, so the one-hot case stays cheap)."""
        off = ops.max(ops.abs(ops.sum(truth, axis=1) - 1.0))
        self.multi_hot_seen.assign(ops.maximum(self.multi_hot_seen, ops.cast(off > 0, self.dtype)))

    def _read_as_multi_hot(self) -> Any:
        return self.multi_hot_seen > 0

    def _logged(self, value: Any, columns: Sequence[int]) -> Any:
        """A per-class vector as one scalar per class (``{name}_class_{k}``), so Keras' callbacks can log it."""
        if len(value.shape) == 0:
            return value
        return {f"{self.name}_class_{c}": value[i] for i, c in enumerate(columns)}

    def _columns(self) -> list[int]:
        """The class id of each state column (a single sigmoid output's column is class 1)."""
        task, k = self._layout
        return [1] if task == "binary" else list(range(k))

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
            multi_hot = " For multi-hot labels pass multi_label=True." if self._either else ""
            raise ValueError(
                f"{type(self).__name__} on a multi-class output needs one predicted class per row: leave "
                "`threshold=None` (argmax), or give `class_id` with its threshold (one-vs-rest). "
                f"Received: threshold={quote(received)}.{multi_hot}"
            )

    def _build_state(self, task: str, k: int) -> None:
        columns = 1 if self.class_id is not None else k
        self.counts = self.add_variable(shape=(4, columns), initializer="zeros", name="counts")
        if self._either:  # TP and predicted positives of the per-element reading (the truth counts are shared)
            self.multi_hot_counts = self.add_variable(shape=(2, columns), initializer="zeros",
                                                      name="multi_hot_counts")

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
        task, k, truth, y_pred, weight, poison = self._prepare(y_true, y_pred, sample_weight)
        selected, weight = _select(truth, self.class_id, task), _select_weight(weight, self.class_id)
        self.counts.assign_add(self._poisoned(confusion_counts(selected, self._decisions(task, k, y_pred), weight),
                                              poison))
        if self._either:
            self.multi_hot_counts.assign_add(predicted_counts(selected, self._decisions("multilabel", k, y_pred),
                                                              weight))
            self._note_multi_hot(truth)

    def result(self) -> Any:
        if self._layout is None:
            return ops.convert_to_tensor(0.0, dtype=self.dtype)
        counts = ops.convert_to_tensor(self.counts)
        score = self._score(counts, self._single_label)
        if self._either:  # the per-element reading: its TP and predicted positives, the shared truth counts
            per_element = ops.concatenate([ops.convert_to_tensor(self.multi_hot_counts), counts[2:]])
            score = ops.where(self._read_as_multi_hot(), self._score(per_element, False), score)
        score = self._nan_if_poisoned(counts, score)
        return self._logged(score, [self.class_id] if self.class_id is not None else self._columns())

    def _score(self, counts: Any, single_label: bool) -> Any:
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
    >>> per_class = FBetaScore(average=None, name="f1")  # logged as one scalar per class
    >>> per_class.update_state([0, 1, 2, 1], np.array([[.8, .1, .1], [.3, .6, .1], [.2, .7, .1], [.1, .8, .1]]))
    >>> {key: round(float(v), 4) for key, v in per_class.result().items()}
    {'f1_class_0': 1.0, 'f1_class_1': 0.8, 'f1_class_2': 0.0}
    """

    def __init__(self, beta: float = 1.0, average: str | None = "macro",
                 threshold: float | Sequence[float] | None = None, class_id: int | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str = "fbeta_score",
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, threshold=threshold, from_logits=from_logits, multi_label=multi_label,
                         name=name, dtype=dtype)
        self.beta = check_scalar("beta", beta, low=0.0, low_inclusive=False)
        self.average = _check_average(average)

    def _score(self, counts: Any, single_label: bool) -> Any:
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

    def _score(self, counts: Any, single_label: bool) -> Any:
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
    >>> m = Recall()  # a multi-hot matrix without multi_label=True: read per element, as Keras' Recall does
    >>> m.update_state(np.array([[1, 0, 1], [0, 1, 0]]), np.array([[0.6, 0.1, 0.7], [0.2, 0.3, 0.5]]))
    >>> round(float(m.result()), 4)  # 2 of 3 positives pass 0.5 (an argmax would find 1 of 3)
    0.6667
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

    def _score(self, counts: Any, single_label: bool) -> Any:
        return balanced_accuracy_from_counts(counts, single_label)


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

    def _score(self, counts: Any, single_label: bool) -> Any:
        return geometric_mean_from_counts(counts, single_label)


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

    def _score(self, counts: Any, single_label: bool) -> Any:
        return matthews_from_counts(counts, single_label)


class _CurveMetric(_StreamingMetric):
    """Histogram of positive / negative weight over ``num_thresholds`` score buckets per column: ``(C, N, 2)``."""

    _bucketed = True

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
        shape = (columns, self.num_thresholds, 2)
        self.histogram = self.add_variable(shape=shape, initializer="zeros", name="histogram")
        # probabilities are the same under both readings; logits are not (softmax vs one sigmoid per label)
        self._either = self._either and self.from_logits
        if self._either:
            self.multi_hot_histogram = self.add_variable(shape=shape, initializer="zeros", name="multi_hot_histogram")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        task, k, truth, y_pred, weight, poison = self._prepare(y_true, y_pred, sample_weight)
        selected, weight = _select(truth, self.class_id, task), _select_weight(weight, self.class_id)
        readings = [(self.histogram, task)] + ([(self.multi_hot_histogram, "multilabel")] if self._either else [])
        for histogram, reading in readings:
            scores = _select(_probabilities(reading, y_pred, self.from_logits), self.class_id, task)
            histogram.assign_add(self._poisoned(
                score_histogram(selected, scores, self.num_thresholds, weight, pool=self._pool), poison))
        if self._either:
            self._note_multi_hot(truth)

    def _histogram(self) -> Any:
        """The accumulated histogram of the reading that applies (see the module docstring)."""
        histogram = ops.convert_to_tensor(self.histogram)
        if self._either:
            histogram = ops.where(self._read_as_multi_hot(), ops.convert_to_tensor(self.multi_hot_histogram),
                                  histogram)
        return histogram

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
        histogram = self._histogram()
        ap = average_precision_from_histogram(histogram)
        if self.class_id is not None or self._pool:
            return self._nan_if_poisoned(histogram, ap[0])
        support = ops.sum(histogram[:, :, 0], axis=1)
        return self._logged(self._nan_if_poisoned(histogram, average_scores(ap, support, self.average)),
                            self._columns())

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average}


class _ConstrainedCurveMetric(_CurveMetric):
    """Best value of one of precision / recall subject to a floor on the other, over the bucket thresholds."""

    def _curve(self) -> tuple[Any, Any, Any]:
        histogram = self._histogram()
        precision, recall = pr_curve_from_histogram(histogram)
        predicted = ops.flip(ops.cumsum(ops.flip(ops.sum(histogram[0], axis=-1), axis=0), axis=0), axis=0)
        return precision[0], recall[0], predicted

    def _best(self) -> tuple[Any, Any]:
        """(value, bucket index or -1 when the constraint is never met)."""
        raise NotImplementedError

    def result(self) -> Any:
        """``{name: value, name_threshold: threshold}`` (NaN threshold when none meets the constraint); the
        threshold is logged beside the value by ``fit`` / ``evaluate``."""
        if self._layout is None:
            return {self.name: ops.convert_to_tensor(0.0, dtype=self.dtype),
                    f"{self.name}_threshold": ops.convert_to_tensor(math.nan, dtype=self.dtype)}
        value, index = self._best()
        threshold = ops.where(index >= 0, ops.cast(index, self.dtype) / (self.num_thresholds - 1),
                              ops.convert_to_tensor(math.nan, dtype=self.dtype))
        histogram = self._histogram()
        return {self.name: self._nan_if_poisoned(histogram, value),
                f"{self.name}_threshold": self._nan_if_poisoned(histogram, threshold)}

    @property
    def threshold(self) -> float:
        """The probability threshold at which :meth:`result` is reached (predict positive when ``p >= threshold``);
        NaN when no threshold meets the constraint or before any update."""
        if self._layout is None or bool(ops.convert_to_numpy(ops.isnan(ops.sum(self._histogram())))):
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
    >>> {key: round(float(v), 4) for key, v in m.result().items()}  # at 0.3: 2 of 3 predicted are positive
    {'recall_at_precision': 1.0, 'recall_at_precision_threshold': 0.3}
    >>> m.threshold
    0.3
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
    >>> {key: round(float(v), 4) for key, v in m.result().items()}  # 0.7, 0.8, 0.9 keep 1 of 2 at precision 1
    {'precision_at_recall': 1.0, 'precision_at_recall_threshold': 0.7}
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
