"""Any imbalanced-learn sampler, redrawn every epoch and fed to ``model.fit`` as a ``tf.data.Dataset``.

``sampler.fit_resample(X, y)`` once before training gives one fixed resample: SMOTE's synthetic points are the same
every epoch, and imbalanced-learn's own ``BalancedBatchGenerator`` draws its indices once too.
:class:`ImblearnSampler` clones the sampler every epoch, re-seeds it with ``seed + epoch`` and resamples, so every
epoch sees new synthetic points (or a new undersample), and the sequence of epochs is reproducible.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from imbalance._validation import as_numpy
from imbalance.data._tf import tf
from imbalance.data.sources import Feed
from imbalance.labels import count_labels, inspect_labels, to_class_ids

__all__ = ["ImblearnSampler"]


def _check_sampler(sampler: Any) -> None:
    if isinstance(sampler, type):
        raise TypeError(
            f"`sampler` must be an imbalanced-learn sampler instance; received the class {sampler.__name__} itself. "
            f"Pass {sampler.__name__}() instead."
        )
    if not callable(getattr(sampler, "fit_resample", None)):
        raise TypeError(
            "`sampler` must be an imbalanced-learn sampler: an object with a fit_resample(X, y) method, such as "
            "imblearn.over_sampling.SMOTE() or imblearn.under_sampling.RandomUnderSampler(). "
            f"Received an object of type {type(sampler).__name__}: {sampler!r}"
        )


class ImblearnSampler:
    """Resample ``(x, y)`` with an imbalanced-learn sampler anew every epoch, as a ``tf.data.Dataset``.

    Every iteration of :meth:`dataset` (every epoch of ``model.fit``) clones ``sampler``, sets its ``random_state``
    to ``seed + epoch`` (samplers without one, such as ``NearMiss``, are deterministic), calls
    ``fit_resample``, shuffles the result and yields it in batches of ``batch_size`` (the last one partial).

    ``x`` is one array ``(n, ...)``; arrays of more than 2 dimensions (images) are flattened for the sampler and
    reshaped back, so SMOTE interpolates pixels. ``y`` holds sparse ids or one-hot rows (read by
    :mod:`imbalance.labels`); batches hold labels in the same format and dtype. Multi-label rows are refused:
    imbalanced-learn samplers need one class per row.

    Attributes:
        epoch_: epochs drawn so far.
        counts_: rows per class of the last draw (``None`` before the first).

    Raises:
        TypeError: when ``sampler`` is not an imbalanced-learn sampler instance (no ``fit_resample``), or ``x`` is a
            dict / tuple of arrays.
        ValueError: for ``batch_size <= 0``, a bad ``seed``, multi-label labels or ``x`` whose rows do not match
            ``y``.

    >>> import numpy as np
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> x = np.arange(12, dtype="float32").reshape(6, 2)
    >>> sampler = ImblearnSampler(RandomOverSampler(), x, [0, 0, 0, 0, 1, 1], batch_size=3, seed=0)
    >>> [int(b.shape[0]) for _, b in sampler.dataset()]       # 4 + 4 rows after oversampling
    [3, 3, 2]
    >>> sampler.counts_.tolist(), sampler.epoch_
    ([4, 4], 1)
    """

    def __init__(self, sampler: Any, x: Any, y: Any, batch_size: int, seed: int | None = None) -> None:
        _check_sampler(sampler)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"`seed` must be a non-negative integer or None. Received: seed={seed!r}")
        if isinstance(x, (dict, tuple)):
            raise TypeError(
                "imbalanced-learn samplers need one feature array; received a "
                f"{type(x).__name__} of arrays. Stack the inputs into one array, or use balanced_dataset."
            )
        info = inspect_labels(y)
        if info.task == "multilabel":
            raise ValueError(
                "imbalanced-learn samplers need one class per row; these labels are multi-label (multi-hot). "
                "Use imbalance.data.balanced_dataset (repeat-factor sampling) instead."
            )
        x_arr = np.asarray(as_numpy(x))
        if x_arr.ndim == 0 or x_arr.shape[0] != info.num_samples:
            rows = "a scalar" if x_arr.ndim == 0 else f"{x_arr.shape[0]} rows"
            raise ValueError(f"`x` has {rows} but `y` has {info.num_samples} rows; they must match.")
        y_arr = np.asarray(as_numpy(y))
        if y_arr.dtype == bool:
            y_arr = y_arr.astype(np.int64)
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        self._x = x_arr
        self._ids = to_class_ids(y_arr)
        self._y_shape = y_arr.shape[1:]
        self._y_dtype = y_arr.dtype
        self._format = info.format
        self._num_classes = info.num_classes
        self.epoch_ = 0
        self.counts_: np.ndarray | None = None

    def __repr__(self) -> str:
        return (f"ImblearnSampler({self.sampler!r}, x={self._x.shape}, y={self._ids.shape[0]} rows, "
                f"batch_size={self.batch_size}, seed={self.seed})")

    def resample(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The shuffled resample of epoch ``epoch`` (deterministic given ``seed`` and ``epoch``), labels in the
        input's format.

        >>> from imblearn.under_sampling import RandomUnderSampler
        >>> s = ImblearnSampler(RandomUnderSampler(), np.zeros((5, 1)), [0, 0, 0, 1, 1], batch_size=2, seed=3)
        >>> np.bincount(s.resample(0)[1]).tolist()
        [2, 2]
        """
        from sklearn.base import clone

        sampler = clone(self.sampler)
        state = (self.seed + int(epoch)) % 2**32
        if "random_state" in sampler.get_params(deep=False):
            sampler.set_params(random_state=state)
        flat = self._x.reshape(self._x.shape[0], -1)
        x_res, ids_res = sampler.fit_resample(flat, self._ids)
        x_res = np.asarray(x_res)
        ids_res = np.asarray(ids_res).astype(np.int64)
        order = np.random.default_rng(state).permutation(ids_res.shape[0])
        x_res = x_res[order].reshape((-1,) + self._x.shape[1:]).astype(self._x.dtype, copy=False)
        ids_res = ids_res[order]
        if self._format == "one_hot":
            y_res = np.eye(self._num_classes, dtype=self._y_dtype)[ids_res]
        else:
            y_res = ids_res.astype(self._y_dtype).reshape((-1,) + self._y_shape)
        return x_res, y_res

    def _batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        epoch = self.epoch_
        self.epoch_ += 1
        x_res, y_res = self.resample(epoch)
        self.counts_ = count_labels(to_class_ids(y_res, num_classes=self._num_classes), "multiclass",
                                    self._num_classes)
        for start in range(0, x_res.shape[0], self.batch_size):
            yield x_res[start: start + self.batch_size], y_res[start: start + self.batch_size]

    def dataset(self) -> tf.data.Dataset:
        """A ``tf.data.Dataset`` of ``(x, y)`` batches that resamples every time it is iterated (every epoch of
        ``model.fit``). Its cardinality is unknown: resamplers such as ADASYN vary the epoch size."""
        signature = (
            tf.TensorSpec((None,) + self._x.shape[1:], tf.as_dtype(self._x.dtype)),
            tf.TensorSpec((None,) + self._y_shape, tf.as_dtype(self._y_dtype)),
        )
        return tf.data.Dataset.from_generator(Feed(self._batches), output_signature=signature).prefetch(2)

    as_dataset = dataset
