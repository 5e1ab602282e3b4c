"""Class-balanced sampling inside ``tf.data``: from arrays (:func:`balanced_dataset`) and from streams
(:func:`rebalance`), with a fresh draw every epoch.

=========================  ======================================================================================
function                   use it for
=========================  ======================================================================================
:func:`balanced_dataset`   arrays in memory (numpy, dict/tuple of arrays): index-level, vectorised sampling with
                           exact per-class counts, an exact ``steps_per_epoch`` and the last partial batch kept;
                           multi-label rows by repeat-factor sampling (Gupta et al. 2019, LVIS)
:func:`sampling_plan`      the numbers behind it (epoch size, rows per class, expected copies of every row)
:func:`rebalance`          an unbatched ``tf.data.Dataset`` that does not fit in memory (files, TFRecords): a
                           per-element filter or repeat, bounded memory whatever the size of the data
=========================  ======================================================================================

**Targets.** ``"balanced"`` gives every class the same share of an epoch; ``"sqrt"`` gives class ``c`` a share
proportional to ``sqrt(n_c)`` (milder); a dict ``{class: fraction}`` names the share of every class present in the
data (fractions >= 0 that sum to 1; 0 drops a class).

**Methods and epoch size.** With ``n_c`` rows of class ``c`` and a target share ``f_c``:

* ``"oversample"``: the smallest epoch in which no class loses a row, ``N = ceil(max_c n_c / f_c)``. For
  ``"balanced"`` that is ``K × n_max``: the largest class is seen once, the others are repeated.
* ``"undersample"``: the largest epoch in which no row repeats, ``N = floor(min_c n_c / f_c)`` (``K × n_min`` for
  ``"balanced"``): the smallest class is seen once, the others are subsampled.

``balanced_dataset(..., epoch_size=n)`` overrides ``N`` (e.g. the original number of rows). An epoch holds exactly
``m_c`` rows of class ``c`` (``N · f_c`` rounded by largest remainders): ``m_c // n_c`` copies of every row of the
class plus ``m_c % n_c`` distinct rows drawn at random. So no row is starved: when oversampling, every row of a
minority class appears in every epoch.

**A fresh draw every epoch, reproducible with a seed.** ``model.fit(ds, epochs=E)`` iterates the dataset anew each
epoch. A ``tf.random`` op with a fixed (or global) seed inside a dataset function restarts its sequence with every
new iterator — each epoch would repeat the first one. These pipelines instead draw one seed per epoch (per element for
:func:`rebalance`) from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`` and feed it to stateless
random ops: two epochs differ, and the same ``seed`` reproduces the same sequence of epochs.

**Distribution.** The datasets work with ``model.fit`` under ``tf.distribute.MirroredStrategy`` (one machine, several
devices): Keras splits each global batch between the replicas, and training matches a run without the strategy.
Every new iterator is a new draw, and Keras opens iterators it does not use (one to build the model under a
strategy, one at the end of each epoch when the cardinality is known): a seeded run is reproducible in the same
setting, but a run under a strategy trains on different (equally valid) draws than a run without one.

With ``tf.distribute.MultiWorkerMirroredStrategy`` (several machines) every worker builds the same pipeline with the
**same** ``seed`` and the same arrays, so that all workers draw the same epoch, and tf.data shards each global batch
between them (``AutoShardPolicy.DATA``: worker ``i`` gets its part of every batch). Keras 3's ``model.fit`` does not
run under this strategy (keras-team/keras#20585), so train with a custom loop::

    strategy = tf.distribute.MultiWorkerMirroredStrategy()        # TF_CONFIG names the workers
    with strategy.scope():
        model, optimizer = build_model(), keras.optimizers.SGD(0.05)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = balanced_dataset(x, y, batch_size=global_batch, seed=0).with_options(options)
    batches = strategy.experimental_distribute_dataset(ds)

    @tf.function
    def step(batch):
        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                per_row = keras.losses.sparse_categorical_crossentropy(yb, model(xb, training=True), from_logits=True)
                loss = tf.reduce_sum(per_row) / global_batch
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    for epoch in range(epochs):
        for batch in batches:          # a new draw every epoch, the same on every worker
            step(batch)

Without a common seed each worker would draw its own epoch and the shards would mix several draws. The DATA policy
rewrites the dataset graph, which embeds the arrays: keep them well under 2 GB per worker (or read files with
:func:`rebalance`). :func:`rebalance` on files is best sharded by file (``AutoShardPolicy.FILE``, the default for
file-based datasets) before rebalancing; its per-element decisions need no coordination between workers.

>>> import numpy as np
>>> x = np.arange(10, dtype="float32").reshape(-1, 1)
>>> y = np.array([0] * 8 + [1] * 2)
>>> ds = balanced_dataset(x, y, batch_size=4, seed=0)
>>> int(ds.cardinality()), ds.steps_per_epoch          # 16 rows (8 per class) in batches of 4
(4, 4)
>>> ids = np.concatenate([b.numpy() for _, b in ds])
>>> np.bincount(ids).tolist()
[8, 8]
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from imbalance._validation import as_numpy, quote
from imbalance.data._tf import tf
from imbalance.labels import count_labels, inspect_labels, to_class_ids, to_multi_hot

__all__ = [
    "METHODS",
    "TARGETS",
    "RebalancePlan",
    "SamplingPlan",
    "balanced_dataset",
    "index_draws",
    "rebalance",
    "rebalance_plan",
    "sampling_plan",
]

TARGETS: tuple[str, ...] = ("balanced", "sqrt")
METHODS: tuple[str, ...] = ("oversample", "undersample")
_SUM_TOLERANCE = 1e-6
_CHUNK_BATCHES = 16  # batches gathered together by balanced_dataset ...
_CHUNK_BYTES = 4 * 2**20  # ... as long as they hold at most this many bytes


# --- validation ------------------------------------------------------------------------------------------------


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"`method` must be one of {list(METHODS)}. Received: method={method!r}")
    return method


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    return int(batch_size)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer or None. Received: seed={seed!r}")
    return int(seed)


def _target_fractions(target: Any, counts: np.ndarray, unit: str = "Class") -> np.ndarray:
    """The target share of every class (float64, sums to 1) from ``"balanced"``, ``"sqrt"`` or a dict.

    Classes with no rows get share 0 under ``"balanced"`` / ``"sqrt"``; a dict must name every class that has rows
    and no class without rows (with a share > 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    k = counts.size
    present = counts > 0
    if not np.any(present):
        raise ValueError("The data holds no rows: there is nothing to sample.")
    if isinstance(target, str):
        if target == "balanced":
            share = present.astype(np.float64)
        elif target == "sqrt":
            share = np.sqrt(counts)
        else:
            raise ValueError(
                f"`target` must be one of {list(TARGETS)} or a dict {{class: fraction}}. Received: target={target!r}"
            )
        return share / share.sum()
    if not isinstance(target, Mapping):
        raise ValueError(
            f"`target` must be one of {list(TARGETS)} or a dict {{class: fraction}}. Received: target={quote(target)}"
        )
    share = np.zeros(k, dtype=np.float64)
    given = np.zeros(k, dtype=bool)
    for key, value in target.items():
        try:
            index = int(key)
            if isinstance(key, bool) or (isinstance(key, float) and index != key):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"`target` keys must be integer class ids. Received key {key!r} in target={target!r}") \
                from None
        if index < 0 or index >= k:
            raise ValueError(
                f"{unit} {key!r} in `target` is not a class of the data (classes 0..{k - 1}, counts "
                f"{counts.astype(np.int64).tolist()}). Received: target={target!r}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            raise ValueError(
                f"`target` fractions must be finite numbers >= 0; class {index} has {value!r}. "
                f"Received: target={target!r}"
            )
        if number > 0 and not present[index]:
            raise ValueError(
                f"{unit} {index} has fraction {number:g} in `target` but no rows in the data (counts "
                f"{counts.astype(np.int64).tolist()}); it cannot be sampled. Received: target={target!r}"
            )
        share[index], given[index] = number, True
    missing = np.flatnonzero(present & ~given)
    if missing.size:
        index = int(missing[0])
        raise ValueError(
            f"{unit} {index} has {int(counts[index])} rows in the data but no fraction in `target`; give every class "
            f"a fraction (0 drops it). Received: target={target!r}"
        )
    total = share.sum()
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"`target` fractions must sum to 1; they sum to {total:g}. Received: target={target!r}")
    return share / total


