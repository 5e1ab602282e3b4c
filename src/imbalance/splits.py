"""Stratification and folds on labels only: labels fit in memory even when features do not, so every split of
the package is made here on labels and row indices, and features are only indexed by the result.

* :func:`stratify_key` — one stratum per row (the class id, or a multi-hot row's rarest positive label), small
  strata pooled: what ``train_test_split(stratify=...)`` and ``StratifiedKFold`` need for any label format;
* :func:`iterative_folds` — iterative stratification of multi-hot labels (every label's positives spread evenly);
* :func:`out_of_fold_scores` — out-of-fold scores of a Keras model factory, to tune thresholds on every row.

>>> y = np.array([[1, 0], [1, 1], [0, 0], [1, 0], [0, 1], [0, 0]])
>>> stratify_key(y).tolist()    # rarest positive label (label 1 has 2 rows); rows without any: stratum 2
[0, 1, 2, 0, 1, 2]
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from imbalance.labels import inspect_labels, to_class_ids, to_multi_hot

__all__ = ["iterative_folds", "out_of_fold_scores", "stratified_split", "stratify_key"]


def stratify_key(y: Any, min_group: int = 2, counts: Any = None, empty_group: int | None = None,
                 pooled_group: int = -1, merge_lone: bool = True) -> np.ndarray:
    """One stratum per row: the class id of 1-D labels, or the rarest positive label of each multi-hot row (rarity
    by ``counts``, default the columns' sums; rows without a positive form stratum ``empty_group``, default the
    number of labels). Strata of fewer than ``min_group`` rows are pooled into ``pooled_group``; with
    ``merge_lone`` a pool of one row joins the largest stratum instead (a stratum of one row cannot be split).

    Stratum values matter: scikit-learn orders the strata by value when it deals rows to folds, so a relabelling
    changes the folds. :func:`imbalance.data.load_table`'s ``Table.split`` uses the defaults; ``compare`` uses
    ``stratify_key(y, min_group=10, counts=counts_of_all_rows, empty_group=-1, pooled_group=-2,
    merge_lone=False)`` for multi-label data (class ids as they are otherwise).

    >>> stratify_key(np.array([0, 0, 1, 1, 2])).tolist()   # the lone class-2 row joins the largest stratum
    [0, 0, 1, 1, 0]
    >>> y = np.array([[0, 1], [0, 1], [1, 1], [0, 0]])
    >>> stratify_key(y, min_group=1, empty_group=-1).tolist()   # rarest positive label; -1 without any
    [1, 1, 0, -1]
    """
    y = np.asarray(y)
    if y.ndim == 2:
        counts = y.sum(axis=0) if counts is None else np.asarray(counts)
        rarity = np.where(y > 0, counts[None, :], np.inf)
        empty = y.shape[1] if empty_group is None else empty_group
        key = np.where(np.isfinite(rarity.min(axis=1)), np.argmin(rarity, axis=1), empty)
    else:
        key = y.copy()
    key = key.astype(np.int64)
    values, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    small = sizes[inverse.reshape(-1)] < min_group
    if small.any():
        key = np.where(small, pooled_group, key)
        if merge_lone and small.sum() == 1:  # a lone pooled row joins the largest group
            values, sizes = np.unique(key[~small], return_counts=True)
            key = np.where(small, values[np.argmax(sizes)], key)
    return key


# --- folds and out-of-fold scores ---------------------------------------------------------------------------


def _take(x: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array, a pandas object, or a list / tuple / dict of arrays (multi-input models)."""
    if isinstance(x, dict):
        return {k: _take(v, index) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_take(v, index) for v in x)
    if hasattr(x, "iloc"):
        return x.iloc[index]
    return np.asarray(x)[index]


