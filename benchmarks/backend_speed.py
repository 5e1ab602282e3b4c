"""Backend speed: our losses on JAX (jit) against Keras' cross-entropy on JAX, and on JAX against TensorFlow.

Two questions, one measurement:

1. **Ours vs Keras on JAX.** Does the ≤ 1.15× goal of ``loss_speed`` (a train step with our loss against the same
   step with Keras' ``BinaryCrossentropy`` / ``CategoricalCrossentropy`` / ``SparseCategoricalCrossentropy``,
   ``from_logits=True``) also hold when Keras runs on JAX and XLA compiles the whole step?
2. **JAX vs TensorFlow.** What does the same step with our loss cost on each backend, in absolute milliseconds?

Method, the same problem and fairness rules as :mod:`benchmarks.loss_speed`, whose settings, problem
(:func:`~benchmarks.loss_speed.make_problem`), loss cases (``CASES``, each against its first, plain cross-entropy
reference) and TensorFlow step (``Bench.train_step``) are imported, not copied:

* MLP 64 → 128 → 128 → K logits (ReLU), float32, batch 512; K = 30 multi-label outputs or 10 long-tailed classes.
  Every loss (ours and Keras') trains its own model built from one set of initial weights drawn with NumPy
  (:func:`initial_weights`: Keras' default Glorot-uniform kernels and zero biases), so *both backends* start from the
  same weights; same Adam settings, same in-memory batch.
* **JAX side**: ``model.compile(..., jit_compile=True)``, one ``train_on_batch`` to build the optimizer and metric
  variables, then the timed call is ``model.train_function`` — ``jax.jit(model.train_step, donate_argnums=0)``, the
  function Keras' JAX trainer calls once per batch in ``model.fit`` — on a state (trainable, non-trainable,
  optimizer and metric variables) carried from call to call as ``fit`` carries it, synchronised with
  ``jax.block_until_ready`` on its outputs. ``train_on_batch`` itself is not timed: it also copies every variable in
  and out of the model per call, which ``fit`` does not do per batch.
* **TensorFlow side**: exactly ``loss_speed``'s step: ``tf.function(model.train_step)`` compiled with
  ``jit_compile=False`` (Keras' default on TensorFlow), no data iterator, synchronised with ``.numpy()``.
* The Keras backend is fixed when Keras is first imported, so each backend runs in its own fresh interpreter
  (``python -m benchmarks.backend_speed --worker jax|tensorflow '<settings>'`` with ``KERAS_BACKEND`` set), which
  prints its raw timings as one JSON line; this module combines them. Inside a worker, ours and Keras' step take
  turns in short blocks (A B B A …, :func:`benchmarks._timing.time_pair`), each block counting its median call and
  each round giving one paired ratio: ratios ours/Keras are medians of paired rounds, with their interquartile range.
* Two backends cannot take turns inside one process, so **JAX / TensorFlow** compares different processes. In full
  mode each backend runs twice, in the order JAX, TF, TF, JAX (half of the rounds each); each pass gives one ratio
  (median ms of a JAX pass / median ms of the TF pass next to it in time) and the table shows their geometric mean,
  which cancels a load drift that is linear in time, and their range. Step times in both tables are the geometric
  mean over the passes of each pass' median. Keras' cross-entropy measured the same way is the control: if ours and
  Keras' move alike between backends, the difference is the backend, not our loss.
* A correctness check rides along: the loss of every model at its initial weights on the batch, computed on both
  backends, must agree (largest relative difference shown).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable

import numpy as np

from benchmarks import loss_speed
from benchmarks._report import (
    ROOT,
    Section,
    environment,
    load_average,
    log,
    md_table,
    now_iso,
    package_version,
    store_section,
)
from benchmarks._timing import PairTiming, time_pair

NAME = "backend_speed"
TITLE = "Backend speed: our losses on JAX (jit) vs Keras cross-entropy, and JAX vs TensorFlow"
GOAL = loss_speed.GOAL
SEED = loss_speed.SEED
BACKENDS = ("jax", "tensorflow")
LABEL = {"jax": "JAX", "tensorflow": "TF"}
PROGRESS = "progress: "  # prefix of the worker's stderr lines the driver shows
WORKER_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Plan:
    settings: loss_speed.Settings  # per worker pass
    passes: int  # worker runs per backend, in the order of pass_order()


QUICK = Plan(loss_speed.QUICK, passes=1)
# Two passes per backend of half loss_speed's rounds each: 2 × 26 = 52 paired rounds per loss and backend.
FULL = Plan(replace(loss_speed.FULL, rounds=(loss_speed.FULL.rounds + 1) // 2), passes=2)


def pass_order(passes: int) -> list[str]:
    """Worker order: JAX, TF, then TF, JAX, … (ABBA), so a drift in machine load falls on both backends alike."""
    order: list[str] = []
    for i in range(passes):
        order += list(BACKENDS if i % 2 == 0 else BACKENDS[::-1])
    return order


def initial_weights(width: int, seed: int = SEED) -> list[np.ndarray]:
    """The MLP's initial weights (kernel, bias per Dense layer) drawn with NumPy, identical on every backend: Keras'
    defaults for ``Dense``, Glorot-uniform kernels (limit ``sqrt(6 / (fan_in + fan_out))``) and zero biases."""
    rng = np.random.default_rng(seed + width)
    sizes = [loss_speed.FEATURES, *loss_speed.HIDDEN, width]
    weights: list[np.ndarray] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32))
        weights.append(np.zeros(fan_out, dtype=np.float32))
    return weights


# --- the worker (runs in a fresh interpreter with KERAS_BACKEND set) ---------------------------------------------


class _Steps:
    """Builds, per loss, a model from :func:`initial_weights` and its timed train step on the current backend."""

    def __init__(self, backend: str, problem: loss_speed.Problem) -> None:
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"worker for {backend} runs on Keras backend {keras.backend.backend()!r}; "
                               "KERAS_BACKEND must be set before Keras is imported")
        self.keras, self.backend, self.problem = keras, backend, problem
        self.templates: dict[int, Any] = {}
        for width in (loss_speed.LABELS, loss_speed.CLASSES):
            model = keras.Sequential(
                [keras.Input((loss_speed.FEATURES,))]
                + [keras.layers.Dense(units, activation="relu") for units in loss_speed.HIDDEN]
                + [keras.layers.Dense(width)]
            )
            model.set_weights(initial_weights(width))
            self.templates[width] = model
        if backend == "tensorflow":
            self.bench = loss_speed.Bench(problem)
            self.bench.templates = self.templates  # loss_speed's TensorFlow step, on these weights
            self.sync: Callable[[Any], Any] = loss_speed._sync
        else:
            import jax

            self.sync = jax.block_until_ready

    def initial_loss(self, loss: Any, task: str) -> float:
        """The loss of the untrained model on the batch (the cross-backend correctness check)."""
        width, y, _ = loss_speed.TASKS[task][1](self.problem)
        value = loss(y, self.templates[width](self.problem.x))
        return float(self.keras.ops.convert_to_numpy(value))

    def train_step(self, loss: Any, task: str) -> Callable[[], Any]:
        if self.backend == "tensorflow":
            return self.bench.train_step(loss, task)
        import jax

        keras = self.keras
        width, y, _ = loss_speed.TASKS[task][1](self.problem)
        template = self.templates[width]
        model = keras.models.clone_model(template)
        model.set_weights(template.get_weights())
        model.compile(optimizer=keras.optimizers.Adam(loss_speed.LEARNING_RATE), loss=loss, jit_compile=True)
        model.train_on_batch(self.problem.x, y)  # builds the optimizer and metric variables, compiles the step
        model.make_train_function()
        # The state fit() carries between batches; copies, as the step donates (invalidates) its input buffers.
        state = tuple([jax.numpy.copy(v.value) for v in variables] for variables in (
            model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
            model.metrics_variables))
        data = jax.tree.map(jax.device_put, (self.problem.x, y, None))  # the structure train_on_batch passes
        box = {"state": state}

        def step() -> Any:
            logs, box["state"] = model.train_function(box["state"], iter((data,)))
            return logs, box["state"]

        self.sync(step())
        return step


def worker(backend: str, settings: loss_speed.Settings) -> dict[str, Any]:
    """All losses on one backend: per loss, ours and its Keras reference timed in turns; raw seconds per round."""
    import imbalance.losses as L

    started = time.perf_counter()
    load_before = load_average()
    problem = loss_speed.make_problem(SEED)
    steps = _Steps(backend, problem)
    references = loss_speed._references()
    ref_steps: dict[str, Callable[[], Any]] = {}
    ref_initial: dict[str, float] = {}
    cases = []
    for case in loss_speed.CASES:
        key = case.refs[0]  # the plain cross-entropy the goal is stated against
        ref = references[key]
        out: dict[str, Any] = {"loss": case.name, "task": case.task, "reference": ref.label, "status": "ok"}
        try:
            if key not in ref_steps:
                ref_steps[key] = steps.train_step(ref.make(), ref.task)
                ref_initial[key] = steps.initial_loss(ref.make(), ref.task)
            ours = steps.train_step(case.make(L, problem), case.task)
            out["initial_loss"] = {"ours": steps.initial_loss(case.make(L, problem), case.task),
                                   "ref": ref_initial[key]}
            timing = time_pair(ours, ref_steps[key], rounds=settings.rounds, block_seconds=settings.block_seconds,
                               warmup=settings.warmup, sync=steps.sync)
            out.update(ours_seconds=timing.a_seconds, ref_seconds=timing.b_seconds, calls_per_block=timing.number)
            s = timing.summary()
            _progress(f"{LABEL[backend]}: {case.name} {s['ours_ms']:.2f} ms vs {ref.label} {s['ref_ms']:.2f} ms, "
                      f"{s['ratio']:.2f}x")
        except Exception as exc:  # a broken loss must not stop the others
            out["status"] = loss_speed._error_text(exc)
            _progress(f"{LABEL[backend]}: {case.name}: {out['status']}")
        cases.append(out)
    return {"backend": backend, "settings": asdict(settings), "device": _device(backend),
            "threads": _threads(backend), "load_before": load_before, "load_after": load_average(),
            "seconds": round(time.perf_counter() - started, 1), "cases": cases}


def _progress(message: str) -> None:
    print(PROGRESS + message, file=sys.stderr, flush=True)


def _device(backend: str) -> str:
    if backend == "jax":
        import jax

        return ", ".join(f"{d.platform}:{d.id}" for d in jax.devices())
    from benchmarks._report import tensorflow_devices

    return tensorflow_devices()


def _threads(backend: str) -> str:
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        return f"XLA's defaults (XLA_FLAGS={flags!r})" if flags else "XLA's defaults"
    import tensorflow as tf

    threads = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    return "TensorFlow's defaults" if threads == (0, 0) else f"intra-op {threads[0]}, inter-op {threads[1]}"


# --- the driver --------------------------------------------------------------------------------------------------


def parse_worker_stdout(text: str) -> dict[str, Any]:
    """The worker's result: the last stdout line that is a JSON object (libraries may print other lines)."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("the worker printed no JSON result")


