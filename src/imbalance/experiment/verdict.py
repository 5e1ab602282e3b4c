"""The verdict of a comparison: a winner only beyond the noise; otherwise a rule fixed in advance chooses, but only
among the candidates whose mean is within a practical margin of the best.

Every candidate is scored on the same evaluation units (seed × fold), so the comparison is paired. Signs are taken
so that higher is better; ``best`` is the highest mean, and for every other candidate ``s`` the per-unit
difference ``d_s = best − s`` has mean ``D_s``, standard deviation ``S_s`` and standard error ``SE_s = S_s / √n``
over the ``n`` units.

1. **Winner.** A one-sided paired t-test of ``d_s`` asks whether the best really is better. The best is the
   **winner** only when it beats the runner-up with ``p < alpha`` (0.05).
2. **Tied.** Otherwise the candidates the best does not beat (``p >= alpha``) are tied with it, less those whose
   mean is below a candidate the best does beat (with few units a scattered candidate escapes the test without
   being any good).
3. **Close.** A tied candidate is *close* when ``D_s <= margin_s``, the **practical margin**::

       margin_s = min(max(SE_s, min_effect), max_effect)

   with ``min_effect = 0.01`` and ``max_effect = 0.05`` for objectives on [0, 1] (F-beta, recall, precision),
   ``2 %`` and ``10 %`` of the best mean's size for a cost; with a single unit there is no ``SE_s`` and the margin
   is ``min_effect``. The rule fixed in advance chooses among the close candidates only:

   * with a ``preference`` (an order measured elsewhere, such as :data:`BINARY_F1_ORDER`), the first close
     candidate in that order;
   * otherwise, and for candidates the order does not list, the cheapest (plain cross-entropy before class weights
     before a special loss before resampling); the best mean breaks equal costs.

   The best is always close, so when no other candidate is, the best mean is recommended. A candidate whose mean
   is below the best by more than its margin is **never** recommended, whatever its p-value.
4. **Too few units.** When a tied candidate is *apart* (below the best by more than its margin, yet not beaten
   beyond the noise), or when there is a single unit, the verdict says the units are too few
   (``too_few_units``) and, from the observed difference and spread, how many units a one-sided paired t-test at
   ``alpha`` would need for 80 % power (``units_needed``, :func:`paired_units_needed`; the most over the apart
   candidates).

Why this margin. *One standard error* is the classic rule for choosing among models that the data cannot tell
apart (the "one-standard-error rule" of Breiman et al. 1984 and of Hastie, Tibshirani & Friedman, *Elements of
Statistical Learning* §7.10): a mean difference smaller than its own standard error is what resampling the units
would produce by chance, so letting a prior decide there costs nothing measurable. The floor ``min_effect``: a
difference of one point of F1, recall or precision is negligible in practice, and smaller than the spacing of the
leading entries of the measured order itself (test F1 0.603, 0.602, 0.593 … on the development suite), so it
never blocks the rule even when the standard error is tiny or unknown. The ceiling ``max_effect``: the order was
measured with mean test F1 differences of at most about 0.05 between the strategies it ranks first and the tuned
cross-entropy (0.603 vs 0.552, BENCHMARKS.md); a prior that never claimed more than that cannot outweigh a lead
larger than that measured on the user's own data, however scattered the units. So a 0.27 lead over two units
(p = 0.076: too few units for any test to confirm it) is no longer overruled by the order: the best mean is
recommended, and the verdict says how many units would confirm it.

**Constraints.** For ``recall@precision>=P`` and ``precision@recall>=R`` (``constraint=("precision", P)`` …) the
verdict counts the units where the constraint held on test (``held``), lists the candidates for which it held in
no more than half of the units (``unmet``) and says so in words (``goal``) when it held in no more than half of the
units for the recommended candidate, or for every candidate: a recall "at precision ≥ 0.8" measured at a
threshold whose precision on test is 0.3 is not what was asked for.

>>> runs = [{"strategy": s, "seed": i, "fold": 0, "objective": v}
...         for i in range(5) for s, v in (("baseline", 0.50 + 0.01 * i), ("focal", 0.70 + 0.01 * (i % 2)))]
>>> v = verdict(runs, ["baseline", "focal"], higher_is_better=True, costs={"baseline": 0, "focal": 2})
>>> v.winner, v.recommended
('focal', 'focal')
>>> tie = [{"strategy": s, "seed": i, "fold": 0, "objective": 0.6 + 0.01 * ((i + k) % 3)}
...        for i in range(6) for k, s in enumerate(("baseline", "oversample@0.5"))]
>>> verdict(tie, ["baseline", "oversample@0.5"], costs={"baseline": 0, "oversample@0.5": 3}).recommended
'baseline'
>>> verdict(tie, ["baseline", "oversample@0.5"], costs={"baseline": 0, "oversample@0.5": 3},
...         preference=BINARY_F1_ORDER).recommended
'oversample@0.5'

Far apart over two units: the order does not overrule the best mean, and the verdict says what would confirm it.

>>> far = [{"strategy": s, "seed": i, "fold": 0, "objective": v}
...        for i, pair in enumerate(((0.78, 0.45), (0.69, 0.48))) for s, v in zip(("weighted_bce", "weighted_bce@0.5"), pair)]
>>> v = verdict(far, ["weighted_bce", "weighted_bce@0.5"], preference=BINARY_F1_ORDER)
>>> v.winner, v.recommended, v.too_few_units, v.units_needed
(None, 'weighted_bce', True, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["BINARY_F1_ORDER", "MAX_EFFECT", "MIN_EFFECT", "Verdict", "paired_units_needed", "summary_table",
           "verdict"]

ALPHA = 0.05
#: The power :func:`paired_units_needed` plans for.
POWER = 0.8
#: The practical margin's floor and ceiling for objectives on [0, 1] (see the module docstring).
MIN_EFFECT, MAX_EFFECT = 0.01, 0.05
#: The same for a cost (no natural unit): fractions of the best mean's size.
MIN_EFFECT_RELATIVE, MAX_EFFECT_RELATIVE = 0.02, 0.10

#: The tie-break order of ``compare`` for binary data and the F1 objective: a prior, measured on the development
#: suite (``benchmarks/quality.py``, BENCHMARKS.md: 12 KEEL datasets, stratified 5x2 CV, the same MLP for every
#: method), not a recipe: every registered binary strategy under each decision rule, sorted by its mean rank of test
#: F1 over those datasets. It only chooses among candidates within the practical margin of the best mean on the
#: user's own data. ``name`` is the threshold tuned on training rows, ``name@0.5`` the same model decided at
#: probability 0.5. Deciding at 0.5 after rebalancing ranked above every tuned threshold there: on the small
#: validation sets of those datasets (2-78 positives) a tuned F1 threshold overfits, and ``oversample@0.5`` beat the
#: tuned plain cross-entropy with Wilcoxon p = 0.007 (0.603 vs 0.559). ``tests/test_benchmarks.py`` checks this tuple
#: against the stored results, so it cannot drift from what was measured.
BINARY_F1_ORDER: tuple[str, ...] = (
    "oversample@0.5", "smote@0.5", "weighted_bce@0.5", "cb_focal@0.5", "class_weight@0.5", "asl@0.5",
    "oversample", "weighted_bce", "class_weight", "asl", "cb_focal", "smote", "baseline", "focal@0.5", "focal",
    "undersample@0.5", "baseline@0.5", "undersample",
)


@dataclass
class Verdict:
    """What the comparison found (the rules are in the module docstring).

    ``winner`` is ``None`` for a tie; ``recommended`` is always set; ``p_values[s]`` is the one-sided paired
    p-value of "the best beats ``s``"; ``units`` is the number of paired units; ``tied`` the candidates the best
    does not beat, ``close`` those of them within their practical margin ``margins[s]`` of the best mean (the fixed
    rule chose among these; the best first), ``apart`` the tied ones below it by more than the margin (never
    recommended). ``too_few_units`` says the units could not confirm a difference that matters (or that one unit
    allows no test); ``units_needed`` is then the number of paired units that would (80 % power), when the spread
    is known. ``means`` are the candidates' mean objectives. For a constraint objective, ``held[s]`` is the share
    of units where the constraint held on test, ``unmet`` the candidates for which it held in no more than half,
    and ``goal`` says so in words (empty when it held for the recommended candidate). ``str(verdict)`` is
    ``reason``, the whole verdict in words."""

    best: str
    winner: str | None
    recommended: str
    tied: list[str]
    p_values: dict[str, float] = field(default_factory=dict)
    units: int = 0
    reason: str = ""
    margins: dict[str, float] = field(default_factory=dict)
    close: list[str] = field(default_factory=list)
    apart: list[str] = field(default_factory=list)
    too_few_units: bool = False
    units_needed: int | None = None
    means: dict[str, float] = field(default_factory=dict)
    held: dict[str, float] = field(default_factory=dict)
    unmet: list[str] = field(default_factory=list)
    goal: str = ""

    def __str__(self) -> str:
        return self.reason


def _paired(runs: Sequence[dict[str, Any]], strategies: Sequence[str], metric: str) -> tuple[np.ndarray, list]:
    """Matrix (strategies × units) of ``metric`` over the units that every strategy finished."""
    table: dict[tuple[int, int], dict[str, float]] = {}
    for r in runs:
        if r["strategy"] in strategies:
            table.setdefault((r["seed"], r["fold"]), {})[r["strategy"]] = float(r[metric])
    units = sorted(u for u, row in table.items() if all(s in row for s in strategies))
    values = np.array([[table[u][s] for u in units] for s in strategies], dtype=float).reshape(len(strategies), -1)
    return values, units


def paired_power(effect: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the one-sided paired t-test at level ``alpha`` over ``n`` units when the true mean difference is
    ``effect`` standard deviations of the differences (the noncentral t distribution, exact).

    >>> round(paired_power(1.0, 8), 3)
    0.815
    """
    from scipy import stats

    if n < 2:
        return 0.0
    critical = stats.t.ppf(1.0 - alpha, n - 1)
    return float(stats.nct.sf(critical, n - 1, math.sqrt(n) * effect))


