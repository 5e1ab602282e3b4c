"""Seed 002: 30 sparse, non-exclusive labels and a model that "predicts all zeros".

The seed's answer removes the sigmoid, trains with ``weighted_cross_entropy_with_logits(pos_weight=27)`` and keeps
the 0.5 rule. The asker then notices that a large ``pos_weight`` predicts all ones. Both symptoms are the 0.5
threshold sitting in the wrong place for a given loss: ``pos_weight`` moves where the scores fall, per-label
thresholds tuned on validation put the rule where it should be, whatever the loss.

This script runs the seed's own generator (``load_demo("multilabel30")``: 30 000 rows, 30 labels with prior 1/30,
and a positive label lights its feature only 10 % of the time) and the seed's own MLP (sigmoid removed; the losses
take logits), and scores each recipe on one test split, at 0.5 and with per-label thresholds tuned for F1 on a
validation split (``ThresholdTuner("f1")``):

* plain binary cross-entropy after 1 epoch — the "all zeros" symptom — and trained longer;
* the answer's ``pos_weight=27``; ``pos_weights(y_train)`` computed from the data (``n_neg / n_pos`` per label);
* the asymmetric loss (``AsymmetricLoss``, Ridnik et al. 2021).

The generator has a known ceiling: no rule can beat micro-F1 ``multilabel30_bayes_f1()`` = 2/11 ≈ 0.182 (predict
the lit cells; every other cell is positive with probability ~3 %). ``CollapseMonitor`` watches each training run on
the validation split and the table shows what it reports at the end: "collapsed" (almost nothing predicted at 0.5)
together with "still_learning" (validation PR-AUC still rising) means under-trained — train longer before changing
the loss.

Run: ``python examples/multilabel30.py`` (under a minute on 2 CPU cores) or ``--quick`` (a smoke run).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from imbalance.datasets import load_demo, multilabel30_bayes_f1  # noqa: E402
from imbalance.diagnose import CollapseMonitor  # noqa: E402
from imbalance.losses import AsymmetricLoss, WeightedBinaryCrossentropy  # noqa: E402
from imbalance.thresholds import ThresholdTuner  # noqa: E402
from imbalance.weighting import pos_weights  # noqa: E402

SEED = 0
NUM_LABELS = 30

RECIPES = {
    "bce_1_epoch": "BCE, 1 epoch",
    "bce": "BCE, trained longer",
    "pos_weight_27": "pos_weight=27 (answer)",
    "pos_weights_data": "pos_weights(y_train)",
    "asl": "AsymmetricLoss (4, 1, clip 0.05)",
}


def build_model(loss: keras.losses.Loss) -> keras.Model:
    """The seed's model — two Dense(100, relu) layers and 30 outputs — with the sigmoid removed (logits out)."""
    inputs = keras.Input((NUM_LABELS,))
    h = keras.layers.Dense(100, activation="relu")(inputs)
    h = keras.layers.Dense(100, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(NUM_LABELS)(h))
    model.compile(keras.optimizers.Adam(1e-3), loss=loss, steps_per_execution=16)
    return model


def make_loss(name: str, y_train: np.ndarray) -> keras.losses.Loss:
    if name == "pos_weight_27":
        return WeightedBinaryCrossentropy(27.0, from_logits=True)
    if name == "pos_weights_data":
        return WeightedBinaryCrossentropy(pos_weights(y_train), from_logits=True)
    if name == "asl":
        return AsymmetricLoss(gamma_neg=4.0, gamma_pos=1.0, clip=0.05, from_logits=True)
    return WeightedBinaryCrossentropy(1.0, from_logits=True)  # plain binary cross-entropy


def f1s(y: np.ndarray, decisions: np.ndarray) -> dict[str, float]:
    return {"micro": float(f1_score(y, decisions, average="micro", zero_division=0)),
            "macro": float(f1_score(y, decisions, average="macro", zero_division=0)),
            "per_row": float(decisions.sum(axis=1).mean())}


def main(quick: bool = False) -> dict[str, Any]:
    """Train every recipe on the same split, print the table and what it shows, and return the numbers."""
    start = time.perf_counter()
    data = load_demo("multilabel30", n_samples=6000) if quick else load_demo("multilabel30")
    x, y = data.x, data.y
    epochs, batch_size = (2, 64) if quick else (10, 64)
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, test_size=0.4, random_state=SEED)
    x_val, x_te, y_val, y_te = train_test_split(x_rest, y_rest, test_size=0.5, random_state=SEED)
    bayes = multilabel30_bayes_f1()
    print(data.description)
    print(f"Split: train {len(y_tr)}, validation {len(y_val)}, test {len(y_te)} rows; "
          f"{y_te.sum(axis=1).mean():.2f} true positives per test row.\n")

    results: dict[str, dict[str, Any]] = {}
    for name in RECIPES:
        n_epochs = 1 if name == "bce_1_epoch" else epochs
        keras.utils.set_random_seed(SEED)  # the same initial weights and batches for every recipe
        model = build_model(make_loss(name, y_tr))
        monitor = CollapseMonitor((x_val, y_val), max_samples=3000, task="multilabel", verbose=False)
        model.fit(x_tr, y_tr, epochs=n_epochs, batch_size=batch_size, callbacks=[monitor], verbose=0)
        s_val = keras.ops.convert_to_numpy(model(x_val, training=False))
        s_te = keras.ops.convert_to_numpy(model(x_te, training=False))
        tuner = ThresholdTuner("f1", from_logits=True, task="multilabel").fit(y_val, s_val)
        last = monitor.history_[-1]
        results[name] = {
            "epochs": n_epochs,
            "test_05": f1s(y_te, (s_te >= 0.0).astype(int)),  # logit 0 is probability 0.5
            "test_tuned": f1s(y_te, tuner.predict(s_te)),
            "val_05": f1s(y_val, (s_val >= 0.0).astype(int)),
            "val_tuned": f1s(y_val, tuner.predict(s_val)),
            "val_05_per_label": f1_score(y_val, (s_val >= 0.0).astype(int), average=None, zero_division=0),
            "val_tuned_per_label": f1_score(y_val, tuner.predict(s_val), average=None, zero_division=0),
            "thresholds": tuner.thresholds_,
            "conditions": list(last.conditions),
            "monitor_pr_auc": [d.pr_auc for d in ([monitor.initial_] + monitor.history_)],
            "monitor_messages": list(monitor.messages_),
            "val_scores": s_val,
            "test_scores": s_te,
            "score_thresholds": tuner.score_thresholds_,
        }
    lines = interpret(results, bayes)
    seconds = time.perf_counter() - start
    print(format_table(results, bayes))
    print()
    print("\n".join(lines))
    print(f"[{seconds:.0f} s]")
    return {"quick": quick, "bayes_f1": bayes, "results": results, "interpretation": lines, "seconds": seconds,
            "y_val": y_val, "y_test": y_te}