def run_worker(backend: str, settings: loss_speed.Settings, log: Callable[[str], None] = log) -> dict[str, Any]:
    """One worker in a fresh interpreter with ``KERAS_BACKEND=backend``; its progress lines are shown as they come."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "benchmarks.backend_speed", "--worker", backend, json.dumps(asdict(settings))]
    tail: deque[str] = deque(maxlen=30)
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:  # stdout holds one JSON line at the end, far below the pipe's buffer
            if line.startswith(PROGRESS):
                log(line[len(PROGRESS):].rstrip())
            else:
                tail.append(line.rstrip())
        stdout = proc.stdout.read()
        rc = proc.wait(timeout=WORKER_TIMEOUT_S)
    if rc != 0:
        raise RuntimeError(f"the {backend} worker failed (exit {rc}): " + " | ".join(tail)[-800:])
    return parse_worker_stdout(stdout)


def _summary(ours: list[float], ref: list[float], number: int) -> dict[str, Any]:
    return PairTiming(list(ours), list(ref), number).summary()


def _geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def combine(outputs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per loss from every worker pass.

    Per backend, ours / Keras pools the paired rounds of all its passes (median and IQR of the per-round ratios).
    Step times (``ms``) are the geometric mean over passes of each pass' median. Across backends, pass i of JAX is
    paired with pass i of TF (next to it in time in :func:`pass_order`); ``jax_over_tf`` is the geometric mean of
    those per-pass ratios (``jax_over_tf_passes``), for ours and for Keras' reference, and so equals the ratio of
    the ``ms`` entries when both backends ran the same number of passes."""
    outputs = list(outputs)
    by_backend: dict[str, list[dict[str, Any]]] = {b: [o for o in outputs if o["backend"] == b] for b in BACKENDS}
    names = list(dict.fromkeys(c["loss"] for o in outputs for c in o["cases"]))
    rows = []
    for name in names:
        row: dict[str, Any] = {"loss": name, "status": "ok", "initial_loss": {}, "ms": {}, "ms_passes": {}}
        per_pass: dict[str, list[dict[str, Any]]] = {}
        for backend, runs in by_backend.items():
            found = [c for o in runs for c in o["cases"] if c["loss"] == name]
            if not found:
                row["status"] = f"not run on {LABEL[backend]}"
                continue
            row["task"], row["reference"] = found[0]["task"], found[0]["reference"]
            bad = [c["status"] for c in found if c["status"] != "ok"]
            if bad:
                row["status"] = f"{LABEL[backend]}: {bad[0]}"
                continue
            row[backend] = _summary([s for c in found for s in c["ours_seconds"]],
                                    [s for c in found for s in c["ref_seconds"]], found[0]["calls_per_block"])
            per_pass[backend] = [_summary(c["ours_seconds"], c["ref_seconds"], c["calls_per_block"]) for c in found]
            row["ms_passes"][backend] = {side: [p[f"{side}_ms"] for p in per_pass[backend]] for side in ("ours", "ref")}
            row["ms"][backend] = {side: _geomean(v) for side, v in row["ms_passes"][backend].items()}
            row["initial_loss"][backend] = found[0]["initial_loss"]
        if row["status"] == "ok":
            pairs = list(zip(per_pass["jax"], per_pass["tensorflow"]))
            row["jax_over_tf_passes"] = {side: [j[f"{side}_ms"] / t[f"{side}_ms"] for j, t in pairs]
                                         for side in ("ours", "ref")}
            row["jax_over_tf"] = {side: _geomean(v) for side, v in row["jax_over_tf_passes"].items()}
            jl, tl = row["initial_loss"]["jax"], row["initial_loss"]["tensorflow"]
            row["initial_loss_rel_diff"] = max(abs(jl[k] - tl[k]) / max(abs(tl[k]), 1e-12) for k in ("ours", "ref"))
        rows.append(row)
    return rows


