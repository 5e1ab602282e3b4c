"""imbalance.diagnose: conditions on synthetic scores built to show each one, numbers against scikit-learn and brute
force, the Keras callback on seed 002's generator, and clear errors for bad input."""

import json
import warnings

import keras
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from imbalance.datasets import multilabel30
from imbalance.diagnose import (
    CONDITIONS,
    CollapseMonitor,
    Diagnosis,
    DiagnosisWarning,
    chance_pr_auc,
    diagnose,
)
from imbalance.losses import WeightedBinaryCrossentropy

# Uniform score ranges (positives, negatives) that produce each condition at threshold 0.5.
RANGES = {
    "healthy": ((0.3, 1.0), (0.0, 0.5)),  # threshold 0.5 is the best one: no negative above it
    "collapsed": ((0.1, 0.45), (0.0, 0.3)),  # ranks well, nothing reaches 0.5
    "flooded": ((0.7, 1.0), (0.55, 0.9)),  # ranks well, everything above 0.5
    "threshold_off": ((0.2, 0.6), (0.0, 0.3)),  # ranks well, 0.5 keeps only a quarter of the positives
    "no_signal": ((0.3, 0.7), (0.3, 0.7)),  # positives and negatives alike
}


def _scores(kind, y, rng):
    (p_lo, p_hi), (n_lo, n_hi) = RANGES[kind]
    return np.where(y == 1, rng.uniform(p_lo, p_hi, y.shape), rng.uniform(n_lo, n_hi, y.shape))


def _binary_labels(rng, n=4000, rate=0.05):
    return (rng.random(n) < rate).astype(np.int64)


def _multi_hot(rng, n=3000, num_labels=6):
    return (rng.random((n, num_labels)) < np.linspace(0.03, 0.2, num_labels)).astype(np.int64)


def _logit(p):
    return np.log(p) - np.log1p(-p)


# --- conditions on synthetic scores -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(RANGES))
def test_binary_scores_show_exactly_their_condition(kind, rng):
    y = _binary_labels(rng)
    d = diagnose(y, _scores(kind, y, rng))
    expected = () if kind == "healthy" else (kind,)
    assert d.conditions == expected
    assert d.classes[0].conditions == expected
    assert d.healthy == (kind == "healthy")


@pytest.mark.parametrize("kind", list(RANGES))
def test_multilabel_scores_show_exactly_their_condition(kind, rng):
    y = _multi_hot(rng)
    d = diagnose(y, _scores(kind, y, rng))
    expected = () if kind == "healthy" else (kind,)
    assert d.task == "multilabel"
    assert d.conditions == expected
    assert all(c.conditions == expected for c in d.classes)
    assert d.counts == {name: (6 if name == kind else 0) for name in CONDITIONS}


def test_multilabel_condition_needs_a_fraction_of_the_labels(rng):
    y = _multi_hot(rng, num_labels=8)
    scores = _scores("healthy", y, rng)
    scores[:, 3] = _scores("collapsed", y[:, 3], rng)  # 1 of 8 labels: below min_fraction=0.25
    d = diagnose(y, scores)
    assert d.conditions == ()
    assert d.counts["collapsed"] == 1 and d.classes[3].conditions == ("collapsed",)
    scores[:, 5] = _scores("collapsed", y[:, 5], rng)  # 2 of 8 = 0.25
    assert diagnose(y, scores).conditions == ("collapsed",)
    assert diagnose(y, scores, min_fraction=0.3).conditions == ()


def test_multiclass_rare_class_never_predicted_is_collapse_not_majority_flooding(rng):
    # Seed 000's shape: class 0 rare and well ranked, but never the argmax.
    n = 3000
    ids = rng.choice(3, size=n, p=[0.04, 0.36, 0.6])
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), ids] += 2.0
    logits[:, 0] = -5.0 + 3.0 * (ids == 0) + 0.3 * logits[:, 0]  # ranks class 0 well, below the others
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    d = diagnose(ids, p)
    assert d.task == "multiclass"
    assert d.classes[0].predicted_rate < 0.002
    assert d.conditions == ("collapsed",)
    assert [c.conditions for c in d.classes] == [("collapsed",), (), ()]
    # Everything predicted as the majority class: the minorities collapse; the majority is not "flooded".
    d = diagnose(ids, np.tile([0.1, 0.2, 0.7], (n, 1)) + 0.01 * p)
    assert [c.conditions for c in d.classes] == [("collapsed",), ("collapsed",), ()]
    # Every row predicted as rare class 0: flooded.
    flooded = p.copy()
    flooded[:, 0] += 2.0
    flooded /= flooded.sum(axis=1, keepdims=True)
    assert diagnose(ids, flooded).classes[0].conditions == ("flooded",)


