"""Metric speed: cost of one streaming ``update_state`` of every ``imbalance.metrics`` metric, relative to Keras'
own ``keras.metrics.Precision`` on the same batch, and relative to the closest Keras metric where Keras has one.

Method:

* Two batches, built once from a fixed seed: 4096 rows × 10 classes (one-hot labels, softmax probabilities;
  seed 000's shape) and 4096 rows × 30 labels (multi-hot labels with positive rates 20 % … 0.5 %, sigmoid
  probabilities; seed 002's shape). Both sides receive the same tensors: probabilities, because Keras' ``Precision``
  has no ``from_logits``, and one-hot / multi-hot labels, the only format Keras' ``Precision`` accepts for K columns.
* The timed call is ``update_state`` wrapped in one ``tf.function`` per metric (``jit_compile=False``), traced and
  warmed up before timing; the state is not reset between calls (the cost of an update does not depend on it).
* Interleaved blocks (ours, reference, reference, ours, …) with :func:`benchmarks._timing.time_pair`; the ratio is
  the median of the per-round paired ratios, with its interquartile range.
* The cost of the input checks (issue 20: NaN scores, labels outside [0, 1], class ids out of range raise, or make
  the state NaN when compiled): each metric is also traced with its checks removed (:func:`without_input_checks`)
  and timed against itself. The ratios against Keras are measured with the checks on, as users run them.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from unittest import mock

import numpy as np

from benchmarks._report import (
    Section,
    environment,
    escape,
    load_average,
    log,
    md_table,
    now_iso,
    store_section,
    tensorflow_devices,
)
from benchmarks._timing import time_pair

NAME = "metric_speed"
TITLE = "Metric speed: streaming update vs Keras Precision"

SEED = 0
ROWS = 4096
CLASSES = 10
LABELS = 30
NUM_THRESHOLDS = 200  # the default of PRAUC / RecallAtPrecision / PrecisionAtRecall and of Keras' AUC
TARGET = 0.8  # precision / recall floor of the constrained metrics
NOISE = 1.10  # ratios up to this are within the noise of a shared machine: no statement either way


@dataclass(frozen=True)
class Settings:
    rounds: int
    block_seconds: float
    warmup: int


QUICK = Settings(rounds=11, block_seconds=0.02, warmup=5)
FULL = Settings(rounds=41, block_seconds=0.1, warmup=20)


@dataclass(frozen=True)
class Case:
    name: str  # constructor as shown in the table
    make: Callable[[Any, bool], Any]  # (imbalance.metrics module, multi_label) -> metric
    counterpart: str | None  # label of the closest Keras metric, if any
    make_counterpart: Callable[[Any, bool], Any] | None  # (keras module, multi_label) -> keras metric
    why: str  # the work per update beyond Keras' Precision
    tasks: tuple[str, ...] = ("multiclass", "multilabel")
    family: str = "counts"  # "counts" (confusion counts) or "curve" (score histogram)


def _cases() -> tuple[Case, ...]:
    counts = ("builds the 0/1 decisions, then three column sums (TP, TP+FP, TP+FN) and a total, stacked into one "
              "(4, K) state variable, where Keras' `Precision` / `Recall` keep two scalar sums")
    argmax = (" (multi-class: a `top_k` and a one-hot instead of a threshold; and because the labels are a one-hot "
              "*matrix*, a second count of the per-element decisions at 0.5 and a row-sum check, so that a multi-hot "
              "matrix given without `multi_label=True` gives the multi-label value instead of an argmax — class ids "
              "or `multi_label=True` skip it)")
    curve = ("computes a bucket index per score (clip, multiply, floor, cast, and the label folded into the index) "
             "and one 1-D `segment_sum` into a (K × 200 × 2) histogram, where Keras' `Precision` compares each "
             "score with one threshold and sums; Keras' own curve metrics do more (a cumulative sum over the 200 "
             "thresholds per update, four state variables)")
    return (
        Case("Precision()", lambda M, ml: M.Precision(multi_label=ml), "keras Precision",
             None, counts + argmax),  # its closest Keras metric is the reference itself
        Case("Precision(class_id=0, threshold=0.3)", lambda M, ml: M.Precision(class_id=0, threshold=0.3),
             "keras Precision(class_id=0, thresholds=0.3)",
             lambda k, ml: k.metrics.Precision(class_id=0, thresholds=0.3),
             "thresholds one column and counts it, and counts it again per element with the row-sum check of a "
             "one-hot label matrix (see `Precision()`)", tasks=("multiclass",)),
        Case("Recall()", lambda M, ml: M.Recall(multi_label=ml), "keras Recall", lambda k, ml: k.metrics.Recall(),
             counts + argmax),
        Case("FBetaScore(average='macro')", lambda M, ml: M.FBetaScore(multi_label=ml),
             "keras F1Score(average='macro')",
             lambda k, ml: k.metrics.F1Score(average="macro", threshold=0.5 if ml else None), counts + argmax),
        Case("PRAUC()", lambda M, ml: M.PRAUC(multi_label=ml), "keras AUC(curve='PR', multi_label=True)",
             lambda k, ml: k.metrics.AUC(curve="PR", num_thresholds=NUM_THRESHOLDS, multi_label=True), curve,
             family="curve"),
        Case(f"RecallAtPrecision({TARGET})", lambda M, ml: M.RecallAtPrecision(TARGET, multi_label=ml),
             f"keras RecallAtPrecision({TARGET})", lambda k, ml: k.metrics.RecallAtPrecision(TARGET),
             curve.replace("(K × 200 × 2)", "pooled (1 × 200 × 2)"), family="curve"),
        Case(f"PrecisionAtRecall({TARGET})", lambda M, ml: M.PrecisionAtRecall(TARGET, multi_label=ml),
             f"keras PrecisionAtRecall({TARGET})", lambda k, ml: k.metrics.PrecisionAtRecall(TARGET),
             curve.replace("(K × 200 × 2)", "pooled (1 × 200 × 2)"), family="curve"),
        Case("BalancedAccuracy()", lambda M, ml: M.BalancedAccuracy(multi_label=ml), None, None, counts + argmax),
        Case("GeometricMean()", lambda M, ml: M.GeometricMean(multi_label=ml), None, None, counts + argmax),
        Case("MatthewsCorrelation()", lambda M, ml: M.MatthewsCorrelation(multi_label=ml), None, None,
             counts + argmax),
    )


TASKS = {
    "multiclass": f"multi-class {ROWS}×{CLASSES}, one-hot",
    "multilabel": f"multi-label {ROWS}×{LABELS}, multi-hot",
}


def make_batches(seed: int = SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(labels, probabilities) per task, float32."""
    rng = np.random.default_rng(seed)
    counts = np.array([15.0] + [round(2000 * 0.7**k) for k in range(CLASSES - 1)])
    ids = rng.choice(CLASSES, size=ROWS, p=counts / counts.sum())
    z = 2.0 * np.eye(CLASSES)[ids] + rng.standard_normal((ROWS, CLASSES))
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    rates = np.geomspace(0.2, 0.005, LABELS)
    multi_hot = (rng.random((ROWS, LABELS)) < rates).astype(np.float32)
    zl = 2.0 * (2 * multi_hot - 1) + rng.standard_normal((ROWS, LABELS)) - 2.0
    return {
        "multiclass": (np.eye(CLASSES, dtype=np.float32)[ids], probs.astype(np.float32)),
        "multilabel": (multi_hot, (1.0 / (1.0 + np.exp(-zl))).astype(np.float32)),
    }


