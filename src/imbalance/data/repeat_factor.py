"""Repeat-factor sampling of images (LVIS, Gupta et al. 2019): images that contain a rare class are seen more often.

With ``f_c`` the fraction of images that contain class ``c`` and a threshold ``t``, class ``c`` gets the factor
``r_c = max(1, sqrt(t / f_c))`` and image ``i`` the largest factor of the classes present in it,
``r_i = max_{c in i} r_c`` (1 for an image with no class). Classes in more than a fraction ``t`` of the images are
left alone; a class in fewer is oversampled, the rarer the more, by the square root of its rarity. An epoch holds
image ``i`` ``floor(r_i)`` times plus once more with probability ``r_i - floor(r_i)`` (stochastic rounding), drawn
anew every epoch, so ``r_i`` is the expected number of draws of image ``i`` per epoch.

=================================  =============================================================================
function                           gives
=================================  =============================================================================
:func:`repeat_factors`             ``r_i`` per image, from masks ``(N, H, W)`` / ``(N, H, W, K)``, image labels or
                                   a class-presence matrix (numpy; no TensorFlow needed)
:func:`class_repeat_factors`       ``r_c`` per class
:func:`repeat_factor_sampler`      a ``tf.data.Dataset`` of image indices, a fresh stochastic rounding every epoch:
                                   map it to your files or arrays
:func:`repeat_factor_dataset`      arrays in memory → batched ``(x, y)`` dataset sampled by repeat factors
=================================  =============================================================================

Unlike :func:`imbalance.data.balanced_dataset` (exact class counts of single-label rows), a class does not reach
a set share here: images hold several classes, and an image is repeated with all of them. The sampler works on
indices (one vectorised ``tf.repeat`` per epoch), so it also drives images read from files.

>>> import numpy as np
>>> masks = np.zeros((10, 4, 4), dtype=int)
>>> masks[0, :2, :2] = 1                      # class 1 in 1 image of 10
>>> repeat_factors(masks, threshold=0.4).round(3).tolist()   # sqrt(0.4 / 0.1) = 2 for image 0
[2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imbalance._validation import as_numpy, check_scalar, quote
from imbalance.dense import image_presence

__all__ = ["class_repeat_factors", "repeat_factor_dataset", "repeat_factor_sampler", "repeat_factors"]


def class_repeat_factors(y: Any, threshold: float = 0.001, num_classes: int | None = None) -> np.ndarray:
    """``r_c = max(1, sqrt(t / f_c))`` per class (float64, ``(K,)``), ``f_c`` the fraction of images that contain
    class ``c`` (:func:`imbalance.dense.image_presence`); 1 for a class in no image.

    >>> class_repeat_factors([0, 0, 0, 1], threshold=0.5).round(4).tolist()   # f = 3/4, 1/4
    [1.0, 1.4142]
    """
    threshold = check_scalar("threshold", threshold, low=0.0, high=1.0, low_inclusive=False)
    presence = image_presence(y, num_classes)
    fraction = presence.mean(axis=0)
    with np.errstate(divide="ignore"):
        return np.where(fraction > 0, np.maximum(1.0, np.sqrt(threshold / np.maximum(fraction, 1e-300))), 1.0)


def repeat_factors(y: Any, threshold: float = 0.001, num_classes: int | None = None) -> np.ndarray:
    """Repeat factor of every image, ``r_i = max over the classes c present in image i of r_c`` (float64, ``(N,)``).

    Args:
        y: masks of class ids ``(N, H, W)``, one-hot / multi-hot masks ``(N, H, W, K)``, one label per image
            (ids ``(N,)`` or one-hot ``(N, K)``) or a class-presence / multi-hot matrix ``(N, K)`` (image tags).
        threshold: ``t`` in ``(0, 1]``: classes in fewer than this fraction of the images are oversampled (LVIS
            uses 0.001 for 1 203 classes; with a few classes and a few hundred images, 0.1–0.5 is typical).
        num_classes: the number of classes when some are absent from ``y``.

    Raises:
        ValueError: for ``threshold`` outside ``(0, 1]`` or invalid labels (naming the image and pixel).

    >>> repeat_factors([[1, 0], [1, 1], [1, 0], [1, 0]], threshold=1.0).tolist()   # label 1 in 1 of 4 images
    [1.0, 2.0, 1.0, 1.0]
    """
    per_class = class_repeat_factors(y, threshold, num_classes)
    presence = image_presence(y, num_classes)
    return np.max(np.where(presence, per_class[None, :], 1.0), axis=1)


def _check_factors(factors: Any) -> np.ndarray:
    arr = np.asarray(as_numpy(factors))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "fiu":
        raise ValueError("`factors` must be a non-empty 1-D array of repeat factors, one per image. "
                         f"Received: factors={quote(factors)[:200]}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"`factors` must be finite and >= 0; image {i} has {float(arr[i])!r}. "
                         f"Received: factors={quote(factors)[:200]}")
    if not np.any(arr > 0):
        raise ValueError("`factors` are all 0: an epoch would hold no image.")
    return arr


def repeat_factor_sampler(factors: Any, seed: int | None = None, shuffle: bool = True) -> Any:
    """A ``tf.data.Dataset`` of int64 image indices: one epoch per iteration, image ``i`` ``floor(r_i)`` times plus
    once more with probability ``frac(r_i)``, drawn anew every epoch (a stateless draw from the epoch's seed, as
    :func:`imbalance.data.balanced_dataset`: the same ``seed`` gives the same sequence of epochs), in random order
    unless ``shuffle=False``. An epoch holds ``sum(r)`` indices in expectation; ``ds.repeat_factors`` holds ``r``.

    Map the indices to what an image is: ``sampler.map(lambda i: load(tf.gather(paths, i)))`` for files, or use
    :func:`repeat_factor_dataset` for arrays in memory.

    >>> ds = repeat_factor_sampler([1.0, 2.0, 0.0], seed=0, shuffle=False)
    >>> [int(i) for i in ds]   # whole factors: image 0 once, image 1 twice, image 2 never
    [0, 1, 1]
    """
    from imbalance.data._tf import tf
    from imbalance.data.sampling import _check_seed, _seed_pair

    r = _check_factors(factors)
    seed = _check_seed(seed)
    whole = np.floor(r)
    whole_t = tf.constant(whole.astype(np.int64))
    frac_t = tf.constant(r - whole, tf.float64)
    rows = tf.range(r.size, dtype=tf.int64)

    def make_indices(epoch_seed: Any) -> Any:
        u = tf.random.stateless_uniform([r.size], seed=_seed_pair(epoch_seed, 1), dtype=tf.float64)
        indices = tf.repeat(rows, whole_t + tf.cast(u < frac_t, tf.int64))
        if shuffle:
            indices = tf.random.experimental.stateless_shuffle(indices, seed=_seed_pair(epoch_seed, 0))
        return indices

    ds = (tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
          .map(make_indices).flat_map(tf.data.Dataset.from_tensor_slices))
    ds.repeat_factors = r
    return ds


def repeat_factor_dataset(x: Any, y: Any, batch_size: int, threshold: float = 0.001, seed: int | None = None, *,
                          factors: Any = None, num_classes: int | None = None) -> Any:
    """A batched ``tf.data.Dataset`` of ``(x, y)`` rows sampled by repeat factors, a new draw every epoch.

    Args:
        x: images ``(N, ...)`` (or a dict / tuple of such arrays).
        y: masks, image labels or a presence matrix, as :func:`repeat_factors`; batches hold them unchanged.
        batch_size: rows per batch; the last batch of an epoch is partial.
        threshold: ``t`` of :func:`repeat_factors`.
        seed: makes the sequence of epochs reproducible.
        factors: repeat factors to use instead of computing them from ``y``.
        num_classes: the number of classes when some are absent from ``y``.

    The epoch size varies (stochastic rounding), so the dataset has no fixed cardinality: ``model.fit`` runs each
    epoch to its end without ``steps_per_epoch``. ``ds.repeat_factors`` holds the factors.

    >>> masks = np.zeros((4, 2, 2), dtype=int)
    >>> masks[0, 0, 0] = 1
    >>> ds = repeat_factor_dataset(np.arange(4.0), masks, batch_size=8, threshold=1.0, seed=0)
    >>> sorted(float(v) for v in next(iter(ds))[0])   # r = [2, 1, 1, 1]: image 0 twice
    [0.0, 0.0, 1.0, 2.0, 3.0]
    """
    from imbalance.data._tf import tf
    from imbalance.data.sampling import _check_batch_size, _check_rows, _leaf_arrays

    batch_size = _check_batch_size(batch_size)
    y_arr = np.asarray(as_numpy(y))
    r = repeat_factors(y_arr, threshold, num_classes) if factors is None else _check_factors(factors)
    if r.size != y_arr.shape[0]:
        raise ValueError(f"`factors` has {r.size} entries but `y` has {y_arr.shape[0]} images; give one per image.")
    xs = _leaf_arrays(x)
    _check_rows(xs, y_arr.shape[0])
    x_t, y_t = tf.nest.map_structure(tf.constant, xs), tf.constant(y_arr)
    ds = (repeat_factor_sampler(r, seed=seed).batch(batch_size)
          .map(lambda i: (tf.nest.map_structure(lambda t: tf.gather(t, i), x_t), tf.gather(y_t, i)),
               num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))
    ds.repeat_factors = r
    return ds
