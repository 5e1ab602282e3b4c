"""The one base module of argument and input validation: every check that quotes what it received.

Every other module of :mod:`imbalance` validates at its edge with these functions, so a wrong value gets the same
kind of message everywhere: what was expected, and the value received (``Received: gamma=-1``). Nothing here
imports Keras or TensorFlow at import time: the tensor checks (:func:`check_tensor`, for the losses and the
streaming metrics) import ``keras.ops`` when they are called, and TensorFlow only on its backend.

>>> check_scalar("gamma", 2)
2.0
>>> check_scores([[0.2, 0.8]]).shape
(1, 2)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["as_numpy", "quote", "check_scalar", "check_vector", "check_counts", "check_length", "check_positive_int",
           "check_choice", "check_integer", "check_fraction", "check_scores", "where", "is_concrete", "check_tensor",
           "nan_where", "invalid_class_ids", "outside_unit_interval", "unit_interval_flag", "nan_flag",
           "sum_is_nan"]


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


# --- tensor checks inside a model: every backend, eager or compiled ----------------------------------------------
#
# A loss or a metric sees tensors, often symbolic ones (tf.function, XLA, jax.jit, torch.compile). Where the
# values are concrete (eager) a check raises a ValueError naming the value; where they are not, Python cannot look
# at them, so the check puts the error into the result instead: a batch with an invalid entry makes the result NaN
# (so the loss, or the metric, is NaN and `keras.callbacks.TerminateOnNaN` stops training), and in a TensorFlow
# graph that XLA does not compile a `tf.debugging.Assert` also fails the step with the message. XLA ignores
# asserts, and a jitted JAX function cannot raise on data: there NaN is the signal. Compiled, a check costs one
# scalar flag (a reduction or two) and one scalar `where`: the per-entry mask that the message needs is computed
# only eagerly, or inside the failing branch of the TensorFlow assert.


def is_concrete(x: Any) -> bool:
    """Whether ``x`` holds values Python can read now: an eager tensor of any backend or an array, not a
    TensorFlow graph tensor, a JAX tracer, a Keras symbolic tensor or a tensor traced by ``torch.compile``.

    >>> is_concrete([1, 2])
    True
    """
    import keras

    if isinstance(x, keras.KerasTensor):
        return False
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly() and not tf.is_symbolic_tensor(x)
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)  # torch >= 2.3
        return not (compiling() if compiling is not None else torch._dynamo.is_compiling())
    return True


def nan_where(condition: Any, dtype: Any) -> Any:
    """``NaN`` where ``condition`` holds, 0 elsewhere, in ``dtype``: added to a loss or a metric's state it makes
    them NaN there, and adds no gradient path."""
    import keras
    from keras import ops

    dtype = keras.backend.standardize_dtype(dtype)
    return ops.where(condition, np.array(np.nan, dtype), np.array(0.0, dtype))


def _in_xla_graph() -> bool:
    """Whether TensorFlow is tracing a function that XLA compiles (``jit_compile=True``), where asserts are
    dropped; False when unknown (an assert then costs a little for nothing)."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - a TensorFlow without the module
        return False
    try:
        return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
    except Exception:  # pragma: no cover - a TensorFlow whose private API moved
        return False


