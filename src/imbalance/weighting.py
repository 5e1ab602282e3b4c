"""Weights, counts and initial biases computed from labels: the cheapest fixes for an imbalanced classifier.

Every function reads its labels through :mod:`imbalance.labels`, so sparse ids, one-hot and multi-hot matrices are
accepted everywhere and a multi-hot row is never ``argmax``-ed into a single class.

============================  ===========================================================================
function                      gives
============================  ===========================================================================
:func:`class_weights`         ``{class: weight}`` for ``model.fit(class_weight=...)`` (binary, multi-class)
:func:`pos_weights`           per-label ``n_neg / n_pos`` for ``WeightedBinaryCrossentropy(pos_weight=...)``
:func:`sample_weights`        one weight per row (correct for multi-hot rows: mean or max of their labels)
:func:`weight_dataset`        the same weights appended to a ``tf.data`` stream, vectorised
:func:`class_counts`          per-class (per-label) counts of arrays or of a ``tf.data`` stream
:func:`output_bias`           log-prior bias of the last layer, for ``keras.initializers.Constant``
:func:`decision_threshold`    where a positive weight moves the 0.5 decision threshold: ``1 / (1 + w)``
:func:`implied_thresholds`    the same for per-label positive weights and for multi-class class weights
:func:`explain_weights`       a readable report: the threshold each weight implies, against the base rate
============================  ===========================================================================

>>> import numpy as np
>>> y = np.array([0, 0, 0, 1])
>>> class_weights(y)
{0: 0.6666666666666666, 1: 2.0}
>>> pos_weights(y).tolist()
[3.0]
>>> [round(float(w), 3) for w in sample_weights(y)]
[0.667, 0.667, 0.667, 2.0]
>>> class_counts(y).tolist()
[3, 1]
>>> [round(float(b), 4) for b in output_bias(y)]  # log(1/3)
[-1.0986]
"""

from __future__ import annotations

import math
import sys
from typing import Any, Mapping, Sequence, Union

import numpy as np

from imbalance._validation import check_choice, check_counts, check_positive_int, check_scalar, check_vector, quote
from imbalance.dense import flatten_mask, is_mask, rows_of
from imbalance.heads import per_head
from imbalance.labels import count_labels, inspect_labels, to_class_ids, to_multi_hot

__all__ = [
    "CLASS_WEIGHT_METHODS",
    "MULTILABEL_REDUCES",
    "class_counts",
    "class_weights",
    "class_weights_from_counts",
    "decision_threshold",
    "explain_weights",
    "implied_thresholds",
    "output_bias",
    "pos_weights",
    "sample_weights",
    "weight_dataset",
    "weight_table",
]

CLASS_WEIGHT_METHODS: tuple[str, ...] = ("balanced", "inverse", "sqrt", "effective_number")
#: How a multi-hot row combines its labels' weights (``sample_weights``, ``weight_dataset``).
MULTILABEL_REDUCES: tuple[str, ...] = ("mean", "max")
_ACTIVATIONS: tuple[Any, ...] = (None, "sigmoid", "softmax")

ClassWeight = Union[str, Mapping[int, float], Sequence[float], np.ndarray]


# --- shared helpers ------------------------------------------------------------------------------------------


def _counts_and_rows(y: Any, num_classes: int | None) -> tuple[np.ndarray, int, str]:
    """Per-class counts (positives per label for multi-label), number of rows and task of a label array."""
    info = inspect_labels(y, num_classes=num_classes)
    normalised = to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y, num_classes=num_classes)
    return count_labels(normalised, info.task, info.num_classes), info.num_samples, info.task


def _unit(task: str) -> str:
    return "Label" if task == "multilabel" else "Class"


# --- class weights -------------------------------------------------------------------------------------------


