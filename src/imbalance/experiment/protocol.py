"""The evaluation protocol of ``compare``: paired evaluation units and where each unit's threshold is chosen.

* **Evaluation units.** Each seed draws a stratified split. With enough rows of the class that matters (at least
  ``min_positives`` expected in the test part) a unit is one train / test split (``test_size``); otherwise the seed's
  rows are cut into ``folds`` stratified folds and each fold is a unit's test set, so every row is tested once per
  seed. Every strategy sees exactly the same units, so the comparison is paired.
* **Thresholds.** Inside a unit's training rows the decision threshold is chosen either on a stratified
  validation split (``val_size``) or, when that split would hold fewer than ``min_positives`` positives, on
  out-of-fold scores of ``inner_folds`` models trained on the rest (the unit's test scores are then the mean of
  those models): :func:`out_of_fold`.
* **Enough rows, checked before anything is trained.** Every class that matters (both classes of binary data, the
  ``class_id`` of multi-class data, else every class; every label of multi-label data) needs
  :meth:`Protocol.minimum_rows` rows: one in each of the ``folds`` test folds and ``inner_folds`` in each outer
  training part. :meth:`Protocol.units` refuses data with fewer, and any unit whose test part would miss such a
  class or whose training part could not place its threshold, in one line saying what to change.

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
from imbalance.splits import stratified_split, stratify_key

__all__ = ["Protocol", "Unit", "all_features", "check_confidence", "out_of_fold", "relevant_classes", "strata",
           "target_count", "unit_features"]


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

    def minimum_rows(self) -> int:
        """Rows of each class that matters the protocol needs: ``max(folds, ceil(inner_folds * folds / (folds - 1)))``.

        Stratified folds put ``floor(n / folds)`` or ``ceil(n / folds)`` of a class's ``n`` rows in each test fold, so
        every test fold holds one when ``n >= folds``; each outer training part then keeps ``n - ceil(n / folds)``,
        which must be at least ``inner_folds`` for the out-of-fold threshold (one row in each inner fold).

        >>> Protocol().minimum_rows(), Protocol(folds=2).minimum_rows(), Protocol(folds=5, inner_folds=3).minimum_rows()
        (3, 4, 5)
        """
        return max(self.folds, -(-self.inner_folds * self.folds // (self.folds - 1)))

    def check(self, d: ComparisonData, class_id: int | None) -> None:
        """Refuse data with fewer than :meth:`minimum_rows` rows of a class that matters (the one with the fewest
        rows is named, with what to change).

        >>> from imbalance.experiment.data import from_arrays
        >>> Protocol().check(from_arrays("toy", [[0.0]] * 300, [1] * 2 + [0] * 298), None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: class 1 has 2 rows; compare needs at least 3 (one in each of the folds=3 test folds, ...
        """
        counts = d.counts
        need = self.minimum_rows()
        short = [c for c in relevant_classes(d, class_id) if counts[c] < need]
        if short:
            c = min(short, key=lambda k: counts[k])
            what, rows = _describe(d, c, int(counts[c]))
            raise ValueError(f"{what} has {rows}; compare needs at least {need} (one in each of the folds={self.folds} "
                             f"test folds, and inner_folds={self.inner_folds} in each training part to choose the "
                             f"threshold out of fold): add rows of {what}, or lower folds / inner_folds (each at least "
                             "2).")

    def units(self, d: ComparisonData, class_id: int | None, seeds: int) -> list["Unit"]:
        """Every evaluation unit of ``seeds`` seeds, in order (seed, then fold); data too small for the protocol is
        refused first (:meth:`check`), and so is a unit whose test part misses a class that matters or whose training
        part cannot place its threshold (a hold-out split on few rows)."""
        from sklearn.model_selection import StratifiedKFold, train_test_split

        self.check(d, class_id)
        key = strata(d)
        positives = target_count(d, d.y, class_id)
        holdout = positives * self.test_size >= self.min_positives
        lean = holdout and lean_split(d)  # a flat-memory split: no index array of every row
        index = None if lean else np.arange(len(d.y), dtype=np.int32 if d.streamed and len(d.y) < 2**31 else
                                            np.int64)
        units = []
        for seed in range(seeds):
            if lean:
                train, test = stratified_split(key, self.test_size, seed)
                units.append(Unit(seed, 0, train, test, "holdout"))
            elif holdout:
                train, test = train_test_split(index, test_size=self.test_size, random_state=seed, stratify=key)
                units.append(Unit(seed, 0, np.sort(train), np.sort(test), "holdout"))
            else:
                kfold = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=seed)
                for fold, (train, test) in enumerate(kfold.split(index, key)):
                    units.append(Unit(seed, fold, train, test, "cv"))
        if d.streamed and len(d.y) < 2**31:  # features read per batch: keep the row indices compact (4 B a row)
            units = [Unit(u.seed, u.fold, u.train.astype(np.int32, copy=False), u.test.astype(np.int32, copy=False),
                          u.outer) for u in units]
        for unit in units:
            self._check_unit(d, class_id, unit)
        return units

    def _check_unit(self, d: ComparisonData, class_id: int | None, unit: "Unit") -> None:
        train_counts, test_counts, total = d.count(d.y[unit.train]), d.count(d.y[unit.test]), d.counts
        inner = self.inner(target_count(d, d.y[unit.train], class_id))
        for c in relevant_classes(d, class_id):
            what, rows = _describe(d, c, int(total[c]))
            place = f"seed {unit.seed}, fold {unit.fold} ({'hold-out split' if unit.outer == 'holdout' else 'fold'})"
            if test_counts[c] < 1:
                problem = f"{place} would test on none of the {rows} of {what}"
            elif inner == "cv" and train_counts[c] < self.inner_folds:
                problem = (f"{place} would train on {int(train_counts[c])} of the {rows} of {what}, fewer than "
                           f"inner_folds={self.inner_folds} for its out-of-fold threshold")
            elif inner == "validation" and train_counts[c] * self.val_size < 1:
                problem = (f"{place} would keep about {train_counts[c] * self.val_size:.1f} of the {rows} of {what} "
                           f"in its validation split (val_size={self.val_size}), too few to place a threshold")
            else:
                continue
            if unit.outer == "holdout":
                fix = (f"or raise min_positives (now {self.min_positives}) so that the units cross-validate, which "
                       "puts one in every fold")
            else:  # multi-label folds are stratified on each row's rarest label: a rare label can miss a fold
                fix = "or drop the label"
            raise ValueError(f"{problem}: add rows of {what}, {fix}.")

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


#: Above this many rows, a source's hold-out splits are drawn in flat memory (:func:`imbalance.splits.stratified_split`).
LEAN_SPLIT_ROWS = 1_000_000


def lean_split(d: ComparisonData) -> bool:
    """Whether ``d``'s hold-out splits are drawn in flat memory: features read per batch and more than
    :data:`LEAN_SPLIT_ROWS` rows (smaller data keeps scikit-learn's ``train_test_split``, and its results)."""
    return d.streamed and len(d.y) > LEAN_SPLIT_ROWS


def check_confidence(value: Any) -> Any:
    """``value`` unchanged when the threshold tuner accepts it as ``confidence``: ``"auto"``, ``None`` or a level in
    ``[0.5, 1)`` (one-sided, of a Clopper-Pearson bound); else a ValueError quoting it, before anything is trained
    (each unit's tuner would refuse it, and every run would fall back to 0.5).

    >>> check_confidence(0.95), check_confidence("auto"), check_confidence(None)
    (0.95, 'auto', None)
    >>> check_confidence(5)
    Traceback (most recent call last):
    ...
    ValueError: `confidence` must be 'auto', None or a level in [0.5, 1). Received: confidence=5
    """
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, (bool, str)) or not 0.5 <= number < 1:
        raise ValueError(f"`confidence` must be 'auto', None or a level in [0.5, 1). Received: confidence={value!r}")
    return value


def relevant_classes(d: ComparisonData, class_id: int | None) -> list[int]:
    """The classes whose rows every unit needs: both classes of binary data (positive first), ``class_id`` of
    multi-class data (every class without it: the macro average), every label of multi-label data."""
    if d.task == "binary":
        return [1, 0]
    if d.task == "multiclass" and class_id is not None:
        return [int(class_id)]
    return list(range(d.num_classes))


def _describe(d: ComparisonData, c: int, n: int) -> tuple[str, str]:
    """``("class 1", "2 rows")``, ``("class 0 ('no')", "1 row")`` or ``("label 'sport'", "2 positive rows")``."""
    name = d.class_names[c]
    what = f"class {c}" if name == str(c) else f"class {c} ({name!r})"
    what = f"label {name!r}" if d.task == "multilabel" else what
    return what, f"{n} {'positive ' if d.task == 'multilabel' else ''}row{'' if n == 1 else 's'}"


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


def unit_features(d: ComparisonData, unit: Unit) -> tuple[Any, Any]:
    """The unit's training and test features; a table's preprocessor is fitted on the training rows only. A feature
    source gives two :class:`~imbalance.data.sources.Rows` views (nothing read; its transform, if it needs one,
    fitted on the training rows)."""
    if d.streamed:
        from imbalance.data.sources import Rows

        transform = d.x.fit_transform(unit.train, unit.train_seed)
        return Rows(d.x, unit.train, transform), Rows(d.x, unit.test, transform)
    if d.preprocessor is None:
        x = np.asarray(d.x, np.float32)
        return x[unit.train], x[unit.test]
    transformer = d.preprocessor()
    x_train = transformer.fit_transform(d.x.iloc[unit.train])
    x_test = transformer.transform(d.x.iloc[unit.test])
    dense = [np.asarray(a.todense() if hasattr(a, "todense") else a, np.float32) for a in (x_train, x_test)]
    return dense[0], dense[1]


def all_features(d: ComparisonData, seed: int = 0) -> Any:
    """Every row's features, to train on (a refitted served model): an array, or a
    :class:`~imbalance.data.sources.Rows` view of every row of a source (nothing read); a table's preprocessor, or a
    source's transform, fitted on every row."""
    n = len(d.y)
    if d.streamed:
        from imbalance.data.sources import Rows

        every = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        return Rows(d.x, every, d.x.fit_transform(every, seed))
    if d.preprocessor is None:
        return np.asarray(d.x, np.float32)
    x = d.preprocessor().fit_transform(d.x)
    return np.asarray(x.todense() if hasattr(x, "todense") else x, np.float32)


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
                                callbacks, validation=(x_train[val_idx], y_train[val_idx]))
        fitted.append(m)
        val_scores[val_idx] = predict_scores(d, m, x_train[val_idx])
        test_scores += predict_scores(d, m, x_test) / inner_folds
        seen = seen_k if seen is None or seen_k is None else seen + seen_k
    return fitted, val_scores, test_scores, seen
