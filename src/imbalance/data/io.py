"""User tables in: CSV, TSV, Parquet, NPZ and KEEL ``.dat`` files, with errors that name the file, line and column.

:func:`load_table` reads a file into a :class:`Table`: the raw features as a pandas DataFrame, the labels as class
ids (one target column) or a multi-hot matrix (several 0/1 target columns), the class names, the task, and an
*unfitted* scikit-learn preprocessor (impute → standardise numbers, impute → one-hot encode categories) that the
caller fits on its training split only, so no statistic of the validation or test rows leaks into training.

Formats (the extension picks the reader):

* ``.csv`` — comma-separated with a header line; when the header has ``;`` but no comma, ``;``-separated with
  decimal commas (as spreadsheets write it in many locales). ``.tsv``, ``.tab`` — tab-separated. All three may be
  compressed: ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``.
* ``.parquet``, ``.pq`` — needs ``pyarrow`` or ``fastparquet``.
* ``.npz`` — arrays ``x`` (rows, features) and ``y``, with optional ``feature_names`` and ``class_names``; a
  numeric ``y`` is used as it is (class ids, one-hot or multi-hot, read by :mod:`imbalance.labels`), a text ``y``
  follows the label rules below. Or one 1-D array per column, read like a CSV.
* ``.dat`` — KEEL: ``@relation``, ``@attribute name real [a, b] | integer [a, b] | {v1, v2, ...}``, ``@inputs``,
  ``@outputs``, ``@data``; missing values ``?`` or ``<null>``. Attributes declared ``{...}`` are categorical.

Labels (one target column). Class ids are ``0..K-1``:

* two classes that already say which one is positive keep their meaning: ``0/1``, ``-1/1``, ``False/True``,
  ``no/yes``, ``negative/positive``, ``neg/pos`` (case-insensitive) — the second value is id 1;
* any other two classes: the rarer one is id 1 (the "positive" class of the imbalanced problem); a tie goes to the
  larger value in sorted order;
* three or more classes: sorted order (numeric order when every value is a number, else text order).

``class_names`` holds the original values as text, in id order. A target with missing values, with one class only,
or with non-whole numbers (a continuous column) is refused. Several target columns make a multi-label problem:
each must hold 0/1 (or one of the pairs above) and both values; ``class_names`` are the column names.

Features. A column is numeric when its values parse as numbers, categorical otherwise. A column where at least
90 % of the values parse as numbers but some do not is a numeric column with garbage in it: that is an error naming
the line and the value, never a silent switch to categorical (pass ``categorical=[column]`` when such a column
really is categorical). Booleans are categorical. A categorical column with mostly distinct values (an identifier,
free text) gives a warning: one-hot encoding it adds as many inputs as it has values. Missing feature values
(empty, ``NA``, ``?``, ...) are kept as NaN in ``Table.x`` and imputed inside the preprocessor (median for numbers,
most frequent value for categories).

Every problem with the data raises :class:`DataError` (a ``ValueError``) with a one-line message that names the
file, the line (text files: 1-based, the header is line 1, blank lines counted) or the row (Parquet and NPZ:
0-based), the column and the value; so do a damaged or truncated file (``.gz``, ``.bz2``, ``.xz``, NPZ), an unknown
``encoding`` and a header naming a column twice. :meth:`Table.split` gives stratified train/validation/test indices.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "transactions.csv")
>>> with open(path, "w") as f:
...     _ = f.write("amount,merchant,is_fraud\\n12.5,shop,no\\n3.0,web,no\\n99.0,web,yes\\n7.5,shop,no\\n")
>>> table = load_table(path, "is_fraud")
>>> table.task, table.class_names, table.y.tolist()
('binary', ['no', 'yes'], [0, 0, 1, 0])
>>> table.numeric_features, table.categorical_features
(['amount'], ['merchant'])
>>> table.preprocessor().fit_transform(table.x).shape  # 1 scaled number + 2 one-hot columns
(4, 3)
>>> try:
...     load_table(path, "fraud")
... except DataError as error:
...     print(error)
Column 'fraud' not found in transactions.csv; columns are: amount, merchant, is_fraud (did you mean 'is_fraud'?)
"""

from __future__ import annotations

import bz2
import csv
import difflib
import gzip
import importlib.util
import lzma
import math
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from imbalance.labels import count_labels, inspect_labels
from imbalance.splits import stratify_key

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

__all__ = ["DataError", "DataFileNotFoundError", "SUPPORTED_EXTENSIONS", "Table", "load_table"]

SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".npz", ".dat")
_COMPRESSIONS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TEXT_EXTENSIONS = (".csv", ".tsv", ".tab")
# Reading a damaged file: BadGzipFile, corrupt bz2 (OSError), deflate (zlib.error), xz (LZMAError); truncated: EOFError
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)
ID_LIKE_MIN = 50  # a categorical column with more distinct values than this and than half its rows: a warning
NUMERIC_SHARE = 0.9  # a column with at least this share of numbers (and some non-numbers) is numeric with garbage
_MISSING = ("?", "<null>")  # missing-value markers of UCI/KEEL files, on top of pandas' defaults ("", "NA", ...)
_KNOWN_PAIRS: dict[str, int] = {  # two-class values that already say which one is positive
    "0": 0, "1": 1, "-1": 0, "false": 0, "true": 1, "no": 0, "yes": 1,
    "negative": 0, "positive": 1, "neg": 0, "pos": 1,
}
_PAIRS = [{"0", "1"}, {"-1", "1"}, {"false", "true"}, {"no", "yes"}, {"negative", "positive"}, {"neg", "pos"}]


