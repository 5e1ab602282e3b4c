"""The verdict of a comparison: a winner only when it beats the runner-up beyond the noise.

Every strategy is scored on the same evaluation units (seed × fold), so the comparison is paired: for the best
strategy (highest mean objective) and each other one, a one-sided paired t-test over the units asks whether the best
is really better. The best is the **winner** only when it beats the runner-up with ``p < alpha``. Otherwise the
strategies that the best does not beat (``p >= alpha``) are **tied**, and the verdict recommends the cheapest of them
(plain cross-entropy before class weights before a special loss before resampling): spending effort on a recipe that
does not measurably help is the mistake the seeds' answers make.

>>> runs = [{"strategy": s, "seed": i, "fold": 0, "objective": v}
...         for i in range(5) for s, v in (("baseline", 0.50 + 0.01 * i), ("focal", 0.70 + 0.01 * (i % 2)))]
>>> v = verdict(runs, ["baseline", "focal"], higher_is_better=True, costs={"baseline": 0, "focal": 2})
>>> v.winner, v.recommended
('focal', 'focal')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["Verdict", "summary_table", "verdict"]

ALPHA = 0.05


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
    costs: dict[str, int] | None = None,
    metric: str = "objective",
    alpha: float = ALPHA,
) -> Verdict:
    """Decide winner or tie from per-unit results (records with ``strategy``, ``seed``, ``fold`` and ``metric``)."""
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
    recommended = min(tied, key=lambda s: (costs.get(s, 99), -means[strategies.index(s)]))
    if n < 2:
        why = "only one evaluation unit: no test is possible"
    else:
        why = f"{best} does not beat {runner_up} beyond the noise (p = {p_values[runner_up]:.3g} over {n} units)"
    reason = (f"Tie between {', '.join(tied)}: {why}. Recommended: {recommended}, the cheapest of the tied "
              "strategies.")
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
