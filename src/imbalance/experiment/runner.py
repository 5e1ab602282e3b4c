"""``compare``: train the same model under several strategies, over several splits, and say honestly which wins.

The orchestration only; each concept has its own module:

* :mod:`~imbalance.experiment.data` turns what the user passes into one :class:`ComparisonData`;
* :mod:`~imbalance.experiment.protocol` (:class:`Protocol`) cuts paired evaluation units and decides where each
  unit's threshold is chosen (a validation split, or out-of-fold scores when the minority is small);
* :mod:`~imbalance.experiment.training` trains one strategy's model (:func:`train_strategy`, :func:`build_mlp`);
* :mod:`~imbalance.experiment.scoring` tunes the threshold on training rows and measures the test rows: the
  objective at the tuned threshold (for a constraint: the recall or precision reached, and whether the constraint
  held), PR-AUC, balanced accuracy, per-class precision / recall, and the same at the untuned decision;
* :mod:`~imbalance.experiment.candidates`: each strategy with its tuned threshold (``"oversample"``) and, for
  F-beta and cost objectives, the same models decided at 0.5 / argmax (``"oversample@0.5"``);
* :mod:`~imbalance.experiment.verdict`: a winner only beyond the noise; for binary data and F1 a tie is broken by
  the order measured on the development suite, otherwise by cost;
* :mod:`~imbalance.experiment.records`: **results are never lost**: each finished run is appended to
  ``runs.jsonl`` in ``out_dir`` (rewritten to a temporary file and moved into place, so it is never half-written);
  running the same command again skips the runs already there, so an interrupted comparison resumes where it
  stopped;
* :mod:`~imbalance.experiment.results` (:class:`Results`) holds it all and saves the report and the served model.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from imbalance._files import atomic_write_text
from imbalance._validation import check_integer
from imbalance.experiment.candidates import describe_rule, split_candidate
from imbalance.experiment.config import ComparisonConfig
from imbalance.experiment.data import ComparisonData, prepare_data
from imbalance.experiment.progress import Progress
from imbalance.experiment.protocol import Protocol, Unit, out_of_fold, strata, target_count, unit_features
from imbalance.experiment.records import RUNS_FILE, RunRecord, RunStore
from imbalance.experiment.results import Results
from imbalance.experiment.scoring import diagnosis, evaluate, tune
from imbalance.experiment.serving import served_model
from imbalance.experiment.training import build_mlp, default_batch_size, predict_scores, train_model, train_strategy
from imbalance.thresholds import Objective, parse_objective

__all__ = ["ComparisonData", "Protocol", "Results", "RUNS_FILE", "compare", "prepare_data", "build_mlp",
           "describe_rule", "out_of_fold", "split_candidate", "train_strategy"]


def compare(
    data: Any,
    target: Any = None,
    strategies: str | Sequence[str] | None = None,
    objective: str = "f1",
    class_id: int | None = None,
    model: str | Callable[..., Any] = "mlp",
    epochs: int = 30,
    seeds: int = 3,
    batch_size: int | None = None,
    learning_rate: float = 3e-3,
    test_size: float | None = None,
    val_size: float | None = None,
    folds: int | None = None,
    inner_folds: int | None = None,
    min_positives: int | None = None,
    confidence: float | None | str = "auto",
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    on_run: Callable[[RunRecord], None] | None = None,
    protocol: Protocol | None = None,
) -> Results:
    """Train the same model under each strategy on the same paired splits; return :class:`Results`.

    Args:
        data: see :func:`prepare_data`; ``target`` names the label column(s) of a table file.
        strategies: names (list or comma-separated) from :mod:`imbalance.experiment.strategies`; ``None`` runs
            every strategy that applies to the task.
        objective: the user's goal in :mod:`imbalance.thresholds` syntax (``"f1"``, ``"recall@precision>=0.9"``,
            ``"cost:fp=1,fn=10"``, …). Multi-class data needs ``class_id`` (the class that matters) for a
            threshold; without it the score is the macro average over classes at argmax.
        model: ``"mlp"`` (default, a small CNN for image-shaped inputs) or ``model_fn(input_shape, outputs, seed)``
            returning an uncompiled Keras model with logits as output.
        epochs, seeds, batch_size, learning_rate: training budget (``batch_size`` defaults to 64 below 5,000 rows
            and 256 above).
        protocol: a :class:`Protocol` (its defaults: ``Protocol()``); ``test_size``, ``val_size``, ``folds``,
            ``inner_folds`` and ``min_positives``, when given, replace its fields (see
            :mod:`imbalance.experiment.protocol`).
        confidence: passed to the threshold tuner for constraint objectives (``"auto"``: its default).
        out_dir: where ``runs.jsonl`` is kept (and resumed from); ``Results.save`` writes the report there.
        progress: show a rich progress bar over runs and epochs.
        on_run: called with each finished run's record (after it is written).
    """
    import keras

    from imbalance.experiment.strategies import resolve

    d = prepare_data(data, target)
    goal = parse_objective(objective)
    _check_class_id(d, goal, objective, class_id)
    names = resolve(strategies, d.task)
    check_integer("epochs", epochs, 1)
    check_integer("seeds", seeds, 1)
    given = {"test_size": test_size, "val_size": val_size, "folds": folds, "inner_folds": inner_folds,
             "min_positives": min_positives}
    base = protocol or Protocol()
    for name in ("folds", "inner_folds", "min_positives"):
        if given[name] is not None:
            given[name] = check_integer(name, given[name], 2 if "folds" in name else 0)
    proto = Protocol(**{**{k: getattr(base, k) for k in given}, **{k: v for k, v in given.items() if v is not None}})
    config = ComparisonConfig(
        data=d.name, fingerprint=d.fingerprint(), task=d.task, objective=objective, class_id=class_id,
        model=model if isinstance(model, str) else getattr(model, "__name__", "model_fn"), epochs=int(epochs),
        seeds=int(seeds), batch_size=default_batch_size(batch_size, len(d.y)), learning_rate=float(learning_rate),
        protocol=proto, confidence=confidence, strategies=tuple(names),
    )

    out = Path(out_dir) if out_dir is not None else None
    store = RunStore(out / RUNS_FILE) if out is not None else None
    previous = store.read() if store is not None else []
    kept = [r for r in previous if r.config_id == config.config_id]
    others = [r for r in previous if r.config_id != config.config_id]
    done = {(r.strategy, r.seed, r.fold) for r in kept}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.json", json.dumps(config.to_dict(), indent=2, default=str) + "\n")

    units = proto.units(d, class_id, config.seeds)
    todo = [(s, u) for u in units for s in names if (s, u.seed, u.fold) not in done]
    runs = list(kept)
    models: dict[str, Any] = {}
    bar = Progress(progress, total=len(units) * len(names), completed=len(units) * len(names) - len(todo))
    with bar:
        for strategy, unit in todo:
            bar.start_run(f"{strategy} · seed {unit.seed} · fold {unit.fold}", config.epochs)
            record, served = run_unit(d, goal, config, strategy, unit, model, [bar.epoch_callback()], out)
            runs.append(record)
            if store is not None:
                store.write(others + runs)
            if served is not None:
                models[strategy] = served
            if on_run is not None:
                on_run(record)
            bar.finish_run()
            keras.backend.clear_session(free_memory=False)
    order = {(s, u.seed, u.fold): i for i, (u, s) in enumerate((u, s) for u in units for s in names)}
    runs.sort(key=lambda r: order.get((r.strategy, r.seed, r.fold), 1 << 30))
    return Results(runs=runs, config=config, data=d, objective=goal, models=models, out_dir=out)


def _check_class_id(d: ComparisonData, goal: Objective, objective: str, class_id: int | None) -> None:
    if d.task == "multiclass":
        if class_id is not None and not 0 <= int(class_id) < d.num_classes:
            raise ValueError(f"`class_id` must be in [0, {d.num_classes - 1}]. Received: class_id={class_id}")
        if class_id is None and goal.kind != "fbeta":
            raise ValueError(
                f"Objective {objective!r} constrains one class: pass class_id (the class that matters, 0..."
                f"{d.num_classes - 1}); without class_id only f1/fbeta objectives (macro average) apply."
            )
    elif class_id is not None:
        raise ValueError(f"`class_id` applies to multi-class data only; this data is {d.task}.")


def run_unit(d: ComparisonData, goal: Objective, config: ComparisonConfig, strategy: str, unit: Unit,
             model: Any = "mlp", callbacks: Sequence[Any] = (), out: Path | None = None) -> tuple[RunRecord, Any]:
    """Train one strategy on one unit, tune the threshold inside the unit's training rows, score its test rows.

    Returns the run's record and, for the first unit (seed 0, fold 0), the served model (else ``None``), which is
    also saved under ``out/models`` with its threshold under ``out/thresholds`` when ``out`` is given.
    """
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    proto = config.protocol
    x_train, x_test = unit_features(d, unit)
    y_train, y_test = d.y[unit.train], d.y[unit.test]
    key = strata(d)[unit.train]
    seed = unit.train_seed
    inner = proto.inner(target_count(d, y_train, config.class_id))
    if inner == "validation":
        fit_idx, val_idx = train_test_split(np.arange(len(y_train)), test_size=proto.val_size, random_state=seed,
                                            stratify=key)
        m, seen = train_model(d, strategy, x_train[fit_idx], y_train[fit_idx], config.budget, model, seed, callbacks)
        fitted = [m]
        val_scores, val_y = predict_scores(d, m, x_train[val_idx]), y_train[val_idx]
        test_scores = predict_scores(d, m, x_test)
    else:
        fitted, val_scores, test_scores, seen = out_of_fold(d, strategy, x_train, y_train, x_test, key,
                                                            config.budget, proto.inner_folds, model, seed, callbacks)
        val_y = y_train
    rule, threshold_note = tune(d, config.objective, config.class_id, config.confidence, val_y, val_scores)
    record = RunRecord(
        config_id=config.config_id, strategy=strategy, seed=unit.seed, fold=unit.fold, outer=unit.outer,
        inner=inner, train_rows=int(len(y_train)), test_rows=int(len(y_test)), threshold_note=threshold_note,
        seconds=round(time.perf_counter() - started, 3), train_counts=d.count(y_train).tolist(),
        seen_counts=None if seen is None else [float(v) for v in np.asarray(seen)],
        **evaluate(d, goal, config.class_id, rule, y_test, test_scores),
    )
    record.diagnosis = diagnosis(d, y_test, test_scores)
    served = None
    if unit.seed == 0 and unit.fold == 0:
        served = served_model(d, fitted, rule)
        if out is not None:
            (out / "models").mkdir(parents=True, exist_ok=True)
            served.save(out / "models" / f"{strategy}.keras")
            if rule is not None:
                (out / "thresholds").mkdir(parents=True, exist_ok=True)
                rule.save(out / "thresholds" / f"{strategy}.json")
    return record, served
