"""Loss speed: train-step time of every `imbalance` loss relative to the Keras cross-entropy it replaces.

Goal (issue): on the same model and batch, measured in one run, a train step with our loss costs at most 1.15× a
train step with Keras' ``BinaryCrossentropy`` / ``CategoricalCrossentropy`` (``from_logits=True``).

Method, chosen to be fair to both sides:

* One small MLP per task (64 inputs → 128 → 128 → K logits, ReLU), built once from a fixed seed; every loss trains
  its own clone with the *same initial weights*, the same Adam optimizer settings and the same in-memory batch.
* The timed call is the model's own Keras ``train_step`` (forward, ``compute_loss`` with the loss' reduction,
  gradient, Adam update, loss tracker) wrapped in one ``tf.function`` — exactly what ``model.fit`` runs per step,
  with ``jit_compile=False`` and without the data iterator, so both sides pay the same fixed costs and nothing else.
* "Loss alone" is forward + gradient of the loss with respect to a 4096×K logits tensor in a ``tf.function``, no
  model: it isolates the loss' own overhead, which a full step dilutes.
* Each pair warms up (tracing + a few calls), then runs interleaved blocks (ours, reference, reference, ours, …);
  each block gives the median time of its calls, each round one paired ratio; the table shows the median ratio,
  its interquartile range (IQR) and the median absolute time.
* The cost of the input checks (issue 20: invalid labels or probabilities raise, or make the loss NaN when
  compiled): every loss is also built with its checks removed (:func:`without_input_checks`), and the same paired
  timing compares the step and the loss alone with and without them. The ratios against Keras are measured with
  the checks on, as users run them.
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

NAME = "loss_speed"
TITLE = "Loss speed: train step vs Keras cross-entropy"
GOAL = 1.15

SEED = 0
BATCH = 512
FEATURES = 64
HIDDEN = (128, 128)
LABELS = 30  # multi-label outputs
CLASSES = 10  # multi-class outputs
LOSS_ONLY_ROWS = 4096
LEARNING_RATE = 1e-3
# A loss within the goal per step is still reported as a cost when the loss alone is this much slower.
ALONE_NOTE = 1.5  # against plain cross-entropy
ALONE_NOTE_FOCAL = 1.25  # against Keras' own focal losses, which do similar work
CHECKS_NOTE = 1.03  # input checks costing more than this per train step are reported as a cost


@dataclass(frozen=True)
class Settings:
    rounds: int  # interleaved rounds per pair (one paired ratio each)
    block_seconds: float  # target duration of one timing block
    warmup: int  # untimed calls per callable after tracing


QUICK = Settings(rounds=15, block_seconds=0.025, warmup=5)
FULL = Settings(rounds=51, block_seconds=0.1, warmup=25)


# --- problems ------------------------------------------------------------------------------------------------


@dataclass
class Problem:
    """Inputs and labels for the three label formats, and the per-class parameters the losses are given."""

    x: np.ndarray
    multi_hot: np.ndarray  # (BATCH, LABELS) float32, sparse positives
    ids: np.ndarray  # (BATCH,) int32, long-tailed classes, class 0 rare
    one_hot: np.ndarray  # (BATCH, CLASSES) float32
    loss_only_multi_hot: np.ndarray  # (LOSS_ONLY_ROWS, LABELS)
    loss_only_ids: np.ndarray  # (LOSS_ONLY_ROWS,)
    loss_only_one_hot: np.ndarray  # (LOSS_ONLY_ROWS, CLASSES)
    loss_only_logits: dict[int, np.ndarray]  # K -> (LOSS_ONLY_ROWS, K) float32
    label_rates: np.ndarray  # positive rate per label
    pos_weight: list[float]  # n_neg / n_pos per label
    class_counts: list[float]  # training-set counts per class
    cost_matrix: np.ndarray  # (CLASSES, CLASSES), zero diagonal


def make_problem(seed: int = SEED) -> Problem:
    rng = np.random.default_rng(seed)
    # Multi-label: positive rates from 20 % down to 0.5 %, log-spaced (a long tail of rare labels, as in seed 002).
    rates = np.geomspace(0.2, 0.005, LABELS)
    # Multi-class: long-tailed counts with class 0 the rare one that matters (seed 000).
    counts = np.array([15.0] + [round(2000 * 0.7**k) for k in range(CLASSES - 1)])
    prior = counts / counts.sum()
    # Cost of predicting j when the truth is i: 1 for every mistake, 10 for missing the rare class 0.
    cost = np.ones((CLASSES, CLASSES), dtype=np.float32)
    cost[0, 1:] = 10.0
    np.fill_diagonal(cost, 0.0)

    def multi_hot(n: int) -> np.ndarray:
        return (rng.random((n, LABELS)) < rates).astype(np.float32)

    def ids(n: int) -> np.ndarray:
        return rng.choice(CLASSES, size=n, p=prior).astype(np.int32)

    batch_ids = ids(BATCH)
    loss_only_ids = ids(LOSS_ONLY_ROWS)
    eye = np.eye(CLASSES, dtype=np.float32)
    return Problem(
        x=rng.standard_normal((BATCH, FEATURES)).astype(np.float32),
        multi_hot=multi_hot(BATCH),
        ids=batch_ids,
        one_hot=eye[batch_ids],
        loss_only_multi_hot=multi_hot(LOSS_ONLY_ROWS),
        loss_only_ids=loss_only_ids,
        loss_only_one_hot=eye[loss_only_ids],
        loss_only_logits={
            k: (3.0 * rng.standard_normal((LOSS_ONLY_ROWS, k))).astype(np.float32) for k in (LABELS, CLASSES)
        },
        label_rates=rates,
        pos_weight=[float(v) for v in (1.0 - rates) / rates],
        class_counts=[float(c) for c in counts],
        cost_matrix=cost,
    )


# Label format of a task: (output width, train-batch labels, loss-only labels).
TASKS: dict[str, tuple[str, Callable[[Problem], tuple[int, np.ndarray, np.ndarray]]]] = {
    "multilabel": ("multi-label, 30 labels", lambda p: (LABELS, p.multi_hot, p.loss_only_multi_hot)),
    "onehot": ("multi-class one-hot, 10", lambda p: (CLASSES, p.one_hot, p.loss_only_one_hot)),
    "sparse": ("multi-class ids, 10", lambda p: (CLASSES, p.ids, p.loss_only_ids)),
}


# --- losses and references -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    label: str
    task: str
    make: Callable[[], Any]


def _references() -> dict[str, Reference]:
    import keras

    return {
        "bce": Reference("keras BinaryCrossentropy", "multilabel",
                         lambda: keras.losses.BinaryCrossentropy(from_logits=True)),
        "bfce": Reference("keras BinaryFocalCrossentropy", "multilabel",
                          lambda: keras.losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=True)),
        "cce": Reference("keras CategoricalCrossentropy", "onehot",
                         lambda: keras.losses.CategoricalCrossentropy(from_logits=True)),
        "cfce": Reference("keras CategoricalFocalCrossentropy", "onehot",
                          lambda: keras.losses.CategoricalFocalCrossentropy(gamma=2.0, from_logits=True)),
        "scce": Reference("keras SparseCategoricalCrossentropy", "sparse",
                          lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    }


@dataclass(frozen=True)
class Case:
    name: str  # class name in imbalance.losses
    task: str
    args: str  # constructor arguments as shown in the table
    make: Callable[[Any, Problem], Any]  # (imbalance.losses module, problem) -> loss
    refs: tuple[str, ...]
    why: str  # the extra work per element compared with plain cross-entropy
    why_vs: dict[str, str] = field(default_factory=dict)  # reference key -> explanation against that reference


CASES: tuple[Case, ...] = (
    Case("WeightedBinaryCrossentropy", "multilabel", "pos_weight=<30 values>, from_logits=True",
         lambda L, p: L.WeightedBinaryCrossentropy(pos_weight=p.pos_weight, from_logits=True), ("bce",),
         "it uses the same one-softplus form as Keras' fused `sigmoid_cross_entropy_with_logits` plus one "
         "multiply-add for the weight; the loss alone is at parity, so a step ratio above 1 is mostly timing noise "
         "at ~1.5 ms per step"),
    Case("BinaryFocalLoss", "multilabel", "gamma=2.0, from_logits=True",
         lambda L, p: L.BinaryFocalLoss(gamma=2.0, from_logits=True), ("bce", "bfce"),
         "it evaluates `log p` and `log(1 - p)` together (a relu, an exp and a log1p, in place of the CPU's slow "
         "`softplus` kernel) and the modulating factor `exp(gamma·log(1 - p_t))` per element on top of the "
         "cross-entropy",
         {"bfce": "Keras computes a sigmoid, its fused cross-entropy and a power of the probability; ours stays in "
                  "log space (`log p`, `log(1 - p)` and an exp), which keeps gradients finite at any logit"}),
    Case("AsymmetricLoss", "multilabel", "from_logits=True (gamma_neg=4, gamma_pos=1, clip=0.05)",
         lambda L, p: L.AsymmetricLoss(from_logits=True), ("bce",),
         "per element it evaluates `log p` and `log(1 - p)` together (a relu, an exp and a log1p), the shifted "
         "probability of the clip and its log, and two focusing powers (`exp(gamma_pos·log(1-p))` and "
         "`p_m^gamma_neg` by repeated squaring)"),
    Case("CategoricalFocalLoss", "onehot", "gamma=2.0, from_logits=True",
         lambda L, p: L.CategoricalFocalLoss(gamma=2.0, from_logits=True), ("cce", "cfce"),
         "besides `log_softmax` it computes `1 - p` of every class without cancellation (soft labels may weight "
         "any class: the dominant class gets the summed probability of the others, two masks and a row sum) for "
         "the factor `(1 - p)^gamma`, where Keras' cross-entropy is one fused `softmax_cross_entropy_with_logits` "
         "kernel",
         {"cfce": "Keras works from clipped softmax probabilities (a softmax, a log and a power); ours works from "
                  "`log_softmax` and computes `1 - p` without cancellation (the dominant class from the other "
                  "classes' mass), which keeps values exact and gradients finite at any logit"}),
    Case("SparseCategoricalFocalLoss", "sparse", "gamma=2.0, from_logits=True",
         lambda L, p: L.SparseCategoricalFocalLoss(gamma=2.0, from_logits=True), ("scce",),
         "it selects the true class (a one-hot mask) from `log_softmax` and takes `log(1 - p_t)` from a shifted "
         "logsumexp of the other classes, where Keras calls one fused `sparse_softmax_cross_entropy_with_logits` "
         "kernel"),
    Case("CostSensitiveCrossentropy", "sparse", "cost_matrix=<10×10, zero diagonal>, from_logits=True, sparse=True",
         lambda L, p: L.CostSensitiveCrossentropy(cost_matrix=p.cost_matrix, from_logits=True, sparse=True),
         ("scce",),
         "on top of a one-hot + `log_softmax` cross-entropy it looks up the cost row (a K×K matmul) and weighs the "
         "exact `log(1 - p)` of every class (`log1p(-p)`, and for the dominant class a shifted logsumexp of the "
         "other classes, exact however far it leads)"),
    Case("LogitAdjustedLoss", "sparse", "class_counts=<10 counts>, sparse=True",
         lambda L, p: L.LogitAdjustedLoss(class_counts=p.class_counts, sparse=True), ("scce",),
         "it adds `tau·log(prior)` to the logits, then one-hot + `log_softmax` instead of Keras' fused kernel"),
    Case("LDAMLoss", "sparse", "class_counts=<10 counts>, sparse=True (max_margin=0.5, scale=30)",
         lambda L, p: L.LDAMLoss(class_counts=p.class_counts, sparse=True), ("scce",),
         "it one-hot encodes the ids, subtracts the true class' margin, rescales the logits and takes "
         "`log_softmax` instead of Keras' fused kernel"),
)


# --- timed callables -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def without_input_checks() -> Iterator[None]:
    """Losses built and traced inside this block have no input checks: every check of the loss modules goes
    through ``imbalance.losses._common.check_tensor``, which then adds nothing to the graph (the "without" side of
    the checks' cost; not a user setting)."""
    with mock.patch("imbalance.losses._common.check_tensor", lambda *args, **kwargs: None):
        yield



def _sync(out: Any) -> Any:
    import tensorflow as tf

    return tf.nest.flatten(out)[0].numpy()


class Bench:
    """Builds (once per loss) the compiled train step and the loss-alone function on shared data."""

    def __init__(self, problem: Problem) -> None:
        import keras
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # Keras' train_on_batch of each clone warns about retracing; harmless
        self.keras, self.tf, self.problem = keras, tf, problem
        self.x = tf.constant(problem.x)
        self.templates: dict[int, Any] = {}
        for width in (LABELS, CLASSES):
            keras.utils.set_random_seed(SEED)
            model = keras.Sequential(
                [keras.Input((FEATURES,))]
                + [keras.layers.Dense(units, activation="relu") for units in HIDDEN]
                + [keras.layers.Dense(width)]
            )
            self.templates[width] = model

    def train_step(self, loss: Any, task: str) -> Callable[[], Any]:
        keras, tf = self.keras, self.tf
        width, y, _ = TASKS[task][1](self.problem)
        template = self.templates[width]
        model = keras.models.clone_model(template)
        model.set_weights(template.get_weights())
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss, jit_compile=False)
        y = tf.constant(y)
        model.train_on_batch(self.x, y)  # builds the optimizer and metric variables outside the timed function
        step = tf.function(model.train_step)
        data = (self.x, y)
        return lambda: step(data)

    def loss_alone(self, loss: Any, task: str) -> tuple[Callable[[], Any], int]:
        """The timed callable and the number of compute ops in its graph (forward + backward, before Grappler;
        constants, placeholders, identities and no-ops not counted)."""
        tf = self.tf
        width, _, y = TASKS[task][1](self.problem)
        y = tf.constant(y)
        z = tf.constant(self.problem.loss_only_logits[width])

        @tf.function
        def forward_backward(y_true: Any, logits: Any) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(logits)
                value = loss(y_true, logits)
            return value, tape.gradient(value, logits)

        graph = forward_backward.get_concrete_function(y, z).graph
        skip = {"Placeholder", "Const", "Identity", "NoOp", "IdentityN"}
        ops_count = sum(1 for op in graph.get_operations() if op.type not in skip)
        return (lambda: forward_backward(y, z)), ops_count


