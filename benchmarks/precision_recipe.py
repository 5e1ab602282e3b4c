"""A recipe for "recall at precision >= p on one rare class" (issue 18 part 4), and the verdict before / after issue 18.

**Question 1 — the one-class precision recipe.** For ``recall@precision>=0.8`` on the KEEL development suite
(``benchmarks/_keel.py``, tune on those only), does a variant of ``compare``'s protocol keep its promise (test
precision >= 0.8 in at least 80 % of the units where the tuner claimed it had reached the target on its tuning rows)
with more recall than today's protocol?

Method. Every unit is ``compare``'s own: :meth:`imbalance.experiment.Protocol.units` (defaults), the ``baseline``
strategy (plain cross-entropy, the default MLP, ``compare``'s budget and batch), the threshold tuned inside the
unit's training rows by ``compare``'s tuner (:func:`imbalance.experiment.scoring.tune`), every number measured on
the unit's test rows. The loop is :func:`imbalance.experiment.run_unit`'s, written out so that one set of trained
models serves every threshold rule (the rules are then compared on the same scores, paired exactly); the section
checks that its "today" numbers equal ``compare(...)``'s records on the smallest datasets. Variants:

* **today** — ``compare``'s defaults: a validation split (25 % of the unit's training rows) when it holds >= 20
  positives, else the out-of-fold scores of 2 fold models (test scores: their mean), ``confidence="auto"`` (a 0.9
  Clopper-Pearson lower bound). For a unit, its test numbers are those of the model ``compare`` would serve from it
  (the one model, or the fold models' mean).
* **early stopping** — ``compare(early_stopping=5, epochs=2 × epochs)``: best weights restored (``val_loss`` on the
  rows the threshold is tuned on).
* **confidence by positives** — the brief's rule: ``confidence=None`` (point estimate) when the tuning rows hold
  fewer than 50 positives, else ``"auto"``; and fixed levels (``None``, 0.8, 0.95) on the same scores, to show the
  whole trade-off (0.7 too).
* **served: refit** — one more model trained on *all* the unit's training rows (what a served model "trained on
  all the rows compare had" is), decided at today's tuned threshold.
* **strategies** — ``oversample`` and ``class_weight`` (the two recipes of seed 000's hand-built comparison)
  instead of ``baseline``, under today's protocol; and ``oversample`` with ``confidence=0.8``.
* **out-of-fold always** — the out-of-fold threshold and the fold models' mean even where a validation split would
  do (changes only the datasets with >= 80 training positives).

Per unit: *claimed* = the tuner reached the target on its tuning rows (``achieved_["reached"]``); *held* = test
precision >= 0.8 (at least one positive predicted); **held-rate** = held / claimed; **recall@P>=0.8** = test recall
where claimed, 0 where not (a recall without the promise is not what was asked for); mean over units, then over
datasets. Paired comparison vs today: Wilcoxon signed-rank (``scipy.stats.wilcoxon``, two-sided) over the dataset
means (datasets where neither claims are left out of the held-rate test).

**Question 2 — the verdict before / after issue 18**, on the stored runs of the quality benchmark
(``benchmarks/results/quality.json``: 12 datasets, 5x2 CV, every registered strategy tuned and at 0.5). Per
dataset, each verdict chooses among ``compare``'s candidates (F1: the 9 strategies tuned and ``@0.5``, with
``compare``'s costs and ``BINARY_F1_ORDER``; recall@P>=0.8: the 9 strategies tuned) from *some* of the folds and the
chosen candidate is scored on the *other* folds (every choice of 1 or 2 of the 5 repeats to decide on, i.e. 2 or 4
units as with ``compare(seeds=2)`` / ``seeds=4``; scored on the remaining repeats): an honest estimate of what each
verdict's advice is worth. Also in-sample on all 10 folds. The old verdict is a frozen copy below
(:func:`_old_verdict`, "the verdict before issue 18, for comparison only").

Run: ``.venv/bin/python -m benchmarks.precision_recipe [--quick]`` (not registered in ``benchmarks/run.py``).
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks._report import (
    RESULTS_DIR,
    run_resumable,
    Section,
    atomic_write_json,
    environment,
    load_average,
    log,
    md_table,
    now_iso,
    section_main,
    store_section,
    stored_path,
)

NAME = "precision_recipe"
TITLE = "One-class precision targets: recipes side by side, and the verdict before / after issue 18"
TARGET = 0.8
OBJECTIVE = f"recall@precision>={TARGET:g}"
HELD_GOAL = 0.8
POSITIVES_RULE = 50  # the brief's rule: point estimate below this many tuning positives, else the 0.9 bound

# variant -> (scores source, confidence rule, description)
VARIANTS: dict[str, tuple[str, Any, str]] = {
    "today": ("today", "auto", "compare's defaults (validation split or 2-fold out-of-fold, 0.9 bound)"),
    "early_stopping": ("es", "auto", "early_stopping=5, epochs x2, best weights restored"),
    "confidence_by_positives": ("today", "by_positives",
                                f"point estimate below {POSITIVES_RULE} tuning positives, else the 0.9 bound"),
    "point_estimate": ("today", None, "confidence=None everywhere"),
    "confidence_0.8": ("today", 0.8, "confidence=0.8 everywhere"),
    "confidence_0.95": ("today", 0.95, "confidence=0.95 everywhere"),
    "confidence_0.7": ("today", 0.7, "confidence=0.7 everywhere"),
    "oversample": ("oversample", "auto", "strategy oversample instead of baseline, today's protocol"),
    "class_weight": ("class_weight", "auto", "strategy class_weight instead of baseline, today's protocol"),
    "oversample_conf_0.8": ("oversample", 0.8, "strategy oversample, confidence=0.8"),
    "served_refit": ("refit", "auto", "one model refit on all the unit's training rows, today's threshold"),
    "oof_always": ("oof", "auto", "out-of-fold threshold and fold-model mean everywhere"),
}


@dataclass(frozen=True)
class Settings:
    datasets: tuple[str, ...]
    seeds: int
    epochs: int
    es_epochs: int
    patience: int = 5
    workers: int = 1
    check_datasets: tuple[str, ...] = ()


def _settings(quick: bool) -> Settings:
    from benchmarks._keel import DEV_SUITE, smallest

    workers = max(1, min(2, os.cpu_count() or 1))
    if quick:
        return Settings(datasets=tuple(smallest(3)) + ("KC1",), seeds=2, epochs=10, es_epochs=20, workers=workers,
                        check_datasets=("glass2", "KC1"))
    return Settings(datasets=tuple(DEV_SUITE), seeds=3, epochs=30, es_epochs=60, workers=workers,
                    check_datasets=("glass2",))


# --- one (dataset, seed) ---------------------------------------------------------------------------------------

_DATA: dict[str, Any] = {}


def _data(name: str) -> Any:
    from benchmarks._keel import load_suite
    from imbalance.experiment import prepare_data

    if name not in _DATA:
        suite = load_suite([name])
        if not suite:
            raise RuntimeError(f"{name}: {suite.skipped.get(name, 'not loaded')}")
        _DATA[name] = prepare_data((suite[0][1], suite[0][2]))
    return _DATA[name]


def _budget(d: Any, epochs: int, patience: int | None = None) -> Any:
    from imbalance.experiment import Budget
    from imbalance.experiment.training import default_batch_size, row_values

    return Budget(epochs=epochs, batch_size=default_batch_size(None, len(d.y), row_values(d.x)), learning_rate=3e-3,
                  patience=patience)


def _inner_scores(d: Any, x_train: Any, y_train: Any, x_test: Any, key: Any, seed: int, inner: str, budget: Any,
                  strategy: str = "baseline") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tuning labels, tuning scores, test scores) as :func:`imbalance.experiment.run_unit` computes them."""
    from sklearn.model_selection import train_test_split

    from imbalance.experiment import Protocol, out_of_fold, predict_scores, train_model

    proto = Protocol()
    if inner == "validation":
        fit_idx, val_idx = train_test_split(np.arange(len(y_train)), test_size=proto.val_size, random_state=seed,
                                            stratify=key)
        m, _ = train_model(d, strategy, x_train[fit_idx], y_train[fit_idx], budget, "mlp", seed, (),
                           validation=(x_train[val_idx], y_train[val_idx]))
        return y_train[val_idx], predict_scores(d, m, x_train[val_idx]), predict_scores(d, m, x_test)
    _, val_scores, test_scores, _ = out_of_fold(d, strategy, x_train, y_train, x_test, key, budget, proto.inner_folds,
                                                "mlp", seed, ())
    return y_train, val_scores, test_scores


