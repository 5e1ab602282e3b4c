"""``compare``: train the same model under several strategies, over several splits, and say honestly which wins.

The protocol, chosen so that a small minority class does not decide the verdict by luck:

* **Evaluation units.** Each seed draws a stratified split. With enough rows of the class that matters (at least
  ``min_positives`` expected in the test part) a unit is one train / test split (``test_size``); otherwise the seed's
  rows are cut into ``folds`` stratified folds and each fold is a unit's test set, so every row is tested once per
  seed. Every strategy sees exactly the same units, so the comparison is paired.
* **Thresholds.** Inside a unit's training rows the decision threshold is chosen for ``objective`` either on a
  stratified validation split (``val_size``) or, when that split would hold fewer than ``min_positives`` positives,
  on out-of-fold scores of ``inner_folds`` models trained on the rest (the unit's test scores are then the mean of
  those models). Constraint objectives (``recall@precision>=P``) use the tuner's confidence bound by default.
* **Metrics on test**: the objective at the tuned threshold (for a constraint: the recall or precision reached, and
  whether the constraint held), PR-AUC, balanced accuracy, per-class precision / recall.
* **Candidates**: each strategy with its tuned threshold (``"oversample"``) and, for F-beta and cost objectives,
  the same models decided at 0.5 / argmax (``"oversample@0.5"``), scored on the same test rows; see
  :class:`Results`.
* **Verdict**: see :func:`imbalance.experiment.verdict.verdict`; for binary data and F1 a tie is broken by the
  order measured on the development suite (:data:`imbalance.experiment.verdict.BINARY_F1_ORDER`), otherwise by
  cost.
* **Results are never lost**: each finished run is appended to ``runs.jsonl`` in ``out_dir`` (the whole file is
  rewritten to a temporary file and moved into place, so it is never half-written); running the same command again
  skips the runs already there, so an interrupted comparison resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from imbalance._files import atomic_write_bytes, atomic_write_text
from imbalance.labels import inspect_labels, to_class_ids, to_multi_hot

__all__ = ["ComparisonData", "Results", "compare", "prepare_data", "build_mlp", "split_candidate",
           "train_strategy"]

RUNS_FILE = "runs.jsonl"


# --- data ------------------------------------------------------------------------------------------------------


@dataclass
class ComparisonData:
    """Features, labels in the model's format and what the runner needs to know about them.

    ``y`` holds class ids for binary and multi-class data and a multi-hot matrix for multi-label data.
    ``preprocessor`` (optional) returns a fresh, unfitted scikit-learn transformer; it is fitted on each unit's
    training rows only.
    """

    name: str
    x: Any
    y: np.ndarray
    task: str
    num_classes: int
    class_names: list[str]
    preprocessor: Callable[[], Any] | None = None

    @property
    def counts(self) -> np.ndarray:
        if self.task == "multilabel":
            return self.y.sum(axis=0).astype(np.int64)
        return np.bincount(self.y, minlength=self.num_classes).astype(np.int64)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(np.ascontiguousarray(self.y).tobytes())
        x = self.x
        if hasattr(x, "to_numpy"):
            h.update(str(list(x.columns)).encode())
            h.update(x.to_csv(index=False).encode())
        else:
            h.update(np.ascontiguousarray(x).tobytes())
        return h.hexdigest()[:16]


def prepare_data(data: Any, target: Any = None) -> ComparisonData:
    """Accept a demo name, a :class:`~imbalance.datasets.DemoDataset`, a table loaded by
    :func:`imbalance.data.load_table`, a path to a table file, or an ``(x, y)`` pair.

    >>> d = prepare_data("digits_lt")
    >>> d.task, d.num_classes, int(d.counts[0])
    ('multiclass', 10, 18)
    """
    from imbalance.datasets import DemoDataset, load_demo

    if isinstance(data, (str, os.PathLike)) and not Path(data).exists() and str(data) in _demo_names():
        data = load_demo(str(data))
    elif isinstance(data, (str, os.PathLike)):
        from imbalance.data.io import load_table

        data = load_table(data, target)
    if isinstance(data, DemoDataset):
        return _from_arrays(data.name, data.x, data.y, data.task, data.class_names)
    if hasattr(data, "preprocessor") and hasattr(data, "x") and hasattr(data, "y"):
        y = np.asarray(data.y)
        info = inspect_labels(y, task=getattr(data, "task", None))
        names = [str(c) for c in getattr(data, "class_names", range(info.num_classes))]
        return ComparisonData(
            name=Path(str(getattr(data, "source", "table"))).name,
            x=data.x,
            y=to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y),
            task=info.task,
            num_classes=info.num_classes,
            class_names=names,
            preprocessor=data.preprocessor,
        )
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return _from_arrays("arrays", data[0], data[1], None, None)
    raise TypeError(
        "`data` must be a demo name (digits_lt, fraud, multilabel30), a DemoDataset, a table from "
        f"imbalance.data.load_table, a file path, or an (x, y) pair. Received: {type(data).__name__}"
    )


def _demo_names() -> tuple[str, ...]:
    return ("digits_lt", "fraud", "multilabel30")


def _from_arrays(name: str, x: Any, y: Any, task: str | None, class_names: Sequence[str] | None) -> ComparisonData:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same number of rows. Received: {len(x)} and {len(y)}")
    if not np.all(np.isfinite(x)):
        row, column = (int(i) for i in np.argwhere(~np.isfinite(x.reshape(len(x), -1)))[0])
        raise ValueError(f"`x` holds NaN or infinite values (first at row {row}, column {column}: "
                         f"{float(x.reshape(len(x), -1)[row, column])}); impute or drop them first.")
    info = inspect_labels(y, task=task)
    ids = to_multi_hot(y) if info.task == "multilabel" else to_class_ids(y)
    names = list(class_names) if class_names is not None else [str(k) for k in range(info.num_classes)]
    return ComparisonData(name=name, x=x, y=ids, task=info.task, num_classes=info.num_classes, class_names=names)


# --- model -----------------------------------------------------------------------------------------------------


def build_mlp(input_shape: Sequence[int], outputs: int, seed: int = 0) -> Any:
    """The default model: an MLP sized to the data (two ReLU layers of ``clip(2 × features, 32, 256)`` units), or a
    small CNN when the inputs are images (``(h, w)`` or ``(h, w, c)``). The last layer outputs logits.

    >>> build_mlp((20,), 1).output.shape
    (None, 1)
    """
    import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(tuple(input_shape))
    h = inputs
    if len(input_shape) >= 2:
        if len(input_shape) == 2:
            h = keras.layers.Reshape((*input_shape, 1))(h)
        h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init)(h)
        h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init)(h)
        h = keras.layers.GlobalAveragePooling2D()(h)
    else:
        width = int(np.clip(2 * int(np.prod(input_shape)), 32, 256))
        for _ in range(2):
            h = keras.layers.Dense(width, activation="relu", kernel_initializer=init)(h)
    logits = keras.layers.Dense(outputs, kernel_initializer=init, name="logits")(h)
    return keras.Model(inputs, logits, name="mlp" if len(input_shape) == 1 else "cnn")


# --- objective ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Goal:
    """The objective read once: what the tuner optimises and what the test score is."""

    text: str
    kind: str  # "fbeta" | "recall_at_precision" | "precision_at_recall" | "cost"
    beta: float = 1.0
    target: float = 0.0
    fp: float = 1.0
    fn: float = 1.0

    @property
    def higher_is_better(self) -> bool:
        return self.kind != "cost"

    @property
    def metric_name(self) -> str:
        return {
            "fbeta": "f1" if self.beta == 1 else f"f{self.beta:g}",
            "recall_at_precision": f"recall@precision>={self.target:g}",
            "precision_at_recall": f"precision@recall>={self.target:g}",
            "cost": "cost/row",
        }[self.kind]


def _goal(objective: str) -> _Goal:
    from imbalance.thresholds import parse_objective

    parsed = parse_objective(objective)
    kind = parsed.kind
    return _Goal(
        text=objective,
        kind=kind,
        beta=float(getattr(parsed, "beta", 1.0) or 1.0),
        target=float(getattr(parsed, "target", 0.0) or 0.0),
        fp=float(getattr(parsed, "fp", 1.0) or 1.0),
        fn=float(getattr(parsed, "fn", 1.0) or 1.0),
    )


def _binary_scores(goal: _Goal, y: np.ndarray, decision: np.ndarray) -> dict[str, float]:
    """Objective, precision and recall of 0/1 decisions (flattened for multi-label: micro-averaged)."""
    y = np.asarray(y).astype(bool).ravel()
    d = np.asarray(decision).astype(bool).ravel()
    tp = float(np.sum(y & d))
    fp = float(np.sum(~y & d))
    fn = float(np.sum(y & ~d))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    out = {"precision": precision, "recall": recall}
    b2 = goal.beta**2
    fbeta = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp) if tp else 0.0
    out["fbeta"] = fbeta
    if goal.kind == "fbeta":
        out["objective"] = fbeta
    elif goal.kind == "recall_at_precision":
        out["objective"] = recall
        out["held"] = float(precision >= goal.target)
    elif goal.kind == "precision_at_recall":
        out["objective"] = precision
        out["held"] = float(recall >= goal.target)
    else:
        out["objective"] = (goal.fp * fp + goal.fn * fn) / len(y)
    return out


# --- results ---------------------------------------------------------------------------------------------------


@dataclass
class Results:
    """What :func:`compare` found: every run, the summary table and the verdict.

    The verdict chooses among :attr:`candidates`: a trained strategy together with its decision rule. Each strategy
    competes with the threshold tuned on training rows (``"oversample"``) and, for objectives without a constraint
    (F-beta, cost), also decided at probability 0.5 (``"oversample@0.5"``; ``"@argmax"`` for multi-class data with
    ``class_id``): the same models and test rows, no extra training. On small validation sets a tuned F1 threshold
    overfits, and the development suite found rebalanced models decided at 0.5 ahead of every tuned threshold, so
    the untuned rule must be able to win. A constraint (``recall@precision>=P``) needs a tuned threshold, so there
    only tuned candidates compete.

    ``table`` has one row per candidate: the objective's mean and spread over units, PR-AUC, balanced accuracy and,
    for constraint objectives, how often the constraint held on test. ``best`` is the recommended candidate (the
    winner, or the tied candidate chosen by :func:`~imbalance.experiment.verdict.verdict`'s fixed rule).
    """

    runs: list[dict[str, Any]]
    config: dict[str, Any]
    data: ComparisonData
    goal: _Goal
    models: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def decision_rule(self) -> str | None:
        """The untuned decision that competes beside each tuned threshold: ``"0.5"`` (binary, multi-label) or
        ``"argmax"`` (multi-class with ``class_id``) for F-beta and cost objectives; ``None`` for constraints and
        for multi-class data without ``class_id`` (already decided at argmax)."""
        return _decision_rule(self.data, self.goal, self.config.get("class_id"))

    @property
    def candidates(self) -> list[str]:
        """Every (strategy, decision rule) the verdict chooses from: ``"s"`` (tuned) and ``"s@0.5"``."""
        rule = self.decision_rule
        return [c for s in self.config["strategies"] for c in ((s, f"{s}@{rule}") if rule else (s,))]

    @property
    def candidate_runs(self) -> list[dict[str, Any]]:
        """``runs`` plus, per run, the record of the same models at the untuned decision (named ``"s@0.5"``)."""
        return _candidate_runs(self.runs, self.decision_rule, self.goal)

    @property
    def table(self):  # -> pandas.DataFrame
        from imbalance.experiment.verdict import summary_table

        table = summary_table(self.candidate_runs, self.candidates, self.goal.higher_is_better)
        if self.decision_rule is not None:  # the untuned decision has rows of its own
            table = table.drop(columns=[c for c in ("untuned_objective", "untuned_precision") if c in table])
        return table

    @property
    def verdict(self):
        from imbalance.experiment.strategies import STRATEGIES
        from imbalance.experiment.verdict import BINARY_F1_ORDER, verdict

        costs = {}
        for c in self.candidates:
            strategy, rule = split_candidate(c)
            costs[c] = (STRATEGIES[strategy].cost if strategy in STRATEGIES else 99) + (0.5 if rule else 0.0)
        measured = self.data.task == "binary" and self.goal.kind == "fbeta" and self.goal.beta == 1
        return verdict(self.candidate_runs, self.candidates, self.goal.higher_is_better, costs,
                       preference=BINARY_F1_ORDER if measured else None)

    @property
    def best(self) -> str:
        """The recommended candidate (``"s"`` or ``"s@0.5"``)."""
        return self.verdict.recommended

    def save(self, out_dir: str | os.PathLike[str] | None = None) -> Path:
        """Write ``runs.jsonl`` (already there when ``compare`` had ``out_dir``), ``results.csv``, the recommended
        strategy's model ``best.keras`` (scores and decisions), ``thresholds.json`` and ``report.html``."""
        from imbalance.experiment.report import write_report

        out = Path(out_dir) if out_dir is not None else self.out_dir
        if out is None:
            raise ValueError("`out_dir` is required: compare() was run without one.")
        out.mkdir(parents=True, exist_ok=True)
        if self.out_dir is None or Path(self.out_dir).resolve() != out.resolve():
            _write_runs(out / RUNS_FILE, self.runs)
        _atomic_write(out / "results.csv", self.table.to_csv(index=False))
        strategy, rule = split_candidate(self.best)
        model_path = out / "models" / f"{strategy}.keras"
        if strategy in self.models:
            model_path.parent.mkdir(parents=True, exist_ok=True)
            self.models[strategy].save(model_path)
        if model_path.exists():
            if rule is None:
                _atomic_copy(model_path, out / "best.keras")
            else:
                import keras

                served = _with_fixed_decision(self.data, keras.models.load_model(model_path),
                                              rule, self.config.get("class_id"))
                _save_model_atomically(served, out / "best.keras")
        if rule is None:
            thresholds = out / "thresholds" / f"{strategy}.json"
            if thresholds.exists():
                _atomic_copy(thresholds, out / "thresholds.json")
        else:
            fixed = {"strategy": strategy, "decision": rule, "tuned": False,
                     "thresholds": [0.5] * _outputs(self.data) if rule == "0.5" else [],
                     "class_id": self.config.get("class_id")}
            _atomic_write(out / "thresholds.json", json.dumps(fixed, indent=2) + "\n")
        write_report(self, out / "report.html")
        return out


def split_candidate(name: str) -> tuple[str, str | None]:
    """``"oversample@0.5"`` -> ``("oversample", "0.5")``; ``"oversample"`` (tuned threshold) -> ``("oversample",
    None)``.

    >>> split_candidate("cb_focal@argmax"), split_candidate("baseline")
    (('cb_focal', 'argmax'), ('baseline', None))
    """
    strategy, _, rule = name.partition("@")
    return strategy, rule or None


def describe_rule(rule: str) -> str:
    """How an untuned candidate decides, in words: ``"probability 0.5"`` or ``"argmax"``."""
    return "probability 0.5" if rule == "0.5" else rule


def _decision_rule(d: ComparisonData, goal: _Goal, class_id: int | None) -> str | None:
    if goal.kind not in ("fbeta", "cost"):
        return None  # a constraint is only met by a threshold tuned for it
    if d.task == "multiclass":
        return "argmax" if class_id is not None else None
    return "0.5"


_UNTUNED_KEYS = ("confusion", "balanced_accuracy", "per_class", "positives_per_row")


def _candidate_runs(runs: list[dict[str, Any]], rule: str | None, goal: _Goal) -> list[dict[str, Any]]:
    """The runs as candidate records: each tuned run (``decision: "tuned"``) followed by the same run at the
    untuned decision ``rule`` (strategy ``"s@<rule>"``), scored from the ``untuned_*`` fields recorded on the same
    test rows. Without a rule the runs are returned as they are."""
    if rule is None:
        return list(runs)
    out = []
    for r in runs:
        out.append({**r, "decision": "tuned"})
        if r.get("untuned_objective") is None:
            continue  # a record from before the untuned fields existed
        q = {k: v for k, v in r.items() if not k.startswith("untuned_") and k not in ("held", "fbeta")}
        q.update(strategy=f"{r['strategy']}@{rule}", decision=rule, objective=r["untuned_objective"],
                 precision=r["untuned_precision"], recall=r["untuned_recall"],
                 threshold=[0.5] * len(r.get("threshold") or []) if rule == "0.5" else [],
                 threshold_note=f"decided at {rule}; no threshold tuned")
        if goal.kind == "fbeta":
            q["fbeta"] = r["untuned_objective"]
        for key in _UNTUNED_KEYS:
            if f"untuned_{key}" in r:
                q[key] = r[f"untuned_{key}"]
            else:
                q.pop(key, None)  # never show the tuned decision's numbers under the untuned name
        out.append(q)
    return out


# --- files -----------------------------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _atomic_copy(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, Path(src).read_bytes())


def _write_runs(path: Path, runs: list[dict[str, Any]]) -> None:
    _atomic_write(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in runs))


