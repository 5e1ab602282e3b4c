"""Feature sources: labels in memory, features read per batch through ``tf.data``.

Labels are small even when features are not. A source holds its labels (one per row) and knows how to read the
features of any rows, so splits, folds, class counts, weights and samplers work on the label vector and on row
indices, and only the rows a batch needs are ever read.

=====================================  =========================================================================
source                                 features
=====================================  =========================================================================
:func:`image_folder`                   an image folder in Keras' layout (one subfolder per class)
:func:`image_table`                    a CSV / Parquet table of image paths and labels (seed 000's
                                       ``image_paths, labels``)
:class:`PipelineSource`                your own pipeline: labels plus ``rows -> tf.data.Dataset`` of features
                                       (TFRecords, a database, anything)
:class:`ArraySource`                   an in-memory array, read by index (what ``compare`` uses to augment
                                       arrays)
=====================================  =========================================================================

Every source yields, for the row indices it is given, a dataset of ``(row, features)`` elements:
:meth:`Source.rows_dataset` takes a function ``epoch -> row indices`` (the sampler's draw of that epoch) and the
number of epochs, so a model's ``fit`` reads epoch after epoch without the indices of all epochs in memory. Images
are decoded in parallel (``num_parallel_calls=AUTOTUNE``) as float32 in ``[0, 255]`` of shape ``(h, w, channels)``,
exactly as :func:`keras.utils.image_dataset_from_directory` gives them (bilinear resize).

:class:`Rows` is a view of some rows of a source; indexing it with row positions gives another view, so code that
slices arrays (``x[train][fit]``) slices a source the same way without reading anything.

>>> import numpy as np
>>> src = ArraySource(np.arange(12, dtype="float32").reshape(6, 2), [0, 0, 0, 0, 1, 1])
>>> view = Rows(src, np.array([5, 1, 3]))[np.array([0, 2])]
>>> view.indices.tolist(), view.shape
([5, 3], (2, 2))
>>> [(int(i), x.tolist()) for i, x in src.rows_dataset(lambda epoch: view.indices, epochs=1).as_numpy_iterator()]
[(5, [10.0, 11.0]), (3, [6.0, 7.0])]
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from imbalance.data.io import DataError

__all__ = ["IMAGE_EXTENSIONS", "ArraySource", "Feed", "ImageFiles", "PipelineSource", "Rows", "Source", "feed_scope",
           "image_folder", "image_table", "in_order", "increasing", "is_source", "row_values"]

#: The image files an image source reads (those of :func:`keras.utils.image_dataset_from_directory`).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


class Source:
    """Labels in memory and the features of any rows on demand.

    Subclasses set ``labels`` (one per row, as given: ids or names), ``class_names`` (or ``None``: read from the
    labels), ``input_shape`` (one row's features), ``kind`` and ``name``, and implement :meth:`rows_dataset` and
    :meth:`fingerprint`.
    """

    kind: str = "source"
    name: str = "source"
    labels: np.ndarray
    class_names: list[str] | None = None
    input_shape: tuple[int, ...] = ()
    ordered: bool = True

    def fit_transform(self, rows: np.ndarray, seed: int = 0) -> Any:
        """A feature transformation fitted on (a sample of) ``rows`` only, passed back to :meth:`rows_dataset`;
        ``None`` for sources whose features need none (images, arrays, your pipeline)."""
        return None

    def __len__(self) -> int:
        return int(len(self.labels))

    def rows_dataset(self, draw: Callable[[int], np.ndarray], epochs: int = 1, transform: Any = None) -> Any:
        """A ``tf.data.Dataset`` of ``(row, features)``: the rows ``draw(0)`` in that order, then ``draw(1)``, … for
        ``epochs`` epochs. ``row`` is an int64 scalar (the row's index in the source).

        A source with ``ordered = False`` (a table streamed from disk) yields each epoch's rows in an order of its
        own (a scan with a shuffle buffer), the same rows as often as ``draw`` lists them; consumers match features
        to labels by ``row``. ``transform`` is what :meth:`fit_transform` returned (sources that need none ignore
        it)."""
        raise NotImplementedError

    def read(self, rows: Sequence[int], transform: Any = None) -> np.ndarray:
        """The features of a few ``rows`` as one array ``(len(rows), *input_shape)``, in the order given (examples,
        samples; a source that reads in its own order is put back in order)."""
        rows = np.asarray(rows, np.int64)
        found = list(self.rows_dataset(lambda epoch: rows, 1, transform).as_numpy_iterator())
        if not found:
            return np.zeros((0, *self.input_shape), np.float32)
        got = np.asarray([int(r) for r, _ in found])
        features = np.stack([x for _, x in found])
        if np.array_equal(got, rows):
            return features
        order = np.argsort(got, kind="stable")
        return features[order][np.searchsorted(got[order], rows)]

    def fingerprint(self) -> str:
        """A short hash that changes when the rows or their features change (cheap: no full read)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What ``imbalance inspect`` shows about the features (the labels are counted separately)."""
        return {"kind": self.kind, "rows": len(self), "input shape": list(self.input_shape)}

    def check_rows(self, draw: Callable[[int], np.ndarray]) -> Callable[[int], np.ndarray]:
        """``draw`` returning integer indices, kept in their dtype (int32 draws stay 4 bytes a row; anything else
        becomes int64); an index outside the source fails here, not deep in ``tf.data``."""
        n = len(self)

        def checked(epoch: int) -> np.ndarray:
            rows = np.asarray(draw(epoch))
            if rows.dtype not in (np.int32, np.int64):
                rows = rows.astype(np.int64)
            rows = rows.reshape(-1)
            if rows.size and (rows.min() < 0 or rows.max() >= n):
                raise IndexError(f"Row indices must lie in [0, {n}). Received a row {int(rows.max())}.")
            return rows

        return Feed(checked)


# --- what a generator-backed dataset reads through -------------------------------------------------------------

_SCOPE: contextvars.ContextVar[list[Feed] | None] = contextvars.ContextVar("imbalance_feeds", default=None)


class Feed:
    """A callable that a ``tf.data`` generator reads its rows (or batches) through.

    TensorFlow keeps every ``Dataset.from_generator`` generator, and so whatever it closes over (row indices, a
    sampler's arrays), alive until the process ends: in eager mode its py_funcs are held by the global default graph.
    A ``compare`` run builds a few such datasets, so each run would leave its rows in memory for good. A feed made
    inside :func:`feed_scope` drops the callable when the scope ends (the run's rows are freed); outside a scope it
    behaves exactly like the callable.

    >>> with feed_scope():
    ...     feed = Feed(lambda epoch: [epoch, epoch])
    ...     feed(3)
    [3, 3]
    >>> feed(3)
    Traceback (most recent call last):
    ...
    RuntimeError: This dataset's rows were released when the compare run that built it ended; build the dataset again.
    """

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn: Callable[..., Any] | None = fn
        scope = _SCOPE.get()
        if scope is not None:
            scope.append(self)

    def __call__(self, *args: Any) -> Any:
        fn = self._fn
        if fn is None:
            raise RuntimeError("This dataset's rows were released when the compare run that built it ended; build "
                               "the dataset again.")
        return fn(*args)

    def release(self) -> None:
        self._fn = None


@contextlib.contextmanager
def feed_scope() -> Iterator[None]:
    """Every :class:`Feed` made inside (every source dataset built inside) is released when the block ends."""
    feeds: list[Feed] = []
    token = _SCOPE.set(feeds)
    try:
        yield
    finally:
        _SCOPE.reset(token)
        for feed in feeds:
            feed.release()


def is_source(value: Any) -> bool:
    """Whether ``value`` is a :class:`Source` (``compare`` and the CLI accept one as data)."""
    return isinstance(value, Source)


def _epochs_of_rows(draw: Callable[[int], np.ndarray], epochs: int) -> Any:
    """A dataset of row indices, epoch after epoch; only one epoch's indices are in memory at a time."""
    import tensorflow as tf

    def generate() -> Any:
        for epoch in range(epochs):
            yield draw(epoch)

    return (tf.data.Dataset.from_generator(generate, output_signature=tf.TensorSpec([None], tf.int64))
            .flat_map(tf.data.Dataset.from_tensor_slices))


# --- arrays ------------------------------------------------------------------------------------------------------


class ArraySource(Source):
    """Features in memory, read by index (a ``tf.gather`` per row): one array, or a dict of arrays for a model with
    several named inputs (``input_shape`` is then a dict of shapes too).

    >>> ArraySource(np.zeros((3, 4, 4)), [0, 1, 1]).input_shape
    (4, 4)
    >>> ArraySource({"image": np.zeros((3, 4, 4)), "age": np.ones((3, 1))}, [0, 1, 1]).input_shape
    {'image': (4, 4), 'age': (1,)}
    """

    kind = "arrays"

    def __init__(self, x: Any, labels: Any, class_names: Sequence[str] | None = None, name: str = "arrays"):
        if isinstance(x, dict):
            self.x = {str(k): _as_feature(v) for k, v in x.items()}
            self.input_shape = {k: tuple(int(s) for s in v.shape[1:]) for k, v in self.x.items()}
            rows = {k: len(v) for k, v in self.x.items()}
        else:
            self.x = _as_feature(x)
            self.input_shape = tuple(int(s) for s in self.x.shape[1:])
            rows = {"x": len(self.x)}
        self.labels = np.asarray(labels)
        bad = {k: n for k, n in rows.items() if n != len(self.labels)}
        if bad:
            raise ValueError(f"The features and the labels must have the same number of rows. Received: "
                             f"{', '.join(f'{k}: {n}' for k, n in bad.items())} rows and {len(self.labels)} labels")
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.name = name

    def rows_dataset(self, draw: Callable[[int], np.ndarray], epochs: int = 1, transform: Any = None) -> Any:
        import tensorflow as tf

        x = tf.nest.map_structure(tf.constant, self.x)
        return _epochs_of_rows(self.check_rows(draw), epochs).map(
            lambda i: (i, tf.nest.map_structure(lambda t: tf.gather(t, i), x)))

    def read(self, rows: Sequence[int], transform: Any = None) -> Any:
        rows = np.asarray(rows, np.int64)
        return {k: v[rows] for k, v in self.x.items()} if isinstance(self.x, dict) else self.x[rows]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for key, value in (sorted(self.x.items()) if isinstance(self.x, dict) else [("x", self.x)]):
            h.update(key.encode())
            h.update(np.ascontiguousarray(value).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        return h.hexdigest()[:16]


def _as_feature(values: Any) -> np.ndarray:
    """float32, or integer ids kept as int32 / int64 (an embedding's input)."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        return array.astype(np.int64 if array.dtype.itemsize > 4 else np.int32)
    return array.astype(np.float32)


# --- images --------------------------------------------------------------------------------------------------------


def _check_image_size(image_size: Any) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, str):
        parts = [p for p in image_size.replace("x", ",").split(",") if p.strip()]
        image_size = parts * 2 if len(parts) == 1 else parts
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"`image_size` must be (height, width) in pixels, e.g. (64, 64) or '64,64'. Received: "
                         f"image_size={image_size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"`image_size` must be positive. Received: image_size={image_size!r}")
    return h, w


def _check_color_mode(color_mode: Any) -> str:
    if color_mode not in _CHANNELS:
        raise ValueError(f"`color_mode` must be one of {list(_CHANNELS)}. Received: color_mode={color_mode!r}")
    return str(color_mode)


def _image_header(path: str) -> tuple[int, int]:
    """(height, width) from the file's header (PIL reads no pixels); a DataError naming the file if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read as an image ({type(error).__name__}: {error}); remove or replace "
                        "it.") from None
    return int(height), int(width)


class ImageFiles(Source):
    """Image files with one label each, decoded per batch in ``tf.data`` (see :func:`image_folder`,
    :func:`image_table`). Every file's header is read once (its size; a file that is not an image fails here)."""

    kind = "images"

    def __init__(self, paths: Sequence[str], labels: Any, class_names: Sequence[str] | None = None, *,
                 image_size: Any = None, color_mode: str = "rgb", name: str = "images", origin: str = ""):
        self.paths = np.asarray([str(p) for p in paths])
        self.labels = np.asarray(labels)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.color_mode = _check_color_mode(color_mode)
        self.name = name
        self.origin = origin or name
        if len(self.paths) == 0:
            raise DataError(f"{self.origin} holds no images ({', '.join(IMAGE_EXTENSIONS)}).")
        sizes = [_image_header(p) for p in self.paths]
        self.sizes = np.asarray(sizes, np.int32)
        size = _check_image_size(image_size)
        if size is None:
            different = np.flatnonzero((self.sizes != self.sizes[0]).any(axis=1))
            if different.size:
                j = int(different[0])
                raise DataError(
                    f"The images of {self.origin} differ in size ({self.paths[0]} is {sizes[0][0]}x{sizes[0][1]}, "
                    f"{self.paths[j]} is {sizes[j][0]}x{sizes[j][1]}, height x width); pass image_size=(h, w) "
                    "(--image-size H,W) to resize them all.")
            size = sizes[0]
        self.image_size = (int(size[0]), int(size[1]))
        self.input_shape = (*self.image_size, _CHANNELS[self.color_mode])

    def _load(self) -> Callable[[Any], Any]:
        import tensorflow as tf

        paths = tf.constant(self.paths)
        channels = _CHANNELS[self.color_mode]
        size = self.image_size

        def load(i: Any) -> Any:
            image = tf.io.decode_image(tf.io.read_file(tf.gather(paths, i)), channels=channels,
                                       expand_animations=False)
            image = tf.image.resize(image, size, method="bilinear")  # float32 in [0, 255], as Keras' loader
            image.set_shape((*size, channels))
            return i, image

        return load

    def rows_dataset(self, draw: Callable[[int], np.ndarray], epochs: int = 1, transform: Any = None) -> Any:
        import tensorflow as tf

        return _epochs_of_rows(self.check_rows(draw), epochs).map(self._load(), num_parallel_calls=tf.data.AUTOTUNE,
                                                                  deterministic=True)

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.image_size}{self.color_mode}".encode())
        for p in self.paths:
            stat = os.stat(p)
            h.update(f"{p}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        h.update(np.ascontiguousarray(self.labels).astype(str).astype("U").tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        heights, widths = self.sizes[:, 0], self.sizes[:, 1]
        return {**super().describe(), "files": len(self.paths), "color mode": self.color_mode,
                "image size (h x w)": f"{self.image_size[0]}x{self.image_size[1]}",
                "file sizes (h x w)": (f"{heights.min()}-{heights.max()} x {widths.min()}-{widths.max()}"
                                       if (self.sizes != self.sizes[0]).any() else
                                       f"all {heights[0]}x{widths[0]}")}


def image_folder(directory: str | os.PathLike[str], *, image_size: Any = None, color_mode: str = "rgb",
                 class_names: Sequence[str] | None = None) -> ImageFiles:
    """An image folder in Keras' layout: one subfolder per class (its name is the class name, classes in sorted
    order), images anywhere below it.

    Unlike :func:`keras.utils.image_dataset_from_directory`, a file that is not an image is an error, not silently
    skipped (hidden files such as ``.DS_Store`` are ignored), and so is an empty class folder.

    Args:
        directory: the folder.
        image_size: ``(height, width)`` to resize every image to; ``None`` keeps their size, which must then be
            the same for all.
        color_mode: ``"rgb"``, ``"grayscale"`` or ``"rgba"``.
        class_names: the class subfolders to use, in the order of the class ids (default: all, sorted).

    Raises:
        DataError: a missing folder, no class subfolders, an empty class folder, a file that is not an image (its
            path), images of different sizes without ``image_size``, a ``class_names`` entry that is no subfolder.

    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for c, n in (("cat", 3), ("dog", 1)):
    ...     (root / c).mkdir()
    ...     for k in range(n):
    ...         Image.fromarray(np.full((8, 6, 3), 40 * k, np.uint8)).save(root / c / f"{k}.png")
    >>> src = image_folder(root)
    >>> src.class_names, src.labels.tolist(), src.input_shape
    (['cat', 'dog'], [0, 0, 0, 1], (8, 6, 3))
    >>> (root / "dog" / "notes.txt").write_text("hi")
    2
    >>> image_folder(root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imbalance.data.io.DataError: .../dog/notes.txt is not an image (.bmp, .gif, .jpeg, .jpg, .png); move it out of the class folder.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"Image folder {root} does not exist." if not root.exists() else
                        f"{root} is a file, not an image folder (one subfolder per class).")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root} has no class subfolders; an image folder holds one subfolder of images per class "
                        "(e.g. photos/benign/*.png, photos/melanoma/*.png).")
    if class_names is not None:
        missing = [c for c in class_names if c not in folders]
        if missing:
            raise DataError(f"class_names {missing} are not subfolders of {root}; its subfolders are {folders}.")
        folders = [str(c) for c in class_names]
    paths: list[str] = []
    labels: list[int] = []
    for k, name in enumerate(folders):
        found = []
        for dirpath, dirnames, filenames in os.walk(root / name):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for f in sorted(filenames):
                if f.startswith("."):
                    continue
                path = os.path.join(dirpath, f)
                if not f.lower().endswith(IMAGE_EXTENSIONS):
                    raise DataError(f"{path} is not an image ({', '.join(IMAGE_EXTENSIONS)}); move it out of the "
                                    "class folder.")
                found.append(path)
        if not found:
            raise DataError(f"Class folder {root / name} holds no images; add images or remove the folder.")
        paths += found
        labels += [k] * len(found)
    return ImageFiles(paths, np.asarray(labels, np.int64), folders, image_size=image_size, color_mode=color_mode,
                      name=root.name, origin=str(root))


def image_table(table: str | os.PathLike[str] | Any, path_column: str, label_column: str, *,
                base_dir: str | os.PathLike[str] | None = None, image_size: Any = None,
                color_mode: str = "rgb") -> ImageFiles:
    """Images listed in a table: a CSV / Parquet file (or a pandas DataFrame) with a column of file paths and a
    column of labels. Relative paths are read from ``base_dir`` (default: the table's folder, or the working
    directory for a DataFrame). Class names are the sorted distinct labels.

    Raises:
        DataError: a missing column (lists the columns), a missing label, paths that do not exist (the first few,
            with their lines), a file that is not an image.

    >>> import tempfile, numpy as np, pandas as pd
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for k in range(3):
    ...     Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / f"{k}.png")
    >>> pd.DataFrame({"path": ["0.png", "1.png", "2.png"], "label": ["ok", "ok", "bad"]}).to_csv(root / "t.csv")
    >>> src = image_table(root / "t.csv", "path", "label", color_mode="grayscale")
    >>> src.class_names, src.labels.tolist(), src.input_shape
    (['bad', 'ok'], [1, 1, 0], (4, 4, 1))
    """
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        frame, origin, first_line = table, "the table", 0
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(table)
        if not path.exists():
            raise DataError(f"Table {path} does not exist.")
        if path.suffix.lower() in (".parquet", ".pq"):
            frame, first_line = pd.read_parquet(path), None
        else:
            frame, first_line = pd.read_csv(path, sep=None if path.suffix.lower() != ".csv" else ",",
                                            engine="python" if path.suffix.lower() != ".csv" else "c"), 2
        origin = str(path)
        folder = Path(base_dir) if base_dir is not None else path.parent
    for column, what in ((path_column, "path_column"), (label_column, "label_column")):
        if column not in frame.columns:
            raise DataError(f"{origin} has no column {column!r} ({what}); its columns are {list(frame.columns)}.")

    def where(i: int) -> str:
        return f"line {first_line + i}" if first_line is not None else f"row {i}"

    labels = frame[label_column]
    if labels.isna().any():
        i = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DataError(f"{origin}, {where(i)}: column {label_column!r} has no label.")
    raw = frame[path_column].astype(str).to_numpy()
    paths = [p if os.path.isabs(p) else str(folder / p) for p in raw]
    missing = [i for i, p in enumerate(paths) if not os.path.isfile(p)]
    if missing:
        shown = ", ".join(f"{raw[i]} ({where(i)})" for i in missing[:3])
        raise DataError(f"{len(missing)} of {len(paths)} files in column {path_column!r} of {origin} do not exist "
                        f"(under {folder}): {shown}{', …' if len(missing) > 3 else ''}.")
    values = labels.to_numpy()
    names = sorted({str(v) for v in values}, key=lambda s: (len(s), s) if s.lstrip("-").isdigit() else (1 << 30, s))
    ids = pd.Categorical([str(v) for v in values], categories=names).codes.astype(np.int64)
    name = Path(origin).stem if origin != "the table" else "images"
    return ImageFiles(paths, ids, names, image_size=image_size, color_mode=color_mode, name=name, origin=origin)


# --- your own pipeline ------------------------------------------------------------------------------------------


class PipelineSource(Source):
    """Labels plus your own ``features(rows) -> tf.data.Dataset``: for the row indices ``rows`` (a numpy int64
    array), a dataset of one element of features per row, in that order (e.g.
    ``tf.data.Dataset.from_tensor_slices(paths[rows]).map(load_and_decode)``, or TFRecords read by index).

    ``features`` is called once per epoch with that epoch's rows (the sampler's draw) and once per prediction pass.
    ``input_shape`` is read from the dataset when not given.

    >>> import tensorflow as tf
    >>> x = np.arange(8, dtype="float32").reshape(4, 2)
    >>> src = PipelineSource([0, 1, 0, 1], lambda rows: tf.data.Dataset.from_tensor_slices(x[rows]))
    >>> src.input_shape, src.read([3, 0]).tolist()
    ((2,), [[6.0, 7.0], [0.0, 1.0]])
    """

    kind = "pipeline"

    def __init__(self, labels: Any, features: Callable[[np.ndarray], Any], *,
                 input_shape: Sequence[int] | None = None, class_names: Sequence[str] | None = None,
                 name: str = "pipeline"):
        if not callable(features):
            raise TypeError(f"`features` must be a function rows -> tf.data.Dataset. Received: {features!r}")
        self.labels = np.asarray(labels)
        if self.labels.ndim == 0 or len(self.labels) == 0:
            raise ValueError("`labels` must hold one label per row (at least one row).")
        self.features = features
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.name = name
        if input_shape is None:
            spec = self._dataset(np.zeros(1, np.int64)).element_spec
            input_shape = tuple(spec.shape)
            if any(s is None for s in input_shape):
                raise ValueError(f"The features of one row have an unknown shape {tuple(spec.shape)}; pass "
                                 "input_shape=(…) or give the dataset a static shape (tf.ensure_shape).")
        self.input_shape = tuple(int(s) for s in input_shape)

    def _dataset(self, rows: np.ndarray) -> Any:
        import tensorflow as tf

        ds = self.features(rows)
        if not isinstance(ds, tf.data.Dataset):
            raise TypeError(f"`features(rows)` must return a tf.data.Dataset. Received: {type(ds).__name__}")
        if not isinstance(ds.element_spec, tf.TensorSpec):
            raise TypeError("`features(rows)` must yield one features tensor per row (not a tuple or dict). "
                            f"Received element_spec={ds.element_spec!r}")
        return ds

    def rows_dataset(self, draw: Callable[[int], np.ndarray], epochs: int = 1, transform: Any = None) -> Any:
        import tensorflow as tf

        draw = self.check_rows(draw)
        parts = []
        for epoch in range(epochs):
            rows = draw(epoch).astype(np.int64, copy=False)  # your function is given int64 row indices
            parts.append(tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(rows),
                                             self._dataset(rows).map(lambda x: tf.cast(x, tf.float32))))
        ds = parts[0]
        for part in parts[1:]:
            ds = ds.concatenate(part)
        return ds

    def fingerprint(self) -> str:
        h = hashlib.sha256(np.ascontiguousarray(self.labels).astype(str).astype("U").tobytes())
        h.update(f"{self.name}{self.input_shape}".encode())
        h.update(np.ascontiguousarray(self.read(np.arange(min(len(self), 8)))).tobytes())
        return h.hexdigest()[:16]


# --- a view of some rows -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """Some rows of a source, in order; ``rows[idx]`` is the view of those positions (nothing is read).

    ``transform`` is an optional per-batch feature transformation carried with the view (a table's preprocessor
    fitted on a unit's training rows).
    """

    source: Source
    indices: np.ndarray
    transform: Any = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(len(self.indices))

    def __getitem__(self, index: Any) -> "Rows":
        return Rows(self.source, np.asarray(self.indices)[index], self.transform)

    @property
    def input_shape(self) -> Any:
        """One row's features: a shape, or a dict of shapes (several named inputs)."""
        width = getattr(self.transform, "width", None)
        return (int(width),) if width is not None else self.source.input_shape

    @property
    def shape(self) -> tuple[int, ...]:
        shape = self.input_shape
        return (len(self), *shape) if not isinstance(shape, dict) else (len(self),)

    def dataset(self, epochs: int = 1, draw: Callable[[int], np.ndarray] | None = None) -> Any:
        """``(row, features)`` of these rows (``draw(epoch)``: positions within the view, default all in order)."""
        if draw is None:
            return self.source.rows_dataset(lambda epoch: self.indices, epochs, self.transform)
        return self.source.rows_dataset(lambda epoch: self.indices[draw(epoch)], epochs, self.transform)

    @property
    def labels(self) -> np.ndarray:
        return self.source.labels[self.indices]


def increasing(rows: np.ndarray, strict: bool = True, block: int = 1 << 20) -> bool:
    """Whether ``rows`` is in increasing order (``strict``: each row once), checked a block at a time (no
    temporary of every row).

    >>> increasing(np.array([1, 4, 9])), increasing(np.array([1, 4, 4])), increasing(np.array([1, 4, 4]), False)
    (True, False, True)
    """
    for start in range(0, len(rows) - 1, block):
        part = rows[start:start + block + 1]
        if not bool(np.all(part[1:] > part[:-1]) if strict else np.all(part[1:] >= part[:-1])):
            return False
    return True


def in_order(rows: np.ndarray) -> np.ndarray:
    """``rows`` itself when already in order (a split's indices: no copy), else a sorted copy (a sampler's draw)."""
    return rows if increasing(rows, strict=False) else np.sort(rows)


def row_values(x: Any) -> int:
    """Values in one row of features — of an array, a source, a :class:`Rows` view, a dict of named inputs;
    0 when unknown (a table before its transform is fitted).

    >>> row_values(np.zeros((5, 8, 8, 3))), row_values(ArraySource({"a": np.zeros((2, 3)), "b": np.zeros((2, 4, 2))}, [0, 1]))
    (192, 11)
    """
    shape = getattr(x, "input_shape", None)
    if shape is None and hasattr(x, "shape"):
        shape = tuple(x.shape[1:])
    if isinstance(shape, dict):
        return int(sum(int(np.prod(s)) for s in shape.values()))
    return int(np.prod(shape)) if shape else 0
