"""The served model under faults: it runs without the package, a corrupt model file is never served, and a save
killed mid-write leaves the old file (or none), never a half-written one.

Each test can fail: (a) checks the export in a process where ``import imbalance`` fails, against the in-process
served model; (b) truncates ``models/<strategy>.keras`` as a killed save does; (c) SIGKILLs a process while its
saves have written half of their files.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import compare
from imbalance.experiment.serving import (EXPORT_DIR, INPUT_NAME, SIGNATURE, ModelFileError, export_saved_model,
                                          export_unavailable, model_file_ok, save_model_atomically)

# serve="first_unit": these tests are about the files of the first unit's model, which save checks and copies to
# best.keras (a refitted model is written from memory; tests/test_refit.py checks its files and export)
TINY = dict(strategies=["baseline"], objective="f1", epochs=1, seeds=1, progress=False, min_positives=5,
            serve="first_unit")
NO_EXPORT = export_unavailable()
needs_export = pytest.mark.skipif(NO_EXPORT is not None, reason=str(NO_EXPORT))


def _binary():
    x, y = make_classification(n_samples=400, n_features=6, n_informative=4, weights=[0.85], random_state=5)
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory):
    """A finished comparison with its out_dir (the model of the first unit still in memory)."""
    out = tmp_path_factory.mktemp("binary")
    keras.utils.set_random_seed(1234)
    return compare(_binary(), out_dir=out, **TINY), out


def _run(script: str, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            **popen)


# --- (a) the export serves without the package ---------------------------------------------------------------

WITHOUT_IMBALANCE = """
    import importlib.abc, sys

    class NoImbalance(importlib.abc.MetaPathFinder):  # as if the package were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "imbalance" or name.startswith("imbalance."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoImbalance())
    try:
        import imbalance  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("the blocker let imbalance in")
    import numpy as np
    import tensorflow as tf

    rows_file, *folders = sys.stdin.readline().split("\t")  # imported while the parent trains and exports
    rows = np.load(rows_file.strip())
    for folder in (f.strip() for f in folders):
        loaded = tf.saved_model.load(folder)
        outputs = loaded.signatures["__SIGNATURE__"](__INPUT__=tf.constant(rows))
        served = loaded.serve(rows)  # the same function as a method
        assert sorted(outputs) == sorted(served), (sorted(outputs), sorted(served))
        np.savez(f"{folder}.outputs.npz", **{n: t.numpy() for n, t in outputs.items()},
                 **{"serve_" + n: t.numpy() for n, t in served.items()})
    leaked = sorted(m for m in sys.modules if m == "imbalance" or m.startswith("imbalance."))
    assert not leaked, leaked
    print("loaded", len(folders))
""".replace("__SIGNATURE__", SIGNATURE).replace("__INPUT__", INPUT_NAME)


@needs_export
def test_the_export_serves_scores_and_decisions_where_imbalance_cannot_be_imported(binary_run, tmp_path,
                                                                                     monkeypatch):
    child = _run(WITHOUT_IMBALANCE, stdin=subprocess.PIPE)  # starts importing TensorFlow now
    results, out = binary_run
    results.save(out)
    exports = [(out / EXPORT_DIR, out / "best.keras")]  # binary, the tuned ThresholdLayer
    x, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, weights=[0.15, 0.45, 0.4], random_state=2)
    multi = compare((x.astype(np.float32), y), **{**TINY, "class_id": 0}, out_dir=tmp_path / "multi")
    for candidate in ("baseline", "baseline@argmax"):  # the multi-class ThresholdLayer, then ArgmaxLayer
        monkeypatch.setattr(type(multi), "best", property(lambda self, c=candidate: c))
        target = multi.save(tmp_path / candidate.replace("@", "_"))
        exports.append((target / EXPORT_DIR, target / "best.keras"))
    monkeypatch.undo()
    assert multi.export_note is None and multi.export_path == target / EXPORT_DIR

    rows = np.random.default_rng(0).normal(size=(256, 6)).astype(np.float32)  # new rows, none at a threshold
    np.save(tmp_path / "rows.npy", rows)
    request = "\t".join([str(tmp_path / "rows.npy"), *[str(folder) for folder, _ in exports]]) + "\n"
    stdout, stderr = child.communicate(request, timeout=120)
    assert child.returncode == 0, stderr[-3000:]
    for folder, keras_file in exports:
        expected = keras.models.load_model(keras_file).predict(rows, verbose=0)  # the in-process served model
        got = np.load(f"{folder}.outputs.npz")
        assert sorted(n for n in got.files if not n.startswith("serve_")) == ["decisions", "scores"]
        np.testing.assert_allclose(got["scores"], np.asarray(expected["scores"]), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(got["decisions"], np.asarray(expected["decisions"]))
        np.testing.assert_array_equal(got["serve_decisions"], got["decisions"])
        assert len(np.unique(got["decisions"])) > 1, folder  # the decisions are not a constant
    assert np.asarray(got["decisions"]).ndim == 1  # multi-class: one class id per row


# --- (b) a corrupt model file is never served ------------------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # what a save killed half-way leaves


def test_model_file_ok_tells_a_complete_keras_file_from_what_a_killed_save_leaves(binary_run, tmp_path):
    _, out = binary_run
    good = out / "models" / "baseline.keras"
    assert model_file_ok(good)
    half = tmp_path / "half.keras"
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    flipped = tmp_path / "flipped.keras"  # a complete zip whose weights changed on disk: the CRC check catches it
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("model.weights.h5")
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data = bytearray(good.read_bytes())
    data[offset] ^= 0xFF
    flipped.write_bytes(bytes(data))
    not_keras = tmp_path / "other.keras"
    with zipfile.ZipFile(not_keras, "w") as archive:
        archive.writestr("readme.txt", "a zip, not a model")
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    for path in (half, flipped, not_keras, empty, tmp_path / "missing.keras"):
        assert not model_file_ok(path), path


def test_a_truncated_model_is_never_copied_to_best_keras(binary_run, tmp_path):
    results, _ = binary_run
    out = tmp_path / "out"
    # In memory (the run that trained it): save rewrites the file from the model, atomically, and serves it.
    assert results.models
    out.mkdir()
    (out / "models").mkdir()
    (out / "models" / "baseline.keras").write_bytes(b"PK\x03\x04 half a file")
    results.save(out, export=False)
    assert model_file_ok(out / "models" / "baseline.keras")
    keras.models.load_model(out / "best.keras")
    before = (out / "best.keras").read_bytes()

    # Resumed (every run on disk, no model in memory): the file on disk is all there is, and it is truncated.
    resumed = compare(_binary(), out_dir=out, **TINY)
    assert not resumed.models
    model = out / "models" / "baseline.keras"
    _truncate(model)
    with pytest.raises(ModelFileError) as caught:
        resumed.save(out)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)  # the CLI turns it into one line and exit code 2
    assert "\n" not in message and str(model) in message and "re-run" in message and "retrains" in message
    assert (out / "best.keras").read_bytes() == before  # the old served model stays; nothing was copied
    assert not (out / EXPORT_DIR).exists()
    # Missing altogether: the same one line.
    model.unlink()
    with pytest.raises(ModelFileError, match="missing"):
        resumed.save(out)
    assert (out / "best.keras").read_bytes() == before


# --- (c) SIGKILL during a save ---------------------------------------------------------------------------------

KILLED_MID_SAVE = """
    import sys, threading, time
    from pathlib import Path

    import keras
    import numpy as np
    from imbalance.experiment.serving import export_saved_model, save_model_atomically

    over_old, into_none, export = (Path(p) for p in sys.argv[1:4])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer="ones")])
    halves = threading.Semaphore(0)

    def cut_short(path):  # the first half of each file is on disk when the kill comes
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        halves.release()
        time.sleep(300)

    real_save = keras.Model.save
    keras.Model.save = lambda self, path, *a, **k: (real_save(self, path, *a, **k), cut_short(Path(path)))
    jobs = [lambda: save_model_atomically(model, over_old), lambda: save_model_atomically(model, into_none)]
    if sys.argv[4] == "export":
        from imbalance.experiment import serving

        # the step after Keras wrote the folder: its graph is cut short there, the kill comes before the rename
        serving.fsync_tree = lambda folder: cut_short(Path(folder) / "saved_model.pb")
        jobs.append(lambda: export_saved_model(model, export))
    for job in jobs:  # one at a time: each waits, half-written, for the kill
        threading.Thread(target=job, daemon=True).start()
        halves.acquire()
    print("half-written", flush=True)
    time.sleep(300)
