"""ThresholdTuner against brute force (every distinct score, scikit-learn confusion counts), confidence bounds that
hold on unseen data, persistence, bad inputs and out-of-fold scores."""

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.exceptions import NotFittedError
from sklearn.metrics import confusion_matrix, precision_score

from imbalance.thresholds import (
    Objective,
    ThresholdTuner,
    UnreachableTargetError,
    UnreachableTargetWarning,
    iterative_folds,
    out_of_fold_scores,
    parse_objective,
)

# --- brute force, written independently of the implementation -------------------------------------------------


def _counts(y, s, thresholds):
    """(threshold, tp, fp, fn, tn) at every threshold, from scikit-learn's confusion matrix."""
    rows = []
    for t in thresholds:
        tn, fp, fn, tp = confusion_matrix(y, (s >= t).astype(int), labels=[0, 1]).ravel()
        rows.append((t, int(tp), int(fp), int(fn), int(tn)))
    return rows


def _pick(candidates):
    """(threshold, value) with the largest value; ties (1e-9 relative) go to the largest threshold."""
    best = max(v for _, v in candidates)
    tied = [t for t, v in candidates if v >= best - 1e-9 * max(1.0, abs(best))]
    t = max(tied)
    return t, dict(candidates)[t]


def brute_force(y, s, objective, confidence=None):
    """Best (threshold, objective value) over every distinct score (and +inf for cost), or None if unreachable."""
    o = parse_objective(objective)
    thresholds = sorted(set(s.tolist())) + ([math.inf] if o.kind == "cost" else [])
    rows = _counts(y, s, thresholds)
    n = len(y)
    if o.kind == "fbeta":
        out = []
        for t, tp, fp, fn, tn in rows:
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn)
            f = (1 + o.beta**2) * p * r / (o.beta**2 * p + r) if tp else 0.0
            out.append((t, f))
        return _pick(out)
    if o.kind == "cost":
        t, v = _pick([(t, -(o.fp * fp + o.fn * fn)) for t, tp, fp, fn, tn in rows])
        return t, -v / n
    if o.kind == "recall_at_precision" and confidence is not None:
        # The documented fixed-sequence rule: walk the distinct scores of positive rows from the highest down, start
        # at the first whose Clopper-Pearson lower bound of precision meets the target, stop before the first fail.
        positive_scores = set(s[y == 1].tolist())
        walk = [r for r in reversed(rows) if r[0] in positive_scores]
        chosen, started = None, False
        for t, tp, fp, fn, tn in walk:
            lower = stats.beta.ppf(1 - confidence, tp, fp + 1)
            if lower >= o.target:
                chosen, started = (t, tp / (tp + fn)), True
            elif started:
                break
        return chosen
    feasible = []
    for t, tp, fp, fn, tn in rows:
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn)
        if o.kind == "recall_at_precision":
            if precision is not None and precision >= o.target:
                feasible.append((t, recall))
        else:
            ok = recall >= o.target if confidence is None else (
                tp > 0 and stats.beta.ppf(1 - confidence, tp, tp + fn - tp + 1) >= o.target)
            if ok:
                feasible.append((t, precision))
    return _pick(feasible) if feasible else None