def _num_rows(x: Any) -> int:
    if isinstance(x, dict):
        return _num_rows(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return _num_rows(x[0])
    return len(x)


def iterative_folds(y: Any, n_splits: int, seed: int | None = None) -> np.ndarray:
    """Fold number (``0 .. n_splits-1``) of every row of a multi-hot matrix, by iterative stratification
    (Sechidis, Tsoumakas and Vlahavas, 2011): the rarest label's rows are dealt first, each to the fold that still
    wants most of that label, so every label's positives spread evenly, which shuffled ``KFold`` does not do for
    rare labels.

    >>> y = np.zeros((12, 3), int); y[:4, 0] = 1; y[4:6, 1] = 1; y[6:7, 2] = 1
    >>> folds = iterative_folds(y, 2, seed=0)
    >>> [sorted(np.bincount(folds[y[:, j] == 1], minlength=2).tolist()) for j in range(3)]
    [[2, 2], [1, 1], [0, 1]]
    """
    y = to_multi_hot(y, num_classes=None).astype(bool)
    n, num_labels = y.shape
    rng = np.random.default_rng(seed)
    wanted = np.full(n_splits, n / n_splits)
    wanted_label = np.tile(y.sum(axis=0) / n_splits, (n_splits, 1))  # (folds, labels)
    folds = np.full(n, -1, dtype=np.int64)
    remaining = y.copy()
    left = np.ones(n, dtype=bool)
    while True:
        counts = remaining[left].sum(axis=0)
        if not counts.any():
            break
        label = int(np.flatnonzero(counts == counts[counts > 0].min())[0])
        rows = np.flatnonzero(left & remaining[:, label])
        for row in rng.permutation(rows):
            want = wanted_label[:, label]
            best = np.flatnonzero(want == want.max())
            if best.size > 1:
                best = best[wanted[best] == wanted[best].max()]
            fold = int(rng.choice(best)) if best.size > 1 else int(best[0])
            folds[row] = fold
            left[row] = False
            wanted[fold] -= 1
            wanted_label[fold] -= y[row]
    for row in rng.permutation(np.flatnonzero(left)):  # rows without any label
        best = np.flatnonzero(wanted == wanted.max())
        fold = int(rng.choice(best))
        folds[row] = fold
        wanted[fold] -= 1
    return folds


def out_of_fold_scores(model_fn: Callable[[], Any], x: Any, y: Any, cv: Any = 5,
                       fit_kwargs: Mapping[str, Any] | None = None, seed: int | None = None) -> np.ndarray:
    """Scores of every row from a model that did not train on it: one fresh model per fold.

    Tune thresholds on these instead of a small validation split: every labelled row counts, so a constraint's
    confidence bound is tighter and more thresholds can be trusted (see
    :class:`~imbalance.thresholds.ThresholdTuner`).

    Args:
        model_fn: called once per fold with no argument; must return a new **compiled** Keras model (a fresh
            one every call — reusing a model would leak the previous folds' training).
        x: inputs: an array, a pandas frame, or a list / dict of arrays for a multi-input model.
        y: labels in any format :mod:`imbalance.labels` reads; passed to ``model.fit`` as given.
        cv: the number of folds (>= 2), or a scikit-learn splitter (its ``split(x_index, y)`` must put every row
            in exactly one test fold). With a number: ``StratifiedKFold`` on class ids (binary, multi-class) or
            iterative stratification (:func:`iterative_folds`) for multi-label rows.
        fit_kwargs: keyword arguments of ``model.fit`` (``epochs``, ``batch_size``, ``callbacks``, …);
            ``verbose=0`` unless given.
        seed: shuffles the folds, and seeds Keras (``keras.utils.set_random_seed(seed + fold)``) before each
            ``model_fn`` call, so the result is reproducible.

    Returns:
        ``model.predict`` outputs, one row per input row in the input order (float32 unless the model says
        otherwise): probabilities or logits, whatever the model outputs.

    Raises:
        ValueError: for ``cv < 2``, a class with fewer rows than folds, a splitter that does not test every row
            exactly once, or a model with several outputs.

    >>> import keras
    >>> x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32"); y = (x[:, 0] > 0.5).astype(int)
    >>> def small_model():
    ...     m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    ...     m.compile("adam", "binary_crossentropy")
    ...     return m
    >>> out_of_fold_scores(small_model, x, y, cv=2, fit_kwargs={"epochs": 1}, seed=0).shape
    (40, 1)
    """
    n = _num_rows(x)
    info = inspect_labels(y)
    if info.num_samples != n:
        raise ValueError(f"`x` has {n} rows but `y` has {info.num_samples}.")
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"`cv` must be >= 2 folds or a scikit-learn splitter. Received: cv={cv}")
        if info.task == "multilabel":
            fold_of = iterative_folds(y, int(cv), seed)
            splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(int(cv))]
        else:
            from sklearn.model_selection import StratifiedKFold

            ids = to_class_ids(y)
            counts = np.bincount(ids)
            present = np.flatnonzero(counts)
            rare = present[np.argmin(counts[present])]
            if counts[rare] < cv:
                raise ValueError(f"Class {int(rare)} has {int(counts[rare])} rows, fewer than cv={cv} folds: some "
                                 "folds would test none of it. Use fewer folds.")
            splitter = StratifiedKFold(n_splits=int(cv), shuffle=seed is not None, random_state=seed)
            splits = list(splitter.split(np.zeros(n), ids))
    elif hasattr(cv, "split"):
        strata = to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y)  # never argmax a multi-hot row
        splits = list(cv.split(np.zeros(n), strata))
    else:
        raise ValueError(f"`cv` must be a number of folds (>= 2) or a scikit-learn splitter. Received: cv={cv!r}")
    tested = np.zeros(n, dtype=np.int64)
    for _, test in splits:
        tested[test] += 1
    if not np.all(tested == 1):
        row = int(np.flatnonzero(tested != 1)[0])
        raise ValueError(f"`cv` must test every row exactly once; row {row} is tested {int(tested[row])} times.")

    import keras

    kwargs = {"verbose": 0, **dict(fit_kwargs or {})}
    out: np.ndarray | None = None
    for fold, (train, test) in enumerate(splits):
        if seed is not None:
            keras.utils.set_random_seed(int(seed) + fold)
        model = model_fn()
        model.fit(_take(x, train), _take(y, train), **kwargs)
        pred = model.predict(_take(x, test), verbose=0)
        if isinstance(pred, (list, tuple, dict)):
            raise ValueError("out_of_fold_scores needs a model with one output; received "
                             f"{len(pred)} outputs.")
        pred = np.asarray(pred)
        if out is None:
            out = np.empty((n,) + pred.shape[1:], dtype=pred.dtype)
        out[test] = pred
    assert out is not None
    return out


