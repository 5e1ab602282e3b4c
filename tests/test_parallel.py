"""compare(workers=N) and compare(ray=...): the same runs as one process, in any order of completion; a worker that
dies is replaced and its run redone once; a run that raises is recorded as failed and the comparison goes on."""

import functools
import json

import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import RUNS_FILE, compare, register
from imbalance.experiment import execution
from imbalance.experiment.strategies import STRATEGIES

import parallel_tools


@pytest.fixture(scope="module")
def data():
    x, y = make_classification(n_samples=900, n_features=8, n_informative=5, weights=[0.85], random_state=4)
    return x.astype(np.float32), y


# What these tests compare across engines is the runs; the served model is refitted in the driver after them, the
# same whatever ran them (tests/test_refit.py), so it is left out here (serve="first_unit").
FAST = dict(epochs=2, seeds=2, progress=False, min_positives=5, serve="first_unit")
STRATEGIES_UNDER_TEST = ["baseline", "class_weight", "oversample"]


def _numbers(runs):
    """Every field of every run but the wall time and the retry count, keyed by (strategy, seed, fold)."""
    return {(r["strategy"], r["seed"], r["fold"]): {k: v for k, v in r.items() if k not in ("seconds", "attempts")}
            for r in runs}


def _lines(path):
    return [json.loads(line) for line in (path / RUNS_FILE).read_text().splitlines()]


@pytest.fixture(scope="module")
def serial(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return compare(data, strategies=STRATEGIES_UNDER_TEST, workers=1, out_dir=out, **FAST), out


def test_two_workers_give_the_runs_of_one_process(data, serial, tmp_path):
    one, one_dir = serial
    two = compare(data, strategies=STRATEGIES_UNDER_TEST, workers=2, out_dir=tmp_path, **FAST)
    assert _numbers(two.runs) == _numbers(one.runs)  # bit-identical: every metric, threshold and curve
    assert [r.strategy for r in two.runs] == [r.strategy for r in one.runs]  # the same order, whoever finished first
    assert _numbers(_lines(tmp_path)) == _numbers(_lines(one_dir))
    assert two.verdict.recommended == one.verdict.recommended
    # the driver wrote the served models the workers trained; they decide like the in-process ones
    import keras

    x = data[0][:64]
    for strategy in STRATEGIES_UNDER_TEST:
        a = keras.models.load_model(one_dir / "models" / f"{strategy}.keras")(x)
        b = keras.models.load_model(tmp_path / "models" / f"{strategy}.keras")(x)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a["decisions"]),
                                      keras.ops.convert_to_numpy(b["decisions"]))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a["scores"]), keras.ops.convert_to_numpy(b["scores"]),
                                   atol=1e-6)
    assert (tmp_path / "thresholds" / "baseline.json").read_text() == (one_dir / "thresholds" / "baseline.json"
                                                                       ).read_text()


@pytest.mark.slow  # ~20 s on 2 cores: worker processes start and stop (make test-slow)
def test_a_killed_worker_is_replaced_and_its_run_redone_once(data, tmp_path):
    model = functools.partial(parallel_tools.mlp_killed_once, marker=tmp_path / "killed")
    kw = dict(FAST, strategies=["baseline", "class_weight"], model=model)
    hit = compare(data, workers=2, out_dir=tmp_path / "out", **kw)
    assert (tmp_path / "killed").exists()  # a worker did die under a run
    lines = _lines(tmp_path / "out")
    keys = [(r["strategy"], r["seed"], r["fold"]) for r in lines]
    assert len(keys) == len(set(keys)) == 4  # every run once: none lost, none duplicated
    assert not hit.failed and all("error" not in r for r in lines)
    assert sorted(r.get("attempts", 1) for r in lines)[-1] == 2  # the run under the dead worker was redone once
    # ... and redone exactly as it would have run without the kill (the marker exists now: nothing dies)
    clean = compare(data, workers=1, **kw)
    assert _numbers(hit.runs) == _numbers(clean.runs)


