"""The exact threshold search: every distinct score a candidate, counts vectorised after one sort, and the
Clopper-Pearson confidence bounds that make a constraint hold on unseen data."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from imbalance.thresholds.objective import Objective

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
