"""One run of ``compare`` as a unit of work: what it needs (:class:`RunJob`, :class:`RunTask`), doing it
(:func:`run_unit`, :func:`execute`) and what comes back (:class:`RunOutcome`).

A run is identified by its ``(strategy, seed, fold)`` and the comparison's ``config_id``; everything random inside
it is seeded from the unit, so the same task gives the same record whichever process runs it and in whatever
order. :func:`execute` never raises for an error of the run itself: a strategy that fails gives a record with
``error`` set, and the comparison goes on.

>>> from imbalance.experiment.data import prepare_data
>>> from imbalance.experiment.protocol import Protocol
>>> d = prepare_data("fraud")
>>> unit = Protocol().units(d, None, seeds=1)[0]
>>> RunTask("baseline", unit).key
('baseline', 0, 0)
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from imbalance.data.sources import feed_scope, in_order
from imbalance.experiment.config import ComparisonConfig
from imbalance.experiment.data import ComparisonData
from imbalance.experiment.protocol import Unit, lean_split, out_of_fold, strata, target_count, unit_features
from imbalance.experiment.records import OutOfSample, RunRecord
from imbalance.experiment.scoring import diagnosis, evaluate, tune
from imbalance.experiment.serving import served_model
from imbalance.experiment.training import predict_scores, train_model
from imbalance.splits import stratified_split
from imbalance.thresholds import Objective

__all__ = ["RunJob", "RunOutcome", "RunTask", "UnitResult", "execute", "failed_record", "run_unit"]


@dataclass(frozen=True)
class RunJob:
    """What every run of one comparison shares: the data, the objective, the settings, the model and the
    strategies by value (a worker process has none of the strategies its driver registered at run time)."""

    data: ComparisonData
    goal: Objective
    config: ComparisonConfig
    model: str | Callable[..., Any] = "mlp"
    strategies: dict[str, Any] = field(default_factory=dict)
    callbacks: Sequence[Any] | Callable[[], Sequence[Any]] = ()  # the user's, added to every run's fit
    keep_scores: bool = False  # each outcome carries the run's out-of-sample scores (a refitted served model's)

    def register_strategies(self) -> None:
        """Make the job's strategies known in this process (a no-op where they are registered already)."""
        from imbalance.experiment.strategies import STRATEGIES

        for name, strategy in self.strategies.items():
            STRATEGIES.setdefault(name, strategy)


@dataclass(frozen=True)
class RunTask:
    """One strategy on one evaluation unit; ``attempt`` counts the tries (a worker that died is retried)."""

    strategy: str
    unit: Unit
    attempt: int = 1

    @property
    def key(self) -> tuple[str, int, int]:
        return self.strategy, self.unit.seed, self.unit.fold

    @property
    def serves(self) -> bool:
        """The first unit (seed 0, fold 0) also gives the strategy's served model."""
        return self.unit.seed == 0 and self.unit.fold == 0

    def __str__(self) -> str:
        return f"{self.strategy} · seed {self.unit.seed} · fold {self.unit.fold}"


class UnitResult(NamedTuple):
    """What :func:`run_unit` returns: the run's record; for the first unit (seed 0, fold 0), its served model and
    decision rule (else ``None``); and its out-of-sample scores (:class:`OutOfSample`: the test rows' and the rows
    its threshold was tuned on), what a refitted served model's threshold is tuned on."""

    record: RunRecord
    served: Any
    rule: Any
    scores: OutOfSample


@dataclass
class RunOutcome:
    """A finished task: its record, its test scores and, for the first unit, the served model — in memory
    (``served``, when the run ran in this process) or as the bytes of its ``.keras`` file and its rule's JSON (from
    another process)."""

    task: RunTask
    record: RunRecord
    served: Any = None
    rule: Any = None
    model_bytes: bytes | None = None
    rule_json: str | None = None
    scores: OutOfSample | None = None  # the run's out-of-sample scores (test rows and tuning rows)

    @property
    def failed(self) -> bool:
        return self.record.error is not None


