"""compare(serve="refit"): best.keras is the recommended strategy trained on every row, its threshold tuned on the
pooled out-of-sample scores of every unit (each row once, from the first unit that scored it)."""

import json

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import Protocol, compare, prepare_data, train_strategy
from imbalance.experiment.records import OutOfSample, ScoreStore
from imbalance.experiment.refit import check_serve, pooled_scores
from imbalance.thresholds import ThresholdTuner

FAST = dict(epochs=2, progress=False, workers=1)
RUN_ARGS = dict(strategies=["baseline", "class_weight"], objective="recall@precision>=0.8", seeds=1, **FAST)


@pytest.fixture(scope="module")
def binary_data():
    x, y = make_classification(n_samples=500, n_features=6, n_informative=4, weights=[0.88], random_state=5)
    return x.astype(np.float32), y


def _units(d, seeds, **protocol):
    return Protocol(**protocol).units(d, None, seeds)


def _stored_scores(out, results, strategy):
    store = ScoreStore(out, results.config.config_id)
    units = _units(results.data, results.config.seeds, **{
        k: getattr(results.config.protocol, k) for k in ("test_size", "val_size", "folds", "inner_folds",
                                                           "min_positives")})
    return store, units


def _brute_force_pool(n, units, store, strategy):
    """Each row's score from the first unit (test rows, then tuning rows) that has one: a dict, row by row."""
    seen = {}
    for u in units:
        s = store.get(strategy, u.seed, u.fold)
        for rows, scores in ((u.test, s.test), (s.tuning_rows, s.tuning)):
            for r, v in zip(rows.tolist(), scores):
                seen.setdefault(r, v)
    rows = np.array(sorted(seen))
    return rows, np.array([seen[r] for r in rows.tolist()])


def test_pooled_scores_take_each_row_once_from_the_first_unit_that_scored_it(rng):
    from imbalance.experiment.protocol import Unit

    n = 40
    units, store = [], ScoreStore(None, "t")
    for seed in range(3):
        order = rng.permutation(n)
        for fold, test in enumerate(np.array_split(order, 2)):
            train = np.setdiff1d(order, test)
            tuning = rng.choice(train, size=5, replace=False)
            store.put("s", seed, fold, OutOfSample(rng.random((len(test), 2)), tuning, rng.random((5, 2))))
            units.append(Unit(seed, fold, np.sort(train), np.sort(test), "cv"))
    rows, scores, used = pooled_scores(n, units, "s", store)
    want_rows, want = _brute_force_pool(n, units, store, "s")
    assert rows.tolist() == want_rows.tolist() == list(range(n))
    np.testing.assert_array_equal(scores, want.astype(np.float32))
    assert used == 2  # seed 0's two folds test every row: later units add nothing


def test_pooled_scores_skip_units_without_stored_scores():
    from imbalance.experiment.protocol import Unit

    store = ScoreStore(None, "t")
    a = Unit(0, 0, np.array([2, 3]), np.array([0, 1]), "holdout")
    b = Unit(1, 0, np.array([0, 1]), np.array([2, 3]), "holdout")
    rows, scores, used = pooled_scores(4, [a, b], "s", store)
    assert rows.tolist() == [] and scores is None and used == 0
    store.put("s", 1, 0, OutOfSample(np.array([[0.7], [0.2]]), np.array([0]), np.array([[0.4]])))
    rows, scores, used = pooled_scores(4, [a, b], "s", store)
    assert rows.tolist() == [0, 2, 3] and scores[:, 0].tolist() == pytest.approx([0.4, 0.7, 0.2]) and used == 1


def test_score_files_round_trip_and_a_cut_file_reads_as_absent(tmp_path):
    store = ScoreStore(tmp_path, "cid")
    scores = OutOfSample(np.array([[0.1], [0.9]]), np.array([5, 7]), np.array([[0.3], [0.6]]))
    store.put("a+augment", 0, 1, scores)
    back = store.get("a+augment", 0, 1)
    np.testing.assert_array_equal(back.test, scores.test.astype(np.float32))
    assert back.tuning_rows.tolist() == [5, 7]
    path = store.path("a+augment", 0, 1)
    path.write_bytes(path.read_bytes()[:40])
    assert store.get("a+augment", 0, 1) is None
    assert store.get("other", 0, 0) is None


