"""TableSource streams a CSV / Parquet table in chunks; checked against load_table (labels, class names) and
Table.preprocessor() fitted by hand on the same sample rows and applied to the whole in-memory table (features)."""

import os
import pickle
import tracemalloc
from collections import Counter

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from imbalance.data.io import DataError, load_table
from imbalance.data.sources import Rows
from imbalance.data.table_source import TableSource, TableTransform, table_source

N = 3000
CHUNK = 100


def _frame(n=N, seed=0, label="text"):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.gamma(2.0, 3.0, size=n).round(3),
        "count": rng.integers(0, 50, size=n).astype(float),
        "shop": rng.choice(["web", "app", "store"], size=n, p=[0.5, 0.3, 0.2]).astype(object),
        "city": rng.choice(["x", "y", "z", "w"], size=n).astype(object),
    })
    frame.loc[rng.random(n) < 0.05, "a"] = np.nan
    frame.loc[rng.random(n) < 0.05, "b"] = np.nan
    frame.loc[rng.random(n) < 0.03, "shop"] = None
    y = rng.random(n) < 0.1
    if label == "text":
        frame["label"] = np.where(y, "fraud", "ok")   # two classes without a known pair: the rarer one is id 1
    elif label == "multiclass":
        frame["label"] = rng.choice([10, 2, 33], size=n, p=[0.6, 0.3, 0.1])  # numeric order: 2, 10, 33
    return frame


def _write(frame, directory, fmt, name="t"):
    path = os.path.join(directory, f"{name}.{fmt}")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=700)
    return path


@pytest.fixture(scope="module", params=["csv", "parquet"])
def table(request, tmp_path_factory):
    path = _write(_frame(), str(tmp_path_factory.mktemp("tables")), request.param)
    return path, table_source(path, "label", chunk_rows=CHUNK, sample_rows=700)


def _reference_sample(rows, size, seed):
    """The documented rule, written out: all rows when few enough, else a seeded choice without replacement."""
    rows = np.asarray(rows)
    if len(rows) > size:
        rows = rows[np.random.default_rng(seed).choice(len(rows), size, replace=False)]
    return np.unique(rows)


def _elements(ds):
    batches = list(ds.batch(512).as_numpy_iterator())  # batched: an element at a time is slow in eager mode
    if not batches:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    return np.concatenate([r for r, _ in batches]), np.concatenate([x for _, x in batches])


def test_labels_and_class_names_equal_load_table(tmp_path):
    for label in ("text", "multiclass"):
        for fmt in ("csv", "parquet"):
            path = _write(_frame(label=label), str(tmp_path), fmt, name=f"{label}")
            src, ref = table_source(path, "label", chunk_rows=CHUNK), load_table(path, "label")
            assert src.class_names == ref.class_names, (label, fmt)
            np.testing.assert_array_equal(src.labels, ref.y)
            assert src.labels.dtype == np.int8 and len(src) == N
            assert src.numeric == ref.numeric_features and src.categorical == ref.categorical_features
    assert ref.class_names == ["2", "10", "33"]


def test_streamed_features_equal_the_in_memory_preprocessor(table):
    path, src = table
    ref_table = load_table(path, "label")
    train = np.flatnonzero(np.random.default_rng(1).random(N) < 0.7)   # more rows than sample_rows: a sample
    transform = src.fit_transform(train, seed=3)
    sample = _reference_sample(train, 700, 3)
    reference = ref_table.preprocessor().fit(ref_table.x.iloc[sample])
    expected = reference.transform(ref_table.x).astype(np.float32)
    assert transform.fitted_rows == len(sample) == 700
    assert transform.width == expected.shape[1] == 3 + 3 + 4 and len(transform.columns) == transform.width
    assert Rows(src, train, transform).shape == (len(train), transform.width)

    draw = np.random.default_rng(2).integers(0, N, size=2500)          # repeats included
    rows, x = _elements(src.rows_dataset(lambda epoch: draw, 1, transform))
    np.testing.assert_allclose(x, expected[rows], rtol=1e-5, atol=1e-6)
    picked = np.array([17, 2999, 0, 17])
    np.testing.assert_allclose(src.read(picked, transform), expected[picked], rtol=1e-5, atol=1e-6)


