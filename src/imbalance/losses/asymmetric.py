"""Asymmetric loss (Ridnik et al. 2021) for multi-label problems with many easy negatives."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from imbalance.losses._common import (
    check_binary_labels,
    check_probabilities,
    check_scalar,
    log_sigmoid_pair,
    match_rank,
    prepare,
    safe_pow,
    sigmoid_logits,
    with_poison,
)

_NAME = "asymmetric_loss"


def asymmetric_loss(
    y_true: Any,
    y_pred: Any,
    gamma_neg: float = 4.0,
    gamma_pos: float = 1.0,
    clip: float = 0.05,
    from_logits: bool = False,
) -> Any:
    """Asymmetric loss per sample, averaged over the last axis (labels).

    With ``p = sigmoid(z)`` and the shifted probability ``p_m = max(p - clip, 0)``::

        L = -y · (1 - p)^gamma_pos · log(p) - (1 - y) · p_m^gamma_neg · log(1 - p_m)

    Negatives with ``p < clip`` are discarded entirely (hard thresholding of easy negatives), and the remaining ones
    are focused harder than positives (``gamma_neg > gamma_pos``). With ``gamma_neg = gamma_pos = 0`` and
    ``clip = 0`` it is binary cross-entropy. ``log(p)`` is ``log_sigmoid(z)`` and ``log(1 - p_m)`` is
    ``log(min(sigmoid(-z) + clip, 1))``, finite for any logit.

    >>> import numpy as np
    >>> y, z = np.array([[1.0, 0.0, 0.0]]), np.array([[0.3, -1.0, 2.0]])
    >>> bce = keras.losses.binary_crossentropy(y, z, from_logits=True)
    >>> bool(np.allclose(asymmetric_loss(y, z, 0.0, 0.0, 0.0, from_logits=True), bce))
    True
    """
    y_true, y_pred = prepare(y_true, y_pred)
    y_true, y_pred = match_rank(y_true, y_pred)
    poisons = (check_binary_labels(y_true, _NAME), check_probabilities(y_pred, from_logits, _NAME))
    logits = sigmoid_logits(y_pred, from_logits)
    log_p, log_q = log_sigmoid_pair(logits)  # log p, log(1 - p)
    whole_gamma_pos = gamma_pos != 0 and gamma_pos == int(gamma_pos)
    # 1 - p = sigmoid(-z), from the log already at hand, when the clip or a whole gamma_pos uses it
    q = ops.exp(log_q) if clip > 0 or whole_gamma_pos else None
    if clip > 0 and gamma_neg == 0:
        log_one_minus_pm = ops.log(ops.minimum(q + clip, 1.0))
        p_m = None  # p_m^0 = 1
    elif clip > 0:
        # 1 - p_m = min(q + clip, 1). Where q + clip >= 1, p_m = 0 and p_m^γ- = 0 (value and gradient) whatever the
        # finite log beside it: log(q + clip) needs no clamp, and relu is cheaper than a minimum in the backward pass.
        one_minus_pm = q + clip
        log_one_minus_pm = ops.log(one_minus_pm)
        p_m = ops.relu(1.0 - one_minus_pm)
    else:
        log_one_minus_pm = log_q
        p_m = ops.exp(log_p)
    if gamma_pos == 0:
        positive = log_p
    elif whole_gamma_pos:  # (1-p)^γ+ · log p as q, q², …
        positive = safe_pow(q, gamma_pos) * log_p
    else:
        positive = ops.exp(gamma_pos * log_q) * log_p
    negative = log_one_minus_pm if p_m is None else safe_pow(p_m, gamma_neg) * log_one_minus_pm
    loss = -(y_true * positive + (1.0 - y_true) * negative)
    return with_poison(ops.mean(loss, axis=-1), *poisons)


@keras.saving.register_keras_serializable(package="imbalance")
class AsymmetricLoss(keras.losses.Loss):
    """Multi-label asymmetric loss (see :func:`asymmetric_loss`).

    Args:
        gamma_neg: focusing of negatives, ``>= 0`` (paper default 4).
        gamma_pos: focusing of positives, ``>= 0`` (paper default 1; 0 is common too).
        clip: probability margin ``m`` in ``[0, 1)`` below which negatives are ignored (paper default 0.05).
        from_logits: whether ``y_pred`` holds logits or probabilities.

    Invalid labels or probabilities raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = AsymmetricLoss(from_logits=True)
    >>> round(float(loss(np.array([[1.0, 0.0]]), np.array([[0.0, -5.0]]))), 4)  # the easy negative costs 0
    0.1733
    """

    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float = 0.05,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "asymmetric_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.gamma_neg = check_scalar("gamma_neg", gamma_neg, low=0.0)
        self.gamma_pos = check_scalar("gamma_pos", gamma_pos, low=0.0)
        self.clip = check_scalar("clip", clip, low=0.0, high=1.0, high_inclusive=False)
        self.from_logits = bool(from_logits)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return asymmetric_loss(y_true, y_pred, self.gamma_neg, self.gamma_pos, self.clip, self.from_logits)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "gamma_neg": self.gamma_neg,
            "gamma_pos": self.gamma_pos,
            "clip": self.clip,
            "from_logits": self.from_logits,
        }