def _largest_remainder(total: int, share: np.ndarray) -> np.ndarray:
    """Integer counts that sum to ``total`` and are as close as possible to ``total * share``."""
    exact = total * share
    base = np.floor(exact + 1e-9).astype(np.int64)
    left = total - int(base.sum())
    if left > 0:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:left]] += 1
    return base


# --- the plan --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplingPlan:
    """What one epoch of :func:`balanced_dataset` holds.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        method: ``"oversample"`` or ``"undersample"``.
        class_counts: rows per class in the data (positive rows per label for multi-label data).
        target_fractions: the target share of every class (single-label data; ``None`` for multi-label data).
        epoch_size: rows in every epoch (exact).
        epoch_class_counts: rows of every class in an epoch — exact for single-label data; for multi-label data the
            expected positive rows of every label.
        row_repeats: expected copies of every row in one epoch, ``(n,)``.
    """

    task: str
    method: str
    class_counts: np.ndarray
    target_fractions: np.ndarray | None
    epoch_size: int
    epoch_class_counts: np.ndarray
    row_repeats: np.ndarray = field(repr=False)

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches per epoch, the last one partial when ``batch_size`` does not divide the epoch.

        >>> sampling_plan([0, 0, 0, 1]).steps_per_epoch(4)
        2
        """
        batch_size = _check_batch_size(batch_size)
        return -(-self.epoch_size // batch_size)


def sampling_plan(
    y: Any,
    target: Any = "balanced",
    method: str = "oversample",
    num_classes: int | None = None,
    epoch_size: int | None = None,
) -> SamplingPlan:
    """The epoch that :func:`balanced_dataset` draws for labels ``y`` (see the module docstring for the rules).

    Multi-label (multi-hot) labels use repeat-factor sampling: label ``l`` with ``n_l`` positive rows gets the factor
    ``r_l = n_max / n_l`` (``"balanced"``) or ``sqrt(n_max / n_l)`` (``"sqrt"``, the LVIS rule with threshold
    ``n_max / n``); a row gets the largest factor of its positive labels (1 for a row with none). ``"oversample"``
    repeats row ``i`` ``r_i`` times in expectation; ``"undersample"`` keeps it with probability ``r_i / max r``.
    The whole part of ``r_i`` is deterministic; the fractional parts are drawn by systematic sampling on a random
    order, so the epoch size is exact (the fractional parts are scaled by ``floor(T) / T``, ``T`` their sum, a
    relative change below ``1 / T``). Labels co-occur, so the label frequencies move toward the target without
    reaching it exactly. A dict target has no meaning for multi-label data and raises.

    >>> plan = sampling_plan([0, 0, 0, 0, 1, 2])
    >>> plan.epoch_size, plan.epoch_class_counts.tolist()
    (12, [4, 4, 4])
    >>> sampling_plan([0, 0, 0, 0, 1, 2], method="undersample").epoch_class_counts.tolist()
    [1, 1, 1]
    >>> sampling_plan([0, 0, 0, 0, 1, 1], target={0: 0.5, 1: 0.5}, epoch_size=6).epoch_class_counts.tolist()
    [3, 3]
    """
    _check_method(method)
    if epoch_size is not None and (isinstance(epoch_size, bool) or not isinstance(epoch_size, (int, np.integer))
                                   or epoch_size < 1):
        raise ValueError(f"`epoch_size` must be a positive integer or None. Received: epoch_size={epoch_size!r}")
    info = inspect_labels(y, num_classes=num_classes)
    if info.task == "multilabel":
        return _multilabel_plan(y, target, method, epoch_size, info.task)
    ids = to_class_ids(y, num_classes=num_classes)
    counts = count_labels(ids, info.task, info.num_classes)
    share = _target_fractions(target, counts)
    used = share > 0
    ratio = counts[used] / share[used]
    if epoch_size is None:
        if method == "oversample":
            epoch_size = int(math.ceil(float(ratio.max()) - 1e-9))
        else:
            epoch_size = max(1, int(math.floor(float(ratio.min()) + 1e-9)))
    per_class = _largest_remainder(int(epoch_size), share)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_row = np.where(counts > 0, per_class / np.maximum(counts, 1), 0.0)
    return SamplingPlan(
        task=info.task,
        method=method,
        class_counts=counts,
        target_fractions=share,
        epoch_size=int(epoch_size),
        epoch_class_counts=per_class,
        row_repeats=per_row[ids],
    )


def _label_factors(counts: np.ndarray, target: Any) -> np.ndarray:
    if not isinstance(target, str) or target not in TARGETS:
        raise ValueError(
            f"For multi-label (multi-hot) labels `target` must be one of {list(TARGETS)} (repeat-factor sampling); "
            f"a dict of class fractions has no meaning when labels co-occur. Received: target={quote(target)}"
        )
    present = counts > 0
    if not np.any(present):
        raise ValueError("No label has a positive row: there is nothing to balance.")
    ratio = np.where(present, counts.max() / np.maximum(counts, 1), 1.0)
    return ratio if target == "balanced" else np.sqrt(ratio)


def _multilabel_plan(y: Any, target: Any, method: str, epoch_size: int | None, task: str) -> SamplingPlan:
    if epoch_size is not None:
        raise ValueError(
            "`epoch_size` is not available for multi-label labels: repeat-factor sampling sets the epoch size. "
            f"Received: epoch_size={epoch_size!r}"
        )
    m = to_multi_hot(y).astype(np.float64)
    counts = m.sum(axis=0).astype(np.int64)
    factors = _label_factors(counts, target)
    per_row = np.where(m.sum(axis=1) > 0, np.max(np.where(m > 0, factors[None, :], 0.0), axis=1), 1.0)
    if method == "undersample":
        per_row = per_row / per_row.max()
    whole, frac = _split_repeats(per_row)
    total = float(frac.sum())
    extra = int(math.floor(total + 1e-9))
    scaled = frac * (extra / total) if total > 0 else frac
    expected = whole + scaled
    return SamplingPlan(
        task=task,
        method=method,
        class_counts=counts,
        target_fractions=None,
        epoch_size=int(whole.sum()) + extra,
        epoch_class_counts=(m * expected[:, None]).sum(axis=0),
        row_repeats=expected,
    )


def _split_repeats(per_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole and fractional parts of expected copies, with values within 1e-9 of an integer made exact."""
    rounded = np.round(per_row)
    per_row = np.where(np.abs(per_row - rounded) < 1e-9, rounded, per_row)
    whole = np.floor(per_row)
    return whole.astype(np.int64), per_row - whole