def test_a_run_that_raises_is_recorded_and_the_comparison_goes_on(data, tmp_path):
    register("explodes_on_seed_1", parallel_tools.exploding_plan, tasks=("binary",), cost=0, replace=True)
    try:
        for workers in (1, 2):
            out = tmp_path / f"w{workers}"
            res = compare(data, strategies=["baseline", "explodes_on_seed_1"], workers=workers, out_dir=out, **FAST)
            assert [(r.strategy, r.seed) for r in res.failed] == [("explodes_on_seed_1", 1)]
            assert res.failed[0].error == "ValueError: boom: this strategy cannot train on seed 1"
            assert "exploding_plan" in res.failed[0].extra["traceback"]
            assert [r.strategy for r in res.runs].count("explodes_on_seed_1") == 1  # seed 0 trained
            # a strategy that failed a unit is not compared on the units it has: the verdict says it is left out
            assert set(res.table["strategy"]) == {"baseline", "baseline@0.5"}
            assert res.verdict.recommended.startswith("baseline")
            assert "explodes_on_seed_1" in res.verdict.reason and "failed" in res.verdict.reason
            res.save()
            report = (out / "report.html").read_text()
            assert "boom: this strategy cannot train on seed 1" in report
            stored = _lines(out)
            assert [r["error"] for r in stored if "error" in r] == [res.failed[0].error]
            # a re-run retries only the failed run
            again = []
            compare(data, strategies=["baseline", "explodes_on_seed_1"], workers=workers, out_dir=out,
                    on_run=again.append, **FAST)
            assert [(r.strategy, r.seed, r.error is not None) for r in again] == [("explodes_on_seed_1", 1, True)]
    finally:
        STRATEGIES.pop("explodes_on_seed_1", None)


def test_worker_count_defaults(monkeypatch):
    monkeypatch.delenv("IMBALANCE_WORKERS", raising=False)
    monkeypatch.setattr(execution, "usable_cores", lambda: 8)
    monkeypatch.setattr(execution, "_available_memory", lambda: 64 << 30)
    assert execution.resolve_workers("auto", runs=100) == 8  # one per usable core
    assert execution.resolve_workers(None, runs=3) == 3  # never more than the runs to do
    assert execution.resolve_workers("auto", runs=100, gpus=2) == 2  # one per GPU when GPUs are visible
    monkeypatch.setattr(execution, "_available_memory", lambda: 3 << 30)
    assert execution.resolve_workers("auto", runs=100) == 3  # 1 GiB each
    assert execution.resolve_workers("auto", runs=100, data_bytes=2 << 30) == 1  # ... plus the features
    assert execution.resolve_workers(6, runs=100) == 6  # an explicit count is the user's call
    monkeypatch.setenv("IMBALANCE_WORKERS", "2")
    assert execution.resolve_workers("auto", runs=100) == 2
    monkeypatch.setenv("IMBALANCE_WORKERS", "many")
    with pytest.raises(ValueError, match="IMBALANCE_WORKERS='many'"):
        execution.resolve_workers("auto", runs=100)
    for bad in (0, -1, 1.5, "2x", True):
        with pytest.raises(ValueError, match="`workers` must be a positive integer or 'auto'"):
            execution.resolve_workers(bad, runs=10)


def test_gpus_are_shared_out_one_per_worker(tmp_path):
    assert [execution._claim_slot(tmp_path) for _ in range(3)] == [0, 1, 2]  # each worker its own slot