def test_still_learning_compares_with_the_best_earlier_pr_auc(rng):
    y = _binary_labels(rng)
    scores = _scores("healthy", y, rng)
    now = diagnose(y, scores)
    assert diagnose(y, scores, history=[now.pr_auc - 0.1]).conditions == ("still_learning",)
    assert diagnose(y, scores, history=[now.pr_auc - 0.1, now.pr_auc]).conditions == ()
    assert diagnose(y, scores, history=[now.pr_auc - 0.004]).conditions == ()  # min_delta 0.005
    earlier = diagnose(y, _scores("no_signal", y, rng))
    d = diagnose(y, scores, history=[earlier])
    assert d.conditions == ("still_learning",) and d.previous_pr_auc == [earlier.pr_auc]
    assert "train longer" in str(d).lower()


def test_prior_shift_is_flagged_by_the_odds_ratio(rng):
    y = _binary_labels(rng)
    scores = _scores("healthy", y, rng)
    assert diagnose(y, scores, train_prior=0.5).conditions == ("prior_shift",)
    assert diagnose(y, scores, train_prior=[0.5, 0.5]).conditions == ("prior_shift",)
    assert diagnose(y, scores, train_prior=float(y.mean()) * 1.2).conditions == ()
    text = str(diagnose(y, scores, train_prior=0.5))
    assert "imbalance.thresholds.prior_shift" in text
    ids = rng.choice(3, size=2000, p=[0.1, 0.3, 0.6])
    p = np.eye(3)[ids] * 0.8 + 0.1 * rng.random((2000, 3))
    p /= p.sum(axis=1, keepdims=True)
    d = diagnose(ids, p, train_prior=[1, 1, 1])  # counts are normalised: balanced resampling
    assert d.conditions == ("prior_shift",)
    assert [c.conditions for c in d.classes] == [("prior_shift",), (), ("prior_shift",)]


# --- numbers against independent references --------------------------------------------------------------------


def _brute_force_best_f1(truth, scores):
    best = 0.0
    for t in np.unique(scores):
        best = max(best, f1_score(truth, scores >= t))
    return best


def test_per_class_numbers_match_scikit_learn_and_brute_force(rng):
    y = _multi_hot(rng, n=600, num_labels=4)
    scores = np.round(_scores("threshold_off", y, rng), 2)  # ties included
    threshold = [0.5, 0.3, 0.4, 0.25]
    d = diagnose(y, scores, threshold=threshold)
    decisions = scores >= np.array(threshold)
    for j, c in enumerate(d.classes):
        assert c.support == y[:, j].sum()
        assert c.true_rate == pytest.approx(y[:, j].mean())
        assert c.predicted_rate == pytest.approx(decisions[:, j].mean())
        assert c.pr_auc == pytest.approx(average_precision_score(y[:, j], scores[:, j]), rel=1e-12)
        assert c.f1 == pytest.approx(f1_score(y[:, j], decisions[:, j]))
        assert c.best_f1 == pytest.approx(_brute_force_best_f1(y[:, j], scores[:, j]))
        assert f1_score(y[:, j], scores[:, j] >= c.best_threshold) == pytest.approx(c.best_f1)
    assert d.f1 == pytest.approx(f1_score(y, decisions, average="micro"))
    best = scores >= np.array([c.best_threshold for c in d.classes])
    assert d.best_f1 == pytest.approx(f1_score(y, best, average="micro"))
    assert d.pr_auc == pytest.approx(average_precision_score(y, scores, average="macro"))


def test_multiclass_f1_is_macro_f1_of_the_argmax(rng):
    ids = rng.choice(4, size=800, p=[0.1, 0.2, 0.3, 0.4])
    p = rng.dirichlet(np.ones(4), size=800) + 0.5 * np.eye(4)[ids]
    p /= p.sum(axis=1, keepdims=True)
    for labels in (ids, np.eye(4)[ids], ids.reshape(-1, 1)):
        d = diagnose(labels, p)
        assert d.f1 == pytest.approx(f1_score(ids, p.argmax(axis=1), average="macro"))
        for k, c in enumerate(d.classes):
            assert c.pr_auc == pytest.approx(average_precision_score(ids == k, p[:, k]))