def _confidence(rule: Any, tuning_positives: int) -> Any:
    if rule == "by_positives":
        return None if tuning_positives < POSITIVES_RULE else "auto"
    return rule


def _score(d: Any, y_tune: np.ndarray, s_tune: np.ndarray, y_test: np.ndarray, s_test: np.ndarray,
           confidence: Any) -> dict[str, Any]:
    from imbalance.experiment.scoring import decision_scores, tune
    from imbalance.thresholds import parse_objective

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rule, note = tune(d, OBJECTIVE, None, confidence, y_tune, s_tune)
    achieved = getattr(rule, "achieved_", None) or {}
    decision = np.asarray(rule.predict(s_test[:, 0])).reshape(-1).astype(np.int64)
    result = decision_scores(parse_objective(OBJECTIVE), y_test, decision)
    return {"claimed": bool(achieved.get("reached", False)), "held": bool(decision.any() and result["held"]),
            "precision": float(result["precision"]), "recall": float(result["recall"]),
            "predicted": int(decision.sum()), "threshold": float(np.ravel(rule.thresholds_)[0])}


def dataset_seed(name: str, seed: int, s: Settings) -> list[dict[str, Any]]:
    """Every unit of ``seed`` on dataset ``name``: the scores of each training variant, then every variant's test
    numbers."""
    import keras

    from imbalance.experiment import Protocol, predict_scores, train_model
    from imbalance.experiment.protocol import strata, target_count, unit_features

    d = _data(name)
    proto = Protocol()
    units = [u for u in proto.units(d, None, seed + 1) if u.seed == seed]
    out = []
    for unit in units:
        t0 = time.perf_counter()
        x_train, x_test = unit_features(d, unit)
        y_train, y_test = d.y[unit.train], d.y[unit.test]
        key = strata(d)[unit.train]
        train_seed = unit.train_seed
        inner = proto.inner(target_count(d, y_train, None))
        budget = _budget(d, s.epochs)
        sources: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sources["today"] = _inner_scores(d, x_train, y_train, x_test, key, train_seed, inner, budget)
            keras.backend.clear_session(free_memory=False)
            sources["es"] = _inner_scores(d, x_train, y_train, x_test, key, train_seed, inner,
                                          _budget(d, s.es_epochs, s.patience))
            keras.backend.clear_session(free_memory=False)
            sources["oof"] = (sources["today"] if inner == "cv" else
                              _inner_scores(d, x_train, y_train, x_test, key, train_seed, "cv", budget))
            keras.backend.clear_session(free_memory=False)
            for strategy in ("oversample", "class_weight"):  # the strategies seed 000's hand-built recipe used
                sources[strategy] = _inner_scores(d, x_train, y_train, x_test, key, train_seed, inner, budget,
                                                  strategy)
                keras.backend.clear_session(free_memory=False)
            m, _ = train_model(d, "baseline", x_train, y_train, budget, "mlp", train_seed, ())
            refit_test = predict_scores(d, m, x_test)
            keras.backend.clear_session(free_memory=False)
        sources["refit"] = (sources["today"][0], sources["today"][1], refit_test)
        tuning_positives = int(sources["today"][0].sum())
        record: dict[str, Any] = {"dataset": name, "seed": unit.seed, "fold": unit.fold, "outer": unit.outer,
                                  "inner": inner, "tuning_positives": tuning_positives,
                                  "test_positives": int(y_test.sum()), "test_rows": int(len(y_test)),
                                  "seconds": 0.0, "variants": {}}
        for variant, (source, rule, _) in VARIANTS.items():
            y_tune, s_tune, s_test = sources[source]
            record["variants"][variant] = _score(d, y_tune, s_tune, y_test, s_test,
                                                 _confidence(rule, int(y_tune.sum())))
        record["seconds"] = round(time.perf_counter() - t0, 2)
        out.append(record)
    return out


