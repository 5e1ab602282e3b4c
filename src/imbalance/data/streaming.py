"""Weights and counts of a ``tf.data`` stream, computed in-graph: :func:`append_weights` appends per-sample
weights with a vectorised map, :func:`dataset_counts` counts classes with ``Dataset.reduce`` in O(classes) memory.
:mod:`imbalance.weighting` validates the inputs and calls these (``weight_dataset``, ``class_counts`` of a
dataset); this module imports nothing of the formulas, so the flow stays one-way."""

from __future__ import annotations

from typing import Any

import numpy as np

from imbalance._validation import check_choice
from imbalance.data._tf import tf

__all__ = ["append_weights", "dataset_counts"]

_LABEL_FORMATS: tuple[Any, ...] = (None, "sparse", "dense")


# --- weights ---------------------------------------------------------------------------------------------------


def _label_spec(dataset: Any, caller: str) -> tuple[tuple[Any, ...], tf.TensorSpec]:
    """The element spec of a dataset of ``(x, y)`` / ``(x, y, w)`` tuples and the spec of its labels."""
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"`{caller}` needs a tf.data.Dataset. Received an object of type {type(dataset).__name__}.")
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(
            f"`{caller}` needs a dataset of (x, y) or (x, y, sample_weight) tuples. "
            f"Received a dataset with element_spec={spec!r}"
        )
    y_spec = spec[1]
    if not isinstance(y_spec, tf.TensorSpec) or not (y_spec.dtype.is_integer or y_spec.dtype.is_floating
                                                     or y_spec.dtype.is_bool):
        raise ValueError(
            f"`{caller}` needs the labels y (second element) to be one numeric tensor. "
            f"Received a dataset with element_spec={spec!r}"
        )
    return spec, y_spec


def _decide_format(y_spec: tf.TensorSpec, num_classes: int | None, label_format: str | None, caller: str) -> str:
    """``"sparse"`` (class ids) or ``"dense"`` (one-hot / multi-hot columns) from the static shape of the labels.

    Rank 0 → sparse; last dimension 1 → sparse ids; rank 3 or more with a last dimension other than
    ``num_classes`` → sparse (masks of ids per pixel; without ``num_classes`` this is ambiguous and raises); last
    dimension equal to ``num_classes > 1`` → dense; rank 1 otherwise → sparse (a batch of ids), except when
    ``num_classes`` is unknown and the dimension is known and > 1 (an unbatched indicator row). ``label_format``
    overrides the decision.
    """
    check_choice("label_format", label_format, _LABEL_FORMATS)
    shape = y_spec.shape
    rank = shape.rank
    if label_format == "sparse":
        return "sparse"
    if label_format == "dense":
        if rank == 0:
            raise ValueError(f"label_format='dense' needs labels with a class axis. Received labels {y_spec}.")
        return "dense"
    if rank is None:
        raise ValueError(f"`{caller}` cannot tell the label format from labels of unknown rank ({y_spec}); "
                         "pass label_format='sparse' or 'dense'.")
    if rank == 0:
        return "sparse"
    last = shape[-1]
    if last == 1:
        return "sparse"
    if rank >= 3 and last != num_classes:  # masks of class ids per pixel, (B, H, W), or (H, W, K) read without K
        if num_classes is None:
            raise ValueError(
                f"`{caller}` cannot tell masks of class ids from one-hot masks by labels of shape {shape}; pass "
                "num_classes=K (a last axis of K is one-hot, any other holds ids) or label_format='sparse' / 'dense'."
            )
        return "sparse"
    if last is not None and last > 1 and (num_classes is None or last == num_classes):
        return "dense"
    if rank == 1:
        return "sparse"
    if last is None:
        raise ValueError(
            f"`{caller}` cannot tell whether labels of shape {shape} hold class ids or indicator columns; "
            "pass label_format='sparse' or 'dense'."
        )
    raise ValueError(
        f"`{caller}`: the labels have {last} columns but there are {num_classes} classes. "
        f"Received labels {y_spec}; pass label_format='sparse' if they hold class ids."
    )


