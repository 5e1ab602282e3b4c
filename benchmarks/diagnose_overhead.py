"""CollapseMonitor overhead: what the per-epoch diagnosis costs on seed 002's shape.

Setup: seed 002's generator (:func:`imbalance.datasets.multilabel30`), 30 features → 30 sparse labels, 30k training
rows and a 30k-row validation set; seed 002's own MLP (30 → 100 → 100 → 30, ReLU, sigmoid), Adam, binary
cross-entropy, batch 32 (Keras' default; the seed itself used 10, which makes epochs 3× longer and the overhead's
share smaller).

Method: every configuration trains a copy of one seeded model (same initial weights) for a few epochs; a clock
callback placed *after* the monitor times each epoch from ``on_epoch_begin`` to the end of ``on_epoch_end``, so the
monitor's work (and Keras' validation pass, where used) is inside the epoch. The first epoch of every fit (tracing)
is dropped. Configurations take turns within each round (the order alternates), and each round gives one paired
ratio per configuration against plain training; the table shows medians. The monitor's own time is split into the
forward pass on its subsample and the numpy/scikit-learn analysis (:func:`imbalance.diagnose.diagnose`).
"""

from __future__ import annotations

import time
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
    quartiles,
    store_section,
    tensorflow_devices,
)

NAME = "diagnose_overhead"
TITLE = "CollapseMonitor overhead per epoch"
SEED = 0
TRAIN_ROWS = 30_000
VALIDATION_ROWS = 30_000
BATCH = 32  # Keras' default batch size
GOAL = 0.10  # the default monitor should add at most 10 % to an epoch


@dataclass(frozen=True)
class Settings:
    rounds: int  # interleaved rounds (one fit per configuration each)
    epochs: int  # epochs per fit (the first is dropped)
    component_repeats: int  # timed repetitions of the monitor's forward pass and analysis


QUICK = Settings(rounds=2, epochs=3, component_repeats=5)
FULL = Settings(rounds=5, epochs=5, component_repeats=20)


@dataclass(frozen=True)
class Config:
    key: str
    label: str
    max_samples: int | None  # None: no monitor
    keras_validation: bool = False


CONFIGS: tuple[Config, ...] = (
    Config("plain", "plain `fit` (no monitor, no validation)", None),
    Config("monitor_10k", "`CollapseMonitor()` (default `max_samples=10000`)", 10_000),
    Config("monitor_30k", "`CollapseMonitor(max_samples=30000)` (every validation row)", 30_000),
    Config("keras_val", "Keras' own `validation_data=` (loss on all 30k rows), no monitor", None, True),
)


def _model(keras: Any) -> Any:
    inputs = keras.Input((30,))
    hidden = keras.layers.Dense(100, activation="relu")(inputs)
    hidden = keras.layers.Dense(100, activation="relu")(hidden)
    outputs = keras.layers.Dense(30, activation="sigmoid")(hidden)
    return keras.Model(inputs, outputs)


def _clock(keras: Any) -> Any:
    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)

    return EpochClock()


