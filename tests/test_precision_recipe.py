"""benchmarks/precision_recipe.py: the statistics that turn its measurements into statements (held-rate, recall
where claimed, the paired tests), the frozen copy of the verdict before issue 18, and the cross-fitted verdict
comparison, on hand-made results (no training)."""

import numpy as np
import pytest
from scipy.stats import wilcoxon

from benchmarks import precision_recipe as pr


def _unit(dataset, seed, **variants):
    """A unit record: ``variants[name] = (claimed, held, recall)``; variants not given copy ``today``."""
    today = variants["today"]
    out = {}
    for name in pr.VARIANTS:
        claimed, held, recall = variants.get(name, today)
        out[name] = {"claimed": claimed, "held": held, "recall": recall, "precision": 0.9 if held else 0.5,
                     "predicted": 3, "threshold": 0.5}
    return {"dataset": dataset, "seed": seed, "fold": 0, "inner": "cv", "tuning_positives": 30, "test_positives": 10,
            "variants": out}


def test_held_rate_counts_claimed_units_only_and_recall_is_zero_where_not_claimed():
    records = [_unit("a", 0, today=(True, True, 0.6)), _unit("a", 1, today=(True, False, 0.8)),
               _unit("a", 2, today=(False, False, 0.9))]
    m = pr.per_dataset(records, "today")["a"]
    assert (m["units"], m["claimed"], m["held"]) == (3, 2, 1)
    assert m["held_rate"] == pytest.approx(0.5)
    assert m["recall_p80"] == pytest.approx((0.6 + 0.8 + 0.0) / 3)  # the unclaimed unit's 0.9 does not count
    assert m["recall_claimed"] == pytest.approx(0.7)


def test_a_dataset_without_claims_has_no_held_rate():
    m = pr.per_dataset([_unit("a", 0, today=(False, False, 0.4))], "today")["a"]
    assert np.isnan(m["held_rate"]) and m["recall_p80"] == 0.0


def test_summary_pairs_variants_with_today_per_dataset():
    records = []
    for k, name in enumerate("abcdef"):
        records.append(_unit(name, 0, today=(True, True, 0.3 + 0.01 * k), point_estimate=(True, False, 0.5 + 0.02 * k)))
    summary = pr.summarise(records)
    today, point = summary["today"], summary["point_estimate"]
    assert today["held_rate_units"] == 1.0 and point["held_rate_units"] == 0.0
    assert (point["recall_better"], point["recall_worse"]) == (6, 0)
    a = [0.5 + 0.02 * k for k in range(6)]
    b = [0.3 + 0.01 * k for k in range(6)]
    assert point["p_recall"] == pytest.approx(wilcoxon(a, b).pvalue)
    assert summary["early_stopping"]["p_recall"] == 1.0  # a copy of today: nothing differs


def test_wilcoxon_p_drops_pairs_with_a_missing_value():
    a, b = [0.1, 0.5, np.nan, 0.7, 0.9, 0.4], [0.2, 0.3, 0.5, 0.2, 0.1, 0.0]
    assert pr.wilcoxon_p(a, b) == pytest.approx(wilcoxon([0.1, 0.5, 0.7, 0.9, 0.4], [0.2, 0.3, 0.2, 0.1, 0.0]).pvalue)
    assert pr.wilcoxon_p([np.nan], [0.3]) == 1.0


def test_confidence_rule_of_the_brief():
    assert pr._confidence("by_positives", pr.POSITIVES_RULE - 1) is None
    assert pr._confidence("by_positives", pr.POSITIVES_RULE) == "auto"
    assert pr._confidence(0.95, 3) == 0.95


def _runs(values):
    """values[candidate] = per-unit objectives; units (seed k, fold 0)."""
    return [{"strategy": s, "seed": k, "fold": 0, "objective": v} for s, vs in values.items() for k, v in enumerate(vs)]


def test_frozen_old_verdict_lets_the_order_overrule_a_large_lead_over_two_units():
    # The README case of issue 18: a 0.27 lead over two units, p = 0.076: the old rule recommended the order's
    # first candidate, the new one the best mean.
    from imbalance.experiment.verdict import BINARY_F1_ORDER, verdict

    runs = _runs({"weighted_bce": [0.78, 0.69], "weighted_bce@0.5": [0.45, 0.48]})
    names = ["weighted_bce", "weighted_bce@0.5"]
    costs = pr._costs(names)
    assert pr._old_verdict(runs, names, costs, BINARY_F1_ORDER) == "weighted_bce@0.5"
    assert verdict(runs, names, True, costs, preference=BINARY_F1_ORDER).recommended == "weighted_bce"


def test_frozen_old_verdict_names_a_clear_winner_and_breaks_ties_by_cost():
    clear = _runs({"baseline": [0.50, 0.51, 0.52, 0.53, 0.54], "focal": [0.70, 0.71, 0.70, 0.71, 0.70]})
    assert pr._old_verdict(clear, ["baseline", "focal"], {"baseline": 0, "focal": 2}) == "focal"
    tie = _runs({"baseline": [0.60, 0.61, 0.62, 0.60, 0.61, 0.62], "focal": [0.61, 0.62, 0.60, 0.61, 0.62, 0.60]})
    assert pr._old_verdict(tie, ["baseline", "focal"], {"baseline": 0, "focal": 2}) == "baseline"


def _quality_records(f1):
    """Quality-benchmark records: f1[method] = (f1_tuned per fold, f1_05 per fold), 10 folds, one dataset."""
    out = []
    for method, (tuned, at05) in f1.items():
        for fold in range(10):
            out.append({"dataset": "d", "fold": fold, "method": method, "f1_tuned": tuned[fold],
                        "f1_05": at05[fold], "recall_p80": tuned[fold] / 2, "p80_precision": 0.8,
                        "p80_held": True})
    return out


def test_cross_fitted_verdict_comparison_scores_the_choice_on_the_other_repeats():
    rng = np.random.default_rng(0)
    good = list(0.7 + 0.01 * rng.standard_normal(10))
    bad = list(0.4 + 0.01 * rng.standard_normal(10))
    records = _quality_records({"baseline": (good, bad), "oversample": (bad, bad)})
    result = pr.verdict_comparison(records)
    row = result["f1"]["rows"][0]
    assert row["old_all"] == row["new_all"] == "baseline"  # a clear winner on 10 units
    # deciding on one repeat (2 units) and scoring on the other 8 folds: the pick is scored out of sample
    assert row["new_k1_picks"] == ["baseline"] * 5
    expected = np.mean([np.mean([good[f] for f in range(10) if f // 2 != k]) for k in range(5)])
    assert row["new_k1_score"] == pytest.approx(expected)
    assert set(result) == {"f1", pr.OBJECTIVE}
    assert result["f1"]["summary"]["k1"]["p"] == 1.0  # one dataset, the same choice
