"""imbalance.metrics.report against scikit-learn called directly on the natural form of each problem (class ids,
label matrices, 1-D binary scores), the streaming metrics, and clear errors for bad inputs."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax
from sklearn.metrics import (
    average_precision_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from imbalance.metrics import FBetaScore, PRAUC, report

K = 4
COLUMNS = ["precision", "recall", "f1", "support", "pr_auc", "roc_auc"]


def _multiclass(seed=0, n=400):
    rng = np.random.default_rng(seed)
    ids = rng.choice(K, size=n, p=[0.1, 0.2, 0.3, 0.4])
    logits = 1.5 * np.eye(K)[ids] + 1.2 * rng.normal(size=(n, K))
    return ids, logits, softmax(logits, axis=1)


def _multilabel(seed=1, n=400):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, K)) < [0.05, 0.2, 0.35, 0.5]).astype(int)
    y[0] = 1  # at least one row with several labels: multi-hot, not one-hot
    logits = 1.2 * (2 * y - 1) + 1.5 * rng.normal(size=(n, K))
    return y, logits, expit(logits)


def _binary(seed=2, n=400):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    logits = 1.5 * (2 * y - 1) + 1.5 * rng.normal(size=n)
    return y, logits, expit(logits)


def _check_rows(table, expected_rows):
    for name, expected in expected_rows.items():
        np.testing.assert_allclose(table.loc[name, COLUMNS].to_numpy(dtype=float), expected, rtol=1e-10,
                                   err_msg=str(name))


def test_multiclass_argmax_equals_scikit_learn_on_class_ids():
    ids, _, probs = _multiclass()
    table = report(ids, probs)
    assert list(table.columns) == COLUMNS
    assert list(table.index) == [0, 1, 2, 3, "macro", "micro"]
    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(ids, pred, labels=range(K), zero_division=0)
    onehot = np.eye(K)[ids]
    rows = {c: [p[c], r[c], f[c], s[c], average_precision_score(ids == c, probs[:, c]),
                roc_auc_score(ids == c, probs[:, c])] for c in range(K)}
    for average in ("macro", "micro"):
        prf = precision_recall_fscore_support(ids, pred, labels=range(K), average=average, zero_division=0)
        rows[average] = [*prf[:3], len(ids), average_precision_score(onehot, probs, average=average),
                         roc_auc_score(onehot, probs, average=average)]
    rows["macro"][5] = roc_auc_score(ids, probs, multi_class="ovr", average="macro")
    _check_rows(table, rows)
    np.testing.assert_allclose(table.loc["micro", "f1"], np.mean(pred == ids), rtol=1e-12)  # micro F1 = accuracy


def test_label_formats_and_logits_give_the_same_table():
    ids, logits, probs = _multiclass(seed=3)
    expected = report(ids, probs)
    for y, scores, from_logits in [(np.eye(K)[ids], probs, False), (ids.reshape(-1, 1), probs, False),
                                   (list(ids), logits, True), (pd.Series(ids), probs.tolist(), False)]:
        pd.testing.assert_frame_equal(report(y, scores, from_logits=from_logits), expected, rtol=1e-9)


def test_multilabel_equals_scikit_learn_per_label_and_averaged():
    y, logits, probs = _multilabel()
    thresholds = [0.3, 0.4, 0.5, 0.6]
    table = report(y, logits, thresholds=thresholds, from_logits=True)
    assert table.index.name == "label"
    d = probs >= thresholds
    p, r, f, s = precision_recall_fscore_support(y, d, zero_division=0)
    rows = {c: [p[c], r[c], f[c], s[c], average_precision_score(y[:, c], probs[:, c]),
                roc_auc_score(y[:, c], probs[:, c])] for c in range(K)}
    for average in ("macro", "micro"):
        prf = precision_recall_fscore_support(y, d, average=average, zero_division=0)
        rows[average] = [*prf[:3], y.sum(), average_precision_score(y, probs, average=average),
                         roc_auc_score(y, probs, average=average)]
    _check_rows(table, rows)


def test_binary_scores_report_both_classes():
    y, _, p = _binary()
    table = report(y, p, thresholds=0.3)
    assert list(table.index) == [0, 1, "macro", "micro"]
    d = p >= 0.3
    rows = {}
    for c in (0, 1):
        prf = precision_recall_fscore_support(y, d, pos_label=c, average="binary")
        scores = p if c == 1 else 1 - p
        rows[c] = [*prf[:3], np.sum(y == c), average_precision_score(y == c, scores), roc_auc_score(y, p)]
    prf = precision_recall_fscore_support(y, d, average="macro")
    rows["macro"] = [*prf[:3], len(y), (rows[0][4] + rows[1][4]) / 2, roc_auc_score(y, p)]
    both = np.stack([1 - y, y], 1)
    prf = precision_recall_fscore_support(y, d, labels=[0, 1], average="micro")
    rows["micro"] = [*prf[:3], len(y), average_precision_score(both, np.stack([1 - p, p], 1), average="micro"),
                     roc_auc_score(both, np.stack([1 - p, p], 1), average="micro")]
    _check_rows(table, rows)
    pd.testing.assert_frame_equal(report(y, p.reshape(-1, 1), thresholds=[0.3]), table)


def test_thresholds_on_a_multiclass_output_decide_each_class_one_vs_rest():
    ids, _, probs = _multiclass(seed=4)
    table = report(ids, probs, thresholds=0.25)
    onehot = np.eye(K)[ids]
    p, r, f, _ = precision_recall_fscore_support(onehot, probs >= 0.25, zero_division=0)
    np.testing.assert_allclose(table.loc[list(range(K)), ["precision", "recall", "f1"]].to_numpy(dtype=float),
                               np.stack([p, r, f], 1), rtol=1e-12)


def test_sample_weights_are_passed_to_every_number():
    ids, _, probs = _multiclass(seed=5)
    w = np.random.default_rng(0).uniform(0.1, 4.0, size=len(ids))
    table = report(ids, probs, sample_weight=w)
    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(ids, pred, labels=range(K), sample_weight=w, zero_division=0)
    for c in range(K):
        expected = [p[c], r[c], f[c], s[c], average_precision_score(ids == c, probs[:, c], sample_weight=w),
                    roc_auc_score(ids == c, probs[:, c], sample_weight=w)]
        np.testing.assert_allclose(table.loc[c, COLUMNS].to_numpy(dtype=float), expected, rtol=1e-10)
    np.testing.assert_allclose(table.loc["macro", "support"], w.sum(), rtol=1e-12)


def test_a_class_without_positives_has_no_ranking_scores_and_is_left_out_of_their_macro():
    ids, _, probs = _multiclass(seed=6)
    ids = np.where(ids == 0, 1, ids)  # class 0 never occurs
    table = report(ids, probs)
    assert np.isnan(table.loc[0, "pr_auc"]) and np.isnan(table.loc[0, "roc_auc"])
    assert table.loc[0, "support"] == 0 and table.loc[0, "recall"] == 0.0
    np.testing.assert_allclose(table.loc["macro", "pr_auc"], table.loc[[1, 2, 3], "pr_auc"].mean(), rtol=1e-12)
    np.testing.assert_allclose(table.loc["macro", "roc_auc"], table.loc[[1, 2, 3], "roc_auc"].mean(), rtol=1e-12)


def test_one_positive_per_row_multilabel_needs_task_and_class_names_label_the_rows():
    y = np.eye(3, dtype=int)[[0, 1, 2, 1, 0, 2]]
    scores = np.array([[.9, .6, .1], [.2, .7, .3], [.1, .2, .8], [.6, .4, .2], [.7, .1, .6], [.3, .3, .4]])
    as_multiclass = report(y, scores)
    as_multilabel = report(y, scores, task="multilabel", class_names=["cat", "dog", "bird"])
    assert list(as_multilabel.index) == ["cat", "dog", "bird", "macro", "micro"]
    p = precision_recall_fscore_support(y, scores >= 0.5, zero_division=0)[0]
    np.testing.assert_allclose(as_multilabel["precision"].to_numpy()[:3], p, rtol=1e-12)
    p_argmax = precision_recall_fscore_support(y.argmax(1), scores.argmax(1), labels=range(3), zero_division=0)[0]
    np.testing.assert_allclose(as_multiclass["precision"].to_numpy()[:3], p_argmax, rtol=1e-12)


def test_agrees_with_the_streaming_metrics():
    ids, logits, probs = _multiclass(seed=7)
    table = report(ids, logits, from_logits=True)
    f1 = FBetaScore(from_logits=True)
    f1.update_state(ids, logits.astype(np.float32))
    np.testing.assert_allclose(float(f1.result()), table.loc["macro", "f1"], rtol=1e-5)
    pr = PRAUC(num_thresholds=2000, from_logits=True)
    pr.update_state(ids, logits.astype(np.float32))
    np.testing.assert_allclose(float(pr.result()), table.loc["macro", "pr_auc"], atol=5e-3)


@pytest.mark.parametrize("y, scores, kwargs, match", [
    ([0, 1, 1], [[0.2, 0.8], [np.nan, 0.5], [0.4, 0.6]], {}, r"`scores` must be finite; row 1, column 0 holds nan"),
    ([0, 1, 1], [0.2, np.inf, 0.4], {"from_logits": True}, r"row 1 holds inf"),
    ([0, 1, 1], [[0.2, 0.8], [1.5, 0.5], [0.4, 0.6]], {}, r"probabilities in \[0, 1\] when from_logits=False; row 1, "
                                                         r"column 0 holds 1.5. Pass from_logits=True"),
    ([0, 1], [0.2, 0.3, 0.4], {}, r"`y_true` has 2 rows but `scores` has 3 rows"),
    (np.eye(3)[[0, 1, 2]], np.full((3, 4), 0.25), {}, r"`y_true` has 3 columns but `scores` has 4"),
    ([0, 4, 1], np.full((3, 4), 0.25), {}, r"Class ids must be < num_classes=4; row 1 holds 4"),
    ([0, 2, 1], [0.2, 0.3, 0.4], {}, r"one column \(a binary sigmoid output\), but `y_true` is multiclass"),
    ([0, 1, 1], [0.2, 0.3, 0.4], {"thresholds": 1.2}, r"`thresholds` must be <= 1.0. Received: thresholds=1.2"),
    ([0, 2, 1], np.full((3, 3), 1 / 3), {"thresholds": [0.2, 0.3]}, r"`thresholds` has 2 entries but `scores` has "
                                                                     r"3 classes"),
    ([0, 1, 1], [0.2, 0.3, 0.4], {"sample_weight": [1.0, -1.0, 1.0]}, r"row 1 holds -1.0"),
    ([0, 1, 1], [0.2, 0.3, 0.4], {"sample_weight": [1.0, 1.0]}, r"one weight per row \(3 rows\)"),
    ([0, 1, 1], [0.2, 0.3, 0.4], {"class_names": ["a"]}, r"`class_names` has 1 entries but there are 2"),
    ([0, 1, 1], np.zeros((3, 2, 2)), {}, r"`scores` must have shape .*Received shape \(3, 2, 2\)"),
    ([[0, 2], [1, 0]], np.full((2, 2), 0.5), {}, r"must hold only 0 and 1; row 0, column 1 holds 2"),
])
def test_bad_inputs_name_what_is_wrong(y, scores, kwargs, match):
    with pytest.raises(ValueError, match=match):
        report(y, scores, **kwargs)
