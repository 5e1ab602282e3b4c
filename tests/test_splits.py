"""imbalance.splits.stratify_key reproduces, value for value, the two stratifications it replaced (the table
split's and compare's), so every split made before the renovation is made again."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from imbalance.splits import iterative_folds, stratify_key


# --- the two functions stratify_key replaced, copied verbatim as references -----------------------------------


def _io_stratify_key(y: np.ndarray) -> np.ndarray:
    """One group per row for stratification; multi-hot rows go to their rarest positive label; singletons pooled."""
    if y.ndim == 2:
        counts = y.sum(axis=0)
        rarity = np.where(y > 0, counts[None, :], np.inf)
        key = np.where(np.isfinite(rarity.min(axis=1)), np.argmin(rarity, axis=1), y.shape[1])
    else:
        key = y.copy()
    key = key.astype(np.int64)
    values, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    single = sizes[inverse] < 2
    if single.any():
        key = np.where(single, -1, key)
        if single.sum() == 1:  # a lone pooled row joins the largest group
            values, sizes = np.unique(key[~single], return_counts=True)
            key = np.where(single, values[np.argmax(sizes)], key)
    return key


def _runner_strata(y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    rarity = np.where(y > 0, counts[None, :], np.iinfo(np.int64).max)
    rarest = np.argmin(rarity, axis=1)
    strata = np.where(y.any(axis=1), rarest, -1)
    values, counts = np.unique(strata, return_counts=True)
    small = values[counts < 10]
    return np.where(np.isin(strata, small), -2, strata)


def _label_sets(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    k = int(rng.integers(2, 12))
    yield rng.integers(0, k, size=n)  # class ids, some classes rare
    yield rng.choice(k, size=n, p=np.r_[0.01, np.full(k - 1, 0.99 / (k - 1))])
    rates = rng.uniform(0.005, 0.4, size=k)
    multi = (rng.random((n, k)) < rates).astype(np.int64)  # multi-hot with empty rows and rare labels
    yield multi
    yield multi.astype(np.float32)


@pytest.mark.parametrize("seed", range(40))
def test_the_table_split_key_is_reproduced(seed):
    for y in _label_sets(seed):
        assert np.array_equal(stratify_key(y), _io_stratify_key(y))


@pytest.mark.parametrize("seed", range(40))
def test_compares_key_is_reproduced(seed):
    for y in _label_sets(seed):
        if y.ndim != 2:
            continue
        counts = y.sum(axis=0).astype(np.int64)
        expected = _runner_strata(y, counts)
        got = stratify_key(y, min_group=10, counts=counts, empty_group=-1, pooled_group=-2, merge_lone=False)
        assert np.array_equal(got, expected)


def test_a_lone_pooled_row_joins_the_largest_stratum_and_the_key_stratifies():
    y = np.array([0] * 6 + [1] * 3 + [2])
    key = stratify_key(y)
    assert key.tolist() == [0] * 6 + [1] * 3 + [0]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(np.zeros(len(y)), key))
    assert len(folds) == 3  # the lone row no longer breaks a stratified split


def test_iterative_folds_spread_every_labels_positives():
    rng = np.random.default_rng(0)
    y = (rng.random((300, 6)) < [0.02, 0.05, 0.1, 0.2, 0.3, 0.5]).astype(int)
    folds = iterative_folds(y, 3, seed=0)
    for j in range(6):
        per_fold = np.bincount(folds[y[:, j] == 1], minlength=3)
        assert per_fold.max() - per_fold.min() <= 1, (j, per_fold)
