"""Decision thresholds for the user's objective, exact and safe on unseen data; prior correction.

A model trained on imbalanced data ranks well long before ``score >= 0.5`` is a good decision. This module turns
validation scores into the decision rule the user asked for:

=================================  ===============================================================================
name                               what it does
=================================  ===============================================================================
:func:`parse_objective`            one syntax for Python and the CLI: ``"f1"``, ``"f2"``, ``"fbeta:0.5"``,
                                   ``"recall@precision>=0.9"``, ``"precision@recall>=0.8"``, ``"cost:fp=1,fn=10"``
:class:`ThresholdTuner`            exact search over every distinct score (no grid) for binary, multi-label (one
                                   threshold per label) and multi-class (``class_id=k``) scores; constraints met by
                                   a Clopper-Pearson lower confidence bound by default
:class:`ThresholdLayer`            the decision rule as a serializable Keras layer: a saved model serves decisions
:func:`out_of_fold_scores`         out-of-fold scores of a Keras model factory (stratified folds), to tune on every
                                   labelled row instead of a small validation split
:func:`prior_shift`                Saerens et al. (2002) correction of probabilities after the class prior changed
=================================  ===============================================================================

The decision rule is always ``score >= threshold`` (a row whose score equals the threshold is predicted positive).

>>> import numpy as np
>>> y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
>>> s = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9])
>>> tuner = ThresholdTuner("f1").fit(y, s)
>>> tuner.thresholds_.tolist(), round(tuner.best_score_, 4)
([0.3], 0.8)
>>> tuner.predict(s).tolist()
[0, 0, 1, 1, 1, 1, 1, 1]
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np
from keras import ops

from imbalance._files import atomic_write_text
from imbalance.labels import TASKS, inspect_labels, to_class_ids, to_multi_hot
from imbalance._validation import check_scalar, quote

__all__ = [
    "ArgmaxLayer",
    "OBJECTIVE_FORMS",
    "Objective",
    "ThresholdLayer",
    "ThresholdTuner",
    "UnreachableTargetError",
    "UnreachableTargetWarning",
    "iterative_folds",
    "out_of_fold_scores",
    "parse_objective",
    "prior_shift",
]

# --- objectives ------------------------------------------------------------------------------------------------

OBJECTIVE_FORMS: tuple[str, ...] = (
    "'f1', 'f2', 'f0.5' (F-beta with beta > 0)",
    "'fbeta:0.5' (the same, beta after the colon)",
    "'recall@precision>=0.9' (best recall with precision at least 0.9; target in (0, 1])",
    "'precision@recall>=0.8' (best precision with recall at least 0.8; target in (0, 1])",
    "'cost:fp=1,fn=10' (least total cost of false positives and false negatives; costs >= 0)",
)

_NUMBER = r"([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)"
_F_SHORT = re.compile(rf"^f{_NUMBER}$")
_F_LONG = re.compile(rf"^fbeta[:=]{_NUMBER}$")
_CONSTRAINT = re.compile(rf"^(recall|precision)@(precision|recall)>={_NUMBER}$")
_COST = re.compile(r"^cost:(.+)$")
_COST_TERM = re.compile(rf"^(fp|fn)={_NUMBER}$")


@dataclass(frozen=True)
class Objective:
    """A parsed objective (see :func:`parse_objective`).

    ``kind`` is ``"fbeta"``, ``"recall_at_precision"``, ``"precision_at_recall"`` or ``"cost"``; ``beta`` is used by
    ``"fbeta"``, ``target`` by the two constraints, ``fp`` / ``fn`` (cost of one false positive / negative) by
    ``"cost"``. ``str(objective)`` is the canonical string, which parses back to the same objective.
    """

    kind: str
    beta: float = 1.0
    target: float | None = None
    fp: float = 1.0
    fn: float = 1.0

    @property
    def is_constraint(self) -> bool:
        """True for ``recall@precision>=P`` and ``precision@recall>=R``."""
        return self.kind in ("recall_at_precision", "precision_at_recall")

    @property
    def constrained(self) -> str | None:
        """The metric that must reach ``target`` (``"precision"`` / ``"recall"``), None for other objectives."""
        return {"recall_at_precision": "precision", "precision_at_recall": "recall"}.get(self.kind)

    @property
    def maximised(self) -> str:
        """The metric the tuner optimises: ``"f1"``, ``"f2"``, ``"recall"``, ``"precision"`` or ``"cost"``."""
        return {"fbeta": f"f{self.beta:g}", "recall_at_precision": "recall", "precision_at_recall": "precision",
                "cost": "cost"}[self.kind]

    def __str__(self) -> str:
        if self.kind == "fbeta":
            return f"f{self.beta:g}"
        if self.kind == "cost":
            return f"cost:fp={self.fp:g},fn={self.fn:g}"
        return f"{self.maximised}@{self.constrained}>={self.target:g}"


def _objective_error(text: Any, reason: str = "") -> ValueError:
    forms = "; ".join(OBJECTIVE_FORMS)
    detail = f" ({reason})" if reason else ""
    return ValueError(f"Cannot parse objective {text!r}{detail}. Accepted forms: {forms}.")


def parse_objective(objective: str | Objective) -> Objective:
    """Parse an objective string (case and spaces do not matter); an :class:`Objective` passes through.

    Raises:
        ValueError: for any other string; the message lists the accepted forms (:data:`OBJECTIVE_FORMS`).

    >>> parse_objective("recall@precision>=0.9")
    Objective(kind='recall_at_precision', beta=1.0, target=0.9, fp=1.0, fn=1.0)
    >>> str(parse_objective(" F2 ")), str(parse_objective("fbeta:0.5")), str(parse_objective("cost:fn=10,fp=1"))
    ('f2', 'f0.5', 'cost:fp=1,fn=10')
    """
    if isinstance(objective, Objective):
        return objective
    if not isinstance(objective, str):
        raise _objective_error(objective, f"expected a string, got {type(objective).__name__}")
    text = re.sub(r"\s+", "", objective.lower())
    match = _F_SHORT.match(text) or _F_LONG.match(text)
    if match:
        beta = float(match.group(1))
        if not (beta > 0 and math.isfinite(beta)):
            raise _objective_error(objective, f"beta must be > 0, got {match.group(1)}")
        return Objective("fbeta", beta=beta)
    match = _CONSTRAINT.match(text)
    if match:
        maximised, constrained, number = match.groups()
        if maximised == constrained:
            raise _objective_error(objective, "the maximised metric and the constrained one must differ")
        target = float(number)
        if not 0.0 < target <= 1.0:
            raise ValueError(
                f"The {constrained} target of objective {objective!r} must be in (0, 1]. Received: {target:g}. "
                f"Accepted forms: {'; '.join(OBJECTIVE_FORMS)}."
            )
        kind = "recall_at_precision" if maximised == "recall" else "precision_at_recall"
        return Objective(kind, target=target)
    match = _COST.match(text)
    if match:
        costs: dict[str, float] = {}
        for term in match.group(1).split(","):
            part = _COST_TERM.match(term)
            if not part or part.group(1) in costs:
                raise _objective_error(objective, "costs are written fp=A,fn=B, each once")
            costs[part.group(1)] = float(part.group(2))
        if set(costs) != {"fp", "fn"}:
            raise _objective_error(objective, "give both fp= and fn=")
        if not all(math.isfinite(v) for v in costs.values()) or costs["fp"] + costs["fn"] <= 0:
            raise _objective_error(objective, "costs must be finite, >= 0 and not both 0")
        return Objective("cost", fp=costs["fp"], fn=costs["fn"])
    raise _objective_error(objective)


# --- confidence bounds ---------------------------------------------------------------------------------------


def _beta_ppf(q: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.special import betaincinv

    return betaincinv(a, b, q)


def _lower_bound(successes: np.ndarray, trials: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound at ``confidence`` (0 when there is no success)."""
    k = np.asarray(successes, np.float64)
    n = np.asarray(trials, np.float64)
    out = np.zeros(np.broadcast(k, n).shape)
    some = np.broadcast_to(k > 0, out.shape)
    if np.any(some):
        kb, nb = np.broadcast_to(k, out.shape)[some], np.broadcast_to(n, out.shape)[some]
        out[some] = _beta_ppf(1.0 - confidence, kb, nb - kb + 1.0)
    return out