def measure(settings: Settings, log: Callable[[str], None] = log) -> dict[str, Any]:
    import keras

    from imbalance.datasets import multilabel30
    from imbalance.diagnose import CollapseMonitor, diagnose

    train = multilabel30(n_samples=TRAIN_ROWS, seed=SEED)
    val = multilabel30(n_samples=VALIDATION_ROWS, seed=SEED + 1)
    keras.utils.set_random_seed(SEED)
    template = _model(keras)
    weights = template.get_weights()

    epoch_seconds: dict[str, list[float]] = {c.key: [] for c in CONFIGS}
    round_means: dict[str, list[float]] = {c.key: [] for c in CONFIGS}
    monitor_seconds: dict[str, list[float]] = {c.key: [] for c in CONFIGS}
    last_monitor: dict[str, Any] = {}
    for r in range(settings.rounds):
        order = CONFIGS if r % 2 == 0 else tuple(reversed(CONFIGS))
        for config in order:
            model = keras.models.clone_model(template)
            model.set_weights(weights)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
            callbacks: list[Any] = []
            monitor = None
            if config.max_samples is not None:
                monitor = CollapseMonitor((val.x, val.y), max_samples=config.max_samples, verbose=False)
                callbacks.append(monitor)
            clock = _clock(keras)
            callbacks.append(clock)
            model.fit(train.x, train.y, epochs=settings.epochs, batch_size=BATCH, verbose=0, callbacks=callbacks,
                      validation_data=(val.x, val.y) if config.keras_validation else None)
            kept = clock.seconds[1:]
            epoch_seconds[config.key] += kept
            round_means[config.key].append(float(np.mean(kept)))
            if monitor is not None:
                monitor_seconds[config.key] += monitor.seconds_[2:]  # drop the initial evaluation and epoch 1
                last_monitor[config.key] = (monitor, model)
            log(f"round {r + 1}, {config.key}: {np.median(kept) * 1e3:.0f} ms per epoch")

    # The monitor's own time, split: forward pass on its subsample vs the analysis.
    components: dict[str, dict[str, float]] = {}
    for key, (monitor, model) in last_monitor.items():
        forward, analysis = [], []
        for _ in range(settings.component_repeats):
            start = time.perf_counter()
            outputs = monitor._predict()
            middle = time.perf_counter()
            diagnose(monitor._y, outputs, history=[0.0])
            forward.append(middle - start)
            analysis.append(time.perf_counter() - middle)
        components[key] = {"forward_ms": float(np.median(forward)) * 1e3,
                           "analysis_ms": float(np.median(analysis)) * 1e3,
                           "rows": int(monitor._rows)}
    ratios = {c.key: [m / p for m, p in zip(round_means[c.key], round_means["plain"])] for c in CONFIGS}
    return {"epoch_seconds": epoch_seconds, "round_means": round_means, "ratios": ratios,
            "monitor_seconds": monitor_seconds, "components": components}


def _row(config: Config, data: dict[str, Any]) -> list[str]:
    epochs = data["epoch_seconds"][config.key]
    ratios = data["ratios"][config.key]
    median_ms = float(np.median(epochs)) * 1e3
    plain_ms = float(np.median(data["epoch_seconds"]["plain"])) * 1e3
    added = median_ms - plain_ms
    own = data["monitor_seconds"].get(config.key) or []
    own_text = f"{float(np.median(own)) * 1e3:.0f}" if own else "—"
    comp = data["components"].get(config.key)
    split = f"{comp['forward_ms']:.0f} + {comp['analysis_ms']:.0f}" if comp else "—"
    q1, med, q3 = quartiles(ratios)
    ratio = "1.00× (reference)" if config.key == "plain" else f"**{med:.2f}×** ({q1:.2f}–{q3:.2f})"
    return [config.label, f"{median_ms:.0f}", "—" if config.key == "plain" else f"{added:+.0f}", ratio, own_text,
            split]


