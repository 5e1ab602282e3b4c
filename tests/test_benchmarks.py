"""The benchmark harness's own logic: statistics, the default-recipe decision, the goal table, resumable folds.

The benchmarks themselves are measured by ``make bench``; these tests check the code that turns measurements into
BENCHMARKS.md statements, against independent formulas and hand-made results.
"""

import json

import numpy as np
import pytest
from scipy.stats import wilcoxon

from benchmarks import examples, quality, speed


def test_mean_ranks_equal_a_brute_force_count():
    rng = np.random.default_rng(0)
    table = rng.integers(0, 4, size=(7, 5)).astype(float)  # many ties
    expected = np.zeros(5)
    for row in table:
        for j in range(5):
            better = np.sum(row > row[j])
            ties = np.sum(row == row[j])  # including itself: average of ranks better+1 .. better+ties
            expected[j] += better + (ties + 1) / 2
    np.testing.assert_allclose(quality.mean_ranks(table), expected / len(table))


def test_wilcoxon_p_is_scipys_and_one_when_nothing_differs():
    a = np.array([0.61, 0.72, 0.55, 0.80, 0.67, 0.59, 0.70])
    b = np.array([0.58, 0.70, 0.57, 0.71, 0.60, 0.52, 0.69])
    assert quality.wilcoxon_p(a, b) == pytest.approx(wilcoxon(a, b).pvalue)
    assert quality.wilcoxon_p(a, a.copy()) == 1.0


def _records(means):
    """Records for quality's statistics: means[method] = (f1_tuned per dataset, f1_05 per dataset), 2 folds each,
    the two folds at mean -/+ 0.01."""
    out = []
    for method, (tuned, at05) in means.items():
        for d, (t, h) in enumerate(zip(tuned, at05)):
            for fold, e in enumerate((-0.01, 0.01)):
                out.append({"dataset": f"d{d}", "fold": fold, "method": method, "f1_tuned": t + e, "f1_05": h + e})
    return out


def test_the_default_switches_only_on_a_significant_win():
    D = quality.DEFAULT
    n = 8
    base = np.linspace(0.3, 0.7, n)
    clear = _records({D: (base, base - 0.05), "class_weight": (base + 0.05, base - 0.1)})
    text, line = quality.choose_default(clear)
    # 8 of 8 datasets better: the exact two-sided Wilcoxon p is 2 / 2**8 = 0.0078
    assert "switch the default to `class_weight @ tuned`" in line
    assert f"p = {2 / 2 ** n:.3f}" in line
    noisy = _records({D: (base, base - 0.05),
                      "class_weight": (base + np.array([0.05, -0.04, 0.03, -0.02, 0.04, -0.03, 0.02, 0.01]),
                                       base - 0.1)})
    text, line = quality.choose_default(noisy)
    assert "not significantly" in line and "class_weight @ tuned" in line
    stays = _records({D: (base + 0.02, base), "class_weight": (base, base)})
    text, line = quality.choose_default(stays)
    assert line == "" and "stays the default" in text


def test_checkpoint_keeps_finished_folds_for_the_same_settings_only(tmp_path, monkeypatch):
    import benchmarks._report as report

    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    s = quality.Settings(datasets=("glass2",), repeats=1, methods=("keras_bce",), digits_seeds=(0,))
    cp = quality._Checkpoint(s)
    cp.put(("glass2", 0), [{"method": "keras_bce", "f1_tuned": 0.5}])
    with cp.path.open("a") as f:
        f.write('{"settings": "cut by a ki')  # a line cut by a kill is ignored
    again = quality._Checkpoint(s)
    assert again.get(("glass2", 0)) == [{"method": "keras_bce", "f1_tuned": 0.5}]
    assert again.get(("glass2", 1)) is None
    other = quality._Checkpoint(quality.Settings(datasets=("glass2",), repeats=1, methods=("keras_bce",),
                                                 digits_seeds=(0,), epochs=5))
    assert other.get(("glass2", 0)) is None
    # the number of worker processes does not change the results, so it does not invalidate them
    assert quality._Checkpoint(quality.Settings(datasets=("glass2",), repeats=1, methods=("keras_bce",),
                                                digits_seeds=(0,), workers=4)).get(("glass2", 0)) is not None
    again.remove()
    assert not cp.path.exists()


def test_map_in_process_keeps_task_order_and_reports_each():
    seen = []
    out = quality._map(lambda a, b: a * b, [(1, 2), (3, 4), (5, 6)], 1, lambda task, r: seen.append((task, r)))
    assert out == [2, 12, 30]
    assert seen == [((1, 2), 2), ((3, 4), 12), ((5, 6), 30)]


def _write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")


