"""The evaluation protocol of ``compare``: paired evaluation units and where each unit's threshold is chosen.

* **Evaluation units.** Each seed draws a stratified split. With enough rows of the class that matters (at least
  ``min_positives`` expected in the test part) a unit is one train / test split (``test_size``); otherwise the seed's
  rows are cut into ``folds`` stratified folds and each fold is a unit's test set, so every row is tested once per
  seed. Every strategy sees exactly the same units, so the comparison is paired.
* **Thresholds.** Inside a unit's training rows the decision threshold is chosen either on a stratified
  validation split (``val_size``) or, when that split would hold fewer than ``min_positives`` positives, on
  out-of-fold scores of ``inner_folds`` models trained on the rest (the unit's test scores are then the mean of
  those models): :func:`out_of_fold`.

Everything here works on labels and row indices; features are only indexed by :func:`unit_features`.

>>> from imbalance.experiment.data import prepare_data
>>> units = Protocol().units(prepare_data("digits_lt"), class_id=0, seeds=1)
>>> len(units), units[0].outer
(3, 'cv')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from imbalance._validation import check_fraction, check_integer
from imbalance.experiment.data import ComparisonData
from imbalance.experiment.training import Budget, predict_scores, train_model
from imbalance.splits import stratify_key

__all__ = ["Protocol", "Unit", "out_of_fold", "strata", "target_count", "unit_features"]


@dataclass(frozen=True)
class Protocol:
    """How ``compare`` splits the data (see the module docstring); the defaults are ``compare``'s."""

    test_size: float = 0.25
    val_size: float = 0.25
    folds: int = 3
    inner_folds: int = 2
    min_positives: int = 20

    def __post_init__(self) -> None:
        check_integer("folds", self.folds, 2)
        check_integer("inner_folds", self.inner_folds, 2)
        check_fraction("test_size", self.test_size)
        check_fraction("val_size", self.val_size)
        check_integer("min_positives", self.min_positives, 0)

    def units(self, d: ComparisonData, class_id: int | None, seeds: int) -> list["Unit"]:
        """Every evaluation unit of ``seeds`` seeds, in order (seed, then fold)."""
        from sklearn.model_selection import StratifiedKFold, train_test_split

        key = strata(d)
        positives = target_count(d, d.y, class_id)
        index = np.arange(len(d.y))
        units = []
        for seed in range(seeds):
            if positives * self.test_size >= self.min_positives:
                train, test = train_test_split(index, test_size=self.test_size, random_state=seed, stratify=key)
                units.append(Unit(seed, 0, np.sort(train), np.sort(test), "holdout"))
            else:
                kfold = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=seed)
                for fold, (train, test) in enumerate(kfold.split(index, key)):
                    units.append(Unit(seed, fold, train, test, "cv"))
        return units

    def inner(self, train_positives: int) -> str:
        """Where a unit's threshold is chosen: ``"validation"`` (a split of its training rows) when that split is
        expected to hold ``min_positives`` rows of the class that matters, else ``"cv"`` (out of fold)."""
        return "validation" if train_positives * self.val_size >= self.min_positives else "cv"


@dataclass(frozen=True)
class Unit:
    """One evaluation unit: the training and test rows of one seed's split (or fold)."""

    seed: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    outer: str  # "holdout" | "cv"

    @property
    def train_seed(self) -> int:
        """The seed of everything random inside the unit (inner split, model initialisation, sampling)."""
        return 1000 * self.seed + self.fold


def strata(d: ComparisonData) -> np.ndarray:
    """Labels to stratify on: the class ids, or for multi-label data the rarest positive label of each row (rows
    without positives form their own stratum; strata under 10 rows are pooled)."""
    if d.task != "multilabel":
        return d.y
    return stratify_key(d.y, min_group=10, counts=d.counts, empty_group=-1, pooled_group=-2, merge_lone=False)


def target_count(d: ComparisonData, y: np.ndarray, class_id: int | None) -> int:
    """Rows of ``y`` in the class that matters: the positive class, ``class_id``, or the rarest present class or
    label."""
    counts = d.count(y)
    if d.task == "binary":
        return int(counts[1])
    if class_id is not None:
        return int(counts[class_id])
    return int(counts[counts > 0].min()) if (counts > 0).any() else 0


def unit_features(d: ComparisonData, unit: Unit) -> tuple[np.ndarray, np.ndarray]:
    """The unit's training and test features; a table's preprocessor is fitted on the training rows only."""
    if d.preprocessor is None:
        x = np.asarray(d.x, np.float32)
        return x[unit.train], x[unit.test]
    transformer = d.preprocessor()
    x_train = transformer.fit_transform(d.x.iloc[unit.train])
    x_test = transformer.transform(d.x.iloc[unit.test])
    dense = [np.asarray(a.todense() if hasattr(a, "todense") else a, np.float32) for a in (x_train, x_test)]
    return dense[0], dense[1]


def out_of_fold(d: ComparisonData, strategy: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                key: np.ndarray | None, budget: Budget, inner_folds: int, model: str | Callable[..., Any] = "mlp",
                seed: int = 0, callbacks: Sequence[Any] = ()
                ) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray | None]:
    """``compare``'s threshold protocol for a small minority: ``inner_folds`` stratified folds of the training rows
    (on ``key``, shuffled with ``seed``), one model per fold (seed ``seed + 100 k``), out-of-fold scores of every
    training row to tune on, and test scores averaged (as probabilities) over the fold models.

    Returns ``(fold models, out-of-fold scores, test scores, classes seen in training or None)``; scores are
    probabilities ``(rows, outputs)``. The quality benchmark calls this too, so its ``compare`` rows are
    ``compare``'s protocol.
    """
    from sklearn.model_selection import StratifiedKFold

    kfold = StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=seed)
    val_scores = np.zeros((len(y_train), d.outputs), np.float32)
    test_scores = np.zeros((len(x_test), d.outputs), np.float32)
    fitted: list[Any] = []
    seen = None
    for k, (fit_idx, val_idx) in enumerate(kfold.split(np.arange(len(y_train)), key)):
        m, seen_k = train_model(d, strategy, x_train[fit_idx], y_train[fit_idx], budget, model, seed + 100 * k,
                                callbacks)
        fitted.append(m)
        val_scores[val_idx] = predict_scores(d, m, x_train[val_idx])
        test_scores += predict_scores(d, m, x_test) / inner_folds
        seen = seen_k if seen is None or seen_k is None else seen + seen_k
    return fitted, val_scores, test_scores, seen