# --- the section ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    loss: str
    task: str
    args: str
    reference: str
    why: str
    status: str = "ok"  # "ok", "not implemented", or "error: …"
    primary: bool = True  # first reference of its loss (a missing loss is reported once)
    graph_ops: list[int] = field(default_factory=list)  # loss-alone graph size [ours, reference]
    train: dict[str, Any] = field(default_factory=dict)
    alone: dict[str, Any] = field(default_factory=dict)
    # primary rows: ours with / without the input checks, {"train": summary, "alone": summary, "graph_ops": [w, wo]}
    checks: dict[str, Any] = field(default_factory=dict)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return "not implemented"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error: {type(exc).__name__}" + (f": {message[:160]}" if message else "")


def measure(settings: Settings, log: Callable[[str], None] = log) -> list[Row]:
    import imbalance.losses as L

    problem = make_problem(SEED)
    bench = Bench(problem)
    references = _references()
    ref_cache: dict[tuple[str, str], Callable[[], Any]] = {}
    ref_ops: dict[str, int] = {}

    def reference_fn(key: str, kind: str) -> Callable[[], Any]:
        if (key, kind) not in ref_cache:
            ref = references[key]
            if kind == "train":
                ref_cache[key, kind] = bench.train_step(ref.make(), ref.task)
            else:
                ref_cache[key, kind], ref_ops[key] = bench.loss_alone(ref.make(), ref.task)
        return ref_cache[key, kind]

    rows: list[Row] = []
    for case in CASES:
        fns: dict[str, Callable[[], Any]] = {}
        ours_ops = 0
        status = "ok"
        plain_ops = 0
        try:
            loss = case.make(L, problem)
            fns["train"] = bench.train_step(loss, case.task)
            fns["alone"], ours_ops = bench.loss_alone(case.make(L, problem), case.task)
            _sync(fns["train"]())
            _sync(fns["alone"]())
            with without_input_checks():  # traced here, so the graphs have no checks
                fns["train_unchecked"] = bench.train_step(case.make(L, problem), case.task)
                fns["alone_unchecked"], plain_ops = bench.loss_alone(case.make(L, problem), case.task)
                _sync(fns["train_unchecked"]())
                _sync(fns["alone_unchecked"]())
        except Exception as exc:  # a placeholder or a broken loss must not stop the other measurements
            status = _error_text(exc)
            if status != "not implemented":
                log(f"[red]{case.name}: {escape(status)}[/red]\n" + escape(traceback.format_exc(limit=3)))
        for i, key in enumerate(case.refs):
            row = Row(case.name, case.task, case.args, references[key].label, case.why_vs.get(key, case.why), status,
                      primary=i == 0)
            rows.append(row)
            if status != "ok":
                log(f"{case.name} vs {row.reference}: [yellow]{escape(status)}[/yellow]")
                continue
            for kind in ("train", "alone"):
                timing = time_pair(fns[kind], reference_fn(key, kind), rounds=settings.rounds,
                                   block_seconds=settings.block_seconds, warmup=settings.warmup, sync=_sync)
                setattr(row, kind, timing.summary())
            row.graph_ops = [ours_ops, ref_ops[key]]
            log(
                f"{case.name} vs {row.reference}: train step {row.train['ratio']:.2f}× "
                f"({row.train['ours_ms']:.2f} vs {row.train['ref_ms']:.2f} ms), "
                f"loss alone {row.alone['ratio']:.2f}×"
            )
            if row.primary:
                row.checks = {kind: time_pair(fns[kind], fns[f"{kind}_unchecked"], rounds=settings.rounds,
                                              block_seconds=settings.block_seconds, warmup=settings.warmup,
                                              sync=_sync).summary() for kind in ("train", "alone")}
                row.checks["graph_ops"] = [ours_ops, plain_ops]
                log(f"{case.name} input checks: train step {row.checks['train']['ratio']:.3f}× "
                    f"({row.checks['train']['ours_ms']:.2f} vs {row.checks['train']['ref_ms']:.2f} ms), "
                    f"loss alone {row.checks['alone']['ratio']:.3f}×")
    return rows