def check_against_compare(name: str, seeds: int, s: Settings) -> dict[str, Any]:
    """``compare(...)``'s own records for ``baseline`` on ``name`` (today's defaults, and early stopping) next to
    this loop's: the largest difference of test recall and of threshold over the units."""
    from imbalance.experiment import compare

    d = _data(name)
    mine = [r for seed in range(seeds) for r in dataset_seed(name, seed, s)]
    out: dict[str, Any] = {"dataset": name, "units": len(mine)}
    for variant, kwargs in (("today", {"epochs": s.epochs}),
                            ("early_stopping", {"epochs": s.es_epochs, "early_stopping": s.patience})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = compare((d.x, d.y), strategies=["baseline"], objective=OBJECTIVE, seeds=seeds, workers=1,
                          progress=False, **kwargs)
        theirs = {(r.seed, r.fold): r for r in res.runs}
        recall = [abs(theirs[(m["seed"], m["fold"])].recall - m["variants"][variant]["recall"]) for m in mine]
        threshold = [abs(theirs[(m["seed"], m["fold"])].threshold[0] - m["variants"][variant]["threshold"])
                     for m in mine]
        out[variant] = {"max_recall_diff": float(max(recall)), "max_threshold_diff": float(max(threshold))}
    return out


# --- running it all --------------------------------------------------------------------------------------------


def _checkpoint_path() -> Any:
    return RESULTS_DIR / f"{NAME}.partial.json"


def measure(s: Settings, log: Callable[[str], None] = log) -> list[dict[str, Any]]:
    """Every unit of every (dataset, seed), in ``s.workers`` processes, largest datasets first; finished tasks are
    kept in ``results/precision_recipe.partial.json`` (same settings only) so a killed run resumes."""
    from functools import partial

    from benchmarks._keel import DEV_SUITE

    names = sorted(s.datasets, key=lambda n: -DEV_SUITE[n].rows if n in DEV_SUITE else 0)
    tasks = [(n, seed) for n in names for seed in range(s.seeds)]
    started = time.perf_counter()

    def line(task: tuple[str, int], result: Any, finished: int) -> str:
        return (f"{NAME}: {task[0]} seed {task[1]} done ({finished}/{len(tasks)}, "
                f"{time.perf_counter() - started:.0f} s, load {load_average()})")

    done = run_resumable(partial(dataset_seed, s=s), tasks, _checkpoint_path(), asdict(s) | {"workers": None},
                         s.workers, line, chunk=4 * s.workers)
    order = {n: i for i, n in enumerate(s.datasets)}
    return sorted((r for rs in done.values() for r in rs), key=lambda r: (order[r["dataset"]], r["seed"], r["fold"]))


# --- statistics ------------------------------------------------------------------------------------------------


def wilcoxon_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p over paired values, NaN pairs dropped (1.0 when every difference is 0).

    >>> round(wilcoxon_p([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5), 4)
    0.0625
    """
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if len(a) == 0 or np.allclose(a, b):
        return 1.0
    return float(wilcoxon(a, b).pvalue)


def per_dataset(records: list[dict[str, Any]], variant: str, count: str = "units") -> dict[str, dict[str, float]]:
    """Per dataset: units (under the key ``count``: served_model counts external folds), claimed, held, held-rate
    (NaN without claims), recall@P>=0.8 (0 where not claimed), recall where claimed."""
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(r["dataset"] for r in records):
        rows = [r["variants"][variant] for r in records if r["dataset"] == name]
        claimed = [v for v in rows if v["claimed"]]
        held = sum(v["held"] for v in claimed)
        out[name] = {count: len(rows), "claimed": len(claimed), "held": held,
                     "held_rate": held / len(claimed) if claimed else float("nan"),
                     "recall_p80": float(np.mean([v["recall"] if v["claimed"] else 0.0 for v in rows])),
                     "recall_claimed": float(np.mean([v["recall"] for v in claimed])) if claimed else float("nan")}
    return out


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    base = per_dataset(records, "today")
    names = list(base)
    out = {}
    for variant in VARIANTS:
        mine = per_dataset(records, variant)
        units = sum(m["units"] for m in mine.values())
        claimed = sum(m["claimed"] for m in mine.values())
        held = sum(m["held"] for m in mine.values())
        recall = [mine[n]["recall_p80"] for n in names]
        rate = [mine[n]["held_rate"] for n in names]
        out[variant] = {
            "units": units, "claimed": claimed, "held": held,
            "held_rate_units": held / claimed if claimed else float("nan"),
            "held_rate_datasets": float(np.nanmean(rate)) if not np.all(np.isnan(rate)) else float("nan"),
            "recall_p80": float(np.mean(recall)),
            "recall_claimed": (float(np.mean([v["variants"][variant]["recall"] for v in records
                                              if v["variants"][variant]["claimed"]])) if claimed else float("nan")),
            "recall_better": int(sum(mine[n]["recall_p80"] > base[n]["recall_p80"] + 1e-12 for n in names)),
            "recall_worse": int(sum(mine[n]["recall_p80"] < base[n]["recall_p80"] - 1e-12 for n in names)),
            "p_recall": wilcoxon_p(recall, [base[n]["recall_p80"] for n in names]),
            "p_held_rate": wilcoxon_p(rate, [base[n]["held_rate"] for n in names]),
            "per_dataset": mine,
        }
    return out


# --- question 2: the verdict before / after issue 18 ----------------------------------------------------------


def _old_verdict(runs: Sequence[dict[str, Any]], strategies: Sequence[str], costs: dict[str, float],
                 preference: Sequence[str] | None = None, alpha: float = 0.05) -> str:
    """The verdict before issue 18, for comparison only: a frozen copy of the recommendation rule of
    ``imbalance.experiment.verdict.verdict`` at commit ``2dba2fa^`` (higher is better). The winner is the best mean
    when it beats the runner-up with a one-sided paired t-test p < alpha; otherwise every candidate the best does not
    beat is tied (less those whose mean is below a candidate the best beats), and the first tied candidate in
    ``preference``, else the cheapest tied one (best mean on equal costs), is recommended — however far below the
    best its mean is. Returns the recommended candidate."""
    from scipy import stats

    strategies = list(strategies)
    table: dict[tuple[int, int], dict[str, float]] = {}
    for r in runs:
        if r["strategy"] in strategies:
            table.setdefault((r["seed"], r["fold"]), {})[r["strategy"]] = float(r["objective"])
    units = sorted(u for u, row in table.items() if all(s in row for s in strategies))
    values = np.array([[table[u][s] for u in units] for s in strategies], dtype=float).reshape(len(strategies), -1)
    means = np.nanmean(values, axis=1)
    order = list(np.argsort(-means, kind="stable"))
    best = strategies[order[0]]
    p_values: dict[str, float] = {}
    for i in order[1:]:
        diff = values[order[0]] - values[i]
        diff = diff[~np.isnan(diff)]
        if len(diff) < 2:
            p = 1.0
        elif np.allclose(diff, diff[0]):
            p = 0.0 if diff[0] > 0 else 1.0
        else:
            p = float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)
        p_values[strategies[i]] = p
    n = values.shape[1]
    if len(strategies) == 1:
        return best
    runner_up = strategies[order[1]]
    if n >= 2 and p_values[runner_up] < alpha:
        return best
    tied = [best] + [s for s, p in p_values.items() if p >= alpha]
    beaten = [means[strategies.index(s)] for s, p in p_values.items() if p < alpha]
    below = [s for s in tied if beaten and means[strategies.index(s)] < max(beaten)]
    tied = [s for s in tied if s not in below]
    preferred = [s for s in (preference or ()) if s in tied]
    if preferred:
        return preferred[0]
    return min(tied, key=lambda s: (costs.get(s, 99), -means[strategies.index(s)]))


def _candidate_runs(records: list[dict[str, Any]], dataset: str, objective: str) -> tuple[list[dict], list[str]]:
    """The quality benchmark's runs of one dataset as ``compare``'s candidate records: fold ``f`` of the 5x2 CV is
    unit (seed ``f // 2``, fold ``f % 2``)."""
    from imbalance.experiment import STRATEGIES

    runs, names = [], []
    for r in records:
        if r["dataset"] != dataset or r["method"] not in STRATEGIES:
            continue
        unit = {"seed": r["fold"] // 2, "fold": r["fold"] % 2}
        if objective == "f1":
            runs.append({**unit, "strategy": r["method"], "objective": r["f1_tuned"]})
            runs.append({**unit, "strategy": f"{r['method']}@0.5", "objective": r["f1_05"]})
        else:
            runs.append({**unit, "strategy": r["method"], "objective": r["recall_p80"],
                         "precision": r["p80_precision"], "held": float(r["p80_held"])})
    names = list(dict.fromkeys(r["strategy"] for r in runs))
    return runs, names


def _costs(names: Sequence[str]) -> dict[str, float]:
    from imbalance.experiment import STRATEGIES

    return {n: float(STRATEGIES[n.partition("@")[0]].cost) + (0.5 if "@" in n else 0.0) for n in names}


def _choose(runs: list[dict], names: list[str], objective: str, which: str) -> str:
    from imbalance.experiment.verdict import BINARY_F1_ORDER, verdict

    preference = BINARY_F1_ORDER if objective == "f1" else None
    costs = _costs(names)
    if which == "old":
        return _old_verdict(runs, names, costs, preference)
    constraint = ("precision", TARGET) if objective != "f1" else None
    return verdict(runs, names, True, costs, preference=preference, constraint=constraint).recommended


def _mean_of(runs: list[dict], name: str) -> float:
    return float(np.mean([r["objective"] for r in runs if r["strategy"] == name]))


def verdict_comparison(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per dataset and objective: each verdict's choice on all 10 folds (in-sample) and, deciding on every choice of
    ``k`` of the 5 repeats (k = 1, 2), the chosen candidate's mean on the other repeats' folds (cross-fitted)."""
    out: dict[str, Any] = {}
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    repeats = sorted({r["fold"] // 2 for r in records})
    for objective in ("f1", OBJECTIVE):
        rows = []
        for name in datasets:
            runs, names = _candidate_runs(records, name, objective)
            row: dict[str, Any] = {"dataset": name}
            for which in ("old", "new"):
                chosen = _choose(runs, names, objective, which)
                row[f"{which}_all"] = chosen
                row[f"{which}_all_score"] = _mean_of(runs, chosen)
                for k in (1, 2):
                    scores, picks = [], []
                    for decide in itertools.combinations(repeats, k):
                        inside = [r for r in runs if r["seed"] in decide]
                        outside = [r for r in runs if r["seed"] not in decide]
                        pick = _choose(inside, names, objective, which)
                        picks.append(pick)
                        scores.append(_mean_of(outside, pick))
                    row[f"{which}_k{k}_score"] = float(np.mean(scores))
                    row[f"{which}_k{k}_picks"] = picks
            row["best_mean"] = max(_mean_of(runs, n) for n in names)
            rows.append(row)
        summary = {}
        for key in ("all", "k1", "k2"):
            old = [r[f"old_{key}_score"] for r in rows]
            new = [r[f"new_{key}_score"] for r in rows]
            summary[key] = {"old": float(np.mean(old)), "new": float(np.mean(new)),
                            "better": int(sum(n > o + 1e-12 for n, o in zip(new, old))),
                            "worse": int(sum(n < o - 1e-12 for n, o in zip(new, old))),
                            "p": wilcoxon_p(new, old)}
        out[objective] = {"rows": rows, "summary": summary}
    return out


# --- rendering -------------------------------------------------------------------------------------------------


def _f(value: float, digits: int = 3) -> str:
    return "–" if value != value else f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return "–" if value != value else f"{100 * value:.0f} %"


def variant_table(summary: dict[str, dict[str, Any]]) -> str:
    rows = []
    for variant, (_, _, text) in VARIANTS.items():
        v = summary[variant]
        vs = "" if variant == "today" else (f"{v['recall_better']}/{v['recall_worse']}, p = {v['p_recall']:.3f}")
        held_p = "" if variant == "today" else f"{v['p_held_rate']:.3f}"
        rows.append([f"**{variant}**" if variant == "today" else variant, text, v["units"], v["claimed"], v["held"],
                     _pct(v["held_rate_units"]), _pct(v["held_rate_datasets"]), _f(v["recall_claimed"]),
                     _f(v["recall_p80"]), vs, held_p])
    return md_table(["variant", "what", "units", "claimed", "held", "held-rate (units)", "held-rate (dataset mean)",
                     "recall where claimed", "recall@P>=0.8 (dataset mean)", "recall vs today: better/worse datasets, "
                     "Wilcoxon p", "held-rate vs today: Wilcoxon p"], rows,
                    ["l", "l", "r", "r", "r", "r", "r", "r", "r", "l", "r"])


def dataset_table(records: list[dict[str, Any]], summary: dict[str, dict[str, Any]],
                  variants: Sequence[str]) -> str:
    info: dict[str, tuple[str, list[int]]] = {}
    for r in records:
        info.setdefault(r["dataset"], (r["inner"], []))[1].append(r["tuning_positives"])
    rows = []
    for name, (inner, positives) in info.items():
        cells = [name, inner, f"{np.mean(positives):.0f}"]
        for variant in variants:
            m = summary[variant]["per_dataset"][name]
            cells.append(f"{m['held']}/{m['claimed']} · {_f(m['recall_p80'], 2)}")
        rows.append(cells)
    return md_table(["dataset", "threshold tuned on", "tuning positives"] + [f"{v}: held/claimed · recall"
                                                                            for v in variants],
                    rows, ["l", "l", "r"] + ["r"] * len(variants))


def verdict_table(result: dict[str, Any]) -> str:
    rows = []
    for objective, title in (("f1", "test F1"), (OBJECTIVE, "test recall@P>=0.8")):
        for r in result[objective]["rows"]:
            same = r["old_all"] == r["new_all"]
            rows.append([title, r["dataset"], r["old_all"], _f(r["old_all_score"]),
                         r["new_all"] if not same else "(same)", _f(r["new_all_score"]), _f(r["best_mean"]),
                         f"{_f(r['old_k1_score'])} → {_f(r['new_k1_score'])}",
                         f"{_f(r['old_k2_score'])} → {_f(r['new_k2_score'])}"])
    return md_table(["metric", "dataset", "old verdict (10 units)", "its score", "new verdict (10 units)", "its score",
                     "best candidate's mean", "cross-fitted, 2 units: old → new", "cross-fitted, 4 units: old → new"],
                    rows, ["l", "l", "l", "r", "l", "r", "r", "r", "r"])


def verdict_summary_table(result: dict[str, Any]) -> str:
    rows = []
    for objective, title in (("f1", "test F1"), (OBJECTIVE, "test recall@P>=0.8")):
        for key, text in (("k1", "decided on 2 units, scored on the other 8"),
                          ("k2", "decided on 4 units, scored on the other 6"), ("all", "in-sample, 10 units")):
            s = result[objective]["summary"][key]
            rows.append([title, text, _f(s["old"]), _f(s["new"]), f"{s['better']}/{s['worse']}", f"{s['p']:.3f}"])
    return md_table(["metric", "how", "old verdict (mean over datasets)", "new verdict", "new better/worse datasets",
                     "Wilcoxon p"], rows, ["l", "l", "r", "r", "r", "r"])


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    from benchmarks._report import load_raw

    s = _settings(quick)
    started = time.perf_counter()
    checks = []
    for name in s.check_datasets:
        log(f"{NAME}: checking this loop against compare(...) on {name}")
        checks.append(check_against_compare(name, 1 if not quick else s.seeds, s))
    records = measure(s, log)
    summary = summarise(records)
    quality = load_raw("quality")
    verdicts = verdict_comparison(quality["records"]) if quality else None
    elapsed = time.perf_counter() - started

    today = summary["today"]
    wins, losses = [], []
    for variant in VARIANTS:
        if variant == "today":
            continue
        v = summary[variant]
        keeps = v["held_rate_units"] >= HELD_GOAL if v["claimed"] else False
        gain = v["recall_p80"] - today["recall_p80"]
        line = (f"{variant} ({VARIANTS[variant][2]}): held-rate {_pct(v['held_rate_units'])} of {v['claimed']} "
                f"claimed units (today {_pct(today['held_rate_units'])} of {today['claimed']}), recall@P>=0.8 "
                f"{v['recall_p80']:.3f} vs {today['recall_p80']:.3f} (Wilcoxon p = {v['p_recall']:.3f} over "
                f"{len(v['per_dataset'])} datasets)")
        (wins if keeps and gain > 0 and v["p_recall"] < 0.05 else losses).append(line)
    (wins if today["held_rate_units"] >= HELD_GOAL else losses).append(
        f"today's protocol keeps precision >= {TARGET:g} on test in {_pct(today['held_rate_units'])} of the "
        f"{today['claimed']} units where it claims it (goal >= {HELD_GOAL:.0%}), at recall@P>=0.8 "
        f"{today['recall_p80']:.3f}")
    if verdicts:
        for objective, title in (("f1", "test F1"), (OBJECTIVE, "test recall@P>=0.8")):
            sm = verdicts[objective]["summary"]
            for key, text in (("k1", "2 units"), ("k2", "4 units")):
                x = sm[key]
                line = (f"new verdict vs old, {title}, deciding on {text} and scoring on the others: {x['new']:.3f} vs "
                        f"{x['old']:.3f} (better on {x['better']}, worse on {x['worse']} datasets, Wilcoxon "
                        f"p = {x['p']:.3f})")
                (wins if x["new"] >= x["old"] - 1e-12 else losses).append(line)

    check_text = "; ".join(
        f"{c['dataset']} ({c['units']} units): today max |Δ recall| {c['today']['max_recall_diff']:.3g}, "
        f"|Δ threshold| {c['today']['max_threshold_diff']:.3g}; early stopping {c['early_stopping']['max_recall_diff']:.3g}"
        f", {c['early_stopping']['max_threshold_diff']:.3g}" for c in checks)
    parts = [
        f"Question (issue 18 part 4): for `{OBJECTIVE}` on one rare class, which protocol keeps its promise (test "
        f"precision >= {TARGET:g} in >= {HELD_GOAL:.0%} of the units where it claims it) with the most recall? "
        f"Development suite only: {len(summary['today']['per_dataset'])} KEEL datasets, {s.seeds} seeds of "
        f"`compare`'s own units, strategy `baseline`, {s.epochs} epochs (early stopping: up to {s.es_epochs}, "
        f"patience {s.patience}). Method in `benchmarks/precision_recipe.py`.",
        f"**Same numbers as compare.** This loop's *today* and *early stopping* rows next to `compare(...)`'s own "
        f"records: {check_text or 'not checked'}.",
        variant_table(summary),
        "Per dataset (held / claimed units · recall@P>=0.8):",
        dataset_table(records, summary, ["today", "early_stopping", "confidence_by_positives", "point_estimate",
                                         "served_refit", "oof_always"]),
    ]
    if verdicts:
        parts += [
            "**The verdict before / after issue 18** on the quality benchmark's stored runs (every registered "
            "strategy; F1: tuned and @0.5 with `BINARY_F1_ORDER` and `compare`'s costs; recall@P>=0.8: tuned, cost "
            "order). Each verdict decides on some of the 5x2 CV repeats and its choice is scored on the others; "
            "Wilcoxon over datasets.",
            verdict_summary_table(verdicts),
            verdict_table(verdicts),
        ]
    body = "\n\n".join(parts)
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "environment": environment(),
               "settings": asdict(s), "seconds": round(elapsed, 1), "checks": checks, "records": records,
               "summary": {k: {kk: vv for kk, vv in v.items()} for k, v in summary.items()},
               "verdicts": verdicts}
    section = store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
    section.command = f".venv/bin/python -m benchmarks.{NAME}" + (" --quick" if quick else "")
    atomic_write_json(stored_path(NAME, quick, ".section.json"), section.to_json())
    _checkpoint_path().unlink(missing_ok=True)
    return section


if __name__ == "__main__":
    section_main(run, __doc__)
