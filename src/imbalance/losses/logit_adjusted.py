"""Logit-adjusted softmax cross-entropy (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021).

The loss is the cross-entropy of ``softmax(z + tau · log π)`` where ``π`` is the class prior of the training data.
Adding the log-prior inside the loss means the network's raw logits ``z`` do not have to learn the prior: they
learn the *balanced* scores, whose argmax minimises the balanced error (the mean of per-class error rates).
With ``tau = 1`` this is the balanced softmax of Ren et al. (NeurIPS 2020).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from imbalance.losses._common import (
    as_constant,
    check_counts,
    check_length,
    check_scalar,
    labels_to_one_hot,
    prepare,
    with_poison,
)


def _log_prior(counts: Sequence[float]) -> list[float]:
    arr = np.asarray(counts, dtype=np.float64)
    return [float(v) for v in np.log(arr) - np.log(arr.sum())]


def logit_adjusted_loss(
    y_true: Any,
    logits: Any,
    class_counts: Sequence[float] | np.ndarray | dict[int, float],
    tau: float = 1.0,
    sparse: bool = True,
) -> Any:
    """Per-sample cross-entropy of ``softmax(logits + tau · log π)``, ``π = class_counts / sum(class_counts)``.

    Logits only: the adjustment is a shift in logit space, so the model's last layer must have no softmax. Train on
    the raw logits with this loss and predict with the raw logits: ``argmax(z)`` is the balanced decision. (If
    you need probabilities under the training prior, ``softmax(z + tau · log π)`` gives them.) Equal counts or
    ``tau = 0`` give plain cross-entropy.

    Args:
        y_true: integer class ids ``(n,)``/``(n, 1)`` (``sparse=True``, default) or one-hot ``(n, K)``.
        logits: raw scores ``(n, K)``.
        class_counts: number of training samples per class (list, array or ``{class: count}``), all ``> 0``,
            e.g. ``imbalance.weighting.class_counts(y_train)``.
        tau: strength of the adjustment, ``>= 0``; 1 is balanced softmax.
        sparse: whether ``y_true`` holds integer class ids.

    >>> import numpy as np
    >>> z = np.array([[2.0, 0.5, -1.0]])
    >>> ce = keras.losses.sparse_categorical_crossentropy(np.array([1]), z, from_logits=True)
    >>> bool(np.allclose(logit_adjusted_loss(np.array([1]), z, [5, 5, 5]), ce))  # equal counts: cross-entropy
    True
    >>> float(logit_adjusted_loss(np.array([1]), np.zeros((1, 2)), [90, 10])[0])  # -log 0.1, doctest: +ELLIPSIS
    2.3025...
    """
    counts = check_counts("class_counts", class_counts)
    tau = check_scalar("tau", tau, low=0.0)
    y_true, logits = prepare(y_true, logits)
    if logits.shape[-1] is not None:
        check_length("class_counts", counts, logits.shape[-1])
    adjusted = logits + tau * as_constant(_log_prior(counts), logits.dtype)
    y, labels = labels_to_one_hot(y_true, len(counts), sparse, logits.dtype, "logit_adjusted_loss")
    return with_poison(-ops.sum(y * ops.log_softmax(adjusted, axis=-1), axis=-1), labels)


@keras.saving.register_keras_serializable(package="imbalance")
class LogitAdjustedLoss(keras.losses.Loss):
    """Logit-adjusted cross-entropy (see :func:`logit_adjusted_loss`); ``tau=1`` is balanced softmax.

    There is no ``from_logits`` argument: the model must output raw logits (no softmax). Train on them, and predict
    with them too — ``argmax`` of the raw logits is already balanced across classes, with no post-hoc correction.
    To tune a threshold for a single class, pass ``softmax(logits)`` to :mod:`imbalance.thresholds`.

    Args:
        class_counts: training samples per class (list, array or dict), every count ``> 0``.
        tau: adjustment strength ``>= 0``.
        sparse: whether ``y_true`` holds integer class ids (default) or one-hot rows.

    Invalid labels raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = LogitAdjustedLoss(class_counts=[900, 100])
    >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 4)  # -log 0.1
    2.3026
    """

    def __init__(
        self,
        class_counts: Sequence[float] | np.ndarray | dict[int, float],
        tau: float = 1.0,
        sparse: bool = True,
        reduction: str = "sum_over_batch_size",
        name: str = "logit_adjusted_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.class_counts = check_counts("class_counts", class_counts)
        self.tau = check_scalar("tau", tau, low=0.0)
        self.sparse = bool(sparse)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return logit_adjusted_loss(y_true, y_pred, self.class_counts, self.tau, self.sparse)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_counts": self.class_counts, "tau": self.tau, "sparse": self.sparse}