def _data(kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        y = (rng.random(150) < 0.3).astype(int)
        s = 1 / (1 + np.exp(-(rng.normal(size=150) + 1.8 * y - 1)))
    elif kind == "ties":  # one decimal: many ties, also across the classes
        y = (rng.random(160) < 0.35).astype(int)
        s = np.round(np.clip(rng.normal(0.4, 0.2, size=160) + 0.25 * y, 0, 1), 1)
    elif kind == "rare":  # few positives, coarse ties
        y = (rng.random(240) < 0.1).astype(int)
        y[:3] = 1
        s = np.round(np.clip(rng.normal(0.3, 0.15, size=240) + 0.3 * y, 0, 1), 2)
    else:  # "noise": no signal, so constraints are unreachable and costly false positives mean predicting nothing
        y = (rng.random(120) < 0.3).astype(int)
        s = np.round(rng.random(120), 2)
        y[s >= np.sort(s)[-2]] = 0  # the top scores are negatives
    return y, s


DATA = ["continuous", "ties", "rare", "noise"]


OBJECTIVES = [
    ("f1", None), ("f2", None), ("fbeta:0.5", None), ("f0.3", None),
    ("recall@precision>=0.6", None), ("recall@precision>=0.75", None),
    ("precision@recall>=0.7", None), ("precision@recall>=0.95", None),
    ("cost:fp=1,fn=10", None), ("cost:fp=3,fn=1", None), ("cost:fp=50,fn=1", None),
    ("recall@precision>=0.6", 0.9), ("recall@precision>=0.5", 0.75), ("precision@recall>=0.6", 0.9),
]


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("objective, confidence", OBJECTIVES)
def test_equals_brute_force_over_every_distinct_score(data, objective, confidence):
    y, s = _data(data)
    expected = brute_force(y, s, objective, confidence)
    tuner = ThresholdTuner(objective, confidence=confidence)
    if expected is None:
        with pytest.raises(UnreachableTargetError):
            tuner.fit(y, s)
        return
    tuner.fit(y, s)
    threshold, value = expected
    assert tuner.thresholds_.shape == (1,)
    assert tuner.thresholds_[0] == threshold
    assert tuner.best_score_ == pytest.approx(value, rel=1e-9, abs=1e-12)
    decisions = tuner.predict(s)
    assert np.array_equal(decisions, (s >= threshold).astype(int))
    tn, fp, fn, tp = confusion_matrix(y, decisions, labels=[0, 1]).ravel()
    assert (tuner.achieved_["tp"], tuner.achieved_["fp"], tuner.achieved_["fn"], tuner.achieved_["tn"]) == (
        tp, fp, fn, tn)


def test_brute_force_cases_cover_unreachable_predict_nothing_and_the_fixed_sequence_rule():
    # Guard the parametrised test above: it must exercise the special paths, not only the easy ones.
    noise = _data("noise")
    assert brute_force(*noise, "recall@precision>=0.6", 0.9) is None
    assert brute_force(*noise, "cost:fp=50,fn=1")[0] == math.inf
    assert ThresholdTuner("cost:fp=50,fn=1").fit(*noise).predict(noise[1]).sum() == 0
    # On "continuous", the lowest threshold whose bound passes is lower than the end of the first run.
    y, s = _data("continuous")
    chosen = brute_force(y, s, "recall@precision>=0.6", 0.9)[0]
    passing = [t for t in set(s[y == 1].tolist())
               if stats.beta.ppf(0.1, np.sum(y[s >= t]), np.sum(1 - y[s >= t]) + 1) >= 0.6]
    assert min(passing) < chosen


@pytest.mark.parametrize("confidence", [None, 0.9])
def test_reachable_precision_target_holds_on_the_tuning_data(confidence):
    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.15).astype(int)
    s = rng.normal(size=3000) + 2.2 * y
    tuner = ThresholdTuner("recall@precision>=0.8", confidence=confidence).fit(y, s)
    decisions = tuner.predict(s)
    assert precision_score(y, decisions) >= 0.8
    assert tuner.achieved_["reached"] is True
    assert tuner.best_score_ == pytest.approx(decisions[y == 1].mean())
    if confidence is not None:
        tp, fp = tuner.achieved_["tp"], tuner.achieved_["fp"]
        assert tuner.achieved_["precision_lower"] == pytest.approx(stats.beta.ppf(0.1, tp, fp + 1))
        assert tuner.achieved_["precision_lower"] >= 0.8
        assert tuner.achieved_["precision_lower"] <= tp / (tp + fp) <= tuner.achieved_["precision_upper"]


def test_confidence_auto_applies_to_constraints_only():
    y, s = _data("continuous")
    assert ThresholdTuner("recall@precision>=0.6").fit(y, s).confidence_ == 0.9
    assert ThresholdTuner("precision@recall>=0.6").fit(y, s).confidence_ == 0.9
    f1 = ThresholdTuner("f1").fit(y, s)
    assert f1.confidence_ is None and "precision_lower" not in f1.achieved_
    reported = ThresholdTuner("f1", confidence=0.8).fit(y, s)  # a level only adds intervals to F-beta
    assert reported.thresholds_[0] == f1.thresholds_[0] and "precision_lower" in reported.achieved_