def _upper_bound(successes: np.ndarray, trials: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound at ``confidence`` (1 when every trial is a success)."""
    k = np.asarray(successes, np.float64)
    n = np.asarray(trials, np.float64)
    return 1.0 - _lower_bound(n - k, n, confidence)


def _bound_holds(successes: np.ndarray, trials: np.ndarray, target: float, confidence: float,
                 point: np.ndarray | None = None) -> np.ndarray:
    """Whether the Clopper-Pearson lower bound of ``successes / trials`` at ``confidence`` is >= ``target``.

    Exact and vectorised without inverting the beta distribution where it is not needed: the bound is at most the
    point estimate (no row passes below the target), and at least the Hoeffding bound ``k/n - sqrt(log(1/a) / 2n)``
    (every row above that passes); only rows in between evaluate ``I_target(k, n - k + 1) <= 1 - confidence``, which
    is the definition of the bound. ``point`` may pass ``successes / trials`` when it is already computed.
    """
    from scipy.special import betainc

    k = np.asarray(successes)
    n = np.asarray(trials)
    if point is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            point = np.where(n > 0, k / np.maximum(n, 1), 0.0)
    alpha = 1.0 - confidence
    holds = (point >= target) & (k > 0)
    rows = np.flatnonzero(holds)
    if rows.size:
        kr, nr = k[rows].astype(np.float64), n[rows].astype(np.float64)
        unsure = point[rows] - np.sqrt(math.log(1.0 / alpha) / (2.0 * nr)) < target
        if np.any(unsure):
            holds[rows[unsure]] = betainc(kr[unsure], nr[unsure] - kr[unsure] + 1.0, target) <= alpha
    return holds


# --- exact search --------------------------------------------------------------------------------------------


def _candidates(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct score of a positive row (ascending) with the true / false positive counts of
    ``scores >= that score``.

    Sorting each class once and counting the negatives at or above each candidate with ``searchsorted`` gives the
    same counts as one sort of all scores followed by cumulative sums, in less time (the sorts are SIMD sorts of
    values, not an ``argsort`` of indices).
    """
    pos = np.sort(scores[truth])
    neg = np.sort(scores[~truth])
    new = np.empty(pos.size, dtype=bool)
    new[0] = True
    np.not_equal(pos[1:], pos[:-1], out=new[1:])
    first = np.flatnonzero(new)
    thresholds = pos[first]
    tp = pos.size - first
    fp = neg.size - np.searchsorted(neg, thresholds, side="left")
    return thresholds, tp, fp


def _last_best(values: np.ndarray, mask: np.ndarray | None = None) -> int:
    """Index of the largest value (within a relative 1e-12) among ``mask``; ties go to the largest index, which is
    the largest threshold: the fewest predicted positives among equally good rules."""
    v = np.where(mask, values, -np.inf) if mask is not None else values
    best = np.max(v)
    tolerance = 1e-12 * max(1.0, abs(float(best)))
    return int(np.flatnonzero(v >= best - tolerance)[-1])


def _first_run_end(holds: np.ndarray) -> int | None:
    """Walking from the last index (the highest threshold) down, the last index of the first run of ``holds``."""
    order = holds[::-1]
    if not order.any():
        return None
    start = int(np.argmax(order))
    rest = np.flatnonzero(~order[start:])
    stop = start + int(rest[0]) - 1 if rest.size else order.size - 1
    return holds.size - 1 - stop


@dataclass
class _Choice:
    threshold: float
    score: float
    tp: int
    fp: int
    positives: int
    negatives: int
    reached: bool


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _search(truth: np.ndarray, scores: np.ndarray, objective: Objective, confidence: float | None,
            on_unreachable: str, where: str) -> _Choice:
    """The best threshold for one binary column (``truth`` bool, ``scores`` finite floats, both classes present)."""
    thresholds, tp, fp = _candidates(truth, scores)
    n_pos, n_neg = int(truth.sum()), int(truth.size - truth.sum())
    kind = objective.kind

    def choice(i: int, reached: bool = True) -> _Choice:
        if i == thresholds.size:  # predict nothing
            return _Choice(math.inf, _score(objective, 0, 0, n_pos, n_neg), 0, 0, n_pos, n_neg, reached)
        return _Choice(float(thresholds[i]), _score(objective, int(tp[i]), int(fp[i]), n_pos, n_neg),
                       int(tp[i]), int(fp[i]), n_pos, n_neg, reached)

    if kind == "fbeta":
        b2 = objective.beta ** 2
        value = (1.0 + b2) * tp / ((1.0 + b2) * tp + b2 * (n_pos - tp) + fp)
        return choice(_last_best(value))
    if kind == "cost":
        # Predicting nothing is a candidate too (threshold +inf): it wins when false positives cost enough.
        value = -(objective.fp * np.append(fp, 0) + objective.fn * (n_pos - np.append(tp, 0)))
        return choice(_last_best(value))

    precision = tp / (tp + fp)
    target = float(objective.target)  # type: ignore[arg-type]
    if kind == "recall_at_precision":
        if confidence is None:
            holds = precision >= target
            index = int(np.argmax(holds)) if holds.any() else None  # the lowest threshold: the most recall
        else:
            # Fixed-sequence rule: walk down from the highest threshold, start at the first whose lower bound meets
            # the target, stop before the first that fails. Taking the lowest of *all* passing thresholds would
            # look many times and keep a lucky one (see the class docstring).
            index = _first_run_end(_bound_holds(tp, tp + fp, target, confidence, point=precision))
        if index is not None:
            return choice(index)
        if confidence is None:  # the most precise threshold; among equals the lowest (the most recall)
            top = float(precision.max())
            best = int(np.flatnonzero(precision >= top - 1e-12 * top)[0])
            achieved = f"{_fmt(precision[best])} (point estimate)"
        else:
            best = _best_bound(tp, tp + fp, precision, confidence)
            bound = float(_lower_bound(tp[best], tp[best] + fp[best], confidence))
            achieved = (f"{_fmt(bound)} as a {confidence:g} lower confidence bound (point precision "
                        f"{_fmt(precision[best])} with {int(tp[best] + fp[best])} predicted positives)")
        return _unreachable(choice(best, reached=False), objective, confidence, on_unreachable, where, achieved,
                            n_pos)

    # precision@recall>=R: feasibility depends on the true positives only, and grows with them.
    recall = tp / n_pos
    if confidence is None:
        holds = recall >= target
    else:
        holds = tp >= _min_successes(n_pos, target, confidence)
    if holds.any():
        return choice(_last_best(precision, holds))
    best = 0  # the lowest candidate threshold: every positive predicted, the most recall there is
    bound = float(_lower_bound(tp[best], n_pos, confidence)) if confidence is not None else float(recall[best])
    achieved = (f"{_fmt(bound)} as a {confidence:g} lower confidence bound (recall 1 on {n_pos} positives)"
                if confidence is not None else _fmt(bound))
    return _unreachable(choice(best, reached=False), objective, confidence, on_unreachable, where, achieved, n_pos)


def _best_bound(tp: np.ndarray, trials: np.ndarray, point: np.ndarray, confidence: float) -> int:
    """Index of the largest lower confidence bound (ties: the lowest threshold, i.e. the most recall). Only rows
    whose point estimate reaches the best Hoeffding bound can hold it, so few bounds are inverted."""
    hoeffding = point - np.sqrt(math.log(1.0 / (1.0 - confidence)) / (2.0 * trials))
    floor = float(np.max(hoeffding))
    rows = np.flatnonzero(point >= floor)
    bounds = _lower_bound(tp[rows], trials[rows], confidence)
    top = float(np.max(bounds))
    return int(rows[np.flatnonzero(bounds >= top - 1e-12 * max(top, 1e-300))[0]])


def _min_successes(n: int, target: float, confidence: float) -> int:
    """Smallest ``k`` whose Clopper-Pearson lower bound of ``k / n`` at ``confidence`` is >= ``target`` (n + 1 when
    none is): the bound grows with ``k``, so a bisection finds it."""
    if not _bound_holds(np.array([n]), np.array([n]), target, confidence)[0]:
        return n + 1
    low, high = 0, n  # bound(low) fails (k=0 gives 0), bound(high) holds
    while high - low > 1:
        mid = (low + high) // 2
        if _bound_holds(np.array([mid]), np.array([n]), target, confidence)[0]:
            high = mid
        else:
            low = mid
    return high


def _score(objective: Objective, tp: int, fp: int, n_pos: int, n_neg: int) -> float:
    """The objective's value at these counts (cost: mean cost per row, lower is better)."""
    fn = n_pos - tp
    if objective.kind == "fbeta":
        b2 = objective.beta ** 2
        return (1.0 + b2) * tp / ((1.0 + b2) * tp + b2 * fn + fp) if tp else 0.0
    if objective.kind == "cost":
        return (objective.fp * fp + objective.fn * fn) / (n_pos + n_neg)
    if objective.kind == "recall_at_precision":
        return tp / n_pos
    return tp / (tp + fp) if tp + fp else math.nan


class UnreachableTargetError(ValueError):
    """No threshold meets the objective's constraint on the tuning data (``on_unreachable="raise"``)."""


class UnreachableTargetWarning(UserWarning):
    """No threshold met the constraint; the closest one was used (``on_unreachable="best"``)."""


def _unreachable(best: _Choice, objective: Objective, confidence: float | None, on_unreachable: str, where: str,
                 achieved: str, n_pos: int) -> _Choice:
    what = objective.constrained
    head = (f"No threshold reaches {what} >= {objective.target:g}{where}"
            + (f" with confidence={confidence:g} (Clopper-Pearson lower bound)" if confidence is not None else "")
            + f"; the best achievable {what} is {achieved}, at threshold {best.threshold:.6g}.")
    if on_unreachable == "best":
        warnings.warn(f"{head} Using that threshold (on_unreachable='best').", UnreachableTargetWarning,
                      stacklevel=4)
        return best
    advice = ["lower the target", "tune on more rows: out-of-fold scores of every labelled row "
                                  "(imbalance.thresholds.out_of_fold_scores) instead of a validation split "
                                  f"({n_pos} positives here)"]
    if confidence is not None:
        advice.append("confidence=None to trust the point estimate (it misses the target on new data about half "
                      "the time)")
    advice.append("on_unreachable='best' to take the closest threshold with a warning")
    raise UnreachableTargetError(f"{head} Options: " + "; ".join(advice) + ".")


# --- scores and labels ---------------------------------------------------------------------------------------


def _as_scores(scores: Any, what: str = "scores") -> np.ndarray:
    if hasattr(scores, "numpy") and callable(scores.numpy):
        scores = scores.numpy()
    if isinstance(scores, dict):
        raise ValueError(f"`{what}` must be one array; received a dict with keys {sorted(scores)} (a model with "
                         "several outputs? pass the scores output).")
    try:
        arr = np.asarray(scores)
    except (TypeError, ValueError):
        raise ValueError(f"`{what}` must be a numeric array. Received: {type(scores).__name__}") from None
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"`{what}` must hold numbers. Received values of type {arr.dtype} such as "
                         f"{arr.ravel()[:1].tolist()!r}.")
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"`{what}` must be an array of shape (n,), (n, 1) or (n, K) with n > 0. Received shape "
                         f"{arr.shape}.")
    finite = np.isfinite(arr)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        place = f"row {index[0]}" + (f", column {index[1]}" if arr.ndim == 2 else "")
        raise ValueError(f"`{what}` must be finite; {place} holds {arr[index].item()!r}. Remove or impute those "
                         "rows (NaN scores usually mean the model diverged).")
    return arr


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    out = expit(np.asarray(x, np.float64))
    return np.where(np.isposinf(x), np.inf, out)  # "predict nothing" stays +inf on either scale


