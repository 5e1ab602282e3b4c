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
* :mod:`~imbalance.experiment.task` runs one strategy on one unit (:func:`run_unit`), and
  :mod:`~imbalance.experiment.execution` runs the tasks in this process, in worker processes (``workers``) or as
  Ray tasks (``ray``), yielding each outcome as it finishes;
* :mod:`~imbalance.experiment.records`: **results are never lost**: each finished run is added to
  ``runs.jsonl`` in ``out_dir`` (rewritten to a temporary file and moved into place, so it is never half-written;
  under a lock and merged with what is there, so two comparisons sharing the folder keep both sets of runs);
  running the same command again skips the runs already there, so an interrupted comparison resumes where it
  stopped;
* :mod:`~imbalance.experiment.refit`: after the runs, the recommended strategy trained on every row, its threshold
  tuned on every unit's out-of-sample scores (``serve="refit"``, the default for data of up to a million rows);
* :mod:`~imbalance.experiment.results` (:class:`Results`) holds it all and saves the report and the served model.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from imbalance._files import atomic_write_bytes, atomic_write_text
from imbalance._validation import check_integer
from imbalance.experiment.candidates import Candidate, describe_rule, split_candidate
from imbalance.experiment.config import ComparisonConfig
from imbalance.experiment.data import ComparisonData, prepare_data
from imbalance.experiment.execution import Serial, check_engine_args, make_engine
from imbalance.experiment.progress import Progress
from imbalance.experiment.protocol import Protocol, check_confidence, out_of_fold
from imbalance.experiment.records import RUNS_FILE, RunRecord, RunStore, ScoreStore
from imbalance.experiment.refit import Served, check_serve, refit, resolve_serve
from imbalance.experiment.results import Results
from imbalance.experiment.serving import model_file_ok, save_model_atomically
from imbalance.experiment.task import RunJob, RunOutcome, RunTask, run_unit
from imbalance.data.sources import row_values
from imbalance.experiment.training import build_mlp, default_batch_size, train_strategy
from imbalance.thresholds import Objective, parse_objective

