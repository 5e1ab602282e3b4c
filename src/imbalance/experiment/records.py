"""The run record, the one shape of a finished run, and ``runs.jsonl``, the resumable store that keeps them.

A :class:`RunRecord` is written once (by the runner, from what it measured) and read by the verdict, the report and
the CLI. On disk it is one JSON object per line (``to_dict``); fields that a task does not have (``held`` for an
objective without a constraint, ``per_class`` for multi-label data, …) are left out rather than written as
``null``, and old files, with or without the untuned fields, still load and resume.

>>> r = RunRecord(strategy="baseline", seed=0, fold=0, objective=0.5)
>>> r["objective"], r.get("held"), "held" in r
(0.5, None, False)
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from imbalance._files import atomic_file, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from imbalance.thresholds import Objective

__all__ = ["RUNS_FILE", "SCORES_DIR", "OutOfSample", "RunRecord", "RunStore", "ScoreStore"]

RUNS_FILE = "runs.jsonl"
#: The folder beside ``runs.jsonl`` that keeps each run's test scores (:class:`ScoreStore`).
SCORES_DIR = "scores"


@dataclass
class RunRecord(Mapping):
    """One strategy trained and scored on one evaluation unit (seed × fold), or that run as a candidate record.

    Identity: ``strategy`` (``"s@0.5"`` for a candidate record at an untuned rule), ``seed``, ``fold``,
    ``config_id`` (the comparison's settings). Protocol: ``outer`` (``"holdout"`` | ``"cv"``), ``inner``
    (``"validation"`` | ``"cv"``), row counts, ``threshold`` and how it was chosen (``threshold_note``).
    Scores on test at the tuned decision: ``objective``, ``precision``, ``recall``, ``fbeta``, ``held`` (constraint
    objectives), ``pr_auc``, ``balanced_accuracy``, ``confusion``, ``per_class``, ``pr_curve``; the same at the
    untuned decision in the ``untuned_*`` fields. With early stopping, ``best_epoch`` is the epoch whose weights were
    restored (the mean over the unit's models). ``decision`` is set on candidate records only. A run that raised
    has ``error`` (and no scores); ``attempts`` counts the tries of a run whose worker died under it.

    Records read like the dicts they were before (``r["objective"]``, ``r.get("held")``); a field that is
    ``None`` and optional reads as absent.
    """

    strategy: str
    seed: int
    fold: int
    config_id: str | None = None
    outer: str | None = None
    inner: str | None = None
    train_rows: int | None = None
    test_rows: int | None = None
    threshold_note: str | None = None
    seconds: float | None = None
    train_counts: list[int] | None = None
    seen_counts: list[float] | None = None
    objective: float | None = None
    precision: float | None = None
    recall: float | None = None
    fbeta: float | None = None
    held: float | None = None
    pr_auc: float | None = None
    macro_pr_auc: float | None = None
    balanced_accuracy: float | None = None
    confusion: list[list[int]] | None = None
    pr_curve: dict[str, list[float]] | None = None
    threshold: list[float] | None = None
    positives_per_row: float | None = None
    per_class: dict[str, list[float]] | None = None
    test_target: dict[str, list[float]] | None = None
    untuned_objective: float | None = None
    untuned_precision: float | None = None
    untuned_recall: float | None = None
    untuned_confusion: list[list[int]] | None = None
    untuned_balanced_accuracy: float | None = None
    untuned_per_class: dict[str, list[float]] | None = None
    untuned_positives_per_row: float | None = None
    diagnosis: dict[str, Any] | None = None
    best_epoch: float | None = None  # with early stopping: the epoch whose weights were restored (mean of the models)
    decision: str | None = None
    error: str | None = None  # a run that raised: the exception; it has no scores and is retried on resume
    attempts: int | None = None  # tries it took when a worker died under it (absent: the first)
    extra: dict[str, Any] = field(default_factory=dict)  # keys of a newer file, kept for the round trip

    #: Fields written even when ``None`` (``seen_counts``: the strategy saw the data as it is); any other field
    #: that is ``None`` does not apply to this record and is absent from the JSON form.
    ALWAYS = ("strategy", "seed", "fold", "seen_counts", "diagnosis")

    # --- the JSON form -----------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The on-disk form: every field that applies, plus any unknown keys the record was read with."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is not None or f.name in self.ALWAYS:
                out[f.name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        """A record from its JSON form (old files included: missing fields are ``None``)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        for key in ("strategy", "seed", "fold"):
            if key not in known:
                raise ValueError(f"A run record needs {key!r}; this one has keys {sorted(data)}.")
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})

    # --- read like the dict it was (a read-only Mapping over the JSON form) -------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    # --- candidate records --------------------------------------------------------------------------------------

    def as_tuned(self) -> "RunRecord":
        """This run as the record of its tuned candidate (``decision="tuned"``)."""
        return dataclasses.replace(self, decision="tuned", extra=dict(self.extra))

    def at_rule(self, rule: str, objective: "Objective") -> "RunRecord | None":
        """The same models and test rows decided at the untuned ``rule``, scored from the untuned fields, named
        ``"<strategy>@<rule>"``; ``None`` when the record has no untuned fields (written before they existed)."""
        if self.untuned_objective is None:
            return None
        untuned = {f.name: None for f in dataclasses.fields(self) if f.name.startswith("untuned_")}
        return dataclasses.replace(
            self, **untuned,
            strategy=f"{self.strategy}@{rule}", decision=rule, objective=self.untuned_objective,
            precision=self.untuned_precision, recall=self.untuned_recall, held=None,
            fbeta=self.untuned_objective if objective.kind == "fbeta" else None,
            threshold=[0.5] * len(self.threshold or []) if rule == "0.5" else [],
            threshold_note=f"decided at {rule}; no threshold tuned",
            # never show the tuned decision's numbers under the untuned name
            confusion=self.untuned_confusion, balanced_accuracy=self.untuned_balanced_accuracy,
            per_class=self.untuned_per_class, positives_per_row=self.untuned_positives_per_row,
            extra=dict(self.extra),
        )


