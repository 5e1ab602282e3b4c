"""Nothing lost, nothing silent (issue 20, parts 3, 5 and 6): bad input is refused before any training, in one line
that names the file, the column or the value, and leaves nothing behind in the output folder.

* degenerate problems through ``compare`` on arrays: one class, too few rows of a class that matters (the boundary
  of :meth:`Protocol.minimum_rows` checked against scikit-learn's folds), an impossible ``confidence`` or
  ``min_positives``; ``balanced_dataset`` on one class;
* damaged files through ``load_table``: corrupt and truncated ``.gz`` / ``.bz2`` / ``.xz`` / NPZ, a header naming
  a column twice, an unknown encoding;
* the command line: ``--out`` naming a file or a read-only folder, ``--strategies`` naming nothing, an absurd
  ``--epochs``, logits given to ``tune`` / ``diagnose`` as probabilities.
"""

import bz2
import errno
import gzip
import io
import lzma
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.model_selection import StratifiedKFold
from typer.testing import CliRunner

from imbalance.cli import _user_errors, app
from imbalance.data.io import DataError, load_table
from imbalance.experiment import Protocol, compare
from imbalance.experiment.data import from_arrays

runner = CliRunner()


def _one_line(text):
    """The message of an error, asserted to be one line (rich may wrap a long line: at most 3 screen lines)."""
    text = text.strip()
    assert "Traceback" not in text, text
    assert text.count("\n") <= 2, text
    return " ".join(text.split())


def _binary(positives, rows=300, seed=0):
    rng = np.random.default_rng(seed)
    y = np.zeros(rows, np.int64)
    y[rng.choice(rows, positives, replace=False)] = 1
    return rng.normal(size=(rows, 2)).astype(np.float32) + y[:, None], y


def _refused(data, out, **kwargs):
    """compare raises a one-line ValueError before anything is written: not even the output folder exists."""
    with pytest.raises(ValueError) as caught:
        compare(data, strategies="baseline", epochs=1, seeds=1, progress=False, out_dir=out, **kwargs)
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))
    return _one_line(str(caught.value))


# --- degenerate problems: refused before training ---------------------------------------------------------------


def test_one_positive_in_300_rows_is_refused_naming_the_count_and_the_need(tmp_path):
    message = _refused(_binary(1), tmp_path / "out")
    assert message.startswith("class 1 has 1 row; compare needs at least 3 ")
    assert "folds=3" in message and "inner_folds=2" in message and "add rows of class 1" in message


def test_a_single_class_is_refused_on_the_array_path_as_on_the_table_path(tmp_path):
    x, _ = _binary(0)
    message = _refused((x, np.zeros(300, np.int64)), tmp_path / "out")
    assert message == ("`y` holds a single class (class 0 in all 300 rows); a classifier needs rows of at least two "
                       "classes.")
    table = tmp_path / "one.csv"
    pd.DataFrame({"a": x[:, 0], "label": 0}).to_csv(table, index=False)
    with pytest.raises(DataError, match="single class"):
        load_table(table, "label")
    ml = np.zeros((300, 3), np.int64)
    ml[:100, 0], ml[100:200, 1] = 1, 1  # label 2 never positive
    assert _refused((x, ml), tmp_path / "ml").startswith("Label '2' of `y` is 0 in all 300 rows")


@pytest.mark.parametrize("kwargs, value", [
    ({"confidence": 5, "objective": "recall@precision>=0.5"}, "confidence=5"),
    ({"confidence": 0.3, "objective": "recall@precision>=0.5"}, "confidence=0.3"),
    ({"confidence": "high", "objective": "recall@precision>=0.5"}, "confidence='high'"),
    ({"min_positives": -5}, "min_positives=-5"),
], ids=["confidence-5", "confidence-0.3", "confidence-text", "min_positives-negative"])
def test_impossible_settings_are_refused_before_training(kwargs, value, tmp_path):
    message = _refused(_binary(60), tmp_path / "out", **kwargs)
    assert message.endswith(f"Received: {value}")


