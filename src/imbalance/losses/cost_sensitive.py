"""Cost-sensitive cross-entropy: penalise the confusions that cost the most, given a ``K×K`` cost matrix.

``cost_matrix[i, j]`` is the cost of predicting class ``j`` when the truth is class ``i``. For a sample of class
``i`` the loss adds, to the cross-entropy, ``sum_j cost_matrix[i, j] · (-log(1 - p_j))``: a penalty that grows
without bound as the probability of a costly wrong class goes to 1, and is zero when that probability is zero.

Seed 000 ("punish the false positives of class 0", i.e. raise the precision of class 0) is a matrix whose first
column holds the cost ``w`` of calling a non-0 sample class 0::

    cost_matrix = [[0, 0, 0],
                   [w, 0, 0],
                   [w, 0, 0]]

Unlike the seed's hand-written loss, whose "false-positive" term ``fp · log p_0`` *rewards* a high class-0
probability on non-0 samples, this penalty pushes ``p_0`` down on exactly those samples and leaves class-0 samples
untouched.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from imbalance._validation import as_numpy
from imbalance.losses._common import (
    as_constant,
    check_probabilities,
    labels_to_one_hot,
    log_softmax_and_log1m,
    prepare,
    quote,
    softmax_logits,
    with_poison,
)


def check_cost_matrix(value: Any) -> list[list[float]]:
    """A square ``K×K`` matrix (``K >= 2``) of finite costs ``>= 0`` with a zero diagonal, as nested float lists.

    Raises a ValueError quoting the received matrix otherwise.
    """
    received = f"Received: cost_matrix={quote(value)}"
    raw = as_numpy(value)
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"`cost_matrix` must be a square K×K matrix of numbers (cost of predicting j when the truth is i). "
            f"{received}"
        ) from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ValueError(
            f"`cost_matrix` must be a square K×K matrix with K >= 2 (cost of predicting j when the truth is i); "
            f"got shape {arr.shape}. {received}"
        )
    if not np.all(np.isfinite(arr)):
        i, j = (int(k) for k in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"`cost_matrix` must be finite; entry [{i}, {j}] is {float(arr[i, j])!r}. {received}")
    if np.any(arr < 0):
        i, j = (int(k) for k in np.argwhere(arr < 0)[0])
        raise ValueError(f"`cost_matrix` entries must be >= 0; entry [{i}, {j}] is {float(arr[i, j])!r}. {received}")
    diagonal = np.diag(arr)
    if np.any(diagonal != 0):
        i = int(np.argmax(diagonal != 0))
        raise ValueError(
            f"`cost_matrix` must have a zero diagonal (a correct prediction costs nothing; the cross-entropy "
            f"already rewards it); entry [{i}, {i}] is {float(arr[i, i])!r}. {received}"
        )
    return [[float(v) for v in row] for row in arr]


def cost_sensitive_crossentropy(
    y_true: Any,
    y_pred: Any,
    cost_matrix: Sequence[Sequence[float]] | np.ndarray,
    from_logits: bool = False,
    sparse: bool = False,
) -> Any:
    """Cross-entropy plus the expected-cost penalty, per sample.

    ``loss = -sum_j y_j log p_j + sum_j c_j · (-log(1 - p_j))`` with ``c = y_true @ cost_matrix``, the row of costs
    of the true class (for one-hot labels). ``-log(1 - p_j)`` is computed exactly from the logits
    (:func:`~imbalance.losses._common.log1m_softmax`), so value and gradient stay finite for any logit, even when
    ``p_j`` rounds to 1. A zero matrix gives plain cross-entropy exactly.

    What it does to the model: the minimiser moves probability away from costly predictions. Where samples of
    classes ``i != 0`` look like class 0 and ``cost_matrix[i, 0]`` is large, the learnt ``p_0`` on them is pushed
    down, so class 0 is predicted less often and more precisely. The outputs are then no longer calibrated
    probabilities: use them as scores and pick the decision rule for your objective on validation data with
    :mod:`imbalance.thresholds`.

    Args:
        y_true: one-hot labels ``(n, K)`` (``sparse=False``) or integer ids ``(n,)``/``(n, 1)`` (``sparse=True``).
        y_pred: probabilities (``from_logits=False``) or logits ``(n, K)``; logits are recommended.
        cost_matrix: ``K×K``, ``cost_matrix[i, j]`` = cost of predicting ``j`` when the truth is ``i``; entries
            ``>= 0``, zero diagonal.
        from_logits: whether ``y_pred`` holds logits.
        sparse: whether ``y_true`` holds integer class ids.

    >>> import numpy as np
    >>> y, p = np.array([[0.0, 1.0, 0.0]]), np.array([[0.2, 0.7, 0.1]])
    >>> cce = keras.losses.categorical_crossentropy(y, p)
    >>> bool(np.allclose(cost_sensitive_crossentropy(y, p, np.zeros((3, 3))), cce))
    True

    Seed 000: a false "class 0" costs 4. On a class-1 sample the loss grows with ``p_0``:

    >>> cost = [[0, 0, 0], [4, 0, 0], [4, 0, 0]]
    >>> low = cost_sensitive_crossentropy(y, np.array([[0.1, 0.7, 0.2]]), cost)
    >>> high = cost_sensitive_crossentropy(y, np.array([[0.25, 0.7, 0.05]]), cost)
    >>> bool(high[0] > low[0])
    True
    """
    matrix = check_cost_matrix(cost_matrix)
    y_true, y_pred = prepare(y_true, y_pred, labels_as_float=not sparse)
    num_classes = y_pred.shape[-1]
    if num_classes is not None and num_classes != len(matrix):
        raise ValueError(
            f"`cost_matrix` is {len(matrix)}×{len(matrix)} but the model output has {num_classes} classes. "
            f"Received: cost_matrix={matrix}"
        )
    name = "cost_sensitive_crossentropy"
    probabilities = check_probabilities(y_pred, from_logits, name)
    logits = softmax_logits(y_pred, from_logits)
    y, labels = labels_to_one_hot(y_true, len(matrix), sparse, logits.dtype, name)
    log_p, log_1m_p = log_softmax_and_log1m(logits)
    expected_cost = ops.matmul(y, as_constant(matrix, logits.dtype))  # (..., K): cost of predicting each j
    return with_poison(-ops.sum(y * log_p + expected_cost * log_1m_p, axis=-1), labels, probabilities)


@keras.saving.register_keras_serializable(package="imbalance")
class CostSensitiveCrossentropy(keras.losses.Loss):
    """Cross-entropy with a penalty on costly confusions (see :func:`cost_sensitive_crossentropy`).

    Args:
        cost_matrix: ``K×K`` nested list or array; ``cost_matrix[i, j]`` is the cost of predicting ``j`` when the
            truth is ``i`` (``>= 0``, zero diagonal). For seed 000 (precision of class 0) set
            ``cost_matrix[i, 0] = w`` for every ``i != 0``.
        from_logits: whether ``y_pred`` holds logits (recommended: no softmax on the last layer) or probabilities.
        sparse: whether ``y_true`` holds integer class ids instead of one-hot rows.

    The trained outputs are scores, not calibrated probabilities: choose the decision with
    :mod:`imbalance.thresholds` on validation data.

    Invalid labels or probabilities raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = CostSensitiveCrossentropy([[0, 0], [3, 0]], from_logits=True, sparse=True)
    >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 4)  # log 2 + 3 · log 2
    2.7726
    """

    def __init__(
        self,
        cost_matrix: Sequence[Sequence[float]] | np.ndarray,
        from_logits: bool = False,
        sparse: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "cost_sensitive_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.cost_matrix = check_cost_matrix(cost_matrix)
        self.from_logits = bool(from_logits)
        self.sparse = bool(sparse)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return cost_sensitive_crossentropy(y_true, y_pred, self.cost_matrix, self.from_logits, self.sparse)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "cost_matrix": self.cost_matrix,
            "from_logits": self.from_logits,
            "sparse": self.sparse,
        }