def class_weights(
    y: Any, method: str = "balanced", beta: float = 0.999, num_classes: int | None = None
) -> dict[int, float]:
    """Per-class weights ``{class_id: weight}`` from labels, ready for ``model.fit(class_weight=...)``.

    ``n`` is the number of rows, ``K`` the number of classes (2 for binary problems) or of labels, ``n_k`` the count
    of class ``k`` (for multi-label problems: the rows where label ``k`` is positive).

    ====================  ===========================================  ==========================================
    method                weight of class ``k``                        normalisation
    ====================  ===========================================  ==========================================
    ``"balanced"``        ``n / (K * n_k)``                            none: equals scikit-learn's
                                                                       ``compute_class_weight("balanced")``
    ``"inverse"``         ``∝ 1 / n_k``                                weights sum to ``K``
    ``"sqrt"``            ``∝ 1 / sqrt(n_k)`` (milder)                 weights sum to ``K``
    ``"effective_number"``  ``∝ (1 - beta) / (1 - beta ** n_k)``       weights sum to ``K``
                          (Cui et al. 2019; ``beta=0`` is uniform,
                          ``beta → 1`` tends to ``"inverse"``)
    ====================  ===========================================  ==========================================

    **Weights move the decision boundary.** For a binary problem trained with weights ``w0, w1``, the model that
    minimises the weighted loss outputs ``p > 0.5`` exactly where the true probability of the positive class
    exceeds ``w0 / (w0 + w1)`` instead of 0.5 (see :func:`decision_threshold` with ``w1 / w0``). ``"balanced"`` on
    1 % positives gives ``w0 ≈ 0.505, w1 = 50``: the model predicts positive as soon as ``p ≈ 0.01`` — recall goes
    up and precision collapses. With ``K > 2`` classes the weighted model predicts ``argmax_k w_k p_k``: class ``k``
    wins for sure once ``p_k > m / (w_k + m)``, ``m`` the largest weight of another class
    (:func:`implied_thresholds`; :func:`explain_weights` prints it for your weights and data). Seed 000's balanced
    weights lowered class-0 precision from 0.82 to 0.62 while ranking class 0 *better* (average precision 0.85 →
    0.92): the threshold moved, the model did not get worse. Weighting buys ranking quality on the rare class; tune
    a decision threshold on validation data afterwards (:class:`imbalance.thresholds.ThresholdTuner`).

    Args:
        y: labels in any format accepted by :func:`imbalance.labels.inspect_labels` (binary, multi-class or
            multi-label).
        method: one of ``"balanced"``, ``"inverse"``, ``"sqrt"``, ``"effective_number"``.
        beta: the ``beta`` of ``"effective_number"``, in ``[0, 1)``; ignored by the other methods.
        num_classes: the number of classes when some are absent from ``y`` (they then raise, see below).
            Masks ``(N, H, W)`` / ``(N, H, W, K)`` count pixels (:mod:`imbalance.dense`): ``n`` is the pixels.

    Raises:
        ValueError: for an unknown ``method``, ``beta`` outside ``[0, 1)``, invalid labels, or a class (label)
            with no samples (positives) in ``y``: its weight would be infinite. The message names the class.

    >>> class_weights([0, 0, 0, 1, 1, 2])
    {0: 0.6666666666666666, 1: 1.0, 2: 2.0}
    >>> {k: round(v, 3) for k, v in class_weights([0, 0, 0, 1], method="sqrt").items()}
    {0: 0.732, 1: 1.268}
    >>> {k: round(v, 3) for k, v in class_weights([[1, 1], [1, 0], [1, 0], [0, 0]], method="inverse").items()}
    {0: 0.5, 1: 1.5}
    """
    check_choice("method", method, CLASS_WEIGHT_METHODS)
    beta = check_scalar("beta", beta, 0.0, 1.0, high_inclusive=False)
    y = rows_of(y, num_classes)
    counts, n, task = _counts_and_rows(y, num_classes)
    k = counts.size
    if np.any(counts == 0):
        i = int(np.argmax(counts == 0))
        what = "no positive rows" if task == "multilabel" else "no samples"
        raise ValueError(
            f"{_unit(task)} {i} has {what} in `y` (counts: {counts.tolist()}); its weight would be infinite. "
            "Leave it out of `num_classes` or give it a weight yourself."
        )
    if method == "balanced" and task != "multilabel":
        from sklearn.utils.class_weight import compute_class_weight

        ids = to_class_ids(y, num_classes=num_classes)
        weights = compute_class_weight("balanced", classes=np.arange(k), y=ids)
        return {i: float(w) for i, w in enumerate(weights)}
    return _weights_from_counts(counts.astype(np.float64), n, method, beta)


def _weights_from_counts(c: np.ndarray, n: float, method: str, beta: float) -> dict[int, float]:
    k = c.size
    if method == "balanced":
        weights = n / (k * c)
    else:
        if method == "inverse":
            raw = 1.0 / c
        elif method == "sqrt":
            raw = 1.0 / np.sqrt(c)
        elif beta == 0.0:  # effective number with beta=0: every class has effective number 1
            raw = np.ones_like(c)
        else:  # (1 - beta) / (1 - beta**n_k), with 1 - beta**n_k = -expm1(n_k log beta) computed without cancellation
            raw = (1.0 - beta) / -np.expm1(c * math.log(beta))
        weights = raw * (k / raw.sum())
    return {i: float(w) for i, w in enumerate(weights)}


def class_weights_from_counts(
    counts: Any, method: str = "balanced", beta: float = 0.999, num_samples: int | None = None
) -> dict[int, float]:
    """:func:`class_weights` from per-class counts instead of labels — e.g. the counts :func:`class_counts` took
    from a ``tf.data`` stream, or the ``class_counts`` of a loss.

    ``num_samples`` is the number of rows for ``"balanced"`` (default: the sum of the counts, right for binary and
    multi-class labels; give it for multi-label counts of positives).

    >>> class_weights_from_counts([3, 2, 1])
    {0: 0.6666666666666666, 1: 1.0, 2: 2.0}
    >>> {k: round(v, 4) for k, v in class_weights_from_counts([100, 10], "effective_number", beta=0.99).items()}
    {0: 0.2621, 1: 1.7379}
    """
    check_choice("method", method, CLASS_WEIGHT_METHODS)
    beta = check_scalar("beta", beta, 0.0, 1.0, high_inclusive=False)
    c = np.asarray(check_counts("counts", counts), dtype=np.float64)
    n = c.sum() if num_samples is None else check_scalar("num_samples", num_samples, low=0.0, low_inclusive=False)
    return _weights_from_counts(c, n, method, beta)


# --- positive weights ----------------------------------------------------------------------------------------