def paired_units_needed(difference: float, sd: float, alpha: float = ALPHA, power: float = POWER,
                        limit: int = 1_000_000) -> int | None:
    """The fewest paired units for which a one-sided paired t-test at ``alpha`` has at least ``power`` to detect a
    mean difference ``difference`` when the differences have standard deviation ``sd`` (the observed ones, in the
    verdict). ``None`` when it would take more than ``limit`` units.

    >>> paired_units_needed(0.5, 1.0), paired_units_needed(0.27, 0.0849)
    (27, 3)
    """
    if not difference > 0:
        raise ValueError(f"`difference` must be > 0. Received: difference={difference!r}")
    if not sd > 0:
        raise ValueError(f"`sd` must be > 0. Received: sd={sd!r}")
    effect = difference / sd
    low, high = 2, 4
    while paired_power(effect, high, alpha) < power:  # the power grows with n: double, then bisect
        low, high = high, high * 2
        if high > 2 * limit:
            return None
    if paired_power(effect, low, alpha) >= power:
        return low
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if paired_power(effect, middle, alpha) >= power else (middle, high)
    return high if high <= limit else None


def _p_value(diff: np.ndarray) -> float:
    """One-sided paired t-test p-value of "the mean of ``diff`` is > 0"."""
    from scipy import stats

    if len(diff) < 2:
        return 1.0  # one unit: no test is possible
    if np.allclose(diff, diff[0]):
        return 0.0 if diff[0] > 0 else 1.0  # the same margin on every unit: the t statistic is undefined
    return float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)


