"""A CSV or Parquet table bigger than memory as a :class:`~imbalance.data.sources.Source`: labels in memory,
features streamed chunk by chunk (pyarrow), preprocessing fitted on a sample of the training rows.

:func:`table_source` reads only the target column, chunk by chunk, into compact class ids (``int8`` for fewer than
128 classes), with the label rules of :func:`~imbalance.data.io.load_table` (two classes that say which one is
positive keep their meaning, else the rarer class is id 1; three or more in sorted order, numeric when every value
is a number). It decides from the file's schema which features are numbers and which are categories (text,
dictionary, boolean, dates: categories; ``categorical=[...]`` forces a column), without reading their values.

:meth:`TableSource.fit_transform` fits ``Table.preprocessor()`` (median-impute + standardise numbers, impute +
one-hot categories; :meth:`~imbalance.data.io.Table.preprocessor`) on a seeded sample of at most ``sample_rows`` of
the rows it is given, read in one scan, and returns a :class:`TableTransform`; :meth:`TableSource.rows_dataset`
streams the file once per epoch and yields each drawn row (as often as drawn) with its transformed features, in a
shuffled order of its own (``ordered = False``: a shuffle within each chunk, then a shuffle buffer). Memory stays
flat in the number of rows: one chunk of ``chunk_rows`` rows at a time, the labels, and the epoch's draw (sorted in
a copy unless already in order). Parquet is decoded a row group at a time (pyarrow), so a file written with huge
row groups costs one row group's memory; row groups holding none of the drawn rows are skipped.

The features' width is known only once a transform is fitted (one-hot columns depend on the training rows):
``input_shape`` is ``()`` and :attr:`Rows.shape <imbalance.data.sources.Rows.shape>` reads
:attr:`TableTransform.width`.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "payments.csv")
>>> with open(path, "w") as f:
...     _ = f.write("amount,shop,fraud\\n1.0,web,no\\n2.0,app,no\\n,web,yes\\n4.0,web,no\\n5.0,app,no\\n")
>>> src = table_source(path, "fraud", chunk_rows=2)
>>> src.labels.tolist(), src.class_names, src.labels.dtype.name, src.numeric, src.categorical
([0, 0, 1, 0, 0], ['no', 'yes'], 'int8', ['amount'], ['shop'])
>>> transform = src.fit_transform(np.arange(5))
>>> transform.width, transform.columns
(3, ['amount', 'shop_app', 'shop_web'])
>>> src.read([2, 0], transform).astype(float).round(2).tolist()  # row 2: amount imputed (median 3.0)
[[0.0, 0.0, 1.0], [-1.41, 0.0, 1.0]]
>>> ds = src.rows_dataset(lambda epoch: np.array([4, 1, 1]), epochs=1, transform=transform)
>>> sorted(int(row) for row, x in ds.as_numpy_iterator())  # each drawn row, as often as drawn, in its own order
[1, 1, 4]
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from imbalance.data.io import DataError, Table, _as_text, _csv_header, _extension, _not_found, _single_target
from imbalance.data.sources import Source, in_order

__all__ = ["TableSource", "TableTransform", "table_source"]

_CSV = (".csv", ".tsv", ".tab")
_PARQUET = (".parquet", ".pq")
# pyarrow's missing-value markers plus pandas' extra defaults and the UCI/KEEL ones load_table reads as missing
_NULLS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "N/A", "NA",
          "NULL", "NaN", "n/a", "nan", "null", "<NA>", "None", "?", "<null>"]
_LABEL_BATCH = 1 << 20  # rows per batch when reading the target column alone (one column: small)
_SHUFFLE_SEED = 0x7AB1E


def _where(row: int, first_line: int | None) -> str:
    """``line 7`` (CSV: the header is line 1, ``first_line = 2``) or ``row 5`` (Parquet, 0-based)."""
    return f"line {int(row) + first_line}" if first_line is not None else f"row {int(row)}"


def _typed_frame(data: Any, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """A record batch / table / DataFrame of raw values as ``load_table`` types them: numbers as float64 (missing:
    NaN), categories as stripped text (whole floats without ``.0``; missing: NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Any] = {}
    if isinstance(data, pd.DataFrame):
        for c in numeric:
            columns[c] = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        for c in categorical:
            columns[c] = _as_text(data[c].reset_index(drop=True)).to_numpy(dtype=object)
        return pd.DataFrame(columns, columns=[*numeric, *categorical])
    if not isinstance(data, (pa.RecordBatch, pa.Table)):
        raise TypeError("Expected a pyarrow RecordBatch / Table or a pandas DataFrame. Received: "
                        f"{type(data).__name__}")
    for c in numeric:
        column = data.column(c)
        column = pc.cast(column, pa.float64()) if column.type != pa.float64() else column
        columns[c] = column.to_numpy(zero_copy_only=False) if len(column) else np.zeros(0)
    for c in categorical:
        columns[c] = _as_text(data.column(c).to_pandas()).to_numpy(dtype=object)
    return pd.DataFrame(columns, columns=[*numeric, *categorical])