def pos_weights(y: Any, max_weight: float | None = None) -> np.ndarray:
    """Per-label positive weights ``n_neg / n_pos`` (float32) for a sigmoid output.

    Binary labels (sparse, ``(n, 1)`` or one-hot ``(n, 2)``) give shape ``(1,)``; multi-hot labels give one weight
    per label, ``(K,)``. Pass them to :class:`imbalance.losses.WeightedBinaryCrossentropy` or
    ``tf.nn.weighted_cross_entropy_with_logits``.

    **A positive weight moves the decision threshold.** A model trained with ``pos_weight=w`` that reaches the
    minimum of its loss outputs ``p > 0.5`` wherever the true probability exceeds ``1 / (1 + w)``
    (:func:`decision_threshold`). Seed 002's ``pos_weight=27`` predicts a label as soon as ``p > 0.036``: that is
    why a huge weight predicts all ones (``pos_weight=1000`` moves it to 0.001, far below seed 002's base rate of
    0.033: every row the features say little about is predicted positive). Note that ``n_neg / n_pos`` puts the
    threshold exactly at the base rate ``n_pos / n``. Cap the weights (``max_weight``), check them with
    :func:`explain_weights`, and tune thresholds on validation data.

    Args:
        y: binary or multi-label labels. Multi-class labels raise: use :func:`class_weights`.
        max_weight: optional cap (``> 0``, finite) on every weight; a label with no positive rows then gets
            ``max_weight`` instead of raising.

    Raises:
        ValueError: for multi-class labels, a bad ``max_weight``, a label with no positives (weight infinite,
            unless ``max_weight`` is given) or a label with no negatives (weight 0, the label would be ignored).
            The message names the label index.

    >>> pos_weights([0, 0, 0, 1]).tolist()
    [3.0]
    >>> pos_weights([[1, 0], [0, 0], [0, 1], [0, 0], [0, 0]]).tolist()
    [4.0, 4.0]
    >>> pos_weights([[1, 0], [0, 0], [0, 0], [0, 0], [0, 0]], max_weight=2.0).tolist()
    [2.0, 2.0]
    """
    if max_weight is not None:
        max_weight = check_scalar("max_weight", max_weight, 0.0, low_inclusive=False)
    info = inspect_labels(y)
    if info.task == "multiclass":
        raise ValueError(
            f"pos_weights needs binary or multi-label (multi-hot) labels; these are multi-class labels with "
            f"{info.num_classes} classes ({info.format}). Use class_weights(y) for a softmax output."
        )
    if info.task == "binary":
        ids = to_class_ids(y)
        positives = np.array([np.sum(ids == 1)], dtype=np.float64)
    else:
        positives = to_multi_hot(y).sum(axis=0).astype(np.float64)
    negatives = info.num_samples - positives
    for i in range(positives.size):
        if negatives[i] == 0:
            raise ValueError(
                f"Label {i} is positive in every row ({int(positives[i])} of {info.num_samples}); its weight "
                "n_neg / n_pos would be 0 and the label would be ignored. Drop the label or weight it yourself."
            )
        if positives[i] == 0 and max_weight is None:
            raise ValueError(
                f"Label {i} has no positive rows (0 of {info.num_samples}); its weight n_neg / n_pos would be "
                "infinite. Pass `max_weight` to give such labels a finite weight, or drop the label."
            )
    with np.errstate(divide="ignore"):
        weights = np.where(positives > 0, negatives / np.maximum(positives, 1.0), np.inf)
    if max_weight is not None:
        weights = np.minimum(weights, max_weight)
    return weights.astype(np.float32)


def decision_threshold(pos_weight: Any) -> Any:
    """The probability threshold ``1 / (1 + w)`` that a positive weight ``w`` puts in place of 0.5.

    Works on scalars (returns a float) and arrays (returns a float64 array). For class weights ``w0, w1`` use
    ``decision_threshold(w1 / w0)``, which is ``w0 / (w0 + w1)``.

    >>> round(decision_threshold(27.0), 3)
    0.036
    >>> decision_threshold([1.0, 3.0]).tolist()
    [0.5, 0.25]
    """
    arr = np.asarray(pos_weight.numpy() if hasattr(pos_weight, "numpy") else pos_weight, dtype=np.float64)
    bad = np.isnan(arr) | (arr < 0)
    if np.any(bad):
        raise ValueError(f"`pos_weight` must be >= 0 and not NaN. Received: pos_weight={arr.tolist()!r}")
    result = 1.0 / (1.0 + arr)
    return float(result) if result.ndim == 0 else result


def _weight_vector(weights: Any, kind: str | None) -> tuple[np.ndarray, str]:
    """Dense float64 weights and their kind (``"pos_weight"`` or ``"class_weight"``), validated."""
    check_choice("kind", kind, (None, "pos_weight", "class_weight"))
    if kind is None:
        kind = "class_weight" if isinstance(weights, Mapping) else "pos_weight"
    if isinstance(weights, Mapping):
        if kind == "pos_weight":
            raise ValueError(
                "A dict of weights is read as class weights {class: weight}; pass kind='class_weight' or give "
                f"positive weights as a number or a sequence. Received: weights={weights!r}"
            )
        table, known = weight_table(weights)
        if not np.all(known):
            missing = np.flatnonzero(~known).tolist()
            raise ValueError(f"Class weights must cover every class 0..K-1; missing: {missing}. Received: "
                             f"weights={weights!r}")
        values = table
    else:
        values = np.asarray(check_vector("weights", weights, low=0.0), dtype=np.float64).reshape(-1)
    if kind == "class_weight" and values.size < 2:
        raise ValueError(f"Class weights need at least 2 classes. Received: weights={quote(weights)}")
    if kind == "class_weight" and np.all(values == 0):
        raise ValueError(f"Class weights must not all be 0. Received: weights={quote(weights)}")
    return values, kind


