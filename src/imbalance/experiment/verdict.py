"""The verdict of a comparison: a winner only when it beats the runner-up beyond the noise.

Every strategy is scored on the same evaluation units (seed × fold), so the comparison is paired: for the best
strategy (highest mean objective) and each other one, a one-sided paired t-test over the units asks whether the best
is really better. The best is the **winner** only when it beats the runner-up with ``p < alpha``. Otherwise the
strategies that the best does not beat (``p >= alpha``) are **tied** (less those whose mean is below a strategy the
best does beat: with few units a scattered strategy escapes the test without being any good), and the verdict
recommends one of them by a rule fixed in advance, never by the luckiest mean:

* with a ``preference`` (an order measured elsewhere, such as :data:`BINARY_F1_ORDER` from the development suite),
  the first tied candidate in that order;
* otherwise, and for candidates the order does not list, the cheapest (plain cross-entropy before class weights
  before a special loss before resampling): spending effort on a recipe that does not measurably help is the
  mistake the seeds' answers make.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["BINARY_F1_ORDER", "Verdict", "summary_table", "verdict"]

ALPHA = 0.05

#: The tie-break order of ``compare`` for binary data and the F1 objective, measured on the development suite
#: (``benchmarks/quality.py``, BENCHMARKS.md: 12 KEEL datasets, stratified 5x2 CV, the same MLP for every method):
#: every registered binary strategy under each decision rule, sorted by its mean rank of test F1 over the datasets.
#: ``name`` is the threshold tuned on training rows, ``name@0.5`` the same model decided at probability 0.5.
#: Deciding at 0.5 after rebalancing ranked above every tuned threshold: on the small validation sets of
#: imbalanced data (2-78 positives) a tuned F1 threshold overfits, and ``oversample@0.5`` beat the tuned plain
#: cross-entropy with Wilcoxon p = 0.007 (0.603 vs 0.559). ``tests/test_benchmarks.py`` checks this tuple against
#: the stored results, so it cannot drift from what was measured.
BINARY_F1_ORDER: tuple[str, ...] = (
    "oversample@0.5", "smote@0.5", "weighted_bce@0.5", "cb_focal@0.5", "class_weight@0.5", "asl@0.5",
    "oversample", "weighted_bce", "class_weight", "asl", "cb_focal", "smote", "baseline", "focal@0.5", "focal",
    "undersample@0.5", "baseline@0.5", "undersample",
)


@dataclass
class Verdict:
    """``winner`` is ``None`` for a tie; ``recommended`` is always set; ``p_values[s]`` is the one-sided paired
    p-value of "the best beats ``s``"; ``units`` is the number of paired units."""

    best: str
    winner: str | None
    recommended: str
    tied: list[str]
    p_values: dict[str, float] = field(default_factory=dict)
    units: int = 0
    reason: str = ""

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


def verdict(
    runs: Sequence[dict[str, Any]],
    strategies: Sequence[str],
    higher_is_better: bool = True,
    costs: dict[str, float] | None = None,
    metric: str = "objective",
    alpha: float = ALPHA,
    preference: Sequence[str] | None = None,
    preference_source: str = "the development suite (BENCHMARKS.md)",
) -> Verdict:
    """Decide winner or tie from per-unit results (records with ``strategy``, ``seed``, ``fold`` and ``metric``).

    ``costs`` rank the tied strategies when ``preference`` (an order measured on other data, named by
    ``preference_source`` in the reason) lists none of them; the best mean breaks equal costs."""
    from scipy import stats

    strategies = list(strategies)
    if not strategies:
        raise ValueError("verdict() needs at least one strategy.")
    costs = costs or {}
    values, units = _paired(runs, strategies, metric)
    if values.shape[1] == 0:
        raise ValueError("No evaluation unit was finished by every strategy; nothing to compare yet.")
    sign = 1.0 if higher_is_better else -1.0
    means = np.nanmean(values, axis=1) * sign
    order = list(np.argsort(-means, kind="stable"))
    best = strategies[order[0]]
    p_values: dict[str, float] = {}
    for i in order[1:]:
        diff = sign * (values[order[0]] - values[i])
        diff = diff[~np.isnan(diff)]
        if len(diff) < 2:
            p = 1.0  # one unit: no test is possible
        elif np.allclose(diff, diff[0]):
            p = 0.0 if diff[0] > 0 else 1.0  # the same margin on every unit: the t statistic is undefined
        else:
            p = float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)
        p_values[strategies[i]] = p
    n = values.shape[1]
    name = "higher" if higher_is_better else "lower"
    if len(strategies) == 1:
        return Verdict(best, best, best, [best], {}, n, f"Only one strategy ran: {best}.")
    runner_up = strategies[order[1]]
    if n >= 2 and p_values[runner_up] < alpha:
        reason = (f"{best} wins: its {metric} is {name} than the runner-up {runner_up} on the paired units "
                  f"(one-sided paired t-test over {n} units, p = {p_values[runner_up]:.3g}).")
        return Verdict(best, best, best, [best], p_values, n, reason)
    tied = [best] + [s for s, p in p_values.items() if p >= alpha]
    # A strategy the test could not separate from the best only because its results scatter must not be
    # recommended over one the test did separate but whose mean is higher: keep the tied ones at or above the
    # best mean that the best beat.
    beaten = [means[strategies.index(s)] for s, p in p_values.items() if p < alpha]
    below = [s for s in tied if beaten and means[strategies.index(s)] < max(beaten)]
    tied = [s for s in tied if s not in below]
    preferred = [s for s in (preference or ()) if s in tied]
    if preferred:
        recommended = preferred[0]
        rule = f"the first of the tied strategies in the order measured on {preference_source}"
    else:
        recommended = min(tied, key=lambda s: (costs.get(s, 99), -means[strategies.index(s)]))
        rule = "the cheapest of the tied strategies"
    if n < 2:
        why = "only one evaluation unit: no test is possible"
    else:
        why = f"{best} does not beat {runner_up} beyond the noise (p = {p_values[runner_up]:.3g} over {n} units)"
    left_out = (f" ({', '.join(below)} also within the noise, but with a mean below a strategy that {best} beats)"
                if below else "")
    reason = f"Tie between {', '.join(tied)}{left_out}: {why}. Recommended: {recommended}, {rule}."
    return Verdict(best, None, recommended, tied, p_values, n, reason)


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