def test_logits_give_the_same_diagnosis_as_probabilities(rng):
    y = _binary_labels(rng)
    p = np.clip(_scores("threshold_off", y, rng), 1e-6, 1 - 1e-6)
    a, b = diagnose(y, p), diagnose(y, _logit(p), from_logits=True)
    assert a.conditions == b.conditions == ("threshold_off",)
    assert a.pr_auc == pytest.approx(b.pr_auc) and a.f1 == pytest.approx(b.f1)
    two_columns = np.stack([-_logit(p) / 2, _logit(p) / 2], axis=1)  # softmax of these is (1-p, p)
    c = diagnose(y, two_columns, from_logits=True)
    assert c.task == "binary" and c.f1 == pytest.approx(a.f1) and c.pr_auc == pytest.approx(a.pr_auc)


def test_chance_pr_auc_is_the_99th_percentile_of_random_rankings():
    rng = np.random.default_rng(3)
    for n, n1 in ((1000, 40), (300, 150)):
        y = np.zeros(n)
        y[:n1] = 1
        random_ap = np.array([average_precision_score(y, rng.random(n)) for _ in range(600)])
        exceed = np.mean(random_ap > chance_pr_auc(n, n1))
        assert 0.0 < exceed < 0.03


def test_report_and_json(rng):
    y = _multi_hot(rng, n=2000, num_labels=20)
    scores = _scores("collapsed", y, rng)
    d = diagnose(y, scores, class_names=[f"tag{k}" for k in range(20)])
    text = str(d)
    assert "collapsed 20" in text and "ThresholdTuner" in text and "all 20 labels" in text
    assert text.count("\n") < 30  # aggregated, not one line per label
    restored = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert restored["conditions"] == ["collapsed"] and len(restored["classes"]) == 20
    assert restored["classes"][3]["name"] == "tag3"
    small = str(diagnose(y[:, :3], scores[:, :3]))
    assert small.count("label ") >= 3  # one line per label
    healthy = diagnose(y[:, 0], _scores("healthy", y[:, 0], rng))
    assert "No problem found" in str(healthy) and healthy.has("collapsed") is False


# --- bad input --------------------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors(rng):
    y = _binary_labels(rng, n=200, rate=0.2)
    p = rng.random(200)
    with pytest.raises(ValueError, match=r"`y_true` has 200 rows but `scores` has 199"):
        diagnose(y, p[:199])
    with pytest.raises(ValueError, match=r"shape \(200, 2, 2\)"):
        diagnose(y, np.zeros((200, 2, 2)))
    with pytest.raises(ValueError, match=r"one score column per label"):
        diagnose(_multi_hot(rng, n=200, num_labels=5), rng.random((200, 4)))
    with pytest.raises(ValueError, match=r"one column but the labels have 3 classes"):
        diagnose(rng.choice(3, size=200), p)
    with pytest.raises(ValueError, match=r"3 classes \(one-hot columns\) but `scores` has shape \(200, 4\)"):
        diagnose(np.eye(3)[rng.choice(3, size=200)], rng.random((200, 4)))
    bad = p.copy()
    bad[17] = np.nan
    with pytest.raises(ValueError, match=r"`scores` must be finite; row 17 holds nan"):
        diagnose(y, bad)
    matrix = rng.random((200, 5))
    matrix[4, 2] = np.inf
    with pytest.raises(ValueError, match=r"row 4, column 2 holds inf"):
        diagnose(_multi_hot(rng, n=200, num_labels=5), matrix)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*from_logits=True"):
        diagnose(y, p * 4 - 2)
    with pytest.raises(ValueError, match=r"single class \(0\)"):
        diagnose(np.zeros(200, dtype=int), p)
    with pytest.raises(ValueError, match=r"single class \(1\)"):
        diagnose(np.ones(200, dtype=int), p)
    with pytest.raises(ValueError, match=r"single class \(2\)"):
        diagnose(np.full(200, 2), rng.random((200, 3)))
    with pytest.raises(ValueError, match=r"No label of `y_true` has both positive and negative rows"):
        diagnose(np.zeros((200, 3)), rng.random((200, 3)))
    with pytest.raises(ValueError, match=r"argmax.*Received: threshold=0.3"):
        diagnose(rng.choice(3, size=200), rng.random((200, 3)), threshold=0.3)
    with pytest.raises(ValueError, match=r"`threshold` must be <= 1.0. Received: threshold=1.5"):
        diagnose(y, p, threshold=1.5)
    with pytest.raises(ValueError, match=r"one value per label \(5\)"):
        diagnose(_multi_hot(rng, n=200, num_labels=5), rng.random((200, 5)), threshold=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"`train_prior` must hold one prior per class \(3\)"):
        diagnose(rng.choice(3, size=200), rng.dirichlet(np.ones(3), 200), train_prior=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"`scores` must be a numeric array"):
        diagnose(y, ["a"] * 200)
    with pytest.raises(ValueError, match=r"Labels must be finite"):
        diagnose(np.where(y == 1, np.nan, 0.0), p)