def implied_thresholds(weights: Any, kind: str | None = None) -> np.ndarray:
    """The probability threshold that training with ``weights`` puts in place of the unweighted decision.

    A model that minimises a weighted cross-entropy learns weighted probabilities; read back on the true
    probability scale, its default decision is:

    * **positive weights** (``kind="pos_weight"``: a number or one per label, for sigmoid outputs): positive when
      ``p > 1 / (1 + w)`` (:func:`decision_threshold`); ``w = n_neg / n_pos`` puts it at the base rate.
    * **class weights** (``kind="class_weight"``: a dict ``{class: weight}`` or ``kind="class_weight"`` with a
      sequence, for softmax outputs): ``argmax_k w_k p_k``. Class ``k`` wins for sure once
      ``p_k > m_k / (w_k + m_k)``, ``m_k`` the largest weight of another class (0.5 with equal weights; for two
      classes exactly ``w0 / (w0 + w1)`` for class 1, the binary threshold).

    ``kind=None`` reads a dict as class weights and anything else as positive weights. Returns a float64 array:
    one threshold per label or class.

    >>> implied_thresholds(1000.0).round(4).tolist()
    [0.001]
    >>> implied_thresholds({0: 1.0, 1: 9.0}).tolist()  # class 1 predicted from p = 0.1
    [0.9, 0.1]
    >>> implied_thresholds({0: 1.0, 1: 1.0, 2: 1.0}).tolist()
    [0.5, 0.5, 0.5]
    """
    values, kind = _weight_vector(weights, kind)
    if kind == "pos_weight":
        return np.asarray(decision_threshold(values), dtype=np.float64).reshape(-1)
    others = np.array([np.max(np.delete(values, k)) for k in range(values.size)])
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(values + others > 0, others / (values + others), 0.5)
    return result.astype(np.float64)


def explain_weights(weights: Any, y: Any = None, kind: str | None = None, names: Sequence[str] | None = None) -> str:
    """A readable report of where ``weights`` move the decision, and — given labels ``y`` — how that compares with
    the base rates: why ``pos_weight=1000`` predicts all ones.

    A threshold below a label's base rate means every row the features say little about (probability near the
    base rate) is predicted positive: with weak features, expect mostly ones. A threshold at the base rate
    (``n_neg / n_pos`` weights) predicts positive whenever a row looks more likely than average: high recall, low
    precision. Either way, tune the threshold on validation data afterwards
    (``imbalance.thresholds.ThresholdTuner``).

    Args:
        weights: positive weights (a number or one per label) or class weights (a dict ``{class: weight}``); see
            :func:`implied_thresholds`.
        y: optional training labels (any format) for the base rates.
        kind: ``"pos_weight"``, ``"class_weight"`` or None (a dict is class weights).
        names: optional names of the labels or classes.

    >>> print(explain_weights(1000.0, y=[0] * 29 + [1]))
    pos_weight 1000 moves the decision threshold from 0.5 to 1/(1+w):
    label  weight  threshold  base rate  where the threshold lies
    -----  ------  ---------  ---------  --------------------------------------------------------------
    0        1000     0.0010      3.33%  far below the base rate: uninformative rows predicted positive
    <BLANKLINE>
    1 of 1 labels have a threshold far below their base rate: expect (nearly) all ones unless the features are strong.
    Lower the weight (n_neg / n_pos puts the threshold at the base rate; pos_weights(y, max_weight=...) caps it),
    then tune the threshold on validation data (imbalance.thresholds.ThresholdTuner).
    """
    values, kind = _weight_vector(weights, kind)
    thresholds = implied_thresholds(values if kind == "pos_weight" else dict(enumerate(values)), kind)
    if kind == "pos_weight":
        shown = f"{values[0]:.4g}" if np.all(values == values[0]) else f"{values.min():.4g} to {values.max():.4g}"
        head = f"pos_weight {shown} moves the decision threshold from 0.5 to 1/(1+w):"
    else:
        head = ("Class weights make the model predict argmax_k w_k p_k: class k wins for sure once p_k > m/(w_k + m), "
                "m the largest other weight (0.5 without weights):")
    rates = None
    if y is not None:
        counts, n, task = _counts_and_rows(y, None)
        if kind == "pos_weight":
            rates = counts[1:] / n if task == "binary" else counts / n
            if task == "multiclass":
                raise ValueError("Positive weights go with binary or multi-label labels; these labels are "
                                 f"multi-class ({counts.size} classes). Pass class weights as a dict.")
        else:
            if task == "multilabel":
                raise ValueError("Class weights ({class: weight}, softmax outputs) go with binary or multi-class "
                                 "labels; these labels are multi-label. Use positive weights (pos_weights).")
            rates = counts / n
        if values.size not in (1, rates.size):
            what = "labels" if kind == "pos_weight" else "classes"
            raise ValueError(
                f"{values.size} weights for {rates.size} {what} in `y`. Received: weights={quote(weights)}"
            )
        if values.size == 1 and rates.size > 1:
            values, thresholds = np.repeat(values, rates.size), np.repeat(thresholds, rates.size)
    count = values.size
    unit = "label" if kind == "pos_weight" else "class"
    if names is not None:
        labels = [str(v) for v in names]
        if len(labels) != count:
            raise ValueError(f"`names` must hold {count} names. Received {len(labels)}: {labels[:10]}")
    else:
        labels = [str(i) for i in range(count)]

    def favoured(i: int) -> str:
        # between classes i and j the weighted model predicts i iff p_i / p_j > w_j / w_i
        over, under = int(np.sum(values < values[i])), int(np.sum(values > values[i]))

        def many(k: int) -> str:
            return "all others" if k == count - 1 else f"{k} class" + ("es" if k != 1 else "")

        parts = ([f"favoured over {many(over)}"] if over else []) + ([f"disfavoured against {many(under)}"]
                                                                     if under else [])
        return ", ".join(parts) or "unchanged"

    def where(t: float, rate: float) -> str:
        if t < rate / 2:
            return "far below the base rate: uninformative rows predicted positive"
        if t <= rate * 1.5:
            return "at the base rate: positive whenever more likely than average"
        if t < 0.5:
            return "above the base rate, below 0.5"
        return "at or above 0.5"

    if kind == "pos_weight":
        headers = [unit, "weight", "threshold"]
        headers += ["base rate", "where the threshold lies"] if rates is not None else []
    else:
        headers = [unit, "weight", "threshold"] + (["prior"] if rates is not None else []) + ["against the others"]
    rows = []
    for i in range(count):
        row = [labels[i], f"{values[i]:.4g}", f"{thresholds[i]:.4f}"]
        if rates is not None:
            row.append(f"{100 * rates[i]:.2f}%")
            if kind == "pos_weight":
                row.append(where(float(thresholds[i]), float(rates[i])))
        if kind == "class_weight":
            row.append(favoured(i))
        rows.append(row)
    lines = [head] + _plain_table(headers, rows, limit=12)
    if rates is not None:
        lines.append("")
        low = int(np.sum(thresholds < rates / 2))
        at = int(np.sum((thresholds >= rates / 2) & (thresholds <= rates * 1.5)))
        if kind == "pos_weight" and low:
            lines += [
                f"{low} of {count} {unit}s have a threshold far below their base rate: expect (nearly) all ones unless "
                "the features are strong.",
                "Lower the weight (n_neg / n_pos puts the threshold at the base rate; pos_weights(y, max_weight=...) "
                "caps it),",
                "then tune the threshold on validation data (imbalance.thresholds.ThresholdTuner).",
            ]
        elif kind == "pos_weight" and at:
            lines.append(
                f"{at} of {count} {unit}s have their threshold at the base rate: recall up, precision down. Tune the "
                "threshold on validation data (imbalance.thresholds.ThresholdTuner) for your objective."
            )
        elif kind == "class_weight":
            proportional = np.allclose(values / values.sum(), (1 / rates) / (1 / rates).sum(), rtol=0.05)
            if proportional:
                lines.append("These weights are proportional to 1 / prior: the model predicts the class whose "
                             "probability most exceeds its prior (argmax p_k / prior_k) — rare classes gain recall "
                             "and lose precision. Tune a threshold for the class that matters "
                             "(imbalance.thresholds.ThresholdTuner(class_id=k)).")
            else:
                lines.append("Tune a threshold for the class that matters on validation data "
                             "(imbalance.thresholds.ThresholdTuner(class_id=k)).")
    return "\n".join(lines)


