"""The one place that decides what a label array is.

Every other module of `imbalance` calls these functions instead of guessing on its own. Three tasks and three
formats are recognised:

=============  ===========================================  ===========================
task           accepted formats                             example
=============  ===========================================  ===========================
binary         sparse ``(n,)``/``(n, 1)`` of 0/1; one-hot    ``[0, 1, 0]``
               ``(n, 2)``
multiclass     sparse ids ``(n,)``/``(n, 1)``; one-hot       ``[2, 0, 1]``
               ``(n, K)`` with exactly one 1 per row
multilabel     multi-hot ``(n, K)`` of 0/1 where some row    ``[[1, 0, 1], [0, 0, 0]]``
               does not hold exactly one 1
=============  ===========================================  ===========================

A one-hot matrix whose rows happen to be valid multi-hot rows is read as one-hot (multiclass); pass
``task="multilabel"`` when a multi-label problem has exactly one positive per row in the data at hand.

>>> import numpy as np
>>> infer_task([0, 1, 1, 0])
'binary'
>>> infer_task([[0, 1, 0], [1, 0, 0]])
'multiclass'
>>> infer_task([[0, 1, 1], [0, 0, 0]])
'multilabel'
>>> to_class_ids([[0, 1, 0], [1, 0, 0]]).tolist()
[1, 0]
>>> to_multi_hot([2, 0], num_classes=3).tolist()
[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from imbalance._validation import as_numpy, check_positive_int

Task = Literal["binary", "multiclass", "multilabel"]
LabelFormat = Literal["sparse", "one_hot", "multi_hot"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "multilabel")

__all__ = [
    "LabelInfo",
    "TASKS",
    "check_positive_int",
    "count_labels",
    "inspect_labels",
    "infer_task",
    "to_class_ids",
    "to_multi_hot",
    "to_one_hot",
]


@dataclass(frozen=True)
class LabelInfo:
    """What a label array is: its task, its format and its number of classes (or labels).

    ``num_classes`` is 2 for binary problems (whatever the format), ``K`` for multi-class problems and the number
    of labels for multi-label problems. ``num_samples`` is the number of rows.
    """

    task: str
    format: str
    num_classes: int
    num_samples: int


def _as_array(y: Any) -> np.ndarray:
    """Any array-like (list, numpy, pandas, a tensor of any backend) to a numpy array, without copying when possible."""
    arr = np.asarray(as_numpy(y))
    if arr.dtype == object or arr.dtype.kind in "USO":
        sample = arr.ravel()[:1].tolist()
        raise ValueError(
            "Labels must be numeric class ids or 0/1 indicator columns. Received values of type "
            f"{arr.dtype} such as {sample!r}; encode them first, e.g. with sklearn.preprocessing.LabelEncoder."
        )
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    return arr


def _first_bad(mask: np.ndarray, arr: np.ndarray) -> str:
    """Describe the first offending entry of ``arr`` selected by ``mask``: its position and value."""
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    where = f"row {index[0]}" + (f", column {index[1]}" if len(index) > 1 else "")
    return f"{where} holds {arr[index].item()!r}"


def _check_finite(arr: np.ndarray) -> None:
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"Labels must be finite; {_first_bad(~np.isfinite(arr), arr)}.")


def _check_integral(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind == "f":
        bad = arr != np.round(arr)
        if np.any(bad):
            raise ValueError(f"{what} must be whole numbers; {_first_bad(bad, arr)}.")


def inspect_labels(y: Any, num_classes: int | None = None, task: str | None = None) -> LabelInfo:
    """Decide the task, format and number of classes of a label array, and validate it.

    Args:
        y: labels: sparse class ids ``(n,)`` or ``(n, 1)``, one-hot ``(n, K)`` or multi-hot ``(n, K)``.
        num_classes: the number of classes (or labels) when known; some classes may be absent from ``y``.
            For sparse labels it must exceed every id; for matrices it must equal the number of columns.
        task: force the task when the data alone is ambiguous (``"multilabel"`` for a multi-label problem whose
            rows all hold exactly one positive). One of ``"binary"``, ``"multiclass"``, ``"multilabel"``.

    Raises:
        ValueError: for NaN or infinite labels, negative or non-integer ids, arrays with more than 2 dimensions,
            indicator matrices with values other than 0/1, a ``num_classes`` that contradicts the data, or an
            empty label array. The message names the offending row and value.

    >>> inspect_labels([3, 0, 1])
    LabelInfo(task='multiclass', format='sparse', num_classes=4, num_samples=3)
    >>> inspect_labels([[1, 0], [0, 1]])
    LabelInfo(task='binary', format='one_hot', num_classes=2, num_samples=2)
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)} or None. Received: task={task!r}")
    num_classes = check_positive_int("num_classes", num_classes)
    arr = _as_array(y)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(
            "Labels must be a 1-D array of class ids or a 2-D array of indicator columns. "
            f"Received an array of shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError("Labels are empty: received 0 rows.")
    _check_finite(arr)

    if arr.ndim == 1 or arr.shape[1] == 1:  # sparse ids
        ids = arr.reshape(-1)
        _check_integral(ids, "Class ids")
        if np.any(ids < 0):
            raise ValueError(f"Class ids must be >= 0; {_first_bad(ids < 0, ids)}.")
        top = int(ids.max())
        if task == "multilabel":
            raise ValueError(
                f"task='multilabel' needs a 2-D multi-hot matrix (one column per label). Received shape {arr.shape}."
            )
        if num_classes is not None and top >= num_classes:
            raise ValueError(
                f"Class ids must be < num_classes={num_classes}; {_first_bad(ids >= num_classes, ids)}."
            )
        k = num_classes if num_classes is not None else max(top + 1, 2)
        if task == "binary" and k > 2:
            raise ValueError(f"task='binary' needs ids in {{0, 1}}; {_first_bad(ids > 1, ids)}.")
        inferred = "binary" if k <= 2 else "multiclass"
        return LabelInfo(task=task or inferred, format="sparse", num_classes=max(k, 2), num_samples=arr.shape[0])

    # 2-D indicator matrix
    k = arr.shape[1]
    if num_classes is not None and num_classes != k:
        raise ValueError(
            f"Labels have {k} columns but num_classes={num_classes}; a one-hot or multi-hot matrix needs one "
            "column per class."
        )
    not_binary = (arr != 0) & (arr != 1)
    if np.any(not_binary):
        raise ValueError(f"One-hot and multi-hot labels must hold only 0 and 1; {_first_bad(not_binary, arr)}.")
    row_sums = arr.sum(axis=1)
    one_hot = bool(np.all(row_sums == 1))
    if task == "multilabel" or (task is None and not one_hot):
        return LabelInfo(task="multilabel", format="multi_hot", num_classes=k, num_samples=arr.shape[0])
    if not one_hot:
        bad = row_sums != 1
        row = int(np.argmax(bad))
        raise ValueError(
            f"task={task!r} needs one-hot rows with exactly one 1; row {row} holds {int(row_sums[row])} ones."
        )
    if task == "binary" and k != 2:
        raise ValueError(f"task='binary' needs a one-hot matrix with 2 columns. Received {k} columns.")
    inferred = "binary" if k == 2 else "multiclass"
    return LabelInfo(task=task or inferred, format="one_hot", num_classes=k, num_samples=arr.shape[0])


def infer_task(y: Any, num_classes: int | None = None) -> str:
    """``"binary"``, ``"multiclass"`` or ``"multilabel"`` for a label array (see :func:`inspect_labels`).

    >>> infer_task([0, 2, 1])
    'multiclass'
    """
    return inspect_labels(y, num_classes=num_classes).task


def to_class_ids(y: Any, num_classes: int | None = None) -> np.ndarray:
    """Integer class ids ``(n,)`` from sparse or one-hot labels (binary or multi-class).

    Multi-hot rows have no single class: they raise instead of being ``argmax``-ed (which is what Keras'
    ``class_weight`` silently does).

    >>> to_class_ids([[0.0], [1.0]]).tolist()
    [0, 1]
    """
    info = inspect_labels(y, num_classes=num_classes)
    arr = _as_array(y)
    if info.task == "multilabel":
        raise ValueError(
            "Multi-label (multi-hot) rows have no single class id; use to_multi_hot, or per-label weights "
            "(imbalance.weighting.pos_weights)."
        )
    if info.format == "sparse":
        return arr.reshape(-1).astype(np.int64)
    return np.argmax(arr, axis=1).astype(np.int64)


def to_multi_hot(y: Any, num_classes: int | None = None) -> np.ndarray:
    """A float32 ``(n, K)`` indicator matrix from any accepted format.

    Sparse binary labels give ``(n, 1)`` (one column for the positive class, as a sigmoid output has);
    sparse multi-class labels give their one-hot matrix; one-hot and multi-hot matrices are returned as float32.

    >>> to_multi_hot([1, 0]).tolist()
    [[1.0], [0.0]]
    """
    info = inspect_labels(y, num_classes=num_classes)
    arr = _as_array(y)
    if info.format != "sparse":
        return arr.astype(np.float32)
    ids = arr.reshape(-1).astype(np.int64)
    if info.task == "binary" and (num_classes is None or num_classes == 2):
        return ids.reshape(-1, 1).astype(np.float32)
    return np.eye(info.num_classes, dtype=np.float32)[ids]


def to_one_hot(y: Any, num_classes: int | None = None) -> np.ndarray:
    """A float32 one-hot ``(n, K)`` matrix from sparse or one-hot labels (binary gives 2 columns).

    >>> to_one_hot([1, 0]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    ids = to_class_ids(y, num_classes=num_classes)
    k = inspect_labels(y, num_classes=num_classes).num_classes
    return np.eye(k, dtype=np.float32)[ids]


def count_labels(y: Any, task: str, num_classes: int) -> np.ndarray:
    """Rows per class (class ids) or positives per label (a multi-hot matrix) of labels already in the normalised
    form: the one counting function of every module that has decided the format (int64, length ``num_classes``).

    >>> count_labels(np.array([0, 2, 2]), "multiclass", 3).tolist()
    [1, 0, 2]
    >>> count_labels(np.array([[1, 0], [1, 1]]), "multilabel", 2).tolist()
    [2, 1]
    """
    arr = np.asarray(y)
    if task == "multilabel":
        return arr.sum(axis=0).astype(np.int64).reshape(-1)
    return np.bincount(arr.reshape(-1).astype(np.int64), minlength=num_classes).astype(np.int64)