class DataError(ValueError):
    """A problem with a data file: the one-line message names the file, the line or row, the column and the value.

    >>> issubclass(DataError, ValueError)
    True
    """


class DataFileNotFoundError(DataError, FileNotFoundError):
    """The data file does not exist (both a :class:`DataError` and a ``FileNotFoundError``).

    >>> issubclass(DataFileNotFoundError, FileNotFoundError)
    True
    """


# --- the result ----------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Table:
    """A labelled table read by :func:`load_table`.

    Attributes:
        x: the raw features (pandas DataFrame, ``RangeIndex``): numeric columns as float64, categorical columns as
            text; missing values are NaN (the preprocessor imputes them).
        y: class ids ``(n,)`` int64 in ``0..K-1`` for one target column; a multi-hot ``(n, L)`` int64 matrix for
            several target columns.
        class_names: the original target values as text, in id order; for multi-label, the target column names.
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"`` (decided by :mod:`imbalance.labels`).
        feature_names: the feature columns, in file order.
        numeric_features / categorical_features: how each feature is preprocessed.
        source: the file it was read from.
        target: the target column name, or the list of names for multi-label.

    >>> t = Table(pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]}), np.array([0, 0, 1, 1]), ["no", "yes"], "binary",
    ...           ["a"], ["a"], [], Path("t.csv"), "label")
    >>> t.num_classes, t.preprocessor().fit_transform(t.x).ravel().round(3).tolist()
    (2, [-1.342, -0.447, 0.447, 1.342])
    """

    x: pd.DataFrame
    y: np.ndarray
    class_names: list[str]
    task: str
    feature_names: list[str]
    numeric_features: list[str]
    categorical_features: list[str]
    source: Path
    target: str | list[str] = field(default="")

    @property
    def num_classes(self) -> int:
        """The number of classes (binary: 2), or of labels for multi-label."""
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (
            f"Table(source={str(self.source)!r}, rows={len(self.y)}, features={len(self.feature_names)} "
            f"({len(self.numeric_features)} numeric, {len(self.categorical_features)} categorical), "
            f"task={self.task!r}, class_names={self.class_names!r})"
        )

    def preprocessor(self) -> ColumnTransformer:
        """A fresh, unfitted scikit-learn ``ColumnTransformer`` for ``x``: numeric columns median-imputed then
        standardised (``StandardScaler``), categorical columns imputed with their most frequent value then one-hot
        encoded (``OneHotEncoder(handle_unknown="ignore")``: a category first seen at test time is all zeros).
        Fit it on the training rows only; its output is a dense float array.

        >>> t = Table(pd.DataFrame({"n": [1.0, np.nan, 3.0], "c": ["a", "b", None]}), np.array([0, 1, 0]),
        ...           ["0", "1"], "binary", ["n", "c"], ["n"], ["c"], Path("t.csv"))
        >>> t.preprocessor().fit_transform(t.x).round(2).tolist()  # NaN -> median 2.0; None -> "a"
        [[-1.22, 1.0, 0.0], [0.0, 0.0, 1.0], [1.22, 1.0, 0.0]]
        """
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        parts = []
        if self.numeric_features:
            numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
            parts.append(("numeric", numeric, list(self.numeric_features)))
        if self.categorical_features:
            categorical = Pipeline([
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ])
            parts.append(("categorical", categorical, list(self.categorical_features)))
        return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)

    def split(self, test_size: float = 0.2, val_size: float = 0.0, seed: int | None = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stratified ``(train, val, test)`` row indices (``val`` is empty when ``val_size=0``).

        Sizes are fractions of all rows. Single target: stratified on the class. Multi-label (scikit-learn cannot
        stratify on several columns): stratified on each row's rarest positive label (rows without any positive
        form their own group), which keeps every label in every split when it has enough rows. Groups with a
        single row are pooled so that stratification stays possible.

        >>> t = Table(pd.DataFrame({"a": np.arange(20.0)}), np.array([0] * 15 + [1] * 5), ["0", "1"], "binary",
        ...           ["a"], ["a"], [], Path("t.csv"))
        >>> train, val, test = t.split(test_size=0.2, seed=0)
        >>> len(train), len(val), len(test), int(t.y[test].sum())
        (16, 0, 4, 1)
        """
        from sklearn.model_selection import train_test_split

        for name, value in (("test_size", test_size), ("val_size", val_size)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"`{name}` must be a fraction in [0, 1). Received: {name}={value!r}")
        if test_size + val_size >= 1.0 or test_size == 0.0:
            raise ValueError(
                "`test_size` must be > 0 and `test_size + val_size` < 1. "
                f"Received: test_size={test_size!r}, val_size={val_size!r}"
            )
        rows = np.arange(len(self.y))
        key = stratify_key(self.y)
        try:
            rest, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=key)
            if val_size == 0.0:
                return np.sort(rest), np.array([], dtype=np.int64), np.sort(test)
            rest_key = stratify_key(self.y[rest])
            train, val = train_test_split(rest, test_size=val_size / (1.0 - test_size), random_state=seed,
                                          stratify=rest_key)
        except ValueError as error:
            raise ValueError(
                f"Cannot make a stratified split of {len(rows)} rows with test_size={test_size}, "
                f"val_size={val_size}: {error}"
            ) from None
        return np.sort(train), np.sort(val), np.sort(test)


# --- entry point ---------------------------------------------------------------------------------------------


def load_table(
    path: str | os.PathLike,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> Table:
    """Read a labelled table from a CSV, TSV, Parquet, NPZ or KEEL ``.dat`` file (see the module docstring).

    Args:
        path: the file; its extension picks the reader (``.csv``, ``.tsv``, ``.tab``, ``.parquet``, ``.pq``,
            ``.npz``, ``.dat``; text formats may be compressed: ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``).
        target: the label column, or several 0/1 columns for a multi-label problem. May be None for a KEEL file
            (its ``@outputs`` attribute, else the last attribute) and for an NPZ file with arrays ``x`` and ``y``.
        features: the feature columns to use (default: a KEEL file's ``@inputs``, else every column that is not a
            target).
        categorical: columns to treat as categorical even when their values look like numbers.
        encoding: text encoding of CSV/TSV/KEEL files.

    Returns:
        A :class:`Table`; fit ``table.preprocessor()`` on the training rows only.

    Raises:
        DataError: unsupported extension (lists the supported ones), missing file (a ``FileNotFoundError`` too),
            empty file, a target or feature column that does not exist (lists the columns), a missing target value,
            a target with one class, a numeric column holding text, a malformed line, a column named twice, a
            damaged or truncated compressed file, an unknown encoding — naming file, line, column.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tags.tsv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("size\\tsport\\tnews\\n1.5\\t1\\t0\\n2.0\\t0\\t0\\n0.5\\t1\\t1\\n")
    >>> t = load_table(path, ["sport", "news"])
    >>> t.task, t.class_names, t.y.tolist()
    ('multilabel', ['sport', 'news'], [[1, 0], [0, 0], [1, 1]])
    """
    path = Path(os.fspath(path))
    name = path.name
    ext, compression = _extension(path)
    if ext not in SUPPORTED_EXTENSIONS or (compression and ext not in _TEXT_EXTENSIONS):
        shown = "".join(path.suffixes[-2:]) if compression else path.suffix
        raise DataError(f"Unsupported file type {shown or '(none)'!r} for {name}; supported: "
                        f"{', '.join(SUPPORTED_EXTENSIONS)} (CSV/TSV may be compressed: .gz, .bz2, .xz)")
    if not path.exists():
        raise DataFileNotFoundError(f"File not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a data file")
    try:
        "".encode(encoding)  # refuses unknown names and codecs that are not text encodings (base64, rot13)
    except (LookupError, TypeError):
        raise DataError(f"Unknown text encoding {encoding!r} for {name}; pass a codec name such as 'utf-8', "
                        "'latin-1' or 'cp1252'") from None
    targets = _check_target_arg(target)
    features = _check_names("features", features)
    categorical = _check_names("categorical", categorical) or []

    if ext in _TEXT_EXTENSIONS:
        if targets is None:
            raise DataError(_needs_target(name, [c.strip() for c in _csv_header(path, ext, compression, encoding)[0]]))
        frame, where, targets = _read_csv(path, ext, compression, encoding, targets, features)
    elif ext in (".parquet", ".pq"):
        frame, where = _read_parquet(path)
        if targets is None:
            raise DataError(_needs_target(name, list(frame.columns)))
    elif ext == ".npz":
        frame, where, targets, labels = _read_npz(path, targets)
        return _build(frame, where, name, path, targets, features, categorical, labels)
    else:
        frame, where, targets, declared, inputs = _read_keel(path, encoding, targets)
        categorical = list(categorical) + [c for c in declared if c not in categorical]
        features = inputs if features is None and inputs else features
    return _build(frame, where, name, path, targets, features, categorical)


# --- arguments -----------------------------------------------------------------------------------------------


def _extension(path: Path) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        return (suffixes[-2] if len(suffixes) > 1 else ""), suffixes[-1]
    return (suffixes[-1] if suffixes else ""), None


def _check_target_arg(target: Any) -> list[str] | None:
    if target is None:
        return None
    names = [target] if isinstance(target, str) else target
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(t, str) and t for t in names):
        raise TypeError(
            f"`target` must be a column name or a non-empty list of column names. Received: target={target!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"`target` names a column twice. Received: target={list(names)!r}")
    return list(names)


def _check_names(what: str, names: Any) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"`{what}` must be a list of column names or None. Received: {what}={names!r}")
    return list(names)


def _needs_target(name: str, columns: Sequence[Any]) -> str:
    return f"A target column is required for {name}; columns are: {_listing(columns)}"


def _listing(columns: Sequence[Any], limit: int = 40) -> str:
    shown = ", ".join(str(c) for c in list(columns)[:limit])
    return shown + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def _not_found(column: str, name: str, columns: Sequence[Any]) -> DataError:
    message = f"Column {column!r} not found in {name}; columns are: {_listing(columns)}"
    close = difflib.get_close_matches(column, [str(c) for c in columns], n=1)
    if not close:
        lowered = {str(c).lower(): str(c) for c in columns}
        close = [lowered[column.lower()]] if column.lower() in lowered else []
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return DataError(message)


# --- readers: each gives a frame of raw values and `where(row) -> "line 7"` ------------------------------------


def _open_text(path: Path, compression: str | None, encoding: str) -> Any:
    opener = _COMPRESSIONS.get(compression or "", open)
    return opener(path, "rt", encoding=encoding, errors="strict", newline="")


def _decode_error(name: str, error: UnicodeDecodeError, encoding: str) -> DataError:
    return DataError(
        f"{name} is not valid {encoding} text (byte {error.object[error.start:error.start + 1]!r} at offset "
        f"{error.start}); pass encoding='latin-1' (or the file's encoding) to load_table"
    )


def _unreadable(name: str, compression: str | None, error: BaseException) -> DataError:
    """One line for a file that cannot be read: a damaged or truncated compressed stream, an OS error."""
    text, kind = (str(error).strip() or type(error).__name__).splitlines()[0], _pandas_compression(compression)
    if kind is None:
        return DataError(f"Cannot read {name}: {text}")
    why = "ends early: the file is truncated" if isinstance(error, EOFError) else f"is damaged (or not {kind} at all)"
    return DataError(f"Cannot read {name}: its {kind} data {why} ({text})")


def _check_twice(columns: Sequence[str], name: str) -> None:  # a column named twice: both positions, 1-based
    twice = next((c for i, c in enumerate(columns) if c and c in columns[:i]), None)
    if twice is not None:
        first, second = [i + 1 for i, c in enumerate(columns) if c == twice][:2]
        raise DataError(f"The header of {name} names two columns {twice!r} (columns {first} and {second}); rename one")


def _csv_header(path: Path, ext: str, compression: str | None, encoding: str) -> tuple[list[str], str]:
    """The column names and the separator (``;`` for a .csv whose header has ``;`` but no comma); a name given twice
    is refused from the header line itself (pandas renames the second ``a`` to ``a.1``)."""
    name = path.name
    sep = "," if ext == ".csv" else "\t"
    try:
        with _open_text(path, compression, encoding) as handle:
            first = ""
            for line in handle:
                if line.strip():
                    first = line.lstrip("\ufeff")
                    break
    except UnicodeDecodeError as error:
        raise _decode_error(name, error, encoding) from None
    except _READ_ERRORS as error:
        raise _unreadable(name, compression, error) from None
    if not first:
        raise DataError(f"{name} is empty")
    if sep == "," and "," not in first and ";" in first:
        sep = ";"
    _check_twice([n.strip() for n in next(csv.reader([first.rstrip("\r\n")], delimiter=sep, skipinitialspace=True))],
                 name)
    try:  # pandas' own reading of the header, so that names match the full read
        header = pd.read_csv(path, sep=sep, encoding=encoding, skipinitialspace=True, nrows=0,
                             compression=_pandas_compression(compression)).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"Cannot parse the header of {name}: {str(error).strip().splitlines()[0]}") from None
    except _READ_ERRORS as error:
        raise _unreadable(name, compression, error) from None
    return [str(h) for h in header], sep


def _read_csv(path: Path, ext: str, compression: str | None, encoding: str, targets: list[str],
              features: list[str] | None) -> tuple[pd.DataFrame, Callable[[int], str], list[str]]:
    name = path.name
    raw, sep = _csv_header(path, ext, compression, encoding)
    columns = [c.strip() for c in raw]
    raw_of = dict(zip(columns, raw))
    for column in targets + (features or []):
        if column not in raw_of:
            raise _not_found(column, name, columns)
    usecols = None if features is None else [raw_of[c] for c in dict.fromkeys(features + targets)]
    try:
        frame = pd.read_csv(
            path, sep=sep, encoding=encoding, skipinitialspace=True, low_memory=False, usecols=usecols,
            na_values=list(_MISSING), dtype={raw_of[t]: str for t in targets},
            compression=_pandas_compression(compression),
            decimal="," if sep == ";" else ".",
        )
    except UnicodeDecodeError as error:
        raise _decode_error(name, error, encoding) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty") from None
    except _READ_ERRORS as error:
        raise _unreadable(name, compression, error) from None
    except pd.errors.ParserError as error:
        try:  # a malformed line before the damage of a damaged compressed file
            wide = next(((line, n) for line, n in _record_lines(path, compression, encoding, sep)
                         if n > len(raw)), None)
        except _READ_ERRORS as read_error:
            raise _unreadable(name, compression, read_error) from None
        if wide is not None:
            raise DataError(
                f"{name}, line {wide[0]}: expected {len(raw)} fields (as in the header), found {wide[1]}"
            ) from None
        raise DataError(f"Cannot parse {name}: {str(error).strip().splitlines()[0]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no data rows")
    lines: list[int] = []  # filled on the first error message

    def where(row: int) -> str:
        if not lines:
            lines.extend(line for line, _ in _record_lines(path, compression, encoding, sep))
        return f"line {lines[row]}" if row < len(lines) else f"data row {row + 1}"

    return frame.reset_index(drop=True), where, targets


def _pandas_compression(compression: str | None) -> str | None:
    return {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}.get(compression or "")


def _record_lines(path: Path, compression: str | None, encoding: str, sep: str) -> list[tuple[int, int]]:
    """``(line, fields)`` for each data record: the 1-based line where it starts and its number of fields, skipping
    blank lines as pandas does. Computed only for an error message (a quoted line break makes a record span lines,
    so the row index alone does not give the line)."""
    records: list[tuple[int, int]] = []
    with _open_text(path, compression, encoding) as handle:
        reader = csv.reader(handle, delimiter=sep, skipinitialspace=True)
        end = 0
        for record in reader:
            start, end = end + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            records.append((start, len(record)))
    return records[1:]  # the first non-blank record is the header


def _parquet_engine() -> str | None:
    """The installed Parquet engine pandas can use, or None."""
    return next((e for e in ("pyarrow", "fastparquet") if importlib.util.find_spec(e) is not None), None)


def _read_parquet(path: Path) -> tuple[pd.DataFrame, Callable[[int], str]]:
    name = path.name
    engine = _parquet_engine()
    if engine is None:
        raise DataError(f"Reading {name} needs a Parquet engine: pip install pyarrow (or fastparquet)")
    try:
        frame = pd.read_parquet(path, engine=engine)
    except Exception as error:  # engines raise their own error types for corrupt files
        raise DataError(f"Cannot read {name} as Parquet: {str(error).strip().splitlines()[0]}") from None
    frame.columns = [str(c) for c in frame.columns]
    _check_twice(list(frame.columns), name)
    if frame.shape[1] == 0:
        raise DataError(f"{name} is empty")
    if len(frame) == 0:
        raise DataError(f"{name} has columns but no rows")
    return frame.reset_index(drop=True), lambda row: f"row {row}"


def _read_npz(path: Path, targets: list[str] | None) -> tuple[pd.DataFrame, Callable[[int], str], list[str], Any]:
    """An NPZ file: ``x`` + ``y`` (labels decided here) or one 1-D array per column (labels decided as for CSV).
    The last item is ``(y, class_names, task)`` for the ``x``/``y`` form, else None."""
    name = path.name
    damaged = "a damaged or truncated file, or not written by numpy.savez?"
    if not zipfile.is_zipfile(path):
        raise DataError(f"Cannot read {name} as NPZ: it is not a zip archive ({damaged})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(
                f"{name} holds object arrays, which are not loaded (unsafe pickles); save text as fixed-width "
                "strings, e.g. np.asarray(column, dtype=str)"
            ) from None
        raise DataError(f"Cannot read {name} as NPZ: {error}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise DataError(f"Cannot read {name} as NPZ: {error} ({damaged})") from None
    if not arrays:
        raise DataError(f"{name} is empty (no arrays)")
    where = lambda row: f"row {row}"  # noqa: E731
    if "x" in arrays:
        if targets is None:
            label_key = "y"
        elif len(targets) == 1 and targets[0] in arrays and targets[0] != "x":
            label_key = targets[0]
        else:
            raise _not_found(targets[0] if targets[0] not in arrays else str(targets), name, list(arrays))
        if label_key not in arrays:
            raise DataError(f"{name} has no array 'y'; arrays are: {_listing(list(arrays))} (pass target=...)")
        frame, labels = _npz_xy(name, arrays, label_key, where)
        return frame, where, [label_key], labels
    lengths = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if all(a.ndim == 1 for a in arrays.values()) and len(lengths) == 1:
        if targets is None:
            raise DataError(_needs_target(name, list(arrays)))
        frame = pd.DataFrame({key: _npz_column(a) for key, a in arrays.items()})
        if len(frame) == 0:
            raise DataError(f"{name} has arrays but no rows")
        return frame, where, targets, None
    shapes = ", ".join(f"{k} {arrays[k].shape}" for k in arrays)
    raise DataError(
        f"{name} must hold arrays 'x' (rows, features) and 'y' (the labels), or one 1-D array per column of the "
        f"same length; it holds: {shapes}"
    )


def _npz_column(a: np.ndarray) -> Any:
    return a.astype(object) if a.dtype.kind in "US" else a


def _npz_xy(name: str, arrays: dict[str, np.ndarray], label_key: str, where: Callable[[int], str]
            ) -> tuple[pd.DataFrame, tuple[np.ndarray, list[str], str]]:
    """Features from ``x``; labels from ``y``: numeric ids and indicator matrices are kept as they are (read by
    :mod:`imbalance.labels`), text labels follow the table rules."""
    x, y = arrays["x"], arrays[label_key]
    x = x.reshape(-1, 1) if x.ndim == 1 else x
    if x.ndim != 2:
        raise DataError(
            f"{name}: 'x' must be 2-D (rows, features) for a table; it has shape {x.shape} (pass image arrays "
            "directly as (x, y) instead)"
        )
    if y.ndim == 0 or y.ndim > 2 or y.shape[0] != x.shape[0]:
        raise DataError(
            f"{name}: {label_key!r} must have one row per row of 'x' ({x.shape[0]}); it has shape {y.shape}"
        )
    if x.shape[0] == 0:
        raise DataError(f"{name} has arrays but no rows")
    feature_names = _npz_names(arrays, "feature_names", x.shape[1], [f"x{i}" for i in range(x.shape[1])], name)
    frame = pd.DataFrame({f: _npz_column(x[:, i]) for i, f in enumerate(feature_names)})
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.dtype.kind not in "biuf":  # text labels: the same rules as a table column
        ids, class_names = _single_target(pd.Series(_npz_column(y)), label_key, name, where)
        return frame, (ids, class_names, inspect_labels(ids).task)
    if y.dtype.kind == "f":
        missing = np.isnan(y).any(axis=1) if y.ndim == 2 else np.isnan(y)
        if missing.any():
            _check_no_missing(pd.Series(np.where(missing, np.nan, 0.0)), label_key, name, where)
    try:
        info = inspect_labels(y)
    except ValueError as error:
        raise DataError(f"{name}: {label_key!r} is not a label array: {error}") from None
    if info.format == "one_hot":
        y = np.argmax(y, axis=1)
    y = np.asarray(y, dtype=np.int64)
    k = info.num_classes
    default = [f"label_{j}" for j in range(k)] if info.task == "multilabel" else [str(j) for j in range(k)]
    class_names = _npz_names(arrays, "class_names", k, default, name)
    counts = count_labels(y, info.task, k)
    if info.task != "multilabel" and np.count_nonzero(counts) < 2:
        raise DataError(
            f"Target {label_key!r} in {name} has a single class ({class_names[int(np.argmax(counts))]!r} in all "
            f"{len(y)} rows); a classifier needs at least two classes"
        )
    return frame, (y, class_names, info.task)


def _npz_names(arrays: dict[str, np.ndarray], key: str, size: int, default: list[str], name: str) -> list[str]:
    if key not in arrays:
        return default
    names = [str(v) for v in np.ravel(arrays[key])]
    if len(names) != size or len(set(names)) != size:
        raise DataError(f"{name}: {key!r} must hold {size} distinct names; it holds {names!r}")
    return names


_ATTRIBUTE = re.compile(r"""^@attribute\s+(?:'([^']*)'|"([^"]*)"|([^\s{\[]+))\s*(.*)$""", re.IGNORECASE)