def _read_runs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    runs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not a JSON record ({error.msg}); move the file away to "
                             "start over.") from None
    return runs


# --- the runner ------------------------------------------------------------------------------------------------


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
    test_size: float = 0.25,
    val_size: float = 0.25,
    folds: int = 3,
    inner_folds: int = 2,
    min_positives: int = 20,
    confidence: float | None | str = "auto",
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    on_run: Callable[[dict[str, Any]], None] | None = None,
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
        test_size, val_size, folds, inner_folds, min_positives: the protocol described in the module docstring.
        confidence: passed to the threshold tuner for constraint objectives (``"auto"``: its default).
        out_dir: where ``runs.jsonl`` is kept (and resumed from); ``Results.save`` writes the report there.
        progress: show a rich progress bar over runs and epochs.
        on_run: called with each finished run's record (after it is written).
    """
    import keras

    from imbalance.experiment.strategies import resolve

    d = prepare_data(data, target)
    goal = _goal(objective)
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
    names = resolve(strategies, d.task)
    for name, value in (("epochs", epochs), ("seeds", seeds), ("folds", folds), ("inner_folds", inner_folds)):
        _check_count(name, value, 2 if "folds" in name else 1)
    for name, value in (("test_size", test_size), ("val_size", val_size)):
        if not 0 < float(value) < 1:
            raise ValueError(f"`{name}` must be in (0, 1). Received: {name}={value!r}")
    n = len(d.y)
    batch_size = _batch_size(batch_size, n)
    config = {
        "data": d.name,
        "fingerprint": d.fingerprint(),
        "task": d.task,
        "objective": objective,
        "class_id": class_id,
        "model": model if isinstance(model, str) else getattr(model, "__name__", "model_fn"),
        "epochs": int(epochs),
        "seeds": int(seeds),
        "batch_size": batch_size,
        "learning_rate": float(learning_rate),
        "test_size": float(test_size),
        "val_size": float(val_size),
        "folds": int(folds),
        "inner_folds": int(inner_folds),
        "min_positives": int(min_positives),
        "confidence": confidence,
        "strategies": names,
    }
    key_config = {k: v for k, v in config.items() if k != "strategies"}
    config_id = hashlib.sha256(json.dumps(key_config, sort_keys=True, default=str).encode()).hexdigest()[:12]
    config["config_id"] = config_id

    out = Path(out_dir) if out_dir is not None else None
    previous = _read_runs(out / RUNS_FILE) if out is not None else []
    kept = [r for r in previous if r.get("config_id") == config_id]
    others = [r for r in previous if r.get("config_id") != config_id]
    done = {(r["strategy"], r["seed"], r["fold"]) for r in kept}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write(out / "config.json", json.dumps(config, indent=2, default=str) + "\n")

    units = _units(d, goal, class_id, int(seeds), int(folds), float(test_size), int(min_positives))
    todo = [(s, u) for u in units for s in names if (s, u.seed, u.fold) not in done]
    runs = list(kept)
    models: dict[str, Any] = {}
    bar = _Progress(progress, total=len(units) * len(names), completed=len(units) * len(names) - len(todo))
    with bar:
        for strategy, unit in todo:
            bar.start_run(f"{strategy} · seed {unit.seed} · fold {unit.fold}", epochs)
            record, served = _run_one(d, goal, class_id, strategy, unit, config, model, bar, out)
            runs.append(record)
            if out is not None:
                _write_runs(out / RUNS_FILE, others + runs)
            if served is not None and unit.seed == 0 and unit.fold == 0:
                models[strategy] = served
            if on_run is not None:
                on_run(record)
            bar.finish_run()
            keras.backend.clear_session(free_memory=False)
    order = {(s, u.seed, u.fold): i for i, (u, s) in enumerate((u, s) for u in units for s in names)}
    runs.sort(key=lambda r: order.get((r["strategy"], r["seed"], r["fold"]), 1 << 30))
    return Results(runs=runs, config=config, data=d, goal=goal, models=models, out_dir=out)


@dataclass(frozen=True)
class _Unit:
    seed: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    outer: str  # "holdout" | "cv"


def _strata(d: ComparisonData) -> np.ndarray | None:
    """Labels to stratify on: the class ids, or for multi-label data the rarest positive label of each row (rows
    without positives form their own stratum)."""
    if d.task != "multilabel":
        return d.y
    rarity = np.where(d.y > 0, d.counts[None, :], np.iinfo(np.int64).max)
    rarest = np.argmin(rarity, axis=1)
    strata = np.where(d.y.any(axis=1), rarest, -1)
    values, counts = np.unique(strata, return_counts=True)
    small = values[counts < 10]
    return np.where(np.isin(strata, small), -2, strata)


def _target_positives(d: ComparisonData, class_id: int | None) -> int:
    """Rows of the class that matters: the chosen class, the positive class, or the rarest class / label."""
    counts = d.counts
    if d.task == "binary":
        return int(counts[1])
    if class_id is not None:
        return int(counts[class_id])
    return int(counts[counts > 0].min())


def _units(d: ComparisonData, goal: _Goal, class_id: int | None, seeds: int, folds: int, test_size: float,
           min_positives: int) -> list[_Unit]:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    strata = _strata(d)
    positives = _target_positives(d, class_id)
    index = np.arange(len(d.y))
    units = []
    for seed in range(seeds):
        if positives * test_size >= min_positives:
            train, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=strata)
            units.append(_Unit(seed, 0, np.sort(train), np.sort(test), "holdout"))
        else:
            kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            for fold, (train, test) in enumerate(kfold.split(index, strata)):
                units.append(_Unit(seed, fold, train, test, "cv"))
    return units


def _run_one(d: ComparisonData, goal: _Goal, class_id: int | None, strategy: str, unit: _Unit,
             config: dict[str, Any], model: Any, bar: "_Progress", out: Path | None) -> tuple[dict[str, Any], Any]:
    """Train one strategy on one unit, tune the threshold inside the unit's training rows, score its test rows."""
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    x_train, x_test = _features(d, unit)
    y_train, y_test = d.y[unit.train], d.y[unit.test]
    strata = _strata(d)[unit.train]
    positives_train = _count_target(d, y_train, class_id)
    expected_val = positives_train * config["val_size"]
    seed = 1000 * unit.seed + unit.fold
    inner = "validation" if expected_val >= config["min_positives"] else "cv"
    fitted = []
    if inner == "validation":
        local = np.arange(len(y_train))
        fit_idx, val_idx = train_test_split(local, test_size=config["val_size"], random_state=seed, stratify=strata)
        m, seen = _train(d, strategy, x_train[fit_idx], y_train[fit_idx], config, model, seed, bar)
        fitted.append(m)
        val_scores = _predict(d, m, x_train[val_idx])
        val_y = y_train[val_idx]
        test_scores = _predict(d, m, x_test)
    else:
        fitted, val_scores, test_scores, seen = out_of_fold(d, strategy, x_train, y_train, x_test, strata, config,
                                                            model, seed, bar)
        val_y = y_train
    tuner, threshold_note = _tune(d, goal, class_id, val_y, val_scores, config)
    record = {
        "config_id": config["config_id"],
        "strategy": strategy,
        "seed": unit.seed,
        "fold": unit.fold,
        "outer": unit.outer,
        "inner": inner,
        "train_rows": int(len(y_train)),
        "test_rows": int(len(y_test)),
        "threshold_note": threshold_note,
        "seconds": round(time.perf_counter() - started, 3),
        "train_counts": _counts(d, y_train).tolist(),
        "seen_counts": None if seen is None else [float(v) for v in np.asarray(seen)],
    }
    record.update(_evaluate(d, goal, class_id, tuner, y_test, test_scores))
    record["diagnosis"] = _diagnosis(d, y_test, test_scores, class_id)
    served = None
    if unit.seed == 0 and unit.fold == 0:
        served = _served_model(d, fitted, tuner)
        if out is not None:
            (out / "models").mkdir(parents=True, exist_ok=True)
            served.save(out / "models" / f"{strategy}.keras")
            if tuner is not None:
                (out / "thresholds").mkdir(parents=True, exist_ok=True)
                tuner.save(out / "thresholds" / f"{strategy}.json")
    return record, served