def test_each_epoch_yields_its_draw_with_repeats_in_a_reproducible_shuffle(table):
    _, src = table
    transform = src.fit_transform(np.arange(N))
    draws = {0: np.random.default_rng(5).integers(0, N, 1800), 1: np.random.default_rng(6).integers(0, 400, 900),
             2: np.random.default_rng(5).integers(0, N, 1800)}
    rows, _ = _elements(src.rows_dataset(lambda epoch: draws[epoch], 3, transform))
    parts = np.split(rows, np.cumsum([len(draws[0]), len(draws[1])]))
    for epoch, part in enumerate(parts):                                 # epochs follow each other, unmixed
        assert Counter(part.tolist()) == Counter(draws[epoch].tolist())
    for part, draw in ((parts[0], draws[0]), (parts[2], draws[2])):
        assert not np.array_equal(part, draw) and not np.array_equal(part, np.sort(draw))
    assert not np.array_equal(parts[0], parts[2])                        # same draw, another epoch: another order
    assert abs(np.corrcoef(np.arange(len(parts[0])), parts[0])[0, 1]) < 0.5  # not a file-order scan
    again, _ = _elements(src.rows_dataset(lambda epoch: draws[epoch], 3, transform))
    np.testing.assert_array_equal(rows, again)                           # same draw and epoch: the same order
    assert len(_elements(src.rows_dataset(lambda epoch: np.zeros(0, np.int64), 1, transform))[0]) == 0


def test_rows_dataset_checks_its_arguments(table):
    _, src = table
    with pytest.raises(ValueError, match="needs a fitted transform"):
        src.rows_dataset(lambda epoch: np.arange(3), 1)
    with pytest.raises(ValueError, match="needs a fitted transform"):
        src.read([0, 1])
    transform = src.fit_transform(np.arange(50))
    with pytest.raises(IndexError, match=r"\[0, 3000\)"):
        src.read([0, N], transform)
    with pytest.raises(tf.errors.OpError, match="Row indices"):
        list(src.rows_dataset(lambda epoch: np.array([N + 5]), 1, transform))
    spec = src.rows_dataset(lambda epoch: np.arange(3), 1, transform).element_spec
    assert spec[0].dtype == tf.int64 and spec[0].shape == () and spec[1].shape == (transform.width,)


def test_a_missing_label_names_its_line_or_row(tmp_path):
    frame = _frame(500)
    frame.loc[321, "label"] = None
    with pytest.raises(DataError, match=r"m\.csv, line 323: target column 'label' has no value"):
        table_source(_write(frame, str(tmp_path), "csv", "m"), "label", chunk_rows=CHUNK)
    with pytest.raises(DataError, match=r"m\.parquet, row 321: target column 'label' has no value"):
        table_source(_write(frame, str(tmp_path), "parquet", "m"), "label", chunk_rows=CHUNK)
    frame.loc[321, "label"] = "ok"
    frame["label"] = "ok"
    with pytest.raises(DataError, match="single class"):
        table_source(_write(frame, str(tmp_path), "parquet", "one"), "label")


def test_an_unknown_column_lists_the_columns(table):
    path, _ = table
    name = os.path.basename(path)
    columns = "columns are: a, b, count, shop, city, label"
    with pytest.raises(DataError, match=f"Column 'labels' not found in {name}; {columns} .did you mean 'label'"):
        table_source(path, "labels")
    with pytest.raises(DataError, match=f"Column 'colour' not found in {name}; {columns}"):
        table_source(path, "label", features=["a", "colour"])
    with pytest.raises(DataError, match="both the target and a feature"):
        table_source(path, "label", features=["a", "label"])
    src = table_source(path, "label", features=["city", "a"], categorical=["count"])
    assert src.features == ["a", "city"] and src.numeric == ["a"] and src.categorical == ["city"]
    assert table_source(path, "label", categorical=["count"]).categorical == ["count", "shop", "city"]


def test_a_value_not_finite_after_preprocessing_names_column_and_line(tmp_path):
    frame = _frame(400)
    frame.loc[250, "b"] = 1e40      # beyond float32: finite in the file, infinite as a feature
    frame.loc[300, "a"] = np.inf
    for fmt, where_b, where_a in (("csv", "line 252", "line 302"), ("parquet", "row 250", "row 300")):
        src = table_source(_write(frame, str(tmp_path), fmt, "nf"), "label", chunk_rows=CHUNK)
        transform = src.fit_transform(np.arange(200))
        with pytest.raises(DataError, match=f"{where_b}, column 'b': 1e\\+40 is inf after preprocessing"):
            src.read([5, 250], transform)
        with pytest.raises(DataError, match=f"{where_a}, column 'a': inf is not a finite number"):
            src.read([300], transform)
        with pytest.raises(tf.errors.OpError, match=f"DataError: .*{where_b}, column 'b'"):
            list(src.rows_dataset(lambda epoch: np.arange(260), 1, transform))
        with pytest.raises(DataError, match=f"{where_a}, column 'a': inf is not a finite number"):
            src.fit_transform(np.arange(400))


