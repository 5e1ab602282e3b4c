"""Data intake of ``compare``: whatever the user passes becomes one :class:`ComparisonData` (validated once, here).

>>> d = prepare_data("digits_lt")
>>> d.task, d.num_classes, int(d.counts[0]), d.outputs
('multiclass', 10, 18, 10)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from imbalance.labels import count_labels, inspect_labels, to_class_ids, to_multi_hot

__all__ = ["ComparisonData", "check_two_classes", "demo_names", "from_arrays", "from_source", "prepare_data"]


@dataclass
class ComparisonData:
    """Features, labels in the model's format and what the runner needs to know about them.

    ``y`` holds class ids for binary and multi-class data and a multi-hot matrix for multi-label data.
    ``preprocessor`` (optional) returns a fresh, unfitted scikit-learn transformer; it is fitted on each unit's
    training rows only. ``x`` is an array, a table's DataFrame, or a feature source
    (:mod:`imbalance.data.sources`: features read per batch, never all in memory).
    """

    name: str
    x: Any
    y: np.ndarray
    task: str
    num_classes: int
    class_names: list[str]
    preprocessor: Callable[[], Any] | None = None
    output: str | None = None  # a model with several heads: the one compared (``y`` are its labels)
    other_targets: dict[str, np.ndarray] | None = None  # the other heads' labels, trained with the user's losses

    @property
    def counts(self) -> np.ndarray:
        """Rows per class, or positives per label."""
        return self.count(self.y)

    def count(self, y: np.ndarray) -> np.ndarray:
        """Rows per class (positives per label) of a subset ``y`` of these labels."""
        return count_labels(y, self.task, self.num_classes)

    @property
    def streamed(self) -> bool:
        """Whether the features come from a source read per batch (image files, a table on disk, a pipeline)."""
        from imbalance.data.sources import is_source

        return is_source(self.x)

    @property
    def outputs(self) -> int:
        """Logits the model ends in: one for binary data, one per class or label otherwise."""
        return 1 if self.task == "binary" else self.num_classes

    def fingerprint(self) -> str:
        """A short hash of the name, labels and features: a stored comparison resumes only on the same data."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(np.ascontiguousarray(self.y).tobytes())
        x = self.x
        if self.streamed:
            h.update(x.fingerprint().encode())
            for name, values in sorted((self.other_targets or {}).items()):
                h.update(name.encode())
                h.update(np.ascontiguousarray(values).tobytes())
        elif hasattr(x, "to_numpy"):
            h.update(str(list(x.columns)).encode())
            h.update(x.to_csv(index=False).encode())
        else:
            h.update(np.ascontiguousarray(x).tobytes())
        return h.hexdigest()[:16]


def demo_names() -> tuple[str, ...]:
    """The embedded datasets a name can refer to (:data:`imbalance.datasets.DEMOS`)."""
    from imbalance.datasets import DEMOS

    return tuple(DEMOS)