def run_unit(d: ComparisonData, goal: Objective, config: ComparisonConfig, strategy: str, unit: Unit,
             model: Any = "mlp", callbacks: Sequence[Any] = ()) -> UnitResult:
    """Train one strategy on one unit, tune the threshold inside the unit's training rows, score its test rows.

    Returns a :class:`UnitResult`: the run's record, its test scores and, for the first unit (seed 0, fold 0), the
    served model and its decision rule (else ``None, None``).
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
        if lean_split(d):  # millions of rows read per batch: a split in flat memory
            fit_idx, val_idx = stratified_split(key, proto.val_size, seed)
        else:
            positions = np.arange(len(y_train), dtype=np.int32 if d.streamed else np.int64)
            fit_idx, val_idx = train_test_split(positions, test_size=proto.val_size, random_state=seed,
                                                stratify=key)
        if d.streamed:  # a source's rows in file order (the same rows): a table is then read front to back
            fit_idx, val_idx = in_order(fit_idx), in_order(val_idx)
        fit_x, fit_y, val_x, val_y = x_train[fit_idx], y_train[fit_idx], x_train[val_idx], y_train[val_idx]
        tuning_rows = unit.train[val_idx]
        del fit_idx, val_idx, key  # the views hold what training needs (millions of streamed rows: tens of MB)
        m, seen = train_model(d, strategy, fit_x, fit_y, config.budget, model, seed, callbacks,
                              validation=(val_x, val_y))
        del fit_x, fit_y
        fitted = [m]
        val_scores = predict_scores(d, m, val_x)
        test_scores = predict_scores(d, m, x_test)
    else:
        fitted, val_scores, test_scores, seen = out_of_fold(d, strategy, x_train, y_train, x_test, key,
                                                            config.budget, proto.inner_folds, model, seed, callbacks)
        val_y = y_train
        tuning_rows = unit.train
    rule, threshold_note = tune(d, config.objective, config.class_id, config.confidence, val_y, val_scores)
    record = RunRecord(
        config_id=config.config_id, strategy=strategy, seed=unit.seed, fold=unit.fold, outer=unit.outer,
        inner=inner, train_rows=int(len(y_train)), test_rows=int(len(y_test)), threshold_note=threshold_note,
        seconds=round(time.perf_counter() - started, 3), train_counts=d.count(y_train).tolist(),
        seen_counts=None if seen is None else [float(v) for v in np.asarray(seen)],
        **evaluate(d, goal, config.class_id, rule, y_test, test_scores),
    )
    record.diagnosis = diagnosis(d, y_test, test_scores)
    if config.budget.patience is not None:  # where early stopping left each model: the epochs a refit trains
        record.best_epoch = float(np.mean([_best_epoch(m) for m in fitted]))
    scores = OutOfSample(test_scores, tuning_rows, val_scores)
    if unit.seed == 0 and unit.fold == 0:
        return UnitResult(record, served_model(d, fitted, rule), rule, scores)
    return UnitResult(record, None, None, scores)


def _best_epoch(model: Any) -> int:
    """The epoch (from 1) whose weights early stopping restored: the lowest validation loss of the model's fit."""
    history = getattr(getattr(model, "history", None), "history", None) or {}
    losses = history.get("val_loss") or []
    return int(np.argmin(losses)) + 1 if len(losses) else 0


def _run_callbacks(user: Any, own: Sequence[Any]) -> Callable[[], list[Any]]:
    """A function giving one run's callbacks: the user's (a fresh list when they passed a function) and ours."""
    def make() -> list[Any]:
        return [*(user() if callable(user) else user), *own]

    return make


def failed_record(config: ComparisonConfig, task: RunTask, error: str, seconds: float | None = None) -> RunRecord:
    """The record of a run that did not finish: its identity, its attempts and ``error`` (no scores)."""
    return RunRecord(config_id=config.config_id, strategy=task.strategy, seed=task.unit.seed, fold=task.unit.fold,
                     outer=task.unit.outer, seconds=seconds, error=error,
                     attempts=task.attempt if task.attempt > 1 else None)