# --- balanced_dataset ------------------------------------------------------------------------------------------


def _leaf_arrays(x: Any) -> Any:
    """``x`` as a structure (array, dict or tuple/list) of numpy arrays."""
    if isinstance(x, Mapping):
        return {key: _leaf_arrays(value) for key, value in x.items()}
    if isinstance(x, (tuple, list)) and not _looks_like_array(x):
        return tuple(_leaf_arrays(value) for value in x)
    if hasattr(x, "numpy") and callable(x.numpy):
        x = x.numpy()
    return np.asarray(x)


def _looks_like_array(x: Any) -> bool:
    """A list / tuple of numbers or of equal-length rows (one array), rather than a tuple of inputs."""
    return len(x) > 0 and not any(isinstance(v, (np.ndarray, Mapping, tf.Tensor)) or hasattr(v, "shape")
                                  for v in x)


def _check_rows(x: Any, n: int, name: str = "x") -> None:
    if isinstance(x, Mapping):
        for key, value in x.items():
            _check_rows(value, n, f"{name}[{key!r}]")
        return
    if isinstance(x, tuple):
        for i, value in enumerate(x):
            _check_rows(value, n, f"{name}[{i}]")
        return
    if x.ndim == 0:
        raise ValueError(f"`{name}` must hold one row per sample; received a scalar.")
    if x.shape[0] != n:
        raise ValueError(f"`{name}` has {x.shape[0]} rows but `y` has {n} rows; they must match.")