def prepare_data(data: Any, target: Any = None, output: str | None = None) -> ComparisonData:
    """Accept a demo name, a :class:`~imbalance.datasets.DemoDataset`, a table loaded by
    :func:`imbalance.data.load_table`, a path to a table file or to an image folder (one subfolder per class), a
    feature source (:mod:`imbalance.data.sources`), or an ``(x, y)`` pair.

    In a pair, ``x`` may be a dict of arrays (a model with several named inputs) and ``y`` a dict of labels per
    named output (or a list, in the model's output order, with names ``output_0``, …): ``output`` names the head
    the comparison is about; the other heads keep their labels and the user's losses.

    >>> prepare_data(([[0.0], [1.0]], [0, 1])).task
    'binary'
    >>> d = prepare_data(({"a": [[0.0], [1.0]], "b": [[1.0], [2.0]]}, {"fraud": [0, 1], "amount": [2.0, 3.0]}),
    ...                  output="fraud")
    >>> d.task, d.output, sorted(d.other_targets), d.streamed
    ('binary', 'fraud', ['amount'], True)
    """
    from imbalance.data.sources import image_folder, is_source
    from imbalance.datasets import DemoDataset, load_demo

    if isinstance(data, (str, os.PathLike)) and not Path(data).exists() and str(data) in demo_names():
        data = load_demo(str(data))
    elif isinstance(data, (str, os.PathLike)) and Path(data).is_dir():
        data = image_folder(data)
    elif isinstance(data, (str, os.PathLike)):
        from imbalance.data.io import load_table

        data = load_table(data, target)
    if is_source(data):
        return _checked(from_source(data))
    if isinstance(data, DemoDataset):
        return _checked(from_arrays(data.name, data.x, data.y, data.task, data.class_names))
    if hasattr(data, "preprocessor") and hasattr(data, "x") and hasattr(data, "y"):
        y = np.asarray(data.y)
        info = inspect_labels(y, task=getattr(data, "task", None))
        names = [str(c) for c in getattr(data, "class_names", range(info.num_classes))]
        return _checked(ComparisonData(
            name=Path(str(getattr(data, "source", "table"))).name,
            x=data.x,
            y=to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y),
            task=info.task,
            num_classes=info.num_classes,
            class_names=names,
            preprocessor=data.preprocessor,
        ))
    if isinstance(data, (tuple, list)) and len(data) == 2:
        if isinstance(data[0], dict) or isinstance(data[1], (dict, list, tuple)) and _several_heads(data[1]):
            return _checked(_from_heads(data[0], data[1], output))
        if output is not None:
            raise ValueError(f"`output` names the head to compare in a model with several outputs; the labels "
                             f"here are one array. Received: output={output!r}")
        return _checked(from_arrays("arrays", data[0], data[1], None, None))
    if output is not None:
        raise ValueError("`output` applies to (x, {head: labels}) data (a model with several outputs).")
    raise TypeError(
        f"`data` must be a demo name ({', '.join(demo_names())}), a DemoDataset, a table from "
        f"imbalance.data.load_table, a file path, an image folder, a feature source (imbalance.data.sources: "
        f"image_folder, image_table, PipelineSource for your own tf.data pipeline), or an (x, y) pair. Received: "
        f"{type(data).__name__}{_hint(data)}"
    )