def test_goal_rows_read_the_other_sections_and_mark_met_and_missed(tmp_path, monkeypatch):
    import benchmarks._report as report

    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    when = {"generated": "2026-01-02T03:04:05+00:00", "quick": False}
    _write(tmp_path / "loss_speed.json", {**when, "config": {"goal_ratio": 1.15}, "rows": [
        {"loss": "A", "reference": "keras X", "status": "ok", "primary": True, "train": {"ratio": 1.10}, "why": ""},
        {"loss": "B", "reference": "keras X", "status": "ok", "primary": True, "train": {"ratio": 1.30},
         "why": "two kernels"},
        {"loss": "C", "reference": "keras Y", "status": "ok", "primary": False, "train": {"ratio": 3.0}}]})
    _write(tmp_path / "sampler_speed.json", {**when, "config": {"goal_ratio": 5.0, "rows": 1000}, "throughput": [
        {"method": "oversample", "contender": "imbalance `balanced_dataset`",
         "in_graph": {"rows_per_s": 600.0}, "python": {"rows_per_s": 200.0}},
        {"method": "oversample", "contender": "imblearn `BalancedBatchGenerator` via Keras",
         "in_graph": {"rows_per_s": 100.0}, "python": {"rows_per_s": 100.0}},
        {"method": "oversample", "contender": "tf.data `rejection_resample` (first rows)",
         "in_graph": {"rows_per_s": 3.0}}],
        "memory": [{"n": 10, "peak_above_start_mb": 2.0}, {"n": 100, "peak_above_start_mb": 3.0}]})
    _write(tmp_path / "threshold_speed.json", {**when, "goal": {"ratio_vs_argsort": 1.3, "seconds": 2.0},
                                               "settings": {"n": 10_000_000}, "rows": [
        {"objective": "f1", "rate": 0.01, "ours_s": 0.5, "vs_argsort": [0.3, 0.4, 0.5], "vs_sklearn": [0.2]},
        {"objective": "f1", "rate": 0.5, "ours_s": 2.5, "vs_argsort": [1.0], "vs_sklearn": [0.2]}]})
    _write(tmp_path / "examples.json", {**when, "multilabel30": {"goal": {
        "micro_f1": 0.17, "ratio": 0.17 / 0.182, "bayes_f1": 0.182, "met": False}}})
    rows = speed.goal_rows({"ratio": [1.5, 2.0, 2.5]})
    by = {r["what"]: r for r in rows}
    assert by["train step: `A` vs keras X"]["met"] is True
    assert by["train step: `B` vs keras X"]["met"] is False and by["train step: `B` vs keras X"]["why"] == "two kernels"
    assert not any("`C`" in w for w in by)  # only the primary reference counts for the goal
    over = [r for w, r in by.items() if w.startswith("oversample sampler (")]
    assert [(r["measured"], r["met"]) for r in over] == [("6.0×", True), ("2.0×", False)]
    assert by["oversample sampler vs tf.data `rejection_resample`"]["measured"] == "200×"
    assert next(r for w, r in by.items() if w.startswith("`rebalance`"))["met"] is True
    thr = [r for w, r in by.items() if w.startswith("threshold search")]
    assert [r["met"] for r in thr] == [True, False]  # 2.5 s misses the 2 s goal although 1.0x argsort is fine
    assert next(r for w, r in by.items() if w.startswith("multilabel30"))["met"] is False
    assert by["MirroredStrategy, 2 logical CPUs vs one device, epoch time"]["measured"].startswith("2.00×")
    wins, losses = speed.verdicts(rows)
    assert wins[0].startswith(f"{sum(r['met'] is True for r in rows)} of "
                              f"{sum(r['met'] is not None for r in rows)} goals met")
    assert len(losses) == sum(r["met"] is False for r in rows)


def test_multilabel_goal_picks_the_best_tuned_recipe():
    result = {"bayes_f1": 0.182, "results": {k: {"test_tuned": {"micro": v}} for k, v in
                                             zip("abc", (0.120, 0.176, 0.150))}}
    goal = examples.multilabel_goal(result)
    assert goal["best"] == "b" and goal["met"] is True
    assert goal["ratio"] == pytest.approx(0.176 / 0.182)
    result["results"]["b"]["test_tuned"]["micro"] = 0.17
    assert examples.multilabel_goal(result)["met"] is False  # 0.934 x Bayes


@pytest.mark.parametrize("target, confidence", [(0.8, 0.9), (0.9, 0.9), (0.8, 0.95), (0.5, 0.9)])
def test_min_certifiable_is_the_smallest_count_whose_bound_reaches_the_target(target, confidence):
    from scipy.stats import beta

    n = quality._min_certifiable(target, confidence)
    lower = lambda k: beta.ppf(1 - confidence, k, 1)  # noqa: E731 - one-sided Clopper-Pearson bound, k of k correct
    assert lower(n) >= target > lower(n - 1)