@dataclass
class Row:
    metric: str
    task: str
    counterpart: str | None
    why: str
    family: str = "counts"
    status: str = "ok"
    state_floats: int = 0
    ref_state_floats: int = 0
    vs_precision: dict[str, Any] = field(default_factory=dict)
    vs_counterpart: dict[str, Any] = field(default_factory=dict)
    vs_unchecked: dict[str, Any] = field(default_factory=dict)  # ours with / without the input checks


def _sync_factory() -> Callable[[Any], Any]:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return lambda _out: tf.test.experimental.sync_devices()
    return lambda _out: None  # CPU tf.function calls return when their ops have run


@contextlib.contextmanager
def without_input_checks() -> Iterator[None]:
    """Metrics traced inside this block have no input checks: every check of the streaming metrics goes through
    ``imbalance.metrics.keras_metrics.check_tensor``, which then adds nothing to the graph (the "without" side of
    the checks' cost; not a user setting)."""
    with mock.patch("imbalance.metrics.keras_metrics.check_tensor", lambda *args, **kwargs: None):
        yield


def _updater(metric: Any, y: Any, p: Any) -> tuple[Callable[[], Any], int]:
    """A traced, warmed ``update_state`` call on fixed tensors, and the number of floats of the metric's state."""
    import tensorflow as tf

    step = tf.function(metric.update_state, jit_compile=False)
    step(y, p)  # traces and builds the state
    size = int(sum(np.prod(v.shape) for v in metric.variables))
    return (lambda: step(y, p)), size