def _plain_table(headers: list[str], rows: list[list[str]], limit: int) -> list[str]:
    shown = rows if len(rows) <= limit else rows[: limit - 2] + rows[-2:]
    widths = [max(len(h), *(len(r[i]) for r in shown)) for i, h in enumerate(headers)]
    left = {0, len(headers) - 1} if len(headers) > 3 else {0}

    def line(cells: list[str]) -> str:
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(cells).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    for i, row in enumerate(shown):
        if len(rows) > limit and i == limit - 2:
            out.append(f"… {len(rows) - limit} more")
        out.append(line(row))
    return out


# --- per-sample weights --------------------------------------------------------------------------------------


def weight_table(class_weight: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(weights, known)``: a dense float64 table indexed by class id and a mask of the ids that were given, from
    a dict ``{class_id: weight}`` or a sequence of weights.

    Validates every given weight (finite, >= 0) and quotes the offending class and value.

    >>> table, known = weight_table({0: 1.0, 2: 4.0})
    >>> table.tolist(), known.tolist()
    ([1.0, 0.0, 4.0], [True, False, True])
    """
    shown = class_weight
    if isinstance(class_weight, Mapping):
        items = {}
        for key, value in class_weight.items():
            try:
                index = int(key)
                if isinstance(key, float) and index != key:
                    raise ValueError
            except (TypeError, ValueError):
                raise ValueError(
                    f"`class_weight` keys must be integer class ids. Received key {key!r} in class_weight={shown!r}"
                ) from None
            if index < 0:
                raise ValueError(f"`class_weight` keys must be >= 0. Received key {key!r} in class_weight={shown!r}")
            items[index] = value
        if not items:
            raise ValueError(f"`class_weight` is empty. Received: class_weight={shown!r}")
        size = max(items) + 1
        table, known = np.zeros(size, dtype=np.float64), np.zeros(size, dtype=bool)
        for index, value in items.items():
            table[index], known[index] = _check_weight(index, value, shown), True
        return table, known
    if hasattr(class_weight, "numpy") and callable(class_weight.numpy):
        class_weight = class_weight.numpy()
    arr = np.asarray(class_weight, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            "`class_weight` must be a method name, a dict {class_id: weight} or a 1-D sequence of per-class "
            f"weights. Received: class_weight={quote(shown)}"
        )
    table = np.array([_check_weight(i, v, shown) for i, v in enumerate(arr.tolist())], dtype=np.float64)
    return table, np.ones(table.size, dtype=bool)


def _check_weight(index: int, value: Any, shown: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
        if not isinstance(value, (int, float, np.number)):
            raise ValueError(
                f"`class_weight` must hold numbers; class {index} has {value!r}. Received: class_weight={quote(shown)}"
            ) from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(
            f"`class_weight` must be finite and >= 0; class {index} has weight {number!r}. "
            f"Received: class_weight={quote(shown)}"
        )
    return number


def sample_weights(
    y: Any,
    class_weight: ClassWeight = "balanced",
    multilabel_reduce: str = "mean",
    empty_row_weight: float = 1.0,
) -> np.ndarray | dict[str, np.ndarray]:
    """One float32 weight per row, for ``model.fit(sample_weight=...)`` or a ``tf.data`` pipeline.

    Masks ``(N, H, W)`` (ids) or ``(N, H, W, K)`` (indicators) give a weight map ``(N, H, W)``, one weight per pixel
    (:mod:`imbalance.dense`). A dict of labels ``{head: y}`` (a model with named outputs) with a dict
    ``{head: class_weight}`` (or one method for all) gives a dict ``{head: weights}`` for
    ``fit(sample_weight=...)``; a head without class weights gets ones (:mod:`imbalance.heads`).

    Sparse and one-hot rows get the weight of their class. Multi-hot rows get the mean (``multilabel_reduce="mean"``)
    or the max (``"max"``) of the weights of their positive labels — never the weight of the ``argmax`` column,
    which is what Keras' ``class_weight`` does with a multi-hot row. Rows without any positive label get
    ``empty_row_weight``.

    Args:
        y: labels in any format (binary, multi-class or multi-label).
        class_weight: a method of :func:`class_weights` (computed from ``y``), a dict ``{class_id: weight}`` that
            holds at least the classes present in ``y``, or a sequence of one weight per class (label).
        multilabel_reduce: ``"mean"`` or ``"max"``, how multi-hot rows combine their labels' weights.
        empty_row_weight: weight (``>= 0``) of multi-hot rows with no positive label.

    Raises:
        ValueError: for a negative, NaN or infinite weight (naming the class and value), a class present in ``y``
            but missing from ``class_weight``, a sequence whose length does not match the label columns, or an
            unknown ``multilabel_reduce``.

    >>> sample_weights([0, 1, 1], {0: 2.0, 1: 0.5}).tolist()
    [2.0, 0.5, 0.5]
    >>> y = [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    >>> sample_weights(y, [1.0, 3.0, 2.0]).tolist()
    [2.0, 2.0, 1.0]
    >>> sample_weights(y, [1.0, 3.0, 2.0], multilabel_reduce="max", empty_row_weight=0.0).tolist()
    [3.0, 2.0, 0.0]
    >>> sample_weights({"a": [0, 1], "b": [1, 1]}, {"a": {0: 1.0, 1: 4.0}})["b"].tolist()
    [1.0, 1.0]
    """
    check_choice("multilabel_reduce", multilabel_reduce, MULTILABEL_REDUCES)
    empty_row_weight = check_scalar("empty_row_weight", empty_row_weight, 0.0)
    if isinstance(y, Mapping):
        return per_head(y, class_weight, lambda y_, w_: sample_weights(y_, w_, multilabel_reduce, empty_row_weight))
    if is_mask(y):
        rows, grid = flatten_mask(y)
        return sample_weights(rows, class_weight, multilabel_reduce, empty_row_weight).reshape(grid)
    if isinstance(class_weight, str):
        if class_weight not in CLASS_WEIGHT_METHODS:
            raise ValueError(
                f"`class_weight` must be a method name (one of {list(CLASS_WEIGHT_METHODS)}), a dict "
                f"{{class_id: weight}} or a sequence of per-class weights. Received: class_weight={class_weight!r}"
            )
        class_weight = class_weights(y, method=class_weight)
    table, known = weight_table(class_weight)
    info = inspect_labels(y)
    if info.task != "multilabel":
        ids = to_class_ids(y)
        present = np.unique(ids)
        if info.format == "one_hot" and not isinstance(class_weight, Mapping) and table.size != info.num_classes:
            raise ValueError(
                f"`class_weight` has {table.size} entries but the one-hot labels have {info.num_classes} columns. "
                f"Received: class_weight={quote(class_weight)}"
            )
        _check_known(present, table, known, class_weight, "Class")
        return table[ids].astype(np.float32)

    matrix = to_multi_hot(y).astype(np.float64)
    k = matrix.shape[1]
    if not isinstance(class_weight, Mapping) and table.size != k:
        raise ValueError(
            f"`class_weight` has {table.size} entries but the multi-hot labels have {k} columns. "
            f"Received: class_weight={quote(class_weight)}"
        )
    _check_known(np.flatnonzero(matrix.sum(axis=0) > 0), table, known, class_weight, "Label")
    w = np.zeros(k, dtype=np.float64)
    usable = min(k, table.size)
    w[:usable] = np.where(known[:usable], table[:usable], 0.0)
    positives = matrix.sum(axis=1)
    if multilabel_reduce == "mean":
        combined = (matrix @ w) / np.maximum(positives, 1.0)
    else:
        combined = np.where(matrix > 0, w[None, :], -np.inf).max(axis=1)
    return np.where(positives > 0, combined, empty_row_weight).astype(np.float32)


def _check_known(present: np.ndarray, table: np.ndarray, known: np.ndarray, shown: Any, unit: str) -> None:
    for index in present.tolist():
        if index >= table.size or not known[index]:
            raise ValueError(
                f"{unit} {index} is present in `y` but has no weight in `class_weight`. "
                f"Received: class_weight={quote(shown)}"
            )


# --- tf.data ---------------------------------------------------------------------------------------------------


def weight_dataset(
    dataset: Any,
    class_weight: Mapping[int, float] | Sequence[float] | np.ndarray,
    multilabel_reduce: str = "mean",
    empty_row_weight: float = 1.0,
    label_format: str | None = None,
) -> Any:
    """Append a per-sample weight to a ``tf.data`` stream: ``(x, y) → (x, y, w)`` and ``(x, y, w0) → (x, y, w0 * w)``.

    The map is vectorised: sparse ids look their weight up with ``tf.gather``; one-hot and multi-hot rows reduce
    over their last axis (``"mean"`` or ``"max"`` of their positive labels' weights, exactly as
    :func:`sample_weights`; rows with no positive get ``empty_row_weight``). Batched and unbatched datasets work.

    The label format is read from ``dataset.element_spec`` (``K = len(class_weight)``): a scalar label or a last
    dimension of 1 holds class ids; a last dimension equal to ``K > 1`` holds one-hot / multi-hot columns; any other
    rank-1 label is a batch of ids. A batch of ``K`` ids (``batch(K, drop_remainder=True)``) looks like one
    indicator row: pass ``label_format="sparse"`` then.

    Args:
        dataset: a ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, sample_weight)`` tuples.
        class_weight: a dict ``{class_id: weight}`` with keys ``0..K-1``, or a sequence/array of ``K`` weights. A
            method name is not accepted (there is no label array here): compute the weights first with
            :func:`class_weights` on the training labels.
        multilabel_reduce: ``"mean"`` or ``"max"`` for multi-hot rows.
        empty_row_weight: weight of rows with no positive label.
        label_format: ``None`` (decide from the element spec), ``"sparse"`` or ``"dense"``.

    Raises:
        ValueError: for a method name, invalid weights, elements that are not 2- or 3-tuples, or labels whose
            shape does not fit the weights. Ids outside ``[0, K)`` raise ``InvalidArgumentError`` while iterating.

    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices(([[0.1], [0.2], [0.3]], [0, 1, 1])).batch(2)
    >>> [w.numpy().tolist() for _, _, w in weight_dataset(ds, {0: 2.0, 1: 0.5})]
    [[2.0, 0.5], [0.5]]
    """
    if isinstance(class_weight, str):
        raise ValueError(
            f"weight_dataset needs the weights themselves (a dict or a sequence), not a method name: there is no "
            f"label array to compute them from. Use class_weight=class_weights(y_train, method={class_weight!r}). "
            f"Received: class_weight={class_weight!r}"
        )
    check_choice("multilabel_reduce", multilabel_reduce, MULTILABEL_REDUCES)
    empty_row_weight = check_scalar("empty_row_weight", empty_row_weight, 0.0)
    table, known = weight_table(class_weight)
    if not np.all(known):
        raise ValueError(
            f"`class_weight` given as a dict must have keys 0..K-1 without gaps; class {int(np.argmin(known))} is "
            f"missing. Received: class_weight={quote(class_weight)}"
        )
    from imbalance.data.streaming import append_weights

    return append_weights(dataset, table, multilabel_reduce, empty_row_weight, label_format)


# --- counts ----------------------------------------------------------------------------------------------------


def class_counts(
    y_or_dataset: Any, num_classes: int | None = None, label_format: str | None = None
) -> np.ndarray:
    """Per-class counts (per-label positives for multi-hot labels) as int64, from arrays or a ``tf.data`` stream.

    Arrays go through :mod:`imbalance.labels`; masks count pixels (:mod:`imbalance.dense`). A ``tf.data.Dataset`` of
    ``(x, y)`` or ``(x, y, w)`` tuples, batched or not, is counted in-graph with ``Dataset.reduce``
    (``tf.math.bincount`` for ids, a column sum for one-hot / multi-hot rows, in :mod:`imbalance.data.streaming`):
    memory is O(classes), the labels are never materialised. The label format is read from the element spec as in
    :func:`weight_dataset` (with ``K = num_classes``); ``label_format`` overrides it.

    For sparse ids without ``num_classes`` the stream is read twice: a first pass finds the smallest and largest
    id. Pass ``num_classes`` to read it once (ids are then checked in the same pass).

    Args:
        y_or_dataset: a label array or a ``tf.data.Dataset``.
        num_classes: the number of classes (labels), when some may be absent from the data.
        label_format: for datasets only: ``None``, ``"sparse"`` or ``"dense"``.

    Raises:
        ValueError: for ids that are negative, non-integer or ``>= num_classes`` (quoting the id), indicator
            columns holding values other than 0/1, a ``num_classes`` that contradicts the columns, or an empty
            dataset without ``num_classes``.

    >>> class_counts([2, 0, 2]).tolist()
    [1, 0, 2]
    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices(([[0.0]] * 4, [[1, 0], [1, 1], [0, 0], [1, 0]])).batch(3)
    >>> class_counts(ds).tolist()
    [3, 1]
    """
    num_classes = check_positive_int("num_classes", num_classes)
    if _is_dataset(y_or_dataset):
        from imbalance.data.streaming import dataset_counts

        return dataset_counts(y_or_dataset, num_classes, label_format)
    if label_format is not None:
        raise ValueError(
            f"`label_format` applies to datasets only; label arrays are read by imbalance.labels. "
            f"Received: label_format={label_format!r}"
        )
    counts, _, _ = _counts_and_rows(rows_of(y_or_dataset, num_classes), num_classes)
    return counts


def _is_dataset(value: Any) -> bool:
    """A ``tf.data.Dataset``, told without importing TensorFlow (an object of it exists only once it is imported)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.data.Dataset)