__all__ = ["ComparisonData", "Protocol", "Results", "RUNS_FILE", "compare", "prepare_data", "build_mlp",
           "describe_rule", "out_of_fold", "run_unit", "split_candidate", "train_strategy"]


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
    workers: int | str | None = "auto",
    ray: str | None = None,
    callbacks: Sequence[Any] | Callable[[], Sequence[Any]] = (),
    early_stopping: int | None = None,
    augment: str | Sequence[str] | None = None,
    augment_classes: int | str | Sequence[int | str] | None = None,
    output: str | None = None,
    serve: str = "auto",
) -> Results:
    """Train the same model under each strategy on the same paired splits; return :class:`Results`.

    Args:
        data: see :func:`prepare_data`; ``target`` names the label column(s) of a table file.
        strategies: names (list or comma-separated) from :mod:`imbalance.experiment.strategies`; ``None`` runs
            every strategy that applies to the task.
        objective: the user's goal in :mod:`imbalance.thresholds` syntax (``"f1"``, ``"recall@precision>=0.9"``,
            ``"cost:fp=1,fn=10"``, …). Multi-class data needs ``class_id`` (the class that matters) for a
            threshold; without it the score is the macro average over classes at argmax.
        model: ``"mlp"`` (default, a small CNN for image-shaped inputs, rescaled from ``[0, 255]`` for image files)
            or ``model_fn(input_shape, outputs, seed)`` returning a Keras model with logits as output (``outputs``
            units, no activation). A model the factory **compiled** keeps its optimizer, metrics and settings; only
            the loss is set by the strategy. An uncompiled one is compiled with Adam(``learning_rate``).
        epochs, seeds, batch_size, learning_rate: training budget (``batch_size`` defaults to 64 below 5,000 rows
            and 256 above; 64 for rows of more than 4,096 values, such as images).
        protocol: a :class:`Protocol` (its defaults: ``Protocol()``); ``test_size``, ``val_size``, ``folds``,
            ``inner_folds`` and ``min_positives``, when given, replace its fields (see
            :mod:`imbalance.experiment.protocol`).
        confidence: passed to the threshold tuner for constraint objectives (``"auto"``: its default).
        out_dir: where ``runs.jsonl`` is kept (and resumed from); ``Results.save`` writes the report there.
        progress: show a rich progress bar over runs and epochs.
        on_run: called with each finished run's record (after it is written).
        workers: runs at once on this machine, each in its own process pinned to one CPU thread (or one GPU):
            ``"auto"`` (default) is one per usable core (one per GPU when GPUs are visible), capped by memory, by
            the runs to do and by the ``IMBALANCE_WORKERS`` environment variable; ``1`` runs everything in this
            process. The results are the same for any number of workers.
        ray: ``"local"`` (start a Ray instance here), ``"auto"`` (the running cluster) or a Ray address: every run
            becomes a Ray task (``pip install 'imbalance[ray]'``); ``workers`` then caps a local instance's CPUs.

        callbacks: Keras callbacks added to every run's ``fit`` (or a function returning a fresh list per run, for
            callbacks that keep state such as ``ModelCheckpoint``).
        early_stopping: patience in epochs: each run stops after that many epochs without a lower loss on the rows
            its threshold is tuned on (the validation split or the inner fold) and restores its best weights.
        augment: Keras preprocessing layers by name (``"flip,brightness,contrast"``; see
            :data:`imbalance.experiment.feeding.AUGMENTATIONS`) applied inside the pipeline to the rows of
            ``augment_classes`` (ids or class names) only, in every strategy named ``"<strategy>+augment"``; when no
            strategy carries the suffix, ``"baseline+augment"`` is added (augmentation alone).

        output: for a model with several heads, the one whose imbalance the comparison is about: ``data`` is
            ``(x, {head: labels})`` (``x`` may be a dict of named inputs), the strategy sets that head's loss
            (and weights, samples by its labels), the other heads keep the losses the factory compiled, and the
            thresholds and the served model decide on that head.
        serve: what ``best.keras`` serves (:mod:`imbalance.experiment.refit`). ``"refit"``: the recommended strategy
            is trained once more on every row (when first needed: by ``Results.save`` or ``Results.served``), and its threshold is tuned on the out-of-sample
            scores of every unit (each row a unit's model did not train on — its test rows and the rows its
            threshold was tuned on — once); ``Results.served`` says how. ``"first_unit"``: the first unit's model
            (trained on that unit's training rows) and the threshold tuned inside that unit. ``"auto"`` (default):
            ``"refit"``, except for a feature source of more than a million rows (``"first_unit"``: a unit has seen
            most of what a refit would, and a refit would read the whole source again).

    ``data`` may be a feature source (:mod:`imbalance.data.sources`: an image folder, a table of image paths, a
    table streamed from disk, your own ``tf.data`` pipeline): splits, folds, weights and samplers then work on the
    labels and row indices, and each batch reads only its rows.

    A run that raises is recorded as failed (``Results.failed``, with its error) and the comparison goes on; a
    worker process that dies is replaced and its run redone once.
    """
    from imbalance.experiment.strategies import AUGMENT_SUFFIX, get_strategy, resolve

    from imbalance.experiment.feeding import check_augment

    d = prepare_data(data, target, output)
    check_confidence(confidence)
    goal = parse_objective(objective)
    class_id = class_index(d, class_id)
    d, class_id = _positive_class(d, class_id)
    _check_class_id(d, goal, objective, class_id)
    augment_names = check_augment(augment)
    chosen = _augment_classes(d, augment_names, augment_classes)
    if augment_names and strategies is None:
        strategies = resolve(None, d.task, streamed=d.streamed)
    if augment_names and isinstance(strategies, str):
        strategies = [n.strip() for n in strategies.split(",") if n.strip()]
    if augment_names and not any(str(n).endswith(AUGMENT_SUFFIX) for n in strategies):
        strategies = [*strategies, "baseline" + AUGMENT_SUFFIX]
    names = resolve(strategies, d.task, streamed=d.streamed)
    if d.streamed:
        _require_tf_data(d)
    _check_heads_model(d, model)
    if early_stopping is not None:
        early_stopping = check_integer("early_stopping", early_stopping, 1)
    check_integer("epochs", epochs, 1)
    check_integer("seeds", seeds, 1)
    check_engine_args(workers, ray)
    serve = resolve_serve(check_serve(serve), d)
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
        seeds=int(seeds), batch_size=default_batch_size(batch_size, len(d.y), row_values(d.x)),
        learning_rate=float(learning_rate),
        protocol=proto, confidence=confidence, strategies=tuple(names), early_stopping=early_stopping,
        augment=augment_names, augment_classes=chosen, output=d.output,
    )

    units = proto.units(d, class_id, config.seeds)  # labels only; refuses data it cannot evaluate, before any write
    out = Path(out_dir) if out_dir is not None else None
    store = RunStore(out / RUNS_FILE) if out is not None else None
    previous = store.read() if store is not None else []
    kept = [r for r in previous if r.config_id == config.config_id and r.error is None]
    done = {(r.strategy, r.seed, r.fold) for r in kept}
    for name in names:  # a finished first unit whose served model is not a whole file is trained again
        path = out / "models" / f"{name}.keras" if out is not None else None
        if path is not None and (name, 0, 0) in done and not model_file_ok(path):
            warnings.warn(f"{path} is missing or not a whole model file (a save killed mid-way?): the run {name} · "
                          "seed 0 · fold 0 is trained again to rebuild it.", stacklevel=2)
            done.discard((name, 0, 0))
            kept = [r for r in kept if (r.strategy, r.seed, r.fold) != (name, 0, 0)]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.json", json.dumps(config.to_dict(), indent=2, default=str) + "\n")

    order = {(s, u.seed, u.fold): i for i, (u, s) in enumerate((u, s) for u in units for s in names)}
    todo = [RunTask(s, u) for u in units for s in names if (s, u.seed, u.fold) not in done]
    runs, failed = list(kept), []
    models: dict[str, Any] = {}
    scores = ScoreStore(out, config.config_id)
    job = RunJob(d, goal, config, model, {s: get_strategy(s) for s in names}, callbacks,
                 keep_scores=serve == "refit")
    bar = Progress(progress, total=len(order), completed=len(order) - len(todo))
    engine = make_engine(job, workers, ray, len(todo), progress=bar)
    bar.workers = engine.workers if isinstance(engine, Serial) else max(2, engine.workers or 2)
    with bar, engine:
        if todo:
            bar.note(f"{len(todo)} runs on {engine.describe()}")
        for outcome in engine.run(todo):
            record = outcome.record
            (failed if outcome.failed else runs).append(record)
            if outcome.scores is not None and not outcome.failed:
                scores.put(record.strategy, record.seed, record.fold, outcome.scores)
            outcome.scores = None
            if outcome.task.serves and not outcome.failed:
                served = _keep_served(outcome, out)
                if served is not None:
                    models[record.strategy] = served
            if store is not None:  # merged with what another compare on this folder wrote meanwhile
                store.merge(sorted(runs + failed, key=lambda r: order.get((r.strategy, r.seed, r.fold), 1 << 30)))
            if on_run is not None:
                on_run(record)
            bar.finish_run(str(outcome.task), failed=outcome.failed)
    runs.sort(key=lambda r: order.get((r.strategy, r.seed, r.fold), 1 << 30))
    failed.sort(key=lambda r: order.get((r.strategy, r.seed, r.fold), 1 << 30))
    results = Results(runs=runs, config=config, data=d, objective=goal, models=models, out_dir=out, failed=failed)
    if serve == "refit" and runs:  # trained when first needed: by save(), or results.served
        results.defer_refit(functools.partial(_refit, units=units, scores=scores, model=model, callbacks=callbacks,
                                              progress=progress))
    return results