def _error_text(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}" + (f": {message[:160]}" if message else "")


def measure(settings: Settings, log: Callable[[str], None] = log) -> list[Row]:
    import keras
    import tensorflow as tf

    import imbalance.metrics as M

    sync = _sync_factory()
    batches = {task: (tf.constant(y), tf.constant(p)) for task, (y, p) in make_batches().items()}
    rows: list[Row] = []
    for task, (y, p) in batches.items():
        multi_label = task == "multilabel"
        reference, ref_size = _updater(keras.metrics.Precision(), y, p)
        for case in _cases():
            if task not in case.tasks:
                continue
            row = Row(case.name, task, case.counterpart, case.why, case.family)
            rows.append(row)
            try:
                ours, row.state_floats = _updater(case.make(M, multi_label), y, p)
                timing = time_pair(ours, reference, rounds=settings.rounds, block_seconds=settings.block_seconds,
                                   warmup=settings.warmup, sync=sync)
                row.vs_precision = timing.summary()
                if case.make_counterpart is not None:
                    other, row.ref_state_floats = _updater(case.make_counterpart(keras, multi_label), y, p)
                    timing = time_pair(ours, other, rounds=settings.rounds, block_seconds=settings.block_seconds,
                                       warmup=settings.warmup, sync=sync)
                    row.vs_counterpart = timing.summary()
                with without_input_checks():  # traced here, so the graph has no checks
                    plain, _ = _updater(case.make(M, multi_label), y, p)
                row.vs_unchecked = time_pair(ours, plain, rounds=settings.rounds,
                                             block_seconds=settings.block_seconds, warmup=settings.warmup,
                                             sync=sync).summary()
            except Exception as exc:  # one broken metric must not stop the others
                row.status = _error_text(exc)
                log(f"[red]{escape(case.name)} ({task}): {escape(row.status)}[/red]\n"
                    + escape(traceback.format_exc(limit=3)))
                continue
            extra = ""
            if row.vs_counterpart:
                extra = f", {row.vs_counterpart['ratio']:.2f}× {case.counterpart}"
            log(f"{escape(case.name)} ({task}): {row.vs_precision['ours_ms']:.3f} ms, "
                f"{row.vs_precision['ratio']:.2f}× keras Precision{escape(extra)}, "
                f"{row.vs_unchecked['ratio']:.2f}× itself without input checks")
    return rows


def _ratio(summary: dict[str, Any]) -> str:
    if not summary:
        return "—"
    q1, q3 = summary["ratio_iqr"]
    return f"**{summary['ratio']:.2f}×** ({q1:.2f}–{q3:.2f})"


