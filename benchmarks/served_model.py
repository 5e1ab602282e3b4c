"""The served model on rows ``compare`` never saw (issue 18 part 4): ``best.keras`` refitted on every row with its
threshold tuned on every unit's out-of-sample scores (``serve="refit"``), against the first unit's model and
threshold (``serve="first_unit"``), for ``recall@precision>=0.8`` on one rare class.

**Question.** A user runs ``compare``, then serves ``best.keras``. Does the served model keep the promise its
``thresholds.json`` makes (``achieved.reached``: precision >= 0.8 certified on the tuning rows) on new rows, in at
least 80 % of the cases where it makes it — and with how much recall?

**Method** (public API only). KEEL development suite (``benchmarks/_keel.py``; tune on those only). Each dataset is
cut into ``OUTER_FOLDS`` stratified folds (``StratifiedKFold(shuffle=True, random_state=0)``); for each fold,
``compare`` sees only the other folds::

    compare((x_train, y_train), strategies=["baseline"], objective="recall@precision>=0.8", seeds=…, epochs=…,
            serve="refit", workers=1, progress=False, out_dir=tmp).save(tmp, export=False)

and the held-out fold (the *new rows*) is scored by the two models ``compare`` wrote: ``best.keras`` (refitted; its
rule in ``thresholds.json``) and ``models/baseline.keras`` (the first unit's model; its rule in
``thresholds/baseline.json``). The runs are the same for both (one ``compare`` call), so the comparison is paired
exactly. Two crossed variants tell the two changes apart: the refitted model at the first unit's threshold, and the
first unit's model at the pooled threshold. One more refit, by hand (``train_strategy``, seed 0), trains for the
gradient steps of the first unit's models (epochs x the rows they fit / every row) and decides at the pooled
threshold: is a refit that trained longer than the models whose scores set the threshold less faithful to it?
Features are standardised with the mean and standard deviation of the rows ``compare`` sees (as ``compare`` does
for a table's numeric columns; arrays it takes as they are).

Per external fold: *claimed* = the rule's ``achieved["reached"]``; *held* = precision on the new rows >= 0.8 with at
least one positive predicted; **held-rate** = held / claimed; **recall@P>=0.8** = recall on the new rows where
claimed, 0 where not (a recall without the promise is not what was asked for); means over folds, then over
datasets. Paired comparison: Wilcoxon signed-rank over the dataset means (two-sided).

Run: ``.venv/bin/python -m benchmarks.run --only served_model [--quick]``.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks._report import (RESULTS_DIR, Section, environment, load_average, log, md_table, now_iso,
                                run_resumable, section_main, store_section)
from benchmarks.precision_recipe import per_dataset as recipe_per_dataset
from benchmarks.precision_recipe import wilcoxon_p

NAME = "served_model"
TITLE = "The served model on rows compare never saw: refitted vs first unit (one-class precision)"
TARGET = 0.8
OBJECTIVE = f"recall@precision>={TARGET:g}"
HELD_GOAL = 0.8
STRATEGY = "baseline"

#: variant -> (model file, rule file, description)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "first_unit": ("first", "first", "serve='first_unit': the first unit's model and the threshold tuned in it"),
    "refit": ("refit", "refit", "serve='refit': refitted on every row, threshold on every unit's out-of-sample "
                                "scores"),
    "refit_model_first_threshold": ("refit", "first", "the refitted model at the first unit's threshold"),
    "first_model_pooled_threshold": ("first", "refit", "the first unit's model at the pooled threshold"),
    "refit_same_steps": ("same_steps", "refit", "refitted for the gradient steps of the first unit's models "
                                                "(fewer epochs), at the pooled threshold"),
}


@dataclass(frozen=True)
class Settings:
    datasets: tuple[str, ...]
    outer_folds: int
    seeds: int
    epochs: int
    workers: int = 1
    standardise: bool = True


def _settings(quick: bool) -> Settings:
    from benchmarks._keel import DEV_SUITE, smallest

    workers = max(1, min(2, os.cpu_count() or 1))
    if quick:
        return Settings(datasets=tuple(smallest(3)), outer_folds=2, seeds=1, epochs=10, workers=workers)
    return Settings(datasets=tuple(DEV_SUITE), outer_folds=5, seeds=3, epochs=30, workers=workers)


_DATA: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from benchmarks._keel import load_suite

    if name not in _DATA:
        suite = load_suite([name])
        if not suite:
            raise RuntimeError(f"{name}: {suite.skipped.get(name, 'not loaded')}")
        _DATA[name] = (suite[0][1], suite[0][2])
    return _DATA[name]


def _judge(rule: Any, scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    decision = np.asarray(rule.predict(scores[:, 0])).reshape(-1).astype(bool)
    y = np.asarray(y).astype(bool)
    tp, fp = int(np.sum(decision & y)), int(np.sum(decision & ~y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    claimed = bool((getattr(rule, "achieved_", None) or {}).get("reached", False))
    return {"claimed": claimed, "held": bool(tp + fp > 0 and precision >= TARGET), "precision": precision,
            "recall": recall, "predicted": tp + fp, "threshold": float(np.ravel(rule.thresholds_)[0])}


def external_fold(name: str, fold: int, s: Settings) -> dict[str, Any]:
    """``compare`` on every fold but ``fold`` of dataset ``name``; both served models judged on ``fold``."""
    import keras
    from sklearn.model_selection import StratifiedKFold

    from imbalance.experiment import compare, train_strategy
    from imbalance.thresholds import ThresholdTuner

    x, y = _data(name)
    train, test = list(StratifiedKFold(s.outer_folds, shuffle=True, random_state=0).split(x, y))[fold]
    # standardised on the rows compare sees (a table's numbers are; arrays are taken as they are)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = ((x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="served-model-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = Path(tmp)
        results = compare((x[train], y[train]), strategies=[STRATEGY], objective=OBJECTIVE, seeds=s.seeds,
                          epochs=s.epochs, serve="refit", workers=1, progress=False, out_dir=out)
        results.save(out, export=False)
        served = results.served
        models = {"refit": keras.models.load_model(out / "best.keras"),
                  "first": keras.models.load_model(out / "models" / f"{STRATEGY}.keras")}
        rules = {"refit": ThresholdTuner.load(out / "thresholds.json"),
                 "first": ThresholdTuner.load(out / "thresholds" / f"{STRATEGY}.json")}
        outputs = {k: m.predict(x[test], verbose=0, batch_size=4096) for k, m in models.items()}
        first = results.runs[0]
        fit_rows = first.train_rows * (1 - 0.25) if first.inner == "validation" else first.train_rows / 2
        same_steps = max(1, int(round(s.epochs * fit_rows / len(train))))
        net = train_strategy(STRATEGY, x[train], y[train], epochs=same_steps, seed=0)
        logits = keras.ops.convert_to_numpy(net(x[test])).astype(np.float64)
    scores = {k: np.asarray(o["scores"], np.float32) for k, o in outputs.items()}
    scores["same_steps"] = (1 / (1 + np.exp(-logits))).astype(np.float32)
    record: dict[str, Any] = {
        "dataset": name, "fold": fold, "train_rows": int(len(train)), "test_rows": int(len(test)),
        "test_positives": int(y[test].sum()), "units": len(results.runs),
        "first_unit_tuning": results.runs[0].inner, "pooled_rows": served.tuned_rows,
        "pooled_positives": served.tuned_positives, "refit_epochs": served.epochs, "same_steps_epochs": same_steps,
        "variants": {},
    }
    for variant, (model, rule, _) in VARIANTS.items():
        record["variants"][variant] = _judge(rules[rule], scores[model], y[test])
    # the served files decide as their rules do (the decision layer inside each .keras)
    for key in ("refit", "first"):
        inside = np.asarray(outputs[key]["decisions"]).reshape(-1).astype(bool)
        outside = np.asarray(rules[key].predict(scores[key][:, 0])).reshape(-1).astype(bool)
        record[f"{key}_layer_agrees"] = bool(np.array_equal(inside, outside))
    record["seconds"] = round(time.perf_counter() - t0, 1)
    keras.backend.clear_session(free_memory=False)
    return record


# --- running it all --------------------------------------------------------------------------------------------


def _checkpoint_path(quick: bool) -> Path:
    return RESULTS_DIR / f"{NAME}{'.quick' if quick else ''}.partial.json"


def measure(s: Settings, quick: bool, log: Callable[[str], None] = log) -> list[dict[str, Any]]:
    """Every (dataset, external fold), in ``s.workers`` processes, largest datasets first; finished ones are kept in
    ``results/served_model.partial.json`` (same settings only) so a killed run resumes."""
    from functools import partial

    from benchmarks._keel import DEV_SUITE

    names = sorted(s.datasets, key=lambda n: -DEV_SUITE[n].rows if n in DEV_SUITE else 0)
    tasks = [(n, f) for n in names for f in range(s.outer_folds)]
    started = time.perf_counter()

    def line(task: tuple[str, int], result: dict[str, Any], finished: int) -> str:
        v = result["variants"]
        return (f"{NAME}: {task[0]} fold {task[1]} done ({finished}/{len(tasks)}, "
                f"{time.perf_counter() - started:.0f} s, load {load_average()}): first unit claimed "
                f"{v['first_unit']['claimed']} recall {v['first_unit']['recall']:.2f}; refit claimed "
                f"{v['refit']['claimed']} recall {v['refit']['recall']:.2f} precision {v['refit']['precision']:.2f}")

    done = run_resumable(partial(external_fold, s=s), tasks, _checkpoint_path(quick), asdict(s) | {"workers": None},
                         s.workers, line, chunk=3 * s.workers)
    order = {n: i for i, n in enumerate(s.datasets)}
    return sorted(done.values(), key=lambda r: (order.get(r["dataset"], 99), r["fold"]))


# --- statistics ------------------------------------------------------------------------------------------------


def per_dataset(records: list[dict[str, Any]], variant: str) -> dict[str, dict[str, float]]:
    """Per dataset: folds, claimed, held, held-rate (NaN without claims), recall@P>=0.8 (0 where not claimed),
    recall where claimed (precision_recipe's, counting external folds)."""
    return recipe_per_dataset(records, variant, count="folds")


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant: totals, held-rate over folds and over datasets, recall@P>=0.8 (dataset mean), and the paired
    comparison with ``first_unit`` (datasets better / worse, Wilcoxon p)."""
    base = per_dataset(records, "first_unit")
    names = list(base)
    out = {}
    for variant in VARIANTS:
        mine = per_dataset(records, variant)
        claimed = sum(m["claimed"] for m in mine.values())
        held = sum(m["held"] for m in mine.values())
        recall = [mine[n]["recall_p80"] for n in names]
        rate = [mine[n]["held_rate"] for n in names]
        out[variant] = {
            "folds": int(sum(m["folds"] for m in mine.values())), "claimed": int(claimed), "held": int(held),
            "held_rate": held / claimed if claimed else float("nan"),
            "held_rate_datasets": float(np.nanmean(rate)) if not np.all(np.isnan(rate)) else float("nan"),
            "recall_p80": float(np.mean(recall)),
            "recall_claimed": float(np.mean([r["variants"][variant]["recall"] for r in records
                                             if r["variants"][variant]["claimed"]])) if claimed else float("nan"),
            "better": int(sum(mine[n]["recall_p80"] > base[n]["recall_p80"] + 1e-12 for n in names)),
            "worse": int(sum(mine[n]["recall_p80"] < base[n]["recall_p80"] - 1e-12 for n in names)),
            "p_recall": wilcoxon_p(recall, [base[n]["recall_p80"] for n in names]),
            "per_dataset": mine,
        }
    return out


def held_interval(held: int, claimed: int, level: float = 0.9) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval of a held-rate (``level`` coverage).

    >>> [round(v, 3) for v in held_interval(9, 10)]
    [0.606, 0.995]
    """
    from scipy.stats import beta

    if claimed == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    low = float(beta.ppf(a, held, claimed - held + 1)) if held > 0 else 0.0
    high = float(beta.ppf(1 - a, held + 1, claimed - held)) if held < claimed else 1.0
    return low, high


# --- the section -------------------------------------------------------------------------------------------------


def _pct(v: float) -> str:
    return "—" if v != v else f"{v:.0%}"


def variant_table(summary: dict[str, dict[str, Any]]) -> str:
    rows = []
    for variant, (_, _, what) in VARIANTS.items():
        v = summary[variant]
        low, high = held_interval(v["held"], v["claimed"])
        vs = "" if variant == "first_unit" else f"{v['better']}/{v['worse']}, p = {v['p_recall']:.3f}"
        rows.append([f"**{variant}**" if variant in ("first_unit", "refit") else variant, what, v["folds"],
                     v["claimed"], v["held"], _pct(v["held_rate"]),
                     "—" if low != low else f"{low:.0%}–{high:.0%}", _pct(v["held_rate_datasets"]),
                     "—" if v["recall_claimed"] != v["recall_claimed"] else f"{v['recall_claimed']:.3f}",
                     f"{v['recall_p80']:.3f}", vs])
    return md_table(["variant", "what", "folds", "claimed", "held", "held-rate", "90 % CI", "held-rate (dataset mean)",
                     "recall where claimed", "recall@P>=0.8 (dataset mean)",
                     "vs first_unit: better/worse datasets, Wilcoxon p"], rows,
                    ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "l"])