# --- initial bias ----------------------------------------------------------------------------------------------


def output_bias(
    y_or_counts: Any,
    activation: str | None = None,
    num_samples: int | None = None,
    counts: bool = False,
) -> np.ndarray:
    """Log-prior bias (float32) for the last layer, ready for ``keras.initializers.Constant``.

    Initialising the output bias at the log-prior makes an untrained model predict the base rate: it removes the
    first epochs in which the model only learns the class frequencies (Karpathy's "init well"; the loss at step 0
    is the entropy of the prior, not ``log 2``). It is what makes seed 002's model start at the base rate, and the
    companion of prior correction (:func:`imbalance.thresholds.prior_shift`).

    From labels:

    * binary → sigmoid form ``log(p / (1 - p))``, shape ``(1,)`` (``activation="softmax"``: the 2 log-priors);
    * multi-label → ``log(p_k / (1 - p_k))`` per label, ``(K,)``;
    * multi-class → softmax form ``log(prior_k)``, ``(K,)`` (``activation="sigmoid"``: one-vs-rest
      ``log(p_k / (1 - p_k))``).

    From counts (a dict ``{class: count}``, or a 1-D sequence with ``counts=True``, e.g. :func:`class_counts`):

    * default / ``"softmax"`` → ``log(count_k / sum(counts))``;
    * ``"sigmoid"`` with 2 counts ``[n_neg, n_pos]`` and no ``num_samples`` → ``(1,)`` ``log(n_pos / n_neg)``;
    * ``"sigmoid"`` with ``num_samples`` → the counts are positives per label: ``logit(count_k / num_samples)``.

    Args:
        y_or_counts: labels in any format, or counts (see ``counts``).
        activation: ``None`` (the natural form of the task), ``"sigmoid"`` or ``"softmax"``.
        num_samples: number of rows, for per-label counts with ``activation="sigmoid"``.
        counts: ``True`` when ``y_or_counts`` is a 1-D sequence of counts. A 1-D array is otherwise read as
            sparse labels (``[3, 1]`` would be two labels, not two counts); a dict is always counts.

    Raises:
        ValueError: for a class whose prior is 0 or 1 (the bias would be infinite; the message names the class),
            invalid counts, an unknown ``activation``, or a combination that has no meaning (softmax on multi-label
            labels, sigmoid on more than 2 counts without ``num_samples``).

    >>> [round(float(b), 4) for b in output_bias([0, 0, 0, 1])]
    [-1.0986]
    >>> [round(float(b), 4) for b in output_bias({0: 6, 1: 3, 2: 1})]
    [-0.5108, -1.204, -2.3026]
    >>> [round(float(b), 3) for b in output_bias([99, 1], counts=True, activation="sigmoid")]
    [-4.595]
    """
    check_choice("activation", activation, _ACTIVATIONS)
    num_samples = check_positive_int("num_samples", num_samples)
    if isinstance(y_or_counts, Mapping) or counts:
        return _bias_from_counts(y_or_counts, activation, num_samples)
    if num_samples is not None:
        raise ValueError(
            "`num_samples` is only used with counts (counts=True or a dict); labels give their own number of rows. "
            f"Received: num_samples={num_samples}"
        )
    try:
        return _bias_from_labels(y_or_counts, activation)
    except ValueError as error:
        if np.ndim(y_or_counts) == 1 and "prior" in str(error):  # maybe counts read as labels: say so
            shown = np.asarray(y_or_counts).tolist()
            raise ValueError(
                f"{error} If {shown[:10]}{'…' if len(shown) > 10 else ''} are class counts rather than labels, "
                "pass counts=True."
            ) from None
        raise


