"""Dense labels — segmentation masks, one label per pixel — read as rows of pixels.

A segmentation problem is a classification problem per pixel: every pixel of every image is one row. This module
is the one place that decides what a dense label array is and turns it into the rows that :mod:`imbalance.labels`
reads, so counts, weights and metrics need no mask logic of their own:

==========================  ===========================================  ======================================
labels                      read as                                      rows
==========================  ===========================================  ======================================
``(N, H, W)``               class ids per pixel (integers ``>= 0``)      ``(N·H·W,)`` ids
``(N, H, W, 1)``            class ids per pixel                          ``(N·H·W,)`` ids
``(N, H, W, K)``, ``K > 1`` one-hot or multi-hot per pixel (0/1)         ``(N·H·W, K)`` indicator rows
==========================  ===========================================  ======================================

A 3-D array is always a mask of ids; from 4-D on, the last axis is the class axis (size 1: ids), so a volume of
ids ``(N, D, H, W)`` needs a trailing axis of 1. Labels of 1 or 2 dimensions are rows already and are returned
unchanged. :func:`pixel_grid` gives the shape of one weight per pixel, ``(N, H, W)``, which is what
``model.fit(sample_weight=...)`` needs for a per-pixel loss (a weight per image, ``(N,)``, does not broadcast
against a per-pixel loss ``(N, H, W)`` in Keras 3).

:func:`image_presence` says which classes occur in each image (the input of repeat-factor sampling), and
:func:`flatten_pixels` does the same flattening on tensors (``keras.ops``, any backend) for the streaming metrics.

>>> import numpy as np
>>> masks = np.zeros((2, 3, 3), dtype=int)
>>> masks[0, 1, 1] = 2
>>> rows, grid = flatten_mask(masks)
>>> rows.shape, grid
((18,), (2, 3, 3))
>>> image_presence(masks).tolist()
[[True, False, True], [True, False, False]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imbalance._validation import as_numpy, check_positive_int
from imbalance.labels import inspect_labels, to_multi_hot, to_one_hot

__all__ = ["flatten_mask", "flatten_pixels", "image_presence", "is_mask", "pixel_grid", "rows_of"]


def is_mask(y: Any) -> bool:
    """Whether ``y`` holds dense labels (3 or more dimensions: one label per pixel), not one label per row.

    >>> is_mask([[0, 1], [1, 0]]), is_mask(np.zeros((2, 4, 4)))
    (False, True)
    """
    if isinstance(y, (dict, str, bytes)):
        return False
    return np.ndim(as_numpy(y)) >= 3


def pixel_grid(y: Any) -> tuple[int, ...]:
    """The shape of one value per pixel: ``(N, H, W)`` for ``(N, H, W)`` ids or ``(N, H, W, K)`` indicators; the
    number of rows ``(n,)`` for labels of one or two dimensions.

    >>> pixel_grid(np.zeros((2, 4, 5))), pixel_grid(np.zeros((2, 4, 5, 3))), pixel_grid([0, 1, 1])
    ((2, 4, 5), (2, 4, 5), (3,))
    """
    shape = np.shape(as_numpy(y))
    if len(shape) >= 4:
        return tuple(int(s) for s in shape[:-1])
    if len(shape) == 3:
        return tuple(int(s) for s in shape)
    return (int(shape[0]),) if shape else ()


def _mask_array(y: Any) -> np.ndarray:
    arr = np.asarray(as_numpy(y))
    if arr.dtype == object or arr.dtype.kind in "USO":
        raise ValueError(
            f"Mask labels must be numeric class ids or 0/1 indicator columns. Received values of type {arr.dtype} "
            f"such as {arr.ravel()[:1].tolist()!r}."
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.size == 0:
        raise ValueError(f"Mask labels are empty: received an array of shape {arr.shape}.")
    return arr


def _position(arr: np.ndarray, bad: np.ndarray, ids: bool) -> str:
    """``"image 1, pixel (2, 3) holds -1"``: the first offending entry of a mask."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    pixel = index[1:] if ids else index[1:-1]
    where = f"image {index[0]}, pixel {pixel if len(pixel) != 1 else pixel[0]}"
    if not ids:
        where += f", class column {index[-1]}"
    return f"{where} holds {arr[index].item()!r}"