def render_table(rows: list[Row]) -> str:
    headers = ["Metric", "Batch", "Ours (ms)", "Keras Precision (ms)", "Ratio vs Precision (IQR)",
               "Closest Keras metric", "Its time (ms)", "Ratio vs it (IQR)", "State floats ours / it",
               "Ours without checks (ms)", "Checks' ratio (IQR)"]
    body = []
    for row in rows:
        if row.status != "ok":
            body.append([f"`{row.metric}`", TASKS[row.task], "—", "—", row.status, row.counterpart or "none", "—",
                         "—", "—", "—", "—"])
            continue
        v, c, u = row.vs_precision, row.vs_counterpart, row.vs_unchecked
        body.append([
            f"`{row.metric}`", TASKS[row.task], f"{v['ours_ms']:.3f}", f"{v['ref_ms']:.3f}", _ratio(v),
            (row.counterpart or "none") + ("" if c or not row.counterpart else " (the reference)"),
            f"{c['ref_ms']:.3f}" if c else "—", _ratio(c),
            f"{row.state_floats} / {row.ref_state_floats}" if c else f"{row.state_floats}",
            f"{u['ref_ms']:.3f}" if u else "—", _ratio(u),
        ])
    return md_table(headers, body, align=["l", "l", "r", "r", "r", "l", "r", "r", "r", "r", "r"])