def _names(items: Sequence[str]) -> str:
    return ", ".join(items)


def verdict(
    runs: Sequence[dict[str, Any]],
    strategies: Sequence[str],
    higher_is_better: bool = True,
    costs: dict[str, float] | None = None,
    metric: str = "objective",
    alpha: float = ALPHA,
    preference: Sequence[str] | None = None,
    preference_source: str = "the development suite (BENCHMARKS.md)",
    min_effect: float | None = None,
    max_effect: float | None = None,
    constraint: tuple[str, float] | None = None,
) -> Verdict:
    """Decide winner or tie from per-unit results (records with ``strategy``, ``seed``, ``fold`` and ``metric``).

    ``costs`` rank the close candidates when ``preference`` (an order measured on other data, named by
    ``preference_source`` in the reason) lists none of them; the best mean breaks equal costs. ``min_effect`` /
    ``max_effect`` bound the practical margin (default: :data:`MIN_EFFECT` / :data:`MAX_EFFECT` when higher is
    better, :data:`MIN_EFFECT_RELATIVE` / :data:`MAX_EFFECT_RELATIVE` of the best mean's size for a cost).
    ``constraint`` (``("precision", 0.8)`` for ``recall@precision>=0.8``) reads each record's ``held`` and the
    constrained metric on test, and says when the constraint was not met."""
    strategies = list(strategies)
    if not strategies:
        raise ValueError("verdict() needs at least one strategy.")
    costs = costs or {}
    values, units = _paired(runs, strategies, metric)
    if values.shape[1] == 0:
        raise ValueError("No evaluation unit was finished by every strategy; nothing to compare yet.")
    sign = 1.0 if higher_is_better else -1.0
    raw_means = np.nanmean(values, axis=1)
    means = raw_means * sign
    order = list(np.argsort(-means, kind="stable"))
    best = strategies[order[0]]
    n = values.shape[1]
    size = abs(float(raw_means[order[0]]))
    low = min_effect if min_effect is not None else (MIN_EFFECT if higher_is_better else MIN_EFFECT_RELATIVE * size)
    high = max_effect if max_effect is not None else (MAX_EFFECT if higher_is_better else MAX_EFFECT_RELATIVE * size)
    high = max(high, low)
    p_values: dict[str, float] = {}
    lead: dict[str, float] = {}
    spread: dict[str, float] = {}
    margins: dict[str, float] = {}
    for i in order[1:]:
        diff = sign * (values[order[0]] - values[i])
        diff = diff[~np.isnan(diff)]
        s = strategies[i]
        p_values[s] = _p_value(diff)
        lead[s] = float(means[order[0]] - means[i])
        spread[s] = float(np.std(diff, ddof=1)) if len(diff) > 1 else float("nan")
        se = spread[s] / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
        margins[s] = float(min(max(se, low), high))
    mean_of = {s: float(raw_means[k]) for k, s in enumerate(strategies)}
    name = "higher" if higher_is_better else "lower"
    held, unmet, goal = _constraint(runs, strategies, units, constraint)

    def finish(v: Verdict) -> Verdict:
        v.margins, v.means, v.held, v.unmet = margins, mean_of, held, unmet
        v.goal = goal(v.recommended)
        v.reason = f"{v.reason} {v.goal}".strip()
        return v

    if len(strategies) == 1:
        return finish(Verdict(best, best, best, [best], {}, n, f"Only one strategy ran: {best}.", close=[best]))
    runner_up = strategies[order[1]]
    if n >= 2 and p_values[runner_up] < alpha:
        reason = (f"{best} wins: its {metric} is {name} than the runner-up {runner_up} on the paired units "
                  f"(one-sided paired t-test over {n} units, p = {p_values[runner_up]:.3g}).")
        return finish(Verdict(best, best, best, [best], p_values, n, reason, close=[best]))
    tied = [best] + [s for s, p in p_values.items() if p >= alpha]
    # A strategy the test could not separate from the best only because its results scatter must not be
    # recommended over one the test did separate but whose mean is higher: keep the tied ones at or above the
    # best mean that the best beat.
    beaten = [means[strategies.index(s)] for s, p in p_values.items() if p < alpha]
    below = [s for s in tied if beaten and means[strategies.index(s)] < max(beaten)]
    tied = [s for s in tied if s not in below]
    # within the margin, up to rounding (with two units a lead equals its standard error when one unit shows none)
    close = [best] + [s for s in tied[1:] if lead[s] <= margins[s] + 1e-9 * max(1.0, abs(margins[s]))]
    apart = [s for s in tied[1:] if s not in close]
    preferred = [s for s in (preference or ()) if s in close]
    if len(close) == 1:
        recommended, rule = best, "the best mean: no other candidate is within the practical margin of it"
    elif preferred:
        recommended = preferred[0]
        rule = f"the first of these close candidates in the order measured on {preference_source}"
    else:
        recommended = min(close, key=lambda s: (costs.get(s, 99), -means[strategies.index(s)]))
        rule = "the cheapest of these close candidates"
    if n < 2:
        why = "only one evaluation unit: no test is possible"
    else:
        why = f"{best} does not beat {runner_up} beyond the noise (p = {p_values[runner_up]:.3g} over {n} units)"
    sentences = []
    if len(close) > 1:
        others = close[1:]
        sentences.append(
            f"Tie between {_names(close)}: {why}, and {_names(others)} {'is' if len(others) == 1 else 'are'} "
            f"within the practical margin of its mean ({_margin_text(others, lead, margins)}).")
    else:
        sentences.append(f"No winner beyond the noise: {why}.")
    sentences.append(f"Recommended: {recommended}, {rule}.")
    if apart:
        sentences.append(
            f"{_names(apart)} {'is' if len(apart) == 1 else 'are'} below {best} by more than the margin "
            f"({_margin_text(apart, lead, margins)}) without being beaten beyond the noise: never recommended.")
    if below:
        sentences.append(f"{_names(below)} also within the noise, but with a mean below a strategy that {best} "
                         "beats.")
    needed = None
    too_few = n < 2 or bool(apart)
    if too_few:
        text, needed = _too_few(best, apart, lead, spread, n, alpha)
        sentences.append(text)
    return finish(Verdict(best, None, recommended, tied, p_values, n, " ".join(sentences), close=close,
                          apart=apart, too_few_units=too_few, units_needed=needed))


