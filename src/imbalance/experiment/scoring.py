"""Scoring of one run: the threshold chosen on training rows, and every number measured on the unit's test rows.

The objective is the public :class:`imbalance.thresholds.Objective`; the test score of a decision is
:func:`decision_scores` (micro-averaged over labels for multi-label data).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from imbalance._numeric import run_end_counts
from imbalance.experiment.data import ComparisonData
from imbalance.thresholds import Objective

__all__ = ["MAX_STORED_SCORES", "decision_scores", "diagnosis", "evaluate", "metric_name", "tune"]

#: Test sets up to this size keep the target's scores in the record, so the report can pool a seed's folds.
MAX_STORED_SCORES = 5000


def metric_name(objective: Objective) -> str:
    """The column name of the objective's test score: ``"f1"``, ``"f2"``, ``"recall@precision>=0.9"``,
    ``"cost/row"``.

    >>> from imbalance.thresholds import parse_objective
    >>> metric_name(parse_objective("fbeta:2")), metric_name(parse_objective("cost:fp=1,fn=5"))
    ('f2', 'cost/row')
    """
    return "cost/row" if objective.kind == "cost" else str(objective)


def decision_scores(objective: Objective, y: np.ndarray, decision: np.ndarray) -> dict[str, float]:
    """Objective, precision, recall and F-beta of 0/1 decisions (flattened for multi-label: micro-averaged);
    ``held`` for a constraint; a cost objective's value is the cost per row (lower is better).

    >>> from imbalance.thresholds import parse_objective
    >>> s = decision_scores(parse_objective("recall@precision>=0.5"), np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    >>> s["objective"], s["precision"], s["held"]
    (0.5, 0.5, 1.0)
    """
    y = np.asarray(y).astype(bool).ravel()
    d = np.asarray(decision).astype(bool).ravel()
    tp = float(np.sum(y & d))
    fp = float(np.sum(~y & d))
    fn = float(np.sum(y & ~d))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    out = {"precision": precision, "recall": recall}
    b2 = objective.beta**2
    fbeta = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp) if tp else 0.0
    out["fbeta"] = fbeta
    if objective.kind == "fbeta":
        out["objective"] = fbeta
    elif objective.kind == "recall_at_precision":
        out["objective"] = recall
        out["held"] = float(precision >= objective.target)
    elif objective.kind == "precision_at_recall":
        out["objective"] = precision
        out["held"] = float(recall >= objective.target)
    else:
        out["objective"] = (objective.fp * fp + objective.fn * fn) / len(y)
    return out


def tune(d: ComparisonData, objective: str, class_id: int | None, confidence: Any, y: np.ndarray,
         scores: np.ndarray) -> tuple[Any, str]:
    """A fitted decision rule and a note on how it was chosen (empty, or why it is a fallback).

    The rule is a :class:`~imbalance.thresholds.ThresholdTuner` fitted for ``objective`` (the user's text), or,
    for multi-class data without ``class_id``, ``None`` (argmax). When a label has no positives in the tuning
    rows, a :class:`~imbalance.thresholds.FixedThreshold` at 0.5 is kept and the note says why.
    """
    from imbalance.thresholds import ThresholdTuner

    if d.task == "multiclass" and class_id is None:
        return None, "argmax"
    kwargs: dict[str, Any] = {"objective": objective, "on_unreachable": "best"}
    if class_id is not None:
        kwargs["class_id"] = int(class_id)
    if confidence != "auto":
        kwargs["confidence"] = confidence
    tuner = ThresholdTuner(**kwargs)
    fit_scores = scores[:, 0] if d.task == "binary" else scores
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tuner.fit(y, fit_scores)
        except ValueError as error:
            # A label with no positives in the tuning rows cannot get a threshold: keep 0.5 and say so.
            from imbalance.thresholds import FixedThreshold

            rule = FixedThreshold("argmax" if d.task == "multiclass" else 0.5)
            return rule.fit(y, fit_scores), f"threshold 0.5 kept: {error}"
    return tuner, "; ".join(str(w.message) for w in caught)


def evaluate(d: ComparisonData, objective: Objective, class_id: int | None, rule: Any, y: np.ndarray,
             scores: np.ndarray) -> dict[str, Any]:
    """Every test number of one run at the decision ``rule`` (``None``: argmax) and at the untuned default."""
    from sklearn.metrics import average_precision_score

    out: dict[str, Any] = {}
    if d.task == "binary":
        decision = np.asarray(rule.predict(scores[:, 0])).reshape(-1).astype(np.int8)
        result = decision_scores(objective, y, decision)
        curve = _precision_recall(y, scores[:, 0]) if y.any() and len(y) > LEAN_CURVE_ROWS else None
        out["pr_auc"] = (float("nan") if not y.any() else _average_precision(*curve) if curve is not None else
                         float(average_precision_score(y, scores[:, 0])))
        cm = _confusion(y, decision, 2)
        out["balanced_accuracy"] = _balanced_accuracy(y, decision, 2, cm)
        out["confusion"] = cm.tolist()
        out["pr_curve"] = _pr_curve(y, scores[:, 0], curve=curve)
        del curve  # one point per distinct score: not kept while the rest is computed
        out["threshold"] = [float(np.ravel(rule.thresholds_)[0])]
        predicted = decision
    elif d.task == "multilabel":
        y = np.asarray(y).astype(np.int64)
        decision = np.asarray(rule.predict(scores)).astype(np.int64)
        result = decision_scores(objective, y, decision)
        present = y.sum(axis=0) > 0
        out["pr_auc"] = float(average_precision_score(y[:, present], scores[:, present], average="micro"))
        out["macro_pr_auc"] = float(average_precision_score(y[:, present], scores[:, present], average="macro"))
        out["balanced_accuracy"] = float("nan")
        out["confusion"] = _micro_confusion(y, decision)
        out["pr_curve"] = _pr_curve(y.ravel(), scores.ravel())
        out["threshold"] = [float(t) for t in np.ravel(rule.thresholds_)]
        out["positives_per_row"] = float(decision.sum(axis=1).mean())
        predicted = decision
    else:
        predicted = scores.argmax(axis=1) if rule is None else np.asarray(rule.predict(scores)).reshape(-1).astype(
            np.int64)
        cm = _confusion(y, predicted, d.num_classes)
        out["balanced_accuracy"] = _balanced_accuracy(y, predicted, d.num_classes, cm)
        out["confusion"] = cm.tolist()
        if class_id is not None:
            result = decision_scores(objective, y == class_id, predicted == class_id)
            positive = (y == class_id).astype(int)
            out["pr_auc"] = (float(average_precision_score(positive, scores[:, class_id])) if positive.any()
                             else float("nan"))
            out["pr_curve"] = _pr_curve(positive, scores[:, class_id])
            out["threshold"] = [float(t) for t in np.ravel(rule.thresholds_)[:1]]  # [] for an argmax fallback
        else:
            from sklearn.metrics import fbeta_score

            onehot = np.eye(d.num_classes, dtype=int)[y]
            present = onehot.sum(axis=0) > 0
            value = float(fbeta_score(y, predicted, beta=objective.beta, average="macro", zero_division=0))
            result = {"objective": value, "fbeta": value, "precision": float("nan"), "recall": float("nan")}
            out["pr_auc"] = float(average_precision_score(onehot[:, present], scores[:, present], average="macro"))
            out["pr_curve"] = _pr_curve(onehot.ravel(), scores.ravel())
            out["threshold"] = []
    out.update({k: float(v) for k, v in result.items()})
    out.update(_untuned(d, objective, class_id, y, scores))
    target = _target_scores(d, class_id, y, scores)
    if target is not None and len(target[0]) <= MAX_STORED_SCORES:
        # Small test sets: keep the target's scores so the report can pool the folds of a seed into one curve.
        out["test_target"] = {"y": [int(v) for v in target[0]], "score": [round(float(v), 6) for v in target[1]]}
    if d.task != "multilabel":
        out["per_class"] = _per_class(y, predicted, d.num_classes if d.task == "multiclass" else 2, cm)
    return out


def _target_scores(d: ComparisonData, class_id: int | None, y: np.ndarray,
                   scores: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The binary view the objective is about: (is-positive, score) for the positive class or ``class_id``."""
    if d.task == "binary":
        return np.asarray(y).astype(np.int8), scores[:, 0]
    if d.task == "multiclass" and class_id is not None:
        return (np.asarray(y) == class_id).astype(np.int8), scores[:, class_id]
    return None


def _untuned(d: ComparisonData, objective: Objective, class_id: int | None, y: np.ndarray,
             scores: np.ndarray) -> dict[str, Any]:
    """The objective, precision, recall, confusion matrix and balanced accuracy at the default decision (0.5, or
    argmax for multi-class): what the user gets without a tuned threshold, and what the ``<strategy>@0.5``
    candidates are scored on."""
    out: dict[str, Any] = {}
    if d.task == "multiclass":
        if class_id is None:
            return {}
        predicted = scores.argmax(axis=1)
        result = decision_scores(objective, y == class_id, predicted == class_id)
        cm = _confusion(y, predicted, d.num_classes)
        out["untuned_confusion"] = cm.tolist()
        out["untuned_balanced_accuracy"] = _balanced_accuracy(y, predicted, d.num_classes, cm)
        out["untuned_per_class"] = _per_class(y, predicted, d.num_classes, cm)
    elif d.task == "multilabel":
        truth = np.asarray(y).astype(np.int64)
        decision = (scores >= 0.5).astype(np.int64)
        result = decision_scores(objective, truth, decision)
        out["untuned_confusion"] = _micro_confusion(truth, decision)
        out["untuned_positives_per_row"] = float(decision.sum(axis=1).mean())
    else:
        decision = (scores[:, 0] >= 0.5).astype(np.int8)
        result = decision_scores(objective, y, decision)
        cm = _confusion(y, decision, 2)
        out["untuned_confusion"] = cm.tolist()
        out["untuned_balanced_accuracy"] = _balanced_accuracy(y, decision, 2, cm)
        out["untuned_per_class"] = _per_class(y, decision, 2, cm)
    out.update({"untuned_objective": result["objective"], "untuned_precision": result["precision"],
                "untuned_recall": result["recall"]})
    return out


def _confusion(y: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """``confusion_matrix(y, predicted, labels=range(k))``; above :data:`LEAN_CURVE_ROWS` rows one ``bincount``
    (scikit-learn's checks hold several int64 copies of every row)."""
    if len(y) <= LEAN_CURVE_ROWS:
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(y, predicted, labels=list(range(k)))
    pairs = np.asarray(y).astype(np.int32) * k + np.asarray(predicted).astype(np.int32)
    return np.bincount(pairs, minlength=k * k).reshape(k, k)


def _balanced_accuracy(y: np.ndarray, predicted: np.ndarray, k: int, cm: np.ndarray) -> float:
    """``balanced_accuracy_score``: the mean recall of the classes present in ``y`` (read from ``cm`` above
    :data:`LEAN_CURVE_ROWS` rows)."""
    if len(y) <= LEAN_CURVE_ROWS:
        from sklearn.metrics import balanced_accuracy_score

        return float(balanced_accuracy_score(y, predicted))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.diag(cm) / cm.sum(axis=1)
    return float(np.mean(per_class[~np.isnan(per_class)]))


def _micro_confusion(y: np.ndarray, decision: np.ndarray) -> list[list[int]]:
    """The 2 x 2 confusion matrix of every (row, label) decision of a multi-label problem."""
    return [[int(((1 - y) & (1 - decision)).sum()), int(((1 - y) & decision).sum())],
            [int((y & (1 - decision)).sum()), int((y & decision).sum())]]


def _per_class(y: np.ndarray, predicted: np.ndarray, k: int, cm: np.ndarray | None = None) -> dict[str, list[float]]:
    if cm is None or len(y) <= LEAN_CURVE_ROWS:
        from sklearn.metrics import precision_recall_fscore_support

        p, r, _, s = precision_recall_fscore_support(y, predicted, labels=list(range(k)), zero_division=0)
    else:  # precision_recall_fscore_support(zero_division=0) from the confusion matrix
        tp, predicted_sum, s = np.diag(cm).astype(float), cm.sum(axis=0), cm.sum(axis=1)
        p = np.divide(tp, predicted_sum, out=np.zeros_like(tp), where=predicted_sum > 0)
        r = np.divide(tp, s, out=np.zeros_like(tp), where=s > 0)
    return {"precision": [float(v) for v in p], "recall": [float(v) for v in r], "support": [int(v) for v in s]}


#: Above this many test rows, a binary curve is computed by :func:`_precision_recall` (about 30 bytes a row at its
#: peak) instead of scikit-learn's ``precision_recall_curve`` (about 65): the same numbers, tested against it.
LEAN_CURVE_ROWS = 1_000_000


def _precision_recall(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``precision_recall_curve(y, scores)[:2]`` (scikit-learn's rule: one point per distinct score, read at the
    end of its run of ties, from the highest threshold down, then ``(1, 0)``) in flat memory
    (:func:`imbalance._numeric.run_end_counts`)."""
    if len(y) <= LEAN_CURVE_ROWS:
        from sklearn.metrics import precision_recall_curve

        precision, recall, _ = precision_recall_curve(y, scores)
        return precision, recall
    _, predicted, tps = run_end_counts(y, scores)
    # written reversed straight into the curves (no reversed copies of a million points)
    precision, recall = np.empty(len(tps) + 1), np.empty(len(tps) + 1)
    np.divide(tps[::-1], predicted[::-1], out=precision[:-1])  # at least one row predicted at every threshold
    del predicted
    if tps[-1]:
        np.divide(tps[::-1], tps[-1], out=recall[:-1])
    else:
        recall[:-1] = 1.0
    precision[-1], recall[-1] = 1.0, 0.0
    return precision, recall


def _average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """``average_precision_score`` from its curve: ``-sum(diff(recall) * precision[:-1])``."""
    return float(max(0.0, -np.dot(np.diff(recall), np.asarray(precision)[:-1])))


def _pr_curve(y: np.ndarray, scores: np.ndarray, points: int = 200,
              curve: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, list[float]]:
    if not np.any(y):
        return {"precision": [], "recall": []}
    precision, recall = curve if curve is not None else _precision_recall(y, scores)
    if len(precision) > points:
        keep = np.unique(np.linspace(0, len(precision) - 1, points).round().astype(int))
        precision, recall = precision[keep], recall[keep]
    return {"precision": [round(float(v), 5) for v in precision], "recall": [round(float(v), 5) for v in recall]}


def diagnosis(d: ComparisonData, y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The after-the-fact diagnosis of the test scores at the default threshold (its text and its fields)."""
    from imbalance.diagnose import diagnose

    try:
        result = diagnose(y, scores[:, 0] if d.task == "binary" else scores)
        return {"text": str(result), **result.to_dict()}
    except ValueError as error:
        return {"text": f"no diagnosis: {error}"}