def stratified_split(key: Any, test_size: float, seed: int = 0, block: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """A stratified hold-out split in flat memory: sorted int32 ``(train, test)`` positions for labels ``key``
    (class ids or any integer stratum per row), each stratum's test share as close to ``test_size`` as the
    counts allow (the total ``ceil(test_size × n)`` shared out by largest remainder, at least one test and one
    training row of a stratum with two rows or more), the rows of each stratum chosen by a seeded shuffle.

    ``train_test_split(stratify=…)`` draws the same kind of split but holds several int64 arrays of every row at
    once (about 60 bytes a row): ``compare`` uses this one for sources of more than a million rows.

    >>> key = np.array([0] * 90 + [1] * 10)
    >>> train, test = stratified_split(key, 0.25, seed=0)
    >>> len(train), len(test), int((key[test] == 1).sum()), train.dtype.name
    (75, 25, 2, 'int32')
    >>> bool(np.intersect1d(train, test).size == 0 and len(np.union1d(train, test)) == 100)
    True
    """
    key = np.asarray(key).reshape(-1)
    n = len(key)
    if not 0 < test_size < 1:
        raise ValueError(f"`test_size` must be in (0, 1). Received: test_size={test_size!r}")
    strata, counts = np.unique(key, return_counts=True)
    test_counts = np.floor(counts * test_size + 1e-9).astype(np.int64)
    left = int(np.ceil(n * test_size - 1e-9)) - int(test_counts.sum())
    if left > 0:
        order = np.argsort(-(counts * test_size - test_counts), kind="stable")
        test_counts[order[:left]] += 1
    test_counts = np.where(counts >= 2, np.clip(test_counts, 1, counts - 1), test_counts)
    rng = np.random.default_rng(seed)
    dtype = np.int32 if n < 2**31 else np.int64
    is_test = np.zeros(n, bool)
    for stratum, k in zip(strata, test_counts):
        rows = np.concatenate([np.flatnonzero(key[a:a + block] == stratum).astype(dtype) + dtype(a)
                               for a in range(0, n, block)])
        rng.shuffle(rows)
        is_test[rows[:k]] = True
        del rows
    return _where(~is_test, dtype, block), _where(is_test, dtype, block)


def _where(mask: np.ndarray, dtype: Any, block: int) -> np.ndarray:
    """``np.flatnonzero(mask)`` as ``dtype``, a block at a time (no int64 array of every row)."""
    parts = [np.flatnonzero(mask[a:a + block]).astype(dtype) + dtype(a) for a in range(0, len(mask), block)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)