def test_serve_is_checked():
    assert check_serve("first-unit") == "first_unit"
    with pytest.raises(ValueError, match="`serve` must be one of 'auto', 'refit', 'first_unit'. Received: "
                                         "serve='best'"):
        compare((np.zeros((10, 2)), np.array([0, 1] * 5)), serve="best", progress=False)


@pytest.fixture(scope="module")
def refit_run(binary_data, tmp_path_factory):
    """Two strategies on the cross-validated units of one seed, saved (serve="auto": refit)."""
    x, y = binary_data
    out = tmp_path_factory.mktemp("refit") / "out"
    results = compare((x, y), out_dir=out, **RUN_ARGS)
    results.save(out)
    return results, out


def test_refit_serves_a_model_of_every_row_with_the_threshold_of_the_pooled_scores(binary_data, refit_run):
    x, y = binary_data
    results, out = refit_run
    best = results.best
    served = results.served
    assert served.candidate == best and served.rows == len(y) and served.how == "refit"

    # the model: the strategy trained on every row, as train_strategy trains it (seed 0, the same budget)
    by_hand = train_strategy(best.strategy, x, y, epochs=2, seed=0)
    expected = 1 / (1 + np.exp(-keras.ops.convert_to_numpy(by_hand(x[:50])).astype(np.float64)))
    model = keras.models.load_model(out / "best.keras")
    outputs = model.predict(x[:50], verbose=0)
    np.testing.assert_allclose(outputs["scores"], expected, rtol=1e-4, atol=1e-6)

    # the threshold: a tuner fitted on the pooled out-of-sample scores (brute force) with compare's settings
    store, units = _stored_scores(out, results, best.strategy)
    rows, pooled = _brute_force_pool(len(y), units, store, best.strategy)
    assert len(rows) == len(y)  # cross-validated units score every row
    tuner = ThresholdTuner("recall@precision>=0.8", on_unreachable="best").fit(y[rows], pooled[:, 0])
    saved = json.loads((out / "thresholds.json").read_text())
    assert saved["thresholds"] == pytest.approx(np.ravel(tuner.thresholds_).tolist())
    assert saved["achieved"]["reached"] == tuner.achieved_["reached"]
    assert saved["served"]["threshold_tuned_on"] == {"rows": len(y), "positives": int(y.sum()),
                                                     "units": served.units}
    assert "on_test" in saved and saved["served"]["model"] == "refit"
    assert ThresholdTuner.load(out / "thresholds.json").thresholds_ == pytest.approx(tuner.thresholds_)
    decided = tuner.predict(np.asarray(outputs["scores"])[:, 0])
    np.testing.assert_array_equal(np.asarray(outputs["decisions"]).ravel(), np.asarray(decided).ravel())

    if keras.backend.backend() == "tensorflow":  # the SavedModel export serves the refitted model too
        import tensorflow as tf

        exported = tf.saved_model.load(str(out / "best_savedmodel")).signatures["serving_default"](
            inputs=tf.constant(x[:50]))
        np.testing.assert_allclose(exported["scores"].numpy(), outputs["scores"], atol=1e-6)

    # every unit's tuning rows are rows of its training part, never of its test part
    for u in units:
        s = store.get(best.strategy, u.seed, u.fold)
        assert np.isin(s.tuning_rows, u.train).all() and not np.isin(s.tuning_rows, u.test).any()
        assert len(s.test) == len(u.test)
    # the first unit's own model and threshold are still written for every strategy
    assert (out / "models" / f"{best.strategy}.keras").exists()
    assert "refitted on all 500 rows" in (out / "report.html").read_text()


def test_a_hold_out_pool_holds_the_test_and_validation_rows_of_every_seed(tmp_path):
    x, y = make_classification(n_samples=800, n_features=6, weights=[0.7], random_state=2)
    x = x.astype(np.float32)
    results = compare((x, y), strategies=["baseline"], objective="f1", seeds=2, serve="refit", **FAST)
    d = prepare_data((x, y))
    units = _units(d, 2)
    assert {u.outer for u in units} == {"holdout"} and {r.inner for r in results.runs} == {"validation"}
    tested = set()
    for u in units:
        tested |= set(u.test.tolist())
    # test rows of both seeds, plus validation rows (a quarter of each unit's training rows) not tested already
    assert results.served.tuned_rows > len(tested)
    assert results.served.units == 2