def out_of_fold(d: ComparisonData, strategy: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                strata: np.ndarray | None, config: dict[str, Any], model: Any, seed: int,
                bar: "_Progress | None" = None) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray | None]:
    """``compare``'s threshold protocol for a small minority: ``config["inner_folds"]`` stratified folds of the
    training rows (shuffled with ``seed``), one model per fold (seed ``seed + 100 k``), out-of-fold scores of every
    training row to tune on, and test scores averaged (as probabilities) over the fold models.

    Returns ``(fold models, out-of-fold scores, test scores, classes seen in training or None)``; scores are
    probabilities ``(rows, outputs)``. ``config`` holds ``epochs``, ``batch_size``, ``learning_rate`` and
    ``inner_folds``. The quality benchmark calls this too, so its ``compare`` rows are ``compare``'s protocol.
    """
    from sklearn.model_selection import StratifiedKFold

    bar = bar or _Progress(False, 0, 0)
    kfold = StratifiedKFold(n_splits=config["inner_folds"], shuffle=True, random_state=seed)
    val_scores = np.zeros((len(y_train), _outputs(d)), np.float32)
    test_scores = np.zeros((len(x_test), _outputs(d)), np.float32)
    fitted: list[Any] = []
    seen = None
    for k, (fit_idx, val_idx) in enumerate(kfold.split(np.arange(len(y_train)), strata)):
        m, seen_k = _train(d, strategy, x_train[fit_idx], y_train[fit_idx], config, model, seed + 100 * k, bar)
        fitted.append(m)
        val_scores[val_idx] = _predict(d, m, x_train[val_idx])
        test_scores += _predict(d, m, x_test) / config["inner_folds"]
        seen = seen_k if seen is None or seen_k is None else seen + seen_k
    return fitted, val_scores, test_scores, seen