def _margin_text(names: Sequence[str], lead: dict[str, float], margins: dict[str, float]) -> str:
    """``"a 0.021 below, margin 0.047; b 0.028 below, margin 0.050"``, or with one margin for all of them
    ``"a 0.063, b 0.113 below; margin 0.050"``."""
    if len(names) > 1 and len({f"{margins[s]:.3f}" for s in names}) == 1:
        return f"{', '.join(f'{s} {lead[s]:.3f}' for s in names)} below; margin {margins[names[0]]:.3f}"
    return "; ".join(f"{s} {lead[s]:.3f} below, margin {margins[s]:.3f}" for s in names)


def _too_few(best: str, apart: Sequence[str], lead: dict[str, float], spread: dict[str, float], n: int,
             alpha: float) -> tuple[str, int | None]:
    """The words on units too few to confirm the best's lead over the ``apart`` candidates, and the paired units
    that would (the most over them; ``None`` when the spread is unknown)."""
    if n < 2:
        return ("One unit is too few to tell anything apart: the spread, and so the units a test needs, shows "
                "from two units on; run more seeds or folds."), None
    needed = [(paired_units_needed(lead[s], spread[s], alpha), s) for s in apart if spread[s] > 0]
    needed = [(k, s) for k, s in needed if k is not None]
    text = f"The {n} units are too few to confirm {best}'s lead over {apart[0] if len(apart) == 1 else 'them'}"
    if not needed:
        return text + ".", None
    most, hardest = max(needed)
    most = max(most, n + 1)
    test = f"one-sided paired t-test, alpha {alpha:g}, {POWER:.0%} power at the observed difference and spread"
    if len(apart) == 1:
        return f"{text}: about {most} paired units would ({test}).", most
    return f"{text}: about {most} paired units would confirm all of them ({hardest} needs the most; {test}).", most