def _refit(results: Results, units: Sequence[Any], scores: ScoreStore, model: Any, callbacks: Any,
           progress: bool) -> Served:
    """The recommended candidate refitted on every row (:func:`imbalance.experiment.refit.refit`), in this process,
    with an epoch bar; its datasets released when it ends."""
    import keras

    from imbalance.data.sources import feed_scope
    from imbalance.experiment.refit import refit_epochs
    from imbalance.experiment.task import _run_callbacks

    best = Candidate.parse(results.best)
    d, config = results.data, results.config
    with Progress(progress, total=1, completed=0) as bar:
        bar.start_refit(f"served model: {best} refitted on all {len(d.y):,} rows",
                        refit_epochs(config, results.runs, best.strategy))
        own = [bar.epoch_callback()] if bar.enabled else []
        with feed_scope():
            served = refit(d, config, best, units, results.runs, scores, model, _run_callbacks(callbacks, own),
                           fixed_rule=None if best.tuned else results.fixed_rule(best))
        bar.finish_run()
    keras.backend.clear_session(free_memory=False)
    return served


def _keep_served(outcome: RunOutcome, out: Path | None) -> Any:
    """The first unit's served model and its rule, written under ``out/models`` and ``out/thresholds`` (atomically);
    returned as a Keras model when it is in memory or there is no ``out`` to read it from later (else ``None``)."""
    strategy = outcome.task.strategy
    model_path = out / "models" / f"{strategy}.keras" if out is not None else None
    rule_path = out / "thresholds" / f"{strategy}.json" if out is not None else None
    if outcome.model_bytes is None:  # trained in this process
        if model_path is not None:
            model_path.parent.mkdir(parents=True, exist_ok=True)
            save_model_atomically(outcome.served, model_path)
            if outcome.rule is not None:
                rule_path.parent.mkdir(parents=True, exist_ok=True)
                outcome.rule.save(rule_path)
        return outcome.served
    import keras

    if model_path is not None:
        atomic_write_bytes(model_path, outcome.model_bytes)
        if outcome.rule_json is not None:
            atomic_write_text(rule_path, outcome.rule_json)
        return None
    with tempfile.TemporaryDirectory(prefix="imbalance-served-") as tmp:
        path = Path(tmp) / f"{strategy}.keras"
        path.write_bytes(outcome.model_bytes)
        return keras.models.load_model(path)