# --- confidence bounds on unseen data ---------------------------------------------------------------------------


def test_confidence_bound_holds_on_unseen_data_where_the_point_estimate_does_not():
    """Positives ~ N(mu, 1), negatives ~ N(0, 1), base rate pi: the true precision of a threshold is known in
    closed form. Over 200 validation sets, the threshold chosen with confidence=0.9 must have true precision >=
    target in at least 90 % of draws (minus binomial slack); the plain rule misses in a large fraction."""
    mu, pi, n, target, draws, level = 2.0, 0.1, 1000, 0.7, 200, 0.9
    rng = np.random.default_rng(42)
    ys = (rng.random((draws, n)) < pi).astype(int)
    ss = rng.normal(size=(draws, n)) + mu * ys

    def true_precision(t):
        tp = pi * stats.norm.sf(t - mu)
        return tp / (tp + (1 - pi) * stats.norm.sf(t))

    met = {"plain": [], "confidence": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableTargetWarning)
        for y, s in zip(ys, ss):
            for name, c in (("plain", None), ("confidence", level)):
                tuner = ThresholdTuner(f"recall@precision>={target}", confidence=c, on_unreachable="best").fit(y, s)
                met[name].append(true_precision(tuner.thresholds_[0]) >= target)
    slack = 3 * math.sqrt(level * (1 - level) / draws)
    assert np.mean(met["confidence"]) >= level - slack
    assert 1 - np.mean(met["plain"]) > 0.25


# --- multi-label and multi-class ------------------------------------------------------------------------------


def test_multilabel_one_threshold_per_label_equals_per_label_brute_force():
    rng = np.random.default_rng(5)
    rates = np.array([0.4, 0.2, 0.1, 0.05])
    y = (rng.random((300, 4)) < rates).astype(int)
    s = np.round(1 / (1 + np.exp(-(rng.normal(size=(300, 4)) + 2 * y - 1.5))), 2)
    for objective in ("f1", "cost:fp=1,fn=5", "precision@recall>=0.7"):
        tuner = ThresholdTuner(objective, confidence=None).fit(y, s)
        assert tuner.task_ == "multilabel" and tuner.thresholds_.shape == (4,)
        for j in range(4):
            threshold, value = brute_force(y[:, j], s[:, j], objective)
            assert tuner.thresholds_[j] == threshold
            assert tuner.best_score_[j] == pytest.approx(value)
        assert np.array_equal(tuner.predict(s), (s >= tuner.thresholds_).astype(int))
        assert tuner.achieved_["tp"].shape == (4,)


def _softmax_scores(rng, n, k):
    y = rng.choice(k, size=n, p=[0.1] + [0.9 / (k - 1)] * (k - 1))
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y]
    p = np.exp(logits)
    return y, logits, np.round(p / p.sum(axis=1, keepdims=True), 3)


@pytest.mark.parametrize("objective", ["f1", "recall@precision>=0.6"])
def test_multiclass_class_id_threshold_and_predict_rule(objective):
    rng = np.random.default_rng(6)
    y, _, p = _softmax_scores(rng, 400, 4)
    tuner = ThresholdTuner(objective, class_id=0, confidence=None).fit(y, p)
    threshold, value = brute_force((y == 0).astype(int), p[:, 0], objective)
    assert tuner.thresholds_[0] == threshold and tuner.best_score_ == pytest.approx(value)
    expected = []
    for row in p:
        if row[0] >= threshold:
            expected.append(0)
        else:
            expected.append(1 + int(np.argmax(row[1:])))
    predicted = tuner.predict(p)
    assert predicted.tolist() == expected
    assert set(predicted.tolist()) > {0}  # the rule used the other classes too
    # The objective concerns class 0 against the rest: sklearn agrees on the chosen decisions.
    if objective.startswith("recall"):
        assert precision_score(y == 0, predicted == 0) >= 0.6
    # One-hot labels are read through imbalance.labels the same way.
    again = ThresholdTuner(objective, class_id=0, confidence=None).fit(np.eye(4)[y], p)
    assert again.thresholds_[0] == threshold


