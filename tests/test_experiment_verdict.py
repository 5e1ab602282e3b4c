"""The verdict names a winner only beyond the noise; otherwise it calls a tie and recommends the cheapest."""

import numpy as np
import pytest
from scipy import stats

from imbalance.experiment.strategies import STRATEGIES, available, get_strategy, register, resolve, unregister
from imbalance.experiment.verdict import BINARY_F1_ORDER, summary_table, verdict


def _runs(values: dict[str, list[float]]) -> list[dict]:
    return [
        {"strategy": s, "seed": i, "fold": 0, "objective": v}
        for s, vs in values.items()
        for i, v in enumerate(vs)
    ]


def test_clear_winner_is_named(rng):
    base = rng.normal(0.5, 0.05, size=8)
    runs = _runs({"baseline": base.tolist(), "focal": (base + 0.1 + rng.normal(0, 0.01, 8)).tolist(),
                  "smote": (base - 0.02).tolist()})
    v = verdict(runs, ["baseline", "focal", "smote"], costs={"baseline": 0, "focal": 2, "smote": 4})
    assert v.winner == "focal" and v.recommended == "focal" and v.best == "focal"
    # The p-value is the one-sided paired t-test of focal − baseline, computed independently here.
    focal = np.array([r["objective"] for r in runs if r["strategy"] == "focal"])
    expected = stats.ttest_rel(focal, base, alternative="greater").pvalue
    assert v.p_values["baseline"] == pytest.approx(expected, rel=1e-9)
    assert v.p_values["baseline"] < 0.05


def test_strategies_within_noise_are_a_tie_and_the_cheapest_is_recommended(rng):
    base = rng.normal(0.6, 0.05, size=6)
    noise = rng.normal(0, 0.03, size=6)
    runs = _runs({"smote": (base + 0.005 + noise).tolist(), "baseline": base.tolist()})
    v = verdict(runs, ["smote", "baseline"], costs={"baseline": 0, "smote": 4})
    assert v.winner is None
    assert set(v.tied) == {"smote", "baseline"}
    assert v.recommended == "baseline"
    assert "Tie" in v.reason


def test_lower_is_better_for_costs():
    runs = _runs({"a": [5.0, 6.0, 5.5, 6.2], "b": [3.0, 3.5, 3.1, 3.6]})
    v = verdict(runs, ["a", "b"], higher_is_better=False, costs={"a": 0, "b": 1})
    assert v.best == "b" and v.winner == "b"


def test_one_unit_is_always_a_tie():
    runs = _runs({"a": [0.9], "b": [0.1]})
    v = verdict(runs, ["a", "b"], costs={"a": 3, "b": 0})
    assert v.winner is None and v.recommended == "b" and "one evaluation unit" in v.reason


def test_only_units_every_strategy_finished_are_paired():
    runs = _runs({"a": [0.9, 0.8, 0.85], "b": [0.1, 0.2]})
    v = verdict(runs, ["a", "b"])
    assert v.units == 2


def test_summary_table_matches_numpy():
    runs = _runs({"a": [0.1, 0.3, 0.2], "b": [0.5, 0.7, 0.9]})
    for r in runs:
        r["pr_auc"] = r["objective"] / 2
    table = summary_table(runs, ["a", "b"])
    assert list(table["strategy"]) == ["b", "a"]
    assert table.loc[0, "objective"] == pytest.approx(np.mean([0.5, 0.7, 0.9]))
    assert table.loc[0, "objective_std"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))
    assert table.loc[1, "pr_auc"] == pytest.approx(np.mean([0.05, 0.15, 0.1]))


def test_registry_lists_tasks_and_refuses_bad_names():
    assert set(available("multiclass")) >= {"baseline", "class_weight", "oversample", "undersample", "smote", "focal",
                                             "cb_focal", "logit_adjusted", "ldam_drw"}
    assert set(available("multilabel")) >= {"baseline", "weighted_bce", "asl", "focal"}
    assert "logit_adjusted" not in available("binary")
    with pytest.raises(ValueError, match="registered strategies are: baseline"):
        get_strategy("nope")
    with pytest.raises(ValueError, match="does not apply to a multilabel task"):
        resolve("smote", "multilabel")
    with pytest.raises(ValueError, match="already registered"):
        register("baseline", lambda ctx: None)
    register("mine", lambda ctx: None, tasks=("binary",), cost=0)
    try:
        assert "mine" in STRATEGIES and resolve(["mine"], "binary") == ["mine"]
    finally:
        unregister("mine")
    with pytest.raises(ValueError, match="subset of"):
        register("bad", lambda ctx: None, tasks=("regression",))
    for bad_name in ("a,b", "mine@0.5", " "):
        with pytest.raises(ValueError, match=f"Received: name={bad_name!r}"):
            register(bad_name, lambda ctx: None)