def test_extend_trains_only_the_missing_methods_and_refuses_other_settings(monkeypatch):
    import dataclasses

    tiny = quality.Settings(datasets=("d0", "d1"), repeats=1, methods=("a", "b", "c"), digits_seeds=(0,))
    monkeypatch.setattr(quality, "_settings", lambda quick: tiny)
    asked = []

    def fake_measure(s, log=None):
        asked.append(s.methods)
        return [{"dataset": d, "fold": f, "method": m} for d in s.datasets for f in (0, 1) for m in s.methods], {}

    monkeypatch.setattr(quality, "measure_keel", fake_measure)
    old = [{"dataset": d, "fold": f, "method": m} for d in ("d0", "d1") for f in (0, 1) for m in ("a", "c")]
    payload = {"quick": True, "seconds": 10.0, "records": old,
               "settings": dataclasses.asdict(dataclasses.replace(tiny, methods=("a", "c"), workers=3))}
    out = quality.extend(payload, log=lambda m: None)
    assert asked == [("b",)]
    assert [(r["dataset"], r["fold"], r["method"]) for r in out["records"]] == [
        (d, f, m) for d in ("d0", "d1") for f in (0, 1) for m in ("a", "b", "c")]
    assert tuple(out["settings"]["methods"]) == ("a", "b", "c") and out["extended"]["methods"] == ["b"]
    assert quality.extend(out, log=lambda m: None) is out and asked == [("b",)]  # nothing left to add
    other = dict(payload, settings=dataclasses.asdict(dataclasses.replace(tiny, methods=("a",), epochs=5)))
    with pytest.raises(ValueError, match="other settings"):
        quality.extend(other, log=lambda m: None)


def test_compares_tie_break_order_is_the_order_measured_on_the_stored_development_suite():
    """BINARY_F1_ORDER (what compare recommends among tied candidates, binary F1) must be what the stored full run
    measured: each registered strategy x decision rule, by mean rank of test F1 over the datasets."""
    import json
    from pathlib import Path

    from benchmarks.quality import development_order
    from imbalance.experiment.verdict import BINARY_F1_ORDER

    stored = json.loads((Path(__file__).parents[1] / "benchmarks" / "results" / "quality.json").read_text())
    assert not stored["quick"]  # the order comes from the full run, not the 5-dataset smoke test
    assert tuple(development_order(stored["records"])) == BINARY_F1_ORDER


def test_development_order_ranks_registered_strategies_under_both_rules():
    from benchmarks.quality import development_order

    records = []
    # Two datasets; oversample at 0.5 wins both, baseline tuned is second on one and third on the other.
    values = {"d1": {"oversample": (0.5, 0.9), "baseline": (0.7, 0.1), "keras_bce": (1.0, 1.0)},
              "d2": {"oversample": (0.2, 0.8), "baseline": (0.4, 0.6), "keras_bce": (1.0, 1.0)}}
    for dataset, methods in values.items():
        for method, (tuned, half) in methods.items():
            records.append({"dataset": dataset, "fold": 0, "method": method, "f1_tuned": tuned, "f1_05": half})
    # Peers (keras_bce) are not registered strategies: never in compare's order, however well they score.
    # d1 ranks: oversample@0.5 0.9, baseline 0.7, oversample 0.5, baseline@0.5 0.1
    # d2 ranks: oversample@0.5 0.8, baseline@0.5 0.6, baseline 0.4, oversample 0.2
    assert development_order(records) == ["oversample@0.5", "baseline", "baseline@0.5", "oversample"]


def test_a_quick_run_never_overwrites_a_full_runs_results(tmp_path, monkeypatch):
    import benchmarks._report as report

    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    full = {"generated": "2026-01-01T00:00:00+00:00", "quick": False, "records": [1, 2, 3]}
    report.store_section("q", "Q", False, dict(full), "", [], [], 1.0)
    assert json.loads((tmp_path / "q.json").read_text()) == full
    assert report.stored_path("q", quick=True) == tmp_path / "q.quick.json"
    quick = {"generated": "2026-01-02T00:00:00+00:00", "quick": True, "records": [9]}
    report.store_section("q", "Q", True, dict(quick), "", [], [], 1.0)
    assert json.loads((tmp_path / "q.json").read_text()) == full  # the full run survives
    assert json.loads((tmp_path / "q.quick.json").read_text()) == quick
    assert report.load_raw("q") == quick  # the newest wins for readers such as the goal table
    # A full run replaces the full results; without a full run a quick one takes the plain name.
    assert report.stored_path("q", quick=False) == tmp_path / "q.json"
    assert report.stored_path("fresh", quick=True) == tmp_path / "fresh.json"
    assert report.load_raw("missing") is None