def test_two_column_softmax_defaults_to_class_one_and_from_logits_multiclass():
    rng = np.random.default_rng(7)
    y, logits, p = _softmax_scores(rng, 300, 2)
    tuner = ThresholdTuner("f1").fit(y, p)
    assert tuner.class_id_ == 1
    assert tuner.thresholds_[0] == brute_force(y, p[:, 1], "f1")[0]
    y3, logits3, _ = _softmax_scores(rng, 300, 3)
    exact = np.exp(logits3) / np.exp(logits3).sum(axis=1, keepdims=True)
    on_logits = ThresholdTuner("f1", class_id=0, from_logits=True).fit(y3, logits3)
    on_probs = ThresholdTuner("f1", class_id=0).fit(y3, exact)
    assert on_logits.thresholds_[0] == pytest.approx(on_probs.thresholds_[0], rel=1e-12)
    assert np.array_equal(on_logits.predict(logits3), on_probs.predict(exact))


def test_binary_from_logits_searches_logits_and_reports_probabilities():
    rng = np.random.default_rng(8)
    y = (rng.random(500) < 0.2).astype(int)
    z = rng.normal(size=500) * 3 + 3 * y - 2
    z[:5] = [40.0, 41.0, 42.0, 43.0, 44.0]  # sigmoid rounds these to 1.0 in float64
    y[:5] = [0, 1, 0, 1, 1]
    on_logits = ThresholdTuner("precision@recall>=0.9", confidence=None, from_logits=True).fit(y, z)
    expected_t, _ = brute_force(y, z, "precision@recall>=0.9")
    assert on_logits.score_thresholds_[0] == expected_t
    assert on_logits.thresholds_[0] == pytest.approx(1 / (1 + np.exp(-expected_t)))
    assert np.array_equal(on_logits.predict(z), (z >= expected_t).astype(int))
    assert np.array_equal(on_logits.predict(z.reshape(-1, 1)), (z >= expected_t).astype(int).reshape(-1, 1))


# --- persistence -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["binary_confidence", "multilabel", "multiclass", "predict_nothing"])
def test_save_load_json_round_trip(case, tmp_path):
    rng = np.random.default_rng(9)
    if case == "binary_confidence":
        y, s = _data("continuous")
        tuner = ThresholdTuner("recall@precision>=0.5", on_unreachable="best").fit(y, s)
    elif case == "multilabel":
        y = (rng.random((200, 3)) < [0.3, 0.2, 0.1]).astype(int)
        s = rng.random((200, 3)) * 0.5 + 0.4 * y
        tuner = ThresholdTuner("f2").fit(y, s)
    elif case == "multiclass":
        y, _, s = _softmax_scores(rng, 200, 3)
        tuner = ThresholdTuner("cost:fp=1,fn=4", class_id=0).fit(y, s)
    else:
        y, s = _data("noise")
        tuner = ThresholdTuner("cost:fp=50,fn=1").fit(y, s)
        assert tuner.thresholds_[0] == math.inf
    path = tmp_path / "sub" / "tuner.json"
    tuner.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["tuner.json"]  # no temporary file left behind
    data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-standard JSON: {c}"))
    assert data["task"] == tuner.task_
    loaded = ThresholdTuner.load(path)
    assert np.array_equal(loaded.thresholds_, tuner.thresholds_)
    assert np.array_equal(loaded.score_thresholds_, tuner.score_thresholds_)
    assert np.allclose(loaded.best_score_, tuner.best_score_)
    assert loaded.achieved_.keys() == tuner.achieved_.keys()
    for key in tuner.achieved_:
        assert np.allclose(np.asarray(loaded.achieved_[key], float), np.asarray(tuner.achieved_[key], float),
                           equal_nan=True)
    assert np.array_equal(loaded.predict(s), tuner.predict(s))
    assert loaded.confidence_ == tuner.confidence_ and str(loaded.objective_) == str(tuner.objective_)