def _softmax(z: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(np.asarray(z, np.float64), axis=1)


def _multiclass_decisions(probs: np.ndarray, class_id: int, threshold: float) -> np.ndarray:
    others = probs.copy()
    others[:, class_id] = -np.inf
    return np.where(probs[:, class_id] >= threshold, class_id, np.argmax(others, axis=1)).astype(np.int64)


# --- the tuner -------------------------------------------------------------------------------------------------

_ON_UNREACHABLE = ("raise", "best")
_FILE_FORMAT = "imbalance.ThresholdTuner"


class ThresholdTuner:
    """Choose decision thresholds (``score >= threshold``) for an objective on validation or out-of-fold scores.

    Tasks, decided from the labels (through :mod:`imbalance.labels`) and the scores' shape:

    * **binary** — scores ``(n,)`` or ``(n, 1)`` for the positive class; ``thresholds_`` has one entry;
      :meth:`predict` gives 0/1 in the scores' shape.
    * **multi-label** — multi-hot labels ``(n, L)`` and scores ``(n, L)``: one threshold per label, each tuned for
      the objective on its own column; :meth:`predict` gives a 0/1 matrix.
    * **multi-class** — class ids or one-hot labels and scores ``(n, K)`` (rows of a softmax): with ``class_id=k``
      the rule predicts ``k`` when its probability is ``>= thresholds_[0]``, else the most probable other class;
      the objective is measured on class ``k`` against the rest. ``class_id`` is required when ``K > 2``
      (``K == 2`` defaults to class 1). For argmax over all classes no threshold is needed.

    **The search is exact.** Every distinct score is a candidate; the objectives here all improve with more true
    positives and fewer false positives, so the best threshold is always the score of a positive row (a threshold at
    a negative row's score has the same true positives as the next positive score above it and more false
    positives). Each class is sorted once, the counts at every candidate are vectorised, and ties between equally
    good thresholds go to the largest threshold. ``"cost"`` also considers predicting nothing (threshold ``+inf``).

    **Which setting when.** A constraint (``recall@precision>=P``) set on the point estimate of a small validation
    set misses the target on new data about half the time. Measured on the 12 KEEL development datasets (5x2 CV,
    BENCHMARKS.md "Do tuned thresholds hold on unseen data?"): validation splits held a median of 7 positives and
    a point-estimate threshold for precision >= 0.8 kept test precision >= 0.8 in 51 % of the folds where it met
    the target (62 % on out-of-fold scores); with ``confidence=0.9`` on out-of-fold scores it held in 90 % (36/40),
    at the price of certifying the target in only 40 of 120 folds.

    * ``confidence`` (default ``"auto"``: 0.9 for constraints, unused for F-beta and cost) — a threshold is eligible
      only where the one-sided Clopper-Pearson lower bound (exact, conservative; ``scipy`` beta quantiles) of the
      constrained metric on the tuning counts reaches the target. For ``recall@precision``, thresholds are walked
      from the highest down: the chosen one is the lowest of the first run of eligible thresholds (fixed-sequence
      testing). Taking the lowest of *all* eligible thresholds would test many and keep a lucky one: in
      simulations (Gaussian scores, 100 positives, target 0.9) its true precision met the target in 84 % of draws
      at ``confidence=0.9``, against 93 % for the fixed-sequence rule. Use it whenever the constraint matters;
      expect less recall, and an :class:`UnreachableTargetError` when the data cannot support the target (with 10
      positives and no false positive the bound is 0.79 at 0.9).
    * ``confidence=None`` — the point estimate: the most recall (precision) on the tuning data; fine for F-beta,
      cost, and constraints on thousands of positives.
    * Cross-validation — tune on out-of-fold scores of every labelled row (:func:`out_of_fold_scores`, or your own
      folds concatenated) instead of one validation split: k times more positives, so tighter bounds and more
      recall at the same confidence. Use it when a validation split would hold fewer than a few dozen positives;
      then serve one model retrained on all rows (or the fold models' mean) with the tuned thresholds.

    Args:
        objective: an objective string or :class:`Objective` (see :func:`parse_objective`).
        class_id: the class to threshold for multi-class scores.
        confidence: ``"auto"``, ``None`` or a level in ``[0.5, 1)``. With F-beta and cost a level only adds the
            intervals to ``achieved_``.
        on_unreachable: ``"raise"`` (an :class:`UnreachableTargetError` that states the best achievable value) or
            ``"best"`` (the threshold that comes closest — the largest lower bound of the constrained metric — with
            an :class:`UnreachableTargetWarning`).
        from_logits: the scores are logits. Binary / multi-label thresholds are searched on the logits (sigmoid
            is monotone: the same decisions, no saturation) and ``thresholds_`` reports them as probabilities;
            multi-class logits are turned into softmax probabilities. :meth:`predict` and :meth:`to_layer` take
            scores on the scale given to :meth:`fit`.
        task: ``"multilabel"`` when multi-label targets have exactly one positive per row (they would otherwise
            read as one-hot multi-class labels); ``None`` decides from the labels.

    Attributes:
        thresholds_: ``np.ndarray`` of probabilities (or of the scores' own scale when they are neither
            probabilities nor ``from_logits``), one per label (multi-label) or one entry (binary, and the class
            threshold of ``class_id``). ``+inf`` means "never predict positive".
        score_thresholds_: the same on the scale of the scores given to :meth:`fit` (logits with ``from_logits``).
        best_score_: the objective on the tuning data at the chosen threshold(s): F-beta, recall (for
            ``recall@precision``), precision (for ``precision@recall``) or the mean cost per row (lower is better);
            a float, or an array per label.
        achieved_: what the threshold achieved on the tuning data: ``tp``, ``fp``, ``fn``, ``tn``, ``precision``,
            ``recall``, ``reached`` (whether the constraint was met) and, with a confidence level, the one-sided
            Clopper-Pearson bounds ``precision_lower`` / ``precision_upper`` / ``recall_lower`` /
            ``recall_upper`` (each one-sided at the level, so together a ``2 * confidence - 1`` interval) and
            ``confidence``. Floats, or arrays per label.
        task_, num_outputs_, class_id_, objective_ (the parsed objective), confidence_ (the level used or None).

    Raises (from :meth:`fit`):
        ValueError: constant scores, a single class in ``y_true``, NaN or infinite scores, ``class_id`` out of
            range or missing, an objective that does not parse, a target outside ``(0, 1]``, labels and scores of
            different lengths or shapes.
        UnreachableTargetError: a constraint no threshold meets, with ``on_unreachable="raise"``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.2).astype(int)
    >>> s = 1 / (1 + np.exp(-(rng.normal(size=2000) + 2.5 * y - 2)))
    >>> tuner = ThresholdTuner("recall@precision>=0.8").fit(y, s)
    >>> bool(tuner.achieved_["precision_lower"] >= 0.8), tuner.confidence_
    (True, 0.9)
    >>> plain = ThresholdTuner("recall@precision>=0.8", confidence=None).fit(y, s)
    >>> bool(plain.thresholds_[0] <= tuner.thresholds_[0])  # the point estimate trusts luckier thresholds
    True
    """

    def __init__(self, objective: str | Objective = "f1", class_id: int | None = None,
                 confidence: float | str | None = "auto", on_unreachable: str = "raise", from_logits: bool = False,
                 task: str | None = None) -> None:
        self.objective = objective
        self.class_id = class_id
        self.confidence = confidence
        self.on_unreachable = on_unreachable
        self.from_logits = from_logits
        self.task = task

    def __repr__(self) -> str:
        args = []
        defaults = {"class_id": None, "confidence": "auto", "on_unreachable": "raise", "from_logits": False,
                    "task": None}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                args.append(f"{name}={value!r}")
        return f"ThresholdTuner({', '.join([repr(str(self.objective))] + args)})"

    # -- validation ------------------------------------------------------------------------------------------

    def _resolved_confidence(self, objective: Objective) -> float | None:
        c = self.confidence
        if isinstance(c, str):
            if c != "auto":
                raise ValueError(f"`confidence` must be 'auto', None or a level in [0.5, 1). Received: "
                                 f"confidence={c!r}")
            return 0.9 if objective.is_constraint else None
        if c is None:
            return None
        return check_scalar("confidence", c, 0.5, 1.0, high_inclusive=False)

    def _check_params(self) -> tuple[Objective, float | None]:
        objective = parse_objective(self.objective)
        confidence = self._resolved_confidence(objective)
        if self.on_unreachable not in _ON_UNREACHABLE:
            raise ValueError(f"`on_unreachable` must be one of {list(_ON_UNREACHABLE)}. Received: "
                             f"on_unreachable={self.on_unreachable!r}")
        if not isinstance(self.from_logits, (bool, np.bool_)):
            raise ValueError(f"`from_logits` must be True or False. Received: from_logits={self.from_logits!r}")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"`task` must be one of {list(TASKS)} or None. Received: task={self.task!r}")
        if self.class_id is not None and (isinstance(self.class_id, bool)
                                          or not isinstance(self.class_id, (int, np.integer))):
            raise ValueError(f"`class_id` must be an integer or None. Received: class_id={quote(self.class_id)}")
        return objective, confidence

    def _problem(self, y_true: Any, scores: np.ndarray) -> tuple[str, np.ndarray, np.ndarray, int | None]:
        """(task, truth columns (n, m) bool, score columns (n, m), class_id) for the search."""
        n = scores.shape[0]
        rows = np.shape(y_true.numpy() if hasattr(y_true, "numpy") else y_true)
        if len(rows) and rows[0] != n:
            raise ValueError(f"`y_true` has {rows[0]} rows but `scores` has {n}; they must describe the same rows.")
        if scores.ndim == 1 or scores.shape[1] == 1:
            info = inspect_labels(y_true, task=self.task)
            if info.task != "binary":
                raise ValueError(
                    f"`scores` has one column (a binary problem) but `y_true` is {info.task} with "
                    f"{info.num_classes} classes/labels. Pass one score column per class (multi-class, with "
                    "class_id) or per label (multi-label)."
                )
            if self.class_id is not None:
                raise ValueError(f"`class_id` is for multi-class scores with one column per class; binary scores "
                                 f"of shape {scores.shape} need none. Received: class_id={self.class_id}")
            truth = to_class_ids(y_true) == 1
            column = scores.reshape(n, 1)
            return "binary", truth.reshape(n, 1), column, None
        k = scores.shape[1]
        try:
            info = inspect_labels(y_true, num_classes=k, task=self.task)
        except ValueError as error:
            raise ValueError(f"Labels do not match scores of shape {scores.shape}: {error}") from None
        if info.task == "multilabel":
            if self.class_id is not None:
                raise ValueError(f"`class_id` is for multi-class scores; multi-label scores get one threshold per "
                                 f"label. Received: class_id={self.class_id}")
            truth = to_multi_hot(y_true).astype(bool)
            if truth.shape[1] != k:
                raise ValueError(f"Multi-label `y_true` has {truth.shape[1]} labels but `scores` has {k} columns.")
            probs = scores
            return "multilabel", truth, probs, None
        class_id = self.class_id
        if class_id is None:
            if k != 2:
                raise ValueError(
                    f"Multi-class scores ({k} columns) need `class_id`: the class whose threshold to tune (e.g. "
                    "class_id=0 for the rare class that matters); the rule predicts it when its probability passes "
                    "the threshold, else the most probable other class. For multi-label targets with one positive "
                    "per row, pass task='multilabel'."
                )
            class_id = 1
        if not 0 <= class_id < k:
            raise ValueError(f"`class_id` must be in [0, {k - 1}] for scores with {k} columns (classes). "
                             f"Received: class_id={class_id}")
        ids = to_class_ids(y_true, num_classes=k)
        probs = _softmax(scores) if self.from_logits else scores
        return "multiclass", (ids == class_id).reshape(n, 1), probs[:, class_id:class_id + 1], int(class_id)

    # -- fit / predict ---------------------------------------------------------------------------------------

    def fit(self, y_true: Any, scores: Any) -> "ThresholdTuner":
        """Tune the threshold(s) on labels and scores (validation or out-of-fold); returns ``self``."""
        objective, confidence = self._check_params()
        arr = _as_scores(scores)
        task, truth, columns, class_id = self._problem(y_true, arr)
        names = self._column_names(task, class_id, truth.shape[1])
        choices = []
        for j in range(truth.shape[1]):
            t, s = truth[:, j], columns[:, j]
            positives = int(t.sum())
            if positives == 0 or positives == t.size:
                which = "no positive" if positives == 0 else "no negative"
                kind = "label" if task == "multilabel" else "class"
                raise ValueError(
                    f"`y_true` has {which} rows{names[j] or ''} ({positives} of {t.size} rows are "
                    f"{'class ' + str(class_id) if task == 'multiclass' else 'positive'}): a threshold needs both "
                    f"positive and negative rows{' of every ' + kind if task != 'binary' else ''}."
                )
            low, high = s.min(), s.max()
            if low == high:
                raise ValueError(
                    f"`scores` are constant{names[j] or ''}: every row holds {float(low)!r}, so no threshold can "
                    "separate the classes (an untrained or collapsed model?)."
                )
            choices.append(_search(t, s, objective, confidence, self.on_unreachable, names[j]))
        self._set_fitted(task, class_id, arr, objective, confidence, choices)
        return self

    @staticmethod
    def _column_names(task: str, class_id: int | None, m: int) -> list[str]:
        if task == "multilabel":
            return [f" for label {j}" for j in range(m)]
        if task == "multiclass":
            return [f" for class {class_id}"]
        return [""]

    def _set_fitted(self, task: str, class_id: int | None, arr: np.ndarray, objective: Objective,
                    confidence: float | None, choices: list[_Choice]) -> None:
        self.task_ = task
        self.class_id_ = class_id
        self.objective_ = objective
        self.confidence_ = confidence
        self.num_outputs_ = 1 if arr.ndim == 1 else int(arr.shape[1])
        raw = np.array([c.threshold for c in choices], dtype=np.float64)
        self.score_thresholds_ = raw
        logit_scale = self.from_logits and task != "multiclass"
        self.thresholds_ = _expit(raw) if logit_scale else raw.copy()
        achieved = [_achieved(c, confidence) for c in choices]
        scores = np.array([c.score for c in choices])
        if task == "multilabel":
            self.best_score_ = scores
            self.achieved_ = {key: np.array([a[key] for a in achieved]) for key in achieved[0]}
        else:
            self.best_score_ = float(scores[0])
            self.achieved_ = achieved[0]

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This ThresholdTuner is not fitted yet: call fit(y_true, scores) (or "
                                 "ThresholdTuner.load(path)) before predict, to_layer or save.")

    def predict(self, scores: Any) -> np.ndarray:
        """Decisions for scores on the scale given to :meth:`fit`: 0/1 in the scores' shape (binary, multi-label)
        or class ids ``(n,)`` (multi-class).

        >>> ThresholdTuner("f1").fit([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8]).predict([0.2, 0.5]).tolist()
        [0, 1]
        """
        self._check_fitted()
        arr = _as_scores(scores)
        expected = self.num_outputs_
        if self.task_ == "binary":
            if arr.ndim == 2 and arr.shape[1] != 1:
                raise ValueError(f"This tuner was fitted on binary scores; `scores` must have shape (n,) or (n, 1). "
                                 f"Received shape {arr.shape}.")
            return (arr >= self.score_thresholds_[0]).astype(np.int64)
        if arr.ndim != 2 or arr.shape[1] != expected:
            raise ValueError(f"This tuner was fitted on scores with {expected} columns; `scores` must have shape "
                             f"(n, {expected}). Received shape {arr.shape}.")
        if self.task_ == "multilabel":
            return (arr >= self.score_thresholds_).astype(np.int64)
        probs = _softmax(arr) if self.from_logits else arr
        return _multiclass_decisions(probs, int(self.class_id_), float(self.score_thresholds_[0]))

    def to_layer(self, name: str | None = None) -> "ThresholdLayer":
        """A :class:`ThresholdLayer` with this rule, for scores on the scale given to :meth:`fit`.

        ``keras.Sequential([model, tuner.to_layer()])`` or ``keras.Model(inp, [scores, tuner.to_layer()(scores)])``
        serves decisions, and survives ``model.save`` / ``keras.models.load_model``.

        >>> layer = ThresholdTuner("f1").fit([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8]).to_layer()
        >>> layer(np.array([[0.2], [0.5]], "float32")).numpy().ravel().tolist()
        [0, 1]
        """
        self._check_fitted()
        return ThresholdLayer(self.score_thresholds_.tolist(), task=self.task_, class_id=self.class_id_,
                              from_logits=bool(self.from_logits), name=name)

    # -- persistence ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The parameters and the fitted state as JSON-ready data (non-finite numbers as strings)."""
        self._check_fitted()
        achieved = {k: _json_number(v) for k, v in self.achieved_.items()}
        return {
            "format": _FILE_FORMAT,
            "version": 1,
            "params": {"objective": str(parse_objective(self.objective)), "class_id": _json_number(self.class_id),
                       "confidence": _json_number(self.confidence), "on_unreachable": self.on_unreachable,
                       "from_logits": bool(self.from_logits), "task": self.task},
            "task": self.task_,
            "class_id": self.class_id_,
            "num_outputs": self.num_outputs_,
            "confidence_used": self.confidence_,
            "thresholds": _json_number(self.thresholds_),
            "score_thresholds": _json_number(self.score_thresholds_),
            "best_score": _json_number(self.best_score_),
            "achieved": achieved,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tuner as JSON, atomically (a temporary file in the same folder, then ``os.replace``)."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        atomic_write_text(path, text)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ThresholdTuner":
        """A fitted tuner from :meth:`to_dict` data."""
        if not isinstance(data, Mapping) or data.get("format") != _FILE_FORMAT:
            received = f"keys {sorted(data)}" if isinstance(data, Mapping) else repr(data)
            raise ValueError(f"Not a saved ThresholdTuner: expected a JSON object with \"format\": "
                             f"\"{_FILE_FORMAT}\". Received {received}.")
        tuner = cls(**data["params"])
        objective = parse_objective(tuner.objective)
        tuner.task_ = data["task"]
        tuner.class_id_ = data["class_id"]
        tuner.num_outputs_ = int(data["num_outputs"])
        tuner.objective_ = objective
        tuner.confidence_ = data["confidence_used"]
        tuner.thresholds_ = np.asarray(_from_json_number(data["thresholds"]), np.float64)
        tuner.score_thresholds_ = np.asarray(_from_json_number(data["score_thresholds"]), np.float64)
        best = _from_json_number(data["best_score"])
        tuner.best_score_ = np.asarray(best, np.float64) if isinstance(best, list) else best
        tuner.achieved_ = {k: (np.asarray(v) if isinstance(v, list) else v)
                           for k, v in ((k, _from_json_number(v)) for k, v in data["achieved"].items())}
        return tuner

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ThresholdTuner":
        """Read a tuner written by :meth:`save`.

        >>> import tempfile, pathlib
        >>> tuner = ThresholdTuner("f2").fit([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     tuner.save(pathlib.Path(d) / "t.json")
        ...     ThresholdTuner.load(pathlib.Path(d) / "t.json").thresholds_.tolist()
        [0.4]
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); expected a file written by "
                             "ThresholdTuner.save.") from None
        return cls.from_dict(data)


def _achieved(c: _Choice, confidence: float | None) -> dict[str, Any]:
    tp, fp = c.tp, c.fp
    fn, tn = c.positives - tp, c.negatives - fp
    out: dict[str, Any] = {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tp / c.positives,
        "reached": bool(c.reached),
    }
    if confidence is not None:
        predicted = tp + fp
        out.update({
            "precision_lower": float(_lower_bound(tp, predicted, confidence)) if predicted else math.nan,
            "precision_upper": float(_upper_bound(tp, predicted, confidence)) if predicted else math.nan,
            "recall_lower": float(_lower_bound(tp, c.positives, confidence)),
            "recall_upper": float(_upper_bound(tp, c.positives, confidence)),
            "confidence": confidence,
        })
    return out


def _json_number(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_json_number(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_number(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    return value


def _from_json_number(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json_number(v) for v in value]
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return value


# --- the Keras layer -----------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="imbalance")
class ThresholdLayer(keras.layers.Layer):
    """Scores in, decisions out: ``score >= threshold`` as a serializable Keras layer (no weights).

    * ``task="binary"``: input ``(..., 1)`` or ``(...,)``, one threshold; output 0/1 of the same shape.
    * ``task="multilabel"``: input ``(..., L)``, ``L`` thresholds; output 0/1 ``(..., L)``.
    * ``task="multiclass"``: input ``(..., K)``, one threshold for ``class_id``; output class ids ``(...,)``:
      ``class_id`` where its probability passes, else the most probable other class.

    ``thresholds`` are on the scale of the input: logits when the model outputs logits (``from_logits=True``;
    binary and multi-label compare the logits directly, multi-class applies a softmax first). The comparison runs
    in float64 (float32 scores convert exactly), so decisions equal :meth:`ThresholdTuner.predict` on the same
    scores; for multi-class logits the softmax may differ from numpy's in the last bit, which matters only for a
    probability equal to the threshold. Outputs are int32. Usually built by :meth:`ThresholdTuner.to_layer`.

    >>> layer = ThresholdLayer([0.3, 0.7], task="multilabel")
    >>> layer(np.array([[0.5, 0.5], [0.2, 0.9]], "float32")).numpy().tolist()
    [[1, 0], [0, 1]]
    >>> rule = ThresholdLayer([0.2], task="multiclass", class_id=0)  # class 0 from probability 0.2 on
    >>> rule(np.array([[0.25, 0.5, 0.25], [0.1, 0.3, 0.6]])).numpy().tolist()
    [0, 2]
    """

    def __init__(self, thresholds: float | Sequence[float], task: str = "binary", class_id: int | None = None,
                 from_logits: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "float64")  # float32 scores convert exactly; no autocast to float32
        super().__init__(**kwargs)
        values = [float(v) for v in np.ravel(np.asarray(thresholds, dtype=np.float64))]
        if task not in TASKS:
            raise ValueError(f"`task` must be one of {list(TASKS)}. Received: task={task!r}")
        if not values or any(math.isnan(v) for v in values):
            raise ValueError(f"`thresholds` must be non-empty numbers. Received: thresholds={quote(thresholds)}")
        if task != "multilabel" and len(values) != 1:
            raise ValueError(f"task={task!r} takes one threshold. Received: thresholds={values}")
        if task == "multiclass":
            if class_id is None or isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) \
                    or class_id < 0:
                raise ValueError(f"task='multiclass' needs a class_id >= 0. Received: class_id={class_id!r}")
            class_id = int(class_id)
        elif class_id is not None:
            raise ValueError(f"`class_id` is only for task='multiclass'. Received: class_id={class_id!r}")
        self.thresholds = values
        self.task = task
        self.class_id = class_id
        self.from_logits = bool(from_logits)

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1] if len(input_shape) else None
        if self.task == "multilabel" and last is not None and last != len(self.thresholds):
            raise ValueError(f"ThresholdLayer has {len(self.thresholds)} thresholds but its input has {last} "
                             f"columns (labels). Input shape: {tuple(input_shape)}")
        if self.task == "multiclass" and last is not None and not self.class_id < last:
            raise ValueError(f"ThresholdLayer has class_id={self.class_id} but its input has {last} columns "
                             f"(classes). Input shape: {tuple(input_shape)}")
        if self.task == "binary" and len(input_shape) >= 2 and last not in (None, 1):
            raise ValueError(f"A binary ThresholdLayer takes one score column. Input shape: {tuple(input_shape)}")
        self.built = True

    def call(self, scores: Any) -> Any:
        x = ops.cast(scores, "float64")
        if self.task == "multiclass":
            probs = ops.softmax(x, axis=-1) if self.from_logits else x
            k = self.class_id
            passes = probs[..., k] >= ops.convert_to_tensor(self.thresholds[0], "float64")
            mask = ops.one_hot(k, ops.shape(probs)[-1], dtype="bool")
            others = ops.argmax(ops.where(mask, ops.convert_to_tensor(-np.inf, "float64"), probs), axis=-1)
            return ops.cast(ops.where(passes, k, others), "int32")
        t = ops.convert_to_tensor(np.asarray(self.thresholds, np.float64))
        if self.task == "binary":
            t = t[0]
        return ops.cast(x >= t, "int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": list(self.thresholds), "task": self.task,
                "class_id": self.class_id, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="imbalance")
class ArgmaxLayer(keras.layers.Layer):
    """Scores ``(..., K)`` in, the class id of the highest score out (int32): the untuned multi-class decision,
    as a serializable layer for a saved model's ``decisions`` output (no weights).

    >>> ArgmaxLayer()(np.array([[0.2, 0.5, 0.3], [0.7, 0.2, 0.1]], "float32")).numpy().tolist()
    [1, 0]
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def call(self, scores: Any) -> Any:
        return ops.cast(ops.argmax(scores, axis=-1), "int32")


# --- cross-validated scores ----------------------------------------------------------------------------------


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
    confidence bound is tighter and more thresholds can be trusted (see :class:`ThresholdTuner`).

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


# --- prior shift ---------------------------------------------------------------------------------------------


def _check_prior(name: str, value: Any, size: int | None) -> np.ndarray:
    arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    if arr.ndim > 1 or arr.size == 0 or (size is not None and arr.ndim == 1 and arr.size != size):
        expected = "a scalar" if size is None else f"a scalar or {size} values"
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={quote(value)}")
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr >= 1)
    if np.any(bad):
        i = int(np.argmax(np.ravel(bad)))
        raise ValueError(f"Every prior in `{name}` must be in (0, 1) (a class with prior 0 or 1 cannot be "
                         f"re-weighted); entry {i} is {float(np.ravel(arr)[i])!r}. Received: {name}={quote(value)}")
    return arr


