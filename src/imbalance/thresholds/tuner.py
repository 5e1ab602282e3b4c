"""Decision rules with the scikit-learn interface: :class:`ThresholdTuner` (tuned for an objective) and
:class:`FixedThreshold` (0.5, a value, or argmax: nothing tuned)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from imbalance._files import atomic_write_text
from imbalance._numeric import sigmoid, softmax
from imbalance._validation import check_scalar, check_scores, quote
from imbalance.labels import TASKS, inspect_labels, to_class_ids, to_multi_hot
from imbalance.thresholds.layers import ArgmaxLayer, ThresholdLayer
from imbalance.thresholds.objective import Objective, parse_objective
from imbalance.thresholds.search import _Choice, _lower_bound, _search, _upper_bound

def _multiclass_decisions(probs: np.ndarray, class_id: int, threshold: float) -> np.ndarray:
    others = probs.copy()
    others[:, class_id] = -np.inf
    return np.where(probs[:, class_id] >= threshold, class_id, np.argmax(others, axis=1)).astype(np.int64)


# --- the tuner -------------------------------------------------------------------------------------------------

_ON_UNREACHABLE = ("raise", "best")
_FILE_FORMAT = "imbalance.ThresholdTuner"


def _scores_to_decide(scores: Any, task: str, k: int, what: str) -> np.ndarray:
    """``scores`` checked against the shape a fitted tuner or rule (``what``) expects."""
    arr = check_scores(scores)
    if task == "binary":
        if arr.ndim == 2 and arr.shape[1] != 1:
            raise ValueError(f"This {what} was fitted on binary scores; `scores` must have shape (n,) or (n, 1). "
                             f"Received shape {arr.shape}.")
    elif arr.ndim != 2 or arr.shape[1] != k:
        raise ValueError(f"This {what} was fitted on scores with {k} columns; `scores` must have shape (n, {k}). "
                         f"Received shape {arr.shape}.")
    return arr


class ThresholdTuner:
    """Choose decision thresholds (``score >= threshold``) for an objective on validation or out-of-fold scores.

    Tasks, decided from the labels (through :mod:`imbalance.labels`) and the scores' shape:

    * **binary** — scores ``(n,)`` or ``(n, 1)`` for the positive class; ``thresholds_`` has one entry;
      :meth:`predict` gives 0/1 in the scores' shape.
    * **multi-label** — multi-hot labels ``(n, L)`` and scores ``(n, L)``: one threshold per label, each tuned for
      the objective on its own column; :meth:`predict` gives a 0/1 matrix.
    * **multi-class** — class ids or one-hot labels and scores ``(n, K)`` (rows of a softmax): with ``class_id=k``
      the rule predicts ``k`` when its probability is ``>= thresholds_[0]``, else the most probable other class;
      the objective is measured on class ``k`` against the rest. ``class_id`` is required when ``K > 2``
      (``K == 2`` defaults to class 1). For argmax over all classes no threshold is needed.

    **The search is exact.** Every distinct score is a candidate; the objectives here all improve with more true
    positives and fewer false positives, so the best threshold is always the score of a positive row (a threshold at
    a negative row's score has the same true positives as the next positive score above it and more false
    positives). Each class is sorted once, the counts at every candidate are vectorised, and ties between equally
    good thresholds go to the largest threshold. ``"cost"`` also considers predicting nothing (threshold ``+inf``).

    **Which setting when.** A constraint (``recall@precision>=P``) set on the point estimate of a small validation
    set misses the target on new data about half the time. Measured on the 12 KEEL development datasets (5x2 CV,
    BENCHMARKS.md "Do tuned thresholds hold on unseen data?"): validation splits held a median of 7 positives and
    a point-estimate threshold for precision >= 0.8 kept test precision >= 0.8 in 51 % of the folds where it met
    the target (62 % on out-of-fold scores); with ``confidence=0.9`` on out-of-fold scores it held in 90 % (36/40),
    at the price of certifying the target in only 40 of 120 folds.

    * ``confidence`` (default ``"auto"``: 0.9 for constraints, unused for F-beta and cost) — a threshold is eligible
      only where the one-sided Clopper-Pearson lower bound (exact, conservative; ``scipy`` beta quantiles) of the
      constrained metric on the tuning counts reaches the target. For ``recall@precision``, thresholds are walked
      from the highest down: the chosen one is the lowest of the first run of eligible thresholds (fixed-sequence
      testing). Taking the lowest of *all* eligible thresholds would test many and keep a lucky one: in
      simulations (Gaussian scores, 100 positives, target 0.9) its true precision met the target in 84 % of draws
      at ``confidence=0.9``, against 93 % for the fixed-sequence rule. Use it whenever the constraint matters;
      expect less recall, and an :class:`UnreachableTargetError` when the data cannot support the target (with 10
      positives and no false positive the bound is 0.79 at 0.9).
    * ``confidence=None`` — the point estimate: the most recall (precision) on the tuning data; fine for F-beta,
      cost, and constraints on thousands of positives.
    * Cross-validation — tune on out-of-fold scores of every labelled row (:func:`out_of_fold_scores`, or your own
      folds concatenated) instead of one validation split: k times more positives, so tighter bounds and more
      recall at the same confidence. Use it when a validation split would hold fewer than a few dozen positives;
      then serve one model retrained on all rows (or the fold models' mean) with the tuned thresholds.

    Args:
        objective: an objective string or :class:`Objective` (see :func:`parse_objective`).
        class_id: the class to threshold for multi-class scores.
        confidence: ``"auto"``, ``None`` or a level in ``[0.5, 1)``. With F-beta and cost a level only adds the
            intervals to ``achieved_``.
        on_unreachable: ``"raise"`` (an :class:`UnreachableTargetError` that states the best achievable value) or
            ``"best"`` (the threshold that comes closest — the largest lower bound of the constrained metric — with
            an :class:`UnreachableTargetWarning`).
        from_logits: the scores are logits. Binary / multi-label thresholds are searched on the logits (sigmoid
            is monotone: the same decisions, no saturation) and ``thresholds_`` reports them as probabilities;
            multi-class logits are turned into softmax probabilities. :meth:`predict` and :meth:`to_layer` take
            scores on the scale given to :meth:`fit`.
        task: ``"multilabel"`` when multi-label targets have exactly one positive per row (they would otherwise
            read as one-hot multi-class labels); ``None`` decides from the labels.

    Attributes:
        thresholds_: ``np.ndarray`` of probabilities (or of the scores' own scale when they are neither
            probabilities nor ``from_logits``), one per label (multi-label) or one entry (binary, and the class
            threshold of ``class_id``). ``+inf`` means "never predict positive".
        score_thresholds_: the same on the scale of the scores given to :meth:`fit` (logits with ``from_logits``).
        best_score_: the objective on the tuning data at the chosen threshold(s): F-beta, recall (for
            ``recall@precision``), precision (for ``precision@recall``) or the mean cost per row (lower is better);
            a float, or an array per label.
        achieved_: what the threshold achieved on the tuning data: ``tp``, ``fp``, ``fn``, ``tn``, ``precision``,
            ``recall``, ``reached`` (whether the constraint was met) and, with a confidence level, the one-sided
            Clopper-Pearson bounds ``precision_lower`` / ``precision_upper`` / ``recall_lower`` /
            ``recall_upper`` (each one-sided at the level, so together a ``2 * confidence - 1`` interval) and
            ``confidence``. Floats, or arrays per label.
        task_, num_outputs_, class_id_, objective_ (the parsed objective), confidence_ (the level used or None).

    Raises (from :meth:`fit`):
        ValueError: constant scores, a single class in ``y_true``, NaN or infinite scores, ``class_id`` out of
            range or missing, an objective that does not parse, a target outside ``(0, 1]``, labels and scores of
            different lengths or shapes.
        UnreachableTargetError: a constraint no threshold meets, with ``on_unreachable="raise"``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = (rng.random(2000) < 0.2).astype(int)
    >>> s = 1 / (1 + np.exp(-(rng.normal(size=2000) + 2.5 * y - 2)))
    >>> tuner = ThresholdTuner("recall@precision>=0.8").fit(y, s)
    >>> bool(tuner.achieved_["precision_lower"] >= 0.8), tuner.confidence_
    (True, 0.9)
    >>> plain = ThresholdTuner("recall@precision>=0.8", confidence=None).fit(y, s)
    >>> bool(plain.thresholds_[0] <= tuner.thresholds_[0])  # the point estimate trusts luckier thresholds
    True
    """

    def __init__(self, objective: str | Objective = "f1", class_id: int | None = None,
                 confidence: float | str | None = "auto", on_unreachable: str = "raise", from_logits: bool = False,
                 task: str | None = None) -> None:
        self.objective = objective
        self.class_id = class_id
        self.confidence = confidence
        self.on_unreachable = on_unreachable
        self.from_logits = from_logits
        self.task = task

    def __repr__(self) -> str:
        args = []
        defaults = {"class_id": None, "confidence": "auto", "on_unreachable": "raise", "from_logits": False,
                    "task": None}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                args.append(f"{name}={value!r}")
        return f"ThresholdTuner({', '.join([repr(str(self.objective))] + args)})"

    # -- scikit-learn parameters: sklearn.base.clone(tuner) is a new, unfitted tuner with the same arguments -------

    _PARAMS = ("objective", "class_id", "confidence", "on_unreachable", "from_logits", "task")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments by name (scikit-learn's ``get_params``; ``deep`` has nothing to descend)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> "ThresholdTuner":
        """Set constructor arguments by name (checked at :meth:`fit`, as the constructor's); returns ``self``."""
        unknown = sorted(set(params) - set(self._PARAMS))
        if unknown:
            raise ValueError(f"Invalid parameter(s) {unknown} for ThresholdTuner; its parameters are "
                             f"{list(self._PARAMS)}.")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    # -- validation ------------------------------------------------------------------------------------------

    def _resolved_confidence(self, objective: Objective) -> float | None:
        c = self.confidence
        if isinstance(c, str):
            if c != "auto":
                raise ValueError(f"`confidence` must be 'auto', None or a level in [0.5, 1). Received: "
                                 f"confidence={c!r}")
            return 0.9 if objective.is_constraint else None
        if c is None:
            return None
        return check_scalar("confidence", c, 0.5, 1.0, high_inclusive=False)

    def _check_params(self) -> tuple[Objective, float | None]:
        objective = parse_objective(self.objective)
        confidence = self._resolved_confidence(objective)
        if self.on_unreachable not in _ON_UNREACHABLE:
            raise ValueError(f"`on_unreachable` must be one of {list(_ON_UNREACHABLE)}. Received: "
                             f"on_unreachable={self.on_unreachable!r}")
        if not isinstance(self.from_logits, (bool, np.bool_)):
            raise ValueError(f"`from_logits` must be True or False. Received: from_logits={self.from_logits!r}")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"`task` must be one of {list(TASKS)} or None. Received: task={self.task!r}")
        if self.class_id is not None and (isinstance(self.class_id, bool)
                                          or not isinstance(self.class_id, (int, np.integer))):
            raise ValueError(f"`class_id` must be an integer or None. Received: class_id={quote(self.class_id)}")
        return objective, confidence

    def _problem(self, y_true: Any, scores: np.ndarray) -> tuple[str, np.ndarray, np.ndarray, int | None]:
        """(task, truth columns (n, m) bool, score columns (n, m), class_id) for the search."""
        n = scores.shape[0]
        rows = np.shape(y_true.numpy() if hasattr(y_true, "numpy") else y_true)
        if len(rows) and rows[0] != n:
            raise ValueError(f"`y_true` has {rows[0]} rows but `scores` has {n}; they must describe the same rows.")
        if scores.ndim == 1 or scores.shape[1] == 1:
            info = inspect_labels(y_true, task=self.task)
            if info.task != "binary":
                raise ValueError(
                    f"`scores` has one column (a binary problem) but `y_true` is {info.task} with "
                    f"{info.num_classes} classes/labels. Pass one score column per class (multi-class, with "
                    "class_id) or per label (multi-label)."
                )
            if self.class_id is not None:
                raise ValueError(f"`class_id` is for multi-class scores with one column per class; binary scores "
                                 f"of shape {scores.shape} need none. Received: class_id={self.class_id}")
            truth = to_class_ids(y_true) == 1
            column = scores.reshape(n, 1)
            return "binary", truth.reshape(n, 1), column, None
        k = scores.shape[1]
        try:
            info = inspect_labels(y_true, num_classes=k, task=self.task)
        except ValueError as error:
            raise ValueError(f"Labels do not match scores of shape {scores.shape}: {error}") from None
        if info.task == "multilabel":
            if self.class_id is not None:
                raise ValueError(f"`class_id` is for multi-class scores; multi-label scores get one threshold per "
                                 f"label. Received: class_id={self.class_id}")
            truth = to_multi_hot(y_true).astype(bool)
            if truth.shape[1] != k:
                raise ValueError(f"Multi-label `y_true` has {truth.shape[1]} labels but `scores` has {k} columns.")
            probs = scores
            return "multilabel", truth, probs, None
        class_id = self.class_id
        if class_id is None:
            if k != 2:
                raise ValueError(
                    f"Multi-class scores ({k} columns) need `class_id`: the class whose threshold to tune (e.g. "
                    "class_id=0 for the rare class that matters); the rule predicts it when its probability passes "
                    "the threshold, else the most probable other class. For multi-label targets with one positive "
                    "per row, pass task='multilabel'."
                )
            class_id = 1
        if not 0 <= class_id < k:
            raise ValueError(f"`class_id` must be in [0, {k - 1}] for scores with {k} columns (classes). "
                             f"Received: class_id={class_id}")
        ids = to_class_ids(y_true, num_classes=k)
        probs = softmax(scores, axis=1) if self.from_logits else scores
        return "multiclass", (ids == class_id).reshape(n, 1), probs[:, class_id:class_id + 1], int(class_id)

    # -- fit / predict ---------------------------------------------------------------------------------------

    def fit(self, y_true: Any, scores: Any) -> "ThresholdTuner":
        """Tune the threshold(s) on labels and scores (validation or out-of-fold); returns ``self``."""
        objective, confidence = self._check_params()
        arr = check_scores(scores)
        task, truth, columns, class_id = self._problem(y_true, arr)
        names = self._column_names(task, class_id, truth.shape[1])
        choices = []
        for j in range(truth.shape[1]):
            t, s = truth[:, j], columns[:, j]
            positives = int(t.sum())
            if positives == 0 or positives == t.size:
                which = "no positive" if positives == 0 else "no negative"
                kind = "label" if task == "multilabel" else "class"
                raise ValueError(
                    f"`y_true` has {which} rows{names[j] or ''} ({positives} of {t.size} rows are "
                    f"{'class ' + str(class_id) if task == 'multiclass' else 'positive'}): a threshold needs both "
                    f"positive and negative rows{' of every ' + kind if task != 'binary' else ''}."
                )
            low, high = s.min(), s.max()
            if low == high:
                raise ValueError(
                    f"`scores` are constant{names[j] or ''}: every row holds {float(low)!r}, so no threshold can "
                    "separate the classes (an untrained or collapsed model?)."
                )
            choices.append(_search(t, s, objective, confidence, self.on_unreachable, names[j]))
        self._set_fitted(task, class_id, arr, objective, confidence, choices)
        return self

    @staticmethod
    def _column_names(task: str, class_id: int | None, m: int) -> list[str]:
        if task == "multilabel":
            return [f" for label {j}" for j in range(m)]
        if task == "multiclass":
            return [f" for class {class_id}"]
        return [""]

    def _set_fitted(self, task: str, class_id: int | None, arr: np.ndarray, objective: Objective,
                    confidence: float | None, choices: list[_Choice]) -> None:
        self.task_ = task
        self.class_id_ = class_id
        self.objective_ = objective
        self.confidence_ = confidence
        self.num_outputs_ = 1 if arr.ndim == 1 else int(arr.shape[1])
        raw = np.array([c.threshold for c in choices], dtype=np.float64)
        self.score_thresholds_ = raw
        logit_scale = self.from_logits and task != "multiclass"
        self.thresholds_ = sigmoid(raw, keep_inf=True) if logit_scale else raw.copy()
        achieved = [_achieved(c, confidence) for c in choices]
        scores = np.array([c.score for c in choices])
        if task == "multilabel":
            self.best_score_ = scores
            self.achieved_ = {key: np.array([a[key] for a in achieved]) for key in achieved[0]}
        else:
            self.best_score_ = float(scores[0])
            self.achieved_ = achieved[0]

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This ThresholdTuner is not fitted yet: call fit(y_true, scores) (or "
                                 "ThresholdTuner.load(path)) before predict, to_layer or save.")

    def predict(self, scores: Any) -> np.ndarray:
        """Decisions for scores on the scale given to :meth:`fit`: 0/1 in the scores' shape (binary, multi-label)
        or class ids ``(n,)`` (multi-class).

        >>> ThresholdTuner("f1").fit([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8]).predict([0.2, 0.5]).tolist()
        [0, 1]
        """
        self._check_fitted()
        arr = _scores_to_decide(scores, self.task_, self.num_outputs_, "tuner")
        if self.task_ == "binary":
            return (arr >= self.score_thresholds_[0]).astype(np.int64)
        if self.task_ == "multilabel":
            return (arr >= self.score_thresholds_).astype(np.int64)
        probs = softmax(arr, axis=1) if self.from_logits else arr
        return _multiclass_decisions(probs, int(self.class_id_), float(self.score_thresholds_[0]))

    def to_layer(self, name: str | None = None) -> "ThresholdLayer":
        """A :class:`ThresholdLayer` with this rule, for scores on the scale given to :meth:`fit`.

        ``keras.Sequential([model, tuner.to_layer()])`` or ``keras.Model(inp, [scores, tuner.to_layer()(scores)])``
        serves decisions, and survives ``model.save`` / ``keras.models.load_model``.

        >>> layer = ThresholdTuner("f1").fit([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8]).to_layer()
        >>> layer(np.array([[0.2], [0.5]], "float32")).numpy().ravel().tolist()
        [0, 1]
        """
        self._check_fitted()
        return ThresholdLayer(self.score_thresholds_.tolist(), task=self.task_, class_id=self.class_id_,
                              from_logits=bool(self.from_logits), name=name)

    # -- persistence ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The parameters and the fitted state as JSON-ready data (non-finite numbers as strings)."""
        self._check_fitted()
        achieved = {k: _json_number(v) for k, v in self.achieved_.items()}
        return {
            "format": _FILE_FORMAT,
            "version": 1,
            "params": {"objective": str(parse_objective(self.objective)), "class_id": _json_number(self.class_id),
                       "confidence": _json_number(self.confidence), "on_unreachable": self.on_unreachable,
                       "from_logits": bool(self.from_logits), "task": self.task},
            "task": self.task_,
            "class_id": self.class_id_,
            "num_outputs": self.num_outputs_,
            "confidence_used": self.confidence_,
            "thresholds": _json_number(self.thresholds_),
            "score_thresholds": _json_number(self.score_thresholds_),
            "best_score": _json_number(self.best_score_),
            "achieved": achieved,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tuner as JSON, atomically (a temporary file in the same folder, then ``os.replace``)."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        atomic_write_text(path, text)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> "ThresholdTuner":
        """A fitted tuner from :meth:`to_dict` data, every field validated (see :meth:`load`); ``source`` names
        the data in the messages (the file, for :meth:`load`)."""
        source = source or "ThresholdTuner data"
        if not isinstance(data, Mapping) or data.get("format") != _FILE_FORMAT:
            received = f"keys {sorted(data)}" if isinstance(data, Mapping) else repr(data)
            raise ValueError(f"Not a saved ThresholdTuner ({source}): expected a JSON object with \"format\": "
                             f"\"{_FILE_FORMAT}\". Received {received}.")
        fields = _TunerFields(data, source)
        tuner = fields.tuner(cls)
        objective, confidence = fields.params(tuner)
        task, num_outputs, class_id = fields.task(tuner)
        probability_scale = bool(tuner.from_logits) or task == "multiclass"
        count = num_outputs if task == "multilabel" else 1
        thresholds = fields.thresholds("thresholds", count, probability_scale)
        score_thresholds = fields.score_thresholds(thresholds, task, bool(tuner.from_logits))
        tuner.task_, tuner.class_id_, tuner.num_outputs_ = task, class_id, num_outputs
        tuner.objective_, tuner.confidence_ = objective, fields.confidence(confidence)
        tuner.thresholds_, tuner.score_thresholds_ = thresholds, score_thresholds
        tuner.best_score_ = fields.best_score(task, num_outputs)
        tuner.achieved_ = fields.achieved(task, num_outputs)
        return tuner

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ThresholdTuner":
        """Read a tuner written by :meth:`save`, validating every field it reads; an error names the file and the
        field.

        What is checked: the format and version; ``params`` (the constructor arguments, as :meth:`fit` checks
        them); ``task``, ``num_outputs`` and ``class_id`` (consistent with each other and with ``params``);
        ``thresholds``, one per label (multi-label) or one: numbers, not NaN nor ``-inf`` (``+inf`` means "never
        predict positive"), within ``[0, 1]`` when they are probabilities (``from_logits=True``, or a multi-class
        tuner; a binary / multi-label tuner fitted with ``from_logits=False`` keeps the scale of its scores, which
        the file does not record); ``confidence_used`` as ``params`` resolve it; ``best_score`` and ``achieved``
        (numbers, one per label for multi-label).

        ``thresholds`` and ``score_thresholds`` say the same rule twice (the latter on the scale :meth:`predict`
        compares: logits with ``from_logits=True``). A file whose two fields disagree is refused, not guessed at.
        To change a threshold by hand, edit ``thresholds`` and delete ``score_thresholds``: it is then derived from
        ``thresholds``. ``best_score`` and ``achieved`` are kept as stored: they describe the tuned threshold on the
        tuning data, not an edited one.

        >>> import tempfile, pathlib
        >>> tuner = ThresholdTuner("f2").fit([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     tuner.save(pathlib.Path(d) / "t.json")
        ...     ThresholdTuner.load(pathlib.Path(d) / "t.json").thresholds_.tolist()
        [0.4]
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); expected a file written by "
                             "ThresholdTuner.save.") from None
        return cls.from_dict(data, source=str(path))


class _TunerFields:
    """The checks of :meth:`ThresholdTuner.from_dict`, one per field: each returns the field's value, or raises a
    ValueError naming the source (the file), the field, what was expected and what was found."""

    _REQUIRED = ("version", "params", "task", "class_id", "num_outputs", "confidence_used", "thresholds",
                 "best_score", "achieved")
    _ACHIEVED = ("tp", "fp", "fn", "tn", "precision", "recall", "reached")

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data, self.source = data, source
        missing = [key for key in self._REQUIRED if key not in data]
        if missing:
            raise ValueError(f"{source}: a saved ThresholdTuner needs the fields {list(self._REQUIRED)}; missing: "
                             f"{missing}.")
        if data["version"] != 1 or isinstance(data["version"], bool):
            self.fail("version", "must be 1 (the only version written so far)")

    def fail(self, field: str, problem: str, value: Any = None, show: bool = True) -> None:
        value = self.data.get(field) if value is None and field in self.data else value
        received = f" Received: {field}={quote(value)}" if show else ""
        raise ValueError(f"{self.source}: field `{field}` {problem}.{received}")

    def tuner(self, cls: type) -> "ThresholdTuner":
        params = self.data["params"]
        allowed = ("objective", "class_id", "confidence", "on_unreachable", "from_logits", "task")
        if not isinstance(params, Mapping) or set(params) - set(allowed) or "objective" not in params:
            self.fail("params", f"must be an object with `objective` and some of {list(allowed[1:])}")
        return cls(**params)

    def params(self, tuner: "ThresholdTuner") -> tuple[Objective, float | None]:
        try:
            return tuner._check_params()
        except ValueError as error:
            self.fail("params", f"holds an invalid argument ({error})")
        raise AssertionError  # pragma: no cover - fail raises

    def task(self, tuner: "ThresholdTuner") -> tuple[str, int, int | None]:
        task, num_outputs, class_id = self.data["task"], self.data["num_outputs"], self.data["class_id"]
        if task not in TASKS:
            self.fail("task", f"must be one of {list(TASKS)}")
        if tuner.task is not None and tuner.task != task:
            self.fail("task", f"disagrees with params.task={tuner.task!r}")
        if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
            self.fail("num_outputs", "must be a positive integer")
        if task == "binary" and num_outputs != 1:
            self.fail("num_outputs", "must be 1 for a binary tuner (one score column)")
        if task == "multiclass" and num_outputs < 2:
            self.fail("num_outputs", "must be >= 2 for a multi-class tuner (one score column per class)")
        if task != "multiclass":
            if class_id is not None:
                self.fail("class_id", f"must be null for a {task} tuner (class_id is for multi-class scores)")
            return task, num_outputs, None
        if isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id < num_outputs:
            self.fail("class_id", f"must be an integer in [0, {num_outputs - 1}] for a multi-class tuner with "
                                  f"{num_outputs} score columns")
        if tuner.class_id is not None and tuner.class_id != class_id:
            self.fail("class_id", f"disagrees with params.class_id={tuner.class_id!r}")
        if tuner.class_id is None and class_id != 1:
            self.fail("class_id", "must be 1 when params.class_id is null (a two-column tuner decides class 1)")
        return task, num_outputs, class_id

    def numbers(self, field: str, value: Any, count: int | None) -> np.ndarray:
        """``value`` (JSON numbers and the strings "nan", "inf", "-inf") as float64: a list of ``count``
        (``count=None``: one number)."""
        values = _from_json_number(value)
        if count is not None and (not isinstance(values, list) or len(values) != count):
            self.fail(field, f"must be a list of {count} number(s)")
        if count is None and isinstance(values, list):
            self.fail(field, "must be one number")
        items = values if isinstance(values, list) else [values]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in items):
            self.fail(field, "must hold numbers (or \"inf\" / \"nan\" strings)")
        return np.asarray(values, np.float64)

    def thresholds(self, field: str, count: int, probability_scale: bool) -> np.ndarray:
        what = "one threshold per label" if count > 1 else "one threshold"
        values = self.data[field]
        if not isinstance(values, list) or len(values) != count:
            self.fail(field, f"must be a list of {count} number(s) ({what} for this tuner's task and "
                             f"num_outputs={self.data['num_outputs']})")
        arr = self.numbers(field, values, count)
        if np.isnan(arr).any() or np.isneginf(arr).any():
            self.fail(field, "must hold numbers, +inf (never predict positive) at most; not NaN nor -inf")
        if probability_scale and ((arr < 0) | ((arr > 1) & np.isfinite(arr))).any():
            self.fail(field, "must hold probabilities in [0, 1] (or +inf): this tuner thresholds probabilities "
                             "(from_logits=True or multi-class)")
        return arr

    def score_thresholds(self, thresholds: np.ndarray, task: str, from_logits: bool) -> np.ndarray:
        logit_scale = from_logits and task != "multiclass"
        if logit_scale:
            with np.errstate(divide="ignore"):
                derived = np.where(np.isposinf(thresholds), np.inf, np.log(thresholds) - np.log1p(-thresholds))
        else:
            derived = thresholds.copy()
        if "score_thresholds" not in self.data:
            return derived
        arr = self.numbers("score_thresholds", self.data["score_thresholds"], len(thresholds))
        if np.isnan(arr).any():
            self.fail("score_thresholds", "must not hold NaN")
        expected = sigmoid(arr, keep_inf=True) if logit_scale else arr
        if not np.allclose(expected, thresholds, rtol=1e-9, atol=0.0):
            relation = "sigmoid(score_thresholds) == thresholds (from_logits=True)" if logit_scale else \
                "score_thresholds == thresholds"
            self.fail("score_thresholds",
                      f"disagrees with `thresholds`={quote(thresholds)}: a saved tuner has {relation}. Edit both, or "
                      "delete score_thresholds to derive it from thresholds")
        return arr

    def confidence(self, resolved: float | None) -> float | None:
        value = self.data["confidence_used"]
        if value is None and resolved is None:
            return None
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value != resolved:
            self.fail("confidence_used", f"must be {resolved!r}, the level params.confidence gives this objective")
        return float(value)

    def best_score(self, task: str, num_outputs: int) -> Any:
        if task == "multilabel":
            return self.numbers("best_score", self.data["best_score"], num_outputs)
        return float(self.numbers("best_score", self.data["best_score"], None))

    def achieved(self, task: str, num_outputs: int) -> dict[str, Any]:
        achieved = self.data["achieved"]
        if not isinstance(achieved, Mapping) or any(key not in achieved for key in self._ACHIEVED):
            self.fail("achieved", f"must be an object with at least {list(self._ACHIEVED)}")
        out: dict[str, Any] = {}
        for key, value in achieved.items():
            value = _from_json_number(value)
            if task == "multilabel":
                if not isinstance(value, list) or len(value) != num_outputs or not all(
                        isinstance(v, (int, float)) for v in value):
                    self.fail("achieved", f"entry {key!r} must be a list of {num_outputs} numbers (one per label)",
                              value=value)
                out[key] = np.asarray(value)
            elif isinstance(value, list) or not isinstance(value, (int, float)):
                self.fail("achieved", f"entry {key!r} must be a number", value=value)
            else:
                out[key] = value
        return out


def _achieved(c: _Choice, confidence: float | None) -> dict[str, Any]:
    tp, fp = c.tp, c.fp
    fn, tn = c.positives - tp, c.negatives - fp
    out: dict[str, Any] = {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tp / c.positives,
        "reached": bool(c.reached),
    }
    if confidence is not None:
        predicted = tp + fp
        out.update({
            "precision_lower": float(_lower_bound(tp, predicted, confidence)) if predicted else math.nan,
            "precision_upper": float(_upper_bound(tp, predicted, confidence)) if predicted else math.nan,
            "recall_lower": float(_lower_bound(tp, c.positives, confidence)),
            "recall_upper": float(_upper_bound(tp, c.positives, confidence)),
            "confidence": confidence,
        })
    return out


def _json_number(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_json_number(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_number(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    return value


def _from_json_number(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json_number(v) for v in value]
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return value


# --- the fixed rule ----------------------------------------------------------------------------------------------

_FIXED_FORMAT = "imbalance.FixedThreshold"


class FixedThreshold:
    """A decision rule that is not tuned, with :class:`ThresholdTuner`'s interface (scikit-learn's
    ``FixedThresholdClassifier`` beside its tuned one): the rule ``compare`` serves when a candidate is decided at
    0.5 or argmax, and the fallback when a threshold cannot be tuned.

    * ``rule`` a probability in ``[0, 1]`` (default 0.5; the CLI spelling ``"0.5"`` is accepted): binary scores
      ``(n,)`` / ``(n, 1)`` give ``score >= rule`` as 0/1, multi-label scores ``(n, L)`` the same per label, and
      multi-class scores ``(n, K)`` with ``class_id=k`` predict ``k`` when its probability is ``>= rule``, else the
      most probable other class (the tuner's multi-class rule; ``K == 2`` defaults to class 1).
    * ``rule="argmax"``: multi-class scores only; the most probable class. ``thresholds_`` is then empty.

    :meth:`fit` learns nothing: it validates the scores, reads the task from the labels (``y_true=None`` is allowed
    when ``task`` is given or the scores have one column) and records the number of outputs; ``thresholds_`` holds
    the rule once per output. Scores are probabilities (a number rule is a probability).

    >>> rule = FixedThreshold(0.5).fit([0, 1, 1], [0.2, 0.6, 0.4])
    >>> rule.predict([0.49, 0.5]).tolist(), rule.thresholds_.tolist(), rule
    ([0, 1], [0.5], FixedThreshold(0.5))
    >>> FixedThreshold("argmax").fit([0, 2], [[0.5, 0.2, 0.3], [0.1, 0.3, 0.6]]).predict([[0.2, 0.5, 0.3]]).tolist()
    [1]
    """

    def __init__(self, rule: float | str = 0.5, class_id: int | None = None, task: str | None = None) -> None:
        self.rule = rule
        self.class_id = class_id
        self.task = task

    # -- parameters ----------------------------------------------------------------------------------------------

    def _value(self) -> float | str:
        rule = self.rule
        if isinstance(rule, str) and rule.strip().lower() == "argmax":
            return "argmax"
        if isinstance(rule, str):
            try:
                rule = float(rule)
            except ValueError:
                raise ValueError(f"`rule` must be a probability in [0, 1] or 'argmax'. Received: rule={self.rule!r}"
                                 ) from None
        if isinstance(rule, (bool, np.bool_)) or not isinstance(rule, (int, float, np.integer, np.floating)):
            raise ValueError(f"`rule` must be a probability in [0, 1] or 'argmax'. Received: rule={self.rule!r}")
        return check_scalar("rule", rule, low=0.0, high=1.0)

    def describe(self) -> str:
        """The rule in words: ``"probability 0.5"`` or ``"argmax"``."""
        value = self._value()
        return "argmax" if value == "argmax" else f"probability {value:g}"

    def __repr__(self) -> str:
        value = self._value() if self._valid() else self.rule
        text = f"'{value}'" if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else repr(value)
        return f"FixedThreshold({text}" + (f", class_id={self.class_id}" if self.class_id is not None else "") + ")"

    def _valid(self) -> bool:
        try:
            self._value()
        except ValueError:
            return False
        return True

    # -- fit / predict -------------------------------------------------------------------------------------------

    def fit(self, y_true: Any, scores: Any) -> "FixedThreshold":
        """Validate the scores and record the task and the number of outputs; nothing is learned."""
        value = self._value()
        arr = check_scores(scores)
        n, k = arr.shape[0], (1 if arr.ndim == 1 else int(arr.shape[1]))
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"`task` must be None or one of {list(TASKS)}. Received: task={self.task!r}")
        if k == 1:
            task = "binary"
        elif self.task is not None:
            task = self.task
        elif y_true is None:
            raise ValueError(f"`y_true` is needed to tell multi-class from multi-label scores ({k} columns); or pass "
                             "task='multiclass' / task='multilabel'.")
        else:
            task = inspect_labels(y_true).task
            task = "multiclass" if task == "binary" else task  # two classes as two softmax columns
        if y_true is not None and len(np.asarray(y_true)) != n:
            raise ValueError(f"`y_true` has {len(np.asarray(y_true))} rows but `scores` has {n}.")
        class_id = self.class_id
        if value == "argmax":
            if task != "multiclass":
                raise ValueError(f"rule='argmax' decides multi-class scores; these are {task} scores with {k} "
                                 f"column(s). Received: rule={self.rule!r}")
            if class_id is not None:
                check_scalar("class_id", class_id, low=0, high=k - 1)
        elif task == "multiclass":
            if class_id is None:
                if k != 2:
                    raise ValueError(f"Multi-class scores ({k} columns) decided at a probability need `class_id`: "
                                     "the class predicted when its probability passes the rule. Or use "
                                     "rule='argmax'.")
                class_id = 1
            if isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) or not 0 <= class_id < k:
                raise ValueError(f"`class_id` must be in [0, {k - 1}] for scores with {k} columns. "
                                 f"Received: class_id={class_id!r}")
        elif class_id is not None:
            raise ValueError(f"`class_id` is for multi-class scores; these are {task} scores. "
                             f"Received: class_id={class_id}")
        self.task_ = task
        self.class_id_ = None if class_id is None else int(class_id)
        self.num_outputs_ = k
        self.rule_ = value
        if value == "argmax":
            self.thresholds_ = np.zeros(0, np.float64)
        else:
            self.thresholds_ = np.full(k if task == "multilabel" else 1, float(value), np.float64)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "rule_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This FixedThreshold is not fitted yet: call fit(y_true, scores) (or "
                                 "FixedThreshold.load(path)) before predict, to_layer or save.")

    def predict(self, scores: Any) -> np.ndarray:
        """Decisions: 0/1 in the scores' shape (binary, multi-label) or class ids ``(n,)`` (multi-class)."""
        self._check_fitted()
        arr = _scores_to_decide(scores, self.task_, self.num_outputs_, "rule")
        if self.task_ == "binary":
            return (arr >= self.thresholds_[0]).astype(np.int64)
        if self.task_ == "multilabel":
            return (arr >= self.thresholds_).astype(np.int64)
        if self.rule_ == "argmax":
            return arr.argmax(axis=1).astype(np.int64)
        return _multiclass_decisions(arr, int(self.class_id_), float(self.thresholds_[0]))

    def to_layer(self, name: str | None = None) -> Any:
        """The rule as a serializable Keras layer: :class:`ThresholdLayer` or :class:`ArgmaxLayer`."""
        self._check_fitted()
        if self.rule_ == "argmax":
            return ArgmaxLayer(name=name)
        return ThresholdLayer(self.thresholds_.tolist(), task=self.task_, class_id=self.class_id_, name=name)

    # -- persistence ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"format": _FIXED_FORMAT, "version": 1, "rule": self.rule_, "class_id": self.class_id_,
                "task": self.task_, "num_outputs": self.num_outputs_, "thresholds": self.thresholds_.tolist()}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the rule as JSON, atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> "FixedThreshold":
        """A fitted rule from :meth:`to_dict` data, every field validated (see :meth:`load`)."""
        source = source or "FixedThreshold data"
        if not isinstance(data, Mapping) or data.get("format") != _FIXED_FORMAT:
            received = f"keys {sorted(data)}" if isinstance(data, Mapping) else repr(data)
            raise ValueError(f"Not a saved FixedThreshold ({source}): expected a JSON object with \"format\": "
                             f"\"{_FIXED_FORMAT}\". Received {received}.")

        def fail(field: str, problem: str) -> None:
            raise ValueError(f"{source}: field `{field}` {problem}. Received: {field}={quote(data.get(field))}")

        missing = [key for key in ("rule", "class_id", "task", "num_outputs", "thresholds") if key not in data]
        if missing:
            raise ValueError(f"{source}: a saved FixedThreshold needs the fields rule, class_id, task, num_outputs "
                             f"and thresholds; missing: {missing}.")
        task, k, class_id = data["task"], data["num_outputs"], data["class_id"]
        if task not in TASKS:
            fail("task", f"must be one of {list(TASKS)}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1 or (task == "binary") != (k == 1):
            fail("num_outputs", "must be 1 for a binary rule and an integer >= 2 otherwise")
        if task == "multiclass" and class_id is not None and (
                isinstance(class_id, bool) or not isinstance(class_id, int) or not 0 <= class_id < k):
            fail("class_id", f"must be null or an integer in [0, {k - 1}]")
        if task != "multiclass" and class_id is not None:
            fail("class_id", f"must be null for a {task} rule")
        rule = cls(data["rule"], class_id=class_id, task=task)
        try:
            rule.rule_ = rule._value()
        except ValueError as error:
            fail("rule", f"is invalid ({error})")
        if task == "multiclass" and rule.rule_ != "argmax" and class_id is None:
            fail("class_id", "must be set for a multi-class rule at a probability")
        if rule.rule_ == "argmax" and task != "multiclass":
            fail("rule", f"'argmax' decides multi-class scores; this rule is {task}")
        expected = [] if rule.rule_ == "argmax" else [rule.rule_] * (k if task == "multilabel" else 1)
        if data["thresholds"] != expected:
            fail("thresholds", f"must be {expected}: the rule {rule.rule_!r} once per output (edit `rule` to change "
                               "the threshold)")
        rule.task_, rule.class_id_ = task, class_id
        rule.num_outputs_ = k
        rule.thresholds_ = np.asarray(expected, np.float64)
        return rule

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "FixedThreshold":
        """Read a rule written by :meth:`save`, validating every field; an error names the file and the field.
        ``thresholds`` must repeat ``rule`` (a file whose two fields disagree is refused)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); expected a file written by "
                             "FixedThreshold.save.") from None
        return cls.from_dict(data, source=str(path))
