"""The one home of the numpy link functions: sigmoid and softmax of logits, stable at any value (no Keras).

>>> import numpy as np
>>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
[0.0, 0.5, 1.0]
>>> softmax(np.array([[1000.0, 0.0]])).round(6).tolist()
[[1.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sigmoid", "softmax"]


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