def verdicts(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Statements from the monitor's own time (robust: it is timed by itself) relative to the plain epoch, with the
    measured epoch ratio (noisier: it is the difference of two epoch times on a shared machine) alongside."""
    wins: list[str] = []
    losses: list[str] = []
    plain_ms = float(np.median(data["epoch_seconds"]["plain"])) * 1e3
    own = {k: float(np.median(v)) * 1e3 for k, v in data["monitor_seconds"].items() if v}
    ratio = {k: quartiles(v) for k, v in data["ratios"].items()}
    comp = data["components"]

    def measured(key: str) -> str:
        q1, med, q3 = ratio[key]
        return f"measured epoch ratio {med:.2f}×, IQR {q1:.2f}–{q3:.2f}"

    share = own["monitor_10k"] / plain_ms
    text = (f"The default `CollapseMonitor` (10k-row subsample of the 30k validation rows, 30 labels) spends "
            f"{own['monitor_10k']:.0f} ms per epoch ({comp['monitor_10k']['forward_ms']:.0f} ms forward pass + "
            f"{comp['monitor_10k']['analysis_ms']:.0f} ms analysis), {100 * share:.1f} % of a {plain_ms:.0f} ms "
            f"epoch at batch {BATCH} ({measured('monitor_10k')}); goal ≤ {GOAL:.0%}.")
    (wins if share <= GOAL else losses).append(text)
    keras_added = (float(np.median(data["epoch_seconds"]["keras_val"])) * 1e3) - plain_ms
    full = own["monitor_30k"]
    if full <= keras_added:
        wins.append(f"Diagnosing all 30k validation rows costs {full:.0f} ms per epoch, less than Keras' own "
                    f"validation loss on the same rows (+{keras_added:.0f} ms per epoch, evaluated at the fit batch "
                    f"size {BATCH}; the monitor runs batches of 1024).")
    else:
        losses.append(f"Diagnosing all 30k validation rows costs {full:.0f} ms per epoch, more than Keras' own "
                      f"validation loss on the same rows (+{keras_added:.0f} ms per epoch): the per-label sorts cost "
                      "more than a loss; keep the default 10k subsample.")
    if full / plain_ms > GOAL:
        losses.append(f"With every validation row (`max_samples=30000`) the monitor spends {full:.0f} ms per epoch, "
                      f"{100 * full / plain_ms:.0f} % of a {plain_ms:.0f} ms epoch ({measured('monitor_30k')}).")
    return wins, losses


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    load_before = load_average()
    data = measure(settings, log=log)
    load_after = load_average()
    elapsed = time.perf_counter() - started
    wins, losses = verdicts(data)
    table = md_table(
        ["Configuration", "Epoch (ms, median)", "Added (ms)", "Epoch ratio vs plain (IQR)",
         "Monitor's own time (ms)", "Forward + analysis (ms)"],
        [_row(c, data) for c in CONFIGS],
        align=["l", "r", "r", "r", "r", "r"],
    )
    loads = ""
    if load_before and load_after:
        loads = (f" Load average (1 min) was {load_before[0]:.2f} before and {load_after[0]:.2f} after this section; "
                 "absolute times move with it, the paired ratios less.")
    mode = (f"**Quick mode**: {settings.rounds} rounds × {settings.epochs} epochs per configuration (first epoch "
            "dropped): indicative numbers." if quick else
            f"Full mode: {settings.rounds} rounds × {settings.epochs} epochs per configuration (first epoch dropped).")
    body = "\n\n".join([
        f"Goal: the default monitor adds **≤ {GOAL:.0%}** to an epoch on seed 002's shape.",
        f"**Setup.** `multilabel30`: {TRAIN_ROWS} training rows, {VALIDATION_ROWS} validation rows, 30 features → "
        f"30 labels (~3.3 % positives each); seed 002's MLP 30 → 100 → 100 → 30 (ReLU, sigmoid), Adam 1e-3, binary "
        f"cross-entropy, batch {BATCH} ({int(np.ceil(TRAIN_ROWS / BATCH))} steps per epoch); device: "
        f"{tensorflow_devices()}.",
        "**Method.** Each configuration trains a copy of one seeded model; an epoch clock placed after the monitor "
        "times `on_epoch_begin` → end of `on_epoch_end`, so the monitor's work and Keras' validation pass are inside "
        "the epoch. Configurations alternate order each round; ratios are paired per round. The monitor's own time "
        "is what it records per evaluation (`CollapseMonitor.seconds_`); the last column splits it into the forward "
        "pass on its subsample (`model(x, training=False)` in batches of 1024) and the analysis (`diagnose`: per "
        "label a precision-recall curve, PR-AUC, best F1; the chance level is cached after the first epoch). On a "
        "shared machine the difference of two epoch times is noisy (it can even come out negative); the monitor's "
        "own time, timed by itself, is the robust number, and the statements above use it. "
        + mode + loads,
        table,
    ])
    payload = {
        "section": NAME,
        "generated": now_iso(),
        "quick": quick,
        "settings": settings.__dict__,
        "config": {"seed": SEED, "train_rows": TRAIN_ROWS, "validation_rows": VALIDATION_ROWS, "batch": BATCH,
                   "model": "30-100-100-30 MLP", "goal": GOAL},
        "environment": environment(),
        "load_average_after": load_after,
        "seconds": round(elapsed, 1),
        "data": data,
    }
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