def from_arrays(name: str, x: Any, y: Any, task: str | None = None,
                class_names: Sequence[str] | None = None) -> ComparisonData:
    """Features as float32 (every value finite) and labels in the runner's form.

    >>> from_arrays("toy", [[0.0], [float("nan")]], [0, 1])
    Traceback (most recent call last):
    ...
    ValueError: `x` holds NaN or infinite values (first at row 1, column 0: nan); impute or drop them first.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same number of rows. Received: {len(x)} and {len(y)}")
    _check_finite("`x`", x)
    info = inspect_labels(y, task=task)
    ids = to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y)
    names = list(class_names) if class_names is not None else [str(k) for k in range(info.num_classes)]
    return ComparisonData(name=name, x=x, y=ids, task=info.task, num_classes=info.num_classes, class_names=names)


def from_source(source: Any) -> ComparisonData:
    """Labels of a feature source in the runner's form; the features stay in the source.

    >>> from imbalance.data.sources import ArraySource
    >>> d = from_source(ArraySource([[0.0], [1.0], [2.0]], ["no", "yes", "no"]))
    >>> d.task, d.class_names, d.y.tolist(), d.streamed
    ('binary', ['no', 'yes'], [0, 1, 0], True)
    """
    y = np.asarray(source.labels)
    names = source.class_names
    if names is None and y.ndim == 1 and y.dtype.kind in "OUS":
        distinct, y = np.unique(y.astype(str), return_inverse=True)  # sorted names, each row's index among them
        names = [str(v) for v in distinct]
    info = inspect_labels(y, task=None, num_classes=len(names) if names is not None and y.ndim == 1 else None)
    compact = np.int8 if info.num_classes < 128 else np.int32
    if info.task != "multilabel" and y.ndim == 1 and y.dtype == compact:
        ids = y  # a source's compact class ids already (a table's): shared, not copied
    else:
        ids = to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y, num_classes=info.num_classes)
        if info.task != "multilabel":  # labels of many rows stay compact: 1-4 bytes a row, not 8
            ids = ids.astype(compact)
    names = list(names) if names is not None else [str(k) for k in range(info.num_classes)]
    return ComparisonData(name=source.name, x=source, y=ids, task=info.task, num_classes=info.num_classes,
                          class_names=names)


def _several_heads(y: Any) -> bool:
    """A dict of label arrays, or a list / tuple of label arrays (not one label array written as a list)."""
    if isinstance(y, dict):
        return True
    return len(y) > 0 and all(hasattr(v, "__len__") and not isinstance(v, str) and np.ndim(v) >= 1 and
                              len(v) != 1 for v in y) and len({len(v) for v in y}) == 1 and len(y) < 16 and \
        all(isinstance(v, np.ndarray) for v in y)


def _from_heads(x: Any, y: Any, output: str | None) -> ComparisonData:
    """Several named inputs and / or heads: the compared head's labels as ``y``, the rest kept by name; features
    held by an :class:`~imbalance.data.sources.ArraySource` (read per batch, so every strategy feeds all heads)."""
    from imbalance.data.sources import ArraySource

    heads = dict(y) if isinstance(y, dict) else ({f"output_{k}": v for k, v in enumerate(y)}
                                                 if isinstance(y, (list, tuple)) and _several_heads(y) else None)
    if heads is None:
        if output is not None:
            raise ValueError(f"`output` names the head to compare; the labels here are one array. Received: "
                             f"output={output!r}")
        labels = np.asarray(y)
        others: dict[str, np.ndarray] = {}
    else:
        if output is None:
            if len(heads) > 1:
                raise ValueError(f"The labels name {len(heads)} heads ({', '.join(map(str, heads))}): pass "
                                 "output='<head>' (--output), the one whose imbalance the comparison is about.")
            output = str(next(iter(heads)))
        if output not in heads:
            raise ValueError(f"`output` {output!r} is not one of the heads of the labels: "
                             f"{', '.join(map(str, heads))}.")
        labels = np.asarray(heads[output])
        others = {str(k): np.asarray(v) for k, v in heads.items() if k != output}
        for k, v in others.items():
            if len(v) != len(labels):
                raise ValueError(f"Head {k!r} has {len(v)} labels and head {output!r} {len(labels)}: every head "
                                 "needs one label per row.")
    features = x if isinstance(x, dict) else np.asarray(x, np.float32)
    for key, value in (features.items() if isinstance(features, dict) else [("x", features)]):
        array = np.asarray(value)
        if array.dtype.kind == "f":
            _check_finite(f"Input {key!r}", array)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Input {key!r} must hold numbers. Received an array of dtype {array.dtype}.")
    info = inspect_labels(labels)
    ids = to_multi_hot(labels) if info.task == "multilabel" else to_class_ids(labels)
    source = ArraySource(features, ids)
    return ComparisonData(name="arrays", x=source, y=ids, task=info.task, num_classes=info.num_classes,
                          class_names=[str(k) for k in range(info.num_classes)], output=output if heads else None,
                          other_targets=others or None)


def _hint(data: Any) -> str:
    if type(data).__name__.endswith("Dataset") and hasattr(data, "element_spec"):
        return (". A tf.data.Dataset holds no labels apart from its features: wrap it as "
                "imbalance.data.PipelineSource(labels, features=lambda rows: ...), which reads the rows each run "
                "needs.")
    return ""


def _check_finite(what: str, x: np.ndarray) -> None:
    """Refuse NaN or infinite features, naming the first one's row, column and value."""
    if not np.all(np.isfinite(x)):
        flat = x.reshape(len(x), -1)
        row, column = (int(i) for i in np.argwhere(~np.isfinite(flat))[0])
        raise ValueError(f"{what} holds NaN or infinite values (first at row {row}, column {column}: "
                         f"{float(flat[row, column])}); impute or drop them first.")


def _checked(d: ComparisonData) -> ComparisonData:
    check_two_classes(d.y, d.task, d.class_names)  # the rule of load_table, on every path
    return d


def check_two_classes(y: np.ndarray, task: str, class_names: Sequence[str]) -> None:
    """The rule a table's target follows (:func:`imbalance.data.load_table`), for labels given as arrays: rows of at
    least two classes, and every label of multi-label data both positive and negative somewhere.

    >>> check_two_classes(np.zeros(5, np.int64), "binary", ["0", "1"])
    Traceback (most recent call last):
    ...
    ValueError: `y` holds a single class (class 0 in all 5 rows); a classifier needs rows of at least two classes.
    """
    counts = count_labels(y, task, len(class_names))
    rows = len(y)
    if task == "multilabel":
        constant = (counts == 0) | (counts == rows)
        if constant.any():
            j = int(np.argmax(constant))
            raise ValueError(f"Label {class_names[j]!r} of `y` is {int(counts[j] > 0)} in all {rows} rows; a label "
                             "needs rows with 0 and rows with 1 (drop the column).")
    elif np.count_nonzero(counts) < 2:
        only = class_names[int(np.argmax(counts))]
        raise ValueError(f"`y` holds a single class (class {only} in all {rows} rows); a classifier needs rows of at "
                         "least two classes.")
