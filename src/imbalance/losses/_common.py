"""Shared pieces of every loss: dtype handling, probability → logit conversion, stable log-space helpers and
config-friendly storage of per-class parameters. Argument validation lives in :mod:`imbalance._validation` (the
names are imported here too, so the losses keep one import line)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from imbalance._validation import (  # noqa: F401
    check_counts,
    check_length,
    check_scalar,
    check_tensor,
    check_vector,
    invalid_class_ids,
    outside_unit_interval,
    quote,
    unit_interval_flag,
)

EPSILON = 1e-7


def compute_dtype(x: Any) -> str:
    """float32 unless the input is float64: half precision inputs are computed in float32 for stability."""
    dtype = getattr(x, "dtype", None)
    name = getattr(dtype, "name", str(dtype)) if dtype is not None else "float32"
    return "float64" if "float64" in str(name) else "float32"


def as_float(x: Any, dtype: str) -> Any:
    return ops.cast(ops.convert_to_tensor(x), dtype)


def prepare(y_true: Any, y_pred: Any, labels_as_float: bool = True) -> tuple[Any, Any]:
    """Cast both to a common float dtype (at least float32); a variable is read into a tensor. With
    ``labels_as_float=False`` (integer class ids) the labels are only converted to a tensor."""
    if hasattr(y_pred, "read_value"):  # tf.Variable: keras.ops would pass it through and some ops reject it
        y_pred = y_pred.read_value()
    y_pred = ops.convert_to_tensor(y_pred)
    dtype = compute_dtype(y_pred)
    y_true = as_float(y_true, dtype) if labels_as_float else ops.convert_to_tensor(y_true)
    return y_true, ops.cast(y_pred, dtype)


def match_rank(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Give ``y_true`` the rank of ``y_pred`` when they differ by a trailing axis of size 1 (binary ``(n,)`` labels
    against ``(n, 1)`` outputs, or the reverse), as Keras' built-in losses do."""
    t_rank, p_rank = len(y_true.shape), len(y_pred.shape)
    if t_rank == p_rank - 1 and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    elif t_rank == p_rank + 1 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    return y_true, y_pred


def labels_to_one_hot(y_true: Any, num_classes: int | None, sparse: bool, dtype: str, name: str = "the loss",
                      loss_dtype: str | None = None) -> tuple[Any, Any]:
    """One-hot (or soft) labels of shape ``(..., K)`` from ids ``(...,)``/``(..., 1)`` (``sparse=True``) or from
    one-hot labels (``sparse=False``), with a clear error when the static shapes say the other format was given,
    and the labels' check (:func:`check_class_ids` or :func:`check_unit_interval`): ``(labels, poison)``, the
    poison being None (eager, valid) or the batch's scalar NaN poison in ``loss_dtype`` (default ``dtype``), to add
    to the per-row loss (``name`` names the loss in the messages)."""
    loss_dtype = loss_dtype or dtype
    y_true = ops.convert_to_tensor(y_true)
    last = y_true.shape[-1] if len(y_true.shape) else None
    if sparse:
        if num_classes is None:
            raise ValueError("Sparse labels need a model output whose last axis (the classes) has a known size.")
        if len(y_true.shape) >= 2 and last == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        elif len(y_true.shape) >= 2 and last is not None and last == num_classes:
            raise ValueError(
                f"`sparse=True` expects integer class ids of shape (n,) or (n, 1), but the labels have shape "
                f"{tuple(y_true.shape)} (one-hot?). Pass sparse=False for one-hot labels."
            )
        poison = check_class_ids(y_true, num_classes, name, loss_dtype)
        # the type ops.one_hot casts to; JAX (without x64) has no int64
        ids = ops.cast(y_true, "int32" if keras.backend.backend() == "jax" else "int64")
        return ops.one_hot(ids, num_classes, dtype=dtype), poison
    if num_classes is not None and last is not None and last != num_classes:
        raise ValueError(
            f"`sparse=False` expects one-hot labels with {num_classes} columns, but the labels have shape "
            f"{tuple(y_true.shape)}. Pass sparse=True for integer class ids."
        )
    y = ops.cast(y_true, dtype)
    return y, check_unit_interval(y, f"`y_true` of {name}", "one-hot (or soft) labels in [0, 1]",
                                  "For integer class ids pass sparse=True.", loss_dtype)