def times(ratio: float) -> str:
    """A ratio as ``1.07×``, with a third decimal where two would round it onto the goal from either side."""
    text = f"{ratio:.2f}"
    return (f"{ratio:.3f}" if float(text) == GOAL and ratio != GOAL else text) + "×"


def _ratio_cell(summary: dict[str, Any]) -> str:
    q1, q3 = summary["ratio_iqr"]
    return f"**{times(summary['ratio'])}** ({q1:.2f}–{q3:.2f})"


def _range_cell(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else "—"


def _keras_name(label: str) -> str:
    return label.replace("keras ", "Keras ")


def render_tables(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """(ours vs Keras on JAX, JAX vs TensorFlow) as markdown tables."""
    first, second = [], []
    for row in rows:
        task = loss_speed.TASKS[row["task"]][0] if "task" in row else "—"
        if row["status"] != "ok":
            first.append([f"`{row['loss']}`", task, row.get("reference", "—"), "—", "—", row["status"], "—"])
            second.append([f"`{row['loss']}`"] + ["—"] * 8)
            continue
        j, t, x, p = row["jax"], row["tensorflow"], row["jax_over_tf"], row["jax_over_tf_passes"]
        jm, tm = row["ms"]["jax"], row["ms"]["tensorflow"]
        first.append([f"`{row['loss']}`", task, row["reference"], f"{jm['ours']:.2f}", f"{jm['ref']:.2f}",
                      _ratio_cell(j), loss_speed._goal_cell(j)])
        second.append([f"`{row['loss']}`", f"{jm['ours']:.2f}", f"{tm['ours']:.2f}", f"**{times(x['ours'])}**",
                       _range_cell(p["ours"]), f"{jm['ref']:.2f} / {tm['ref']:.2f}", times(x["ref"]),
                       _ratio_cell(t), f"{row['initial_loss_rel_diff']:.0e}"])
    table1 = md_table(["Loss", "Task", "Keras reference", "JAX ours (ms)", "JAX Keras (ms)",
                       "JAX ours / Keras (IQR)", f"≤ {GOAL}× on JAX"], first,
                      ["l", "l", "l", "r", "r", "r", "c"])
    table2 = md_table(["Loss", "Ours JAX (ms)", "Ours TF (ms)", "Ours JAX / TF", "per pass",
                       "Keras ref JAX / TF (ms)", "Keras ref JAX / TF", "TF ours / Keras (IQR)",
                       "Initial loss, JAX vs TF (rel. diff.)"], second,
                      ["l", "r", "r", "r", "r", "r", "r", "r", "r"])
    return table1, table2


def verdicts(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Plain "where we win / where we lose" statements; a loss is listed wherever a ratio exceeds the goal."""
    wins: list[str] = []
    losses: list[str] = []
    ok = [r for r in rows if r["status"] == "ok"]
    meeting = [r for r in ok if r["jax"]["ratio"] <= GOAL]
    if ok and len(meeting) == len(ok):
        worst = max(ok, key=lambda r: r["jax"]["ratio"])
        wins.append(f"On JAX (jit) all {len(ok)} losses meet the ≤ {GOAL}× goal against Keras' cross-entropy per "
                    f"train step; worst `{worst['loss']}` {times(worst['jax']['ratio'])}.")
    elif meeting:
        wins.append(f"On JAX (jit) {len(meeting)} of {len(ok)} losses meet the ≤ {GOAL}× goal per train step: "
                    + ", ".join(f"`{r['loss']}` {times(r['jax']['ratio'])}" for r in meeting) + ".")
    for r in ok:
        j, t, x = r["jax"], r["tensorflow"], r["jax_over_tf"]
        jm, tm = r["ms"]["jax"], r["ms"]["tensorflow"]
        ref = _keras_name(r["reference"])
        if j["ratio"] > GOAL:
            q1, q3 = j["ratio_iqr"]
            losses.append(f"On JAX, `{r['loss']}` costs {times(j['ratio'])} {ref} per train step (IQR {q1:.2f}–{q3:.2f};"
                          f" {jm['ours']:.2f} vs {jm['ref']:.2f} ms), against {times(t['ratio'])} on TensorFlow.")
        if t["ratio"] > GOAL:
            losses.append(f"On TensorFlow, re-measured here, `{r['loss']}` costs {times(t['ratio'])} {ref} per train "
                          "step (see `loss_speed` for its own measurement).")
        if x["ours"] > GOAL:
            cause = ("Keras' own cross-entropy slows down alike, so it is the backend, not the loss"
                     if x["ref"] > GOAL and x["ours"] <= x["ref"] * GOAL else
                     f"Keras' cross-entropy moves {times(x['ref'])}, so part of it is our loss on JAX")
            losses.append(f"`{r['loss']}` is slower on JAX than on TensorFlow: {jm['ours']:.2f} vs "
                          f"{tm['ours']:.2f} ms per step ({times(x['ours'])}); {cause}.")
    if ok and all(r["jax_over_tf"]["ours"] <= GOAL for r in ok):
        ours = [r["jax_over_tf"]["ours"] for r in ok]
        refs = [r["jax_over_tf"]["ref"] for r in ok]
        faster = [r for r in ok if r["jax_over_tf"]["ours"] < 1 / GOAL]
        wins.append(f"A JAX (jit) step with our loss costs {min(ours):.2f}–{max(ours):.2f}× the TensorFlow "
                    f"(`tf.function`) step, none more than {GOAL}× (Keras' cross-entropy: {min(refs):.2f}–"
                    f"{max(refs):.2f}×)" + ("; more than " + f"{GOAL}× faster on JAX: " + ", ".join(
                        f"`{r['loss']}` {times(r['jax_over_tf']['ours'])}" for r in faster) if faster else "") + ".")
    for r in rows:
        if r["status"] != "ok":
            losses.append(f"`{r['loss']}` was not measured on both backends: {r['status']}.")
    return wins, losses


def pass_spread(rows: list[dict[str, Any]]) -> float | None:
    """The largest relative change of one step's median time between passes on the same backend (``None`` with one
    pass): how far absolute times, and so JAX / TF, moved with the machine's load during the run."""
    spreads = [max(v) / min(v) - 1 for r in rows if r["status"] == "ok" for sides in r["ms_passes"].values()
               for v in sides.values() if len(v) > 1]
    return max(spreads) if spreads else None


def render(rows: list[dict[str, Any]], outputs: list[dict[str, Any]], plan: Plan, quick: bool) -> str:
    s = plan.settings
    table1, table2 = render_tables(rows)
    first = {o["backend"]: o for o in reversed(outputs)}
    loads = "; ".join(f"{LABEL[o['backend']]} pass: {o['load_before'][0]:.2f} → {o['load_after'][0]:.2f}"
                      for o in outputs if o.get("load_before") and o.get("load_after"))
    mode = (f"**Quick mode**: one pass per backend, {s.rounds} rounds of ~{s.block_seconds * 1e3:.0f} ms blocks per "
            "pair; indicative numbers, and no per-pass range for JAX / TF." if quick else
            f"Full mode: {plan.passes} passes per backend (order {', '.join(LABEL[b] for b in pass_order(plan.passes))}),"
            f" {s.rounds} rounds of ~{s.block_seconds * 1e3:.0f} ms blocks per pair and pass.")
    return "\n\n".join([
        f"Goal (from `loss_speed`): a train step with our loss costs **≤ {GOAL}×** the same step with Keras' "
        "cross-entropy (`from_logits=True`) on the same model and batch — here with Keras on **JAX**, the step "
        "compiled by XLA. Also shown: the absolute step time of our losses on JAX and on TensorFlow.",
        f"**Setup.** MLP {loss_speed.FEATURES} → {' → '.join(str(h) for h in loss_speed.HIDDEN)} → K logits (ReLU), "
        f"float32, batch {loss_speed.BATCH}; K = {loss_speed.LABELS} multi-label outputs or {loss_speed.CLASSES} "
        f"long-tailed classes, `loss_speed`'s batch and constructor arguments. Every model starts from the same "
        f"NumPy-drawn weights on both backends; Adam lr={loss_speed.LEARNING_RATE:g}. Devices: "
        + "; ".join(f"{LABEL[b]} {first[b]['device']} ({first[b]['threads']})" for b in BACKENDS if b in first)
        + f"; JAX {package_version('jax')}, jaxlib {package_version('jaxlib')}, TensorFlow "
        f"{package_version('tensorflow')}, Keras {package_version('keras')}.",
        "**What each side runs.** JAX: `model.compile(..., jit_compile=True)`, then `model.train_function` — "
        "`jax.jit(model.train_step, donate_argnums=0)`, forward, loss, gradient, Adam update and loss tracker in one "
        "XLA program — called on a state carried from step to step exactly as `model.fit` calls it per batch, "
        "synchronised with `jax.block_until_ready` (not `train_on_batch`, which also copies every variable in and "
        "out of the model per call). TensorFlow: `tf.function(model.train_step)` with `jit_compile=False`, as in "
        "`loss_speed`. Each backend runs in its own fresh interpreter (`KERAS_BACKEND` set before Keras is "
        "imported). Within a backend, ours and Keras' step alternate in blocks (A B B A …); ratios ours / Keras are "
        "medians of the paired per-round ratios (IQR in parentheses), times are ms per step (the geometric mean "
        "over the passes of each pass' median). JAX / TF compares different processes, not interleaved: the geometric "
        "mean of the per-pass ratios (a JAX pass against the TF pass next to it in time), with Keras' cross-entropy "
        "measured the same way as its control. " + mode + (f" Load average (1 min) per worker: {loads}." if loads else ""),
        "### Ours vs Keras' cross-entropy, both on JAX (jit)",
        table1,
        "### The same step on JAX and on TensorFlow",
        "*Per pass*: the range of JAX / TF over the passes (pass i of each backend); *TF ours / Keras*: the "
        "`loss_speed` ratio re-measured in this run; *initial loss*: the loss of ours and of Keras' reference at "
        "the initial weights, computed on both backends (largest relative difference).",
        table2,
    ] + ([f"Between two passes on the same backend, the same step's median time moved by up to "
          f"{100 * spread:.0f} % in this run, so JAX / TF differences of that size are not resolved here; the "
          "ratios ours / Keras are paired within one process and move much less."]
         if (spread := pass_spread(rows)) is not None else []))


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    outputs = []
    for i, backend in enumerate(pass_order(plan.passes)):
        log(f"backend_speed: worker {i + 1}/{2 * plan.passes} on {backend} (fresh interpreter)")
        outputs.append(run_worker(backend, plan.settings, log=log))
    rows = combine(outputs)
    elapsed = time.perf_counter() - started
    wins, losses = verdicts(rows)
    payload = {
        "section": NAME,
        "generated": now_iso(),
        "quick": quick,
        "plan": {"passes": plan.passes, "order": pass_order(plan.passes), "settings": asdict(plan.settings)},
        "config": {"seed": SEED, "batch": loss_speed.BATCH, "features": loss_speed.FEATURES,
                   "hidden": list(loss_speed.HIDDEN), "labels": loss_speed.LABELS, "classes": loss_speed.CLASSES,
                   "optimizer": f"Adam({loss_speed.LEARNING_RATE})", "goal_ratio": GOAL,
                   "timed_step": {"jax": "model.train_function (jax.jit(train_step, donate_argnums=0)), carried state",
                                  "tensorflow": "tf.function(model.train_step), jit_compile=False"}},
        "environment": {**environment(), "jax": package_version("jax"), "jaxlib": package_version("jaxlib")},
        "seconds": round(elapsed, 1),
        "rows": rows,
        "workers": outputs,
    }
    body = render(rows, outputs, plan, quick)
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker" and sys.argv[2] in BACKENDS:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        result = worker(sys.argv[2], loss_speed.Settings(**json.loads(sys.argv[3])))
        print(json.dumps(result), flush=True)
    else:
        sys.exit("usage: KERAS_BACKEND=<jax|tensorflow> python -m benchmarks.backend_speed --worker <jax|tensorflow> "
                 "'<settings json>' (run by benchmarks.run)")
