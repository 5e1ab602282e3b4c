"""runs.jsonl under faults: two comparisons writing one folder at once keep both sets of runs, a garbage line is set
aside instead of blocking the resume, and nothing is ever half-written."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import RUNS_FILE, RunRecord, RunStore, compare

FAST = dict(epochs=1, seeds=2, progress=False, min_positives=5, workers=1)


@pytest.fixture(scope="module")
def data():
    x, y = make_classification(n_samples=400, n_features=6, n_informative=4, weights=[0.8], random_state=5)
    return x.astype(np.float32), y


def _lines(folder):
    return [json.loads(line) for line in (folder / RUNS_FILE).read_text().splitlines()]


@pytest.mark.slow  # ~16 s on 2 cores: two comparisons in two processes (make test-slow)
def test_two_comparisons_writing_one_folder_at_once_keep_every_run(data, tmp_path):
    np.savez(tmp_path / "data.npz", x=data[0], y=data[1])
    out = tmp_path / "shared"
    script = (
        "import sys, numpy as np; from imbalance.experiment import compare\n"
        f"d = np.load({str(tmp_path / 'data.npz')!r})\n"
        "r = compare((d['x'], d['y']), strategies=sys.argv[1].split(','), epochs=2, seeds=2, min_positives=5, "
        f"progress=False, workers=1, out_dir={str(out)!r})\n"
        f"r.save({str(out)!r})\n"
    )
    # overlapping strategy lists: class_weight is trained by both, the others by one each
    procs = [subprocess.Popen([sys.executable, "-c", script, names], stderr=subprocess.PIPE)
             for names in ("baseline,class_weight", "class_weight,oversample")]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    keys = [(r["strategy"], r["seed"], r["fold"]) for r in _lines(out)]
    assert len(keys) == len(set(keys))  # a run both processes finished is kept once
    assert sorted({k[0] for k in keys}) == ["baseline", "class_weight", "oversample"]
    units = {k[1:] for k in keys}
    assert len(keys) == 3 * len(units)  # nothing lost: every strategy on every unit
    import keras

    for strategy in ("baseline", "class_weight", "oversample"):  # every model file whole
        keras.models.load_model(out / "models" / f"{strategy}.keras")
    keras.models.load_model(out / "best.keras")
    # a third run of the union finds everything done
    trained = []
    compare(data, strategies=["baseline", "class_weight", "oversample"], epochs=2, seeds=2, min_positives=5,
            progress=False, workers=1, out_dir=out, on_run=trained.append)
    assert trained == []


def test_a_garbage_line_is_set_aside_and_the_resume_goes_on(data, tmp_path):
    first = compare(data, strategies=["baseline"], out_dir=tmp_path, **FAST)
    lines = (tmp_path / RUNS_FILE).read_text().splitlines()
    assert len(lines) == 2
    (tmp_path / RUNS_FILE).write_text(lines[0] + "\n" + "#%& not json\n" + '{"no": "run"}\n' + lines[1] + "\n")
    trained = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = compare(data, strategies=["baseline"], out_dir=tmp_path, on_run=trained.append, **FAST)
    messages = [str(w.message) for w in caught if "not a JSON record" in str(w.message)]
    assert len(messages) == 2 and "runs.jsonl, line 2" in messages[0] and "runs.jsonl, line 3" in messages[1]
    assert "needs 'strategy'" in messages[1] and "runs.rejected.jsonl" in messages[0]
    assert trained == []  # both finished runs were still found: nothing retrained
    assert [r.objective for r in again.runs] == [r.objective for r in first.runs]
    assert (tmp_path / "runs.rejected.jsonl").read_text() == '#%& not json\n{"no": "run"}\n'
    assert len(_lines(tmp_path)) == 2  # the store itself is clean again


def test_merge_keeps_the_other_writers_runs_and_prefers_a_finished_run(tmp_path):
    store = RunStore(tmp_path / RUNS_FILE)
    store.write([RunRecord("a", 0, 0, config_id="c", objective=0.5),
                 RunRecord("b", 0, 0, config_id="c", objective=0.7)])  # what another writer put there
    store.merge([RunRecord("b", 0, 0, config_id="c", error="ValueError: boom"),
                 RunRecord("c", 0, 0, config_id="c", objective=0.9)])
    got = {(r.strategy, r.error, r.objective) for r in store.read()}
    assert got == {("a", None, 0.5), ("b", None, 0.7), ("c", None, 0.9)}
    store.merge([RunRecord("a", 0, 0, config_id="other", objective=0.1)])  # another config: a different run
    assert len(store.read()) == 4


def test_a_half_written_model_is_trained_again_on_resume_never_served(data, tmp_path):
    first = compare(data, strategies=["baseline", "class_weight"], out_dir=tmp_path, **FAST)
    model = tmp_path / "models" / "class_weight.keras"
    whole = model.read_bytes()
    model.write_bytes(whole[: len(whole) // 3])  # what a save killed mid-way leaves
    trained = []
    with pytest.warns(UserWarning, match=r"class_weight.keras is missing or not a whole model file"):
        again = compare(data, strategies=["baseline", "class_weight"], out_dir=tmp_path, on_run=trained.append,
                        **FAST)
    assert [(r.strategy, r.seed, r.fold) for r in trained] == [("class_weight", 0, 0)]  # only the run that serves
    assert [r.objective for r in again.runs] == [r.objective for r in first.runs]
    import keras

    keras.models.load_model(model)  # whole again
    keys = [(r["strategy"], r["seed"], r["fold"]) for r in _lines(tmp_path)]
    assert len(keys) == len(set(keys)) == 4