def _tf_assert_poison(values: Any, flag: Any, invalid: Callable[[Any], Any], message: str, hint: str,
                      dtype: str) -> Any:
    """In a TensorFlow graph: the scalar poison of :func:`check_tensor` as one ``tf.cond`` on ``flag``: 0, or NaN
    after a ``tf.debugging.Assert`` that fails with ``message``, the first invalid position and its value. The
    per-entry mask ``invalid(values)``, the position and the value are computed only then, in the true branch,
    which also decides alone: ``flag`` may over-approximate (a NaN test from one sum)."""
    import tensorflow as tf

    zero = tf.zeros((), dtype)
    rank = len(values.shape)

    def fail() -> Any:
        mask = tf.reshape(invalid(values), [-1])
        found = tf.reduce_any(mask)
        index = tf.argmax(tf.cast(mask, tf.int32), output_type=tf.int32)
        value = tf.gather(tf.reshape(values, [-1]), index)
        if rank >= 2:
            columns = tf.shape(values, out_type=tf.int32)[-1]
            position = ["row", index // columns, "column", index % columns]
        else:
            position = ["row", index]
        check = tf.debugging.Assert(tf.logical_not(found), [message + "; the first invalid entry is at"] + position
                                    + ["and holds", value] + ([hint] if hint else []), summarize=8)
        with tf.control_dependencies([check]):
            return tf.where(found, tf.constant(np.nan, dtype), zero)

    return tf.cond(flag, fail, lambda: zero)


def check_tensor(values: Any, invalid: Callable[[Any], Any], subject: str, expected: str, hint: str = "",
                 dtype: Any = "float32", flag: Callable[[Any], Any] | None = None,
                 graph_flag: Callable[[Any], Any] | None = None) -> Any:
    """Check a tensor inside a loss or a metric, on any backend. ``invalid(values)`` is the boolean mask of the bad
    entries (same shape), ``flag(values)`` a cheaper scalar "some entry is bad" (default: ``any`` of the mask),
    both written with ``keras.ops``; ``graph_flag`` a cheaper one still for the TensorFlow graph's ``tf.cond``,
    which may also fire on valid values (its branch then finds no invalid entry and returns 0).

    * Concrete values (eager, any backend): a ValueError ``"{subject} must be {expected}; row 1 holds 5 (…)"``
      when any entry is invalid; None when all are valid (nothing to add).
    * Symbolic values (``tf.function``, XLA, ``jax.jit``, ``torch.compile``): a scalar poison in ``dtype``, NaN
      when the flag holds and 0 otherwise, to add to the result (the whole batch's loss, or a metric's state). In a
      TensorFlow graph that XLA does not compile, it is one ``tf.cond`` whose NaN branch holds a
      ``tf.debugging.Assert`` that fails the step with the message, the first invalid position and its value (an
      ``InvalidArgumentError``).

    >>> import numpy as np
    >>> check_tensor(np.array([0, 5, 1]), lambda y: (y < 0) | (y > 2), "`y_true`", "class ids in [0, 2]")
    Traceback (most recent call last):
    ...
    ValueError: `y_true` must be class ids in [0, 2]; row 1 holds 5 (1 of 3 entries invalid).
    """
    import keras
    from keras import ops

    values = ops.convert_to_tensor(values)
    if is_concrete(values):
        mask = invalid(values)
        if not bool(ops.convert_to_numpy(ops.any(mask))):
            return None
        bad = np.asarray(ops.convert_to_numpy(mask), bool)
        arr = np.asarray(ops.convert_to_numpy(values))
        first = arr[tuple(np.argwhere(bad)[0])].item()
        shown = bad.reshape(bad.shape[0], -1) if bad.ndim >= 2 else bad
        examples = list(dict.fromkeys(repr(v) for v in arr[bad].ravel()[:1000].tolist()))
        others = f"; invalid values: {', '.join(examples[:5])}{', …' if len(examples) > 5 else ''}" \
            if len(examples) > 1 else ""
        count = f" ({int(bad.sum())} of {bad.size} entries invalid{others})"
        raise ValueError(f"{subject} must be {expected}; {where(shown)} holds {first!r}{count}."
                         + (f" {hint}" if hint else ""))
    if keras.backend.backend() == "tensorflow" and not isinstance(values, keras.KerasTensor) \
            and not _in_xla_graph():
        flagged = (graph_flag or flag or (lambda v: ops.any(invalid(v))))(values)
        return _tf_assert_poison(values, flagged, invalid, f"{subject} must be {expected}", hint,
                                 keras.backend.standardize_dtype(dtype))
    return nan_where(flag(values) if flag is not None else ops.any(invalid(values)), dtype)


def invalid_class_ids(num_classes: int) -> Callable[[Any], Any]:
    """The check of class ids ``0 .. num_classes - 1`` for :func:`check_tensor`: a function of the ids giving the
    boolean mask of the entries that are out of range or (float ids) not a whole number or NaN. Two element-wise
    ops for integer ids, three for floats.

    >>> import numpy as np
    >>> np.asarray(invalid_class_ids(3)(np.array([0.0, 2.0, 3.0, -1.0, 1.5, np.nan]))).tolist()
    [False, False, True, True, True, True]
    """
    import keras
    from keras import ops

    def mask(values: Any) -> Any:
        values = ops.convert_to_tensor(values)
        kind = keras.backend.standardize_dtype(values.dtype)
        if kind == "bool":
            values = ops.cast(values, "int32")
        whole = ops.floor(values) if "float" in kind else values
        return ops.not_equal(ops.clip(whole, 0, num_classes - 1), values)

    return mask


def outside_unit_interval(values: Any) -> Any:
    """The boolean mask of the entries of ``values`` outside ``[0, 1]``, NaN included (a clip and a comparison).

    >>> import numpy as np
    >>> np.asarray(outside_unit_interval(np.array([0.0, 0.5, 1.0, 1.5, -0.1, np.nan]))).tolist()
    [False, False, False, True, True, True]
    """
    from keras import ops

    values = ops.convert_to_tensor(values)
    return ops.not_equal(ops.clip(values, 0.0, 1.0), values)


def unit_interval_flag(values: Any) -> Any:
    """Whether some entry of ``values`` is outside ``[0, 1]``: two reductions (min and max), no per-entry
    temporary. NaN entries may pass (a NaN label or probability already makes a loss NaN).

    >>> import numpy as np
    >>> bool(unit_interval_flag(np.array([[0.0, 1.0], [0.5, 1.5]]))), bool(unit_interval_flag(np.array([0.0, 1.0])))
    (True, False)
    """
    from keras import ops

    return ops.logical_or(ops.min(values) < 0.0, ops.max(values) > 1.0)


def sum_is_nan(values: Any) -> Any:
    """Whether the sum of ``values`` is NaN: one reduction, true when some entry is NaN, and also when both ``+inf``
    and ``-inf`` occur (a cheap :func:`check_tensor` ``graph_flag`` for :func:`nan_flag`).

    >>> import numpy as np
    >>> bool(sum_is_nan(np.array([0.0, np.nan]))), bool(sum_is_nan(np.array([0.0, np.inf])))
    (True, False)
    """
    from keras import ops

    return ops.isnan(ops.sum(values))


def nan_flag(values: Any) -> Any:
    """Whether some entry of ``values`` is NaN.

    >>> import numpy as np
    >>> bool(nan_flag(np.array([0.0, np.nan])))
    True
    """
    from keras import ops

    return ops.any(ops.isnan(values))