def _check_numbers(frame: pd.DataFrame, numeric: Sequence[str], rows: np.ndarray | None, origin: str,
                   first_line: int | None) -> None:
    """An infinite number in a numeric column: a DataError naming the column and the row (as load_table does)."""
    for c in numeric:
        values = frame[c].to_numpy()
        infinite = np.isinf(values)
        if infinite.any():
            i = int(np.argmax(infinite))
            where = _where(rows[i], first_line) if rows is not None else f"row {i} of the batch"
            raise DataError(f"{origin}, {where}, column {c!r}: {float(values[i])!r} is not a finite number")


class TableTransform:
    """A fitted preprocessor for the rows of a :class:`TableSource`: raw record batch (or DataFrame) → float32
    features ``(n, width)``. Picklable; small (the fitted medians, scales and categories).

    Attributes:
        preprocessor: the fitted scikit-learn ``ColumnTransformer`` (``Table.preprocessor()``).
        numeric / categorical: the input columns of each kind.
        columns: the output columns (numbers first, then one per category: ``shop_web``).
        width: ``len(columns)``.
        fitted_rows: how many rows it was fitted on.

    Calling it with ``rows`` (the rows' indices in the file) lets an error name the file's line or row: an
    infinite input, or a value not finite after preprocessing (a number beyond float32's range).
    """

    def __init__(self, preprocessor: Any, numeric: Sequence[str], categorical: Sequence[str], *, origin: str,
                 first_line: int | None, fitted_rows: int):
        self.preprocessor = preprocessor
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.origin, self.first_line, self.fitted_rows = origin, first_line, int(fitted_rows)
        names = [str(n) for n in preprocessor.get_feature_names_out()]
        self.columns = [n.split("__", 1)[1] if "__" in n else n for n in names]
        self._numbers = sum(n.startswith("numeric__") for n in names)  # the first outputs are the numeric columns
        self.width = len(self.columns)

    def __repr__(self) -> str:
        return (f"TableTransform(width={self.width}, numeric={len(self.numeric)}, categorical={len(self.categorical)},"
                f" fitted_rows={self.fitted_rows})")

    def frame(self, data: Any) -> pd.DataFrame:
        """The raw values typed as the preprocessor expects them (numbers float64, categories text)."""
        return _typed_frame(data, self.numeric, self.categorical)

    def __call__(self, data: Any, rows: np.ndarray | None = None) -> np.ndarray:
        frame = self.frame(data)
        _check_numbers(frame, self.numeric, rows, self.origin, self.first_line)
        if len(frame) == 0:
            return np.zeros((0, self.width), np.float32)
        with np.errstate(over="ignore"):
            x = np.asarray(self.preprocessor.transform(frame), dtype=np.float32)
        bad = ~np.isfinite(x)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            column = self.columns[j]
            raw = float(frame[column].iloc[i]) if j < self._numbers and column in frame else None
            where = _where(rows[i], self.first_line) if rows is not None else f"row {i} of the batch"
            raise DataError(f"{self.origin}, {where}, column {column!r}: {raw!r} is {float(x[i, j])!r} after "
                            "preprocessing (not a finite float32); fix the value or leave the column out with "
                            "features=[...]")
        return x