def test_load_rejects_other_json(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"thresholds": [0.5]}')
    with pytest.raises(ValueError, match="Not a saved ThresholdTuner"):
        ThresholdTuner.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ThresholdTuner.load(path)


@pytest.mark.parametrize("call", ["predict", "to_layer", "save"])
def test_not_fitted(call, tmp_path):
    tuner = ThresholdTuner("f1")
    args = {"predict": ([0.1, 0.9],), "to_layer": (), "save": (tmp_path / "t.json",)}[call]
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(tuner, call)(*args)


# --- objective parsing and bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("f1", Objective("fbeta", beta=1.0)),
    ("F2", Objective("fbeta", beta=2.0)),
    ("fbeta:0.5", Objective("fbeta", beta=0.5)),
    (" recall @ precision >= 0.9 ", Objective("recall_at_precision", target=0.9)),
    ("precision@recall>=0.8", Objective("precision_at_recall", target=0.8)),
    ("precision@recall>=1", Objective("precision_at_recall", target=1.0)),
    ("cost:fp=1,fn=10", Objective("cost", fp=1.0, fn=10.0)),
    ("cost:fn=10,fp=0", Objective("cost", fp=0.0, fn=10.0)),
])
def test_parse_objective(text, expected):
    parsed = parse_objective(text)
    assert parsed == expected
    assert parse_objective(str(parsed)) == parsed  # the canonical string parses back


@pytest.mark.parametrize("text", ["precision>0.9", "f", "f-1", "fbeta:0", "accuracy", "recall@recall>=0.5",
                                  "cost:fp=1", "cost:fp=1,fp=2", "cost:fp=0,fn=0", "recall@precision>0.9", ""])
def test_unparsable_objective_lists_the_accepted_forms(text):
    with pytest.raises(ValueError) as info:
        ThresholdTuner(text).fit([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])
    message = str(info.value)
    assert repr(text) in message
    for form in ("'f1'", "'fbeta:0.5'", "'recall@precision>=0.9'", "'precision@recall>=0.8'", "'cost:fp=1,fn=10'"):
        assert form in message


Y = np.array([0, 1, 0, 1, 0, 0, 1, 0])
S = np.array([0.1, 0.8, 0.3, 0.6, 0.2, 0.7, 0.9, 0.4])