# --- the Keras callback -----------------------------------------------------------------------------------------


def _seed_model(logits=False):
    """Seed 002's model: 30 → 100 → 100 → 30."""
    inputs = keras.Input((30,))
    hidden = keras.layers.Dense(100, activation="relu")(inputs)
    hidden = keras.layers.Dense(100, activation="relu")(hidden)
    outputs = keras.layers.Dense(30, activation=None if logits else "sigmoid")(hidden)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def seed_002():
    return multilabel30(n_samples=6000, seed=0), multilabel30(n_samples=3000, seed=1)


def test_monitor_on_seed_002_after_one_epoch_flags_collapse_and_still_learning(seed_002):
    train, val = seed_002
    model = _seed_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    monitor = CollapseMonitor((val.x, val.y), max_samples=2000)
    with pytest.warns(DiagnosisWarning) as caught:
        model.fit(train.x, train.y, epochs=1, batch_size=10, verbose=0, callbacks=[monitor])
    assert monitor.from_logits_ is False  # read from the sigmoid output layer
    assert monitor.initial_.epoch == 0 and [d.epoch for d in monitor.history_] == [1]
    last = monitor.history_[-1]
    assert last.num_samples == 2000
    assert last.conditions == ("collapsed", "still_learning")
    assert last.counts["collapsed"] == 30
    assert last.pr_auc > monitor.initial_.pr_auc + 0.02
    caught = [w for w in caught if issubclass(w.category, DiagnosisWarning)]  # not the backend's own warnings
    assert len(monitor.messages_) == 2 == len(caught)
    assert "Collapsed (all 30 labels)" in monitor.messages_[0] and "still learning" in monitor.messages_[0]
    assert "still rising" in monitor.messages_[1] and "train longer" in monitor.messages_[1]
    assert [str(w.message) for w in caught] == monitor.messages_
    assert len(monitor.seconds_) == 2


def test_monitor_flags_flooding_with_a_huge_pos_weight(seed_002):
    train, val = seed_002
    model = _seed_model(logits=True)
    model.compile(optimizer="adam", loss=WeightedBinaryCrossentropy(pos_weight=1000.0, from_logits=True))
    monitor = CollapseMonitor((val.x, val.y), max_samples=2000, verbose=False)
    model.fit(train.x, train.y, epochs=1, batch_size=10, verbose=0, callbacks=[monitor])
    assert monitor.from_logits_ is True  # no activation on the last layer
    last = monitor.history_[-1]
    assert "flooded" in last.conditions and "collapsed" not in last.conditions
    assert last.counts["flooded"] == 30
    assert min(c.predicted_rate for c in last.classes) > 0.95
    assert "Lower pos_weight" in monitor.messages_[0]


def test_monitor_flags_nothing_on_a_healthy_run():
    rng = np.random.default_rng(5)

    def separable(n):  # ~6 % positives on one side of a line, with a margin around it
        x = rng.normal(size=(n, 2)).astype("float32")
        s = x[:, 0] + 0.5 * x[:, 1]
        keep = np.abs(s - 1.6) > 0.1
        return x[keep], (s[keep] > 1.6).astype("float32")

    (x, y), validation = separable(3000), separable(1500)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy")
    monitor = CollapseMonitor(validation)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosisWarning)
        model.fit(x, y, epochs=8, batch_size=32, verbose=0, callbacks=[monitor])
    assert monitor.messages_ == []
    assert [d.conditions for d in monitor.history_[1:]] == [()] * 7  # epoch 1 may still be learning
    assert monitor.history_[-1].pr_auc > 0.99 and monitor.history_[-1].f1 > 0.95


