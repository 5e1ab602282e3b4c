"""Sampling speed and streaming memory.

1. **Throughput.** Rows per second delivered as ``model.fit``-shaped batches (256 rows of 20 float32 features and an
   int64 label) from 1 M rows with 5 % positives, one full epoch at a time *including its draw*, for:

   * ``imbalance.data.balanced_dataset`` (index-level sampling in ``tf.data``, a new draw every epoch);
   * imbalanced-learn's ``imblearn.keras.BalancedBatchGenerator`` with ``RandomOverSampler`` /
     ``RandomUnderSampler``. It draws its indices once, in its constructor, so a fresh draw per epoch means a new
     generator per epoch (that construction is timed). ``model.fit`` consumes such a ``PyDataset`` through Keras'
     ``PyDatasetAdapter``, a ``tf.data.Dataset.from_generator`` over its ``__getitem__``: that path is timed;
   * ``tf.data.Dataset.rejection_resample`` (undersampling by rejection, per element), then ``batch(256)``.

   Two consumers: **in-graph** (a ``tf.function`` iterating the batches: the pipeline's own cost, what a
   prefetching ``model.fit`` hides behind the train step) and **Python loop** (``for batch in ds``: adds
   TensorFlow's per-batch eager overhead, the same for every contender). The raw numpy loop over the generator's
   ``__getitem__`` (no tensors, not consumable by ``model.fit`` as is) is shown for context.

2. **Streaming memory.** ``imbalance.data.rebalance`` (oversampling to balanced) over a ``Dataset.range``-backed
   stream of n rows (features computed per row, never held in memory): peak resident memory (RSS, psutil, sampled
   every 5 ms in a thread) above the RSS measured just before the pass, at two sizes ten times apart.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from benchmarks._report import (
    Section,
    environment,
    load_average,
    log,
    md_table,
    now_iso,
    store_section,
    tensorflow_devices,
)

NAME = "sampler_speed"
TITLE = "Sampling speed and streaming memory"
GOAL = 5.0

SEED = 0
ROWS = 1_000_000
FEATURES = 20
POSITIVE_RATE = 0.05
BATCH = 256


@dataclass(frozen=True)
class Settings:
    rounds: int  # timed epochs per contender and consumer (median reported)
    memory_sizes: tuple[int, int]  # rows of the two streaming runs


QUICK = Settings(rounds=2, memory_sizes=(200_000, 1_000_000))
FULL = Settings(rounds=3, memory_sizes=(1_000_000, 10_000_000))


# --- data and contenders -------------------------------------------------------------------------------------


def make_data(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((ROWS, FEATURES)).astype(np.float32)
    y = (rng.random(ROWS) < POSITIVE_RATE).astype(np.int64)
    return x, y


def _ours(x: np.ndarray, y: np.ndarray, method: str) -> Callable[[], Any]:
    from imbalance.data import balanced_dataset

    ds = balanced_dataset(x, y, BATCH, method=method, seed=SEED)
    return lambda: ds  # the same dataset: every iteration is a new draw


def _imblearn(x: np.ndarray, y: np.ndarray, method: str) -> tuple[Callable[[], Any], Callable[[], Any], str]:
    """(fresh tf.data dataset as model.fit sees it, fresh generator, path used)."""
    from imblearn.keras import BalancedBatchGenerator
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    sampler_cls = RandomOverSampler if method == "oversample" else RandomUnderSampler
    counter = iter(range(10**6))

    def generator() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return BalancedBatchGenerator(x, y, sampler=sampler_cls(), batch_size=BATCH,
                                          random_state=SEED + next(counter))

    try:
        from keras.src.trainers.data_adapters import get_data_adapter

        def as_fit_sees_it() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return get_data_adapter(generator()).get_tf_dataset()

        as_fit_sees_it().take(1)  # the private adapter API is there
        return as_fit_sees_it, generator, "Keras PyDatasetAdapter (what model.fit uses)"
    except Exception:  # pragma: no cover - Keras internals moved: the equivalent from_generator
        import tensorflow as tf

        def from_generator() -> Any:
            gen = generator()
            spec = (tf.TensorSpec((None, FEATURES), tf.float32), tf.TensorSpec((None,), tf.int64))
            return tf.data.Dataset.from_generator(lambda: (gen[i] for i in range(len(gen))), output_signature=spec)

        return from_generator, generator, "tf.data.Dataset.from_generator over __getitem__"


REJECTION_ROWS = 30_000  # rejection_resample is timed on the first rows only: it decides row by row


def _rejection(x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    import tensorflow as tf

    x, y = x[:REJECTION_ROWS], y[:REJECTION_ROWS]
    initial = [1.0 - float(y.mean()), float(y.mean())]
    ds = (tf.data.Dataset.from_tensor_slices((x, y))
          .rejection_resample(lambda xe, ye: tf.cast(ye, tf.int32), target_dist=[0.5, 0.5], initial_dist=initial,
                              seed=SEED)
          .map(lambda label, element: element)
          .batch(BATCH)
          .prefetch(tf.data.AUTOTUNE))
    return lambda: ds


_CONSUME: Any = None


def _in_graph(ds: Any) -> int:
    """Rows of one pass over ``ds``, consumed inside one ``tf.function`` (traced once per element structure, not
    per call as ``Dataset.reduce`` would be): no Python per batch, as in model.fit's compiled train step."""
    global _CONSUME
    import tensorflow as tf

    if _CONSUME is None:
        @tf.function
        def consume(dataset: Any) -> Any:
            rows = tf.constant(0, tf.int64)
            for batch in dataset:
                rows += tf.shape(batch[1], out_type=tf.int64)[0]
            return rows

        _CONSUME = consume
    return int(_CONSUME(ds))