def balanced_dataset(
    x: Any,
    y: Any,
    batch_size: int,
    target: Any = "balanced",
    method: str = "oversample",
    seed: int | None = None,
    *,
    sample_weight: Any = None,
    num_classes: int | None = None,
    epoch_size: int | None = None,
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(x, y)`` (or ``(x, y, sample_weight)``) batches, rebalanced by index.

    Each iteration (each epoch of ``model.fit(ds, epochs=E)``) draws a new epoch: exactly
    ``plan.epoch_class_counts[c]`` rows of class ``c`` (see :func:`sampling_plan` and the module docstring for
    targets, methods and the epoch size), shuffled, in batches of ``batch_size``; the last batch is partial when
    ``batch_size`` does not divide the epoch. The sampling works on an index vector (a few vectorised ops per
    epoch); rows are gathered with one ``tf.gather`` per chunk of up to 16 batches (4 MB at most) and split into
    batches by ``Dataset.rebatch``: nothing is copied per row in Python. The arrays are held by the dataset as
    constants (a copy of ``x``).

    Every new iterator is a new draw. Keras opens iterators it does not use (see the module docstring), so
    ``model.fit`` epoch ``k`` is not necessarily the ``k``-th draw of a fresh dataset; with a ``seed`` the sequence is
    still reproducible run to run.

    ``ds.cardinality()`` is the exact number of batches and stays known through ``map`` / ``prefetch``; the returned
    dataset also carries ``ds.steps_per_epoch`` and ``ds.sampling_plan`` (Python attributes, lost by further
    transformations).

    Args:
        x: features: an array ``(n, ...)`` or a dict / tuple of such arrays (multi-input models).
        y: labels, sparse ids, one-hot or multi-hot (read by :mod:`imbalance.labels`); batches hold them unchanged.
        batch_size: rows per batch (> 0).
        target: ``"balanced"``, ``"sqrt"`` or a dict ``{class: fraction}`` (single-label data only).
        method: ``"oversample"`` or ``"undersample"``.
        seed: makes the sequence of epochs reproducible; ``None`` follows TensorFlow's global seed (random when
            none is set).
        sample_weight: optional per-row weights ``(n,)`` passed through as the third element.
        num_classes: number of classes when some are absent from ``y``.
        epoch_size: rows per epoch instead of the method's default (single-label data only).

    Raises:
        ValueError: for ``batch_size <= 0``, ``x`` / ``sample_weight`` whose rows do not match ``y``, invalid
            labels, labels of one class only, an unknown ``target`` or ``method``, target fractions that do not sum
            to 1 or name a class absent from the data.

    >>> import numpy as np
    >>> x = {"a": np.zeros((6, 2), "float32"), "b": np.arange(6)}
    >>> ds = balanced_dataset(x, np.eye(3)[[0, 0, 0, 0, 1, 2]], batch_size=5, seed=1)
    >>> [int(b.shape[0]) for _, b in ds]   # 12 rows: 2 full batches and a partial one
    [5, 5, 2]
    """
    batch_size = _check_batch_size(batch_size)
    seed = _check_seed(seed)
    _check_method(method)
    info = inspect_labels(y, num_classes=num_classes)
    n = info.num_samples
    xs = _leaf_arrays(x)
    _check_rows(xs, n)
    y_arr = np.asarray(as_numpy(y))
    if y_arr.dtype == bool:
        y_arr = y_arr.astype(np.int64)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(as_numpy(sample_weight))
        if weights.ndim != 1 or weights.shape[0] != n:
            raise ValueError(
                f"`sample_weight` must be a 1-D array with one weight per row of `y` ({n}). "
                f"Received an array of shape {weights.shape}."
            )
        if weights.dtype.kind not in "fiu" or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("`sample_weight` must hold finite numbers >= 0.")
    plan = sampling_plan(y_arr, target, method, num_classes=num_classes, epoch_size=epoch_size)
    present = np.flatnonzero(plan.class_counts)
    if plan.task != "multilabel" and present.size < 2:
        raise ValueError(
            f"`y` holds one class only (class {int(present[0])} in all {n} rows): there is nothing to balance, and "
            "a classifier trained on it never predicts another class. Check the labels (did a split or a filter "
            "drop the other classes?)."
        )
    make_indices = (_multilabel_indices(plan) if plan.task == "multilabel"
                    else _single_label_indices(plan, to_class_ids(y_arr, num_classes=num_classes)))
    steps = plan.steps_per_epoch(batch_size)
    # Rows are gathered a chunk of several batches at a time (one gather per chunk) and split into batches by
    # `rebatch`, which costs less per batch than one gather each; a chunk stays below _CHUNK_BYTES.
    row_bytes = sum(int(np.prod(a.shape[1:], dtype=np.int64)) * a.dtype.itemsize for a in tf.nest.flatten(xs)) \
        + int(np.prod(y_arr.shape[1:], dtype=np.int64)) * y_arr.dtype.itemsize + (4 if weights is not None else 0)
    chunk = batch_size * max(1, min(_CHUNK_BATCHES, _CHUNK_BYTES // max(1, batch_size * row_bytes)))
    full, rest = divmod(plan.epoch_size, chunk)

    def to_chunks(indices: tf.Tensor) -> tf.data.Dataset:
        chunks = tf.data.Dataset.from_tensor_slices(tf.reshape(indices[: full * chunk], [full, chunk]))
        if rest:
            chunks = chunks.concatenate(tf.data.Dataset.from_tensors(indices[full * chunk:]))
        return chunks

    x_t = tf.nest.map_structure(tf.constant, xs)
    y_t = tf.constant(y_arr)
    w_t = None if weights is None else tf.constant(weights.astype(np.float32))

    def gather(indices: tf.Tensor) -> tuple[Any, ...]:
        xb = tf.nest.map_structure(lambda t: tf.gather(t, indices), x_t)
        if w_t is None:
            return xb, tf.gather(y_t, indices)
        return xb, tf.gather(y_t, indices), tf.gather(w_t, indices)

    ds = (
        tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        .take(1)
        .map(make_indices)
        .flat_map(to_chunks)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    )
    if chunk > batch_size:
        ds = ds.rebatch(batch_size)  # chunks are whole batches; the last partial batch is kept
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)
    ds.steps_per_epoch = steps
    ds.sampling_plan = plan
    return ds


def _index_dtype(n: int) -> Any:
    return np.int32 if n < 2**31 - 1 else np.int64


def _seed_pair(epoch_seed: tf.Tensor, salt: int) -> tf.Tensor:
    return tf.stack([tf.cast(epoch_seed, tf.int64), tf.constant(salt, tf.int64)])


def _single_label_indices(plan: SamplingPlan, ids: np.ndarray) -> Any:
    """A function of the epoch seed that returns the epoch's shuffled row indices (exact counts per class)."""
    n = ids.size
    dtype = _index_dtype(n)
    order = np.argsort(ids, kind="stable").astype(dtype)
    bounds = np.concatenate([[0], np.cumsum(plan.class_counts)])
    fixed, random_parts = [], []
    for c, m in enumerate(plan.epoch_class_counts.tolist()):
        n_c = int(plan.class_counts[c])
        if m == 0 or n_c == 0:
            continue
        segment = order[bounds[c]: bounds[c + 1]]
        copies, extra = divmod(m, n_c)
        if copies:
            fixed.append(np.tile(segment, copies))
        if extra:
            random_parts.append((c, tf.constant(segment), extra))
    fixed_t = tf.constant(np.concatenate(fixed) if fixed else np.zeros(0, dtype))

    def make_indices(epoch_seed: tf.Tensor) -> tf.Tensor:
        parts = [fixed_t]
        for c, segment, extra in random_parts:
            parts.append(tf.random.experimental.stateless_shuffle(segment, seed=_seed_pair(epoch_seed, c + 1))[:extra])
        indices = tf.concat(parts, axis=0) if len(parts) > 1 else fixed_t
        return tf.random.experimental.stateless_shuffle(indices, seed=_seed_pair(epoch_seed, 0))

    return make_indices


