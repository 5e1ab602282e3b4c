"""Feeding a model from a feature source (:mod:`imbalance.data.sources`): the rows each epoch trains on, drawn
from the labels only, and the batches that read just those rows.

A run's training rows are a :class:`~imbalance.data.sources.Rows` view. Each epoch, the strategy's sampler (or a
plain shuffle) draws positions among those rows; the source reads the features of the drawn rows in ``tf.data``
(decoding in parallel) and labels and sample weights are matched to them by row index, so a source that reads in
an order of its own (a table scanned from disk) is fed correctly too. Every epoch has the same number of whole
batches (a draw is cut, or topped up from its own start, to ``steps × batch_size`` rows), so ``model.fit`` keeps
one iterator over all epochs (``steps_per_epoch``) and only one epoch's indices are in memory at a time.

Class-conditional augmentation (:func:`augmentation`) runs inside the same pipeline on the chosen classes' rows.

>>> import numpy as np
>>> from imbalance.data.sources import ArraySource, Rows
>>> rows = Rows(ArraySource(np.arange(10, dtype="float32")[:, None], [0] * 8 + [1] * 2), np.arange(2, 10))
>>> ds, steps = fit_dataset(rows, np.arange(8), shuffled(8, seed=0), epochs=2, batch_size=4)
>>> steps, [(x[:, 0] - 2).astype(int).tolist() == y.tolist() for x, y in ds.as_numpy_iterator()]
(2, [True, True, True, True])
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from imbalance.data.sources import Rows, increasing, row_values
from imbalance.heads import head_output

__all__ = ["AUGMENTATIONS", "augmentation", "draws_of", "fit_dataset", "predict_rows", "shuffled"]

#: ``--augment`` names -> the Keras preprocessing layer applied (to images in ``[0, 255]``).
AUGMENTATIONS: dict[str, Callable[[int], Any]] = {}


def _register_augmentations() -> None:
    import keras

    AUGMENTATIONS.update({
        "flip": lambda seed: keras.layers.RandomFlip("horizontal", seed=seed),
        "vflip": lambda seed: keras.layers.RandomFlip("vertical", seed=seed),
        "rotation": lambda seed: keras.layers.RandomRotation(0.05, seed=seed),
        "zoom": lambda seed: keras.layers.RandomZoom(0.1, seed=seed),
        "translation": lambda seed: keras.layers.RandomTranslation(0.1, 0.1, seed=seed),
        "brightness": lambda seed: keras.layers.RandomBrightness(0.2, value_range=(0.0, 255.0), seed=seed),
        "contrast": lambda seed: keras.layers.RandomContrast(0.2, seed=seed),
    })


def augmentation_names() -> list[str]:
    """The names ``--augment`` accepts."""
    if not AUGMENTATIONS:
        _register_augmentations()
    return list(AUGMENTATIONS)


def check_augment(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"flip,brightness"`` -> ``("flip", "brightness")``; an unknown name fails listing the known ones.

    >>> check_augment("flip, contrast")
    ('flip', 'contrast')
    >>> check_augment("blur")
    Traceback (most recent call last):
    ...
    ValueError: Unknown augmentation 'blur'; --augment takes a comma-separated list of: flip, vflip, rotation, zoom, translation, brightness, contrast.
    """
    if spec is None:
        return ()
    names = [n.strip() for n in spec.split(",")] if isinstance(spec, str) else [str(n).strip() for n in spec]
    names = [n for n in names if n]
    known = augmentation_names()
    for name in names:
        if name not in known:
            raise ValueError(f"Unknown augmentation {name!r}; --augment takes a comma-separated list of: "
                             f"{', '.join(known)}.")
    return tuple(dict.fromkeys(names))


def augmentation(names: Sequence[str], seed: int) -> Callable[[Any], Any]:
    """One function of a batch of images ``(b, h, w, c)`` in ``[0, 255]`` applying the named Keras preprocessing
    layers in order (each layer seeded from ``seed``)."""
    if not AUGMENTATIONS:
        _register_augmentations()
    layers = [AUGMENTATIONS[name](seed + 7919 * k) for k, name in enumerate(names)]

    def apply(x: Any) -> Any:
        import tensorflow as tf

        for layer in layers:
            x = layer(x, training=True)
        return tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 255.0)

    return apply


