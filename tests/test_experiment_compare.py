"""compare(): paired units, resumable JSON-lines results, a saved model that serves decisions, an HTML report."""

import json
from html.parser import HTMLParser

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import compare, prepare_data
from imbalance.experiment import RUNS_FILE, Protocol, RunRecord
from imbalance.thresholds import parse_objective


@pytest.fixture(scope="module")
def binary_data():
    x, y = make_classification(n_samples=1200, n_features=8, n_informative=5, weights=[0.8], random_state=3)
    return x.astype(np.float32), y


FAST = dict(epochs=2, seeds=2, progress=False, min_positives=5)


class _Stop(Exception):
    pass


def _strip(runs):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in runs]


def test_resume_after_an_interruption_equals_an_uninterrupted_run(binary_data, tmp_path):
    strategies = ["baseline", "class_weight"]
    full = compare(binary_data, strategies=strategies, out_dir=tmp_path / "full", **FAST)

    finished = []

    def stop_after_two(record):
        finished.append(record)
        if len(finished) == 2:
            raise _Stop()

    with pytest.raises(_Stop):
        compare(binary_data, strategies=strategies, out_dir=tmp_path / "cut", on_run=stop_after_two, **FAST)
    on_disk = [json.loads(line) for line in (tmp_path / "cut" / RUNS_FILE).read_text().splitlines()]
    assert len(on_disk) == 2  # both finished runs were written before the interruption

    redone = []
    resumed = compare(binary_data, strategies=strategies, out_dir=tmp_path / "cut", on_run=redone.append, **FAST)
    assert len(redone) == 2  # only the two missing runs trained
    assert {(r["strategy"], r["seed"]) for r in redone}.isdisjoint({(r["strategy"], r["seed"]) for r in on_disk})
    a, b = _strip(full.runs), _strip(resumed.runs)
    assert [(r["strategy"], r["seed"], r["fold"]) for r in a] == [(r["strategy"], r["seed"], r["fold"]) for r in b]
    for ra, rb in zip(a, b):
        assert ra["objective"] == pytest.approx(rb["objective"], abs=1e-6)
        assert ra["threshold"] == pytest.approx(rb["threshold"], abs=1e-5)


