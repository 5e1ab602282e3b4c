"""The one base module of argument and input validation: every check that quotes what it received.

Every other module of :mod:`imbalance` validates at its edge with these functions, so a wrong value gets the same
kind of message everywhere: what was expected, and the value received (``Received: gamma=-1``). Nothing here
imports Keras or TensorFlow.

>>> check_scalar("gamma", 2)
2.0
>>> check_scores([[0.2, 0.8]]).shape
(1, 2)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["as_numpy", "quote", "check_scalar", "check_vector", "check_counts", "check_length", "check_positive_int",
           "check_choice", "check_integer", "check_fraction", "check_scores", "where"]


def as_numpy(value: Any) -> Any:
    """A tensor of any Keras backend as a numpy array; anything else unchanged.

    TensorFlow eager tensors and Keras variables via ``.numpy()``; PyTorch tensors detached and moved to the CPU
    first (``.numpy()`` refuses a tensor that requires grad, as a model output does); JAX arrays and array-likes go
    through ``np.asarray`` later, unchanged here.

    >>> as_numpy([1, 2])
    [1, 2]
    """
    if hasattr(value, "detach") and hasattr(value, "cpu") and callable(value.detach):  # torch.Tensor
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


def quote(value: Any) -> str:
    """The received value as a short Python literal for an error message (arrays and tensors as nested lists)."""
    value = as_numpy(value)
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    return repr(value)


def check_scalar(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """A finite float within bounds, or a ValueError quoting the received value."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number. Received: {name}={quote(value)}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={quote(value)}")
    if low is not None and (number < low or (number == low and not low_inclusive)):
        sign = ">=" if low_inclusive else ">"
        raise ValueError(f"`{name}` must be {sign} {low}. Received: {name}={quote(value)}")
    if high is not None and (number > high or (number == high and not high_inclusive)):
        sign = "<=" if high_inclusive else "<"
        raise ValueError(f"`{name}` must be {sign} {high}. Received: {name}={quote(value)}")
    return number


