"""Focal loss (Lin et al. 2017): binary / multi-label, and multi-class with per-class ``alpha``.

The modulating factor ``(1 - p_t)^gamma`` is taken exactly from the logits — ``exp(gamma · log(1 - p_t))`` with
``log(1 - p_t)`` a log-sigmoid (binary), the logsumexp of the other classes (sparse), or a NaN-safe power of ``1 - p``
in which the most probable class gets the summed probability of the others rather than a cancelling ``1 - p``
(:func:`~imbalance.losses._common.softmax_complement`, categorical) — so value and gradient stay finite for any logit
and ``gamma = 0`` gives cross-entropy exactly.

A note on ``alpha``: RetinaNet's ``alpha=0.25`` weights the *positive* class by 0.25 — it down-weights the rare class
and pairs with RetinaNet's own sampling. On a 1 %-positive problem it works against you. Leave ``alpha=None`` or give
the rare class the larger weight (e.g. its share of negatives, ``alpha = 1 - prior``).
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

from imbalance.losses._common import (
    as_constant,
    check_binary_labels,
    check_length,
    check_probabilities,
    check_scalar,
    check_unit_interval,
    check_vector,
    labels_to_one_hot,
    log_mass_excluding,
    log_sigmoid_pair,
    match_rank,
    prepare,
    safe_pow,
    sigmoid_logits,
    softmax_complement,
    softmax_logits,
    with_poison,
)


def binary_focal_loss(
    y_true: Any,
    y_pred: Any,
    gamma: float = 2.0,
    alpha: float | Sequence[float] | None = None,
    from_logits: bool = False,
) -> Any:
    """Binary focal loss per sample, averaged over the last axis.

    ``-a_t · (1 - p_t)^gamma · log(p_t)`` with ``p_t = p`` for positives and ``1 - p`` for negatives, and
    ``a_t = alpha`` for positives, ``1 - alpha`` for negatives (no weighting when ``alpha`` is None). ``alpha``
    may be one value per label. For soft labels the modulating factor interpolates in log space.

    >>> import numpy as np
    >>> y, z = np.array([[1.0, 0.0]]), np.array([[2.0, -1.0]])
    >>> loss = binary_focal_loss(y, z, gamma=0.0, from_logits=True)
    >>> bce = keras.losses.binary_crossentropy(y, z, from_logits=True)
    >>> bool(np.allclose(loss, bce))
    True
    """
    y_true, y_pred = prepare(y_true, y_pred)
    y_true, y_pred = match_rank(y_true, y_pred)
    name = "binary_focal_loss"
    poisons = (check_binary_labels(y_true, name), check_probabilities(y_pred, from_logits, name))
    logits = sigmoid_logits(y_pred, from_logits)
    log_p, log_q = log_sigmoid_pair(logits)  # log p(positive), log p(negative)
    cross_entropy = -(y_true * log_p + (1.0 - y_true) * log_q)
    log_one_minus_p_t = y_true * log_q + (1.0 - y_true) * log_p
    loss = ops.exp(gamma * log_one_minus_p_t) * cross_entropy
    if alpha is not None:
        a = as_constant(alpha, logits.dtype)
        loss = (y_true * a + (1.0 - y_true) * (1.0 - a)) * loss
    return with_poison(ops.mean(loss, axis=-1), *poisons)


def categorical_focal_loss(
    y_true: Any,
    y_pred: Any,
    gamma: float = 2.0,
    alpha: float | Sequence[float] | None = None,
    from_logits: bool = False,
) -> Any:
    """Multi-class focal loss per sample: ``-sum_k y_k · alpha_k · (1 - p_k)^gamma · log p_k``.

    ``y_true`` is one-hot (or soft); ``alpha`` a scalar or one weight per class (e.g. the class-balanced weights of
    Cui et al. 2019, ``imbalance.weighting.class_weights(y, "effective_number")``, which makes this the
    "class-balanced focal loss").

    >>> import numpy as np
    >>> y, z = np.array([[0.0, 1.0, 0.0]]), np.array([[1.0, 3.0, -2.0]])
    >>> cce = keras.losses.categorical_crossentropy(y, z, from_logits=True)
    >>> bool(np.allclose(categorical_focal_loss(y, z, gamma=0.0, from_logits=True), cce))
    True
    """
    y_true, y_pred = prepare(y_true, y_pred)
    name = "categorical_focal_loss"
    poisons = (
        check_unit_interval(y_true, f"`y_true` of {name}", "one-hot (or soft) labels in [0, 1]",
                            "For integer class ids use SparseCategoricalFocalLoss.", y_true.dtype),
        check_probabilities(y_pred, from_logits, name),
    )
    logits = softmax_logits(y_pred, from_logits)
    log_p = ops.log_softmax(logits, axis=-1)
    loss = -y_true * log_p
    if gamma != 0:
        loss = safe_pow(softmax_complement(log_p), gamma) * loss  # (1 - p)^gamma
    if alpha is not None:
        loss = as_constant(alpha, logits.dtype) * loss
    return with_poison(ops.sum(loss, axis=-1), *poisons)


def sparse_categorical_focal_loss(
    y_true: Any,
    y_pred: Any,
    gamma: float = 2.0,
    alpha: float | Sequence[float] | None = None,
    from_logits: bool = False,
) -> Any:
    """:func:`categorical_focal_loss` with integer class ids ``(n,)`` or ``(n, 1)``.

    >>> import numpy as np
    >>> z = np.array([[1.0, 3.0, -2.0]])
    >>> a = sparse_categorical_focal_loss(np.array([1]), z, from_logits=True)
    >>> b = categorical_focal_loss(np.array([[0.0, 1.0, 0.0]]), z, from_logits=True)
    >>> bool(np.allclose(a, b))
    True
    """
    y_true, y_pred = prepare(y_true, y_pred, labels_as_float=False)
    name = "sparse_categorical_focal_loss"
    probabilities = check_probabilities(y_pred, from_logits, name)
    logits = softmax_logits(y_pred, from_logits)
    num_classes = logits.shape[-1]
    is_true, labels = labels_to_one_hot(y_true, num_classes, sparse=True, dtype="bool", name=name,
                                        loss_dtype=logits.dtype)
    y = ops.cast(is_true, logits.dtype)
    # Only the true class counts: log p_t by selection, log(1 - p_t) = log sum_{k != t} p_k, the logsumexp of the
    # other classes' log p (shifted by its own max, without gradient as the shift cancels): no cancellation, and no
    # underflow however far the true class leads.
    log_p = ops.log_softmax(logits, axis=-1)
    loss = -ops.sum(y * log_p, axis=-1)
    if gamma != 0 and num_classes != 1:  # a single class has p_t = 1: the loss is 0 whatever gamma
        log_1m_p_t = log_mass_excluding(log_p, is_true, keepdims=False)
        loss = ops.exp(gamma * log_1m_p_t) * loss
    if alpha is not None:
        loss = ops.sum(y * as_constant(alpha, logits.dtype), axis=-1) * loss
    return with_poison(loss, labels, probabilities)


class _FocalBase(keras.losses.Loss):
    _alpha_high: float | None = None

    def __init__(self, gamma, alpha, from_logits, reduction, name, dtype):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.gamma = check_scalar("gamma", gamma, low=0.0)
        self.alpha = None if alpha is None else check_vector("alpha", alpha, low=0.0, high=self._alpha_high)
        self.from_logits = bool(from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="imbalance")
class BinaryFocalLoss(_FocalBase):
    """Binary / multi-label focal loss (see :func:`binary_focal_loss`).

    Args:
        gamma: focusing parameter ``>= 0``; 0 gives binary cross-entropy.
        alpha: weight of positives in ``[0, 1]`` (negatives get ``1 - alpha``), a scalar or one per label;
            None (default) for no weighting. Not RetinaNet's 0.25 on a rare positive class (see the module doc).
        from_logits: whether ``y_pred`` holds logits or probabilities.

    With ``alpha`` set, this equals Keras' ``BinaryFocalCrossentropy(apply_class_balancing=True)``; the difference
    is that it stays finite at extreme logits and takes per-label ``alpha``.

    Invalid labels or probabilities raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = BinaryFocalLoss(gamma=2.0, from_logits=True)
    >>> round(float(loss(np.array([[1.0]]), np.array([[0.0]]))), 4)
    0.1733
    """

    _alpha_high = 1.0

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_focal_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(gamma, alpha, from_logits, reduction, name, dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        check_length("alpha", self.alpha, y_pred.shape[-1])
        return binary_focal_loss(y_true, y_pred, self.gamma, self.alpha, self.from_logits)


@keras.saving.register_keras_serializable(package="imbalance")
class CategoricalFocalLoss(_FocalBase):
    """Multi-class focal loss on one-hot labels (see :func:`categorical_focal_loss`).

    Args:
        gamma: focusing parameter ``>= 0``; 0 (with ``alpha=None``) gives categorical cross-entropy.
        alpha: per-class weights ``>= 0`` (a list of K values or a dict ``{class: weight}``), a scalar, or None.
        from_logits: whether ``y_pred`` holds logits or probabilities.

    Invalid labels or probabilities raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = CategoricalFocalLoss(gamma=2.0, alpha=[0.5, 2.0], from_logits=True)
    >>> round(float(loss(np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]))), 4)
    0.3466
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | dict[int, float] | None = None,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_focal_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(gamma, alpha, from_logits, reduction, name, dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        check_length("alpha", self.alpha, y_pred.shape[-1])
        return categorical_focal_loss(y_true, y_pred, self.gamma, self.alpha, self.from_logits)


@keras.saving.register_keras_serializable(package="imbalance")
class SparseCategoricalFocalLoss(_FocalBase):
    """Multi-class focal loss on integer class ids (see :func:`sparse_categorical_focal_loss`).

    Invalid labels or probabilities raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = SparseCategoricalFocalLoss(gamma=0.0, from_logits=True)
    >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 4)  # log 2
    0.6931
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | dict[int, float] | None = None,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "sparse_categorical_focal_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(gamma, alpha, from_logits, reduction, name, dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        check_length("alpha", self.alpha, y_pred.shape[-1])
        return sparse_categorical_focal_loss(y_true, y_pred, self.gamma, self.alpha, self.from_logits)
