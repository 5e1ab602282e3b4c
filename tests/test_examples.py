"""The three seed examples (examples/*.py) run end to end in quick mode, and what they print is consistent.

Each script is loaded from its file and run once (``main(quick=True)``); the tests then recompute its numbers from
the arrays it returns with independent formulas (numpy, scikit-learn, brute force over every threshold) and check
what must hold whatever the training noise: a tuned threshold meets its constraint on the data it was tuned on when
the script says it is reachable, and is the best such threshold; the reloaded Keras model decides as the tuner;
tuned per-label F1 is never below the 0.5 rule's on the tuning data.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta
from sklearn.metrics import average_precision_score

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def class0():
    return load("class0_precision").main(quick=True)


@pytest.fixture(scope="module")
def fraud():
    return load("fraud").main(quick=True)


@pytest.fixture(scope="module")
def multilabel():
    return load("multilabel30").main(quick=True)


def brute_force_recall_at_precision(truth, scores, target):
    """Best recall over every threshold ``scores >= t`` (t = each distinct score) with precision >= target; None
    when no threshold reaches it. Written independently of imbalance.thresholds."""
    best = None
    for t in np.unique(scores):
        predicted = scores >= t
        tp = np.sum(predicted & truth)
        if tp and tp / np.sum(predicted) >= target:
            recall = tp / np.sum(truth)
            best = recall if best is None else max(best, recall)
    return best


def f1_columns(truth, decisions):
    """Per-column F1 = 2TP / (2TP + FP + FN), 0 when undefined."""
    tp = np.sum(truth & decisions, axis=0)
    fp = np.sum(~truth & decisions, axis=0)
    fn = np.sum(truth & ~decisions, axis=0)
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


# --- seed 000: class-0 precision ------------------------------------------------------------------------------------


def test_class0_table_counts_match_the_decisions(class0):
    y = class0["y"]
    assert set(class0["results"]) == {"seed", "seed_augment", "ce", "cost_sensitive", "logit_adjusted", "ours"}
    for name, r in class0["results"].items():
        d = class0["decisions"][name]
        assert d.shape == y.shape and d.min() >= 0 and d.max() <= 9
        tp, fp = int(np.sum((d == 0) & (y == 0))), int(np.sum((d == 0) & (y != 0)))
        assert (r["tp"], r["fp"]) == (tp, fp)
        assert r["recall"] == pytest.approx(tp / np.sum(y == 0))
        assert r["accuracy"] == pytest.approx(np.mean(d == y))
        if tp + fp:
            assert r["precision"] == pytest.approx(tp / (tp + fp))
            assert r["precision_low"] <= r["precision"] <= r["precision_high"]
        else:
            assert math.isnan(r["precision"])
    assert 2 <= len(class0["interpretation"]) <= 3 and all(class0["interpretation"])


def test_class0_threshold_meets_the_target_on_its_tuning_scores_when_reachable(class0):
    target = class0["target"]
    assert class0["tuning"]
    for fold in class0["tuning"]:
        truth, p0 = fold["y"] == 0, fold["scores"][:, 0]
        best = brute_force_recall_at_precision(truth, p0, target)
        assert fold["reached"] == (best is not None)
        if fold["reached"]:
            predicted = p0 >= fold["threshold"]
            precision = np.sum(predicted & truth) / np.sum(predicted)
            assert precision >= target
            assert fold["precision"] == pytest.approx(precision)
            assert fold["recall"] == pytest.approx(best)  # the most recall any threshold gives at that precision


def test_class0_reloaded_model_decides_as_the_tuner(class0):
    export = class0["export"]
    assert export["same_decisions"]
    np.testing.assert_array_equal(export["reloaded_decisions"], export["tuner_decisions"])
    # and both are the documented rule: class 0 when its probability passes, else the most probable other class
    p = export["probabilities"].astype(np.float64)
    others = p.copy()
    others[:, 0] = -np.inf
    rule = np.where(p[:, 0] >= export["threshold"], 0, others.argmax(axis=1))
    np.testing.assert_array_equal(export["reloaded_decisions"], rule)


def test_class0_minimum_hits_for_the_confidence_bound(class0):
    k = class0["min_hits_for_bound"]
    assert beta.ppf(0.1, k, 1) >= class0["target"] > beta.ppf(0.1, k - 1, 1)  # k of k hits: the bound is 0.1^(1/k)


# --- seed 001: fraud ------------------------------------------------------------------------------------------------


def test_fraud_numbers_match_independent_computations(fraud):
    y_val, y_test = fraud["y_val"], fraud["y_test"]
    assert len(fraud["results"]) == 5
    for r in fraud["results"].values():
        s_val, s_test = r["val_scores"], r["test_scores"]
        assert np.all(np.isfinite(s_val)) and np.all(np.isfinite(s_test))
        assert r["pr_auc"] == pytest.approx(average_precision_score(y_test, s_test))
        at_05 = s_test >= 0.0  # logit 0 is probability 0.5
        assert r["recall_05"] == pytest.approx(np.sum(at_05 & (y_test == 1)) / np.sum(y_test == 1))
        tuned = s_test >= r["score_threshold"]
        np.testing.assert_array_equal(r["test_decisions"], tuned.astype(int))
        assert r["recall_tuned"] == pytest.approx(np.sum(tuned & (y_test == 1)) / np.sum(y_test == 1))
        if tuned.any():
            assert r["precision_tuned"] == pytest.approx(np.sum(tuned & (y_test == 1)) / np.sum(tuned))
        assert 0.0 <= r["threshold"] <= 1.0 or r["threshold"] == math.inf
        assert 0.0 <= r["oracle_recall"] <= 1.0
    assert 2 <= len(fraud["interpretation"]) <= 3


def test_fraud_tuned_threshold_meets_the_bound_on_validation_when_reachable(fraud):
    target, y_val = fraud["target"], fraud["y_val"] == 1
    for r in fraud["results"].values():
        predicted = r["val_scores"] >= r["score_threshold"]
        tp, fp = int(np.sum(predicted & y_val)), int(np.sum(predicted & ~y_val))
        if r["reached"]:
            assert tp / (tp + fp) >= target
            assert beta.ppf(0.1, tp, fp + 1) >= target - 1e-9  # the 0.9 Clopper-Pearson lower bound
            assert r["val_precision_lower"] == pytest.approx(beta.ppf(0.1, tp, fp + 1))
        else:
            assert r["warnings"], "an unreachable target must be reported"


def test_fraud_oracle_is_the_best_recall_at_the_target_on_test(fraud):
    target, y_test = fraud["target"], fraud["y_test"] == 1
    for r in fraud["results"].values():
        best = brute_force_recall_at_precision(y_test, r["test_scores"], target)
        assert r["oracle_recall"] == pytest.approx(0.0 if best is None else best)
        if not math.isnan(r["precision_tuned"]) and r["precision_tuned"] >= target:
            assert r["recall_tuned"] <= r["oracle_recall"] + 1e-12  # no threshold beats the oracle


# --- seed 002: 30 sparse labels -------------------------------------------------------------------------------------


def test_multilabel_tuned_f1_is_never_below_the_05_rule_on_validation(multilabel):
    truth = multilabel["y_val"].astype(bool)
    for name, r in multilabel["results"].items():
        s = r["val_scores"]
        at_05 = f1_columns(truth, s >= 0.0)
        tuned = f1_columns(truth, s >= r["score_thresholds"])
        np.testing.assert_allclose(at_05, r["val_05_per_label"], atol=1e-12)
        np.testing.assert_allclose(tuned, r["val_tuned_per_label"], atol=1e-12)
        assert np.all(tuned >= at_05 - 1e-12), name
        assert r["val_tuned"]["macro"] >= r["val_05"]["macro"] - 1e-12


def test_multilabel_thresholds_are_the_best_per_label_on_validation(multilabel):
    truth = multilabel["y_val"].astype(bool)
    r = multilabel["results"]["pos_weight_27"]
    s = r["val_scores"]
    for j in range(truth.shape[1]):
        candidates = np.unique(s[:, j])
        decisions = s[:, j][:, None] >= candidates[None, :]
        best = f1_columns(np.repeat(truth[:, j:j + 1], len(candidates), axis=1), decisions).max()
        assert r["val_tuned_per_label"][j] == pytest.approx(best)


def test_multilabel_test_numbers_and_ceiling(multilabel):
    assert multilabel["bayes_f1"] == pytest.approx(2 / 11)  # lit cells only: 2·0.1 / (2·0.1 + 0.9)
    truth = multilabel["y_test"].astype(bool)
    for r in multilabel["results"].values():
        d = r["test_scores"] >= 0.0
        tp, fp, fn = np.sum(truth & d), np.sum(~truth & d), np.sum(truth & ~d)
        micro = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        assert r["test_05"]["micro"] == pytest.approx(micro)
        assert r["test_05"]["macro"] == pytest.approx(f1_columns(truth, d).mean())
        assert r["test_05"]["per_row"] == pytest.approx(d.sum(axis=1).mean())
        assert len(r["monitor_pr_auc"]) == r["epochs"] + 1  # before training, then after every epoch
        assert all(np.isfinite(r["monitor_pr_auc"]))
    assert multilabel["results"]["bce_1_epoch"]["epochs"] == 1
    assert 2 <= len(multilabel["interpretation"]) <= 3