def test_results_are_paired_and_scored_like_sklearn(binary_data, tmp_path, monkeypatch):
    from sklearn.metrics import f1_score

    # serve="first_unit": best.keras is then the first unit's model at that unit's threshold (the refitted model and
    # its pooled threshold are tests/test_refit.py's)
    results = compare(binary_data, strategies=["baseline", "weighted_bce"], out_dir=tmp_path, serve="first_unit",
                      **FAST)
    assert len(results.runs) == 4
    table = results.table
    # F1 has no constraint: every strategy competes tuned and decided at 0.5.
    assert set(table["strategy"]) == {"baseline", "weighted_bce", "baseline@0.5", "weighted_bce@0.5"}
    for r in results.runs:
        tn, fp, fn, tp = np.ravel(r["confusion"])
        assert r["objective"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert tn + fp + fn + tp == r["test_rows"]
    # The saved model serves the same decisions as the runner's threshold on the same rows.
    monkeypatch.setattr(type(results), "best", property(lambda self: "baseline"))
    results.save(tmp_path)
    model = keras.models.load_model(tmp_path / "best.keras")
    x, y = binary_data
    out = model.predict(x[:200], verbose=0)
    scores, decisions = np.asarray(out["scores"]).reshape(-1), np.asarray(out["decisions"]).reshape(-1)
    threshold = json.loads((tmp_path / "thresholds.json").read_text())
    assert decisions.shape == (200,)
    assert set(np.unique(decisions)) <= {0, 1}
    first = [r for r in results.runs if r["strategy"] == results.best and r["seed"] == 0][0]
    assert np.array_equal(decisions.astype(int), (scores >= first["threshold"][0]).astype(int))
    assert f1_score(y[:200], decisions) > 0.3
    assert threshold  # the tuner's JSON was written
    parser = HTMLParser()
    parser.feed((tmp_path / "report.html").read_text())
    text = (tmp_path / "report.html").read_text()
    assert "Verdict" in text and text.count("data:image/png;base64,") >= 2


def test_small_minority_switches_to_cross_validated_units():
    d = prepare_data("digits_lt")
    units = Protocol(folds=3, test_size=0.25, min_positives=20).units(d, class_id=0, seeds=2)
    assert len(units) == 6 and {u.outer for u in units} == {"cv"}
    for seed in (0, 1):
        tests = np.concatenate([u.test for u in units if u.seed == seed])
        assert np.array_equal(np.sort(tests), np.arange(len(d.y)))  # every row tested once per seed
        for u in units:
            assert np.intersect1d(u.train, u.test).size == 0


def test_bad_arguments_are_refused(binary_data):
    with pytest.raises(ValueError, match="class_id"):
        compare("digits_lt", objective="recall@precision>=0.9", progress=False)
    with pytest.raises(ValueError, match="does not apply"):
        compare(binary_data, strategies="logit_adjusted", progress=False)
    with pytest.raises(ValueError, match="`seeds` must be an integer >= 1"):
        compare(binary_data, seeds=0, progress=False)
    with pytest.raises(ValueError, match="same number of rows"):
        compare((binary_data[0][:10], binary_data[1]), progress=False)


def test_multilabel_comparison_scores_micro_f1_at_per_label_thresholds(tmp_path):
    from imbalance.datasets import load_demo

    data = load_demo("multilabel30", n_samples=3000)
    results = compare(data, strategies=["baseline", "weighted_bce"], objective="f1", epochs=1, seeds=1,
                      progress=False, min_positives=5, out_dir=tmp_path)
    for r in results.runs:
        tn, fp, fn, tp = np.ravel(r["confusion"])
        assert r["objective"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert len(r["threshold"]) == 30  # one threshold per label
        assert tn + fp + fn + tp == r["test_rows"] * 30
    untuned = [r for r in results.candidate_runs if r["decision"] == "0.5"]
    assert len(untuned) == len(results.runs)
    for r in untuned:
        tn, fp, fn, tp = np.ravel(r["confusion"])
        assert r["objective"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        assert tn + fp + fn + tp == r["test_rows"] * 30 and r["threshold"] == [0.5] * 30
    results.save(tmp_path)
    served = keras.models.load_model(tmp_path / "best.keras")
    out = served.predict(data.x[:20], verbose=0)
    assert np.asarray(out["decisions"]).shape == (20, 30)
    if results.best.endswith("@0.5"):
        assert np.array_equal(np.asarray(out["decisions"]), (np.asarray(out["scores"]) >= 0.5).astype(int))


def test_untuned_candidates_are_the_same_test_rows_decided_at_one_half(binary_data, tmp_path):
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

    results = compare(binary_data, strategies=["baseline", "oversample"], out_dir=tmp_path, **FAST)
    assert results.decision_rule == "0.5"
    assert results.candidates == ["baseline", "baseline@0.5", "oversample", "oversample@0.5"]
    runs = results.candidate_runs
    assert len(runs) == 2 * len(results.runs)
    tuned = {(r["strategy"], r["seed"], r["fold"]): r for r in runs if r["decision"] == "tuned"}
    for r in (r for r in runs if r["decision"] == "0.5"):
        twin = tuned[(r["strategy"].removesuffix("@0.5"), r["seed"], r["fold"])]
        y = np.asarray(twin["test_target"]["y"])
        decision = (np.asarray(twin["test_target"]["score"]) >= 0.5).astype(int)
        # Scored independently with scikit-learn from the stored test scores of the tuned twin.
        assert r["objective"] == pytest.approx(f1_score(y, decision), abs=1e-6)
        assert r["confusion"] == confusion_matrix(y, decision).tolist()
        assert r["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, decision), abs=1e-6)
        assert r["threshold"] == [0.5] and "held" not in r
        assert r["pr_auc"] == twin["pr_auc"]  # the same scores: threshold-free metrics are shared
    table = results.table.set_index("strategy")
    for name in results.candidates:
        mine = [r["objective"] for r in runs if r["strategy"] == name]
        assert table.loc[name, "objective"] == pytest.approx(np.mean(mine))
    assert "untuned_objective" not in table.columns  # the untuned decision has rows of its own


def test_an_untuned_recommendation_is_served_at_one_half(binary_data, tmp_path, monkeypatch):
    results = compare(binary_data, strategies=["oversample"], out_dir=tmp_path, serve="first_unit", **FAST)
    monkeypatch.setattr(type(results), "best", property(lambda self: "oversample@0.5"))
    results.save(tmp_path)
    served = keras.models.load_model(tmp_path / "best.keras")
    out = served.predict(binary_data[0][:300], verbose=0)
    scores = np.asarray(out["scores"]).reshape(-1)
    decisions = np.asarray(out["decisions"]).reshape(-1)
    assert np.array_equal(decisions, (scores >= 0.5).astype(int))
    tuned = float(json.loads((tmp_path / "thresholds" / "oversample.json").read_text())["thresholds"][0])
    between = (scores - 0.5) * (scores - tuned) < 0
    assert tuned != 0.5 and between.any()  # the tuned rule would decide those rows differently
    fixed = json.loads((tmp_path / "thresholds.json").read_text())
    assert fixed == {"strategy": "oversample", "decision": "0.5", "tuned": False, "thresholds": [0.5],
                     "class_id": None}
    # The scores are the tuned model's own: the same network, only the decision differs.
    original = keras.models.load_model(tmp_path / "models" / "oversample.keras")
    np.testing.assert_allclose(np.asarray(original.predict(binary_data[0][:300], verbose=0)["scores"]).reshape(-1),
                               scores, rtol=1e-6)
    assert "oversample@0.5" in (tmp_path / "report.html").read_text()


def test_multiclass_untuned_candidate_decides_at_argmax(tmp_path, monkeypatch):
    from sklearn.metrics import f1_score

    from imbalance.datasets import load_demo

    data = load_demo("digits_lt")
    results = compare(data, strategies=["baseline"], objective="f1", class_id=0, epochs=2, seeds=1, folds=2,
                      progress=False, out_dir=tmp_path)
    assert results.candidates == ["baseline", "baseline@argmax"]
    for r in (r for r in results.candidate_runs if r["decision"] == "argmax"):
        per_class = r["per_class"]
        confusion = np.asarray(r["confusion"])
        tp, fp, fn = confusion[0, 0], confusion[1:, 0].sum(), confusion[0, 1:].sum()
        assert r["objective"] == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        assert per_class["support"][0] == confusion[0].sum()
    monkeypatch.setattr(type(results), "best", property(lambda self: "baseline@argmax"))
    results.save(tmp_path)
    served = keras.models.load_model(tmp_path / "best.keras")
    out = served.predict(np.asarray(data.x[:200], np.float32), verbose=0)
    assert np.array_equal(np.asarray(out["decisions"]), np.asarray(out["scores"]).argmax(axis=1))
    assert f1_score(data.y[:200], np.asarray(out["decisions"]), average="macro") > 0  # a real model, not constant
    assert json.loads((tmp_path / "thresholds.json").read_text())["decision"] == "argmax"


def test_constraints_compete_only_with_tuned_thresholds(binary_data):
    results = compare(binary_data, strategies=["baseline", "oversample"], objective="recall@precision>=0.8",
                      **FAST)
    assert results.decision_rule is None
    assert results.candidates == ["baseline", "oversample"]
    assert results.candidate_runs == results.runs
    assert "@" not in results.best
    assert "untuned_objective" in results.table.columns  # shown beside, never a candidate


def test_records_without_untuned_fields_give_no_untuned_candidate():
    from imbalance.experiment.candidates import candidate_runs

    old = {"strategy": "baseline", "seed": 0, "fold": 0, "objective": 0.5, "confusion": [[1, 0], [0, 1]]}
    new = {**old, "seed": 1, "untuned_objective": 0.4, "untuned_precision": 0.5, "untuned_recall": 0.3,
           "untuned_confusion": [[2, 0], [1, 1]], "threshold": [0.3]}
    runs = candidate_runs([RunRecord.from_dict(old), RunRecord.from_dict(new)], "0.5", parse_objective("f1"))
    assert [(r["strategy"], r["seed"], r["objective"]) for r in runs] == [
        ("baseline", 0, 0.5), ("baseline", 1, 0.5), ("baseline@0.5", 1, 0.4)]
    assert runs[2]["confusion"] == [[2, 0], [1, 1]] and runs[2]["threshold"] == [0.5]
    assert not any(k.startswith("untuned_") for k in runs[2])


def test_cost_objectives_compete_untuned_too_and_lower_is_better(binary_data):
    results = compare(binary_data, strategies=["baseline"], objective="cost:fp=1,fn=10", **FAST)
    assert results.candidates == ["baseline", "baseline@0.5"]
    for r in (r for r in results.candidate_runs if r["decision"] == "0.5"):
        y = np.asarray(r["test_target"]["y"])
        decision = np.asarray(r["test_target"]["score"]) >= 0.5
        expected = (np.sum(decision & (y == 0)) * 1 + np.sum(~decision & (y == 1)) * 10) / len(y)
        assert r["objective"] == pytest.approx(expected)
        assert "fbeta" not in r  # an F-score of the untuned decision was never computed for a cost objective
    table = results.table
    assert list(table["objective"]) == sorted(table["objective"])  # best (lowest cost) first
    assert results.verdict.best == table["strategy"].iloc[0]