def index_draws(plan: SamplingPlan, ids: Any, seed: int = 0, in_order: bool = False) -> Any:
    """The epochs of a single-label ``plan`` as numpy positions, for data whose features a source reads per row:
    ``draw(epoch)`` gives ``plan.epoch_class_counts[c]`` positions of class ``c`` (every row of the class
    ``m_c // n_c`` times, plus ``m_c % n_c`` distinct rows chosen at random), shuffled; the same rule as
    :func:`balanced_dataset`, seeded by ``(seed, epoch)``. Positions are int32 below 2**31 rows (4 bytes a row for
    the class segments and 4 for one epoch: a sampler over millions of streamed rows stays small).
    ``in_order=True`` gives each epoch's positions sorted instead of shuffled (sorted in place), for a source
    that shuffles the rows as it reads them (a table streamed from disk reads them in file order).

    >>> plan = sampling_plan([0, 0, 0, 0, 1])
    >>> draw = index_draws(plan, [0, 0, 0, 0, 1], seed=0)
    >>> sorted(draw(0).tolist()), draw(0).dtype.name
    ([0, 1, 2, 3, 4, 4, 4, 4], 'int32')
    """
    if plan.task == "multilabel":
        raise ValueError("index_draws takes a single-label plan; multi-label data uses balanced_dataset's "
                         "repeat-factor sampling.")
    ids = np.asarray(ids).reshape(-1)
    dtype = _index_dtype(ids.size)
    segments = [np.flatnonzero(ids == c).astype(dtype) if m else np.zeros(0, dtype)
                for c, m in enumerate(plan.epoch_class_counts.tolist())]
    wanted = [int(m) for m in plan.epoch_class_counts.tolist()]

    def draw(epoch: int) -> np.ndarray:
        rng = np.random.default_rng([int(seed), int(epoch)])
        out = np.empty(sum(wanted), dtype)
        at = 0
        for segment, m in zip(segments, wanted):
            if m == 0 or segment.size == 0:
                continue
            copies, extra = divmod(m, segment.size)
            for _ in range(copies):
                out[at:at + segment.size] = segment
                at += segment.size
            if extra:
                out[at:at + extra] = segment[rng.choice(segment.size, extra, replace=False)]
                at += extra
        out = out[:at]
        if in_order:
            out.sort()
        else:
            rng.shuffle(out)
        return out

    return draw