def _features(d: ComparisonData, unit: _Unit) -> tuple[np.ndarray, np.ndarray]:
    if d.preprocessor is None:
        x = np.asarray(d.x, np.float32)
        return x[unit.train], x[unit.test]
    transformer = d.preprocessor()
    x_train = transformer.fit_transform(d.x.iloc[unit.train])
    x_test = transformer.transform(d.x.iloc[unit.test])
    dense = [np.asarray(a.todense() if hasattr(a, "todense") else a, np.float32) for a in (x_train, x_test)]
    return dense[0], dense[1]


def _outputs(d: ComparisonData) -> int:
    return 1 if d.task == "binary" else d.num_classes


def _counts(d: ComparisonData, y: np.ndarray) -> np.ndarray:
    if d.task == "multilabel":
        return y.sum(axis=0).astype(np.int64)
    return np.bincount(y, minlength=d.num_classes).astype(np.int64)


def _count_target(d: ComparisonData, y: np.ndarray, class_id: int | None) -> int:
    counts = _counts(d, y)
    if d.task == "binary":
        return int(counts[1])
    if class_id is not None:
        return int(counts[class_id])
    return int(counts[counts > 0].min()) if (counts > 0).any() else 0


def _check_count(name: str, value: Any, low: int) -> None:
    """Refuse anything but an integer >= ``low`` (``True`` included), naming the argument and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}. Received: {name}={value!r}")


def _batch_size(batch_size: int | None, rows: int) -> int:
    """The default batch: 64 below 5,000 rows, else 256."""
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}")
    return int(batch_size or (64 if rows < 5000 else 256))


def train_strategy(
    strategy: str,
    x: Any,
    y: Any,
    *,
    model: str | Callable[..., Any] = "mlp",
    task: str | None = None,
    epochs: int = 30,
    batch_size: int | None = None,
    learning_rate: float = 3e-3,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train one model with one strategy, exactly as :func:`compare` trains each of its runs; return it.

    The strategy (a name from :mod:`imbalance.experiment.strategies`) decides the loss, the class weights and the
    sampling; the returned Keras model outputs **logits** (pass ``from_logits=True`` to the metrics and to
    :class:`~imbalance.thresholds.ThresholdTuner`). ``model`` is ``"mlp"`` (:func:`build_mlp`) or a factory
    ``model(input_shape, outputs, seed) -> keras.Model`` that returns an uncompiled model ending in a linear layer
    (``outputs`` logits); it is compiled here with Adam(``learning_rate``). ``batch_size`` defaults to 64 below
    5,000 rows, else 256. ``callbacks`` are added to the strategy's own (e.g. LDAM-DRW's reweighting schedule).

    >>> from imbalance.datasets import load_demo
    >>> data = load_demo("fraud", n_samples=2000)
    >>> net = train_strategy("class_weight", data.x, data.y, epochs=2, seed=0)
    >>> net.output.shape[-1]  # one logit for binary data
    1
    """
    from imbalance.experiment.strategies import STRATEGIES, get_strategy

    if isinstance(strategy, str) and "@" in strategy and strategy not in STRATEGIES:
        name, rule = split_candidate(strategy)
        raise ValueError(f"{strategy!r} is a compare candidate (strategy {name!r} decided at {rule}), not a "
                         f"strategy: train {name!r} and decide its scores at {rule}. split_candidate({strategy!r}) "
                         f"returns ({name!r}, {rule!r}).")
    d = _from_arrays("arrays", x, y, task, None)
    known = get_strategy(strategy)  # an unknown name fails here, listing the known ones
    if not known.applies_to(d.task):
        from imbalance.experiment.strategies import available

        raise ValueError(f"Strategy {strategy!r} does not apply to {d.task} labels; strategies for {d.task} "
                         f"data: {', '.join(available(d.task))}.")
    _check_count("epochs", epochs, 1)
    config = {"epochs": int(epochs), "batch_size": _batch_size(batch_size, len(d.y)),
              "learning_rate": float(learning_rate)}
    net, _ = _train(d, strategy, d.x, d.y, config, model, int(seed), _Progress(False, 0, 0), callbacks)
    return net


