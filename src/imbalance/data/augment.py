"""Class-conditional augmentation inside ``tf.data``, graph-safe.

Seed 000 augmented only class-0 images with ``if tf.reduce_any(tf.equal(label, 0)):`` — a Python ``if`` on a tensor.
Inside ``Dataset.map`` (always a graph) or ``tf.function`` it raises or is decided once at tracing time for every
element. :func:`augment_classes` decides per element with tensor ops (``tf.cond`` for single elements; a gather /
scatter of the chosen rows for batches), so it behaves the same eagerly, in ``Dataset.map`` and under
``tf.function``, and composes with :func:`imbalance.data.balanced_dataset` and :func:`imbalance.data.rebalance`.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable

import numpy as np

from imbalance._validation import check_scalar, quote
from imbalance.data._tf import tf

__all__ = ["augment_classes"]


def _check_classes(classes: Any) -> tuple[int, ...]:
    values = [classes] if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool) else classes
    try:
        items = list(values)
    except TypeError:
        items = None
    if not items or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in items):
        raise ValueError(
            "`classes` must be a class id or a non-empty sequence of class ids (integers >= 0). "
            f"Received: classes={quote(classes)}"
        )
    return tuple(sorted({int(c) for c in items}))


def _layout(y_spec: tf.TensorSpec, batched: bool | None, num_classes: int | None) -> tuple[str, bool]:
    """``(format, batched)``: ``"sparse"`` ids or ``"dense"`` one-hot / multi-hot rows, one element or a batch."""
    shape = y_spec.shape
    rank = shape.rank
    last = shape[-1] if rank else None
    if rank is None or rank > 2:
        raise ValueError(
            "`augment_classes` needs labels that are a class id, a batch of ids, a one-hot row or a batch of "
            f"one-hot rows. Received labels of shape {shape}."
        )
    if rank == 0:
        if batched:
            raise ValueError(f"batched=True but the labels are scalars (shape {shape}): the dataset is not batched.")
        return "sparse", False
    if rank == 2:
        if batched is False:
            raise ValueError(f"batched=False but the labels have shape {shape}: a batch of rows.")
        return ("sparse" if last == 1 else "dense"), True
    # rank 1: one id (1,), a batch of ids (b,), or one one-hot row (K,)
    if batched is True:
        return "sparse", True
    if batched is False:
        return ("sparse" if last == 1 else "dense"), False
    if last == 1:
        return "sparse", False
    if last is None:
        return "sparse", True
    if num_classes is not None and last != num_classes:
        return "sparse", True
    return "dense", False


def _takes_seed(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    return len(positional) >= 2 and all(p.default is p.empty for p in positional[:2])


def _checked(fn: Callable[..., Any], x: Any, seed: tf.Tensor | None) -> Any:
    out = fn(x) if seed is None else fn(x, seed)
    try:
        tf.nest.assert_same_structure(x, out)
    except (ValueError, TypeError):
        shown = tf.nest.map_structure(lambda t: t.dtype.name, x)
        raise TypeError(
            f"`fn` must return features with the structure of its input. Received input {shown!r} and output of "
            f"type {type(out).__name__}."
        ) from None
    outs = []
    for a, b in zip(tf.nest.flatten(x), tf.nest.flatten(out)):
        b = tf.convert_to_tensor(b)
        if b.dtype != a.dtype:
            raise TypeError(
                f"`fn` must keep the dtype of the features: it received {a.dtype.name} and returned {b.dtype.name}. "
                "Cast the result back (e.g. tf.cast(..., x.dtype))."
            )
        outs.append(b)
    return tf.nest.pack_sequence_as(x, outs)


def augment_classes(
    dataset: tf.data.Dataset,
    fn: Callable[..., Any],
    classes: int | Iterable[int] = (0,),
    probability: float = 1.0,
    seed: int | None = None,
    *,
    batched: bool | None = None,
    num_classes: int | None = None,
) -> tf.data.Dataset:
    """Apply ``fn`` to the features of the elements whose label is one of ``classes``; leave the others untouched.

    ``dataset`` yields ``(x, y)`` or ``(x, y, sample_weight)``, batched or not; ``y`` holds class ids or one-hot rows
    (a multi-hot row counts as chosen when any of its positive labels is in ``classes``). Each chosen element is
    augmented with probability ``probability`` (a new draw every epoch). ``fn`` receives what the dataset holds — one
    element's features, or the features of the chosen rows of a batch (stacked) — and must return the same
    structure, dtype and shape. ``fn(x, seed)`` with two parameters also receives a shape ``(2,)`` int64 seed, new for
    every element (batch) and epoch, for stateless ops such as ``tf.image.stateless_random_flip_left_right``: stateful
    ``tf.random`` ops inside a dataset function repeat the same draws every epoch when a global seed is set.

    Args:
        dataset: a ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, w)``.
        fn: ``fn(x) -> x`` or ``fn(x, seed) -> x``, written with TensorFlow ops.
        classes: the class id(s) to augment.
        probability: chance that a chosen element is augmented, in ``[0, 1]``.
        seed: reproducible draws (``probability`` and ``fn``'s seed); ``None`` follows TensorFlow's global seed.
        batched: whether the elements are batches; read from the labels' shape when ``None`` (a rank-1 label of
            known length ``> 1`` is read as one one-hot row, unless it differs from ``num_classes``).
        num_classes: the number of classes, used to check ``classes`` and to read ambiguous label shapes.

    Raises:
        TypeError: when ``dataset`` is not a ``tf.data.Dataset`` or ``fn`` is not callable / changes the structure
            or dtype of the features.
        ValueError: for a bad ``classes`` or ``probability``, labels of unusable shape, or a class id outside the
            one-hot columns.

    >>> ds = tf.data.Dataset.from_tensor_slices((tf.ones([4, 2]), tf.constant([0, 1, 0, 2]))).batch(4)
    >>> x, y = next(iter(augment_classes(ds, lambda x: -x, classes=0)))
    >>> x.numpy()[:, 0].tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            f"`augment_classes` needs a tf.data.Dataset. Received an object of type {type(dataset).__name__}."
        )
    if not callable(fn):
        raise TypeError(f"`fn` must be callable (x -> x or (x, seed) -> x). Received: fn={fn!r}")
    chosen = _check_classes(classes)
    probability = check_scalar("probability", probability, 0.0, 1.0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"`seed` must be a non-negative integer or None. Received: seed={seed!r}")
    if batched is not None and not isinstance(batched, bool):
        raise ValueError(f"`batched` must be True, False or None. Received: batched={batched!r}")
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not isinstance(spec[1], tf.TensorSpec):
        raise ValueError(
            "`augment_classes` needs a dataset of (x, y) or (x, y, sample_weight) elements with one label tensor y. "
            f"Received a dataset with element_spec={spec!r}"
        )
    fmt, is_batch = _layout(spec[1], batched, num_classes)
    if fmt == "dense":
        columns = spec[1].shape[-1]
        if columns is not None and chosen[-1] >= columns:
            raise ValueError(
                f"Class {chosen[-1]} in `classes` is not a column of the one-hot labels ({columns} columns). "
                f"Received: classes={quote(classes)}"
            )
    with_seed = _takes_seed(fn)
    random_needed = with_seed or probability < 1.0
    chosen_t = tf.constant(chosen, tf.int64)

    def is_chosen(y: tf.Tensor) -> tf.Tensor:
        if fmt == "sparse":
            ids = tf.cast(tf.reshape(y, [-1] if is_batch else []), tf.int64)
            return tf.reduce_any(tf.equal(tf.expand_dims(ids, -1), chosen_t), axis=-1)
        return tf.reduce_any(tf.gather(tf.cast(y, tf.float32), chosen_t, axis=-1) > 0, axis=-1)

    def apply(element: tuple[Any, ...], random: tf.Tensor | None) -> tuple[Any, ...]:
        x, y = element[0], element[1]
        mask = is_chosen(y)
        fn_seed = None
        if random is not None:
            if with_seed:
                fn_seed = tf.stack([random, tf.constant(13, tf.int64)])
            if probability < 1.0:
                u = tf.random.stateless_uniform(tf.shape(mask), seed=tf.stack([random, tf.constant(11, tf.int64)]))
                mask = tf.logical_and(mask, u < probability)
        if not is_batch:
            new_x = tf.cond(mask, lambda: _checked(fn, x, fn_seed), lambda: x)
        else:
            rows = tf.where(mask)  # (m, 1) positions of the chosen rows

            def scatter() -> Any:
                augmented = _checked(fn, tf.nest.map_structure(lambda t: tf.gather_nd(t, rows), x), fn_seed)
                return tf.nest.map_structure(lambda t, a: tf.tensor_scatter_nd_update(t, rows, a), x, augmented)

            new_x = tf.cond(tf.shape(rows)[0] > 0, scatter, lambda: x)
        return (new_x,) + tuple(element[1:])

    if random_needed:
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        return tf.data.Dataset.zip((dataset, draws)).map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.map(lambda *element: apply(element, None), num_parallel_calls=tf.data.AUTOTUNE)