def _multilabel_indices(plan: SamplingPlan) -> Any:
    """Repeat-factor sampling: whole copies plus systematic sampling of the fractional parts on a random order."""
    n = plan.row_repeats.size
    dtype = _index_dtype(n)
    whole, frac = _split_repeats(plan.row_repeats)
    fixed_t = tf.constant(np.repeat(np.arange(n, dtype=dtype), whole))
    extra = plan.epoch_size - int(whole.sum())
    frac_t = tf.constant(frac, tf.float64)
    rows = tf.constant(np.arange(n, dtype=dtype))

    def make_indices(epoch_seed: tf.Tensor) -> tf.Tensor:
        indices = fixed_t
        if extra > 0:
            perm = tf.random.experimental.stateless_shuffle(rows, seed=_seed_pair(epoch_seed, 1))
            cum = tf.cumsum(tf.gather(frac_t, perm))
            start = tf.random.stateless_uniform([], seed=_seed_pair(epoch_seed, 2), dtype=tf.float64)
            # points u, u+1, …, u+extra-1, scaled onto [0, total): row i is hit when cum[i-1] <= point < cum[i]
            points = (start + tf.range(extra, dtype=tf.float64)) * (cum[-1] / extra)
            hit = tf.minimum(tf.searchsorted(cum, points, side="right"), n - 1)
            indices = tf.concat([fixed_t, tf.gather(perm, hit)], axis=0)
        return tf.random.experimental.stateless_shuffle(indices, seed=_seed_pair(epoch_seed, 0))

    return make_indices


# --- rebalance (streaming) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebalancePlan:
    """What :func:`rebalance` does to every element, and the memory it allocates.

    Attributes:
        method: ``"oversample"`` or ``"undersample"``.
        class_counts: rows per class of one pass over the input.
        target_fractions: the target share of every class.
        keep_probability: undersampling: probability that an element of each class is kept (1 for the class that
            limits the epoch); oversampling: all ones except 0 for dropped classes.
        expected_copies: expected copies of an element of each class in the output (``floor`` copies plus one more
            with probability equal to the fractional part).
        max_copies: the most copies of one element, ``ceil(max expected_copies)``.
        block_size: elements decided together (one vectorised filter / repeat per block of the stream); 1 when the
            elements cannot be stacked (shapes not fully known).
        shuffle_buffer: elements held by the shuffle buffer that spreads the copies (0: no shuffle).
        expected_size: expected elements per epoch.
    """

    method: str
    class_counts: np.ndarray
    target_fractions: np.ndarray
    keep_probability: np.ndarray
    expected_copies: np.ndarray
    max_copies: int
    block_size: int
    shuffle_buffer: int
    expected_size: float

    @property
    def buffer_sizes(self) -> dict[str, int]:
        """Most elements held at once by each stage that buffers: the block read from the input, the repeated block
        (``block_size × max_copies``) and the shuffle buffer. Memory is bounded by their sum times the element size,
        whatever the size of the data.

        >>> rebalance_plan([900, 100], shuffle_buffer=500).buffer_sizes
        {'block': 113, 'repeat': 1017, 'shuffle': 500}
        """
        return {"block": self.block_size, "repeat": self.block_size * self.max_copies, "shuffle": self.shuffle_buffer}


_BLOCK = 128  # elements decided together
_BLOCK_OUT = 1024  # the most elements a repeated block may hold (unless one element alone needs more copies)