def flatten_mask(y: Any, num_classes: int | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(rows, grid)``: the pixels of dense labels as rows (ids ``(M,)`` or indicators ``(M, K)``, ``M = N·H·W``)
    and the pixel grid ``(N, H, W)`` to reshape per-pixel results back.

    Validates the values and names the image and pixel of the first bad one (ids must be whole numbers ``>= 0``
    and ``< num_classes``; indicator columns 0 or 1).

    >>> rows, grid = flatten_mask(np.eye(3)[[[0, 2], [1, 1]]][None])   # one 2x2 one-hot mask
    >>> rows.tolist(), grid
    ([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], (1, 2, 2))
    >>> flatten_mask(np.array([[[0, -1]]]))
    Traceback (most recent call last):
    ...
    ValueError: Mask class ids must be >= 0; image 0, pixel (0, 1) holds -1.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    arr = _mask_array(y)
    if arr.ndim < 3:
        raise ValueError(f"Dense labels need 3 or more dimensions ((N, H, W) or (N, H, W, K)). Received an array of "
                         f"shape {arr.shape}; labels of 1 or 2 dimensions are rows already.")
    ids = arr.ndim == 3 or arr.shape[-1] == 1
    grid = pixel_grid(arr)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"Mask labels must be finite; {_position(arr, ~np.isfinite(arr), ids or arr.ndim == 3)}.")
    if ids:
        values = arr.reshape(grid)
        if arr.dtype.kind == "f" and np.any(values != np.round(values)):
            fractional = values != np.round(values)
            raise ValueError(f"Mask class ids must be whole numbers; {_position(values, fractional, True)}.")
        if np.any(values < 0):
            raise ValueError(f"Mask class ids must be >= 0; {_position(values, values < 0, True)}.")
        if num_classes is not None and np.any(values >= num_classes):
            raise ValueError(f"Mask class ids must be < num_classes={num_classes}; "
                             f"{_position(values, values >= num_classes, True)}.")
        return values.reshape(-1).astype(np.int64), grid
    not_binary = (arr != 0) & (arr != 1)
    if np.any(not_binary):
        raise ValueError(f"One-hot and multi-hot masks must hold only 0 and 1; {_position(arr, not_binary, False)}.")
    if num_classes is not None and arr.shape[-1] != num_classes:
        raise ValueError(f"The masks have {arr.shape[-1]} class columns but num_classes={num_classes}; a one-hot or "
                         "multi-hot mask needs one column per class.")
    return arr.reshape(-1, arr.shape[-1]).astype(np.float32), grid


def rows_of(y: Any, num_classes: int | None = None) -> Any:
    """Labels as rows: the flattened pixels of dense labels (:func:`flatten_mask`), anything else unchanged.

    >>> rows_of(np.ones((1, 2, 2), dtype=int)).tolist(), rows_of([0, 1])
    ([1, 1, 1, 1], [0, 1])
    """
    return flatten_mask(y, num_classes)[0] if is_mask(y) else y


def image_presence(y: Any, num_classes: int | None = None) -> np.ndarray:
    """Which classes occur in each image: a boolean ``(N, K)`` matrix.

    Masks ``(N, H, W)`` of ids and ``(N, H, W, K)`` indicators give the classes with at least one pixel in image
    ``i``; labels of one class per image (ids ``(N,)``, one-hot ``(N, K)``) give that class; a multi-hot ``(N, K)``
    matrix is its own presence matrix (image-level tags). ``K`` is ``num_classes`` when given, else the number of
    columns or the largest id + 1 (at least 2).

    >>> image_presence([1, 0, 1]).tolist()
    [[False, True], [True, False], [False, True]]
    >>> image_presence(np.array([[[0, 0], [0, 3]]]), num_classes=4).tolist()
    [[True, False, False, True]]
    """
    num_classes = check_positive_int("num_classes", num_classes)
    if not is_mask(y):
        info = inspect_labels(y, num_classes=num_classes)
        matrix = to_multi_hot(y) if info.task == "multilabel" else to_one_hot(y, num_classes=num_classes)
        return matrix > 0
    rows, grid = flatten_mask(y, num_classes)
    n = grid[0]
    if rows.ndim == 2:
        return rows.reshape(n, -1, rows.shape[1]).max(axis=1) > 0
    k = num_classes if num_classes is not None else max(int(rows.max()) + 1, 2)
    per_image = rows.reshape(n, -1)
    presence = np.zeros((n, k), dtype=bool)
    presence[np.repeat(np.arange(n), per_image.shape[1]), per_image.reshape(-1)] = True
    return presence


