"""The one home of the numpy link functions: sigmoid and softmax of logits, stable at any value (no Keras); and
the counts at every distinct threshold of a ranking (``run_end_counts``).

>>> import numpy as np
>>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
[0.0, 0.5, 1.0]
>>> softmax(np.array([[1000.0, 0.0]])).round(6).tolist()
[[1.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["run_end_counts", "sigmoid", "softmax"]


def sigmoid(z: Any, keep_inf: bool = False) -> np.ndarray:
    """``1 / (1 + exp(-z))`` in float64 without overflow; with ``keep_inf``, ``+inf`` stays ``+inf`` (a threshold
    that decides "never" keeps that meaning on either scale)."""
    from scipy.special import expit

    x = np.asarray(z, np.float64)
    out = expit(x)
    return np.where(np.isposinf(x), np.inf, out) if keep_inf else out


def softmax(z: Any, axis: int = -1) -> np.ndarray:
    """Softmax over ``axis`` in float64, shifted by the maximum so that no exponential overflows."""
    from scipy.special import softmax as _softmax

    return _softmax(np.asarray(z, np.float64), axis=axis)


def run_end_counts(hits: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The counts of every distinct threshold ``scores >= t``, from the highest ``t`` down: ``(t, predicted,
    true_positives)``, one entry per run of tied scores (read at the run's end, so the order within a run does not
    matter). One sort and one cumulative sum; about 30 bytes a row at the peak (millions of test rows).

    The curve behind ``precision_recall_curve`` / ``average_precision_score`` and the best-F1 search of a
    diagnosis.

    The counts are integers (int32 below 2**30 rows: 4 bytes a distinct score, not 8).

    >>> t, predicted, tp = run_end_counts([1, 0, 1, 1], [0.9, 0.8, 0.8, 0.1])
    >>> t.tolist(), predicted.tolist(), tp.tolist()
    ([0.9, 0.8, 0.1], [1, 3, 4], [1, 2, 3])
    """
    scores = np.asarray(scores).reshape(-1)
    count = np.int32 if len(scores) < 2**30 else np.int64
    order = np.argsort(scores, kind="stable")[::-1]
    ranked = scores[order]
    ordered_hits = np.asarray(hits).reshape(-1)[order] != 0
    del order
    ends = np.flatnonzero(ranked[1:] != ranked[:-1]).astype(count)
    ends = np.append(ends, count(len(ranked) - 1)) if len(ranked) else ends
    tp = np.cumsum(ordered_hits, dtype=count)[ends]
    del ordered_hits
    ends += 1  # rows predicted at each threshold
    return ranked[ends - 1], ends, tp