def test_a_source_and_its_transform_survive_pickling(table):
    path, src = table
    transform = src.fit_transform(np.arange(0, N, 2), seed=1)
    for dumps in (pickle.dumps, cloudpickle.dumps):
        copy, transform_copy = pickle.loads(dumps(src)), pickle.loads(dumps(transform))
        assert isinstance(copy, TableSource) and isinstance(transform_copy, TableTransform)
        assert copy.fingerprint() == src.fingerprint() and copy.class_names == src.class_names
        np.testing.assert_array_equal(copy.labels, src.labels)
        np.testing.assert_array_equal(copy.read([3, 1, 2], transform_copy), src.read([3, 1, 2], transform))
    described = src.describe()
    assert described["kind"] == "table" and described["rows"] == N
    assert described["columns"] == "3 numeric, 2 categorical" and described["file"] == os.path.abspath(path)


def test_the_fingerprint_follows_the_file_not_a_read(tmp_path):
    path = _write(_frame(300), str(tmp_path), "parquet", "f")
    src = table_source(path, "label")
    before = src.fingerprint()
    assert table_source(path, "label").fingerprint() == before
    assert table_source(path, "label", features=["a"]).fingerprint() != before
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert src.fingerprint() != before


def test_an_epoch_of_a_large_table_never_holds_all_its_rows(tmp_path):
    n, width = 200_000, 20
    path = os.path.join(str(tmp_path), "big.parquet")
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, pa.schema([(f"f{j}", pa.float64()) for j in range(width)]
                                          + [("label", pa.int8())])) as writer:
        for start in range(0, n, 50_000):
            block = {f"f{j}": rng.normal(size=50_000) for j in range(width)}
            block["label"] = (rng.random(50_000) < 0.01).astype(np.int8)
            writer.write_table(pa.table(block))
    src = table_source(path, "label", chunk_rows=4096, sample_rows=5000)
    transform = src.fit_transform(np.arange(n))
    draw = np.arange(n)
    tracemalloc.start()
    try:
        seen = sum(len(r) for r, _ in src.rows_dataset(lambda epoch: draw, 1, transform).batch(256)
                   .as_numpy_iterator())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == n
    dense = n * width * 8      # the features as float64, as a full in-memory read would hold them (32 MB)
    assert peak < dense / 4, f"peak traced allocations {peak / 1e6:.1f} MB in an epoch of a {dense / 1e6:.0f} MB table"


def test_formats_and_column_types_match_load_table(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"i": rng.integers(0, 9, n), "flag": rng.random(n) < 0.5,
                          "cat": pd.Categorical(rng.choice(["p", "q"], n)), "z": rng.choice([1.0, 2.0, np.nan], n),
                          "y": rng.choice([0, 1], n, p=[0.8, 0.2])})
    text = frame.assign(cat=frame.cat.astype(str), y=np.where(frame.y == 1, "yes", "no"))
    semicolon = text.assign(z=text.z.map(lambda v: "" if v != v else str(v).replace(".", ",")))
    paths = {"a.parquet": lambda p: frame.to_parquet(p),                # pandas metadata, a dictionary column
             "b.csv.gz": lambda p: text.to_csv(p, index=False, compression="gzip"),
             "c.csv": lambda p: semicolon.to_csv(p, index=False, sep=";"),  # ; and decimal commas
             "d.tsv": lambda p: text.to_csv(p, index=False, sep="\t")}
    for name, write in paths.items():
        path = str(tmp_path / name)
        write(path)
        for categorical in (None, ["i"]):
            src = table_source(path, "y", chunk_rows=64, categorical=categorical)
            ref = load_table(path, "y", categorical=categorical)
            assert (src.class_names, src.numeric, src.categorical) == \
                (ref.class_names, ref.numeric_features, ref.categorical_features), name
            np.testing.assert_array_equal(src.labels, ref.y)
            transform = src.fit_transform(np.arange(n))
            expected = ref.preprocessor().fit(ref.x).transform(ref.x)
            np.testing.assert_allclose(src.read(np.arange(n), transform), expected, rtol=1e-6, atol=1e-6)
            assert transform.columns == [c.split("__", 1)[1] for c in ref.preprocessor().fit(ref.x)
                                         .get_feature_names_out()]
    with pytest.raises(DataError, match="Unsupported file type"):
        table_source(str(tmp_path / "a.npz"), "y")


def test_text_in_a_numeric_csv_column_after_the_first_megabyte_fails_the_scan(tmp_path):
    n = 150_000  # about 1.3 MB: the column's type comes from the first megabyte
    values = np.arange(n).astype(str).astype(object)
    values[n - 10] = "twelve"
    path = str(tmp_path / "late.csv")
    pd.DataFrame({"v": values, "label": np.where(np.arange(n) % 10 == 0, "b", "a")}).to_csv(path, index=False)
    src = table_source(path, "label")
    assert src.numeric == ["v"]
    with pytest.raises(DataError, match=r"late\.csv, line 149992, column 'v': 'twelve' is not a number"):
        src.fit_transform(np.arange(n))
