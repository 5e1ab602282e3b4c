"""The types compare passes around: Candidate, RunRecord / RunStore, Protocol and ComparisonConfig."""

import json
import pickle

import numpy as np
import pytest

from imbalance.experiment import (
    Candidate,
    ComparisonConfig,
    Protocol,
    RunRecord,
    RunStore,
    compare,
    prepare_data,
    split_candidate,
)


def test_a_candidate_is_its_display_string_and_its_typed_parts():
    c = Candidate("oversample", "0.5")
    assert c == "oversample@0.5" and str(c) == "oversample@0.5" and hash(c) == hash("oversample@0.5")
    assert (c.strategy, c.rule, c.tuned) == ("oversample", "0.5", False)
    assert Candidate.parse("oversample@0.5") == c and Candidate.parse(c) is c
    assert Candidate("smote", 0.5) == "smote@0.5"  # a number is spelled like the CLI
    tuned = Candidate("baseline")
    assert (tuned.rule, tuned.tuned, tuned.decision()) == (None, True, None)
    assert split_candidate(c) == ("oversample", "0.5")
    assert pickle.loads(pickle.dumps(c)) == c and pickle.loads(pickle.dumps(c)).rule == "0.5"
    assert json.dumps({"best": c}) == '{"best": "oversample@0.5"}'
    # the parts are plain strings (a tuned candidate's strategy once was the Candidate itself: its repr recursed)
    assert type(tuned.strategy) is str and repr(tuned) == "Candidate('baseline', None)"
    assert f"{tuned.strategy!r}" == "'baseline'"


@pytest.mark.parametrize("strategy, rule", [("a@b", None), ("", None), ("baseline", "median"), ("baseline", 0.7),
                                            ("baseline", True)])
def test_a_bad_candidate_is_refused_quoting_the_value(strategy, rule):
    with pytest.raises(ValueError, match="Received"):
        Candidate(strategy, rule)


def test_a_run_record_keeps_its_json_form_and_unknown_keys():
    stored = {"strategy": "baseline", "seed": 1, "fold": 2, "objective": 0.5, "seen_counts": None,
              "diagnosis": None, "held": 1.0, "from_a_newer_version": [1, 2]}
    r = RunRecord.from_dict(stored)
    assert r.to_dict() == stored
    assert r["held"] == 1.0 and r.objective == 0.5 and r.extra == {"from_a_newer_version": [1, 2]}
    assert "macro_pr_auc" not in r and r.get("macro_pr_auc", "absent") == "absent"
    with pytest.raises(KeyError):
        r["macro_pr_auc"]
    with pytest.raises(ValueError, match="needs 'fold'"):
        RunRecord.from_dict({"strategy": "baseline", "seed": 0})


def test_the_run_store_names_the_file_and_line_of_a_broken_record_and_sets_it_aside(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"strategy": "a", "seed": 0, "fold": 0}\n{"strategy": \n')
    with pytest.warns(UserWarning, match=r"runs.jsonl, line 2: not a JSON record .*moved to .*runs.rejected.jsonl"):
        assert [r.strategy for r in RunStore(path).read()] == ["a"]
    assert (tmp_path / "runs.rejected.jsonl").read_text() == '{"strategy": \n'


def test_protocol_defaults_are_compares_and_bad_values_are_refused():
    p = Protocol()
    assert (p.test_size, p.val_size, p.folds, p.inner_folds, p.min_positives) == (0.25, 0.25, 3, 2, 20)
    for kwargs, message in [({"folds": 1}, "`folds` must be an integer >= 2"),
                            ({"test_size": 1.0}, r"`test_size` must be in \(0, 1\)"),
                            ({"val_size": 0}, r"`val_size` must be in \(0, 1\)"),
                            ({"min_positives": -1}, "`min_positives` must be an integer >= 0")]:
        with pytest.raises(ValueError, match=message):
            Protocol(**kwargs)
    # the inner choice: a validation split when it is expected to hold min_positives rows of the class
    assert p.inner(80) == "validation" and p.inner(79) == "cv"


def test_units_are_paired_stratified_and_cover_every_row_once_per_seed():
    d = prepare_data("digits_lt")
    units = Protocol(folds=3).units(d, class_id=0, seeds=2)
    for seed in (0, 1):
        tests = np.concatenate([u.test for u in units if u.seed == seed])
        assert np.array_equal(np.sort(tests), np.arange(len(d.y)))
        for u in (u for u in units if u.seed == seed):
            share = np.mean(d.y[u.test] == 0)
            assert abs(share - np.mean(d.y == 0)) < 0.02  # stratified on the class ids
    assert [u.train_seed for u in units[:3]] == [0, 1, 2]


def test_a_comparison_passes_its_protocol_and_settings_through(tmp_path):
    x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] + 0.3 * np.random.default_rng(1).normal(size=300) > 1.0).astype(int)
    results = compare((x, y), strategies="baseline", epochs=1, seeds=1, progress=False, out_dir=tmp_path,
                      protocol=Protocol(folds=2, min_positives=1000), val_size=0.3)
    config = results.config
    assert isinstance(config, ComparisonConfig)
    assert config.protocol == Protocol(folds=2, val_size=0.3, min_positives=1000)
    assert {r.outer for r in results.runs} == {"cv"} and len(results.runs) == 2  # 2 folds: too few positives
    assert json.loads((tmp_path / "config.json").read_text()) == config.to_dict()
    assert all(r.config_id == config.config_id for r in RunStore(tmp_path / "runs.jsonl").read())
    # A different protocol is a different comparison: nothing is resumed from the stored runs.
    again = compare((x, y), strategies="baseline", epochs=1, seeds=1, progress=False, out_dir=tmp_path,
                    protocol=Protocol(folds=3, min_positives=1000), val_size=0.3, on_run=lambda r: None)
    assert again.config.config_id != config.config_id and len(again.runs) == 3