def test_without_ray_a_ray_comparison_says_what_to_install_and_writes_nothing(data, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # `import ray` fails, as where it is not installed
    with pytest.raises(ImportError, match=r"compare\(ray=\.\.\.\) needs Ray: pip install 'imbalance\[ray\]'"):
        compare(data, strategies=["baseline"], ray="local", workers=2, out_dir=tmp_path / "out", **FAST)
    assert not list((tmp_path / "out").glob("*.keras")) and not list((tmp_path / "out").rglob("*.npz"))


@pytest.mark.ray  # a local Ray cluster starts: ~40 s on 2 cores (make test-ray)
def test_on_ray_the_runs_are_those_of_one_process(data, serial, tmp_path):
    pytest.importorskip("ray")
    one, _ = serial
    res = compare(data, strategies=STRATEGIES_UNDER_TEST, ray="local", workers=2, out_dir=tmp_path, **FAST)
    assert _numbers(res.runs) == _numbers(one.runs)
    assert _numbers(_lines(tmp_path)) == _numbers(_lines(serial[1]))
    assert (tmp_path / "models" / "oversample.keras").stat().st_size > 0


@pytest.mark.ray  # a local Ray cluster starts: ~35 s on 2 cores (make test-ray)
def test_on_ray_a_streamed_table_gives_the_runs_of_one_process(tmp_path):
    """A feature source travels to Ray workers (pickled with its labels, read there per batch): the same runs."""
    pytest.importorskip("ray")
    import pandas as pd

    from imbalance.data.table_source import table_source

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=500), "kind": rng.choice(["x", "y"], size=500),
                          "label": (rng.random(500) < 0.2).astype(int)})
    frame["a"] += 1.5 * frame["label"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    kwargs = dict(strategies=["baseline", "oversample"], epochs=2, seeds=1, folds=None, progress=False,
                  min_positives=5, serve="first_unit")
    serial = compare(table_source(tmp_path / "t.csv", "label"), workers=1, **kwargs)
    on_ray = compare(table_source(tmp_path / "t.csv", "label"), ray="local", workers=2, **kwargs)
    assert serial.runs and not serial.failed and not on_ray.failed
    assert _numbers([r.to_dict() for r in on_ray.runs]) == _numbers([r.to_dict() for r in serial.runs])


def _children(pid):
    """The direct children of process ``pid`` (Linux /proc)."""
    from pathlib import Path

    kids = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids |= {int(k) for k in (task / "children").read_text().split()}
    return kids


def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = open(f"/proc/{pid}/status").read()
    return "State:\tZ" not in status  # a zombie has exited


@pytest.mark.slow  # ~40 s on 2 cores: worker processes start and stop (make test-slow)
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/task"), reason="reads /proc (Linux)")
def test_ctrl_c_stops_the_workers_and_loses_no_finished_run(data, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    np.savez(tmp_path / "data.npz", x=data[0], y=data[1])
    out = tmp_path / "out"
    script = (
        "import numpy as np; from imbalance.experiment import compare\n"
        f"d = np.load({str(tmp_path / 'data.npz')!r})\n"
        f"compare((d['x'], d['y']), strategies=['baseline', 'class_weight', 'oversample'], epochs=10, seeds=2, "
        f"min_positives=5, progress=False, workers=2, out_dir={str(out)!r})\n"
    )
    env = {**os.environ, "IMBALANCE_WORKERS": ""}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not ((out / RUNS_FILE).exists() and _lines(out)):
            time.sleep(0.2)
        assert (out / RUNS_FILE).exists(), "no run finished in time"
        workers = _children(proc.pid)
        assert workers  # the pool is running
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    time.sleep(1)
    assert not [p for p in workers if _alive(p)]  # no worker left running
    finished = _lines(out)
    assert finished and len({(r["strategy"], r["seed"], r["fold"]) for r in finished}) == len(finished)
    # re-running resumes: only the runs that had not finished train
    redone = []
    resumed = compare(data, strategies=["baseline", "class_weight", "oversample"], epochs=10, seeds=2,
                      min_positives=5, progress=False, workers=1, out_dir=out, on_run=redone.append)
    assert len(redone) == len(resumed.runs) - len(finished) > 0


@pytest.mark.slow  # ~20 s on 2 cores: worker processes start and stop (make test-slow)
def test_the_cli_says_how_many_workers_it_uses_and_refuses_a_bad_count(data, tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from imbalance.cli import app

    table = pd.DataFrame(data[0], columns=[f"f{i}" for i in range(data[0].shape[1])]).assign(label=data[1])
    table.to_csv(tmp_path / "t.csv", index=False)
    args = ["compare", str(tmp_path / "t.csv"), "--target", "label", "--epochs", "1", "--seeds", "2",
            "--strategies", "baseline,class_weight"]
    done = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "--workers", "2"])
    assert done.exit_code == 0, done.output
    assert "4 runs on 2 worker processes" in done.output
    assert len(_lines(tmp_path / "out")) == 4 and (tmp_path / "out" / "best.keras").exists()
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad"), "--workers", "0"])
    assert bad.exit_code == 2 and "`workers` must be a positive integer or 'auto'. Received: workers=0" in bad.output
    assert not (tmp_path / "bad").exists()  # refused before anything ran or was written