def test_the_negative_class_and_the_class_that_matters_need_the_minimum_too(tmp_path):
    x, y = _binary(298)  # two negatives
    assert _refused((x, y), tmp_path / "neg").startswith("class 0 has 2 rows; compare needs at least 3 ")
    ids = np.array([0] * 150 + [1] * 148 + [2] * 2)
    rare = _refused((x, ids), tmp_path / "macro")  # macro average: every class matters
    assert rare.startswith("class 2 has 2 rows")
    assert _refused((x, ids), tmp_path / "cid", class_id=2).startswith("class 2 has 2 rows")
    units = Protocol().units(from_arrays("arrays", x, ids), class_id=0, seeds=1)  # class 0 is what matters
    assert [u.outer for u in units] == ["holdout"]
    ml = np.zeros((300, 2), np.int64)
    ml[:100, 0], ml[:2, 1] = 1, 1
    assert _refused((x, ml), tmp_path / "ml").startswith("label '1' has 2 positive rows; compare needs at least 3")


def test_the_minimum_is_what_stratified_folds_need():
    """max(folds, ceil(inner_folds * folds / (folds - 1))) rows: the smallest count for which scikit-learn's folds
    (the ones compare uses) put one row in every test fold and inner_folds in every training part, for any seed."""
    for folds in (2, 3, 4, 5):
        for inner_folds in (2, 3, 4):
            works = []
            for n in range(1, 16):
                y = np.array([1] * n + [0] * 100)
                ok = all(y[test].sum() >= 1 and y[train].sum() >= inner_folds
                         for seed in range(4)
                         for train, test in _folds(folds, seed, y))
                works.append(ok)
            smallest = works.index(True) + 1
            assert all(works[smallest - 1:]), (folds, inner_folds)
            assert Protocol(folds=folds, inner_folds=inner_folds).minimum_rows() == smallest, (folds, inner_folds)


def _folds(folds, seed, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has only 1 member"
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y))


@pytest.mark.parametrize("folds, inner_folds, minimum", [(3, 2, 3), (2, 2, 4), (2, 3, 6), (5, 3, 5)])
def test_one_fewer_than_the_minimum_is_refused_and_the_minimum_is_accepted(folds, inner_folds, minimum):
    protocol = Protocol(folds=folds, inner_folds=inner_folds)
    x, y = _binary(minimum - 1)
    with pytest.raises(ValueError, match=rf"^class 1 has {minimum - 1} rows; compare needs at least {minimum} "):
        protocol.units(from_arrays("arrays", x, y), class_id=None, seeds=2)
    x, y = _binary(minimum)
    units = protocol.units(from_arrays("arrays", x, y), class_id=None, seeds=2)
    assert len(units) == 2 * folds
    for unit in units:
        assert y[unit.test].sum() >= 1 and y[unit.train].sum() >= inner_folds


def test_exactly_the_minimum_runs_every_unit_with_a_tuned_threshold(tmp_path):
    x, y = _binary(3, rows=60)
    results = compare((x, y), strategies="baseline", epochs=1, seeds=1, progress=False, out_dir=tmp_path / "out")
    assert len(results.runs) == 3
    assert all(r.outer == "cv" and r.inner == "cv" and r.threshold_note == "" for r in results.runs)
    assert (tmp_path / "out" / "runs.jsonl").exists()


def test_a_hold_out_unit_that_cannot_place_its_threshold_is_refused():
    """min_positives=1 and test_size=0.9 pick a hold-out split for 3 positives (3 * 0.9 >= 1) that leaves at most one
    for training: the count meets the minimum, the unit does not."""
    x, y = _binary(3)
    with pytest.raises(ValueError, match=r"^seed 0, fold 0 \(hold-out split\) would (train on [01] of the 3 rows|test "
                                         r"on none of the 3 rows) of class 1.*raise min_positives \(now 1\)"):
        Protocol(min_positives=1, test_size=0.9).units(from_arrays("arrays", x, y), class_id=None, seeds=1)