def append_weights(dataset: tf.data.Dataset, table: np.ndarray, multilabel_reduce: str = "mean",
                   empty_row_weight: float = 1.0, label_format: str | None = None) -> tf.data.Dataset:
    """The map behind :func:`imbalance.weighting.weight_dataset` (which validates the weights and options and
    documents the behaviour): ``table[k]`` is the weight of class ``k``.

    >>> ds = tf.data.Dataset.from_tensor_slices(([[0.1], [0.2]], [[1, 1], [0, 1]]))
    >>> [float(w) for _, _, w in append_weights(ds, np.array([2.0, 0.5]))]
    [1.25, 0.5]
    """
    spec, y_spec = _label_spec(dataset, "weight_dataset")
    k = int(table.size)
    fmt = _decide_format(y_spec, k, label_format, "weight_dataset")
    weights = tf.constant(table, dtype=tf.float32)
    squeeze = y_spec.shape.rank is not None and y_spec.shape.rank > 0 and y_spec.shape[-1] == 1

    def per_sample(y: tf.Tensor) -> tf.Tensor:
        if fmt == "sparse":
            ids = tf.squeeze(y, axis=-1) if squeeze else y
            ids = tf.cast(ids, tf.int32)
            check = tf.debugging.assert_less(
                ids, k, message=f"weight_dataset: a class id is >= the number of weights K={k}"
            )
            check2 = tf.debugging.assert_non_negative(ids, message="weight_dataset: a class id is negative")
            with tf.control_dependencies([check, check2]):
                return tf.gather(weights, ids)
        m = tf.cast(y, tf.float32)
        positives = tf.reduce_sum(m, axis=-1)
        if multilabel_reduce == "mean":
            combined = tf.reduce_sum(m * weights, axis=-1) / tf.maximum(positives, 1.0)
        else:
            combined = tf.reduce_max(tf.where(m > 0, weights + tf.zeros_like(m), -np.inf), axis=-1)
        return tf.where(positives > 0, combined, tf.cast(empty_row_weight, tf.float32))

    def add_weight(*element: Any) -> tuple[Any, ...]:
        x, y = element[0], element[1]
        w = per_sample(y)
        if len(element) == 2:
            return x, y, w
        w0 = element[2]
        if not w0.dtype.is_floating:
            w0 = tf.cast(w0, tf.float32)
        w = tf.cast(w, w0.dtype)
        if w0.shape.rank is not None and w0.shape.rank == w.shape.rank + 1 and w0.shape[-1] == 1:
            w = tf.expand_dims(w, -1)
        return x, y, w0 * w

    return dataset.map(add_weight, num_parallel_calls=tf.data.AUTOTUNE)


# --- counts ---------------------------------------------------------------------------------------------------


def dataset_counts(dataset: tf.data.Dataset, num_classes: int | None = None,
                   label_format: str | None = None) -> np.ndarray:
    """Per-class counts (per-label positives) of a ``tf.data`` stream of ``(x, y)`` / ``(x, y, w)`` tuples,
    batched or not: see :func:`imbalance.weighting.class_counts`, which calls this for a dataset.

    Segmentation masks count pixels, one batch in memory at a time: ids ``(B, H, W)`` (give ``num_classes``: a
    last axis of another size holds ids) and one-hot / multi-hot masks ``(B, H, W, K)``.

    >>> ds = tf.data.Dataset.from_tensor_slices(([[0.0]] * 3, [2, 0, 2]))
    >>> dataset_counts(ds, num_classes=3).tolist()
    [1, 0, 2]
    >>> masks = tf.data.Dataset.from_tensor_slices((tf.zeros([4, 1]), tf.ones([4, 2, 2], tf.int32))).batch(3)
    >>> dataset_counts(masks, num_classes=3).tolist()
    [0, 16, 0]
    """
    _, y_spec = _label_spec(dataset, "class_counts")
    fmt = _decide_format(y_spec, num_classes, label_format, "class_counts")
    labels = dataset.map(lambda *element: element[1])
    if fmt == "dense":
        return _dense_counts(labels, y_spec, num_classes)
    return _sparse_counts(labels, y_spec, num_classes)