# --- input checks: a clear error in eager mode, NaN (and a TensorFlow graph assert) when compiled --------------


def check_class_ids(ids: Any, num_classes: int, name: str, dtype: str = "float32") -> Any:
    """Check class ids ``(n,)`` against ``[0, num_classes - 1]`` (float ids must also be whole numbers; NaN is
    invalid): a ValueError in eager mode, else the batch's scalar NaN poison (see
    :func:`imbalance._validation.check_tensor`).

    >>> import numpy as np
    >>> check_class_ids(np.array([0, 2]), 3, "my_loss") is None
    True
    >>> check_class_ids(np.array([0, 3]), 3, "my_loss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `y_true` of my_loss must be integer class ids in [0, 2] (...); row 1 holds 3 (1 of 2 entries invalid)...
    """
    return check_tensor(ids, invalid_class_ids(num_classes), f"`y_true` of {name}",
                        f"integer class ids in [0, {num_classes - 1}] (the model output has {num_classes} classes)",
                        "Class ids count from 0, one model output per class.", dtype)


def check_unit_interval(values: Any, subject: str, expected: str, hint: str, dtype: str) -> Any:
    """Check that every entry of ``values`` (a float tensor) is in ``[0, 1]``: a ValueError in eager mode (NaN
    included), else the batch's scalar NaN poison from two reductions, min and max (a NaN entry needs no flag: it
    makes the loss NaN by itself). See :func:`imbalance._validation.check_tensor`."""
    return check_tensor(values, outside_unit_interval, subject, expected, hint, dtype, flag=unit_interval_flag)


def check_binary_labels(y_true: Any, name: str) -> Any:
    """:func:`check_unit_interval` of binary / multi-label targets (float, as :func:`prepare` gives them)."""
    return check_unit_interval(y_true, f"`y_true` of {name}", "0/1 (or soft) labels in [0, 1]",
                               "Class ids of a multi-class problem need a multi-class loss.", y_true.dtype)


def check_probabilities(y_pred: Any, from_logits: bool, name: str) -> Any:
    """None for logits; for probabilities (``from_logits=False``) :func:`check_unit_interval` of ``y_pred``."""
    if from_logits:
        return None
    return check_unit_interval(y_pred, f"`y_pred` of {name}", "probabilities in [0, 1] (from_logits=False)",
                               "Pass from_logits=True if the model outputs logits (no sigmoid or softmax on its "
                               "last layer).", y_pred.dtype)


def with_poison(loss: Any, *poisons: Any) -> Any:
    """``loss`` (per row) plus every poison that is not None: a scalar, NaN when its check failed on a compiled
    batch, which makes every row's loss NaN and adds no gradient path."""
    for poison in poisons:
        if poison is not None:
            loss = loss + poison
    return loss


def sigmoid_logits(y_pred: Any, from_logits: bool) -> Any:
    """Logits of a sigmoid output: ``y_pred`` itself, or ``log(p) - log(1-p)`` of clipped probabilities."""
    if from_logits:
        return y_pred
    p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return ops.log(p) - ops.log1p(-p)


def log_sigmoid_pair(logits: Any) -> tuple[Any, Any]:
    """``(log sigmoid(z), log sigmoid(-z))``, i.e. ``log p`` and ``log(1 - p)``, exact for any finite logit.

    ``log sigmoid(±z) = min(±z, 0) - log1p(exp(-|z|))``: one ``exp`` and one ``log1p`` for both (TensorFlow's CPU
    ``softplus`` kernel, behind ``log_sigmoid``, costs several times that). ``min(z, 0)`` and ``-|z|`` are built from
    the one ``relu(z)``, so that automatic differentiation takes matching one-sided derivatives at ``z = 0`` and the
    gradients are ``sigmoid(∓z)`` there too.

    >>> import numpy as np
    >>> z = np.array([-1e4, -30.0, -1.0, 0.0, 2.0, 40.0, 1e4])
    >>> log_p, log_q = log_sigmoid_pair(z)
    >>> bool(np.allclose(log_p, -np.logaddexp(0, -z), rtol=1e-12))
    True
    >>> bool(np.allclose(log_q, -np.logaddexp(0, z), rtol=1e-12))
    True
    """
    relu = ops.relu(logits)
    min_zero = logits - relu  # min(z, 0)
    log1p_exp = ops.log1p(ops.exp(min_zero - relu))  # log(1 + exp(-|z|))
    return min_zero - log1p_exp, -relu - log1p_exp