def check_vector(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = True, allow_scalar: bool = True) -> float | list[float]:
    """A scalar or a 1-D list of finite floats within bounds, returned in a JSON-friendly form (float or list).

    Dicts ``{class_id: value}`` are accepted and turned into a dense list (every id from 0 to max must appear).
    """
    if isinstance(value, dict):
        keys = sorted(int(k) for k in value)
        if keys != list(range(len(keys))):
            raise ValueError(
                f"`{name}` given as a dict must have keys 0..K-1 without gaps. Received keys: {sorted(value)}"
            )
        value = [value[k] if k in value else value[str(k)] for k in keys]
    value = as_numpy(value)
    arr = np.asarray(value, dtype=object)
    if arr.ndim == 0:
        if not allow_scalar:
            raise ValueError(f"`{name}` must be a 1-D sequence. Received: {name}={quote(value)}")
        return check_scalar(name, value, low, high, low_inclusive)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"`{name}` must be a scalar or a non-empty 1-D sequence. Received: {name}={quote(value)}")
    try:
        floats = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must hold numbers. Received: {name}={quote(value)}") from None
    bad = ~np.isfinite(floats)
    if low is not None:
        bad |= floats < low if low_inclusive else floats <= low
    if high is not None:
        bad |= floats > high
    if np.any(bad):
        i = int(np.argmax(bad))
        bounds = []
        if low is not None:
            bounds.append(f"{'>=' if low_inclusive else '>'} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        expected = "finite" + (" and " + " and ".join(bounds) if bounds else "")
        raise ValueError(
            f"`{name}` must be {expected}; entry {i} is {float(floats[i])!r}. Received: {name}={quote(value)}"
        )
    return [float(v) for v in floats]


def check_counts(name: str, value: Any) -> list[float]:
    """Per-class counts: a 1-D sequence of at least 2 positive numbers (a zero count names its class)."""
    if isinstance(value, dict):
        value = check_vector(name, value, allow_scalar=False)
    arr = np.asarray(as_numpy(value), dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(
            f"`{name}` must be a 1-D sequence with one count per class (at least 2). Received: {name}={quote(value)}"
        )
    if not np.all(np.isfinite(arr)):
        i = int(np.argmax(~np.isfinite(arr)))
        raise ValueError(f"`{name}` must be finite; class {i} has {float(arr[i])!r}. Received: {name}={quote(value)}")
    if np.any(arr <= 0):
        i = int(np.argmax(arr <= 0))
        raise ValueError(
            f"`{name}` must be > 0 for every class; class {i} has count {arr[i]:g} (a class absent from the "
            f"training data has no prior). Received: {name}={quote(value)}"
        )
    return [float(v) for v in arr]


def check_length(name: str, value: float | Sequence[float] | None, num: int) -> None:
    """Raise when a per-class parameter has a length different from the number of classes of the output."""
    if isinstance(value, (list, tuple)) and len(value) != num:
        raise ValueError(
            f"`{name}` has {len(value)} entries but the model output has {num} classes/labels. Received: {name}={list(value)}"
        )


def check_positive_int(name: str, value: Any) -> int | None:
    """``value`` as an int when it is a positive integer, None when it is None; else a ValueError quoting it.

    >>> check_positive_int("num_classes", 3)
    3
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer or None. Received: {name}={value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` when it is one of ``choices`` (compared by identity, strings by value), else a ValueError listing
    them.

    >>> check_choice("reduce", "max", ("mean", "max"))
    'max'
    """
    if not any(value is c or (isinstance(value, str) and value == c) for c in choices):
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
    return value


def check_integer(name: str, value: Any, low: int) -> int:
    """An integer >= ``low`` (``True`` refused), or a ValueError naming the argument and quoting the value.

    >>> check_integer("folds", 3, 2)
    3
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}")
    return int(value)


def check_fraction(name: str, value: Any) -> float:
    """A number strictly between 0 and 1 (a split size), or a ValueError quoting it.

    >>> check_fraction("test_size", 0.25)
    0.25
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not 0 < number < 1:
        raise ValueError(f"`{name}` must be in (0, 1). Received: {name}={value!r}")
    return number


def where(mask: np.ndarray) -> str:
    """``"row 4"`` or ``"row 4, column 2"``: the first True entry of a 1-D or 2-D mask, for an error message."""
    index = np.argwhere(mask)[0]
    return f"row {int(index[0])}" + (f", column {int(index[1])}" if len(index) > 1 else "")


def check_scores(scores: Any, name: str = "scores", probabilities: bool = False) -> np.ndarray:
    """Model scores as a float array of shape ``(n,)`` or ``(n, K)`` with ``n > 0``, every entry finite (and in
    ``[0, 1]`` when ``probabilities``); otherwise a ValueError that names the first bad row and column.

    Tensors of any backend (:func:`as_numpy`) and booleans are accepted; a dict (a model with several outputs) is
    refused with the keys it has.

    >>> check_scores([0.1, float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: `scores` must be finite; row 1 holds nan. Remove or impute those rows (NaN scores usually mean the model diverged).
    """
    scores = as_numpy(scores)
    if isinstance(scores, dict):
        raise ValueError(f"`{name}` must be one array; received a dict with keys {sorted(scores)} (a model with "
                         "several outputs? pass the scores output).")
    try:
        arr = np.asarray(scores)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a numeric array. Received: {name}={quote(scores)[:200]}") from None
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a numeric array. Received: {name}={quote(scores)[:200]}") from None
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"`{name}` must be a numeric array. Received values of type {arr.dtype} such as "
                         f"{arr.ravel()[:1].tolist()!r}.")
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"`{name}` must have shape (n,) or (n, 1) for one sigmoid output, or (n, K) for K "
                         f"classes/labels, with n > 0. Received shape {arr.shape}.")
    finite = np.isfinite(arr)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"`{name}` must be finite; {where(~finite)} holds {arr[index].item()!r}. Remove or impute "
                         "those rows (NaN scores usually mean the model diverged).")
    if probabilities:
        outside = (arr < 0.0) | (arr > 1.0)
        if np.any(outside):
            index = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(f"`{name}` must be probabilities in [0, 1] when from_logits=False; {where(outside)} "
                             f"holds {arr[index].item()!r}. Pass from_logits=True for logits (a last layer without "
                             "sigmoid/softmax).")
    return arr