def shuffled(m: int, seed: int) -> Callable[[int], np.ndarray]:
    """The plain epochs: every position once, in a new seeded order each epoch."""
    dtype = np.int32 if m < 2**31 else np.int64

    def draw(epoch: int) -> np.ndarray:
        order = np.arange(m, dtype=dtype)  # permutation(m)'s order, shuffled in place at 4 bytes a row
        np.random.default_rng([seed, epoch]).shuffle(order)
        return order

    return draw


def draws_of(index_dataset: Any) -> Callable[[int], np.ndarray]:
    """The epochs of a sampler's dataset of ``(positions, labels[, weights])`` batches (each iteration a new draw,
    as :func:`imbalance.data.balanced_dataset` gives on ``np.arange(m)``): epoch ``e`` is its ``e``-th iteration.
    Epochs must be asked in order (``model.fit`` does)."""
    def draw(epoch: int) -> np.ndarray:
        parts = [np.asarray(batch[0]).reshape(-1) for batch in index_dataset.as_numpy_iterator()]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)  # the positions' own (compact) dtype

    return draw


def _positions(rows: Rows) -> Callable[[Any], Any]:
    """``row -> position in the view`` as a tensor function (``searchsorted`` on the sorted row indices; no
    permutation kept when the view is sorted already, as a split's rows are; int32 below 2**31 rows)."""
    import tensorflow as tf

    indices = np.asarray(rows.indices)
    small = len(rows.source) < 2**31
    dtype, tf_dtype = (np.int32, tf.int32) if small else (np.int64, tf.int64)
    if increasing(indices):
        sorted_rows = tf.constant(indices.astype(dtype, copy=False))
        return lambda row: tf.searchsorted(sorted_rows, tf.cast(row, tf_dtype))
    order = np.argsort(indices, kind="stable")
    sorted_rows = tf.constant(indices[order].astype(dtype, copy=False))
    positions = tf.constant(order.astype(dtype, copy=False))
    return lambda row: tf.gather(positions, tf.searchsorted(sorted_rows, tf.cast(row, tf_dtype)))


def _lookup(targets: Any) -> Callable[[Any], Any]:
    """``positions -> targets[positions]`` in ``tf.data`` (targets or sample weights, one array or a structure):
    held as constants, 0/1 float arrays (binary and multi-hot labels, weights of ones) as uint8 cast back per batch
    (1 byte a row, not 4); the function keeps only the constants, not the arrays it was given."""
    import tensorflow as tf

    def constant(a: Any) -> tuple[Any, Any]:
        a = np.asarray(a)
        if a.dtype.kind == "f" and a.size > 1 << 16 and bool(np.all((a == 0) | (a == 1))):
            return tf.constant(a.astype(np.uint8)), tf.as_dtype(a.dtype)
        return tf.constant(a), None

    leaves = [constant(a) for a in tf.nest.flatten(targets)]
    structure = tf.nest.map_structure(lambda _: 0, targets)  # not the arrays: the constants stand for them

    def gather(pos: Any) -> Any:
        out = [tf.gather(t, pos) if dtype is None else tf.cast(tf.gather(t, pos), dtype) for t, dtype in leaves]
        return tf.nest.pack_sequence_as(structure, out)

    return gather


def _sized(draw: Callable[[int], np.ndarray], size: int, seed: int | None = None) -> Callable[[int], np.ndarray]:
    """``draw`` cut or topped up to ``size`` positions; with a ``seed``, the cut drops positions chosen at random
    (seeded by the epoch) and keeps the order: a draw in file order loses random rows, not the file's last ones."""
    def fixed(epoch: int) -> np.ndarray:
        positions = draw(epoch)
        if len(positions) > size and seed is not None:
            keep = np.ones(len(positions), bool)
            keep[np.random.default_rng([seed, epoch, 1]).choice(len(positions), len(positions) - size,
                                                                 replace=False)] = False
            return positions[keep]
        if len(positions) >= size or len(positions) == 0:
            return positions[:size]
        return np.resize(positions, size)  # topped up from its own start

    return fixed