def test_an_untuned_recommendation_is_refitted_and_decided_at_one_half(binary_data, tmp_path, monkeypatch):
    import imbalance.experiment.results as results_module

    x, y = binary_data
    out = tmp_path / "out"
    # make the verdict recommend the untuned candidate whatever the numbers
    original = results_module.Results.verdict

    def forced(self):
        v = original.fget(self)
        v.recommended = "class_weight@0.5"
        return v

    monkeypatch.setattr(results_module.Results, "verdict", property(forced))
    results = compare((x, y), strategies=["class_weight"], objective="f1", seeds=1, serve="refit", out_dir=out,
                      min_positives=5, **FAST)
    assert results.served.candidate == "class_weight@0.5" and results.served.tuned_rows == 0
    results.save(out, export=False)
    outputs = keras.models.load_model(out / "best.keras").predict(x[:80], verbose=0)
    np.testing.assert_array_equal(np.asarray(outputs["decisions"]).ravel(),
                                  (np.asarray(outputs["scores"]).ravel() >= 0.5).astype(int))
    saved = json.loads((out / "thresholds.json").read_text())
    assert saved["decision"] == "0.5" and saved["tuned"] is False and saved["served"]["threshold_tuned_on"] is None


def test_a_resumed_comparison_refits_from_the_stored_scores(binary_data, refit_run, tmp_path):
    import shutil

    first, out = refit_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    trained = []
    again = compare(binary_data, out_dir=copy, on_run=trained.append, **RUN_ARGS)
    assert trained == []  # every run resumed from runs.jsonl
    assert again.served.tuned_rows == first.served.tuned_rows and again.served.units == first.served.units
    assert np.ravel(again.served.rule.thresholds_) == pytest.approx(np.ravel(first.served.rule.thresholds_))


def test_without_stored_scores_the_refit_says_what_to_do(binary_data, refit_run, tmp_path):
    import shutil

    _, out = refit_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "scores")  # as a folder written before scores were kept
    results = compare(binary_data, out_dir=copy, **RUN_ARGS)  # the runs resume; the refit waits for save
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="No run of '.+' has its test scores stored"):
        results.save(copy)
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()} == before  # nothing written


def test_the_refit_waits_until_the_served_model_is_needed(binary_data, refit_run, tmp_path, monkeypatch):
    import shutil

    import imbalance.experiment.refit as refit_module

    _, out = refit_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    calls = []
    original = refit_module.train_model
    monkeypatch.setattr(refit_module, "train_model", lambda *a, **k: calls.append(1) or original(*a, **k))
    results = compare(binary_data, out_dir=copy, **RUN_ARGS)
    assert calls == [] and results.table is not None and results.best  # a comparison to read costs no refit
    served = results.served
    assert calls == [1] and results.served is served  # trained once, when first asked for
    results.save(copy, export=False)
    assert calls == [1]


def test_with_early_stopping_the_refit_trains_the_median_kept_epoch(binary_data):
    x, y = binary_data
    results = compare((x, y), strategies=["baseline"], objective="f1", seeds=2, serve="refit", epochs=6,
                      early_stopping=1, progress=False, workers=1, min_positives=5)  # hold-out units
    kept = [r.best_epoch for r in results.runs]
    assert all(1 <= e <= 6 for e in kept)
    assert results.served.epochs == max(1, int(round(float(np.median(kept)))))


def test_auto_refits_except_for_a_source_of_millions_of_rows():
    from imbalance.data.sources import PipelineSource
    from imbalance.experiment.data import from_source
    from imbalance.experiment.refit import resolve_serve

    small = prepare_data("fraud")
    assert resolve_serve("auto", small) == "refit" and resolve_serve("first_unit", small) == "first_unit"
    labels = np.zeros(1_000_001, np.int8)
    labels[::50] = 1
    big = from_source(PipelineSource(labels, features=lambda rows: None, input_shape=(3,)))
    assert resolve_serve("auto", big) == "first_unit" and resolve_serve("refit", big) == "refit"


def test_the_first_unit_is_served_on_request(binary_data, refit_run, tmp_path):
    import shutil

    _, out = refit_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    results = compare(binary_data, out_dir=copy, serve="first_unit", **RUN_ARGS)  # every run resumed, no refit
    assert results.served is None
    results.save(copy, export=False)
    best = results.best.strategy
    assert (copy / "best.keras").read_bytes() == (copy / "models" / f"{best}.keras").read_bytes()
    assert "served" not in json.loads((copy / "thresholds.json").read_text())