def _read_keel(path: Path, encoding: str, targets: list[str] | None
               ) -> tuple[pd.DataFrame, Callable[[int], str], list[str], list[str], list[str]]:
    """Parse a KEEL ``.dat`` file: typed attributes, exact line numbers. Gives the frame, ``where``, the targets
    (default: ``@outputs``, else the last attribute), the nominal attributes and the ``@inputs`` (may be empty)."""
    name = path.name
    attributes: list[str] = []
    numeric: dict[str, bool] = {}
    inputs: list[str] = []
    outputs: list[str] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    in_data = False
    try:
        with _open_text(path, None, encoding) as handle:
            for number, raw in enumerate(handle, start=1):
                text = raw.strip().lstrip("\ufeff")
                if not text or text.startswith("%"):
                    continue
                if not in_data:
                    keyword = text.split(None, 1)[0].lower()
                    if not text.startswith("@"):
                        raise DataError(f"{name}, line {number}: expected a KEEL header line starting with @ "
                                        f"(@relation, @attribute, @inputs, @outputs, @data); found {text[:40]!r}")
                    if keyword == "@attribute":
                        found = _ATTRIBUTE.match(text)
                        if not found:
                            raise DataError(f"{name}, line {number}: cannot read the attribute {text!r}")
                        attr = next(g for g in found.groups()[:3] if g is not None)
                        kind = found.group(4).strip()
                        if not kind:
                            raise DataError(f"{name}, line {number}: attribute {attr!r} has no type")
                        attributes.append(attr)
                        numeric[attr] = not kind.startswith("{")
                    elif keyword in ("@outputs", "@output", "@inputs", "@input"):
                        parts = text.split(None, 1)
                        listed = [o.strip() for o in parts[1].split(",") if o.strip()] if len(parts) > 1 else []
                        (inputs if keyword.startswith("@input") else outputs)[:] = listed
                    elif keyword == "@data":
                        in_data = True
                    continue
                fields = [f.strip() for f in next(csv.reader([text], skipinitialspace=True))]
                if len(fields) != len(attributes):
                    raise DataError(f"{name}, line {number}: expected {len(attributes)} values (one per @attribute), "
                                    f"found {len(fields)}")
                rows.append(fields)
                lines.append(number)
    except UnicodeDecodeError as error:
        raise _decode_error(name, error, encoding) from None
    if not attributes and not rows:
        raise DataError(f"{name} is empty")
    if not in_data:
        raise DataError(f"{name} has no @data line; is it a KEEL .dat file?")
    if not rows:
        raise DataError(f"{name} has a header but no data rows")
    _check_twice(attributes, name)
    frame = pd.DataFrame(rows, columns=attributes, dtype=object).replace(list(_MISSING) + [""], np.nan)
    where = lambda row: f"line {lines[row]}"  # noqa: E731
    for attr in attributes:
        if numeric[attr]:
            parsed = pd.to_numeric(frame[attr], errors="coerce")
            bad = parsed.isna() & frame[attr].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"{name}, {where(row)}, column {attr!r}: {frame[attr].iloc[row]!r} is not a number "
                                "(the attribute is declared numeric)")
            frame[attr] = parsed.astype(np.float64)
    for keyword, listed in (("@inputs", inputs), ("@outputs", outputs)):
        for attr in listed:
            if attr not in numeric:
                raise DataError(f"{name}: {keyword} names {attr!r}, which is not an @attribute; attributes are: "
                                f"{_listing(attributes)}")
    if targets is None:
        targets = list(outputs or attributes[-1:])
    nominal = [a for a in attributes if not numeric[a]]
    return frame, where, targets, nominal, [a for a in inputs if a not in targets]