def _constraint(runs: Sequence[dict[str, Any]], strategies: Sequence[str], units: list,
                constraint: tuple[str, float] | None) -> tuple[dict[str, float], list[str], Any]:
    """(share of units where the constraint held per candidate, the candidates for which it held in no more than
    half, a function of the recommended candidate giving the words)."""
    if constraint is None:
        return {}, [], lambda recommended: ""
    metric, target = constraint
    wanted = set(units)
    held: dict[str, float] = {}
    reached: dict[str, float] = {}
    counts: dict[str, tuple[int, int]] = {}
    for s in strategies:
        mine = [r for r in runs if r["strategy"] == s and (r["seed"], r["fold"]) in wanted]
        flags = [float(r["held"]) for r in mine if r.get("held") is not None]
        values = [float(r[metric]) for r in mine if r.get(metric) is not None and r[metric] == r[metric]]
        if flags:
            counts[s] = (int(round(sum(flags))), len(flags))
            held[s] = sum(flags) / len(flags)
        if values:
            reached[s] = float(np.mean(values))
    unmet = [s for s in strategies if s in held and held[s] <= 0.5]
    goal_text = f"{metric} ≥ {target:g}"

    def words(recommended: str) -> str:
        if not held:
            return ""
        top = max(reached, key=lambda s: reached[s]) if reached else None
        best_reached = (f"; the best mean test {metric} reached was {reached[top]:.3g}, by {top}" if top else "")
        if all(counts[s][0] == 0 for s in counts):
            return (f"Goal not met: no candidate kept {goal_text} on test in any of the {len(units)} units"
                    f"{best_reached}. The {'recall' if metric == 'precision' else 'precision'} above is measured "
                    "at thresholds that miss the target.")
        if recommended in unmet:
            k, total = counts[recommended]
            most = max(counts, key=lambda s: (counts[s][0] / counts[s][1], reached.get(s, 0.0)))
            often = (f"; {most} held it most often ({counts[most][0]} of {counts[most][1]})"
                     if most != recommended else "")
            times = f"none of the {total}" if k == 0 else f"only {k} of {total}"
            return (f"Goal not met: the recommended {recommended} kept {goal_text} on test in {times} "
                    f"units (mean test {metric} {reached.get(recommended, float('nan')):.3g}){often}"
                    f"{best_reached}.")
        return ""

    return held, unmet, words