class TableSource(Source):
    """A CSV / TSV / Parquet table read in chunks: labels in memory (compact class ids), features streamed.

    Built by :func:`table_source` (see there for the arguments). Holds no open file: every scan opens the file
    again, so the source pickles (cloudpickle) to worker processes as paths and labels.

    Attributes:
        path: the file (absolute). target: the label column. features: the feature columns, in file order.
        numeric / categorical: how each feature is preprocessed. labels: class ids (``int8``/``int16``/``int32``).
        class_names: the label values as text, in id order. chunk_rows / sample_rows: see :func:`table_source`.
    """

    kind = "table"
    ordered = False
    shuffle_buffer = 8192

    def __init__(self, path: str | os.PathLike[str], target: str, *, features: Sequence[str] | None = None,
                 categorical: Sequence[str] | None = None, chunk_rows: int = 65536, sample_rows: int = 50000,
                 encoding: str = "utf-8"):
        if not isinstance(target, str) or not target:
            raise TypeError(f"`target` must be one column name (a table source reads one label column). "
                            f"Received: target={target!r}")
        for what, names in (("features", features), ("categorical", categorical)):
            if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
                raise TypeError(f"`{what}` must be a list of column names or None. Received: {what}={names!r}")
        for what, value in (("chunk_rows", chunk_rows), ("sample_rows", sample_rows)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{what}` must be a positive integer. Received: {what}={value!r}")
        file = Path(os.fspath(path))
        ext, compression = _extension(file)
        if ext not in _CSV + _PARQUET or (compression and ext in _PARQUET):
            raise DataError(f"Unsupported file type for a streamed table {file.name}; supported: "
                            f"{', '.join(_CSV + _PARQUET)} (CSV/TSV may be compressed: .gz, .bz2, .xz)")
        if not file.is_file():
            raise DataError(f"File not found: {file}" if not file.exists() else f"{file} is a directory")
        self.path = os.path.abspath(file)
        self.name = file.name.split(".")[0] or file.name
        self.origin = file.name
        self.target = target
        self.chunk_rows, self.sample_rows = int(chunk_rows), int(sample_rows)
        self.encoding = encoding
        self.format = "parquet" if ext in _PARQUET else "csv"
        self._first_line = 2 if self.format == "csv" else None
        if self.format == "csv":
            raw, self._sep = _csv_header(file, ext, compression, encoding)
            schema = self._csv_schema()
        else:
            self._sep = ","
            schema = self._parquet_schema()
        self.schema = {name: str(t) for name, t in schema}  # column -> arrow type, as the file has it
        columns = list(self.schema)
        forced = list(categorical or [])
        for column in [target, *(features or []), *forced]:
            if column not in self.schema:
                raise _not_found(column, self.origin, columns)
        if features is not None and target in features:
            raise DataError(f"Column {target!r} of {self.origin} is both the target and a feature")
        chosen = [c for c in columns if c != target] if features is None else \
            [c for c in columns if c in set(features)]
        if not chosen:
            raise DataError(f"{self.origin} has no feature columns besides the target {target!r}")
        types = dict(schema)
        self.features = chosen
        self.categorical = [c for c in chosen if c in forced or not _is_number(types[c])]
        self.numeric = [c for c in chosen if c not in self.categorical]
        # CSV: every scan converts with these types (pyarrow infers from the first block only)
        self._csv_types = {c: ("bool" if str(types[c]) == "bool" and c not in self.numeric else
                               "double" if _is_number(types[c]) else "string") for c in chosen}
        self._csv_types[target] = "string"
        self.labels, self.class_names = self._read_labels()
        self.input_shape = ()
        stat = os.stat(self.path)
        self._stat = (int(stat.st_size), int(stat.st_mtime_ns))

    # --- reading --------------------------------------------------------------------------------------------

    def _csv_options(self, include: Sequence[str], block_size: int) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        types = {c: pa.type_for_alias(self._csv_types[c]) for c in include} if include else None
        return {"read_options": pcsv.ReadOptions(encoding=self.encoding, block_size=block_size),
                "parse_options": pcsv.ParseOptions(delimiter=self._sep),
                "convert_options": pcsv.ConvertOptions(include_columns=list(include), column_types=types,
                                                       null_values=_NULLS, strings_can_be_null=True,
                                                       decimal_point="," if self._sep == ";" else ".")}

    def _csv_schema(self) -> list[tuple[str, Any]]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        try:
            reader = pcsv.open_csv(self.path, **self._csv_options([], 1 << 20))
        except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
            raise self._unreadable(error) from None
        try:
            schema = reader.schema
        finally:
            reader.close()
        names = [f.name for f in schema]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:
            raise DataError(f"The header of {self.origin} names two columns {twice!r}; rename one")
        return [(f.name, f.type) for f in schema]

    def _parquet_schema(self) -> list[tuple[str, Any]]:
        import pyarrow.parquet as pq

        try:
            with pq.ParquetFile(self.path) as handle:
                schema = handle.schema_arrow
        except Exception as error:  # pyarrow raises its own errors for a corrupt file
            raise DataError(f"Cannot read {self.origin} as Parquet: {str(error).strip().splitlines()[0]}") from None
        index = (schema.pandas_metadata or {}).get("index_columns", []) if schema.metadata else []
        hidden = {c for c in index if isinstance(c, str)}  # pandas' stored index: not a column (as pd.read_parquet)
        return [(f.name, f.type) for f in schema if f.name not in hidden]

    def _unreadable(self, error: BaseException) -> DataError:
        text = (str(error).strip() or type(error).__name__).splitlines()[0]
        found = re.search(r"CSV column #(\d+): .*conversion error to (\w+): invalid value '(.*)'", text)
        if found and self.format == "csv" and int(found.group(1)) < len(self.schema):
            column, value = list(self.schema)[int(found.group(1))], found.group(3)
            row = self._find_text(column, value)
            where = f", {_where(row, self._first_line)}" if row is not None else ""
            return DataError(f"{self.origin}{where}, column {column!r}: {value!r} is not a number, but the column "
                             f"is numeric (from the file's first megabyte); fix the value or pass "
                             f"categorical=[{column!r}]")
        return DataError(f"Cannot read {self.origin}: {text}")

    def _find_text(self, column: str, value: str) -> int | None:
        """The first row whose ``column`` reads ``value`` as text (one more scan, for an error message only)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        options = self._csv_options([], 1 << 22)
        options["convert_options"] = pcsv.ConvertOptions(include_columns=[column], column_types={column: pa.string()},
                                                         strings_can_be_null=True, null_values=_NULLS)
        try:
            offset = 0
            for batch in pcsv.open_csv(self.path, **options):
                hits = pc.index(batch.column(0), value).as_py()
                if hits >= 0:
                    return offset + hits
                offset += batch.num_rows
        except (pa.ArrowException, OSError, UnicodeDecodeError):
            return None
        return None

    def _batches(self, columns: Sequence[str], rows: np.ndarray | None = None, batch_rows: int | None = None
                 ) -> Iterator[tuple[int, Any]]:
        """``(first row, record batch)`` of ``columns``, chunk after chunk (at most ``batch_rows`` rows each); with
        sorted ``rows``, the chunks after the last of them, and Parquet row groups holding none, are not read."""
        import pyarrow as pa

        size = batch_rows or self.chunk_rows
        end = int(rows[-1]) + 1 if rows is not None and len(rows) else (0 if rows is not None else None)
        if end == 0:
            return
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                with pq.ParquetFile(self.path) as handle:
                    start = 0
                    for group in range(handle.metadata.num_row_groups):
                        count = handle.metadata.row_group(group).num_rows
                        if end is not None and start >= end:
                            return
                        if rows is None or np.searchsorted(rows, start) < np.searchsorted(rows, start + count):
                            offset = start
                            for batch in handle.iter_batches(batch_size=size, row_groups=[group],
                                                             columns=list(columns)):
                                yield offset, batch
                                offset += batch.num_rows
                        start += count
                return
            import pyarrow.csv as pcsv

            reader = pcsv.open_csv(self.path, **self._csv_options(columns, max(1 << 20, min(size * 64, 1 << 24))))
            try:
                offset = 0
                for batch in reader:
                    for a in range(0, batch.num_rows, size):
                        if end is not None and offset + a >= end:
                            return
                        yield offset + a, batch.slice(a, size)
                    offset += batch.num_rows
            finally:
                reader.close()
        except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
            raise self._unreadable(error) from None

    def _scan(self, rows: np.ndarray, columns: Sequence[str]) -> Iterator[tuple[np.ndarray, Any]]:
        """For each chunk holding some of the sorted ``rows``: those rows (repeats included) and their values."""
        import pyarrow as pa

        for first, batch in self._batches(columns, rows):
            lo, hi = np.searchsorted(rows, [first, first + batch.num_rows])
            if lo < hi:
                chosen = rows[lo:hi]
                yield chosen, batch.take(pa.array(chosen - first))

    def _read_labels(self) -> tuple[np.ndarray, list[str]]:
        """Class ids (compact) and class names from the target column alone, chunk by chunk."""
        import pyarrow as pa

        known: dict[str, int] = {}
        parts: list[np.ndarray] = []
        counts = np.zeros(0, np.int64)
        first_row: list[int] = []
        for offset, batch in self._batches([self.target], batch_rows=_LABEL_BATCH):
            column = batch.column(0)
            if len(column) == 0:
                continue
            encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
            texts = _as_text(encoded.dictionary.to_pandas()).to_numpy(dtype=object) if len(encoded.dictionary) \
                else np.zeros(0, object)
            lut = np.array([known.setdefault(t, len(known)) if isinstance(t, str) else -1 for t in texts] + [-1],
                           np.int64)
            indices = encoded.indices.to_numpy(zero_copy_only=False) if encoded.null_count == 0 else \
                encoded.indices.fill_null(len(texts)).to_numpy(zero_copy_only=False)
            ids = lut[indices]
            if (ids < 0).any():
                self._missing_label(offset + int(np.argmax(ids < 0)))
            new = np.flatnonzero(np.arange(len(known)) >= len(first_row))
            if new.size:
                seen, where = np.unique(ids, return_index=True)
                first_row += [offset + int(where[np.searchsorted(seen, k)]) for k in new]
            counts = np.pad(counts, (0, len(known) - len(counts))) + np.bincount(ids, minlength=len(known))
            parts.append(ids.astype(np.uint16 if len(known) < (1 << 16) else np.int32))
        if not parts:
            raise DataError(f"{self.origin} has a header but no data rows" if self.format == "csv" else
                            f"{self.origin} has columns but no rows")
        names = list(known)
        if len(names) < 2:
            raise DataError(f"Target column {self.target!r} in {self.origin} has a single class ({names[0]!r} in all "
                            f"{int(counts.sum())} rows); a classifier needs at least two classes")
        # load_table's own rule (_single_target) on the distinct values; two classes: the rarer one listed once
        order = [0, 1, 1] if counts[0] < counts[1] else [0, 0, 1] if counts[0] > counts[1] else [0, 1]
        synthetic = order if len(names) == 2 else list(range(len(names)))
        ids, class_names = _single_target(pd.Series([names[k] for k in synthetic], dtype=object), self.target,
                                          self.origin, lambda i: _where(first_row[synthetic[i]], self._first_line))
        rank = np.empty(len(names), np.int64)
        rank[np.asarray(synthetic)] = ids
        dtype = np.int8 if len(names) < 128 else np.int16 if len(names) < (1 << 15) else np.int32
        rank = rank.astype(dtype)
        return np.concatenate([rank[p] for p in parts]), class_names

    def _missing_label(self, row: int) -> None:
        raise DataError(f"{self.origin}, {_where(row, self._first_line)}: target column {self.target!r} has no "
                        "value; drop or fill in the rows without a label")

    # --- the Source interface ------------------------------------------------------------------------------

    def sample(self, rows: Sequence[int], seed: int = 0) -> np.ndarray:
        """The rows :meth:`fit_transform` fits on: all of ``rows`` when they are at most ``sample_rows``, else
        ``rows[np.random.default_rng(seed).choice(len(rows), sample_rows, replace=False)]``; sorted, each once.

        >>> src = TableSource.__new__(TableSource); src.sample_rows = 3
        >>> src.sample([9, 2, 5], seed=0).tolist(), len(src.sample(np.arange(100), seed=0))
        ([2, 5, 9], 3)
        """
        rows = np.asarray(rows, np.int64).reshape(-1)
        if len(rows) > self.sample_rows:
            rows = rows[np.random.default_rng(seed).choice(len(rows), self.sample_rows, replace=False)]
        return np.unique(rows)

    def fit_transform(self, rows: np.ndarray, seed: int = 0) -> TableTransform:
        """``Table.preprocessor()`` fitted on :meth:`sample` of ``rows`` (one scan of the file; the sample alone in
        memory), as a :class:`TableTransform` for :meth:`rows_dataset` and :meth:`read`.

        Raises:
            DataError: an infinite number, or a value not finite after preprocessing, in the sample (its line).
        """
        sample = self.sample(self.check_rows(lambda epoch: rows)(0), seed)
        if not len(sample):
            raise ValueError("`rows` is empty: a preprocessor needs at least one row to be fitted on.")
        pieces = [_typed_frame(batch, self.numeric, self.categorical) for _, batch in self._scan(sample, self.features)]
        frame = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
        _check_numbers(frame, self.numeric, sample, self.origin, self._first_line)
        spec = Table(x=frame.iloc[:0], y=np.zeros(0, np.int64), class_names=list(self.class_names or []), task="",
                     feature_names=list(self.features), numeric_features=list(self.numeric),
                     categorical_features=list(self.categorical), source=Path(self.path), target=self.target)
        preprocessor = spec.preprocessor().fit(frame)
        transform = TableTransform(preprocessor, self.numeric, self.categorical, origin=self.origin,
                                   first_line=self._first_line, fitted_rows=len(sample))
        transform(frame, rows=sample)  # a value beyond float32 in the sample itself fails here, with its line
        return transform

    def _transformed(self, rows: np.ndarray, transform: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(rows, features)`` chunk by chunk, in file order, for sorted ``rows``."""
        for chosen, batch in self._scan(rows, self.features):
            yield chosen, transform(batch, rows=chosen)

    def rows_dataset(self, draw: Callable[[int], np.ndarray], epochs: int = 1, transform: Any = None) -> Any:
        """``(row, features)`` for ``epochs`` epochs: each epoch streams the file once and yields the rows of
        ``draw(epoch)`` as often as it lists them, shuffled within each chunk (a generator seeded by the epoch)
        and then by a buffer of ``shuffle_buffer`` rows, so the order is the same for the same draw and epoch.
        ``transform``: a :class:`TableTransform` (required: a table's features need a fitted preprocessor)."""
        import tensorflow as tf

        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer. Received: epochs={epochs!r}")
        _check_transform(transform)
        checked = self.check_rows(draw)
        width = int(transform.width)

        def chunks(epoch: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            epoch = int(epoch)
            rows = in_order(checked(epoch))
            rng = np.random.default_rng([_SHUFFLE_SEED, epoch])
            for chosen, x in self._transformed(rows, transform):
                order = rng.permutation(len(chosen))
                yield chosen[order].astype(np.int64, copy=False), x[order]

        signature = (tf.TensorSpec([None], tf.int64), tf.TensorSpec([None, width], tf.float32))
        buffer = int(self.shuffle_buffer)

        def one_epoch(epoch: Any) -> Any:
            ds = tf.data.Dataset.from_generator(chunks, args=(epoch,), output_signature=signature)
            ds = ds.prefetch(1).unbatch()  # unbatch: twice as fast as flat_map(from_tensor_slices) per row
            # A Python seed (a tensor seed fails in graph mode); the chunks already arrive in a new order each
            # epoch (their generator is seeded by the epoch), so the buffer's output differs epoch to epoch too.
            return ds.shuffle(buffer, seed=_SHUFFLE_SEED) if buffer > 1 else ds

        return tf.data.Dataset.range(int(epochs)).flat_map(one_epoch)

    def read(self, rows: Sequence[int], transform: Any = None) -> np.ndarray:
        """The transformed features of ``rows`` as one array ``(len(rows), width)``, in the order given (one scan;
        for a few rows, e.g. examples; streaming uses :meth:`rows_dataset`)."""
        _check_transform(transform)
        rows = self.check_rows(lambda epoch: rows)(0)
        order = np.argsort(rows, kind="stable")
        parts = [x for _, x in self._transformed(rows[order], transform)]
        out = np.empty((len(rows), int(transform.width)), np.float32)
        out[order] = np.concatenate(parts) if parts else out[:0]
        return out

    def fingerprint(self) -> str:
        """A hash of the path, size, modification time, schema, column choice and labels (no read of the file)."""
        stat = os.stat(self.path)
        h = hashlib.sha256(f"{self.path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{sorted(self.schema.items())}\0"
                           f"{self.target}\0{self.numeric}\0{self.categorical}".encode())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        size = self._stat[0]
        return {**super().describe(), "file": self.path, "format": self.format,
                "file size": f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size} bytes",
                "columns": f"{len(self.numeric)} numeric, {len(self.categorical)} categorical",
                "features": "preprocessed per training split (one-hot width depends on its rows)"}

    def __repr__(self) -> str:
        return (f"TableSource({self.origin!r}, target={self.target!r}, rows={len(self)}, numeric={len(self.numeric)}, "
                f"categorical={len(self.categorical)})")


def _check_transform(transform: Any) -> None:
    if transform is None or not callable(transform) or not hasattr(transform, "width"):
        raise ValueError("A table source needs a fitted transform: pass transform=source.fit_transform(train_rows) "
                         f"(a TableTransform). Received: transform={transform!r}")


def _is_number(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
                or pa.types.is_decimal(arrow_type) or pa.types.is_null(arrow_type))


def table_source(path: str | os.PathLike[str], target: str, *, features: Sequence[str] | None = None,
                 categorical: Sequence[str] | None = None, chunk_rows: int = 65536, sample_rows: int = 50000,
                 encoding: str = "utf-8") -> TableSource:
    """A CSV / TSV / Parquet file as a streamed :class:`TableSource` (see the module docstring).

    Args:
        path: ``.csv`` (``;``-separated with decimal commas when its header has ``;`` but no comma), ``.tsv``,
            ``.tab`` (all three may be ``.gz`` / ``.bz2`` / ``.xz``), ``.parquet``, ``.pq``.
        target: the label column (one; only it is read here).
        features: the feature columns (default: every other column), used in file order.
        categorical: columns to one-hot encode even when the file stores them as numbers.
        chunk_rows: rows per chunk of a scan (memory: one chunk at a time).
        sample_rows: the most rows :meth:`TableSource.fit_transform` fits the preprocessor on.
        encoding: the text encoding of a CSV.

    A CSV column's type is pyarrow's inference on the file's first megabyte: a numeric column holding text further
    down fails at the first scan (``DataError`` with pyarrow's message: column and row). Lines in messages are
    ``row + 2`` (a header, no blank lines or quoted line breaks before the row); Parquet rows are 0-based.

    Raises:
        DataError: a missing or unsupported file, a target or feature column that does not exist (lists the
            columns), a row without a label (its line or row), a target with one class.

    >>> import os, tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
    >>> pq.write_table(pa.table({"x": [0.5, 1.5, 2.5], "y": [3, 1, 3]}), path)
    >>> src = table_source(path, "y")
    >>> src.class_names, src.labels.tolist(), src.describe()["columns"]
    (['3', '1'], [0, 1, 0], '1 numeric, 0 categorical')
    >>> table_source(path, "label")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imbalance.data.io.DataError: Column 'label' not found in t.parquet; columns are: x, y
    """
    return TableSource(path, target, features=features, categorical=categorical, chunk_rows=chunk_rows,
                       sample_rows=sample_rows, encoding=encoding)