def format_table(results: dict[str, dict[str, Any]], bayes: float) -> str:
    width = max(len(v) for v in RECIPES.values())
    head = (f"{'recipe':<{width}}  epochs  at 0.5: pos/row  micro-F1  macro-F1   tuned: pos/row  micro-F1  "
            f"macro-F1   CollapseMonitor (end)")
    rows = [head, "-" * len(head)]
    for name, label in RECIPES.items():
        r = results[name]
        a, t = r["test_05"], r["test_tuned"]
        rows.append(f"{label:<{width}}  {r['epochs']:>6}  {a['per_row']:>15.2f}  {a['micro']:>8.3f}  "
                    f"{a['macro']:>8.3f}  {t['per_row']:>15.2f}  {t['micro']:>8.3f}  {t['macro']:>8.3f}   "
                    f"{', '.join(r['conditions']) or 'no problem found'}")
    rows.append(f"(test split; 'tuned': one threshold per label, chosen for F1 on validation; Bayes-optimal "
                f"micro-F1 of the generator: {bayes:.3f})")
    return "\n".join(rows)


def interpret(results: dict[str, dict[str, Any]], bayes: float) -> list[str]:
    """Three sentences read off the numbers; nothing here is decided in advance."""
    one, longer = results["bce_1_epoch"], results["bce"]
    pr = one["monitor_pr_auc"]
    under = {"collapsed", "still_learning"} <= set(one["conditions"])
    lines = [
        f"BCE after 1 epoch predicts {one['test_05']['per_row']:.2f} labels per row at 0.5 (micro-F1 "
        f"{one['test_05']['micro']:.3f}); CollapseMonitor reports {', '.join(one['conditions']) or 'nothing'} "
        f"(validation PR-AUC {pr[0]:.3f} before training, {pr[-1]:.3f} after)"
        + (": under-trained, not a loss problem. " if under else ". ")
        + f"Trained {longer['epochs']} epochs, BCE reaches micro-F1 {longer['test_05']['micro']:.3f} at 0.5 and "
          f"{longer['test_tuned']['micro']:.3f} tuned."
    ]
    p27 = results["pos_weight_27"]
    lines.append(f"pos_weight=27 predicts {p27['test_05']['per_row']:.2f} labels per row at 0.5 (micro-F1 "
                 f"{p27['test_05']['micro']:.3f}) and {p27['test_tuned']['micro']:.3f} with tuned thresholds: "
                 + ("tuning helps it more than it helps plain BCE — the weight had mostly moved the threshold."
                    if p27["test_tuned"]["micro"] - p27["test_05"]["micro"]
                    > longer["test_tuned"]["micro"] - longer["test_05"]["micro"]
                    else "tuning helps it no more than it helps plain BCE."))
    trained = {n: r for n, r in results.items() if n != "bce_1_epoch"}
    at_05 = [r["test_05"]["micro"] for r in trained.values()]
    tuned = [r["test_tuned"]["micro"] for r in trained.values()]
    best = max(trained, key=lambda n: trained[n]["test_tuned"]["micro"])
    spread_05, spread_tuned = max(at_05) - min(at_05), max(tuned) - min(tuned)
    lines.append(f"Across the trained recipes, test micro-F1 spans {min(at_05):.3f}-{max(at_05):.3f} at 0.5 and "
                 f"{min(tuned):.3f}-{max(tuned):.3f} tuned (best: {RECIPES[best]}, {max(tuned) / bayes:.0%} of the "
                 f"Bayes-optimal {bayes:.3f}): "
                 + ("tuning removes most of the difference between the losses"
                    if spread_tuned < 0.5 * spread_05 else "tuning does not remove the difference between the losses")
                 + (f"; where 0.5 was already right (plain BCE) the per-label thresholds cost "
                    f"{longer['test_05']['micro'] - longer['test_tuned']['micro']:.3f} (fitted to validation noise)."
                    if longer["test_tuned"]["micro"] < longer["test_05"]["micro"] else "."))
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Seed 002: 30 sparse labels that collapse to all zeros.")
    parser.add_argument("--quick", action="store_true", help="6000 rows and 2 epochs: a smoke run")
    main(quick=parser.parse_args().quick)