class _Replay:
    """A stand-in model whose predictions are given in advance, one array per call."""

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.layers = [keras.layers.Dense(1, activation="sigmoid")]

    def __call__(self, x, training=False):
        return self.outputs.pop(0)[: len(x)]


def test_monitor_warns_only_when_the_conditions_change(rng):
    y = _binary_labels(rng, n=1000, rate=0.1)
    x = rng.normal(size=(1000, 3))
    kinds = ["collapsed", "collapsed", "collapsed", "collapsed", "healthy", "healthy", "flooded"]
    outputs = [_scores(k, y, np.random.default_rng(i)) for i, k in enumerate(kinds)]
    monitor = CollapseMonitor((x, y), verbose=False)
    monitor.set_model(_Replay(outputs))
    monitor.on_train_begin()
    for epoch in range(len(kinds) - 1):
        monitor.on_epoch_end(epoch)
    monitor.on_train_end()
    problems = [tuple(c for c in d.conditions if c != "still_learning") for d in monitor.history_]
    assert problems == [("collapsed",)] * 3 + [()] * 2 + [("flooded",)]
    assert len(monitor.messages_) == 3  # collapse, cleared, flooding: not one per epoch
    assert monitor.messages_[0].startswith("CollapseMonitor, epoch 1: Collapsed")
    assert "collapsed cleared" in monitor.messages_[1]
    assert "Flooded" in monitor.messages_[2]


def test_monitor_subsamples_and_validates(rng):
    y = _binary_labels(rng, n=5000, rate=0.1)
    x = {"a": rng.normal(size=(5000, 2)), "b": rng.normal(size=(5000, 1))}
    monitor = CollapseMonitor((x, y), max_samples=1000, seed=3)
    again = CollapseMonitor((x, y), max_samples=1000, seed=3)
    assert monitor._x["a"].shape == (1000, 2) and monitor._y.shape == (1000,)
    np.testing.assert_array_equal(monitor._x["b"], again._x["b"])  # a fixed subsample
    with pytest.raises(ValueError, match=r"tuple \(x, y\)"):
        CollapseMonitor(x)
    with pytest.raises(ValueError, match=r"x has \[4999\] rows but y has 5000"):
        CollapseMonitor((np.zeros((4999, 2)), y))
    with pytest.raises(ValueError, match=r"single class"):
        CollapseMonitor((np.zeros((50, 2)), np.zeros(50)))
    with pytest.raises(ValueError, match=r"`max_samples` must be a positive integer"):
        CollapseMonitor((x, y), max_samples=0)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['gap'\]"):
        CollapseMonitor((x, y), gap=0.1)


def test_diagnosis_is_exported_with_its_conditions():
    assert CONDITIONS == ("collapsed", "flooded", "threshold_off", "no_signal", "still_learning", "prior_shift")
    with pytest.raises(ValueError, match=r"`condition` must be one of"):
        Diagnosis("binary", 1, 0.5, [], (), {}, 0.5, 0.0, 0.0).has("collpased")


@pytest.mark.parametrize(
    "last_layers, from_logits",
    [
        (lambda: [keras.layers.Dense(3)], True),
        (lambda: [keras.layers.Dense(3, activation="softmax")], False),
        (lambda: [keras.layers.Dense(3), keras.layers.Softmax()], False),
        (lambda: [keras.layers.Dense(3), keras.layers.Activation("softmax")], False),
    ],
)
def test_monitor_reads_logits_or_probabilities_from_the_output_layer(last_layers, from_logits, rng):
    x = rng.normal(size=(300, 4))  # float64 and a model without an Input: the monitor must cope
    ids = rng.choice(3, size=300, p=[0.2, 0.3, 0.5])
    model = keras.Sequential(last_layers())
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    monitor = CollapseMonitor((x, ids), verbose=False)
    model.fit(x, ids, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.from_logits_ is from_logits
    probs = keras.ops.convert_to_numpy(model(x))
    probs = np.exp(probs) / np.exp(probs).sum(axis=1, keepdims=True) if from_logits else probs
    assert monitor.history_[-1].task == "multiclass"
    assert monitor.history_[-1].pr_auc == pytest.approx(diagnose(ids, probs).pr_auc, rel=1e-5)
