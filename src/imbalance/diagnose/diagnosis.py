"""After-the-fact diagnosis of labels and scores: :func:`diagnose` and the :class:`Diagnosis` it returns (see
:mod:`imbalance.diagnose`)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from imbalance._numeric import run_end_counts, sigmoid, softmax
from imbalance._validation import check_scalar, check_scores, quote
from imbalance.labels import inspect_labels, to_class_ids, to_multi_hot


CONDITIONS: tuple[str, ...] = (
    "collapsed", "flooded", "threshold_off", "no_signal", "still_learning", "prior_shift",
)
PRIOR_ODDS_RATIO = 1.5  # a train prior whose odds differ from the data's by more than this factor is a prior shift
_CHANCE_DRAWS = (400, 2000)  # Monte Carlo draws of a random ranking: fewer for many positives (each costs more)
_CHANCE_WORK = 400_000  # draws × positives
_CHANCE_LEVEL = 0.99
_TABLE_ROWS = 12  # more classes/labels than this: an aggregated table instead of one line per class


class DiagnosisWarning(UserWarning):
    """Category of the warnings :class:`CollapseMonitor` emits (filter it with :mod:`warnings` as usual)."""


# --- results -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassDiagnosis:
    """One class (multi-class), the positive class (binary) or one label (multi-label).

    ``pr_auc``, ``chance_pr_auc``, ``best_f1`` and ``best_threshold`` are None when ``y_true`` holds no positive or no
    negative for this class (nothing to rank). ``best_threshold`` is the score at or above which the class is
    predicted to reach ``best_f1`` on these data (optimistic: chosen on the same rows).
    """

    index: int
    name: str
    support: int  # positives in y_true
    true_rate: float
    predicted_rate: float
    pr_auc: float | None
    chance_pr_auc: float | None  # 99th percentile of the PR-AUC of a random ranking with the same rows and positives
    f1: float
    best_f1: float | None
    best_threshold: float | None
    train_prior: float | None
    conditions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {k: _json(v) for k, v in self.__dict__.items()}


@dataclass
class Diagnosis:
    """What :func:`diagnose` found: per-class rows, the conditions that hold, and what to do.

    ``conditions`` hold for the whole model: for a binary problem those of the positive class; for a multi-class
    problem those of any class; for a multi-label problem those of at least ``min_fraction`` of the labels
    (``counts`` gives the number of classes/labels per condition). ``f1`` / ``best_f1`` summarise the decisions:
    binary F1, multi-class macro-F1 (argmax decisions), multi-label micro-F1 — at the current threshold and at each
    class' best threshold on these data. ``pr_auc`` is the mean PR-AUC (average precision) over the classes that
    have positives; :class:`CollapseMonitor` tracks it across epochs.
    """

    task: str
    num_samples: int
    threshold: float | list[float] | str
    classes: list[ClassDiagnosis]
    conditions: tuple[str, ...]
    counts: dict[str, int]
    pr_auc: float
    f1: float
    best_f1: float
    previous_pr_auc: list[float] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    epoch: int | None = None

    def has(self, condition: str) -> bool:
        """Whether ``condition`` (one of :data:`CONDITIONS`) holds for the model."""
        if condition not in CONDITIONS:
            raise ValueError(f"`condition` must be one of {list(CONDITIONS)}. Received: condition={condition!r}")
        return condition in self.conditions

    @property
    def healthy(self) -> bool:
        """True when no condition holds."""
        return not self.conditions

    def summary(self) -> str:
        """One line: the conditions and what to do (what :class:`CollapseMonitor` warns with)."""
        if not self.conditions:
            return f"no problem found (PR-AUC {self.pr_auc:.3f}, F1 {self.f1:.3f} of {self.best_f1:.3f} at best)"
        return " ".join(self.advice)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN becomes None)."""
        return {
            "task": self.task,
            "num_samples": self.num_samples,
            "threshold": _json(self.threshold),
            "conditions": list(self.conditions),
            "counts": dict(self.counts),
            "pr_auc": _json(self.pr_auc),
            "f1": _json(self.f1),
            "best_f1": _json(self.best_f1),
            "previous_pr_auc": [_json(v) for v in self.previous_pr_auc],
            "advice": list(self.advice),
            "epoch": self.epoch,
            "classes": [c.to_dict() for c in self.classes],
        }

    def __str__(self) -> str:
        unit = "label" if self.task == "multilabel" else "class"
        n_cls = len(self.classes)
        if self.threshold == "argmax":
            decision = "argmax"
        elif isinstance(self.threshold, float):
            decision = f"score >= {self.threshold:g}"
        else:
            decision = "score >= a threshold per label"
        head = (f"Diagnosis: {self.task}, {self.num_samples} rows"
                + (f", {n_cls} {unit}{'es' if unit == 'class' else 's'}" if self.task != "binary" else "")
                + f", decision: {decision}"
                + (f", epoch {self.epoch}" if self.epoch is not None else ""))
        lines = [head, ""]
        lines += _class_table(self) if n_cls <= _TABLE_ROWS else _aggregate_table(self)
        f1_name = {"binary": "F1", "multiclass": "macro-F1", "multilabel": "micro-F1"}[self.task]
        best = "the best threshold" if self.task == "binary" else f"each {unit}'s best threshold"
        lines += ["", f"{f1_name} at the current decision: {self.f1:.3f}; at {best}: "
                      f"{self.best_f1:.3f} (chosen on these rows: optimistic). Mean PR-AUC: {self.pr_auc:.3f}"
                  + (f" (before: {', '.join(f'{v:.3f}' for v in self.previous_pr_auc[-3:])})"
                     if self.previous_pr_auc else "") + ".", ""]
        if not self.conditions:
            lines.append("No problem found: no collapse, no flooding, the threshold is near its best, the scores rank "
                         "above chance.")
        else:
            lines.append("Conditions and advice:")
            lines += [f"- {text}" for text in self.advice]
        return "\n".join(lines)