def _train(d: ComparisonData, strategy: str, x: np.ndarray, y: np.ndarray, config: dict[str, Any], model: Any,
           seed: int, bar: "_Progress", callbacks: Sequence[Any] = ()) -> tuple[Any, np.ndarray | None]:
    import keras

    from imbalance.experiment.strategies import StrategyContext, get_strategy

    keras.utils.set_random_seed(seed)
    ctx = StrategyContext(task=d.task, num_classes=d.num_classes, x=x, y=y, epochs=config["epochs"],
                          batch_size=config["batch_size"], seed=seed)
    plan = get_strategy(strategy).build(ctx)
    factory = build_mlp if model == "mlp" else model
    net = factory(x.shape[1:], _outputs(d), seed)
    net.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]), loss=plan.loss)
    fit_kwargs: dict[str, Any] = {"epochs": config["epochs"], "verbose": 0,
                                  "callbacks": [*plan.callbacks, *callbacks, bar.epoch_callback()]}
    inputs = dict(plan.fit_inputs or {})
    if "x" in inputs:
        fit_kwargs["x"] = inputs.pop("x")
    else:
        # A shuffled tf.data pipeline: the same epochs as fit(x, y, shuffle=True) at about half the per-epoch
        # overhead of Keras' array adapter on small data.
        import tensorflow as tf

        columns = (x, ctx.model_targets())
        if "sample_weight" in inputs:
            columns = (*columns, np.asarray(inputs.pop("sample_weight"), np.float32))
        fit_kwargs["x"] = (
            tf.data.Dataset.from_tensor_slices(columns)
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(config["batch_size"])
            .prefetch(2)
        )
    fit_kwargs.update(inputs)
    fit_kwargs["shuffle"] = False  # the datasets shuffle (or redraw) themselves every epoch
    import warnings

    with warnings.catch_warnings():
        # A resampler's dataset (SMOTE, ADASYN) has an unknown, varying size: Keras says so at every epoch end.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        net.fit(**fit_kwargs)
    return net, plan.seen_counts