def test_a_measured_preference_breaks_ties_and_unlisted_names_fall_back_to_cost():
    # The same values in another order over the units: equal means, differences of both signs, a clear tie.
    base = np.array([0.50, 0.62, 0.70, 0.55, 0.66, 0.61])
    runs = _runs({"baseline": base.tolist(), "oversample@0.5": np.roll(base, 1).tolist(),
                  "smote@0.5": np.roll(base, 2).tolist(), "mine": np.roll(base, 3).tolist()})
    names = ["baseline", "oversample@0.5", "smote@0.5", "mine"]
    costs = {"baseline": 0, "oversample@0.5": 3.5, "smote@0.5": 4.5, "mine": 5}
    plain = verdict(runs, names, costs=costs)
    assert plain.winner is None and set(plain.tied) == set(names)
    assert plain.recommended == "baseline" and "cheapest" in plain.reason
    measured = verdict(runs, names, costs=costs, preference=BINARY_F1_ORDER)
    assert measured.recommended == "oversample@0.5" and "order measured on" in measured.reason
    # Only the order's listed names count; the rest of the order is irrelevant to who is recommended.
    assert verdict(runs, ["smote@0.5", "mine"], costs=costs, preference=BINARY_F1_ORDER).recommended == "smote@0.5"
    runs += _runs({"yours": np.roll(base, 4).tolist()})
    assert verdict(runs, ["mine", "yours"], costs={"mine": 5, "yours": 1},
                   preference=BINARY_F1_ORDER).recommended == "yours"


def test_a_clear_winner_beats_the_preference(rng):
    base = rng.normal(0.5, 0.05, size=8)
    runs = _runs({"oversample@0.5": base.tolist(), "focal": (base + 0.1 + rng.normal(0, 0.01, 8)).tolist()})
    v = verdict(runs, ["oversample@0.5", "focal"], costs={"oversample@0.5": 3.5, "focal": 2},
                preference=BINARY_F1_ORDER)
    assert v.winner == "focal" and v.recommended == "focal"


def test_summary_table_marks_each_candidates_decision():
    runs = [{"strategy": "a", "seed": 0, "fold": 0, "objective": 0.5, "decision": "tuned"},
            {"strategy": "a@0.5", "seed": 0, "fold": 0, "objective": 0.7, "decision": "0.5"}]
    table = summary_table(runs, ["a", "a@0.5"])
    assert table[["strategy", "decision"]].values.tolist() == [["a@0.5", "0.5"], ["a", "tuned"]]
    assert "decision" not in summary_table([{k: v for k, v in runs[0].items() if k != "decision"}], ["a"])


def test_a_scattered_strategy_below_a_beaten_one_is_not_recommended():
    # best: steady 0.70; close: tied with it; steady: 0.66 on every unit (beaten: the same margin each time, p = 0);
    # scattered: mean 0.55 but so spread out that the t-test cannot separate it from the best.
    runs = _runs({"best": [0.70, 0.70, 0.70], "close": [0.72, 0.66, 0.69], "steady": [0.66, 0.66, 0.66],
                  "scattered": [0.20, 0.75, 0.70]})
    names = ["best", "close", "steady", "scattered"]
    costs = {"best": 2, "close": 3, "steady": 1, "scattered": 0}
    v = verdict(runs, names, costs=costs)
    assert v.winner is None and v.p_values["close"] >= 0.05
    assert v.p_values["steady"] == 0.0 and v.p_values["scattered"] >= 0.05
    assert v.tied == ["best", "close"] and v.recommended == "best"
    assert "scattered also within the noise, but with a mean below a strategy that best beats" in v.reason
    # Without the steady strategy nothing is left out: the cheapest tied one is recommended.
    alone = verdict([r for r in runs if r["strategy"] != "steady"], ["best", "close", "scattered"], costs=costs)
    assert alone.tied == ["best", "close", "scattered"] and alone.recommended == "scattered"