def _bias_from_labels(y: Any, activation: str | None) -> np.ndarray:
    class_count, n, task = _counts_and_rows(y, None)
    c = class_count.astype(np.float64)
    if task == "multilabel":
        if activation == "softmax":
            raise ValueError(
                "activation='softmax' does not fit multi-label (multi-hot) labels: their labels are not exclusive. "
                "Use a sigmoid output (activation=None or 'sigmoid')."
            )
        return _logit(c, n, "Label")
    if task == "binary" and activation != "softmax":
        return _logit(c[1:], n, "Class", first_index=1)
    if activation == "sigmoid":
        return _logit(c, n, "Class")
    return _log_prior(c, "Class")


def _bias_from_counts(value: Any, activation: str | None, num_samples: int | None) -> np.ndarray:
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if not isinstance(value, Mapping) and np.ndim(value) != 1:
        raise ValueError(
            "Counts must be a dict {class: count} or a 1-D sequence of counts. "
            f"Received an array of shape {np.shape(value)}."
        )
    c = np.asarray(check_vector("counts", value, low=0.0, allow_scalar=False), dtype=np.float64)
    if activation == "sigmoid":
        if num_samples is not None:
            if np.any(c > num_samples):
                i = int(np.argmax(c > num_samples))
                raise ValueError(
                    f"Label {i} has {c[i]:g} positives but num_samples={num_samples}; counts cannot exceed it."
                )
            return _logit(c, num_samples, "Label")
        if c.size != 2:
            raise ValueError(
                f"activation='sigmoid' with {c.size} counts needs `num_samples` (the counts are then positives per "
                f"label); 2 counts are read as [n_neg, n_pos]. Received counts={c.tolist()}"
            )
        return _logit(c[1:], c.sum(), "Class", first_index=1)
    if num_samples is not None:
        raise ValueError(
            "`num_samples` is only used with activation='sigmoid'; softmax priors are count / sum(counts). "
            f"Received: num_samples={num_samples}"
        )
    if c.size < 2:
        raise ValueError(f"A softmax output needs at least 2 class counts. Received counts={c.tolist()}")
    return _log_prior(c, "Class")


def _logit(positives: np.ndarray, n: float, unit: str, first_index: int = 0) -> np.ndarray:
    for i, count in enumerate(positives.tolist()):
        if count == 0 or count == n:
            prior = "0" if count == 0 else "1"
            raise ValueError(
                f"{unit} {i + first_index} has prior {prior} ({count:g} of {n:g}); its bias log(p / (1 - p)) would be "
                "infinite."
            )
    p = positives / n
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


def _log_prior(c: np.ndarray, unit: str) -> np.ndarray:
    total = c.sum()
    for i, count in enumerate(c.tolist()):
        if count == 0:
            raise ValueError(f"{unit} {i} has prior 0 (count 0 of {total:g}); its bias log(prior) would be -inf.")
    return np.log(c / total).astype(np.float32)