def dataset_table(records: list[dict[str, Any]], summary: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name in summary["first_unit"]["per_dataset"]:
        mine = [r for r in records if r["dataset"] == name]
        cells = [name, f"{mine[0]['train_rows'] + mine[0]['test_rows']:,}",
                 f"{np.mean([r['test_positives'] for r in mine]):.1f}", mine[0]["first_unit_tuning"],
                 f"{np.mean([r['pooled_positives'] for r in mine]):.0f}"]
        for variant in VARIANTS:
            d = summary[variant]["per_dataset"][name]
            cells.append(f"{d['held']}/{d['claimed']} · {d['recall_p80']:.2f}")
        rows.append(cells)
    return md_table(["dataset", "rows", "new-row positives per fold", "first unit tuned on",
                     "pooled tuning positives", *VARIANTS], rows, ["l", "r", "r", "l", "r", *["r"] * len(VARIANTS)])


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    s = _settings(quick)
    started = time.perf_counter()
    records = measure(s, quick, log)
    summary = summarise(records)
    elapsed = time.perf_counter() - started
    first, refit = summary["first_unit"], summary["refit"]
    wins, losses = [], []
    for variant in ("first_unit", "refit"):
        v = summary[variant]
        low, _ = held_interval(v["held"], v["claimed"])
        line = (f"`{variant}` served model: precision >= {TARGET:g} held on new rows in {v['held']} of the "
                f"{v['claimed']} external folds where its thresholds.json claims it ({_pct(v['held_rate'])}, 90 % CI "
                f"from {_pct(low)}; goal >= {HELD_GOAL:.0%}), recall@P>=0.8 {v['recall_p80']:.3f}")
        (wins if v["claimed"] and v["held_rate"] >= HELD_GOAL else losses).append(line)
    line = (f"refit vs first unit: recall@P>=0.8 on new rows {refit['recall_p80']:.3f} vs {first['recall_p80']:.3f} "
            f"(better on {refit['better']}, worse on {refit['worse']} of {len(refit['per_dataset'])} datasets, "
            f"Wilcoxon p = {refit['p_recall']:.3f}); claims {refit['claimed']} vs {first['claimed']} of "
            f"{refit['folds']} folds")
    (wins if refit["recall_p80"] > first["recall_p80"] and refit["p_recall"] < 0.05 and
     refit["held_rate"] >= HELD_GOAL else losses).append(line)
    agree = all(r["refit_layer_agrees"] and r["first_layer_agrees"] for r in records)
    parts = [
        f"Question (issue 18 part 4): a user serves `best.keras` after `compare(..., objective=\"{OBJECTIVE}\")`. "
        f"Does the served model keep the promise of its `thresholds.json` (`achieved.reached`) on rows `compare` "
        f"never saw, in >= {HELD_GOAL:.0%} of the cases where it makes it, and with how much recall? "
        f"{len(first['per_dataset'])} KEEL development datasets x {s.outer_folds} external stratified folds: "
        f"`compare` sees the other folds (strategy `{STRATEGY}`, {s.seeds} seed(s), {s.epochs} epochs, default "
        "protocol); the held-out fold is scored by both served models of that one call. Method in "
        "`benchmarks/served_model.py`.",
        variant_table(summary),
        "Per dataset (held / claimed folds · recall@P>=0.8 on the new rows); *pooled tuning positives*: positives "
        "in the out-of-sample scores the refitted model's threshold was tuned on (the first unit's threshold sees "
        "a validation split's or one unit's training rows).",
        dataset_table(records, summary),
        f"The decision layer inside each `.keras` file decided exactly as its `thresholds.json` rule on every "
        f"fold: {'yes' if agree else '**no**'}.",
    ]
    body = "\n\n".join(parts)
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "environment": environment(),
               "settings": asdict(s), "seconds": round(elapsed, 1), "records": records, "summary": summary}
    section = store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
    _checkpoint_path(quick).unlink(missing_ok=True)
    return section


if __name__ == "__main__":
    section_main(run, __doc__)