# --- from raw frame to Table ---------------------------------------------------------------------------------


def _build(frame: pd.DataFrame, where: Callable[[int], str], name: str, path: Path, targets: list[str],
           features: list[str] | None, categorical: list[str],
           labels: tuple[np.ndarray, list[str], str] | None = None) -> Table:
    """Labels (unless already decided: ``labels``) and typed features from a frame of raw values."""
    columns = list(frame.columns)
    for column in [*(targets if labels is None else []), *(features or []), *categorical]:
        if column not in columns:
            raise _not_found(column, name, columns)
    overlap = [c for c in features or [] if c in targets]
    if overlap:
        raise DataError(f"Column {overlap[0]!r} of {name} is both a target and a feature")
    features = [c for c in columns if c not in targets] if features is None else features
    if not features:
        raise DataError(f"{name} has no feature columns besides the target {_target_text(targets)}")

    if labels is not None:
        y, class_names, task = labels
    elif len(targets) == 1:
        y, class_names = _single_target(frame[targets[0]], targets[0], name, where)
        task = inspect_labels(y).task
    else:
        y = np.stack([_indicator(frame[t], t, name, where) for t in targets], axis=1)
        class_names = list(targets)
        task = inspect_labels(y, task="multilabel").task

    x = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    numeric_features: list[str] = []
    categorical_features: list[str] = []
    for column in features:
        values, is_numeric = _feature(frame[column], column, name, where, column in categorical)
        x[column] = values
        (numeric_features if is_numeric else categorical_features).append(column)
    return Table(x=x, y=y, class_names=class_names, task=task, feature_names=list(features),
                 numeric_features=numeric_features, categorical_features=categorical_features, source=path,
                 target=targets[0] if len(targets) == 1 else list(targets))