def _check_distribution(name: str, value: Any, k: int) -> np.ndarray:
    arr = _check_prior(name, value, k)
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must hold {k} class priors for multi-class probabilities. Received: "
                         f"{name}={quote(value)}")
    if abs(float(arr.sum()) - 1.0) > 1e-6:
        raise ValueError(f"The class priors in `{name}` must sum to 1; they sum to {float(arr.sum())!r}. "
                         f"Received: {name}={quote(value)}")
    return arr


def prior_shift(probs: Any, train_prior: Any, target_prior: Any, task: str | None = None) -> np.ndarray:
    """Correct probabilities for a change of class prior (Saerens, Latinne and Decaestecker, 2002).

    A model trained where class ``k`` had prior ``train_prior[k]`` outputs ``p(k | x)`` under that prior. Where the
    prior is ``target_prior`` (the real base rate, after resampling or class weights changed the training one),
    Bayes' rule gives ``p'(k | x) ∝ p(k | x) · target_prior[k] / train_prior[k]``, renormalised over the classes.
    The companion at initialisation is :func:`imbalance.weighting.output_bias` (start the last layer at the
    log-prior); this corrects the outputs afterwards. A class weight ``w_k`` acts like a training prior
    proportional to ``prior_k · w_k``.

    * **binary** — ``probs`` ``(n,)`` or ``(n, 1)``: probability of the positive class; priors are the positive
      rate (a scalar) or ``[p(0), p(1)]``.
    * **multi-label** — ``probs`` ``(n, L)`` of independent sigmoids; priors per label (``L`` positive rates, or a
      scalar for all), each column corrected as a binary problem.
    * **multi-class** — ``probs`` ``(n, K)``, rows of a softmax; priors are ``K`` probabilities summing to 1.

    Args:
        probs: probabilities in ``[0, 1]`` (not logits).
        train_prior: the prior the model was trained under (0.5 after balanced resampling).
        target_prior: the prior to correct to.
        task: ``"binary"``, ``"multilabel"`` or ``"multiclass"``; ``None`` decides from the shape: one column is
            binary; ``K`` columns whose rows all sum to 1 are multi-class, otherwise multi-label.

    Returns:
        float64 probabilities of the shape of ``probs`` (float32 in, float32 out).

    Raises:
        ValueError: probabilities outside ``[0, 1]`` or not finite, priors outside ``(0, 1)``, multi-class priors
            that do not sum to 1 or have the wrong length, softmax rows that do not sum to 1.

    >>> prior_shift([0.5, 0.9], train_prior=0.5, target_prior=0.1).round(4).tolist()
    [0.1, 0.5]
    >>> prior_shift([[0.5, 0.25, 0.25]], [1/3, 1/3, 1/3], [0.2, 0.4, 0.4]).round(4).tolist()
    [[0.3333, 0.3333, 0.3333]]
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)} or None. Received: task={task!r}")
    raw = np.asarray(probs.numpy() if hasattr(probs, "numpy") else probs)
    if raw.dtype.kind not in "fiub" or raw.ndim not in (1, 2) or raw.size == 0:
        raise ValueError(f"`probs` must be a non-empty numeric array of shape (n,), (n, 1) or (n, K). Received "
                         f"shape {raw.shape} of type {raw.dtype}.")
    out_dtype = raw.dtype if raw.dtype in (np.float32, np.float64) else np.float64
    p = raw.astype(np.float64)
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        place = f"row {index[0]}" + (f", column {index[1]}" if p.ndim == 2 else "")
        raise ValueError(f"`probs` must be probabilities in [0, 1] (apply a sigmoid / softmax to logits first); "
                         f"{place} holds {raw[index].item()!r}.")
    columns = 1 if p.ndim == 1 else p.shape[1]
    if task is None:
        if columns == 1:
            task = "binary"
        else:
            task = "multiclass" if np.allclose(p.sum(axis=1), 1.0, atol=1e-4) else "multilabel"
    if task == "binary":
        if columns != 1:
            raise ValueError(f"task='binary' takes probabilities of shape (n,) or (n, 1). Received shape {p.shape}.")
        old, new = _binary_prior("train_prior", train_prior), _binary_prior("target_prior", target_prior)
        return _shift_columns(p, old, new).astype(out_dtype)
    if task == "multilabel":
        old = _check_prior("train_prior", train_prior, columns)
        new = _check_prior("target_prior", target_prior, columns)
        return _shift_columns(p, old, new).astype(out_dtype)
    if columns < 2:
        raise ValueError(f"task='multiclass' takes rows of a softmax with K >= 2 columns. Received shape {p.shape}.")
    sums = p.sum(axis=1)
    off = np.abs(sums - 1.0) > 1e-4
    if np.any(off):
        row = int(np.argmax(off))
        raise ValueError(f"Multi-class probabilities are rows of a softmax summing to 1; row {row} sums to "
                         f"{float(sums[row])!r}. For independent sigmoid outputs pass task='multilabel'.")
    old = _check_distribution("train_prior", train_prior, columns)
    new = _check_distribution("target_prior", target_prior, columns)
    q = p * (new / old)
    return (q / q.sum(axis=1, keepdims=True)).astype(out_dtype)


def _binary_prior(name: str, value: Any) -> np.ndarray:
    """The positive rate from a scalar or a ``[p(0), p(1)]`` pair."""
    arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 2:
        return _check_distribution(name, value, 2)[1]
    if arr.ndim != 0:
        raise ValueError(f"`{name}` of a binary problem must be the positive rate (a scalar) or [p(0), p(1)]. "
                         f"Received: {name}={quote(value)}")
    return _check_prior(name, value, None)


def _shift_columns(p: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Binary correction of each column: ``p r1 / (p r1 + (1 - p) r0)``, exact at p = 0 and p = 1."""
    r1 = new / old
    r0 = (1.0 - new) / (1.0 - old)
    num = p * r1
    return num / (num + (1.0 - p) * r0)