class RunStore:
    """``runs.jsonl``: one JSON record per line, rewritten whole to a temporary file and moved into place after
    every finished run, so it is never half-written; reading it back is how a comparison resumes.

    **Several writers.** Every read and write holds a lock on the file (``filelock``: released by the OS when its
    holder dies, so a killed process never leaves it locked), and :meth:`merge` writes a writer's records *merged*
    with what is on disk: two comparisons sharing one folder keep both sets of runs (a run both finished is kept
    once; a finished run beats a failed one).

    **Broken lines** (a line that is not JSON, or JSON that is not a run) are moved to ``runs.rejected.jsonl`` beside
    the file, as they were, with a warning naming the file and the line; reading goes on without them.

    >>> import tempfile, pathlib
    >>> store = RunStore(pathlib.Path(tempfile.mkdtemp()) / RUNS_FILE)
    >>> store.write([RunRecord("baseline", 0, 0, objective=0.5)])
    >>> [r.objective for r in store.read()]
    [0.5]
    """

    #: Seconds a writer waits for another to finish its write (a write takes milliseconds).
    LOCK_TIMEOUT = 120.0

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def rejected_path(self) -> Path:
        """Where broken lines are set aside: ``runs.rejected.jsonl`` beside ``runs.jsonl``."""
        return self.path.with_name(f"{self.path.stem}.rejected{self.path.suffix}")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's lock (a ``filelock.FileLock`` on the hidden file ``.runs.jsonl.lock`` beside it)."""
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path.with_name(f".{self.path.name}.lock")))
        try:
            lock.acquire(timeout=self.LOCK_TIMEOUT)
        except Timeout:
            raise TimeoutError(f"{self.path} has been locked by another writer for {self.LOCK_TIMEOUT:.0f} s; is a "
                               "comparison hanging? Stop it, or pass another output folder.") from None
        try:
            yield
        finally:
            lock.release()

    def read_dicts(self, *, drop_cut_tail: bool = False) -> list[dict[str, Any]]:
        """The records as stored (an absent file is an empty store). A line that is not JSON is set aside (see the
        class docstring); ``drop_cut_tail=True`` does so without a warning for a last line cut mid-way, what an
        appending writer killed mid-line leaves (this store never does, but older files may).

        >>> import tempfile, pathlib, warnings
        >>> path = pathlib.Path(tempfile.mkdtemp()) / RUNS_FILE
        >>> _ = path.write_text('{"strategy": "a"}\\n{"strat\\n{"strategy": "b"}\\n', encoding="utf-8")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     RunStore(path).read_dicts()
        [{'strategy': 'a'}, {'strategy': 'b'}]
        >>> str(caught[0].message).endswith("runs.jsonl, line 2: not a JSON record (Unterminated string starting "
        ...                                 f"at); moved to {RunStore(path).rejected_path}")
        True
        >>> RunStore(path).rejected_path.read_text()
        '{"strat\\n'
        """
        with self.lock():
            return self._read(lambda item: item, drop_cut_tail)

    def read(self) -> list[RunRecord]:
        """The run records; a line that is not a run record is set aside like a line that is not JSON."""
        with self.lock():
            return self._read(RunRecord.from_dict)

    def _read(self, convert: Any, drop_cut_tail: bool = False) -> list[Any]:
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        records, kept, rejected = [], [], []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(convert(json.loads(line)))
                kept.append(line)
            except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
                why = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
                cut_tail = number == len(lines) and not text.endswith("\n")
                rejected.append((number, line, why, cut_tail and drop_cut_tail))
        if rejected:
            self._set_aside(kept, rejected)
        return records

    def _set_aside(self, kept: list[str], rejected: list[tuple[int, str, str, bool]]) -> None:
        import warnings

        previous = self.rejected_path.read_text(encoding="utf-8") if self.rejected_path.exists() else ""
        atomic_write_text(self.rejected_path, previous + "".join(line + "\n" for _, line, _, _ in rejected))
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        for number, _, why, quiet in rejected:
            if not quiet:
                warnings.warn(f"{self.path}, line {number}: not a JSON record ({why}); moved to "
                              f"{self.rejected_path}", stacklevel=4)

    def write(self, records: Iterable[RunRecord | dict[str, Any]]) -> None:
        """Replace the file's records with ``records`` (atomically, under the lock)."""
        lines = "".join(json.dumps(r.to_dict() if isinstance(r, RunRecord) else r, sort_keys=True) + "\n"
                        for r in records)
        with self.lock():
            atomic_write_text(self.path, lines)

    def merge(self, records: Iterable[RunRecord]) -> None:
        """Write this writer's ``records`` (in their order) merged with what another writer has put on disk since:
        its records that this writer does not have are kept after ours, and where both have a run, a finished one
        beats a failed one (two finished runs of one task are the same numbers: ours is kept)."""
        records = list(records)
        with self.lock():
            on_disk = {_key(r): r for r in self._read(RunRecord.from_dict)}
            ours = {_key(r) for r in records}
            merged = [on_disk[_key(r)] if r.error is not None and _key(r) in on_disk and
                      on_disk[_key(r)].error is None else r for r in records]
            merged += [r for key, r in on_disk.items() if key not in ours]
            atomic_write_text(self.path, "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in merged))


def _key(record: RunRecord) -> tuple[Any, ...]:
    return record.config_id, record.strategy, record.seed, record.fold


@dataclass
class OutOfSample:
    """One run's out-of-sample scores (probabilities, float32 ``(rows, outputs)``, each from a model that did not
    train on its row): ``test`` of the unit's test rows, in their order; ``tuning`` of the rows its threshold was
    tuned on (a validation split, or every training row scored out of fold), whose row ids are ``tuning_rows``."""

    test: np.ndarray
    tuning_rows: np.ndarray
    tuning: np.ndarray


class ScoreStore:
    """Each finished run's :class:`OutOfSample` scores, what a refitted served model's threshold is tuned on
    (:mod:`imbalance.experiment.refit`).

    With a folder they are ``scores/<config_id>/<strategy>/seed<S>-fold<F>.npz`` beside ``runs.jsonl``, each written
    atomically, so a resumed comparison finds the scores of the runs it skips; without one they are held in memory.
    ``compare`` keeps them when it refits the served model.
    A file that is missing or unreadable reads as ``None`` (that run's rows are then left out of the pool).

    >>> store = ScoreStore(None, "abc")
    >>> store.put("baseline", 0, 1, OutOfSample(np.array([[0.25]]), np.array([3]), np.array([[0.5]])))
    >>> store.get("baseline", 0, 1).test.tolist(), store.get("baseline", 1, 0)
    ([[0.25]], None)
    """

    def __init__(self, folder: str | Path | None, config_id: str) -> None:
        self.folder = Path(folder) / SCORES_DIR / config_id if folder is not None else None
        self._memory: dict[tuple[str, int, int], OutOfSample] = {}

    def path(self, strategy: str, seed: int, fold: int) -> Path | None:
        """Where one run's scores are kept (``None`` in memory); a strategy name is made safe as a folder name."""
        if self.folder is None:
            return None
        return self.folder / re.sub(r"[^\w.+-]", "_", strategy) / f"seed{int(seed)}-fold{int(fold)}.npz"

    def put(self, strategy: str, seed: int, fold: int, scores: OutOfSample) -> None:
        scores = OutOfSample(np.asarray(scores.test, np.float32), np.asarray(scores.tuning_rows),
                             np.asarray(scores.tuning, np.float32))
        path = self.path(strategy, seed, fold)
        if path is None:
            self._memory[(strategy, int(seed), int(fold))] = scores
            return
        with atomic_file(path, ".npz") as tmp:  # no copy in memory: millions of rows are tens of MB
            np.savez(tmp, test=scores.test, tuning_rows=scores.tuning_rows, tuning=scores.tuning)

    def get(self, strategy: str, seed: int, fold: int) -> OutOfSample | None:
        path = self.path(strategy, seed, fold)
        if path is None:
            return self._memory.get((strategy, int(seed), int(fold)))
        try:
            with np.load(path, allow_pickle=False) as stored:
                return OutOfSample(stored["test"], stored["tuning_rows"], stored["tuning"])
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # absent (stored before scores were kept), or cut short
            return None
