"""Binary cross-entropy with a weight on the positive term, scalar or one per label."""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

from imbalance.losses._common import (
    as_constant,
    check_binary_labels,
    check_length,
    check_probabilities,
    check_vector,
    match_rank,
    prepare,
    sigmoid_logits,
    with_poison,
)

_NAME = "weighted_binary_crossentropy"


def weighted_binary_crossentropy(
    y_true: Any, y_pred: Any, pos_weight: float | Sequence[float] = 1.0, from_logits: bool = False
) -> Any:
    """``-(w·y·log σ(z) + (1-y)·log σ(-z))`` averaged over the last axis; ``w`` is per label or scalar.

    Equals ``tf.nn.weighted_cross_entropy_with_logits`` averaged over labels, and Keras' binary cross-entropy when
    ``w = 1``. Computed with ``log_sigmoid`` of the logits, so it is finite for any logit.

    A weight ``w`` moves the loss-minimising probability threshold from 0.5 to ``1 / (1 + w)``: ``pos_weight=27``
    predicts a label as soon as its probability passes 0.036. Use weights from the data
    (:func:`imbalance.weighting.pos_weights`) and then choose thresholds on validation data.

    >>> import numpy as np
    >>> y, z = np.array([[1.0, 0.0]]), np.array([[0.5, -2.0]])
    >>> float(weighted_binary_crossentropy(y, z, pos_weight=[3.0, 1.0], from_logits=True)[0])  # doctest: +ELLIPSIS
    0.7745...
    >>> bce = keras.losses.binary_crossentropy(y, z, from_logits=True)
    >>> bool(np.allclose(weighted_binary_crossentropy(y, z, 1.0, from_logits=True), bce))
    True
    """
    y_true, y_pred = prepare(y_true, y_pred)
    y_true, y_pred = match_rank(y_true, y_pred)
    poisons = (check_binary_labels(y_true, _NAME), check_probabilities(y_pred, from_logits, _NAME))
    logits = sigmoid_logits(y_pred, from_logits)
    weight = as_constant(pos_weight, logits.dtype)
    # -w·y·log σ(z) - (1-y)·log σ(-z), with -log σ(z) = softplus(-z) and -log σ(-z) = z + softplus(-z):
    # one softplus per element, as tf.nn.weighted_cross_entropy_with_logits does.
    loss = (1.0 - y_true) * logits + (1.0 + (weight - 1.0) * y_true) * ops.softplus(-logits)
    return with_poison(ops.mean(loss, axis=-1), *poisons)


@keras.saving.register_keras_serializable(package="imbalance")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary / multi-label cross-entropy with a weight on positives (see :func:`weighted_binary_crossentropy`).

    Args:
        pos_weight: weight of the positive term, a scalar or one value per label (``>= 0``), typically
            ``imbalance.weighting.pos_weights(y_train)``.
        from_logits: whether ``y_pred`` holds logits (recommended: no sigmoid on the last layer) or probabilities.

    Invalid labels or probabilities raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = WeightedBinaryCrossentropy(pos_weight=[1.0, 4.0], from_logits=True)
    >>> round(float(loss(np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]))), 4)
    1.7329
    """

    def __init__(
        self,
        pos_weight: float | Sequence[float] = 1.0,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "weighted_binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.pos_weight = check_vector("pos_weight", pos_weight, low=0.0)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        check_length("pos_weight", self.pos_weight, y_pred.shape[-1])
        return weighted_binary_crossentropy(y_true, y_pred, self.pos_weight, self.from_logits)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pos_weight": self.pos_weight, "from_logits": self.from_logits}