def test_balanced_dataset_refuses_one_class():
    from imbalance.data import balanced_dataset

    with pytest.raises(ValueError, match=r"^`y` holds one class only \(class 0 in all 6 rows\): there is nothing to "
                                         "balance"):
        balanced_dataset(np.zeros((6, 2), np.float32), np.zeros(6, np.int64), batch_size=2)
    with pytest.raises(ValueError, match=r"class 2 in all 5 rows"):
        balanced_dataset(np.zeros((5, 2), np.float32), np.eye(3)[[2] * 5], batch_size=2)
    assert balanced_dataset(np.zeros((6, 2), np.float32), np.array([0, 0, 0, 0, 1, 1]), batch_size=2).steps_per_epoch


# --- files: one line naming the file ---------------------------------------------------------------------------

ROWS = "a,b,label\n" + "".join(f"{i},{i % 7},{int(i % 5 == 0)}\n" for i in range(400))


def _damaged(kind):
    gz, bz, xz = gzip.compress(ROWS.encode()), bz2.compress(ROWS.encode()), lzma.compress(ROWS.encode())
    return {
        "gz-corrupt": (".csv.gz", gz[:10] + bytes(b ^ 0x5A for b in gz[10:60]) + gz[60:], "gzip data is damaged"),
        "gz-not-gzip": (".csv.gz", ROWS.encode(), "gzip data is damaged"),
        "gz-truncated": (".csv.gz", gz[:len(gz) // 2], "gzip data ends early: the file is truncated"),
        "gz-truncated-header": (".csv.gz", gz[:12], "gzip data ends early: the file is truncated"),
        "bz2-corrupt": (".csv.bz2", bz[:10] + bytes(b ^ 0x5A for b in bz[10:60]) + bz[60:], "bz2 data is damaged"),
        "bz2-truncated": (".csv.bz2", bz[:len(bz) // 2], "bz2 data ends early: the file is truncated"),
        "xz-corrupt": (".csv.xz", xz[:20] + bytes(b ^ 0x5A for b in xz[20:60]) + xz[60:], "xz data is damaged"),
        "xz-truncated": (".csv.xz", xz[:len(xz) // 2], "xz data ends early: the file is truncated"),
    }[kind]


@pytest.mark.parametrize("kind", ["gz-corrupt", "gz-not-gzip", "gz-truncated", "gz-truncated-header", "bz2-corrupt",
                                  "bz2-truncated", "xz-corrupt", "xz-truncated"])
def test_a_damaged_compressed_file_is_one_line_naming_it(kind, tmp_path):
    suffix, content, message = _damaged(kind)
    path = tmp_path / f"data{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_table(path, "label")
    text = _one_line(str(caught.value))
    assert text.startswith(f"Cannot read data{suffix}: its {message}"), text


def test_a_damaged_npz_is_one_line_naming_it(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, x=np.arange(200.0).reshape(100, 2), y=np.arange(100) % 2)
    good = buffer.getvalue()
    (tmp_path / "cut.npz").write_bytes(good[:len(good) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    member = good.index(b"\x93NUMPY") + 200  # a byte of x's data: the archive's checksum no longer matches
    (tmp_path / "flip.npz").write_bytes(good[:member] + bytes([good[member] ^ 0xFF]) + good[member + 1:])
    for name, message in (("cut.npz", "not a zip archive"), ("junk.npz", "not a zip archive"), ("flip.npz", "CRC")):
        with pytest.raises(DataError, match=rf"^Cannot read {name} as NPZ: .*{message}"):
            load_table(tmp_path / name)


@pytest.mark.parametrize("header, column, positions", [
    ("a,a,label", "a", (1, 2)), ("a, a ,label", "a", (1, 2)), ("label,b,c,b", "b", (2, 4)),
])
def test_a_header_naming_a_column_twice_is_refused_not_renamed(header, column, positions, tmp_path):
    path = tmp_path / "twice.csv"
    width = header.count(",") + 1
    path.write_text(header + "\n" + "".join(",".join([str(i % 2)] * width) + "\n" for i in range(6)))
    assert pd.read_csv(path).columns.is_unique  # pandas alone renames the second one
    with pytest.raises(DataError, match=rf"^The header of twice.csv names two columns {column!r} \(columns "
                                        rf"{positions[0]} and {positions[1]}\); rename one$"):
        load_table(path, "label")
    gz = tmp_path / "twice.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(DataError, match="names two columns"):
        load_table(gz, "label")


def test_keel_and_parquet_columns_named_twice_are_refused(tmp_path):
    keel = tmp_path / "twice.dat"
    keel.write_text("@relation r\n@attribute a real\n@attribute a real\n@attribute c {0,1}\n@data\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match=r"twice.dat names two columns 'a' \(columns 1 and 2\)"):
        load_table(keel)
    pa = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    parquet.write_table(pa.table([[1.0, 2.0], [3.0, 4.0], [0, 1]], names=["a", "a", "y"]), tmp_path / "twice.parquet")
    with pytest.raises(DataError, match="twice.parquet"):
        load_table(tmp_path / "twice.parquet", "y")


@pytest.mark.parametrize("encoding", ["bogus", "base64", 5])
def test_an_unknown_encoding_is_one_line_naming_it(encoding, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(ROWS)
    with pytest.raises(DataError, match=rf"^Unknown text encoding {encoding!r} for t.csv; pass a codec name"):
        load_table(path, "label", encoding=encoding)
    assert load_table(path, "label", encoding="latin-1").y.sum() == 80


# --- the command line: one line, exit code 2, nothing written ---------------------------------------------------


@pytest.fixture
def table_csv(tmp_path):
    x, y = _binary(40, rows=200)
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": y}).to_csv(path, index=False)
    return path


def _cli_error(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    text = _one_line(result.output)
    assert text.startswith("error: "), text
    return text[len("error: "):]


def test_compare_and_demo_refuse_an_out_that_is_a_file(table_csv, tmp_path):
    taken = tmp_path / "results.txt"
    taken.write_text("keep me")
    for args in (["compare", str(table_csv), "--target", "label"], ["demo"]):
        message = _cli_error(args + ["--out", str(taken), "--epochs", "1", "--no-progress"])
        assert message == f"--out {taken} is a file, not a folder; pass a folder for the results (created when missing)"
    assert _cli_error(["compare", str(table_csv), "--target", "label", "--out", str(taken / "sub")]) == (
        f"--out {taken / 'sub'} cannot be created: {taken} is a file; pass another folder")
    assert taken.read_text() == "keep me"


@pytest.mark.parametrize("value", ["", ",,", " , "])
def test_strategies_naming_nothing_is_an_error_not_all(value, table_csv, tmp_path):
    for args in (["compare", str(table_csv), "--target", "label"], ["demo"]):
        message = _cli_error(args + ["--strategies", value, "--out", str(tmp_path / "o"), "--no-progress"])
        assert message.startswith(f"--strategies {value!r} names nothing")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option, value, bound", [
    ("--epochs", "1000000000", "100,000"), ("--epochs", "0", "100,000"), ("--seeds", "5000", "1,000"),
])
def test_an_absurd_budget_is_refused_with_the_bound(option, value, bound, table_csv, tmp_path):
    for args in (["compare", str(table_csv), "--target", "label"], ["demo"]):
        message = _cli_error(args + [option, value, "--out", str(tmp_path / "o"), "--no-progress"])
        assert message == f"{option} must be from 1 to {bound}. Received: {option} {value}"
    assert not (tmp_path / "o").exists()


def test_compare_on_a_damaged_or_degenerate_table_names_it_and_writes_nothing(tmp_path):
    suffix, content, _ = _damaged("gz-truncated")
    damaged = tmp_path / f"data{suffix}"
    damaged.write_bytes(content)
    message = _cli_error(["compare", str(damaged), "--target", "label", "--out", str(tmp_path / "o1")])
    assert message.startswith("Cannot read data.csv.gz: its gzip data ends early")
    x, y = _binary(1)
    one = tmp_path / "one.csv"
    pd.DataFrame({"a": x[:, 0], "label": y}).to_csv(one, index=False)
    message = _cli_error(["compare", str(one), "--target", "label", "--out", str(tmp_path / "o2"), "--no-progress"])
    assert message.startswith("class 1 has 1 row; compare needs at least 3")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


@pytest.fixture
def logits_csv(tmp_path):
    rng = np.random.default_rng(0)
    logits = 2 * rng.normal(size=400)
    y = (logits + rng.normal(size=400) > 1).astype(int)
    path = tmp_path / "logits.csv"
    pd.DataFrame({"label": y, "score": logits}).to_csv(path, index=False)
    return path, y, logits


@pytest.mark.parametrize("command", ["tune", "diagnose"])
def test_logits_read_as_probabilities_are_refused_with_the_flag_to_pass(command, logits_csv):
    path, _, logits = logits_csv
    row = int(np.argmax((logits < 0) | (logits > 1)))
    message = _cli_error([command, str(path), "--target", "label"])
    assert message == (f"logits.csv, line {row + 2}, column 'score': score {logits[row]:g} is not a probability in "
                       "[0, 1]; pass --from-logits for logits (a last layer without sigmoid / softmax)")


def test_tune_with_from_logits_gives_the_tuners_threshold(logits_csv, tmp_path):
    from imbalance.thresholds import ThresholdTuner

    path, y, logits = logits_csv
    result = runner.invoke(app, ["tune", str(path), "--target", "label", "--from-logits", "--out",
                                 str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    tuner = ThresholdTuner("f1", from_logits=True).fit(y, logits)
    assert f"{float(tuner.thresholds_[0]):.6g}" in result.output  # the probability
    assert f"{float(tuner.score_thresholds_[0]):.6g}" in result.output  # the same on the logits
    diagnosed = runner.invoke(app, ["diagnose", str(path), "--target", "label", "--from-logits"])
    assert diagnosed.exit_code == 0 and "Diagnosis: binary, 400 rows" in diagnosed.output


def test_tune_names_a_damaged_or_twice_named_scores_file(logits_csv, tmp_path):
    path, _, _ = logits_csv
    gz = tmp_path / "scores.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes())[:100])
    assert _cli_error(["tune", str(gz), "--target", "label"]).startswith("Cannot read scores.csv.gz: ")
    twice = tmp_path / "twice.csv"
    twice.write_text("label,score,score\n0,0.1,0.2\n1,0.9,0.8\n")
    assert _cli_error(["tune", str(twice), "--target", "label"]) == ("The header of twice.csv names two columns "
                                                                    "'score'; rename one")


def test_a_write_refused_in_the_out_folder_names_the_folder_not_a_temporary(tmp_path, capsys):
    """What a read-only folder gives: the OS error names the temporary written beside the result."""
    out = tmp_path / "results"

    @_user_errors
    def command():
        raise PermissionError(errno.EACCES, "Permission denied", str(out / ".runs.jsonl.4242.ab12cd34.tmp"))

    with pytest.raises(typer.Exit) as caught:
        command()
    assert caught.value.exit_code == 2
    message = _one_line(capsys.readouterr().err)
    assert message == (f"error: cannot write in {out}: Permission denied (a read-only folder? pass --out with a "
                       "folder you can write)")


def test_a_read_only_out_folder_is_refused_before_anything_runs(table_csv, tmp_path, monkeypatch):
    out = tmp_path / "locked"
    out.mkdir()
    if os.geteuid() != 0:
        out.chmod(0o555)
    else:  # root writes anywhere: answer as the OS answers any other user
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == os.fspath(out)
                            and mode & os.W_OK else real(p, mode, **kw))
    try:
        for target in (out, out / "sub"):
            message = _cli_error(["compare", str(table_csv), "--target", "label", "--out", str(target)])
            assert message == (f"--out {target}: cannot write in {out} (permission denied); pass a folder you can "
                               "write")
    finally:
        out.chmod(0o755)
    assert list(out.iterdir()) == []