def _ratio_cell(summary: dict[str, Any]) -> str:
    q1, q3 = summary["ratio_iqr"]
    return f"**{summary['ratio']:.2f}×** ({q1:.2f}–{q3:.2f})"


def _goal_cell(summary: dict[str, Any]) -> str:
    ratio, (_, q3) = summary["ratio"], summary["ratio_iqr"]
    if ratio <= GOAL:
        return "yes" if q3 <= GOAL else "yes (IQR crosses 1.15)"
    return "**no**"


def render_table(rows: list[Row]) -> str:
    headers = ["Loss", "Task", "Reference", "Step ours (ms)", "Step ref (ms)", "Step ratio (IQR)",
               "Loss alone ours (ms)", "Loss alone ref (ms)", "Loss alone ratio (IQR)", "Graph ops ours / ref",
               "≤ 1.15× per step"]
    body = []
    for row in rows:
        task = TASKS[row.task][0]
        if row.status != "ok":
            body.append([f"`{row.loss}`", task, row.reference, "—", "—", row.status, "—", "—", "—", "—", "—"])
            continue
        t, a = row.train, row.alone
        body.append([
            f"`{row.loss}`", task, row.reference,
            f"{t['ours_ms']:.2f}", f"{t['ref_ms']:.2f}", _ratio_cell(t),
            f"{a['ours_ms']:.2f}", f"{a['ref_ms']:.2f}", _ratio_cell(a),
            f"{row.graph_ops[0]} / {row.graph_ops[1]}",
            _goal_cell(t),
        ])
    return md_table(headers, body, align=["l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "c"])


def render_checks_table(rows: list[Row]) -> str:
    """One row per loss: the step and the loss alone with the input checks against the same without them."""
    headers = ["Loss", "Task", "Step with checks (ms)", "Step without (ms)", "Step ratio (IQR)",
               "Loss alone with (ms)", "Loss alone without (ms)", "Loss alone ratio (IQR)", "Graph ops with / without"]
    body = []
    for row in rows:
        if not row.checks:
            continue
        t, a, ops_count = row.checks["train"], row.checks["alone"], row.checks["graph_ops"]
        body.append([f"`{row.loss}`", TASKS[row.task][0], f"{t['ours_ms']:.2f}", f"{t['ref_ms']:.2f}",
                     _ratio_cell(t), f"{a['ours_ms']:.2f}", f"{a['ref_ms']:.2f}", _ratio_cell(a),
                     f"{ops_count[0]} / {ops_count[1]}"])
    return md_table(headers, body, align=["l", "l", "r", "r", "r", "r", "r", "r", "r"])


def check_verdicts(rows: list[Row]) -> tuple[list[str], list[str]]:
    """What the input checks cost per train step (the ratios against Keras already include them)."""
    measured = [r for r in rows if r.checks]
    if not measured:
        return [], []
    worst = max(measured, key=lambda r: r.checks["train"]["ratio"])
    ratio = worst.checks["train"]["ratio"]
    q1, q3 = worst.checks["train"]["ratio_iqr"]
    alone = max(r.checks["alone"]["ratio"] for r in measured)
    text = (f"The input checks (invalid labels or probabilities raise, or make the loss NaN when compiled) cost at "
            f"most {ratio:.2f}× per train step (worst: `{worst.loss}`, IQR {q1:.2f}–{q3:.2f}) and at most "
            f"{alone:.2f}× for the loss alone on {LOSS_ONLY_ROWS}×K logits; the ratios against Keras include them.")
    return ([text], []) if ratio <= CHECKS_NOTE else ([], [text])


def verdicts(rows: list[Row]) -> tuple[list[str], list[str]]:
    """Plain "where we win / where we lose" statements from the measured rows."""
    wins: list[str] = []
    losses: list[str] = []
    measured = [r for r in rows if r.status == "ok"]
    # The goal is stated against plain cross-entropy; the second references (Keras' focal losses) are extra context.
    goal_rows = [r for r in measured if "Focal" not in r.reference]
    meeting = [r for r in goal_rows if r.train["ratio"] <= GOAL]
    if goal_rows:
        worst = max(goal_rows, key=lambda r: r.train["ratio"])
        if len(meeting) == len(goal_rows):
            wins.append(
                f"All {len(goal_rows)} measured losses meet the goal: a train step costs at most "
                f"{worst.train['ratio']:.2f}× the Keras cross-entropy step (worst: `{worst.loss}`)."
            )
        elif meeting:
            names = ", ".join(f"`{r.loss}` {r.train['ratio']:.2f}×" for r in meeting)
            verb = "meets" if len(meeting) == 1 else "meet"
            wins.append(f"{len(meeting)} of {len(goal_rows)} losses {verb} the ≤ {GOAL}× goal per train step: {names}.")
    for row in measured:
        t, a = row.train, row.alone
        ref = row.reference.replace("keras ", "Keras ")
        focal_ref = "Focal" in row.reference
        ops_text = f"{row.graph_ops[0]} vs {row.graph_ops[1]} graph ops" if row.graph_ops else ""
        if t["ratio"] > GOAL and a["ratio"] <= 1.10:
            q1, q3 = t["ratio_iqr"]
            losses.append(
                f"`{row.loss}` measured {t['ratio']:.2f}× {ref} per train step (IQR {q1:.2f}–{q3:.2f}) although the "
                f"loss alone costs only {a['ratio']:.2f}×: most likely load noise on this machine, not the loss; "
                "re-run on a quiet machine before acting on it."
            )
        elif t["ratio"] > GOAL:
            losses.append(
                f"`{row.loss}` costs {t['ratio']:.2f}× {ref} per train step ({a['ratio']:.2f}× for the loss alone, "
                f"{ops_text}): {row.why}."
            )
        elif a["ratio"] > (ALONE_NOTE_FOCAL if focal_ref else ALONE_NOTE):
            losses.append(
                f"`{row.loss}` alone costs {a['ratio']:.2f}× {ref} on {LOSS_ONLY_ROWS}×K logits ({ops_text}): "
                f"{row.why}. In a full train step that is {t['ratio']:.2f}×, within the goal, but it shows where "
                "the loss dominates (many labels/classes, a small network)."
            )
        elif a["ratio"] <= 1.10:
            wins.append(f"`{row.loss}` costs no more than {ref}: {t['ratio']:.2f}× per train step, "
                        f"{a['ratio']:.2f}× for the loss alone.")
    for row in rows:
        if row.status != "ok" and row.primary:
            losses.append(f"`{row.loss}` was not measured: {row.status}.")
    check_wins, check_losses = check_verdicts(rows)
    return wins + check_wins, losses + check_losses


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    load_before = load_average()
    rows = measure(settings, log=log)
    load_after = load_average()
    elapsed = time.perf_counter() - started
    wins, losses = verdicts(rows)

    import tensorflow as tf

    threads = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    thread_text = "TensorFlow's defaults" if threads == (0, 0) else f"intra-op {threads[0]}, inter-op {threads[1]}"
    loads = ""
    if load_before and load_after:
        loads = (f" Load average (1 min) was {load_before[0]:.2f} before and {load_after[0]:.2f} after this "
                 "section; on a shared machine the absolute times move with it, the paired ratios much less.")
    mode = (f"**Quick mode** ({settings.rounds} rounds of ~{settings.block_seconds * 1e3:.0f} ms blocks per pair): "
            "indicative numbers; `make bench` runs the full mode."
            if quick else
            f"Full mode: {settings.rounds} rounds of ~{settings.block_seconds * 1e3:.0f} ms blocks per pair.")
    body = "\n\n".join([
        f"Goal: a train step with our loss costs **≤ {GOAL}×** the same step with Keras' cross-entropy "
        "(`from_logits=True`) on the same model and batch, measured in one run.",
        f"**Setup.** MLP {FEATURES} → {' → '.join(str(h) for h in HIDDEN)} → K logits (ReLU), float32, batch "
        f"{BATCH}; K = {LABELS} multi-label outputs (positive rates 20 % … 0.5 %) or {CLASSES} classes "
        f"(long-tailed, class 0 rare). Every loss trains its own clone of one seeded model (same initial weights, "
        f"Adam lr={LEARNING_RATE:g}) on the same in-memory batch. Threads: {thread_text}; device: "
        f"{tensorflow_devices()}.",
        "**Step** = the model's own Keras `train_step` (forward, loss, gradient, Adam update, loss tracker) in one "
        "`tf.function`, compiled with `jit_compile=False` — what `model.fit` runs per batch, minus the data "
        "iterator. **Loss alone** = value and gradient of the loss with respect to a "
        f"{LOSS_ONLY_ROWS}×K logits tensor in a `tf.function`, no model: it isolates the loss' own cost. "
        "Blocks of ours and the reference alternate (A B B A …) after a warm-up; every call is timed on its own and "
        "a block counts the median call, so calls pre-empted by other processes do not count; the ratio is the "
        "median of the paired per-round ratios, with the interquartile range in parentheses; times are median ms "
        "per call. "
        "**Graph ops** counts the compute ops of the loss-alone graph (forward + backward, before TensorFlow's "
        "graph optimizer; constants and identities excluded): at these sizes each op costs microseconds of "
        "dispatch whatever its size, so the count explains most of a loss' overhead. "
        + mode + loads,
        "Constructor arguments: " + "; ".join(f"`{c.name}({c.args})`" for c in CASES) + ".",
        render_table(rows),
        "**The input checks.** Every loss refuses class ids outside 0..K-1, labels outside [0, 1] and (with "
        "`from_logits=False`) probabilities outside [0, 1]: eagerly a ValueError; in this `tf.function` step a "
        "scalar flag (min and max of the labels, or an element-wise test of the class ids), a `tf.cond` whose "
        "failing branch holds a `tf.debugging.Assert`, and a scalar `where` added to the per-row loss (NaN when "
        "the flag holds, for XLA and `jax.jit`, where asserts cannot fire). The steps above include them. Below, "
        "each loss' step and loss alone with the checks against the same loss traced without them (the checks "
        "patched out, same weights, data and timing method):",
        render_checks_table(rows),
    ])
    payload = {
        "section": NAME,
        "generated": now_iso(),
        "quick": quick,
        "settings": settings.__dict__,
        "config": {"seed": SEED, "batch": BATCH, "features": FEATURES, "hidden": list(HIDDEN), "labels": LABELS,
                   "classes": CLASSES, "loss_only_rows": LOSS_ONLY_ROWS, "optimizer": f"Adam({LEARNING_RATE})",
                   "goal_ratio": GOAL, "timed_step": "tf.function(model.train_step), jit_compile=False"},
        "environment": environment(),
        "load_average_after": load_after,
        "seconds": round(elapsed, 1),
        "rows": [row.__dict__ for row in rows],
    }
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