def _require_tf_data(d: ComparisonData) -> None:
    """Features read per batch (a source, several named inputs or heads) go through ``tf.data``: say so in one
    line, before anything runs, when TensorFlow is missing."""
    from imbalance.experiment.strategies import _has_tensorflow

    if not _has_tensorflow():
        raise ModuleNotFoundError(
            f"compare reads the features of {d.name!r} ({getattr(d.x, 'kind', 'source')}) per batch through "
            "tf.data, which needs TensorFlow: pip install 'imbalance[tensorflow]' (it works beside the JAX and "
            "PyTorch backends).", name="tensorflow")


def _check_heads_model(d: ComparisonData, model: Any) -> None:
    """For several inputs or heads, build the factory's model once before anything is trained or written: the
    default MLP does not apply, the compared head must exist, the other heads need the factory's losses."""
    import keras

    from imbalance.data.sources import Rows
    from imbalance.experiment.training import _built, _compile

    if not d.streamed or (d.output is None and not isinstance(getattr(d.x, "input_shape", None), dict)):
        return
    net = _built(d, model, Rows(d.x, np.arange(1)).input_shape, 0)
    _compile(net, keras.losses.BinaryCrossentropy(from_logits=True), 1e-3, d.output)
    del net
    keras.backend.clear_session(free_memory=False)


def class_index(d: ComparisonData, class_id: int | str | None) -> int | None:
    """``class_id`` as an id: an int (or a digit string) as it is, a class name looked up in ``d.class_names``
    (an image folder's subfolder, a table's label value); an unknown name lists the classes.

    >>> from imbalance.experiment.data import from_source
    >>> from imbalance.data.sources import ArraySource
    >>> d = from_source(ArraySource([[0.0]] * 3, ["cat", "dog", "eel"]))
    >>> class_index(d, "eel"), class_index(d, 1), class_index(d, None)
    (2, 1, None)
    >>> class_index(d, "fox")
    Traceback (most recent call last):
    ...
    ValueError: Class 'fox' is not one of the data's classes: 0 'cat', 1 'dog', 2 'eel'.
    """
    if class_id is None or isinstance(class_id, (bool, int)) or hasattr(class_id, "__index__"):
        return class_id if class_id is None else int(class_id)
    name = str(class_id)
    if name in d.class_names:
        return d.class_names.index(name)
    if name.lstrip("-").isdigit():
        return int(name)
    listed = ", ".join(f"{k} {c!r}" for k, c in enumerate(d.class_names))
    raise ValueError(f"Class {name!r} is not one of the data's classes: {listed}.")


def _positive_class(d: ComparisonData, class_id: int | None) -> tuple[ComparisonData, int | None]:
    """Binary data with ``class_id``: that class becomes the positive one (its labels 1, listed second), so
    ``--class-id benign`` on a two-folder image set is about the folder it names."""
    import dataclasses

    if d.task != "binary" or class_id is None:
        return d, class_id
    if class_id not in (0, 1):
        raise ValueError(f"`class_id` of binary data must be 0 or 1 (or a class name: {d.class_names[0]!r}, "
                         f"{d.class_names[1]!r}). Received: class_id={class_id}")
    if class_id == 1:
        return d, None
    return dataclasses.replace(d, y=1 - d.y, class_names=d.class_names[::-1]), None


def _augment_classes(d: ComparisonData, augment: tuple[str, ...], classes: Any) -> tuple[int, ...]:
    if not augment:
        if classes not in (None, (), []):
            raise ValueError("`augment_classes` needs `augment` (which augmentations to apply to those classes).")
        return ()
    if d.task == "multilabel":
        raise ValueError("Class-conditional augmentation applies to binary and multi-class data, not multi-label.")
    if classes is None:
        raise ValueError("`augment` needs `augment_classes`: the classes whose rows are augmented (e.g. [0], or "
                         "the rare class's name).")
    if isinstance(classes, (str, int)):
        classes = [c.strip() for c in classes.split(",")] if isinstance(classes, str) else [classes]
    ids = tuple(sorted({int(class_index(d, c)) for c in classes}))
    bad = [c for c in ids if not 0 <= c < d.num_classes]
    if bad:
        raise ValueError(f"`augment_classes` must be classes of the data (0..{d.num_classes - 1}). Received: {bad}")
    return ids


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