def _json(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _rate(value: float) -> str:
    return f"{100 * value:.2f}%" if value < 0.1 else f"{100 * value:.1f}%"


def _class_table(d: Diagnosis) -> list[str]:
    headers = ["class" if d.task != "multilabel" else "label", "support", "true rate", "predicted",
               "PR-AUC", "chance", "F1", "best F1 (at)", "conditions"]
    rows = []
    for c in d.classes:
        best = "—" if c.best_f1 is None else f"{c.best_f1:.3f} ({c.best_threshold:.3g})"
        rows.append([c.name, str(c.support), _rate(c.true_rate), _rate(c.predicted_rate), _fmt(c.pr_auc),
                     _fmt(c.chance_pr_auc), _fmt(c.f1), best, ", ".join(c.conditions) or "ok"])
    return _text_table(headers, rows)


def _aggregate_table(d: Diagnosis) -> list[str]:
    defined = [c for c in d.classes if c.pr_auc is not None]
    headers = ["", "mean", "min", "max"]

    def stat(values: list[float], fmt: Any) -> list[str]:
        return [fmt(float(np.mean(values))), fmt(float(np.min(values))), fmt(float(np.max(values)))]

    rows = [
        ["true rate", *stat([c.true_rate for c in d.classes], _rate)],
        ["predicted rate", *stat([c.predicted_rate for c in d.classes], _rate)],
        ["PR-AUC", *stat([c.pr_auc for c in defined], _fmt)],
        ["chance PR-AUC", *stat([c.chance_pr_auc for c in defined], _fmt)],
        ["F1", *stat([c.f1 for c in defined], _fmt)],
        ["best F1", *stat([c.best_f1 for c in defined], _fmt)],
    ]
    unit = "labels" if d.task == "multilabel" else "classes"
    counts = ", ".join(f"{name} {d.counts.get(name, 0)}" for name in CONDITIONS if name != "still_learning")
    undefined = len(d.classes) - len(defined)
    return _text_table(headers, rows) + [
        "", f"{unit.capitalize()} per condition (of {len(d.classes)}): {counts}"
        + (f"; {undefined} without both positives and negatives" if undefined else "") + "."]


def _text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    for r in rows:
        out.append("  ".join((cell.ljust(w) if i in (0, len(r) - 1) else cell.rjust(w))
                             for i, (cell, w) in enumerate(zip(r, widths))).rstrip())
    return out


# --- chance level of PR-AUC ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def chance_pr_auc(num_samples: int, num_positives: int, level: float = _CHANCE_LEVEL) -> float:
    """The ``level`` quantile of the PR-AUC (average precision) of a random ranking of ``num_samples`` rows of which
    ``num_positives`` are positive: scores whose PR-AUC does not exceed it rank no better than chance.

    Monte Carlo with a fixed seed, exact in distribution: the positives take sorted uniform positions, the negatives
    fall into the gaps between them as a multinomial draw, and ``AP = mean_i(i / rank_i)``. 400 to 2000 draws
    (about 400 000 positions in memory at a time), cached.

    >>> round(chance_pr_auc(2000, 67), 2)  # base rate 0.034; random rankings rarely exceed 0.06
    0.06
    """
    n, n1 = int(num_samples), int(num_positives)
    if not 0 < n1 < n:
        raise ValueError(f"`num_positives` must be in (0, num_samples). Received: num_positives={n1}, num_samples={n}")
    rng = np.random.default_rng([n, n1])
    draws = int(np.clip(_CHANCE_WORK // n1, _CHANCE_DRAWS[0], _CHANCE_DRAWS[1]))
    block = max(1, _CHANCE_WORK // n1)  # draws per block: about _CHANCE_WORK positions in memory at a time
    hits = np.arange(1, n1 + 1, dtype=np.float64)
    ap = []
    for start in range(0, draws, block):
        u = np.sort(rng.random((min(block, draws - start), n1)), axis=1)
        gaps = np.diff(u, axis=1, prepend=0.0, append=1.0)
        del u
        negatives_before = np.cumsum(rng.multinomial(n - n1, gaps)[:, :n1], axis=1)
        ap.append(np.mean(hits / (hits + negatives_before), axis=1))
    return float(np.quantile(np.concatenate(ap), level))


# --- input handling ------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    task: str
    truth: np.ndarray  # (n, C) bool, one column per reported class/label
    probs: np.ndarray  # (n, C) float64
    decisions: np.ndarray  # (n, C) bool
    threshold: float | list[float] | str
    columns: list[int]  # class/label index of each column


def _prepare(y_true: Any, scores: Any, threshold: Any, from_logits: bool, task: str | None) -> _Problem:
    s = check_scores(scores).astype(np.float64)
    if not isinstance(from_logits, (bool, np.bool_)):
        raise TypeError(f"`from_logits` must be True or False. Received: from_logits={from_logits!r}")
    width = 1 if s.ndim == 1 else s.shape[1]
    probe = inspect_labels(y_true, task=task)
    sparse = probe.format == "sparse"
    if sparse and width > 1:
        info = inspect_labels(y_true, num_classes=width, task=task)
    else:
        info = probe
    if info.num_samples != s.shape[0]:
        raise ValueError(f"`y_true` has {info.num_samples} rows but `scores` has {s.shape[0]}; give one score row per "
                         "label row.")
    n = info.num_samples

    if info.task == "multilabel":
        if width != info.num_classes:
            raise ValueError(f"Multi-label labels have {info.num_classes} columns but `scores` has shape {s.shape}; "
                             "give one score column per label.")
        probs = sigmoid(s) if from_logits else s
        if not from_logits:
            check_scores(probs, probabilities=True)
        truth = to_multi_hot(y_true).astype(bool)
        thr = _thresholds(threshold, info.num_classes)
        decisions = probs >= np.asarray(thr)
        return _Problem("multilabel", truth, probs, decisions, thr, list(range(info.num_classes)))

    if info.task == "binary" and width <= 2:
        ids = to_class_ids(y_true)
        if width == 1:
            z = s.reshape(-1)
            p = sigmoid(z) if from_logits else z
        else:
            p = softmax(s, axis=1)[:, 1] if from_logits else s[:, 1]
        if not from_logits:
            check_scores(s, probabilities=True)
        thr = _thresholds(threshold, 1)
        return _Problem("binary", (ids == 1)[:, None], p[:, None], (p >= thr)[:, None], thr, [1])

    # multi-class (or a binary label array against K > 2 score columns: read as K classes)
    if width == 1:
        raise ValueError(f"`scores` has one column but the labels have {info.num_classes} classes; give one score "
                         f"column per class, shape ({n}, {info.num_classes}).")
    if width != info.num_classes:
        raise ValueError(f"The labels have {info.num_classes} classes (one-hot columns) but `scores` has shape "
                         f"{s.shape}; give one score column per class.")
    if threshold is not None:
        raise ValueError(
            "Multi-class decisions are the argmax of the scores; `threshold` is only for binary and multi-label "
            f"scores. Received: threshold={quote(threshold)}. To predict one class above a threshold, use "
            "imbalance.thresholds.ThresholdTuner(class_id=k)."
        )
    probs = softmax(s, axis=1) if from_logits else s
    if not from_logits:
        check_scores(probs, probabilities=True)
    ids = to_class_ids(y_true, num_classes=width)
    k = np.arange(width)
    truth = ids[:, None] == k
    decisions = np.argmax(probs, axis=1)[:, None] == k
    return _Problem("multiclass", truth, probs, decisions, "argmax", list(range(width)))


def _thresholds(threshold: Any, num: int) -> float | list[float]:
    if threshold is None:
        return 0.5
    if np.ndim(threshold) == 0:
        return check_scalar("threshold", threshold, 0.0, 1.0)
    values = np.asarray(threshold, dtype=np.float64).reshape(-1)
    if values.size != num or np.ndim(threshold) != 1:
        raise ValueError(f"`threshold` must be a number or one value per label ({num}). Received: "
                         f"threshold={quote(threshold)}")
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"`threshold` must be in [0, 1]; entry {i} is {float(values[i])!r}. Received: "
                         f"threshold={quote(threshold)}")
    return [float(v) for v in values]


def _train_prior(train_prior: Any, problem: _Problem) -> np.ndarray | None:
    """Per reported column, the prior of the class (label) during training."""
    if train_prior is None:
        return None
    if isinstance(train_prior, Mapping):
        keys = sorted(int(k) for k in train_prior)
        train_prior = [train_prior[k] for k in keys] if keys == list(range(len(keys))) else train_prior
    values = np.asarray(train_prior.numpy() if hasattr(train_prior, "numpy") else train_prior, dtype=np.float64)
    values = values.reshape(-1)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"`train_prior` must hold finite values >= 0. Received: train_prior={quote(train_prior)}")
    task, c = problem.task, problem.truth.shape[1]
    if task == "binary":
        if values.size == 2:
            values = values[1:] / values.sum()
        elif values.size != 1:
            raise ValueError("For binary labels `train_prior` is the positive rate (one number) or [p0, p1]. "
                             f"Received: train_prior={quote(train_prior)}")
    elif task == "multiclass":
        if values.size != c:
            raise ValueError(f"`train_prior` must hold one prior per class ({c}). Received: "
                             f"train_prior={quote(train_prior)}")
        values = values / values.sum()
    elif values.size != c:
        raise ValueError(f"`train_prior` must hold one positive rate per label ({c}). Received: "
                         f"train_prior={quote(train_prior)}")
    if np.any((values <= 0) | (values >= 1)):
        i = int(np.argmax((values <= 0) | (values >= 1)))
        raise ValueError(f"`train_prior` must be strictly between 0 and 1 after normalisation; entry {i} is "
                         f"{float(values[i])!r}. Received: train_prior={quote(train_prior)}")
    return values


def _history_values(history: Any) -> list[float]:
    if history is None:
        return []
    if isinstance(history, (Diagnosis, float, int)) or np.ndim(history) == 0:
        history = [history]
    values = []
    for item in history:
        value = item.pr_auc if isinstance(item, Diagnosis) else item
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError("`history` must be a sequence of earlier Diagnosis objects or PR-AUC values. Received "
                            f"an item {item!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"`history` holds a non-finite PR-AUC {value!r}.")
        values.append(value)
    return values


# --- the analysis --------------------------------------------------------------------------------------------


def _ranking(truth: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: PR-AUC (scikit-learn's ``average_precision_score``), best F1 over every distinct threshold and that
    threshold (``score >= threshold`` is positive). One sort per column; tied scores are one threshold, read at the
    end of their run. Columns without positives give NaN.

    Memory: one column at a time, the counts at the ends of the runs of tied scores only
    (:func:`imbalance._numeric.run_end_counts`: a diagnosis of millions of test rows stays small).
    """
    columns = probs.shape[1]
    pr_auc, best_f1, best_threshold = (np.full(columns, np.nan) for _ in range(3))
    for j in range(columns):
        thresholds, predicted, tp = run_end_counts(truth[:, j], probs[:, j])
        positives = tp[-1] if len(tp) else 0.0
        if positives == 0:
            continue
        gained = np.diff(tp, prepend=0.0)  # positives in each run: recall gained at its threshold
        pr_auc[j] = float(np.sum(gained * (tp / predicted)) / positives)  # mean precision over the positives
        f1 = 2.0 * tp / (predicted + positives)
        best = int(np.argmax(f1))
        best_f1[j], best_threshold[j] = float(f1[best]), float(thresholds[best])
    return pr_auc, best_f1, best_threshold


def diagnose(
    y_true: Any,
    scores: Any,
    threshold: float | Sequence[float] | None = None,
    from_logits: bool = False,
    train_prior: Any = None,
    history: Sequence[Any] | None = None,
    *,
    task: str | None = None,
    class_names: Sequence[str] | None = None,
    collapse_ratio: float = 0.05,
    f1_gap: float = 0.2,
    min_positives: int = 10,
    min_fraction: float = 0.25,
    min_delta: float = 0.005,
) -> Diagnosis:
    """Why do these scores give bad decisions? Per class (label): true vs predicted positive rate, PR-AUC against
    chance, F1 at the current decision vs at the best threshold — and the conditions that explain a failure.

    Args:
        y_true: labels in any format of :func:`imbalance.labels.inspect_labels`: binary ids ``(n,)``, multi-class ids
            or one-hot, multi-label multi-hot ``(n, L)``.
        scores: binary ``(n,)`` / ``(n, 1)`` (sigmoid) or ``(n, 2)`` (softmax); multi-class ``(n, K)``; multi-label
            ``(n, L)``. Probabilities, or logits with ``from_logits=True``.
        threshold: binary and multi-label decisions are ``probability >= threshold`` (default 0.5; a number or one
            per label; on probabilities, also when ``from_logits=True``). Multi-class decisions are the argmax: leave
            it None.
        from_logits: whether ``scores`` are logits (sigmoid / softmax applied here).
        train_prior: the class prior the model was trained under, when it differs from the data (after
            resampling, e.g. 0.5 after balanced oversampling): binary positive rate (or ``[p0, p1]``), multi-class
            ``K`` priors (or counts), multi-label ``L`` positive rates. Flags ``prior_shift`` where the odds differ
            by more than 1.5×.
        history: earlier results of the same model on the same rows, oldest first — :class:`Diagnosis` objects or
            their ``pr_auc`` values. ``still_learning`` holds when the mean PR-AUC now exceeds the best earlier one
            by more than ``min_delta``.
        task: force ``"multilabel"`` when every row happens to hold exactly one positive label.
        class_names: names of the classes (labels) for the report.
        collapse_ratio: ``collapsed`` when at most this fraction of the true positives' number is predicted
            positive; ``flooded`` when at most this fraction of the true negatives' number is predicted negative (in
            multi-class problems, not for the most frequent class: everything predicted as the majority is the
            other classes' collapse).
        f1_gap: ``threshold_off`` when F1 at the current decision is below ``(1 - f1_gap)`` × the best F1, the
            PR-AUC is above chance, and the class is neither collapsed nor flooded (those conditions already say
            the threshold is wrong).
        min_positives: classes with fewer positives are not judged on their ranking (``threshold_off``,
            ``no_signal``): a best threshold chosen on so few rows means little.
        min_fraction: a multi-label condition holds for the model when it holds for at least this fraction of the
            labels that have positives and negatives.
        min_delta: the PR-AUC rise that counts as still learning.

    Chance: ``no_signal`` holds when the PR-AUC does not exceed the 99th percentile of the PR-AUC of random
    rankings of the same rows (:func:`chance_pr_auc`).

    Raises:
        ValueError: for scores of the wrong shape, NaN or infinite scores, probabilities outside [0, 1] without
            ``from_logits``, a bad threshold or prior, and labels with a single class (or multi-label labels where no
            label has both positives and negatives).

    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1] * 20)
    >>> diagnose(y, np.where(y == 1, 0.9, 0.1)).conditions
    ()
    >>> diagnose(y, np.where(y == 1, 0.99, 0.6)).conditions  # everything above 0.5: flooded
    ('flooded',)
    """
    problem = _prepare(y_true, scores, threshold, from_logits, task)
    collapse_ratio = check_scalar("collapse_ratio", collapse_ratio, 0.0, 1.0)
    f1_gap = check_scalar("f1_gap", f1_gap, 0.0, 1.0)
    min_fraction = check_scalar("min_fraction", min_fraction, 0.0, 1.0, low_inclusive=False)
    min_delta = check_scalar("min_delta", min_delta, 0.0)
    if isinstance(min_positives, bool) or not isinstance(min_positives, (int, np.integer)) or min_positives < 1:
        raise ValueError(f"`min_positives` must be a positive integer. Received: min_positives={min_positives!r}")
    previous = _history_values(history)
    priors = _train_prior(train_prior, problem)
    names = _names(class_names, problem)

    n, c = problem.truth.shape
    counts_true = problem.truth.sum(axis=0)
    majority = int(np.argmax(counts_true)) if problem.task == "multiclass" else -1
    present = np.flatnonzero(counts_true)
    single = None
    if problem.task == "binary" and counts_true[0] in (0, n):
        single = int(counts_true[0] == n)
    elif problem.task == "multiclass" and present.size < 2:
        single = int(present[0])
    if single is not None:
        raise ValueError(f"`y_true` holds a single class ({single}) in all {n} rows; a diagnosis needs rows of at "
                         "least two classes.")
    if problem.task == "multilabel" and not np.any((counts_true > 0) & (counts_true < n)):
        raise ValueError(f"No label of `y_true` has both positive and negative rows ({n} rows, positives per label "
                         f"{counts_true.astype(int).tolist()}); a diagnosis needs both.")

    pr_aucs, best_f1s, best_thresholds = _ranking(problem.truth, problem.probs)
    predicted_counts = problem.decisions.sum(axis=0)
    true_positives = np.sum(problem.truth & problem.decisions, axis=0)
    rows: list[ClassDiagnosis] = []
    for j in range(c):
        n1, predicted = int(counts_true[j]), int(predicted_counts[j])
        ranked = 0 < n1 < n
        stats: dict[str, Any] = {
            "support": n1, "true_rate": n1 / n, "predicted_rate": predicted / n,
            "f1": 2.0 * float(true_positives[j]) / (n1 + predicted) if n1 + predicted else 0.0,
            "pr_auc": float(pr_aucs[j]) if ranked else None,
            "chance_pr_auc": chance_pr_auc(n, n1) if ranked else None,
            "best_f1": float(best_f1s[j]) if ranked else None,
            "best_threshold": float(best_thresholds[j]) if ranked else None,
        }
        flags: list[str] = []
        if ranked:
            if predicted <= collapse_ratio * n1:
                flags.append("collapsed")
            elif n - predicted <= collapse_ratio * (n - n1) and problem.columns[j] != majority:
                flags.append("flooded")
            if n1 >= min_positives:
                signal = stats["pr_auc"] > stats["chance_pr_auc"]
                if not signal:
                    flags.append("no_signal")
                elif not flags and stats["f1"] < (1.0 - f1_gap) * stats["best_f1"]:
                    flags.append("threshold_off")
        prior = None if priors is None else float(priors[j])
        if prior is not None and stats["pr_auc"] is not None:
            rate = stats["true_rate"]
            odds_ratio = (prior / (1 - prior)) / (rate / (1 - rate))
            if max(odds_ratio, 1 / odds_ratio) > PRIOR_ODDS_RATIO:
                flags.append("prior_shift")
        rows.append(ClassDiagnosis(index=problem.columns[j], name=names[j], train_prior=prior,
                                   conditions=tuple(flags), **stats))

    defined = [r for r in rows if r.pr_auc is not None]
    counts = {name: sum(name in r.conditions for r in rows) for name in CONDITIONS}
    if problem.task == "multilabel":
        needed = min_fraction * len(defined)
        found = {name for name, k in counts.items() if k > 0 and k >= needed}
    else:
        found = {name for name, k in counts.items() if k > 0}
    pr_auc = float(np.mean([r.pr_auc for r in defined]))
    if previous and pr_auc - max(previous) > min_delta:
        found.add("still_learning")
        counts["still_learning"] = len(defined)
    conditions = tuple(name for name in CONDITIONS if name in found)
    f1, best_f1 = _summary_f1(problem, rows)
    diagnosis = Diagnosis(task=problem.task, num_samples=n, threshold=problem.threshold, classes=rows,
                          conditions=conditions, counts=counts, pr_auc=pr_auc, f1=f1, best_f1=best_f1,
                          previous_pr_auc=previous)
    diagnosis.advice = _advice(diagnosis)
    return diagnosis


def _names(class_names: Sequence[str] | None, problem: _Problem) -> list[str]:
    c = problem.truth.shape[1]
    if class_names is None:
        prefix = "label " if problem.task == "multilabel" else "class "
        return [f"{prefix}{k}" for k in problem.columns]
    names = [str(v) for v in class_names]
    if problem.task == "binary" and len(names) == 2:
        return names[1:]
    if len(names) != c:
        expected = "2 (negative, positive) or 1" if problem.task == "binary" else str(c)
        raise ValueError(f"`class_names` must hold {expected} names. Received {len(names)}: {names[:10]}")
    return names


def _summary_f1(problem: _Problem, rows: list[ClassDiagnosis]) -> tuple[float, float]:
    defined = [r for r in rows if r.pr_auc is not None]
    if problem.task == "binary":
        return rows[0].f1, float(rows[0].best_f1)
    if problem.task == "multiclass":
        return float(np.mean([r.f1 for r in defined])), float(np.mean([r.best_f1 for r in defined]))
    truth, probs, decisions = problem.truth, problem.probs, problem.decisions
    best_thr = np.array([r.best_threshold if r.best_threshold is not None else np.inf for r in rows])
    best_decisions = np.where(np.isfinite(best_thr), probs >= np.where(np.isfinite(best_thr), best_thr, 0.0),
                              decisions)

    def micro(d: np.ndarray) -> float:
        tp, total = float(np.sum(truth & d)), float(truth.sum() + d.sum())
        return 2.0 * tp / total if total else 0.0

    return micro(decisions), micro(best_decisions)


def _listing(rows: list[ClassDiagnosis], condition: str, limit: int = 6) -> str:
    names = [r.name for r in rows if condition in r.conditions]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _advice(d: Diagnosis) -> list[str]:
    """One sentence or two per condition: what is wrong (with numbers) and what to do."""
    out = []
    rows = d.classes
    unit = "labels" if d.task == "multilabel" else "classes"
    defined = [r for r in rows if r.pr_auc is not None]

    def who(condition: str) -> str:
        if d.task == "binary":
            return "positive class"
        k = d.counts[condition]
        if k == len(defined):
            return f"all {k} {unit}"
        return f"{k} of {len(defined)} {unit}: {_listing(rows, condition)}"

    def hit(condition: str) -> list[ClassDiagnosis]:
        return [r for r in rows if condition in r.conditions and r.pr_auc is not None]

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    def rates(condition: str) -> str:
        h = hit(condition)
        return (f"predicted positive rate {_rate(mean([r.predicted_rate for r in h]))} vs true rate "
                f"{_rate(mean([r.true_rate for r in h]))}")

    def ranking(condition: str, h: list[ClassDiagnosis] | None = None) -> str:
        h = hit(condition) if h is None else h
        return f"PR-AUC {mean([r.pr_auc for r in h]):.3f} vs {mean([r.chance_pr_auc for r in h]):.3f} by chance"

    learning = "still_learning" in d.conditions
    if "collapsed" in d.conditions:
        text = f"Collapsed ({who('collapsed')}): {rates('collapsed')}."
        if learning:
            text += " The model is still learning: train longer before changing the loss or the weights."
        else:
            text += (" If validation PR-AUC is still rising, train longer; start the output bias at the log prior "
                     "(imbalance.weighting.output_bias).")
        ranked = [r for r in hit("collapsed") if r.pr_auc > r.chance_pr_auc]
        if ranked:
            text += (f" The scores rank above chance ({ranking('collapsed', ranked)}): a threshold tuned with "
                     f"imbalance.thresholds.ThresholdTuner reaches F1 {mean([r.best_f1 for r in ranked]):.3f} on "
                     "these rows.")
        out.append(text)
    if "flooded" in d.conditions:
        out.append(f"Flooded ({who('flooded')}): {rates('flooded')}. Lower pos_weight / class weights (a weight w "
                   "moves the 0.5 threshold to 1/(1+w); see imbalance.weighting.explain_weights), then tune the "
                   "threshold with imbalance.thresholds.ThresholdTuner.")
    if "threshold_off" in d.conditions:
        h = hit("threshold_off")
        at = f" ({h[0].best_threshold:.3g})" if len(h) == 1 else ""
        out.append(f"Threshold off ({who('threshold_off')}): {ranking('threshold_off')}, but F1 "
                   f"{mean([r.f1 for r in h]):.3f} at the current decision vs {mean([r.best_f1 for r in h]):.3f} at "
                   f"the best threshold{at}. Tune the threshold with imbalance.thresholds.ThresholdTuner; the loss "
                   "is not the problem.")
    if "no_signal" in d.conditions:
        text = f"No signal ({who('no_signal')}): {ranking('no_signal')}, no better than a random ranking"
        if learning:
            text += (" so far; PR-AUC is still rising, so judge again after more epochs. If it stays at chance, no "
                     "loss, weight or threshold fixes that: check the features and labels, or get more data.")
        else:
            text += (". No loss, weight or threshold fixes that: check the features and labels, or get more data.")
        out.append(text)
    if learning:
        out.append(f"Still learning: mean validation PR-AUC rose to {d.pr_auc:.3f} from {max(d.previous_pr_auc):.3f}. "
                   "Train longer (more epochs or a higher learning rate).")
    if "prior_shift" in d.conditions:
        example = hit("prior_shift")[0]
        out.append(f"Prior shift ({who('prior_shift')}): trained under a prior of {_rate(example.train_prior)} "
                   f"({example.name}) vs {_rate(example.true_rate)} here, so the probabilities are off by that "
                   "ratio. Correct them with imbalance.thresholds.prior_shift(probs, train_prior, target_prior) or "
                   "tune the threshold on validation data.")
    return out


# --- the Keras callback --------------------------------------------------------------------------------------