def flatten_pixels(y_true: Any, y_pred: Any, sample_weight: Any = None) -> tuple[Any, Any, Any]:
    """Per-pixel outputs as rows, on tensors of any backend (``keras.ops``): for the streaming metrics.

    An output of 4 or more dimensions ``(N, H, W, K)`` becomes ``(N·H·W, K)``; its labels, ids ``(N, H, W)`` (or
    ``(N, H, W, 1)``) or indicators ``(N, H, W, K)``, become ``(N·H·W,)`` or ``(N·H·W, K)``; a weight map
    ``(N, H, W)`` becomes ``(N·H·W,)`` and a weight per image ``(N,)`` is repeated for each of its pixels. Other
    outputs are returned unchanged (a 3-D output is not an image: the metrics refuse it).

    >>> y, p, w = flatten_pixels(np.zeros((2, 4, 4)), np.zeros((2, 4, 4, 3)), np.array([1.0, 2.0]))
    >>> tuple(y.shape), tuple(p.shape), tuple(w.shape)
    ((32,), (32, 3), (32,))
    """
    from keras import ops

    y_pred = ops.convert_to_tensor(y_pred)
    rank = len(y_pred.shape)
    if rank < 4:
        return y_true, y_pred, sample_weight
    k = y_pred.shape[-1]
    if k is None:
        raise ValueError(f"The last axis of the model output must have a known size. Received shape {y_pred.shape}.")
    grid = tuple(y_pred.shape[:-1])
    y_true = ops.convert_to_tensor(y_true)
    true_rank = len(y_true.shape)
    if true_rank == rank and k != 1 and y_true.shape[-1] != 1:  # one-hot / multi-hot per pixel
        if y_true.shape[-1] not in (k, None):
            raise ValueError(
                f"Indicator masks of shape {tuple(y_true.shape)} do not match per-pixel outputs of shape "
                f"{tuple(y_pred.shape)}: they need one column per output column ({k})."
            )
        y_true = ops.reshape(y_true, (-1, k))
    elif true_rank in (rank, rank - 1):  # class ids (or 0/1 labels of a single sigmoid output) per pixel
        y_true = ops.reshape(y_true, (-1,))
    else:
        raise ValueError(
            f"Labels of shape {tuple(y_true.shape)} do not match per-pixel outputs of shape {tuple(y_pred.shape)}: "
            f"expected class ids of shape {grid} or indicator masks of shape {grid + (k,)}."
        )
    if sample_weight is not None:
        w = ops.convert_to_tensor(sample_weight)
        w_rank = len(w.shape)
        if w_rank == rank and w.shape[-1] == 1:
            w = ops.squeeze(w, -1)
            w_rank -= 1
        if 0 < w_rank < rank - 1:  # one weight per image (or per row of pixels): repeat it for every pixel
            w = ops.reshape(w, (-1,) + tuple(w.shape[1:]) + (1,) * (rank - 1 - w_rank))
            w = w * ops.cast(ops.ones_like(y_pred[..., 0]), w.dtype)
            w_rank = rank - 1
        if w_rank == rank - 1:
            w = ops.reshape(w, (-1,))
        elif w_rank != 0:
            raise ValueError(
                f"`sample_weight` for per-pixel outputs of shape {tuple(y_pred.shape)} must have shape {grid} (one "
                f"weight per pixel) or ({grid[0]},) (one per image). Received shape {tuple(w.shape)}."
            )
        sample_weight = w
    return y_true, ops.reshape(y_pred, (-1, k)), sample_weight
