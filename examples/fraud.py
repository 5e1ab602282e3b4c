"""Seed 001: binary fraud detection with 1 % positives — class weights, SMOTE or focal loss?

The seed's answer offers three fixes (class weights ``n / (2 n_c)``, SMOTE "conceptually shown", focal loss with
``gamma=2, alpha=0.25``), evaluates them at the default 0.5 threshold on features that carry no signal, and never
chooses a threshold. Here, on data with real signal (``load_demo("fraud")``: 20 000 transactions, 200 frauds), every
recipe trains the seed's own MLP (sigmoid removed; the losses take logits) and is scored twice on the same test
split:

* at the untuned 0.5 threshold (what the seed reports), and
* at a threshold tuned on a validation split for the business goal, "the most recall with precision >= 0.8"
  (``ThresholdTuner("recall@precision>=0.8")``; by default the precision constraint must hold for a 0.9 lower
  confidence bound, because 40 validation frauds make a point estimate optimistic).

The recipes: plain binary cross-entropy; the seed's class weights; SMOTE redrawn every epoch inside ``model.fit``
(``ImblearnSampler``); focal loss with ``alpha`` on the rare class (``alpha = 1 - prior``); and focal loss as in the
seed (``alpha=0.25``, which *down*-weights the frauds). PR-AUC on test says how well each one ranks, whatever the
threshold; "oracle" is the best recall at precision >= 0.8 on the test split itself (a threshold nobody could
choose in advance: the ceiling for that model).

Run: ``python examples/fraud.py`` (under a minute on 2 CPU cores) or ``--quick`` (a smoke run).
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from imblearn.over_sampling import SMOTE  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from imbalance.data import ImblearnSampler  # noqa: E402
from imbalance.datasets import load_demo  # noqa: E402
from imbalance.losses import BinaryFocalLoss, WeightedBinaryCrossentropy  # noqa: E402
from imbalance.metrics import report  # noqa: E402
from imbalance.thresholds import ThresholdTuner, UnreachableTargetWarning  # noqa: E402
from imbalance.weighting import class_weights  # noqa: E402

TARGET = 0.8
OBJECTIVE = f"recall@precision>={TARGET:g}"
SEED = 0

RECIPES = {
    "bce": "plain BCE",
    "class_weights": "class weights n/(2 n_c) (seed)",
    "smote": "SMOTE every epoch (ImblearnSampler)",
    "focal_rare": "focal g=2, alpha=1-prior (rare class)",
    "focal_seed": "focal g=2, alpha=0.25 (seed)",
}


def build_model(loss: keras.losses.Loss, features: int) -> keras.Model:
    """The seed's model — Dense(32, relu) then one unit — with the sigmoid removed: the losses take logits."""
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-3), loss=loss)
    return model


def train(name: str, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, seed: int) -> keras.Model:
    """Fit the seed's model under one recipe; the same initial weights for every recipe."""
    prior = float(np.mean(y))
    losses = {
        "bce": WeightedBinaryCrossentropy(from_logits=True),
        "class_weights": WeightedBinaryCrossentropy(from_logits=True),
        "smote": WeightedBinaryCrossentropy(from_logits=True),
        "focal_rare": BinaryFocalLoss(gamma=2.0, alpha=1.0 - prior, from_logits=True),
        "focal_seed": BinaryFocalLoss(gamma=2.0, alpha=0.25, from_logits=True),
    }
    keras.utils.set_random_seed(seed)
    model = build_model(losses[name], x.shape[1])
    labels = y.astype("float32").reshape(-1, 1)
    if name == "smote":  # new synthetic frauds every epoch, not one fixed resample
        sampler = ImblearnSampler(SMOTE(), x, labels, batch_size=batch_size, seed=seed)
        with warnings.catch_warnings():
            # Keras warns at the end of every epoch of a dataset of unknown length; each epoch is one full resample.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            model.fit(sampler.dataset(), epochs=epochs, shuffle=False, verbose=0)
    else:
        weights = class_weights(y, "balanced") if name == "class_weights" else None  # n / (2 n_c), as the seed
        model.fit(x, labels, epochs=epochs, batch_size=batch_size, class_weight=weights, verbose=0)
    return model


def logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False)).reshape(-1)


def precision_recall(y: np.ndarray, decisions: np.ndarray) -> tuple[float, float]:
    tp = int(np.sum((decisions == 1) & (y == 1)))
    predicted = int(np.sum(decisions == 1))
    return (tp / predicted if predicted else math.nan), tp / int(np.sum(y == 1))


def oracle_recall(y: np.ndarray, scores: np.ndarray) -> float:
    """Best recall at precision >= TARGET on these very rows (exact search, point estimate); 0 when none reaches it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableTargetWarning)
        tuner = ThresholdTuner(OBJECTIVE, confidence=None, on_unreachable="best", from_logits=True).fit(y, scores)
    return float(tuner.best_score_) if tuner.achieved_["reached"] else 0.0


def main(quick: bool = False) -> dict[str, Any]:
    """Train every recipe on the same split, print the table and what it shows, and return the numbers."""
    start = time.perf_counter()
    data = load_demo("fraud")
    x, y = data.x, data.y
    epochs, batch_size = (1, 64) if quick else (10, 64)
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, test_size=0.4, stratify=y, random_state=SEED)
    x_val, x_te, y_val, y_te = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=SEED)
    print(data.description)
    print(f"Split: train {len(y_tr)} ({int(y_tr.sum())} frauds), validation {len(y_val)} ({int(y_val.sum())}), "
          f"test {len(y_te)} ({int(y_te.sum())}). Goal: the most recall with precision >= {TARGET:g}.\n")

    results: dict[str, dict[str, Any]] = {}
    for name in RECIPES:
        model = train(name, x_tr, y_tr, epochs, batch_size, SEED)
        s_val, s_te = logits(model, x_val), logits(model, x_te)
        tuner = ThresholdTuner(OBJECTIVE, on_unreachable="best", from_logits=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnreachableTargetWarning)
            tuner.fit(y_val, s_val)
        tuned = tuner.predict(s_te)
        p05, r05 = precision_recall(y_te, (s_te >= 0.0).astype(int))  # logit 0 is probability 0.5
        p_tuned, r_tuned = precision_recall(y_te, tuned)
        results[name] = {
            "pr_auc": float(report(y_te, s_te, from_logits=True).loc[1, "pr_auc"]),
            "precision_05": p05, "recall_05": r05,
            "threshold": float(tuner.thresholds_[0]), "score_threshold": float(tuner.score_thresholds_[0]),
            "reached": bool(tuner.achieved_["reached"]),
            "val_precision": float(tuner.achieved_["precision"]), "val_recall": float(tuner.achieved_["recall"]),
            "val_precision_lower": float(tuner.achieved_["precision_lower"]),
            "precision_tuned": p_tuned, "recall_tuned": r_tuned,
            "oracle_recall": oracle_recall(y_te, s_te),
            "warnings": [str(w.message) for w in caught if issubclass(w.category, UnreachableTargetWarning)],
            "val_scores": s_val, "test_scores": s_te, "test_decisions": tuned,
        }
    lines = interpret(results, int(y_te.sum()))
    seconds = time.perf_counter() - start
    print(format_table(results))
    print()
    print("\n".join(lines))
    print(f"[{seconds:.0f} s]")
    return {"quick": quick, "target": TARGET, "results": results, "interpretation": lines, "seconds": seconds,
            "y_val": y_val, "y_test": y_te}


def _num(value: float) -> str:
    return "  n/a" if math.isnan(value) else f"{value:.3f}"


def format_table(results: dict[str, dict[str, Any]]) -> str:
    width = max(len(v) for v in RECIPES.values())
    head = (f"{'recipe (all on the same split)':<{width}}  PR-AUC   at 0.5: prec  recall   tuned: thr    prec  recall"
            f"   oracle recall")
    rows = [head, "-" * len(head)]
    for name, label in RECIPES.items():
        r = results[name]
        mark = "" if r["reached"] else "*"
        rows.append(f"{label:<{width}}  {r['pr_auc']:.3f}          {_num(r['precision_05'])}   {_num(r['recall_05'])}"
                    f"   {r['threshold']:>10.3g}{mark:1}  {_num(r['precision_tuned'])}   {_num(r['recall_tuned'])}"
                    f"           {r['oracle_recall']:.3f}")
    rows.append(f"(test split; 'tuned': threshold chosen on validation for {OBJECTIVE} with a 0.9 confidence bound; "
                "* = not reachable on validation, most precise threshold used; oracle: best recall at precision "
                f">= {TARGET:g} on test itself)")
    return "\n".join(rows)


def interpret(results: dict[str, dict[str, Any]], test_frauds: int) -> list[str]:
    """Three sentences read off the numbers; nothing here is decided in advance."""
    r05 = [r["recall_05"] for r in results.values()]
    p05 = [r["precision_05"] for r in results.values() if not math.isnan(r["precision_05"])]
    tuned_p = [r["precision_tuned"] for r in results.values() if not math.isnan(r["precision_tuned"])]
    tuned_r = [r["recall_tuned"] for r in results.values()]
    meets = [RECIPES[n] for n, r in results.items()
             if not math.isnan(r["precision_tuned"]) and r["precision_tuned"] >= TARGET]
    meets_05 = [n for n, r in results.items() if not math.isnan(r["precision_05"]) and r["precision_05"] >= TARGET]
    lines = [
        f"At 0.5, test precision spans {min(p05):.3f}-{max(p05):.3f} (recall {min(r05):.3f}-{max(r05):.3f}) and "
        f"{len(meets_05)} of {len(results)} recipes reach precision >= {TARGET:g}; with thresholds tuned on "
        f"validation, precision spans {min(tuned_p):.3f}-{max(tuned_p):.3f} (recall {min(tuned_r):.3f}-"
        f"{max(tuned_r):.3f}) and {len(meets)} of {len(results)} reach it."
    ]
    bce = results["bce"]["pr_auc"]
    better = [f"{RECIPES[n]} ({r['pr_auc']:.3f})" for n, r in results.items() if n != "bce" and r["pr_auc"] > bce]
    lines.append(f"Ranking (PR-AUC, threshold-free, {test_frauds} test frauds): plain BCE {bce:.3f}; "
                 + (f"higher: {', '.join(better)}." if better else "no reweighting or resampling ranks better."))
    seed, rare = results["focal_seed"], results["focal_rare"]
    gap_05 = seed["recall_05"] - rare["recall_05"]
    gap_tuned = seed["recall_tuned"] - rare["recall_tuned"]
    if gap_05 < 0 <= gap_tuned:
        verdict = ("alpha=0.25 loses recall at 0.5 but not once thresholds are tuned: at 0.5 it lost by where the "
                   "threshold fell, not by how it ranks")
    elif abs(gap_tuned) < abs(gap_05):
        verdict = "the gap shrinks once thresholds are tuned: alpha mostly moved where 0.5 falls"
    else:
        verdict = "the gap does not shrink once thresholds are tuned: alpha changed the ranking, not only the threshold"
    lines.append(f"Focal alpha=0.25 (seed) vs alpha on the rare class: test recall {seed['recall_05']:.3f} vs "
                 f"{rare['recall_05']:.3f} at 0.5, {seed['recall_tuned']:.3f} vs {rare['recall_tuned']:.3f} tuned "
                 f"(PR-AUC {seed['pr_auc']:.3f} vs {rare['pr_auc']:.3f}) — {verdict}.")
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Seed 001: fraud detection with 1 % positives.")
    parser.add_argument("--quick", action="store_true", help="1 epoch: a smoke run")
    main(quick=parser.parse_args().quick)