def softmax_logits(y_pred: Any, from_logits: bool) -> Any:
    """Logits of a softmax output: ``y_pred`` itself, or ``log(p)`` of clipped probabilities (``log_softmax`` of
    these renormalises rows that do not sum exactly to 1, as Keras' cross-entropy does)."""
    if from_logits:
        return y_pred
    return ops.log(ops.clip(y_pred, EPSILON, 1.0))


def minus_inf_where(condition: Any, dtype: Any) -> Any:
    """``-inf`` where ``condition`` holds, 0 elsewhere. Added to log-probabilities it drops those entries from a
    logsumexp or an ``exp``; unlike ``where(condition, -inf, x)`` it puts no select in the backward pass."""
    dtype = keras.backend.standardize_dtype(dtype)
    return ops.where(condition, np.array(-np.inf, dtype), np.array(0.0, dtype))


# A class whose log-probability exceeds this (p > e^-0.5 ≈ 0.61 > 1/2, with room for rounding) is the row's unique
# argmax: two classes cannot both pass it, nor can tied maxima (p <= 1/2 each).
_DOMINANT_LOG_P = -0.5


def log_softmax_and_log1m(logits: Any, axis: int = -1) -> tuple[Any, Any]:
    """``(log softmax(z), log(1 - softmax(z)))`` for every class, exact and with finite gradients for any finite
    logits.

    ``log softmax`` is the fused kernel. A class with ``p <= e^-0.5`` (every class but at most one per row) gets
    ``log1p(-p)``, exact there. The one class with ``p > e^-0.5`` (the row's unique argmax: tied maxima have
    ``p <= 1/2``) gets ``log(1 - p) = log sum_{k != j} p_k``, the softmax mass of the other classes — a logsumexp of
    their ``log p``, shifted by its own max, so that it neither cancels nor underflows however far the class leads.
    """
    log_p = ops.log_softmax(logits, axis=axis)
    if log_p.shape[axis] == 1:  # a single class: p = 1
        return log_p, log_p - np.inf
    dominant = log_p > _DOMINANT_LOG_P
    log_rest = log_mass_excluding(log_p, dominant, axis)
    dominant = ops.cast(dominant, log_p.dtype)
    # -p off the dominant class, 0 on it (where log1p(0) = 0 leaves log_rest; log_rest is finite elsewhere). A mask
    # multiplication rather than a negation: TensorFlow fuses a chain exp -> neg -> log1p into one slow kernel.
    minus_p_others = ops.exp(log_p) * (dominant - 1.0)
    return log_p, ops.log1p(minus_p_others) + dominant * log_rest


def log_mass_excluding(log_p: Any, excluded: Any, axis: int = -1, keepdims: bool = True) -> Any:
    """``log sum_{k not excluded} p_k`` from ``log p = log_softmax(z)`` and a boolean mask: a
    logsumexp of the kept classes' ``log p``, shifted by their own max, so that it neither cancels nor underflows
    however far an excluded class leads. The shift does not change the logsumexp, so its gradient is 0: stopping it
    only saves the max's backward ops.

    >>> import numpy as np
    >>> log_p = np.log([[0.7, 0.2, 0.1]])
    >>> bool(np.allclose(log_mass_excluding(log_p, np.array([[True, False, False]])), np.log(0.3)))
    True
    """
    kept = log_p + minus_inf_where(excluded, log_p.dtype)  # -inf at the excluded classes
    shift = ops.stop_gradient(ops.max(kept, axis=axis, keepdims=True))
    log_sum = ops.log(ops.sum(ops.exp(kept - shift), axis=axis, keepdims=keepdims))
    return log_sum + (shift if keepdims else ops.squeeze(shift, axis=axis))