"""


def _dense(value: float) -> keras.Model:
    kernel = keras.initializers.Constant(value)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, kernel_initializer=kernel)])


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_save_killed_mid_write_leaves_the_old_file_or_none_and_no_temporary_that_stays(tmp_path):
    old = _dense(0.0)
    over_old, into_none, export = tmp_path / "old.keras", tmp_path / "new.keras", tmp_path / "exported"
    save_model_atomically(old, over_old)
    rows = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    if NO_EXPORT is None:
        export_saved_model(old, export)
    child = _run(KILLED_MID_SAVE, str(over_old), str(into_none), str(export),
                 "export" if NO_EXPORT is None else "no-export")
    watchdog = threading.Timer(120, child.kill)  # a child that never gets half-way does not hang the suite
    watchdog.start()
    try:
        line = child.stdout.readline()
        assert line.strip() == "half-written", child.stderr.read()[-3000:] if child.poll() is not None else line
        stray = _temporaries(tmp_path)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    # Each kill came mid-write: the half-written temporaries lie beside their targets ...
    assert any(n.startswith(".old.keras.") for n in stray) and any(n.startswith(".new.keras.") for n in stray)
    assert not any(model_file_ok(tmp_path / n) for n in stray if n.endswith(".keras"))
    # ... and the targets are the old file, or none.
    assert model_file_ok(over_old) and not into_none.exists()
    np.testing.assert_array_equal(keras.models.load_model(over_old)(rows), old(rows))
    if NO_EXPORT is None:
        import tensorflow as tf

        assert any(n.startswith(".exported.") for n in stray)
        loaded = tf.saved_model.load(str(export))  # (kept in a name: TF frees a dropped object's variables)
        np.testing.assert_allclose(loaded.serve(rows), old(rows), atol=1e-6)

    # The next saves find the dead process's temporaries, remove them and write as usual.
    new = _dense(1.0)
    save_model_atomically(new, over_old)
    save_model_atomically(new, into_none)
    if NO_EXPORT is None:
        export_saved_model(new, export)
        loaded = tf.saved_model.load(str(export))
        np.testing.assert_allclose(loaded.serve(rows), new(rows), atol=1e-6)
    assert _temporaries(tmp_path) == []
    np.testing.assert_array_equal(keras.models.load_model(into_none)(rows), new(rows))


@needs_export
def test_an_export_replaces_the_old_one_in_place(tmp_path):
    """Saving twice leaves one export folder (no temporaries, no old copy) that serves the newer model."""
    import tensorflow as tf

    rows = np.ones((2, 4), np.float32)
    for value in (0.0, 2.0):
        export_saved_model(_dense(value), tmp_path / "exported")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]
    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    np.testing.assert_allclose(loaded.serve(rows), np.full((2, 3), 8.0))