def _target_text(targets: list[str]) -> str:
    return repr(targets[0]) if len(targets) == 1 else repr(list(targets))


def _as_text(column: pd.Series) -> pd.Series:
    """Values as stripped text (whole floats without ``.0``), missing and empty values as NaN. Each distinct value
    is converted once (``pd.factorize``), so long columns with few categories are fast."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = np.array([_text(v) for v in np.asarray(uniques, dtype=object)] + [np.nan], dtype=object)
    return pd.Series(texts[codes], index=column.index, dtype=object)  # code -1 (missing) picks the last entry


def _text(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < 2.0**53:
            return str(int(number))
        return repr(number)
    text = str(value).strip()
    return text if text else np.nan


def _check_no_missing(text: pd.Series, column: str, name: str, where: Callable[[int], str]) -> None:
    missing = np.flatnonzero(text.isna().to_numpy())
    if missing.size:
        more = ""
        if missing.size > 1:
            shown = ", ".join(where(int(r)) for r in missing[1:4]) + (", ..." if missing.size > 4 else "")
            more = f" ({missing.size - 1} more rows without a label: {shown})"
        raise DataError(
            f"{name}, {where(int(missing[0]))}: target column {column!r} has no value{more}; drop or fill in the rows "
            "without a label"
        )


def _single_target(column: pd.Series, target: str, name: str, where: Callable[[int], str]
                   ) -> tuple[np.ndarray, list[str]]:
    text = _as_text(column)
    _check_no_missing(text, target, name, where)
    values = text.to_numpy(dtype=object)
    classes, ids, counts = np.unique(values.astype(str), return_inverse=True, return_counts=True)
    classes = [str(c) for c in classes]
    if len(classes) < 2:
        raise DataError(f"Target column {target!r} in {name} has a single class ({classes[0]!r} in all "
                        f"{len(values)} rows); a classifier needs at least two classes")
    numbers = pd.to_numeric(pd.Series(classes), errors="coerce").to_numpy(dtype=np.float64)
    all_numeric = bool(np.all(np.isfinite(numbers)))
    if all_numeric and not np.all(numbers == np.round(numbers)):
        bad = classes[int(np.argmax(numbers != np.round(numbers)))]
        row = int(np.argmax(values.astype(str) == bad))
        raise DataError(
            f"{name}, {where(row)}: target column {target!r} holds {bad!r}; class labels must be whole numbers or "
            f"text ({len(classes)} distinct values: is it a continuous column?)"
        )
    order = sorted(range(len(classes)), key=lambda k: numbers[k] if all_numeric else classes[k])
    if len(classes) == 2:
        lowered = {classes[k].lower() if not all_numeric else str(int(numbers[k])) for k in order}
        if lowered in _PAIRS:
            key = lambda k: _KNOWN_PAIRS[classes[k].lower() if not all_numeric else str(int(numbers[k]))]  # noqa: E731
            order = sorted(order, key=key)
        elif counts[order[0]] < counts[order[1]]:  # the rarer class is the positive one (id 1)
            order = [order[1], order[0]]
    rank = np.empty(len(classes), dtype=np.int64)
    rank[order] = np.arange(len(classes))
    return rank[ids].astype(np.int64), [classes[k] for k in order]


def _indicator(column: pd.Series, target: str, name: str, where: Callable[[int], str]) -> np.ndarray:
    """A 0/1 label column of a multi-label target."""
    text = _as_text(column)
    _check_no_missing(text, target, name, where)
    values = text.to_numpy(dtype=object).astype(str)
    lowered = np.char.lower(values)
    mapped = np.array([_indicator_value(v) for v in lowered], dtype=np.int64)
    bad = mapped < 0
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{name}, {where(row)}, column {target!r}: {str(values[row])!r} is not a 0/1 label; each target column "
            "of a multi-label problem must hold 0/1 (or true/false, yes/no)"
        )
    distinct = set(lowered.tolist())
    if len(distinct) == 2 and distinct not in _PAIRS and not distinct <= {"0", "1", "0.0", "1.0"}:
        raise DataError(f"Target column {target!r} in {name} mixes label spellings {sorted(distinct)!r}; use one "
                        "pair such as 0/1")
    if mapped.min() == mapped.max():
        raise DataError(f"Target column {target!r} in {name} is {int(mapped[0])} in all {len(mapped)} rows; a label "
                        "needs rows with 0 and rows with 1 (drop the column)")
    return mapped


def _indicator_value(v: str) -> int:
    if v in ("1", "1.0", "true", "yes", "positive", "pos"):
        return 1
    if v in ("0", "0.0", "false", "no", "negative", "neg"):
        return 0
    return -1


def _feature(column: pd.Series, feature: str, name: str, where: Callable[[int], str], force_categorical: bool
             ) -> tuple[pd.Series, bool]:
    """The column as float64 (numeric) or text (categorical); garbage in a numeric column raises."""
    if not force_categorical and column.dtype.kind in "iuf":
        values = pd.Series(column.to_numpy(dtype=np.float64, na_value=np.nan), index=column.index)
        _check_finite(values, feature, name, where)
        return values, True
    if force_categorical or column.dtype.kind == "b":
        return _as_text(column), False
    text = _as_text(column)
    present = text.notna().to_numpy()
    if not present.any():  # an empty column: numeric, imputed (and dropped by the imputer)
        return pd.Series(np.full(len(text), np.nan), index=text.index), True
    codes, uniques = pd.factorize(text, use_na_sentinel=True)  # parse each distinct value once
    numbers = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce").to_numpy(np.float64)
    parsed = pd.Series(np.append(numbers, np.nan)[codes], index=text.index)
    bad = present & parsed.isna().to_numpy()
    share = 1.0 - bad.sum() / present.sum()
    if not bad.any():
        values = parsed.astype(np.float64)
        _check_finite(values, feature, name, where)
        return values, True
    if share >= NUMERIC_SHARE:
        row = int(np.argmax(bad))
        others = int(bad.sum()) - 1
        raise DataError(
            f"{name}, {where(row)}, column {feature!r}: {text.iloc[row]!r} is not a number, but "
            f"{share:.1%} of the column's values are numbers"
            + (f" ({others} other non-numbers)" if others else "")
            + f"; fix the value or pass categorical=[{feature!r}]"
        )
    distinct = len(uniques)
    if distinct > max(ID_LIKE_MIN, 0.5 * present.sum()):
        warnings.warn(
            f"{name}: categorical column {feature!r} has {distinct} distinct values in {int(present.sum())} rows "
            f"(an identifier or free text?); one-hot encoding adds {distinct} inputs. Leave it out with "
            "features=[...] unless it carries signal.",
            UserWarning,
            stacklevel=4,
        )
    return text, False


def _check_finite(values: pd.Series, feature: str, name: str, where: Callable[[int], str]) -> None:
    arr = values.to_numpy()
    infinite = np.isinf(arr)
    if infinite.any():
        row = int(np.argmax(infinite))
        raise DataError(f"{name}, {where(row)}, column {feature!r}: {float(arr[row])!r} is not a finite number")