_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def _sparse_ids(y: tf.Tensor, y_spec: tf.TensorSpec) -> tuple[tf.Tensor, tf.Tensor]:
    """Flat int64 ids and the number of non-integer entries (0 for integer labels)."""
    flat = tf.reshape(y, [-1])
    if y_spec.dtype.is_floating:
        bad = tf.reduce_sum(tf.cast(tf.math.not_equal(flat, tf.math.round(flat)), tf.int64))
    else:
        bad = tf.constant(0, tf.int64)
    return tf.cast(flat, tf.int64), bad


def _sparse_counts(labels: tf.data.Dataset, y_spec: tf.TensorSpec, num_classes: int | None) -> np.ndarray:
    def range_step(state: tuple[tf.Tensor, ...], y: tf.Tensor) -> tuple[tf.Tensor, ...]:
        low, high, bad, rows = state
        ids, non_integer = _sparse_ids(y, y_spec)
        return (tf.minimum(low, tf.reduce_min(ids)), tf.maximum(high, tf.reduce_max(ids)), bad + non_integer,
                rows + tf.size(ids, out_type=tf.int64))

    start = (tf.constant(_INT64_MAX, tf.int64), tf.constant(_INT64_MIN, tf.int64), tf.constant(0, tf.int64),
             tf.constant(0, tf.int64))
    if num_classes is None:
        low, high, bad, rows = (int(v) for v in labels.reduce(start, range_step))
        _check_ids(low, high, bad, rows, None)
        k = max(high + 1, 2)
    else:
        k = num_classes

    def count_step(state: tuple[tf.Tensor, ...], y: tf.Tensor) -> tuple[tf.Tensor, ...]:
        counts, low, high, bad, rows = state
        ids, non_integer = _sparse_ids(y, y_spec)
        clipped = tf.clip_by_value(ids, 0, k - 1)  # out-of-range ids are reported from low/high after the pass
        counts = counts + tf.math.bincount(clipped, minlength=k, maxlength=k, dtype=tf.int64)
        return (counts, tf.minimum(low, tf.reduce_min(ids)), tf.maximum(high, tf.reduce_max(ids)),
                bad + non_integer, rows + tf.size(ids, out_type=tf.int64))

    counts, *rest = labels.reduce((tf.zeros([k], tf.int64), *start), count_step)
    if num_classes is not None:
        _check_ids(*(int(v) for v in rest), num_classes)
    return counts.numpy().astype(np.int64)


def _check_ids(low: int, high: int, bad: int, rows: int, num_classes: int | None) -> None:
    if bad:
        raise ValueError(f"Class ids must be whole numbers; the dataset holds {bad} non-integer label values.")
    if rows == 0:
        if num_classes is None:
            raise ValueError("The dataset holds no labels; pass `num_classes` to get zero counts.")
        return
    if low < 0:
        raise ValueError(f"Class ids must be >= 0; the dataset holds class id {low}.")
    if num_classes is not None and high >= num_classes:
        raise ValueError(
            f"Class ids must be < num_classes={num_classes}; the dataset holds class id {high}."
        )


def _dense_counts(labels: tf.data.Dataset, y_spec: tf.TensorSpec, num_classes: int | None) -> np.ndarray:
    last = y_spec.shape[-1] if y_spec.shape.rank else None
    if num_classes is not None and last is not None and last != num_classes:
        raise ValueError(
            f"Labels have {last} columns but num_classes={num_classes}; one-hot and multi-hot labels need one "
            "column per class."
        )
    k = num_classes if num_classes is not None else last
    if k is None:
        raise ValueError(f"The number of label columns is unknown ({y_spec}); pass `num_classes`.")

    def step(state: tuple[tf.Tensor, tf.Tensor], y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        counts, bad = state
        m = tf.reshape(y, [-1, k])
        not_binary = tf.logical_and(tf.not_equal(m, tf.zeros_like(m)), tf.not_equal(m, tf.ones_like(m)))
        return (counts + tf.reduce_sum(tf.cast(m, tf.int64), axis=0),
                bad + tf.reduce_sum(tf.cast(not_binary, tf.int64)))

    counts, bad = labels.reduce((tf.zeros([k], tf.int64), tf.constant(0, tf.int64)), step)
    if int(bad):
        raise ValueError(
            f"One-hot and multi-hot labels must hold only 0 and 1; the dataset holds {int(bad)} other values."
        )
    return counts.numpy().astype(np.int64)