@pytest.mark.parametrize("make, y, scores, message", [
    (lambda: ThresholdTuner("f1"), Y, np.full(8, 0.5), r"constant: every row holds 0\.5"),
    (lambda: ThresholdTuner("f1"), np.zeros(8, int), S, "no positive rows"),
    (lambda: ThresholdTuner("f1"), np.ones(8, int), S, "no negative rows"),
    (lambda: ThresholdTuner("f1"), Y, np.where(np.arange(8) == 3, np.nan, S), "finite; row 3 holds nan"),
    (lambda: ThresholdTuner("f1"), Y, np.where(np.arange(8) == 2, np.inf, S), "finite; row 2 holds inf"),
    (lambda: ThresholdTuner("recall@precision>=0"), Y, S, r"must be in \(0, 1\]. Received: 0"),
    (lambda: ThresholdTuner("recall@precision>=1.5"), Y, S, r"must be in \(0, 1\]. Received: 1.5"),
    (lambda: ThresholdTuner("precision@recall>=0"), Y, S, r"recall target .* must be in \(0, 1\]"),
    (lambda: ThresholdTuner("f1", class_id=5), np.arange(8) % 3, np.full((8, 3), 1 / 3) + 0.01 * np.eye(3)[
        np.arange(8) % 3], r"class_id` must be in \[0, 2\] .* Received: class_id=5"),
    (lambda: ThresholdTuner("f1", class_id=-1), np.arange(8) % 3, np.eye(3)[np.arange(8) % 3],
     r"class_id` must be in \[0, 2\]"),
    (lambda: ThresholdTuner("f1"), np.arange(8) % 3, np.eye(3)[np.arange(8) % 3], "need `class_id`"),
    (lambda: ThresholdTuner("f1", class_id=1), Y, S, "need none"),
    (lambda: ThresholdTuner("f1"), Y[:7], S, "7 rows but `scores` has 8"),
    (lambda: ThresholdTuner("f1"), np.arange(8) % 3, S, "one column .* multiclass with 3"),
    (lambda: ThresholdTuner("f1", confidence=1.2), Y, S, r"confidence` must be < 1.0. Received: confidence=1.2"),
    (lambda: ThresholdTuner("f1", confidence="yes"), Y, S, "confidence` must be 'auto'"),
    (lambda: ThresholdTuner("f1", on_unreachable="maybe"), Y, S, "on_unreachable` must be one of"),
    (lambda: ThresholdTuner("f1", class_id=0), np.arange(8) % 3, np.eye(3)[np.arange(8) % 3][:, [0, 0, 2]] * 0
     + 0.5, "constant for class 0"),
    (lambda: ThresholdTuner("f1"), np.array([[1, 0], [0, 0], [1, 1], [0, 1]]), np.array(
        [[0.9, 0.3], [0.1, 0.3], [0.8, 0.3], [0.2, 0.3]]), "constant for label 1"),
    (lambda: ThresholdTuner("f1"), np.array([[1, 0], [0, 0], [1, 0], [0, 0]]), np.array(
        [[0.9, 0.2], [0.1, 0.3], [0.8, 0.4], [0.2, 0.5]]), "no positive rows for label 1"),
])
def test_bad_inputs_raise_clear_errors(make, y, scores, message):
    with pytest.raises(ValueError, match=message):
        make().fit(y, scores)


def test_unreachable_constraint_states_the_best_achievable_value():
    rng = np.random.default_rng(11)
    y = (rng.random(60) < 0.3).astype(int)
    s = rng.random(60)  # no signal: no threshold reaches precision 0.95
    y[s >= np.sort(s)[-2]] = 0
    precision = [tp / (tp + fp) for _, tp, fp, _, _ in _counts(y, s, sorted(set(s.tolist())))]
    best = max(precision)
    assert best < 0.95
    with pytest.raises(UnreachableTargetError, match=f"best achievable precision is {best:.4g}"):
        ThresholdTuner("recall@precision>=0.95", confidence=None).fit(y, s)
    with pytest.warns(UnreachableTargetWarning, match=f"best achievable precision is {best:.4g}"):
        tuner = ThresholdTuner("recall@precision>=0.95", confidence=None, on_unreachable="best").fit(y, s)
    assert precision_score(y, tuner.predict(s)) == pytest.approx(best)
    assert tuner.achieved_["reached"] is False
    # With a confidence level, the message gives the best lower bound over the candidate thresholds.
    counts = _counts(y, s, sorted(set(s[y == 1].tolist())))
    best_lower = max(stats.beta.ppf(0.1, tp, fp + 1) for _, tp, fp, _, _ in counts)
    with pytest.raises(UnreachableTargetError, match=f"is {best_lower:.4g} as a 0.9 lower confidence bound"):
        ThresholdTuner("recall@precision>=0.95").fit(y, s)
    # A recall target with few positives cannot be guaranteed: recall 1 on 5 positives has lower bound 0.1**(1/5).
    y5 = np.r_[np.ones(5, int), np.zeros(20, int)]
    with pytest.raises(UnreachableTargetError, match=f"{0.1 ** (1 / 5):.4g} as a 0.9 lower confidence bound"):
        ThresholdTuner("precision@recall>=0.8").fit(y5, rng.random(25))


# --- out-of-fold scores ---------------------------------------------------------------------------------------


class _RecordingModel:
    """Duck-typed model: remembers its training rows (by an id column) and predicts the id of each row."""

    trained = []

    def fit(self, x, y, **kwargs):
        self.rows = set(x[:, 0].astype(int).tolist())
        _RecordingModel.trained.append(self.rows)
        assert kwargs == {"verbose": 0, "epochs": 3}

    def predict(self, x, verbose=0):
        assert not self.rows & set(x[:, 0].astype(int).tolist())  # never scores a row it trained on
        return np.c_[x[:, 0], np.full(len(x), len(_RecordingModel.trained))]