def execute(job: RunJob, task: RunTask, callbacks: Sequence[Any] = (), portable: bool = False) -> RunOutcome:
    """Run one task; an exception of the run becomes a failed record (``error``: the exception and its last
    frames), not a crash of the comparison. ``portable=True`` (a worker process) returns the served model as the
    bytes of its ``.keras`` file instead of the Keras object."""
    import keras

    started = time.perf_counter()
    try:
        with feed_scope():  # the run's datasets read through feeds released here (TF keeps generators for good)
            result = run_unit(job.data, job.goal, job.config, task.strategy, task.unit, job.model,
                              _run_callbacks(job.callbacks, callbacks))
            record, served, rule = result.record, result.served, result.rule
            scores = result.scores if job.keep_scores else None
            del result  # without keep_scores the scores go now (millions of streamed rows: tens of MB)
    except Exception as error:  # noqa: BLE001 - reported in the record, the comparison goes on
        frames = traceback.format_exception(error)
        message = error_message(error)
        outcome = RunOutcome(task, failed_record(job.config, task, message, round(time.perf_counter() - started, 3)))
        outcome.record.extra["traceback"] = "".join(frames[-6:])
        return outcome
    finally:
        keras.backend.clear_session(free_memory=False)
    if task.attempt > 1:
        record = replace(record, attempts=task.attempt)
    if served is None or not portable:
        return RunOutcome(task, record, served, rule, scores=scores)
    with tempfile.TemporaryDirectory(prefix="imbalance-run-") as tmp:
        model_path = Path(tmp) / f"{task.strategy}.keras"
        served.save(model_path)
        rule_json = None
        if rule is not None:
            rule.save(Path(tmp) / "rule.json")
            rule_json = (Path(tmp) / "rule.json").read_text(encoding="utf-8")
        return RunOutcome(task, record, model_bytes=model_path.read_bytes(), rule_json=rule_json,
                          scores=scores)


#: An exception raised inside a ``tf.data`` pipeline (a source's reader) as TensorFlow reports it: its own line.
_WRAPPED = re.compile(r"(?:^|[}\s])([A-Z]\w*(?:Error|Exception)): (.+?)(?:\nTraceback|\n|$)", re.S)


def error_message(error: BaseException) -> str:
    r"""``"Type: message"`` of a run's exception; an error a source raised while ``tf.data`` read it (TensorFlow
    wraps it in an ``InvalidArgumentError`` with a traceback) is given as itself, e.g. ``"DataError: t.csv, line
    7: …"``, so the record names the file, line and column, not TensorFlow's function node.

    >>> error_message(ValueError("bad"))
    'ValueError: bad'
    >>> error_message(RuntimeError("{{function_node x}} DataError: t.csv, line 7: column 'a'\nTraceback (most"))
    "DataError: t.csv, line 7: column 'a'"
    """
    text = str(error)
    if type(error).__module__.startswith("tensorflow") or "{{function_node" in text:
        found = _WRAPPED.search(text)
        if found:
            return f"{found.group(1)}: {found.group(2).strip()}"
    return f"{type(error).__name__}: {error}".strip()


def worker_environment() -> dict[str, str]:
    """Environment variables that pin a worker to one CPU thread (TensorFlow, XLA/JAX, OpenMP/MKL) and keep its
    start-up quiet; set before its backend starts."""
    return {
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        "XLA_FLAGS": " ".join(filter(None, [os.environ.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false",
                                            "intra_op_parallelism_threads=1"])),
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    }


def pin_threads() -> None:
    """Pin this process's backend to one thread (each worker is one core's worth of work)."""
    for name, value in worker_environment().items():
        if name != "XLA_FLAGS" or "intra_op_parallelism_threads" not in os.environ.get(name, ""):
            os.environ[name] = value
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # the runtime has started already: the environment variables above did it
            pass
    elif backend == "torch":
        import torch

        torch.set_num_threads(1)
