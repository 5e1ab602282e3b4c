"""The served model when it is refitted: the recommended strategy trained once more on **every row** ``compare``
had, its threshold tuned on the **out-of-sample scores of every unit** (the test scores the units already measured).

Why: a unit's model trains on part of the rows (75 % of a hold-out split's training rows, or an inner fold), and its
threshold is tuned on the few positives of one validation split or one unit's training rows; the units together
have scored every row (cross-validated units) or most (hold-out units: test and validation rows, over several
seeds) on models that never saw them. Pooled, those scores hold every positive the units scored out of sample, so a
confidence bound on precision is reachable more often, and the served model learns from all the rows.

* :func:`pooled_scores`: for each row some unit scored out of sample (a test row, or a row its threshold was tuned
  on), its score from the first such unit (seed, then fold): each row once (a bound counts each positive once);
* :func:`refit`: the model, its rule, and :class:`Served`, what ``best.keras`` serves and how it was made.

With early stopping (``compare(early_stopping=…)``) the refit has no rows to watch: it trains for the median epoch
at which the units' runs of the strategy kept their weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from imbalance.experiment.candidates import Candidate
from imbalance.experiment.config import ComparisonConfig
from imbalance.experiment.data import ComparisonData
from imbalance.experiment.protocol import Unit, all_features, lean_split, target_count
from imbalance.experiment.records import OutOfSample, RunRecord, ScoreStore  # noqa: F401 (OutOfSample: doctests)
from imbalance.experiment.scoring import tune
from imbalance.experiment.serving import served_model
from imbalance.experiment.training import train_model

__all__ = ["SERVE_MODES", "Served", "check_serve", "pooled_scores", "refit", "resolve_serve"]

#: ``compare(serve=…)``: ``"refit"`` (a model trained on every row, its threshold from every unit's out-of-sample
#: scores), ``"first_unit"`` (the first unit's model and threshold, as trained and tuned inside that unit) or
#: ``"auto"`` (:func:`resolve_serve`).
SERVE_MODES: tuple[str, ...] = ("auto", "refit", "first_unit")

#: The seed of the refitted model's initialisation and sampling.
REFIT_SEED = 0


def check_serve(serve: Any) -> str:
    """``serve`` when it is one of :data:`SERVE_MODES` (``"first-unit"`` is read as ``"first_unit"``).

    >>> check_serve("refit"), check_serve("first-unit")
    ('refit', 'first_unit')
    >>> check_serve("all")
    Traceback (most recent call last):
    ...
    ValueError: `serve` must be one of 'auto', 'refit', 'first_unit'. Received: serve='all'
    """
    value = serve.replace("-", "_") if isinstance(serve, str) else serve
    if value not in SERVE_MODES:
        raise ValueError(f"`serve` must be one of {', '.join(map(repr, SERVE_MODES))}. Received: serve={serve!r}")
    return value


def resolve_serve(serve: str, d: ComparisonData) -> str:
    """``"auto"`` as ``"refit"``, except for a feature source of more than a million rows (split in flat memory:
    :func:`~imbalance.experiment.protocol.lean_split`), which serves ``"first_unit"``: there a unit's model has
    already trained on hundreds of thousands of rows and its validation split holds thousands of rows of each class,
    while a refit would read the whole source once more per epoch and hold a score for every row. Other values pass.

    >>> from imbalance.experiment.data import prepare_data
    >>> resolve_serve("auto", prepare_data("fraud")), resolve_serve("first_unit", prepare_data("fraud"))
    ('refit', 'first_unit')
    """
    if serve != "auto":
        return serve
    return "first_unit" if lean_split(d) else "refit"


@dataclass
class Served:
    """The model ``best.keras`` serves and how it was made.

    ``model``: the served Keras model (``scores`` and, with a rule that has a layer, ``decisions``); ``rule``: its
    decision rule (a fitted :class:`~imbalance.thresholds.ThresholdTuner`, a
    :class:`~imbalance.thresholds.FixedThreshold`, or ``None`` for argmax); ``how``: ``"refit"``; ``rows``: the
    rows it trained on; ``epochs``; ``tuned_rows`` / ``tuned_positives`` / ``units``: the pooled out-of-sample
    scores its threshold was tuned on (rows, rows of the class that matters, units they came from; 0 for an untuned
    rule); ``note``: the tuner's note (why it fell back, when it did).
    """

    candidate: Candidate
    model: Any
    rule: Any
    how: str
    rows: int
    epochs: int
    tuned_rows: int = 0
    tuned_positives: int = 0
    units: int = 0
    note: str = ""

    def describe(self) -> dict[str, Any]:
        """The JSON form written into ``thresholds.json`` under ``"served"``."""
        return {"candidate": str(self.candidate), "model": self.how, "trained_rows": self.rows,
                "epochs": self.epochs, "threshold_tuned_on": {"rows": self.tuned_rows,
                                                              "positives": self.tuned_positives,
                                                              "units": self.units} if self.candidate.tuned else None,
                "note": self.note}

    def sentence(self) -> str:
        """One line for the console and the report."""
        text = f"best.keras: {self.candidate} refitted on all {self.rows:,} rows ({self.epochs} epochs)"
        if self.candidate.tuned and self.tuned_rows:
            text += (f", threshold tuned on the out-of-sample scores of {self.units} unit"
                     f"{'s' if self.units != 1 else ''} ({self.tuned_rows:,} rows, {self.tuned_positives:,} of the "
                     "class that matters)")
        return text + (f"; {self.note.rstrip('.')}" if self.note else "") + "."


def pooled_scores(n_rows: int, units: Sequence[Unit], strategy: str, store: ScoreStore
                  ) -> tuple[np.ndarray, np.ndarray | None, int]:
    """``(rows, scores, units used)``: every row some unit scored out of sample (its test rows, and the rows its
    threshold was tuned on), with its score from the first unit (in the order given, test rows before tuning rows)
    whose scores are in ``store``; ``scores`` is ``None`` when no unit's scores are there.

    >>> store = ScoreStore(None, "x")
    >>> a = Unit(0, 0, train=np.array([2, 3, 4]), test=np.array([0, 1]), outer="cv")
    >>> b = Unit(0, 1, train=np.array([0, 1]), test=np.array([2, 3, 4]), outer="cv")
    >>> store.put("s", 0, 0, OutOfSample(np.array([[.1], [.2]]), np.array([4]), np.array([[.5]])))
    >>> store.put("s", 0, 1, OutOfSample(np.array([[.3], [.4], [.6]]), np.array([0]), np.array([[.9]])))
    >>> rows, scores, used = pooled_scores(5, [a, b], "s", store)
    >>> rows.tolist(), [round(float(v), 2) for v in scores[:, 0]], used
    ([0, 1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4, 0.5], 2)
    """
    filled = np.zeros(n_rows, bool)
    pooled: np.ndarray | None = None
    used = 0
    for unit in units:
        stored = store.get(strategy, unit.seed, unit.fold)
        if stored is None or len(stored.test) != len(unit.test) or len(stored.tuning) != len(stored.tuning_rows):
            continue
        took = False
        for rows, scores in ((unit.test, stored.test), (stored.tuning_rows, stored.tuning)):
            fresh = ~filled[rows]
            if not fresh.any():
                continue
            if pooled is None:
                pooled = np.zeros((n_rows, scores.shape[1]), np.float32)
            pooled[rows[fresh]] = scores[fresh]
            filled[rows[fresh]] = True
            took = True
        used += took
        if filled.all():
            break
    index = np.int32 if n_rows < 2**31 else np.int64
    if filled.all():  # every row (cross-validated units): no gathered copy of the scores
        return np.arange(n_rows, dtype=index), pooled, used
    rows = np.flatnonzero(filled).astype(index, copy=False)
    return rows, (pooled[rows] if pooled is not None else None), used


def refit_epochs(config: ComparisonConfig, runs: Sequence[RunRecord], strategy: str) -> int:
    """Epochs of the refit: the budget's, or with early stopping the median epoch the strategy's runs kept (at
    least 1).

    >>> from imbalance.experiment.protocol import Protocol
    >>> c = ComparisonConfig(data="t", fingerprint="f", task="binary", objective="f1", class_id=None, model="mlp",
    ...                      epochs=30, seeds=1, batch_size=64, learning_rate=3e-3, protocol=Protocol(),
    ...                      confidence="auto", strategies=("a",), early_stopping=3)
    >>> refit_epochs(c, [RunRecord("a", 0, k, best_epoch=e) for k, e in enumerate((4.0, 7.5, 9.0))], "a")
    8
    """
    if config.early_stopping is None:
        return config.epochs
    kept = [r.best_epoch for r in runs if r.strategy == strategy and r.best_epoch]
    return max(1, int(round(float(np.median(kept))))) if kept else config.epochs


def refit(d: ComparisonData, config: ComparisonConfig, candidate: Candidate, units: Sequence[Unit],
          runs: Sequence[RunRecord], store: ScoreStore, model: str | Callable[..., Any] = "mlp",
          callbacks: Sequence[Any] | Callable[[], Sequence[Any]] = (), fixed_rule: Any = None) -> Served:
    """Train ``candidate``'s strategy on every row of ``d`` and decide with its rule: a tuned candidate's threshold
    is tuned on :func:`pooled_scores` (when no unit's scores are available, there is nothing to tune on and a
    ValueError says so); an untuned one uses ``fixed_rule`` (its FixedThreshold, fitted to the outputs)."""
    strategy = candidate.strategy
    epochs = refit_epochs(config, runs, strategy)
    rule, note, rows_used, positives, used = fixed_rule, "", 0, 0, 0
    if candidate.tuned:
        rows, scores, used = pooled_scores(len(d.y), units, strategy, store)
        if scores is None:
            raise ValueError(f"No run of {strategy!r} has its test scores stored (runs written before scores were "
                             "kept?): there is nothing to tune the refitted model's threshold on. Run the comparison "
                             "in a new out_dir, or serve='first_unit'.")
        y = d.y[rows]
        rule, note = tune(d, config.objective, config.class_id, config.confidence, y, scores)
        rows_used, positives = int(len(rows)), int(target_count(d, y, config.class_id))
        del scores, y
    budget = dataclasses.replace(config.budget, epochs=epochs, patience=None)
    net, _ = train_model(d, strategy, all_features(d, REFIT_SEED), d.y, budget, model, REFIT_SEED, callbacks)
    return Served(candidate=candidate, model=served_model(d, [net], rule), rule=rule, how="refit", rows=len(d.y),
                  epochs=epochs, tuned_rows=rows_used, tuned_positives=positives, units=used, note=note)