def rebalance_plan(
    counts: Any, target: Any = "balanced", method: str = "oversample", shuffle_buffer: int | None = None
) -> RebalancePlan:
    """Per-class keep probabilities / expected copies that turn a stream with ``counts`` into the target.

    With observed shares ``p_c`` and target shares ``f_c``: undersampling keeps class ``c`` with probability
    ``a_c = (f_c / p_c) / max(f / p)``; oversampling repeats it ``r_c = (f_c / p_c) / min(f / p)`` times in
    expectation. Either way the output share of class ``c`` is ``p_c a_c / Σ p a = f_c``.

    >>> plan = rebalance_plan([900, 100])
    >>> plan.expected_copies.tolist(), plan.expected_size
    ([1.0, 9.0], 1800.0)
    >>> rebalance_plan([900, 100], method="undersample").keep_probability.round(4).tolist()
    [0.1111, 1.0]
    """
    _check_method(method)
    arr = np.asarray(as_numpy(counts))
    if arr.ndim != 1 or arr.size < 1 or arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr)) \
            or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ValueError(
            f"`counts` must be a 1-D sequence of whole numbers >= 0, one per class. Received: counts={quote(counts)}"
        )
    arr = arr.astype(np.float64)
    share = _target_fractions(target, arr)
    p = arr / arr.sum()
    used = share > 0
    ratio = np.zeros_like(share)
    ratio[used] = share[used] / p[used]
    if method == "undersample":
        keep = ratio / ratio.max()
        copies = keep.copy()
        buffer_default, max_copies = 0, 1
    else:
        copies = ratio / ratio[used].min()
        copies = np.where(np.abs(copies - np.round(copies)) < 1e-9, np.round(copies), copies)
        keep = used.astype(np.float64)
        max_copies = int(math.ceil(float(copies.max()) - 1e-9))
        buffer_default = int(min(max(1024, 16 * max_copies), 65536))
    if shuffle_buffer is None:
        shuffle_buffer = buffer_default
    elif isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, (int, np.integer)) or shuffle_buffer < 0:
        raise ValueError(
            "`shuffle_buffer` must be an integer >= 0 (0: no shuffle) or None. "
            f"Received: shuffle_buffer={shuffle_buffer!r}"
        )
    return RebalancePlan(
        method=method,
        class_counts=arr.astype(np.int64),
        target_fractions=share,
        keep_probability=keep,
        expected_copies=copies,
        max_copies=max_copies,
        block_size=max(1, min(_BLOCK, _BLOCK_OUT // max_copies)),
        shuffle_buffer=int(shuffle_buffer),
        expected_size=float((arr * copies).sum()),
    )


def _stream_label_kind(dataset: Any, num_classes: int | None) -> tuple[str, int | None]:
    """``("sparse" | "one_hot", columns)`` of an unbatched dataset of ``(x, y)`` / ``(x, y, w)`` elements."""
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"`rebalance` needs a tf.data.Dataset. Received an object of type {type(dataset).__name__}.")
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not isinstance(spec[1], tf.TensorSpec):
        raise ValueError(
            "`rebalance` needs a dataset of (x, y) or (x, y, sample_weight) elements with one label tensor y. "
            f"Received a dataset with element_spec={spec!r}"
        )
    y_spec = spec[1]
    shape = y_spec.shape
    if not (y_spec.dtype.is_integer or y_spec.dtype.is_floating or y_spec.dtype.is_bool):
        raise ValueError(f"`rebalance` needs numeric labels. Received labels {y_spec}.")
    if shape.rank == 0 or (shape.rank == 1 and shape[0] == 1):
        return "sparse", None
    if shape.rank == 1 and shape[0] is not None:
        if num_classes is not None and shape[0] != num_classes:
            raise ValueError(
                f"The labels have {shape[0]} columns but num_classes={num_classes}; one-hot labels need one column "
                "per class."
            )
        return "one_hot", int(shape[0])
    raise ValueError(
        "`rebalance` needs an unbatched dataset: one element per row, with a scalar class id, a (1,) id or a one-hot "
        f"row of known length. Received labels of shape {shape}; apply rebalance before .batch(), or call .unbatch()."
    )


def rebalance(
    dataset: tf.data.Dataset,
    target: Any = "balanced",
    method: str = "oversample",
    num_classes: int | None = None,
    seed: int | None = None,
    *,
    counts: Any = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Rebalance an unbatched stream of ``(x, y)`` / ``(x, y, w)`` elements, in bounded memory.

    Every element is decided on its own: ``"undersample"`` keeps it with its class' probability; ``"oversample"``
    emits it ``floor(r_c)`` times plus once more with probability ``frac(r_c)``, then a shuffle buffer spreads the
    copies. The decisions are made a block of elements at a time (one vectorised ``tf.repeat`` per block, then
    ``unbatch``), which keeps the per-element cost low. The output share of every class is the target in
    expectation (see :func:`rebalance_plan`). Memory: a block, its copies (``block_size × max_copies`` elements at
    most) and the shuffle buffer (``ds.rebalance_plan.buffer_sizes``), whatever the size of the data; an epoch is one
    pass over the input, with new random decisions and a new shuffle every epoch.

    Class counts come from ``counts`` when given, otherwise from one in-graph pass over the dataset before training
    (:func:`imbalance.weighting.class_counts`, O(classes) memory) — give them for an infinite (``.repeat()``)
    stream. Labels are class ids or one-hot rows; a one-hot row that does not hold exactly one 1 (multi-hot) stops
    the iteration with an error. Shuffle the input first (e.g. interleave files) when it is sorted by class: the
    output keeps its order apart from the shuffle buffer.

    Args:
        dataset: an unbatched ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, sample_weight)`` elements.
        target: ``"balanced"``, ``"sqrt"`` or a dict ``{class: fraction}``.
        method: ``"oversample"`` or ``"undersample"``.
        num_classes: number of classes (labels may miss some); also checked against one-hot rows.
        seed: makes the sequence of epochs reproducible; ``None`` follows TensorFlow's global seed.
        counts: per-class counts of one pass over the input, to skip the counting pass.
        shuffle_buffer: elements in the shuffle buffer (default ``clip(16 × max_copies, 1024, 65536)`` for
            oversampling, 0 for undersampling, which keeps the input order).

    Raises:
        TypeError: when ``dataset`` is not a ``tf.data.Dataset``.
        ValueError: for batched labels, a bad ``target`` / ``method`` / ``counts`` / ``shuffle_buffer``, or a
            target class absent from the data.

    >>> ds = tf.data.Dataset.from_tensor_slices((tf.zeros([100, 1]), tf.constant([0] * 90 + [1] * 10)))
    >>> out = rebalance(ds, method="undersample", seed=0)
    >>> out.rebalance_plan.keep_probability.round(3).tolist(), out.rebalance_plan.buffer_sizes
    ([0.111, 1.0], {'block': 128, 'repeat': 128, 'shuffle': 0})
    """
    from imbalance._validation import check_positive_int
    from imbalance.weighting import class_counts

    _check_method(method)
    seed = _check_seed(seed)
    num_classes = check_positive_int("num_classes", num_classes)
    kind, columns = _stream_label_kind(dataset, num_classes)
    if counts is None:
        found = class_counts(dataset, num_classes=num_classes if num_classes is not None else columns,
                             label_format="sparse" if kind == "sparse" else "dense")
    else:
        found = np.asarray(as_numpy(counts))
        expected_k = num_classes if num_classes is not None else columns
        if expected_k is not None and found.ndim == 1 and found.size != expected_k:
            raise ValueError(
                f"`counts` has {found.size} entries but the data has {expected_k} classes. "
                f"Received: counts={quote(counts)}"
            )
    plan = rebalance_plan(found, target, method, shuffle_buffer)
    stackable = all(spec.shape.is_fully_defined() for spec in tf.nest.flatten(dataset.element_spec))
    if not stackable:  # elements of varying shape are decided one by one
        plan = dataclasses.replace(plan, block_size=1)
    k = plan.class_counts.size
    expected = tf.constant(plan.expected_copies, tf.float64)

    def classes_of(y: tf.Tensor) -> tf.Tensor:
        """Class ids of a block of labels: ids (b,) / (b, 1) or one-hot rows (b, K)."""
        if kind == "sparse":
            c = tf.cast(tf.reshape(y, [-1]), tf.int64)
            checks = [tf.debugging.assert_non_negative(c, message="rebalance: a class id is negative"),
                      tf.debugging.assert_less(c, tf.constant(k, tf.int64),
                                               message=f"rebalance: a class id is >= the number of classes {k}")]
        else:
            rows = tf.cast(y, tf.float64)
            checks = [tf.debugging.assert_equal(
                tf.reduce_sum(rows, axis=-1), tf.constant(1.0, tf.float64),
                message="rebalance: a one-hot label row does not hold exactly one 1 (multi-hot rows have no single "
                        "class; rebalance streams of single-label data, or use balanced_dataset for multi-label "
                        "arrays)")]
            c = tf.argmax(rows, axis=-1, output_type=tf.int64)
        with tf.control_dependencies(checks):
            return tf.identity(c)

    def decide(block: tuple[Any, ...], random: tf.Tensor) -> tuple[Any, ...]:
        """Copies of every element of the block: floor(r_c) plus one with probability frac(r_c) (0 or 1 when
        undersampling, where r_c is the keep probability), emitted by one vectorised repeat."""
        r = tf.gather(expected, classes_of(block[1]))
        u = tf.random.stateless_uniform(tf.shape(r), seed=tf.stack([random, tf.constant(7, tf.int64)]),
                                        dtype=tf.float64)
        n_copies = tf.cast(tf.floor(r), tf.int64) + tf.cast(u < r - tf.floor(r), tf.int64)
        return tf.nest.map_structure(lambda t: tf.repeat(t, n_copies, axis=0), block)

    if stackable:
        blocks = dataset.batch(plan.block_size)
    else:
        blocks = dataset.map(lambda *element: tf.nest.map_structure(lambda t: tf.expand_dims(t, 0), element))
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((blocks, draws)).map(decide, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    if plan.shuffle_buffer > 0:
        ds = ds.shuffle(plan.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds.rebalance_plan = plan
    return ds