def _by_metric(rows: list[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.metric, []).append(row)
    return groups


def _ratios_text(rows: list[Row], key: str) -> str:
    return " and ".join(f"{getattr(r, key)['ratio']:.2f}× on the {TASKS[r.task]} batch "
                        f"({getattr(r, key)['ours_ms']:.3f} vs {getattr(r, key)['ref_ms']:.3f} ms)" for r in rows)


def verdicts(rows: list[Row]) -> tuple[list[str], list[str]]:
    """Plain statements: where an update costs no more than Keras, and where it costs more (with the numbers and
    the reason). A ratio within 1.00–1.10 is within the noise of this machine and gives no statement."""
    wins: list[str] = []
    losses: list[str] = []
    measured = [r for r in rows if r.status == "ok"]
    cheap = [r for r in measured if r.vs_precision["ratio"] <= 1.0]
    if cheap:
        worst = max(cheap, key=lambda r: r.vs_precision["ratio"])
        wins.append(
            f"{len(cheap)} of {len(measured)} metric updates cost no more than Keras' `Precision` on the same batch "
            f"(up to {worst.vs_precision['ratio']:.2f}×, `{worst.metric}` on the {TASKS[worst.task]} batch)."
        )
    for family in ("counts", "curve"):
        slow = [r for r in measured if r.family == family and r.vs_precision["ratio"] > NOISE]
        if slow:
            listed = "; ".join(f"`{r.metric}` {r.vs_precision['ratio']:.2f}× on the {TASKS[r.task]} batch "
                               f"({r.vs_precision['ours_ms']:.3f} vs {r.vs_precision['ref_ms']:.3f} ms)"
                               for r in slow)
            losses.append(f"Per update against Keras' `Precision`: {listed}. Each {slow[0].why}.")
    for name, group in _by_metric(measured).items():
        compared = [r for r in group if r.vs_counterpart]
        if not compared:
            continue
        other = compared[0].counterpart.replace("keras ", "Keras' ")
        better = [r for r in compared if r.vs_counterpart["ratio"] <= 1.0]
        worse = [r for r in compared if r.vs_counterpart["ratio"] > NOISE]
        if better:
            wins.append(f"`{name}` costs less per update than {other}: {_ratios_text(better, 'vs_counterpart')}.")
        if worse:
            losses.append(f"`{name}` costs more per update than {other}: {_ratios_text(worse, 'vs_counterpart')}; "
                          f"it {worse[0].why}.")
    checked = [r for r in measured if r.vs_unchecked]
    if checked:
        worst = max(checked, key=lambda r: r.vs_unchecked["ratio"])
        low = min(r.vs_unchecked["ratio"] for r in checked)
        text = (f"The input checks (NaN scores, labels outside [0, 1], class ids out of range; a ValueError, a "
                f"TensorFlow assert or a NaN state) cost {low:.2f}–{worst.vs_unchecked['ratio']:.2f}× an update "
                f"without them (worst: `{worst.metric}` on the {TASKS[worst.task]} batch, "
                f"{worst.vs_unchecked['ours_ms']:.3f} vs {worst.vs_unchecked['ref_ms']:.3f} ms): a NaN test of the "
                "scores, min and max of the labels (or a range test of the class ids) and a `tf.cond`; the ratios "
                "against Keras include them.")
        (losses if worst.vs_unchecked["ratio"] > NOISE else wins).append(text)
    for row in rows:
        if row.status != "ok":
            losses.append(f"`{row.metric}` ({row.task}) was not measured: {row.status}.")
    return wins, losses


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    load_before = load_average()
    rows = measure(settings, log=log)
    load_after = load_average()
    elapsed = time.perf_counter() - started
    wins, losses = verdicts(rows)
    loads = ""
    if load_before and load_after:
        loads = (f" Load average (1 min) was {load_before[0]:.2f} before and {load_after[0]:.2f} after this "
                 "section.")
    mode = (f"**Quick mode** ({settings.rounds} rounds of ~{settings.block_seconds * 1e3:.0f} ms blocks per pair): "
            "indicative numbers; `make bench` runs the full mode."
            if quick else
            f"Full mode: {settings.rounds} rounds of ~{settings.block_seconds * 1e3:.0f} ms blocks per pair.")
    body = "\n\n".join([
        "What one streaming `update_state` costs, for every `imbalance.metrics` metric, next to Keras' "
        "`keras.metrics.Precision` (the cheapest confusion-count metric Keras ships) and next to the closest Keras "
        "metric where one exists.",
        f"**Setup.** Batches of {ROWS} rows, fixed seed: {CLASSES} classes (one-hot labels, softmax "
        f"probabilities, class 0 rare) and {LABELS} labels (multi-hot, positive rates 20 % … 0.5 %, sigmoid "
        "probabilities). Both sides get the same tensors (probabilities: Keras' `Precision` has no `from_logits`). "
        "Each metric's `update_state` runs in its own `tf.function` (traced and warmed up first; "
        f"`jit_compile=False`); device: {tensorflow_devices()}. Curve metrics use {NUM_THRESHOLDS} thresholds on "
        "both sides. Our metrics get `multi_label=True` on the multi-label batch. Keras' `Precision` / `Recall` "
        "threshold every column at 0.5 where ours take the argmax of a multi-class row; Keras' `RecallAtPrecision` "
        "/ `PrecisionAtRecall` pool all columns as ours do; Keras' `AUC(multi_label=True)` keeps per-label "
        "curves as our macro `PRAUC` does. Blocks of ours and the reference alternate (A B B A …); each call is "
        "timed on its own and a block counts its median call; the ratio is the median of the per-round ratios "
        "(IQR in parentheses); times are median ms per update. **State floats** is the size of the metric's "
        "variables. **Checks**: every update checks its inputs (NaN scores, labels outside [0, 1], class ids out "
        "of range: a ValueError eagerly, a `tf.debugging.Assert` in this graph, a NaN state under XLA / "
        "`jax.jit`); the last two columns time the same metric traced without the checks against it (ratio = "
        "with / without). " + mode + loads,
        render_table(rows),
    ])
    payload = {
        "section": NAME,
        "generated": now_iso(),
        "quick": quick,
        "settings": settings.__dict__,
        "config": {"seed": SEED, "rows": ROWS, "classes": CLASSES, "labels": LABELS,
                   "num_thresholds": NUM_THRESHOLDS, "target": TARGET},
        "environment": environment(),
        "load_average_after": load_after,
        "seconds": round(elapsed, 1),
        "rows": [row.__dict__ for row in rows],
    }
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
