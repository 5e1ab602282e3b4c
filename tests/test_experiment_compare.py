"""compare(): paired units, resumable JSON-lines results, a saved model that serves decisions, an HTML report."""

import json
from html.parser import HTMLParser

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import compare, prepare_data
from imbalance.experiment.runner import RUNS_FILE, _units


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


def test_results_are_paired_and_scored_like_sklearn(binary_data, tmp_path):
    from sklearn.metrics import f1_score

    results = compare(binary_data, strategies=["baseline", "weighted_bce"], out_dir=tmp_path, **FAST)
    assert len(results.runs) == 4
    table = results.table
    assert set(table["strategy"]) == {"baseline", "weighted_bce"}
    for r in results.runs:
        tn, fp, fn, tp = np.ravel(r["confusion"])
        assert r["objective"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
        assert tn + fp + fn + tp == r["test_rows"]
    # The saved model serves the same decisions as the runner's threshold on the same rows.
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
    from imbalance.experiment.runner import _goal

    units = _units(d, _goal("f1"), 0, seeds=2, folds=3, test_size=0.25, min_positives=20)
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
    results.save(tmp_path)
    served = keras.models.load_model(tmp_path / "best.keras")
    out = served.predict(data.x[:20], verbose=0)
    assert np.asarray(out["decisions"]).shape == (20, 30)