def _python_loop(ds: Any) -> int:
    rows = 0
    for batch in ds:
        rows += int(batch[1].shape[0])
    return rows


def _numpy_loop(make_generator: Callable[[], Any]) -> int:
    gen = make_generator()
    rows = 0
    for i in range(len(gen)):
        rows += gen[i][1].shape[0]
    return rows


def _time_epochs(fn: Callable[[], int], rounds: int) -> dict[str, Any]:
    seconds, rows = [], []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        rows.append(fn())
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {"seconds": seconds, "rows": rows, "median_s": median, "rows_per_s": statistics.median(rows) / median}


def measure_throughput(settings: Settings, log: Callable[[str], None] = log) -> list[dict[str, Any]]:
    x, y = make_data()
    results: list[dict[str, Any]] = []
    for method in ("oversample", "undersample"):
        contenders: list[tuple[str, Callable[[], Any] | None, Callable[[], int] | None]] = []
        contenders.append(("imbalance `balanced_dataset`", _ours(x, y, method), None))
        try:
            fit_path, make_gen, path = _imblearn(x, y, method)
            contenders.append((f"imblearn `BalancedBatchGenerator` via {path}", fit_path, None))
            contenders.append(("imblearn `BalancedBatchGenerator`, raw numpy `__getitem__` loop (context)", None,
                               lambda make_gen=make_gen: _numpy_loop(make_gen)))
        except Exception as exc:  # imblearn.keras failed to import or to run with Keras 3: say so
            results.append({"method": method, "contender": "imblearn `BalancedBatchGenerator`",
                            "error": f"{type(exc).__name__}: {exc}"[:200]})
        if method == "undersample":
            contenders.append((f"tf.data `rejection_resample` (first {REJECTION_ROWS:,} rows only)", _rejection(x, y),
                               None))
        for name, make_ds, numpy_fn in contenders:
            row: dict[str, Any] = {"method": method, "contender": name}
            if numpy_fn is not None:
                row["python"] = _time_epochs(numpy_fn, settings.rounds)
            else:
                _in_graph(make_ds())  # warm-up: traces the pipeline (and shows its epoch size)
                row["in_graph"] = _time_epochs(lambda: _in_graph(make_ds()), settings.rounds)
                row["python"] = _time_epochs(lambda: _python_loop(make_ds()), settings.rounds)
            results.append(row)
            shown = {k: f"{row[k]['rows_per_s'] / 1e3:,.0f} k rows/s" for k in ("in_graph", "python") if k in row}
            log(f"{method} · {name}: {shown}")
    return results