def _predict(d: ComparisonData, net: Any, x: np.ndarray) -> np.ndarray:
    # A direct call in chunks: model.predict re-traces its function for every new model (a warning per run).
    logits = np.concatenate([np.asarray(net(x[i:i + 4096], training=False), np.float64)
                             for i in range(0, len(x), 4096)]) if len(x) else np.zeros((0, _outputs(d)))
    if d.task == "multiclass":
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def _tune(d: ComparisonData, goal: _Goal, class_id: int | None, y: np.ndarray, scores: np.ndarray,
          config: dict[str, Any]) -> tuple[Any, str]:
    """A fitted ThresholdTuner (``None`` for multi-class data without ``class_id``: argmax) and a note on how the
    threshold was chosen (empty, or why it is a fallback)."""
    import warnings

    from imbalance.thresholds import ThresholdTuner

    if d.task == "multiclass" and class_id is None:
        return None, "argmax"
    kwargs: dict[str, Any] = {"objective": goal.text, "on_unreachable": "best"}
    if class_id is not None:
        kwargs["class_id"] = int(class_id)
    if config["confidence"] != "auto":
        kwargs["confidence"] = config["confidence"]
    tuner = ThresholdTuner(**kwargs)
    fit_scores = scores[:, 0] if d.task == "binary" else scores
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tuner.fit(y, fit_scores)
        except ValueError as error:
            # A label with no positives in the tuning rows cannot get a threshold: keep 0.5 and say so.
            return _FixedThreshold(d, 0.5), f"threshold 0.5 kept: {error}"
    note = "; ".join(str(w.message) for w in caught)
    return tuner, note