def fit_dataset(rows: Rows, targets: np.ndarray, draw: Callable[[int], np.ndarray] | None, epochs: int,
                batch_size: int, weights: np.ndarray | None = None, augment: Callable[[Any], Any] | None = None,
                augment_classes: Sequence[int] = (), num_classes: int | None = None,
                seed: int = 0) -> tuple[Any, int]:
    """The training dataset of ``(x, y[, w])`` batches over ``epochs`` epochs and its steps per epoch.

    ``targets`` (and ``weights``) are the model's targets for the view's rows, by position; ``draw(epoch)`` gives
    the positions the epoch trains on (with repeats for oversampling); ``draw=None``, for a source that shuffles as
    it reads (``ordered = False``, a streamed table), trains on every row each epoch in the source's own order
    without a permutation or a copy of the indices. ``augment`` applies to the rows of
    ``augment_classes`` only (:func:`imbalance.data.augment_classes`).
    """
    import tensorflow as tf

    if draw is None:  # every row once an epoch, in the source's own order: the view's indices, no copy per epoch
        if getattr(rows.source, "ordered", True):
            raise ValueError("draw=None (every row in the source's own order) is for sources that shuffle as they "
                             "read (ordered = False); pass shuffled(len(rows), seed).")
        size = len(rows) if epochs else 0
    else:
        pending = [draw(0)] if epochs else []  # the first epoch's draw sizes the epochs, then is trained on (once)

        def first_then(epoch: int) -> np.ndarray:
            return pending.pop() if epoch == 0 and pending else draw(epoch)

        size = len(pending[0]) if pending else 0
    if size == 0:
        raise ValueError("The sampler drew no rows for an epoch; check the labels of the training rows.")
    batch = min(batch_size, size)
    steps = size // batch
    # A draw is cut or topped up to whole batches; all rows in file order run on across epochs instead (the last
    # partial batch of one epoch is completed by the next epoch's first rows).
    sized = None if draw is None else _sized(first_then, steps * batch,
                                             None if getattr(rows.source, "ordered", True) else seed)
    position = _positions(rows)
    targets_of = _lookup(targets)
    weights_of = None if weights is None else _lookup(tf.nest.map_structure(lambda w: np.asarray(w, np.float32),
                                                                            weights))

    def label(row: Any, x: Any) -> tuple[Any, ...]:
        pos = position(row)
        y = targets_of(pos)
        if weights_of is None:
            return x, y
        return x, y, weights_of(pos)

    ds = rows.dataset(epochs, sized).batch(batch).map(label, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None and augment_classes:
        from imbalance.data.augment import augment_classes as by_class

        ds = by_class(ds, augment, classes=tuple(augment_classes), seed=seed, batched=True,
                      num_classes=num_classes)
    return ds.prefetch(tf.data.AUTOTUNE), steps


def eval_dataset(rows: Rows, targets: np.ndarray, batch_size: int) -> Any:
    """``(x, y)`` batches of every row once (for ``validation_data``)."""
    import tensorflow as tf

    position = _positions(rows)
    targets_of = _lookup(targets)

    def label(row: Any, x: Any) -> tuple[Any, Any]:
        return x, targets_of(position(row))

    return rows.dataset(1).batch(batch_size).map(label).prefetch(tf.data.AUTOTUNE)


def predict_rows(net: Any, rows: Rows, batch_size: int | None = None, output: str | None = None) -> np.ndarray:
    """The model's outputs for every row of the view, in the view's order, as ``(len(rows), outputs)`` in the
    model's own floats, at least float32 (of the head ``output`` for a model with several).

    Each batch is written straight into one preallocated result (a list of per-batch arrays kept between the
    forward passes' large temporaries makes memory grow with the rows); the batch holds at most about a million
    input values (64 images of 64x64x3), so its activations stay small."""
    import keras
    import tensorflow as tf

    if batch_size is None:
        batch_size = int(np.clip(1_000_000 // max(row_values(rows), 1), 16, 4096))
    indices = np.asarray(rows.indices)
    order = None if increasing(indices) else np.argsort(indices, kind="stable")  # a split's rows: no argsort kept
    sorted_rows = indices if order is None else indices[order]
    result: np.ndarray | None = None
    for row, x in rows.dataset(1).batch(batch_size).prefetch(tf.data.AUTOTUNE):
        out = head_output(net, net(x, training=False), output)
        values = keras.ops.convert_to_numpy(out).reshape(int(row.shape[0]), -1)
        if result is None:  # the model's floats as they are (float32: 4 bytes a row and output, not 8)
            result = np.empty((len(rows), values.shape[1]), np.promote_types(values.dtype, np.float32))
        at = np.searchsorted(sorted_rows, row.numpy())
        result[at if order is None else order[at]] = values
    return result if result is not None else np.zeros((0, 0))