# --- streaming memory ------------------------------------------------------------------------------------------


class PeakRSS:
    """Peak resident set size of this process, sampled every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> "PeakRSS":
        self.start = self.process.memory_info().rss
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


STREAM_BLOCK = 1000


def _range_stream(n: int) -> Any:
    """n rows computed from their index, never held in memory: 20 stateless-random features, class 1 for every
    20th row (5 %). Generated 1000 rows at a time and unbatched, so that the source costs little per row."""
    import tensorflow as tf

    def rows(block: Any) -> tuple[Any, Any]:
        index = block * STREAM_BLOCK + tf.range(STREAM_BLOCK, dtype=tf.int64)
        seed = tf.stack([block, tf.constant(SEED, tf.int64)])
        features = tf.random.stateless_normal([STREAM_BLOCK, FEATURES], seed=seed)
        return features, tf.cast(tf.equal(index % 20, 0), tf.int64)

    return tf.data.Dataset.range(n // STREAM_BLOCK).map(rows, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def measure_memory(settings: Settings, log: Callable[[str], None] = log) -> list[dict[str, Any]]:
    import tensorflow as tf

    from imbalance.data import rebalance

    results = []
    warm = rebalance(_range_stream(10_000), counts=[9_500, 500], seed=SEED).batch(1024)
    _in_graph(warm)  # load kernels and thread pools before the first measurement
    for n in settings.memory_sizes:
        source_rows, source_seconds = _count_rows(_range_stream(n).batch(1024))
        positives = n // 20
        out = rebalance(_range_stream(n), counts=[n - positives, positives], seed=SEED)
        plan = out.rebalance_plan
        batched = out.batch(1024)
        gc.collect()
        with PeakRSS() as rss:
            start = time.perf_counter()
            rows = int(batched.reduce(tf.constant(0, tf.int64),
                                      lambda k, b: k + tf.shape(b[1], out_type=tf.int64)[0]))
            seconds = time.perf_counter() - start
        result = {"n": n, "rows_out": rows, "expected_rows_out": plan.expected_size, "seconds": seconds,
                  "rows_per_s": rows / seconds, "source_rows_per_s": source_rows / source_seconds,
                  "rss_start_mb": rss.start / 2**20,
                  "peak_above_start_mb": (rss.peak - rss.start) / 2**20, "buffer_sizes": plan.buffer_sizes}
        results.append(result)
        log(f"rebalance n={n:,}: {rows:,} rows out in {seconds:.1f} s, "
            f"peak RSS +{result['peak_above_start_mb']:.1f} MB")
    return results


def _count_rows(ds: Any) -> tuple[int, float]:
    start = time.perf_counter()
    rows = _in_graph(ds)
    return rows, time.perf_counter() - start


# --- the section -----------------------------------------------------------------------------------------------


def _k(rate: float) -> str:
    """Rows per second in thousands, 3 significant digits for small rates."""
    value = rate / 1e3
    return f"{value:,.0f} k" if value >= 100 else f"{value:.3g} k"


def _rate(row: dict[str, Any], key: str) -> str:
    if key not in row:
        return "—"
    r = row[key]
    return f"{_k(r['rows_per_s'])} ({r['median_s']:.2f} s)"


def _find(rows: list[dict[str, Any]], method: str, prefix: str) -> dict[str, Any] | None:
    for row in rows:
        if row["method"] == method and row["contender"].startswith(prefix) and "error" not in row \
                and "in_graph" in row:
            return row
    return None


def verdicts(throughput: list[dict[str, Any]], memory: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    wins: list[str] = []
    losses: list[str] = []
    for method in ("oversample", "undersample"):
        ours = _find(throughput, method, "imbalance")
        theirs = _find(throughput, method, "imblearn")
        if ours is None or theirs is None:
            losses.append(f"{method}: imbalanced-learn's generator could not be measured (see the table).")
            continue
        for key, label in (("in_graph", "in-graph"), ("python", "Python loop")):
            ratio = ours[key]["rows_per_s"] / theirs[key]["rows_per_s"]
            text = (f"{method}, {label}: `balanced_dataset` delivers {ours[key]['rows_per_s'] / 1e3:,.0f} k rows/s, "
                    f"{ratio:.1f}× imbalanced-learn's `BalancedBatchGenerator` as model.fit consumes it "
                    f"({theirs[key]['rows_per_s'] / 1e3:,.0f} k rows/s)")
            if ratio >= GOAL:
                wins.append(text + ".")
            elif method == "undersample":
                losses.append(text + f"; the goal is ≥ {GOAL:g}×. An undersampled epoch is only "
                              f"~{int(np.median(ours[key]['rows'])):,} rows, so starting it (a new tf.data "
                              f"iterator and the draw over {ROWS:,} labels, tens of ms) is a large share of its "
                              f"{ours[key]['median_s']:.2f} s"
                              + (", besides TensorFlow's per-batch eager overhead." if key == "python" else "."))
            else:
                losses.append(text + f"; the goal is ≥ {GOAL:g}×.")
        raw = next((r for r in throughput if r["method"] == method and "raw numpy" in r["contender"]), None)
        if raw is not None and raw["python"]["rows_per_s"] > ours["python"]["rows_per_s"]:
            losses.append(
                f"{method}: imbalanced-learn's raw numpy `__getitem__` loop ({_k(raw['python']['rows_per_s'])} "
                f"rows/s) beats our Python-loop rate ({_k(ours['python']['rows_per_s'])} rows/s): TensorFlow's "
                "per-batch eager overhead, which model.fit pays for any tf.data input, dominates at 256 rows a batch; "
                "those numpy batches still need converting before model.fit can use them."
            )
    rejection = _find(throughput, "undersample", "tf.data")
    ours_under = _find(throughput, "undersample", "imbalance")
    if rejection and ours_under:
        ratio = ours_under["in_graph"]["rows_per_s"] / rejection["in_graph"]["rows_per_s"]
        (wins if ratio >= 1 else losses).append(
            f"undersample, in-graph: `balanced_dataset` delivers {ratio:.0f}× the rows per second of tf.data's "
            f"`rejection_resample` ({_k(rejection['in_graph']['rows_per_s'])} rows/s), which decides row by row, "
            f"reads every row and keeps ~{int(np.median(rejection['in_graph']['rows'])):,} of {REJECTION_ROWS:,}.")
    if len(memory) == 2:
        small, big = memory
        growth = big["peak_above_start_mb"] - small["peak_above_start_mb"]
        text = (f"`rebalance` streaming memory: peak RSS +{small['peak_above_start_mb']:.0f} MB at {small['n']:,} rows "
                f"and +{big['peak_above_start_mb']:.0f} MB at {big['n']:,} rows (buffers "
                f"{big['buffer_sizes']} elements, the same at both sizes)")
        if growth <= max(32.0, 0.25 * small["peak_above_start_mb"]):
            wins.append(text + ": memory does not grow with the data.")
        else:
            losses.append(text + f": it grew by {growth:.0f} MB.")
        # rebalance reads every input row once and writes ~1.9 rows per input row (oversampling 5 % to balanced)
        read_rate = big["rows_per_s"] * big["n"] / big["rows_out"]
        text = (f"`rebalance` at {big['n']:,} rows: {big['rows_per_s'] / 1e3:,.0f} k output rows/s, reading its input "
                f"at {read_rate / 1e3:,.0f} k rows/s where the source alone is read at "
                f"{big['source_rows_per_s'] / 1e3:,.0f} k rows/s")
        if read_rate >= 0.5 * big["source_rows_per_s"]:
            wins.append(text + ": the per-element decisions cost less than producing the stream.")
        else:
            losses.append(text + ": the per-element decisions (class lookup, a random draw, repeat, unbatch, "
                          "shuffle) cost more than producing this cheap stream; `balanced_dataset` is the fast path "
                          "for arrays in memory.")
    return wins, losses


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    load_before = load_average()
    throughput = measure_throughput(settings, log=log)
    memory = measure_memory(settings, log=log)
    load_after = load_average()
    elapsed = time.perf_counter() - started
    wins, losses = verdicts(throughput, memory)

    table = []
    for row in throughput:
        if "error" in row:
            table.append([row["method"], row["contender"], "—", f"failed: `{row['error']}`", "—"])
            continue
        rows_out = int(np.median(row["python"]["rows"]))
        table.append([row["method"], row["contender"], f"{rows_out:,}", _rate(row, "in_graph"), _rate(row, "python")])
    memory_rows = [[f"{m['n']:,}", f"{m['rows_out']:,} (expected {m['expected_rows_out']:,.0f})",
                    f"{m['seconds']:.1f}", f"{m['rows_per_s'] / 1e3:,.0f} k", f"{m['source_rows_per_s'] / 1e3:,.0f} k",
                    f"{m['rss_start_mb']:,.0f}",
                    f"**+{m['peak_above_start_mb']:.1f}**", str(m["buffer_sizes"])] for m in memory]
    mode = (f"**Quick mode**: median of {settings.rounds} timed epochs per contender and consumer after a warm-up "
            "epoch; "
            f"streaming at {settings.memory_sizes[0]:,} and {settings.memory_sizes[1]:,} rows (full mode: "
            f"{FULL.memory_sizes[0]:,} and {FULL.memory_sizes[1]:,}). Indicative numbers."
            if quick else
            f"Full mode: median of {settings.rounds} timed epochs per contender and consumer after a warm-up epoch.")
    loads = ""
    if load_before and load_after:
        loads = (f" Load average (1 min) was {load_before[0]:.2f} before and {load_after[0]:.2f} after this section "
                 "(other processes share the cores; absolute rates move with it).")
    body = "\n\n".join([
        f"Goal: `balanced_dataset` delivers ≥ **{GOAL:g}×** the rows per second of imbalanced-learn's "
        "`BalancedBatchGenerator`, and `rebalance` keeps memory flat whatever the size of the stream.",
        f"**Throughput setup.** {ROWS:,} rows × {FEATURES} float32 features, {POSITIVE_RATE:.0%} positives, "
        f"batches of {BATCH}, same arrays for every contender, one process. An epoch is timed from its draw to its "
        "last batch: oversampling gives ~1.9 M rows per epoch (every negative once, positives repeated), "
        "undersampling ~100 k. "
        "**In-graph** = one `tf.function` that iterates the dataset (traced once; no Python per batch, as in "
        "model.fit's compiled step); **Python loop** = `for batch in ds` (eager tensors per batch). "
        "imbalanced-learn's generator draws once in its constructor, so each epoch builds a new "
        "one (its `RandomOverSampler` / `RandomUnderSampler` `fit_resample` is part of the epoch time). "
        f"Device: {tensorflow_devices()}. " + mode + loads,
        md_table(["Method", "Contender", "Rows per epoch", "In-graph rows/s (epoch s)", "Python-loop rows/s (epoch s)"],
                 table, align=["l", "l", "r", "r", "r"]),
        "**Streaming memory setup.** `rebalance(stream, counts=…, method='oversample')` to balanced, where `stream` "
        "is `Dataset.range` generating 1000 rows at a time (20 stateless-random features, every 20th row positive) "
        "and unbatched: nothing is held in memory. The output is consumed in-graph in batches of 1024; \"source "
        "alone\" is the same consumption of the stream without `rebalance`. "
        "Method: resident set size (psutil) sampled every 5 ms in a thread; the table shows the peak above the RSS "
        "just before the pass (after a warm-up run that loads kernels and thread pools).",
        md_table(["Rows in", "Rows out", "Seconds", "Rows out/s", "Source alone rows/s", "RSS before (MB)",
                  "Peak RSS above (MB)", "Buffers (elements)"], memory_rows,
                 align=["r", "r", "r", "r", "r", "r", "r", "l"]),
    ])
    payload = {
        "section": NAME,
        "generated": now_iso(),
        "quick": quick,
        "settings": settings.__dict__,
        "config": {"rows": ROWS, "features": FEATURES, "positive_rate": POSITIVE_RATE, "batch": BATCH, "seed": SEED,
                   "goal_ratio": GOAL},
        "environment": environment(),
        "load_average_after": load_after,
        "seconds": round(elapsed, 1),
        "throughput": throughput,
        "memory": memory,
    }
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