def softmax_complement(log_p: Any, axis: int = -1) -> Any:
    """``1 - softmax`` for every class from ``log p = log_softmax(z)``, without cancellation.

    A class with ``p <= e^-0.5`` gets ``1 - p`` (exact to rounding there); the row's dominant class (``p > e^-0.5``)
    gets the sum of the other classes' probabilities instead, as accurate as they are. It is 0 only where every other
    probability underflows (the class leads by more than ~87 in float32), i.e. where ``1 - p`` is itself below the
    smallest normal float: a focal term ``(1 - p)^gamma · log p`` (``gamma > 0``; ``log p`` rounds to 0 there too)
    then has value and gradient below it as well. :func:`log_softmax_and_log1m` is exact at any distance, at more
    cost.

    >>> import numpy as np
    >>> log_p = np.log([[0.999999, 9e-7, 1e-7]])
    >>> bool(np.allclose(softmax_complement(log_p), [[1e-6, 1 - 9e-7, 1 - 1e-7]], rtol=1e-9))
    True
    """
    dominant = ops.cast(log_p > _DOMINANT_LOG_P, log_p.dtype)  # 0/1 masks: multiplications, cheaper than selects
    others = 1.0 - dominant
    p_others = ops.exp(log_p) * others
    rest = ops.sum(p_others, axis=axis, keepdims=True)
    return (others - p_others) + dominant * rest  # 1 - p off the dominant class (exact: others is 0 or 1), rest on it


def log1m_softmax(logits: Any, axis: int = -1) -> Any:
    """``log(1 - softmax(logits))`` for every class (see :func:`log_softmax_and_log1m`).

    >>> import numpy as np
    >>> z = np.array([[40.0, 0.0, -3.0]])
    >>> bool(np.allclose(log1m_softmax(z), np.log([np.exp(-40) + np.exp(-43), 1.0, 1.0]), rtol=1e-6))
    True
    """
    return log_softmax_and_log1m(logits, axis)[1]


def safe_pow(base: Any, exponent: float) -> Any:
    """``base ** exponent`` for ``base >= 0`` whose gradient is finite (not NaN) at ``base == 0``, for any exponent
    >= 0: there it is the derivative ``exponent · base^(exponent - 1)`` (1 for exponent 1, 0 above), and 0 for
    ``0 < exponent < 1``, where the derivative is infinite.

    A small integer exponent is a chain of multiplications (squarings), and another exponent ``>= 1`` one ``power``:
    their gradient is finite at 0 as it stands. Only ``0 < exponent < 1`` needs ``exp(exponent · log(base))`` with
    the zeros kept out of the log.

    >>> import numpy as np
    >>> exponents = [0, 1, 2, 3, 4, 5, 2.5, 0.5]
    >>> bool(np.allclose([safe_pow(np.array(0.7), e) for e in exponents], [0.7**e for e in exponents], rtol=1e-12))
    True
    """
    if exponent == 0:
        return ops.ones_like(base)
    if exponent == int(exponent) and exponent <= _MAX_MULTIPLIED_EXPONENT:
        return _integer_power(base, int(exponent))
    if exponent >= 1:
        return ops.power(base, exponent)
    positive = base > 0
    log_base = ops.log(ops.where(positive, base, ops.ones_like(base)))
    return ops.where(positive, ops.exp(exponent * log_base), ops.zeros_like(base))


_MAX_MULTIPLIED_EXPONENT = 16


def _integer_power(base: Any, n: int) -> Any:
    """``base ** n`` for an integer ``n >= 1`` by repeated squaring (at most ``2·log2(n)`` multiplications)."""
    result = None
    while True:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if not n:
            return result
        base = ops.square(base)


# --- argument validation -------------------------------------------------------------------------------------


def as_constant(value: float | Sequence[float] | None, dtype: str) -> Any:
    if value is None:
        return None
    return ops.convert_to_tensor(np.asarray(value, dtype=keras.backend.standardize_dtype(dtype)))
