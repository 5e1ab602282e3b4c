"""Per-class evaluation table of validation or test scores, with numbers from scikit-learn.

:func:`report` reads the labels once through :mod:`imbalance.labels`, turns scores into decisions with the same
rules as the streaming metrics (:mod:`imbalance.metrics.keras_metrics`), and asks scikit-learn for every number:
``precision_recall_fscore_support`` on the 0/1 indicator matrices of truths and decisions, and
``average_precision_score`` / ``roc_auc_score`` on the scores of each class.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

from imbalance._numeric import sigmoid, softmax
from imbalance._validation import as_numpy, check_scores, check_vector
from imbalance.labels import inspect_labels, to_class_ids, to_multi_hot

__all__ = ["report", "COLUMNS"]

COLUMNS = ("precision", "recall", "f1", "support", "pr_auc", "roc_auc")


def _check_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1) if np.ndim(sample_weight) else None
    if w is None or w.shape[0] != n:
        raise ValueError(
            f"`sample_weight` must hold one weight per row ({n} rows). Received shape {np.shape(sample_weight)}."
        )
    bad = ~np.isfinite(w) | (w < 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"`sample_weight` must be finite and >= 0; row {i} holds {float(w[i])!r}.")
    return w


def _thresholds(thresholds: Any, num_columns: int, what: str) -> np.ndarray:
    values = check_vector("thresholds", thresholds, low=0.0, high=1.0)
    if isinstance(values, float):
        return np.full(num_columns, values)
    if len(values) != num_columns:
        raise ValueError(
            f"`thresholds` has {len(values)} entries but `scores` has {num_columns} {what}: give a scalar or one "
            f"threshold per column. Received: thresholds={values}"
        )
    return np.asarray(values)


def _problem(y_true: Any, scores: np.ndarray, thresholds: Any, from_logits: bool, task: str | None
             ) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """``(task, truth, probabilities, decisions)`` as ``(n, C)`` arrays, one column per reported class/label."""
    n = scores.shape[0]
    if np.ndim(y_true) == 0 or len(y_true) != n:
        rows = "a scalar" if np.ndim(y_true) == 0 else f"{len(y_true)} rows"
        raise ValueError(f"`y_true` has {rows} but `scores` has {n} rows; they must describe the same samples.")
    k = 1 if scores.ndim == 1 else scores.shape[1]
    if k == 1:  # one sigmoid output: report both classes, class 0 scored by 1 - p
        info = inspect_labels(y_true, task=task)
        if info.task != "binary":
            raise ValueError(
                f"`scores` has one column (a binary sigmoid output), but `y_true` is {info.task} with "
                f"{info.num_classes} classes/labels; pass one score column per class/label."
            )
        y = to_class_ids(y_true).astype(np.float64)
        p = scores.reshape(-1)
        p = sigmoid(p) if from_logits else p
        t = 0.5 if thresholds is None else _thresholds(thresholds, 1, "column")[0]
        positive = p >= t
        return "binary", np.stack([1.0 - y, y], 1), np.stack([1.0 - p, p], 1), np.stack([~positive, positive], 1)
    arr = np.asarray(y_true)
    if arr.ndim == 2 and arr.shape[1] not in (1, k):
        raise ValueError(
            f"`y_true` has {arr.shape[1]} columns but `scores` has {k}: a one-hot / multi-hot matrix needs one "
            "column per score column (or pass class ids of shape (n,))."
        )
    try:
        info = inspect_labels(y_true, num_classes=k, task=None if task == "binary" else task)
    except ValueError as exc:
        raise ValueError(f"`y_true` does not fit `scores` with {k} columns: {exc}") from None
    truth = to_multi_hot(y_true, num_classes=k) if info.format != "sparse" else np.eye(k)[to_class_ids(y_true, k)]
    if info.task == "multilabel":
        probs = sigmoid(scores) if from_logits else scores
        decisions = probs >= (0.5 if thresholds is None else _thresholds(thresholds, k, "labels"))
        return "multilabel", truth.astype(np.float64), probs, decisions
    probs = softmax(scores, axis=1) if from_logits else scores
    if thresholds is None:
        decisions = np.eye(k, dtype=bool)[np.argmax(probs, axis=1)]
    else:
        decisions = probs >= _thresholds(thresholds, k, "classes")
    return "multiclass", truth.astype(np.float64), probs, decisions


def _ranking_scores(truth: np.ndarray, probs: np.ndarray, weight: np.ndarray | None) -> tuple[list[float], list[float]]:
    """Average precision and ROC-AUC per column; NaN where a column lacks positives (or negatives, for ROC-AUC)."""
    pr_auc, roc_auc = [], []
    for c in range(truth.shape[1]):
        positives = truth[:, c] > 0
        has_pos = np.any(positives if weight is None else positives & (weight > 0))
        has_neg = np.any(~positives if weight is None else ~positives & (weight > 0))
        pr_auc.append(float(average_precision_score(truth[:, c], probs[:, c], sample_weight=weight))
                      if has_pos else np.nan)
        roc_auc.append(float(roc_auc_score(truth[:, c], probs[:, c], sample_weight=weight))
                       if has_pos and has_neg else np.nan)
    return pr_auc, roc_auc


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.mean(arr[np.isfinite(arr)])) if np.any(np.isfinite(arr)) else np.nan


def report(y_true: Any, scores: Any, thresholds: float | Sequence[float] | None = None, from_logits: bool = False,
           *, task: str | None = None, sample_weight: Any = None,
           class_names: Sequence[Any] | None = None) -> pd.DataFrame:
    """Precision, recall, F1, support, PR-AUC (average precision) and ROC-AUC per class or label, plus ``macro``
    and ``micro`` rows, as scikit-learn computes them.

    Args:
        y_true: labels in any format :mod:`imbalance.labels` accepts: class ids ``(n,)``, one-hot or multi-hot
            ``(n, K)``.
        scores: probabilities (or logits with ``from_logits=True``): ``(n,)`` / ``(n, 1)`` for one sigmoid output
            (both classes are reported; class 0 is scored by ``1 - p``), ``(n, K)`` softmax outputs for ``K``
            classes, or ``(n, K)`` sigmoid outputs for ``K`` labels (multi-hot ``y_true``).
        thresholds: ``None`` (``argmax`` for multi-class, 0.5 otherwise), a probability for every column, or one per
            class/label. On a multi-class output a threshold decides each class one-vs-rest (``p_k >= t_k``).
        from_logits: apply the softmax (multi-class) or sigmoid (binary, multi-label) to ``scores`` first.
        task: ``"multilabel"`` when a multi-label ``y_true`` happens to hold exactly one positive per row (it would
            otherwise be read as one-hot), as in :func:`imbalance.labels.inspect_labels`.
        sample_weight: optional weight per row, passed to every scikit-learn function.
        class_names: names for the class/label rows (default: their ids).

    Returns:
        A DataFrame indexed by class/label then ``"macro"`` and ``"micro"``, with columns ``precision``,
        ``recall``, ``f1``, ``support``, ``pr_auc``, ``roc_auc``. Precision, recall and F1 are
        ``precision_recall_fscore_support`` on the 0/1 decisions (``zero_division=0``; for ``argmax`` decisions this
        equals scikit-learn on class ids with ``labels=range(K)``; micro F1 is then the accuracy). PR-AUC and ROC-AUC
        are per column one-vs-rest; NaN for a class without positives (ROC-AUC: or without negatives); their macro
        row is the mean over the defined classes, their micro row scores all columns pooled. The ``support`` of
        the average rows is the total support.

    Raises:
        ValueError: NaN or infinite scores, probabilities outside ``[0, 1]`` without ``from_logits``, row counts
            or column counts that differ between ``y_true`` and ``scores``, or thresholds outside ``[0, 1]`` or of
            the wrong length; the message names the row, column or class.

    >>> import numpy as np
    >>> table = report([0, 2, 1, 2], np.array([[.7, .2, .1], [.1, .3, .6], [.2, .5, .3], [.5, .1, .4]]))
    >>> table[["precision", "recall", "support"]].round(3).to_dict("index")[2]
    {'precision': 1.0, 'recall': 0.5, 'support': 2.0}
    >>> list(table.index)
    [0, 1, 2, 'macro', 'micro']
    """
    arr = check_scores(scores, probabilities=not from_logits).astype(np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    y_true = as_numpy(y_true)
    if isinstance(y_true, (pd.Series, pd.DataFrame)):
        y_true = y_true.to_numpy()
    weight = _check_weights(sample_weight, arr.shape[0])
    task_name, truth, probs, decisions = _problem(y_true, arr, thresholds, from_logits, task)
    decisions = decisions.astype(np.int64)
    truth_int = truth.astype(np.int64)

    precision, recall, f1, support = precision_recall_fscore_support(
        truth_int, decisions, average=None, zero_division=0, sample_weight=weight)
    pr_auc, roc_auc = _ranking_scores(truth, probs, weight)
    rows = [list(values) for values in zip(precision, recall, f1, support, pr_auc, roc_auc)]
    total_support = float(np.sum(support))

    macro = precision_recall_fscore_support(truth_int, decisions, average="macro", zero_division=0,
                                            sample_weight=weight)
    rows.append([*macro[:3], total_support, _nanmean(pr_auc), _nanmean(roc_auc)])

    micro = precision_recall_fscore_support(truth_int, decisions, average="micro", zero_division=0,
                                            sample_weight=weight)
    flat_truth, flat_probs = truth.ravel(), probs.ravel()
    flat_weight = None if weight is None else np.repeat(weight, truth.shape[1])
    has_pos, has_neg = np.any(flat_truth > 0), np.any(flat_truth == 0)
    micro_pr = float(average_precision_score(flat_truth, flat_probs, sample_weight=flat_weight)) if has_pos else np.nan
    micro_roc = (float(roc_auc_score(flat_truth, flat_probs, sample_weight=flat_weight))
                 if has_pos and has_neg else np.nan)
    rows.append([*micro[:3], total_support, micro_pr, micro_roc])

    num = truth.shape[1]
    if class_names is None:
        names: list[Any] = list(range(num))
    else:
        names = list(class_names)
        if len(names) != num:
            raise ValueError(
                f"`class_names` has {len(names)} entries but there are {num} classes/labels to report. "
                f"Received: class_names={names!r}"
            )
    index = pd.Index(names + ["macro", "micro"], name="label" if task_name == "multilabel" else "class",
                     dtype=object)
    table = pd.DataFrame(rows, index=index, columns=list(COLUMNS), dtype=np.float64)
    return table