@pytest.mark.parametrize("labels", ["binary", "multiclass", "multilabel"])
def test_out_of_fold_scores_scores_every_row_once_with_a_model_per_fold(labels):
    rng = np.random.default_rng(12)
    n = 60
    x = np.c_[np.arange(n), rng.normal(size=n)]
    y = {"binary": (np.arange(n) % 4 == 0).astype(int), "multiclass": np.arange(n) % 3,
         "multilabel": (rng.random((n, 3)) < [0.5, 0.2, 0.1]).astype(int)}[labels]
    _RecordingModel.trained = []
    out = out_of_fold_scores(lambda: _RecordingModel(), x, y, cv=3, fit_kwargs={"epochs": 3}, seed=0)
    assert len(_RecordingModel.trained) == 3
    assert out.shape == (n, 2)
    assert np.array_equal(out[:, 0], np.arange(n))  # row i's score came back to row i
    fold_of = out[:, 1].astype(int) - 1
    for k, rows in enumerate(_RecordingModel.trained):
        assert rows == set(np.flatnonzero(fold_of != k).tolist())  # trained on every row of the other folds
    if labels != "multilabel":
        ids = y
        for k in range(3):  # stratified: each fold holds a third of every class
            counts = np.bincount(ids[fold_of == k], minlength=ids.max() + 1)
            assert np.all(np.abs(counts - np.bincount(ids) / 3) <= 1)


def test_out_of_fold_scores_with_a_keras_model_factory():
    import keras

    rng = np.random.default_rng(13)
    x = rng.normal(size=(80, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=80) > 0.8).astype(int)
    calls = []

    def factory():
        calls.append(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model

    first = out_of_fold_scores(factory, x, y, cv=2, fit_kwargs={"epochs": 1, "batch_size": 16}, seed=3)
    assert len(calls) == 2 and first.shape == (80, 1) and np.all((first > 0) & (first < 1))
    again = out_of_fold_scores(factory, x, y, cv=2, fit_kwargs={"epochs": 1, "batch_size": 16}, seed=3)
    assert np.allclose(first, again)  # seeded: reproducible
    tuner = ThresholdTuner("f1").fit(y, first)  # tuned on every row
    assert tuner.predict(first).shape == (80, 1)


def test_out_of_fold_scores_rejects_bad_folds():
    x, y = np.zeros((10, 2)), np.r_[np.ones(2, int), np.zeros(8, int)]
    with pytest.raises(ValueError, match="Class 1 has 2 rows, fewer than cv=3"):
        out_of_fold_scores(lambda: None, x, y, cv=3)
    with pytest.raises(ValueError, match="cv` must be >= 2"):
        out_of_fold_scores(lambda: None, x, y, cv=1)

    class Overlapping:
        def split(self, x, y):
            yield np.arange(5, 10), np.arange(0, 6)
            yield np.arange(0, 5), np.arange(5, 10)

    with pytest.raises(ValueError, match="row 5 is tested 2 times"):
        out_of_fold_scores(lambda: None, x, y, cv=Overlapping())


def test_iterative_folds_spread_rare_labels_better_than_kfold():
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(14)
    y = (rng.random((600, 12)) < np.geomspace(0.3, 0.01, 12)).astype(int)
    folds = iterative_folds(y, 5, seed=0)
    assert np.bincount(folds).tolist() == [120] * 5  # equal fold sizes, every row once
    kfold = np.empty(600, int)
    for k, (_, test) in enumerate(KFold(5, shuffle=True, random_state=0).split(y)):
        kfold[test] = k

    def spread(assignment):  # per label: largest deviation of a fold's positives from positives / 5
        return [np.abs(np.bincount(assignment[y[:, j] == 1], minlength=5) - y[:, j].sum() / 5).max()
                for j in range(12)]

    assert max(spread(folds)) <= 1.0
    assert sum(spread(folds)) < sum(spread(kfold))