def summary_table(runs: Sequence[dict[str, Any]], strategies: Sequence[str], higher_is_better: bool = True):
    """One row per strategy: mean and standard deviation of the objective over units, and the means of the other
    metrics. Rows are sorted best first.

    >>> runs = [{"strategy": "a", "seed": 0, "fold": 0, "objective": 0.5, "pr_auc": 0.6},
    ...         {"strategy": "a", "seed": 1, "fold": 0, "objective": 0.7, "pr_auc": 0.8}]
    >>> summary_table(runs, ["a"])[["strategy", "objective", "objective_std", "units"]].round(3).values.tolist()
    [['a', 0.6, 0.141, 2]]
    """
    import pandas as pd

    rows = []
    for s in strategies:
        mine = [r for r in runs if r["strategy"] == s]
        if not mine:
            continue
        row: dict[str, Any] = {"strategy": s, "units": len(mine)}
        objective = np.array([r["objective"] for r in mine], float)
        row["objective"] = float(np.nanmean(objective))
        row["objective_std"] = float(np.nanstd(objective, ddof=1)) if len(mine) > 1 else float("nan")
        if any("decision" in r for r in mine):
            row["decision"] = mine[0].get("decision", "tuned")
        for key in ("precision", "recall", "held", "untuned_objective", "untuned_precision", "pr_auc",
                    "balanced_accuracy", "seconds"):
            values = [float(r[key]) for r in mine if r.get(key) is not None and r[key] == r[key]]  # drop NaN
            if values:
                row[key] = float(np.nanmean(np.asarray(values, float)))
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values("objective", ascending=not higher_is_better, kind="stable").reset_index(drop=True)
    return table