class _FixedThreshold:
    """Stand-in tuner with a fixed threshold when tuning is impossible on the tuning rows."""

    def __init__(self, d: ComparisonData, value: float) -> None:
        self.thresholds_ = np.full(_outputs(d), value)
        self.task = d.task

    def predict(self, scores: np.ndarray) -> np.ndarray:
        if self.task == "multiclass":
            return np.asarray(scores).argmax(axis=1)
        return (np.asarray(scores) >= self.thresholds_[0]).astype(np.int64)

    def to_layer(self) -> Any:
        return None

    def save(self, path: Path) -> None:
        _atomic_write(Path(path), json.dumps({"thresholds": self.thresholds_.tolist()}) + "\n")


def _evaluate(d: ComparisonData, goal: _Goal, class_id: int | None, tuner: Any, y: np.ndarray,
              scores: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, confusion_matrix

    out: dict[str, Any] = {}
    if d.task == "binary":
        decision = np.asarray(tuner.predict(scores[:, 0])).reshape(-1).astype(np.int64)
        result = _binary_scores(goal, y, decision)
        out["pr_auc"] = float(average_precision_score(y, scores[:, 0])) if y.any() else float("nan")
        out["balanced_accuracy"] = float(balanced_accuracy_score(y, decision))
        out["confusion"] = confusion_matrix(y, decision, labels=[0, 1]).tolist()
        out["pr_curve"] = _pr_curve(y, scores[:, 0])
        out["threshold"] = [float(np.ravel(tuner.thresholds_)[0])]
        predicted = decision
    elif d.task == "multilabel":
        y = np.asarray(y).astype(np.int64)
        decision = np.asarray(tuner.predict(scores)).astype(np.int64)
        result = _binary_scores(goal, y, decision)
        present = y.sum(axis=0) > 0
        out["pr_auc"] = float(average_precision_score(y[:, present], scores[:, present], average="micro"))
        out["macro_pr_auc"] = float(average_precision_score(y[:, present], scores[:, present], average="macro"))
        out["balanced_accuracy"] = float("nan")
        out["confusion"] = _micro_confusion(y, decision)
        out["pr_curve"] = _pr_curve(y.ravel(), scores.ravel())
        out["threshold"] = [float(t) for t in np.ravel(tuner.thresholds_)]
        out["positives_per_row"] = float(decision.sum(axis=1).mean())
        predicted = decision
    else:
        if tuner is None:
            predicted = scores.argmax(axis=1)
        else:
            predicted = np.asarray(tuner.predict(scores)).reshape(-1).astype(np.int64)
        out["balanced_accuracy"] = float(balanced_accuracy_score(y, predicted))
        out["confusion"] = confusion_matrix(y, predicted, labels=list(range(d.num_classes))).tolist()
        if class_id is not None:
            result = _binary_scores(goal, y == class_id, predicted == class_id)
            positive = (y == class_id).astype(int)
            out["pr_auc"] = float(average_precision_score(positive, scores[:, class_id])) if positive.any() else float("nan")
            out["pr_curve"] = _pr_curve(positive, scores[:, class_id])
            out["threshold"] = [float(np.ravel(tuner.thresholds_)[0])]
        else:
            from sklearn.metrics import fbeta_score

            onehot = np.eye(d.num_classes, dtype=int)[y]
            present = onehot.sum(axis=0) > 0
            value = float(fbeta_score(y, predicted, beta=goal.beta, average="macro", zero_division=0))
            result = {"objective": value, "fbeta": value,
                      "precision": float("nan"), "recall": float("nan")}
            out["pr_auc"] = float(average_precision_score(onehot[:, present], scores[:, present], average="macro"))
            out["pr_curve"] = _pr_curve(onehot.ravel(), scores.ravel())
            out["threshold"] = []
    out.update({k: float(v) for k, v in result.items()})
    out.update(_untuned(d, goal, class_id, y, scores))
    target = _target_scores(d, class_id, y, scores)
    if target is not None and len(target[0]) <= MAX_STORED_SCORES:
        # Small test sets: keep the target's scores so the report can pool the folds of a seed into one curve.
        out["test_target"] = {"y": [int(v) for v in target[0]], "score": [round(float(v), 6) for v in target[1]]}
    if d.task != "multilabel":
        out["per_class"] = _per_class(y, predicted, d.num_classes if d.task == "multiclass" else 2)
    return out


MAX_STORED_SCORES = 5000


def _target_scores(d: ComparisonData, class_id: int | None, y: np.ndarray,
                   scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The binary view the objective is about: (is-positive, score) for the positive class or ``class_id``."""
    if d.task == "binary":
        return np.asarray(y).astype(int), scores[:, 0]
    if d.task == "multiclass" and class_id is not None:
        return (np.asarray(y) == class_id).astype(int), scores[:, class_id]
    return None


def _untuned(d: ComparisonData, goal: _Goal, class_id: int | None, y: np.ndarray,
             scores: np.ndarray) -> dict[str, Any]:
    """The objective, precision, recall, confusion matrix and balanced accuracy at the default decision (0.5, or
    argmax for multi-class): what the user gets without a tuned threshold, and what the ``<strategy>@0.5``
    candidates of :attr:`Results.candidates` are scored on."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    out: dict[str, Any] = {}
    if d.task == "multiclass":
        if class_id is None:
            return {}
        predicted = scores.argmax(axis=1)
        result = _binary_scores(goal, y == class_id, predicted == class_id)
        out["untuned_confusion"] = confusion_matrix(y, predicted, labels=list(range(d.num_classes))).tolist()
        out["untuned_balanced_accuracy"] = float(balanced_accuracy_score(y, predicted))
        out["untuned_per_class"] = _per_class(y, predicted, d.num_classes)
    elif d.task == "multilabel":
        truth = np.asarray(y).astype(np.int64)
        decision = (scores >= 0.5).astype(np.int64)
        result = _binary_scores(goal, truth, decision)
        out["untuned_confusion"] = _micro_confusion(truth, decision)
        out["untuned_positives_per_row"] = float(decision.sum(axis=1).mean())
    else:
        decision = (scores[:, 0] >= 0.5).astype(np.int64)
        result = _binary_scores(goal, y, decision)
        out["untuned_confusion"] = confusion_matrix(y, decision, labels=[0, 1]).tolist()
        out["untuned_balanced_accuracy"] = float(balanced_accuracy_score(y, decision))
        out["untuned_per_class"] = _per_class(y, decision, 2)
    out.update({"untuned_objective": result["objective"], "untuned_precision": result["precision"],
                "untuned_recall": result["recall"]})
    return out


def _micro_confusion(y: np.ndarray, decision: np.ndarray) -> list[list[int]]:
    """The 2 x 2 confusion matrix of every (row, label) decision of a multi-label problem."""
    return [[int(((1 - y) & (1 - decision)).sum()), int(((1 - y) & decision).sum())],
            [int((y & (1 - decision)).sum()), int((y & decision).sum())]]


def _per_class(y: np.ndarray, predicted: np.ndarray, k: int) -> dict[str, list[float]]:
    from sklearn.metrics import precision_recall_fscore_support

    p, r, _, s = precision_recall_fscore_support(y, predicted, labels=list(range(k)), zero_division=0)
    return {"precision": [float(v) for v in p], "recall": [float(v) for v in r], "support": [int(v) for v in s]}


def _pr_curve(y: np.ndarray, scores: np.ndarray, points: int = 200) -> dict[str, list[float]]:
    from sklearn.metrics import precision_recall_curve

    if not np.any(y):
        return {"precision": [], "recall": []}
    precision, recall, _ = precision_recall_curve(y, scores)
    if len(precision) > points:
        keep = np.unique(np.linspace(0, len(precision) - 1, points).round().astype(int))
        precision, recall = precision[keep], recall[keep]
    return {"precision": [round(float(v), 5) for v in precision], "recall": [round(float(v), 5) for v in recall]}


def _diagnosis(d: ComparisonData, y: np.ndarray, scores: np.ndarray, class_id: int | None) -> dict[str, Any] | None:
    """The after-the-fact diagnosis of the test scores at the default threshold (``None`` when unavailable)."""
    try:
        from imbalance.diagnose import diagnose
    except ImportError:  # pragma: no cover - the module ships with the package
        return None
    try:
        result = diagnose(y, scores[:, 0] if d.task == "binary" else scores)
        return {"text": str(result), **result.to_dict()}
    except ValueError as error:
        return {"text": f"no diagnosis: {error}"}


def _with_fixed_decision(d: ComparisonData, served: Any, rule: str, class_id: int | None) -> Any:
    """A served model (``scores`` and maybe ``decisions``) rewired to decide at ``rule``: probability 0.5 per
    output, or argmax for multi-class data."""
    import keras

    from imbalance.thresholds import ArgmaxLayer, ThresholdLayer

    inputs = keras.Input(served.inputs[0].shape[1:])
    scores = served(inputs)["scores"]
    if rule == "argmax":
        layer = ArgmaxLayer(name="decisions")
    else:
        layer = ThresholdLayer([0.5] * _outputs(d), task="multilabel" if d.task == "multilabel" else "binary",
                               name="decisions")
    return keras.Model(inputs, {"scores": scores, "decisions": layer(scores)}, name="imbalance_served")


def _save_model_atomically(model: Any, path: Path) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``path``, then moved into place."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _served_model(d: ComparisonData, fitted: list[Any], tuner: Any) -> Any:
    """One Keras model that serves ``scores`` (probabilities, averaged over the fitted models) and, when a
    threshold was tuned, ``decisions`` from the tuner's threshold layer."""
    import keras

    first = fitted[0]
    inputs = keras.Input(first.input_shape[1:] if hasattr(first, "input_shape") else first.inputs[0].shape[1:])
    if len(fitted) > 1:
        for k, m in enumerate(fitted):
            m.name = f"fold_model_{k}"  # unique names: the ensemble is one saved model
    logits = [m(inputs) for m in fitted]
    activation = "softmax" if d.task == "multiclass" else "sigmoid"
    probs = [keras.layers.Activation(activation)(z) for z in logits]
    scores = probs[0] if len(probs) == 1 else keras.layers.Average()(probs)
    outputs = {"scores": scores}
    layer = tuner.to_layer() if tuner is not None else None
    if layer is not None:
        outputs["decisions"] = layer(scores)
    return keras.Model(inputs, outputs, name="imbalance_served")


# --- progress --------------------------------------------------------------------------------------------------


class _Progress:
    """A rich progress display with one bar over runs and one over the current run's epochs (a no-op when off)."""

    def __init__(self, enabled: bool, total: int, completed: int) -> None:
        self.enabled = enabled
        self.total = total
        self.completed = completed
        self._progress = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), transient=False)
            self._progress.__enter__()
            self._runs = self._progress.add_task("runs", total=self.total, completed=self.completed)
            self._epochs = self._progress.add_task("epochs", total=1)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_run(self, description: str, epochs: int) -> None:
        if self._progress is not None:
            self._progress.update(self._runs, description=f"runs: {description}")
            self._progress.reset(self._epochs, total=epochs, description="  epochs")

    def finish_run(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._runs)

    def epoch_callback(self) -> Any:
        import keras

        progress = self

        class _Epochs(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                if progress._progress is not None:
                    progress._progress.reset(progress._epochs, total=self.params.get("epochs", 1))

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                if progress._progress is not None:
                    progress._progress.advance(progress._epochs)

        return _Epochs()
