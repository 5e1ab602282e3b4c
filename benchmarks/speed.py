"""Speed and scale: every speed goal of the earlier issues in one table, and MirroredStrategy on 2 logical CPUs vs 1.

Two parts:

* **Goals** — the ratios the earlier issues set, read from the raw results the other sections wrote in
  ``benchmarks/results/`` (``make bench`` runs them first, in the same run; with ``--only speed`` the stored results
  are used and their dates shown). Each row names the section it comes from; both sides of every ratio were
  measured there in one process, on the same data, taking turns.
* **MirroredStrategy** (measured here) — the same Keras MLP trained on the same :func:`imbalance.data.
  balanced_dataset` stream (oversampled to 50/50, redrawn every epoch) with no distribution strategy (one device)
  and under ``tf.distribute.MirroredStrategy`` over two logical CPU devices made with
  ``tf.config.set_logical_device_configuration``, at the same global batch. TensorFlow fixes its devices when it
  first uses them, so this part runs in a fresh interpreter (``python -m benchmarks.speed --mirrored``). After one
  untimed warm-up epoch each, the two take turns epoch by epoch; the table shows the median epoch time and the
  median per-round ratio with its interquartile range. Both sides also report their last loss, a check that they
  trained the same thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from benchmarks._report import (
    ROOT,
    Section,
    environment,
    load_average,
    load_raw,
    log,
    md_table,
    now_iso,
    quartiles,
    store_section,
)

NAME = "speed"
TITLE = "Speed and scale: the goals in one table, and MirroredStrategy on 2 logical CPUs vs 1"
SEED = 0


@dataclass(frozen=True)
class Settings:
    rows: int
    features: int
    hidden: int
    batch: int
    rounds: int
    positive_rate: float = 0.02


QUICK = Settings(rows=60_000, features=32, hidden=256, batch=512, rounds=3)
FULL = Settings(rows=400_000, features=32, hidden=256, batch=512, rounds=5)


# --- MirroredStrategy, in a fresh interpreter ------------------------------------------------------------------


def _mirrored_child(s: Settings) -> dict[str, Any]:
    """Runs in the fresh interpreter: two logical CPUs, then one epoch at a time for each setup, taking turns."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from imbalance.data import balanced_dataset

    rng = np.random.default_rng(SEED)
    y = (rng.random(s.rows) < s.positive_rate).astype(np.int64)
    x = (rng.standard_normal((s.rows, s.features)) + 0.5 * y[:, None]).astype(np.float32)

    def build() -> Any:
        keras.utils.set_random_seed(SEED)
        model = keras.Sequential([keras.Input((s.features,)),
                                  keras.layers.Dense(s.hidden, activation="relu"),
                                  keras.layers.Dense(s.hidden, activation="relu"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
        return model

    logical = [d.name for d in tf.config.list_logical_devices("CPU")]
    setups: dict[str, Any] = {"one device (no strategy)": None,
                              "MirroredStrategy, 2 logical CPUs": tf.distribute.MirroredStrategy(logical[:2])}
    models, data = {}, {}
    for name, strategy in setups.items():
        data[name] = balanced_dataset(x, y, batch_size=s.batch, seed=SEED, epoch_size=s.rows)
        if strategy is None:
            models[name] = build()
        else:
            with strategy.scope():
                models[name] = build()
        models[name].fit(data[name], epochs=1, verbose=0)  # warm-up: tracing, the first iterator
    names = list(setups)
    seconds: dict[str, list[float]] = {n: [] for n in names}
    losses: dict[str, float] = {}
    for r in range(s.rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            history = models[name].fit(data[name], epochs=1, verbose=0)
            seconds[name].append(time.perf_counter() - t0)
            losses[name] = float(history.history["loss"][-1])
    return {"devices": logical, "replicas": {n: (1 if st is None else int(st.num_replicas_in_sync))
                                              for n, st in setups.items()},
            "seconds": seconds, "last_loss": losses, "rows_per_epoch": s.rows}


def measure_mirrored(s: Settings) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--mirrored", json.dumps(asdict(s))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the MirroredStrategy child failed (exit {proc.returncode}): {proc.stderr[-800:]}")
    result = json.loads(lines[-1])
    names = list(result["seconds"])
    one, two = (np.asarray(result["seconds"][n]) for n in names)
    result["names"] = names
    result["ratio"] = list(quartiles(two / one))  # per round: mirrored / one device
    return result


# --- goals, from the other sections' raw results ---------------------------------------------------------------


def _when(data: dict[str, Any]) -> str:
    return f"{data['generated'][:16].replace('T', ' ')}{' quick' if data.get('quick') else ''}"


def goal_rows(mirrored: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per goal: what, goal, measured, met, source section (and its date)."""
    rows: list[dict[str, Any]] = []

    def add(what: str, goal: str, measured: str, met: bool | None, source: str, data: dict[str, Any] | None,
            why: str = "") -> None:
        rows.append({"what": what, "goal": goal, "measured": measured, "met": met,
                     "source": f"{source} ({_when(data)})" if data else source, "why": why})

    loss = load_raw("loss_speed")
    if loss:
        goal = loss["config"]["goal_ratio"]
        for r in loss["rows"]:
            if r.get("status") == "ok" and r.get("primary"):
                ratio = r["train"]["ratio"]
                add(f"train step: `{r['loss']}` vs {r['reference']}", f"≤ {goal:g}×", f"{ratio:.2f}×",
                    ratio <= goal, "loss_speed", loss, "" if ratio <= goal else r.get("why", "")[:300])
    sampler = load_raw("sampler_speed")
    if sampler:
        goal = sampler["config"]["goal_ratio"]
        rows_n = sampler["config"]["rows"]
        by = {(t["method"], t["contender"].split()[0] + (" raw" if "raw" in t["contender"] else "")
               + (" rejection" if "rejection" in t["contender"] else "")): t for t in sampler["throughput"]}
        for method in ("oversample", "undersample"):
            ours = by.get((method, "imbalance"))
            peer = by.get((method, "imblearn"))
            if not ours or not peer:
                continue
            for mode, label in (("in_graph", "in-graph"), ("python", "Python loop")):
                if mode in ours and mode in peer:
                    ratio = ours[mode]["rows_per_s"] / peer[mode]["rows_per_s"]
                    why = []
                    if method == "undersample":
                        why.append("an undersampled epoch is short, so starting it (a new tf.data iterator and the "
                                   "draw over every label) is a large share of its time")
                    if mode == "python":
                        why.append("iterating in Python pays TensorFlow's eager per-batch overhead")
                    add(f"{method} sampler ({label}, {rows_n:,} rows) vs imblearn `BalancedBatchGenerator` in "
                        "model.fit", f"≥ {goal:g}×", f"{ratio:.1f}×", ratio >= goal, "sampler_speed", sampler,
                        "" if ratio >= goal else "; ".join(why))
            rej = by.get((method, "tf.data rejection"))
            if rej and "in_graph" in ours:
                ratio = ours["in_graph"]["rows_per_s"] / rej["in_graph"]["rows_per_s"]
                add(f"{method} sampler vs tf.data `rejection_resample`", "faster", f"{ratio:.0f}×", ratio > 1,
                    "sampler_speed", sampler)
        memory = sampler.get("memory") or []
        if len(memory) >= 2:
            small, large = memory[0], memory[-1]
            add(f"`rebalance` streaming peak memory, {small['n']:,} vs {large['n']:,} rows",
                "does not grow with rows", f"+{small['peak_above_start_mb']:.0f} MB vs "
                f"+{large['peak_above_start_mb']:.0f} MB", large["peak_above_start_mb"] < 4 * max(
                    small["peak_above_start_mb"], 8.0), "sampler_speed", sampler)
    thresholds = load_raw("threshold_speed")
    if thresholds:
        g_ratio, g_s = thresholds["goal"]["ratio_vs_argsort"], thresholds["goal"]["seconds"]
        n = thresholds["settings"]["n"]
        for r in thresholds["rows"]:
            ratio = float(np.median(r["vs_argsort"]))
            sk = float(np.median(r["vs_sklearn"]))
            add(f"threshold search `{r['objective']}`, {n / 1e6:g} M scores, {r['rate']:.0%} positives",
                f"≤ {g_ratio:g}× argsort and ≤ {g_s:g} s", f"{r['ours_s']:.2f} s, {ratio:.2f}× argsort, "
                f"{sk:.2f}× sklearn `precision_recall_curve`", ratio <= g_ratio and r["ours_s"] <= g_s,
                "threshold_speed", thresholds)
    examples = load_raw("examples")
    goal = ((examples or {}).get("multilabel30") or {}).get("goal")
    if goal:
        add("multilabel30: best test micro-F1 (per-label thresholds tuned on validation) vs the generator's "
            "Bayes-optimal", "≥ 0.95 × Bayes", f"{goal['micro_f1']:.3f} = {goal['ratio']:.2f} × {goal['bayes_f1']:.3f}",
            goal["met"], "examples", examples)
    parallel = load_raw("parallel_speed")
    if parallel:
        ratios = parallel["derived"]["ratios"]
        dataset = parallel["data"]["dataset"]
        for label, goal_ratio in (("2 workers", 0.65), ("Ray local, 2 CPUs", 0.75)):
            if label in ratios:
                add(f"compare on the {dataset} demo, {label} vs 1 worker, wall time", f"≤ {goal_ratio:g}×",
                    f"{ratios[label]:.2f}×", ratios[label] <= goal_ratio, "parallel_speed", parallel)
    if mirrored:
        lo, med, hi = mirrored["ratio"]
        add("MirroredStrategy, 2 logical CPUs vs one device, epoch time", "report (no goal)",
            f"{med:.2f}× ({lo:.2f}–{hi:.2f})", None, "speed (this section)", None)
    return rows


# --- section ---------------------------------------------------------------------------------------------------


def render(rows: list[dict[str, Any]], mirrored: dict[str, Any] | None, s: Settings) -> str:
    mark = {True: "met", False: "**missed**", None: "–"}
    parts = [__doc__.split("\n\n", 1)[1].strip(), "### Goals",
             md_table(["what", "goal", "measured", "met", "from section"],
                      [[r["what"], r["goal"], r["measured"], mark[r["met"]], r["source"]] for r in rows],
                      ["l", "l", "r", "l", "l"])]
    missed = [r for r in rows if r["met"] is False and r["why"]]
    if missed:
        parts += ["Why the missed goals are missed:",
                  "\n".join(f"- *{r['what']}* ({r['measured']}): {r['why']}" for r in missed)]
    if mirrored:
        names = mirrored["names"]
        table = []
        for n in names:
            secs = np.asarray(mirrored["seconds"][n])
            table.append([n, mirrored["replicas"][n], f"{np.median(secs):.2f}",
                          f"{mirrored['rows_per_epoch'] / np.median(secs) / 1e3:,.0f}",
                          f"{mirrored['last_loss'][n]:.4f}"])
        lo, med, hi = mirrored["ratio"]
        parts += ["### MirroredStrategy on 2 logical CPUs vs one device",
                  f"MLP {s.features}→{s.hidden}→{s.hidden}→1, Adam, BCE on logits; `balanced_dataset` "
                  f"({s.rows:,} rows, {s.positive_rate:.0%} positives, oversampled 50/50, batch {s.batch} global), "
                  f"{s.rounds} timed epochs each, taking turns. Devices: {', '.join(mirrored['devices'])}.",
                  md_table(["setup", "replicas", "median epoch s", "k rows/s", "last loss"], table,
                           ["l", "r", "r", "r", "r"]),
                  f"Mirrored / one device, per round: **{med:.2f}×** (IQR {lo:.2f}–{hi:.2f}). Two logical CPU "
                  "devices share the same physical cores and one thread pool, so mirroring on one machine's CPU "
                  "can only add the all-reduce and the per-replica split; it is here to show that the sampler and "
                  "losses run unchanged under `tf.distribute` (and what that costs), not to speed up CPU training. "
                  "Identical results with and without the strategy are tested in `tests/test_distribute.py`."]
    return "\n\n".join(parts)


def verdicts(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    wins, losses = [], []
    met = [r for r in rows if r["met"] is True]
    missed = [r for r in rows if r["met"] is False]
    if met:
        wins.append(f"{len(met)} of {len(met) + len(missed)} goals met: "
                    + "; ".join(f"{r['what']} {r['measured']}" for r in met) + ".")
    for r in missed:
        losses.append(f"Goal missed: {r['what']}: {r['measured']} (goal {r['goal']})"
                      + (f" — {r['why']}" if r["why"] else "") + ".")
    return wins, losses


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    s = QUICK if quick else FULL
    started = time.perf_counter()
    log(f"speed: MirroredStrategy vs one device, {s.rows:,} rows x {s.rounds} rounds (fresh interpreter)")
    mirrored = measure_mirrored(s)
    rows = goal_rows(mirrored)
    elapsed = time.perf_counter() - started
    wins, losses = verdicts(rows)
    lo, med, hi = mirrored["ratio"]
    line = (f"MirroredStrategy over 2 logical CPUs takes {med:.2f}x the one-device epoch time (IQR {lo:.2f}-{hi:.2f}) "
            "with `balanced_dataset` feeding both")
    (wins if med <= 1.0 else losses).append(line + ("." if med <= 1.0 else ": on one machine's CPU the replicas "
                                                    "share the cores, so mirroring only adds the split and the "
                                                    "all-reduce; tf.distribute is for several devices or machines."))
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "settings": asdict(s),
               "environment": environment(), "load_average_after": load_average(), "seconds": round(elapsed, 1),
               "mirrored": mirrored, "goals": rows}
    return store_section(NAME, TITLE, quick, payload, render(rows, mirrored, s), wins, losses, elapsed)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--mirrored":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        print(json.dumps(_mirrored_child(Settings(**json.loads(sys.argv[2])))), flush=True)
    else:
        sys.exit("usage: python -m benchmarks.speed --mirrored '<settings json>' (run by benchmarks.run)")
