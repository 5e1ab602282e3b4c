"""A scikit-learn classifier around a Keras model: :class:`KerasImbalanceClassifier` trains with one of the
package's strategies and decides with a threshold tuned on out-of-fold scores, so it works in ``Pipeline``,
``cross_val_score`` and ``clone`` like any scikit-learn estimator.

Nothing here trains or tunes on its own: training is :func:`imbalance.experiment.train_strategy` (what ``compare``
runs), the folds are scikit-learn's ``StratifiedKFold`` (or :func:`imbalance.splits.iterative_folds` for
multi-label rows), and the decision rule is :class:`imbalance.thresholds.ThresholdTuner` on the folds' logits.

(The module is named ``imbalance.sklearn``; the package uses absolute imports only, so ``import sklearn`` inside it
is scikit-learn.)
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from imbalance._numeric import sigmoid, softmax
from imbalance._validation import check_integer, check_scalar, quote

__all__ = ["EXPECTED_FAILED_CHECKS", "KerasImbalanceClassifier"]

#: The scikit-learn estimator checks :class:`KerasImbalanceClassifier` fails, and why (pass it to
#: ``check_estimator(..., expected_failed_checks=...)`` or ``parametrize_with_checks``). scikit-learn lists its
#: own ``TunedThresholdClassifierCV`` as failing ``check_classifiers_train`` for the same reason.
EXPECTED_FAILED_CHECKS = {
    "check_classifiers_train": "predict applies the threshold tuned on out-of-fold scores, so it is not "
                               "argmax(predict_proba) (probability 0.5) as the check asserts",
    "check_classifier_multioutput": "multi-label predict applies each label's tuned threshold, so it is not "
                                    "predict_proba(X).round() (probability 0.5) as the check asserts",
}

_BATCH = 4096  # rows per forward pass when scoring
_SEEDS = 2**31  # seeds are in [0, 2**31); fold k trains with (seed + 100 * k) % 2**31


def _validate_data(estimator: BaseEstimator, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
    """scikit-learn's ``validate_data`` (>= 1.6), or the estimator method it replaced on older versions."""
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(X, y, **kwargs)
    return validate_data(estimator, X, y, **kwargs)


def _forward(net: Any, x: np.ndarray) -> np.ndarray:
    """The model's logits ``(rows, outputs)`` as float64, by direct calls in chunks (``model.predict`` re-traces its
    function for every new model)."""
    import keras

    parts = [keras.ops.convert_to_numpy(net(x[i:i + _BATCH], training=False)) for i in range(0, len(x), _BATCH)]
    logits = np.concatenate(parts).astype(np.float64)
    return logits.reshape(len(x), -1)


def _below(values: np.ndarray) -> np.ndarray:
    """The next float below each value: ``z - _below(t) > 0`` exactly when ``z >= t`` (the tuner's rule), so a
    decision function built on it is positive exactly where :meth:`predict` says positive."""
    return np.nextafter(np.asarray(values, np.float64), -np.inf)


class KerasImbalanceClassifier(ClassifierMixin, BaseEstimator):
    """A Keras classifier for imbalanced data as a scikit-learn estimator: trained with a strategy, decided at a
    threshold tuned for an objective on out-of-fold scores.

    :meth:`fit` (binary data, multi-class data with ``class_id``, multi-label data):

    1. splits the rows into ``cv`` stratified folds (``StratifiedKFold(cv, shuffle=True, random_state=seed)`` on the
       classes; iterative stratification, :func:`imbalance.splits.iterative_folds`, for a multi-label indicator
       matrix) and trains one model per fold with :func:`imbalance.experiment.train_strategy` (fold ``k`` seeded
       ``seed + 100 * k``, as ``compare``'s out-of-fold protocol);
    2. tunes the threshold on the logits those models give the rows they did not see, with
       :class:`~imbalance.thresholds.ThresholdTuner` (``from_logits=True``): every labelled row counts, which
       matters when the rare class has few rows;
    3. **refits one model on all rows** (seeded ``seed``) and keeps it as ``model_``: :meth:`predict` applies the
       tuned threshold to that model's scores. The fold models are discarded. The threshold was chosen for models
       trained on ``(cv - 1) / cv`` of the rows; the refitted one saw all of them, which usually shifts its scores a
       little (scikit-learn's ``TunedThresholdClassifierCV`` makes the same trade).

    Multi-class data without ``class_id`` is decided by argmax: nothing is tuned and no fold model is trained
    (``tuner_`` is a ``FixedThreshold("argmax")``, ``threshold_`` is None). A fit trains ``cv + 1`` models otherwise.

    Args:
        model_fn: ``None`` for the package's default MLP (:func:`imbalance.experiment.build_mlp`), or a factory
            ``model_fn(input_shape, outputs, seed)`` that returns a new, uncompiled Keras model ending in
            ``outputs`` logits (one for binary data, one per class or label otherwise); it is compiled with
            Adam(``learning_rate``) and the strategy's loss. Use a named function (not a lambda) to pickle the
            estimator.
        strategy: a strategy name (:func:`imbalance.experiment.available` lists them per task), e.g.
            ``"baseline"``, ``"class_weight"``, ``"focal"``, ``"oversample"``.
        objective: what the threshold maximises: ``"f1"``, ``"f2"``, ``"fbeta:0.5"``, ``"recall@precision>=0.9"``,
            ``"precision@recall>=0.8"``, ``"cost:fp=1,fn=10"`` (see :func:`imbalance.thresholds.parse_objective`).
        cv: the number of folds (an integer >= 2) or a scikit-learn splitter whose ``split(X, y)`` tests every row
            exactly once (``y`` as class ids, or the indicator matrix for multi-label data).
        epochs, batch_size, learning_rate: the training budget of every model (``batch_size=None``: 64 below
            5,000 rows, else 256).
        class_id: the class whose threshold is tuned, as a value of ``y`` (one of ``classes_``). Binary data: the
            positive class, default ``classes_[1]`` (pass the rare class when it sorts first, e.g. ``"fraud"``
            before ``"legit"``). Multi-class data: predict this class when its probability passes ``threshold_``,
            else the most probable other class; ``None`` decides by argmax. Multi-label data: must be None (one
            threshold per label).
        confidence, on_unreachable: as :class:`~imbalance.thresholds.ThresholdTuner` (``"auto"``: a 0.9
            Clopper-Pearson lower bound for constraints; ``"raise"`` or ``"best"`` when no threshold meets one).
        seed: the integer seed of the folds and of every model, as ``seed`` everywhere in the package (it plays
            the part of scikit-learn's ``random_state``): two fits with the same seed on the same rows give the
            same models, threshold and predictions. ``None``: a fresh seed each fit, drawn from numpy's global
            generator. :func:`~imbalance.experiment.train_strategy` seeds Keras' global generators
            (``keras.utils.set_random_seed``), so a fit resets Python's and numpy's global seeds too.

    Attributes:
        classes_: the class labels as given (sorted, as ``np.unique``), or ``arange(L)`` for ``L`` labels.
        n_features_in_, feature_names_in_ (when ``X`` has column names): as every scikit-learn estimator.
        task_: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        class_id_: the position in ``classes_`` of the class the threshold is for (None for argmax / multi-label).
        model_: the Keras model refitted on all rows; it outputs logits.
        tuner_: the fitted :class:`~imbalance.thresholds.ThresholdTuner` (its ``achieved_`` describes the
            threshold on the out-of-fold scores), or ``FixedThreshold("argmax")``.
        threshold_: the probability of class ``class_id_`` (binary, multi-class) at or above which it is
            predicted, an array with one per label (multi-label), or None (argmax).
        best_score_: the objective on the out-of-fold scores at ``threshold_`` (None for argmax).

    Methods: :meth:`predict` (the tuned decision, in ``classes_``' values), :meth:`predict_proba` (sigmoid /
    softmax of the logits: ``(n, 2)`` for binary data, ``(n, K)``, or ``(n, L)`` per label),
    :meth:`decision_function` (positive exactly where :meth:`predict` says positive, see there) and ``score``
    (accuracy, as every classifier; use ``cross_val_score(..., scoring="f1")`` for imbalanced data).

    scikit-learn's estimator checks pass (``tests/test_sklearn_estimator.py`` runs them all) except the two in
    :data:`EXPECTED_FAILED_CHECKS`, which assert that :meth:`predict` is the argmax of :meth:`predict_proba` (or
    its rounding, for multi-label data): a tuned threshold is not 0.5 by design. ``check_estimator(clf,
    expected_failed_checks=EXPECTED_FAILED_CHECKS)`` (scikit-learn >= 1.6). ``fit`` takes no ``sample_weight`` (the
    strategy decides the weights), so the sample-weight checks do not apply; sparse input is refused.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from imbalance.datasets import load_demo
    >>> data = load_demo("fraud", n_samples=600, positive_rate=0.1)
    >>> clf = make_pipeline(StandardScaler(), KerasImbalanceClassifier(epochs=2, cv=2))
    >>> clf = clf.fit(data.x, data.y)
    >>> tuned = clf[-1]
    >>> tuned.classes_.tolist(), 0 < tuned.threshold_ < 1
    ([0, 1], True)
    >>> bool(np.array_equal(clf.predict(data.x), clf.predict_proba(data.x)[:, 1] >= tuned.threshold_))
    True
    """

    def __init__(
        self,
        model_fn: Callable[..., Any] | None = None,
        strategy: str = "baseline",
        objective: Any = "f1",
        cv: Any = 5,
        epochs: int = 30,
        batch_size: int | None = None,
        learning_rate: float = 3e-3,
        class_id: Any = None,
        confidence: float | str | None = "auto",
        on_unreachable: str = "raise",
        seed: int | None = 0,
    ) -> None:
        self.model_fn = model_fn
        self.strategy = strategy
        self.objective = objective
        self.cv = cv
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.class_id = class_id
        self.confidence = confidence
        self.on_unreachable = on_unreachable
        self.seed = seed

    # -- scikit-learn tags ---------------------------------------------------------------------------------------

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True  # a 2-D indicator matrix: one tuned threshold per label
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multilabel": True, "multioutput": True}

    # -- fit -----------------------------------------------------------------------------------------------------

    def _check_params(self) -> tuple[int, int]:
        """(epochs, seed) after checking every constructor argument fit needs before any training."""
        if self.model_fn is not None and not callable(self.model_fn):
            raise ValueError("`model_fn` must be None (the default MLP) or a callable model_fn(input_shape, outputs, "
                             f"seed) returning an uncompiled Keras model. Received: model_fn={quote(self.model_fn)}")
        if not isinstance(self.strategy, str):
            raise ValueError(f"`strategy` must be a strategy name. Received: strategy={quote(self.strategy)}")
        epochs = check_integer("epochs", self.epochs, 1)
        check_scalar("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        if isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool):
            check_integer("cv", self.cv, 2)
        elif not (hasattr(self.cv, "split") and hasattr(self.cv, "get_n_splits")):
            raise ValueError("`cv` must be a number of folds (an integer >= 2) or a scikit-learn splitter. "
                             f"Received: cv={quote(self.cv)}")
        if self.seed is None:
            return epochs, int(np.random.randint(0, _SEEDS))
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or not 0 <= self.seed < _SEEDS:
            raise ValueError(f"`seed` must be an integer in [0, 2**31) or None. Received: seed={quote(self.seed)}")
        return epochs, int(self.seed)

    def _labels(self, y: np.ndarray) -> np.ndarray:
        """Set ``classes_``, ``task_`` and ``class_id_``; return the labels as class ids or a 0/1 matrix."""
        from sklearn.utils.multiclass import check_classification_targets, type_of_target

        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multilabel-indicator":
            from imbalance.labels import inspect_labels

            inspect_labels(y, task="multilabel")  # 0/1 only, with the row and value that is not
            self.classes_ = np.arange(y.shape[1])
            self.task_ = "multilabel"
            if self.class_id is not None:
                raise ValueError("`class_id` is for binary and multi-class data; multi-label data gets one threshold "
                                 f"per label. Received: class_id={quote(self.class_id)}")
            self.class_id_ = None
            return y.astype(np.int64)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"KerasImbalanceClassifier takes binary, multi-class or multi-label indicator targets; "
                             f"`y` is {kind!r} (scikit-learn's type_of_target).")
        if y.ndim == 2:
            from sklearn.utils.validation import column_or_1d

            y = column_or_1d(y, warn=True)
        self.classes_, ids = np.unique(y, return_inverse=True)
        ids = ids.reshape(-1).astype(np.int64)
        if len(self.classes_) < 2:
            raise ValueError(f"`y` holds only one class ({quote(self.classes_.tolist()[0])} in all {len(y)} rows); a "
                             "classifier needs rows of at least two classes.")
        self.task_ = "binary" if len(self.classes_) == 2 else "multiclass"
        if self.class_id is None:
            self.class_id_ = 1 if self.task_ == "binary" else None
        else:
            found = np.flatnonzero(self.classes_ == self.class_id) if _comparable(self.class_id, self.classes_) \
                else np.zeros(0, np.int64)
            if found.size != 1:
                raise ValueError(f"`class_id` must be one of the classes of `y`: {self.classes_.tolist()}. "
                                 f"Received: class_id={quote(self.class_id)}")
            self.class_id_ = int(found[0])
        return ids

    def _folds(self, X: np.ndarray, labels: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        n = len(labels)
        if isinstance(self.cv, numbers.Integral):
            folds = int(self.cv)
            if self.task_ == "multilabel":
                from imbalance.splits import iterative_folds

                fold_of = iterative_folds(labels, folds, seed)
                splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(folds)]
            else:
                from sklearn.model_selection import StratifiedKFold

                counts = np.bincount(labels, minlength=len(self.classes_))
                rare = int(np.argmin(counts))
                if counts[rare] < folds:
                    raise ValueError(f"Class {quote(self.classes_.tolist()[rare])} has {int(counts[rare])} rows, fewer than "
                                     f"cv={folds} folds: some folds would train without it. Use fewer folds.")
                splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, labels))
        else:
            splits = [(np.asarray(a), np.asarray(b)) for a, b in self.cv.split(X, labels)]
        tested = np.zeros(n, np.int64)
        for _, test in splits:
            tested[test] += 1
        if not np.all(tested == 1):
            row = int(np.flatnonzero(tested != 1)[0])
            raise ValueError(f"`cv` must test every row exactly once; row {row} is tested {int(tested[row])} times.")
        if self.task_ != "multilabel":
            for k, (train, _) in enumerate(splits):
                missing = np.setdiff1d(np.arange(len(self.classes_)), labels[train])
                if missing.size:
                    raise ValueError(f"Fold {k} of `cv` trains without class {quote(self.classes_.tolist()[missing[0]])}; "
                                     "every fold's training rows need every class (use a stratified splitter).")
        return splits

    def fit(self, X: Any, y: Any) -> "KerasImbalanceClassifier":
        """Train the fold models, tune the threshold on their out-of-fold logits, refit on all rows; returns
        ``self``."""
        from imbalance.experiment import train_strategy
        from imbalance.thresholds import FixedThreshold, ThresholdTuner

        epochs, seed = self._check_params()
        X, y = _validate_data(self, X, y, dtype=np.float32, multi_output=True)
        labels = self._labels(y)
        if self.task_ == "multilabel":
            positives = labels.sum(axis=0)
            constant = np.flatnonzero((positives == 0) | (positives == len(labels)))
            if constant.size:
                j = int(constant[0])
                raise ValueError(f"Label {j} of `y` is {int(positives[j] > 0)} in all {len(labels)} rows; a threshold "
                                 "needs rows with 0 and rows with 1 for every label (drop the column).")

        def train(rows: np.ndarray, model_seed: int) -> Any:
            return train_strategy(self.strategy, X[rows], labels[rows], model=self.model_fn or "mlp",
                                  task=self.task_, epochs=epochs, batch_size=self.batch_size,
                                  learning_rate=self.learning_rate, seed=model_seed)

        tuned = self.task_ != "multiclass" or self.class_id_ is not None
        if tuned:
            splits = self._folds(X, labels, seed)
            oof: np.ndarray | None = None
            for k, (train_rows, test_rows) in enumerate(splits):
                logits = _forward(train(train_rows, (seed + 100 * k) % _SEEDS), X[test_rows])
                if oof is None:
                    oof = np.empty((len(X), logits.shape[1]), np.float64)
                oof[test_rows] = logits
            assert oof is not None
            tuner = ThresholdTuner(self.objective, confidence=self.confidence, on_unreachable=self.on_unreachable,
                                   from_logits=True)
            if self.task_ == "binary":
                z = oof[:, 0] if self.class_id_ == 1 else -oof[:, 0]
                tuner.fit((labels == self.class_id_).astype(np.int64), z)
            elif self.task_ == "multiclass":
                tuner.set_params(class_id=self.class_id_).fit(labels, oof)
            else:
                tuner.set_params(task="multilabel").fit(labels, oof)
            self.tuner_ = tuner
            thresholds = tuner.thresholds_
            self.threshold_ = thresholds.copy() if self.task_ == "multilabel" else float(thresholds[0])
            self.best_score_ = tuner.best_score_
        else:
            # argmax learns nothing: the rule only records that it decides K columns
            self.tuner_ = FixedThreshold("argmax", task="multiclass").fit(None, np.eye(len(self.classes_)))
            self.threshold_ = None
            self.best_score_ = None
        self.model_ = train(np.arange(len(X)), seed)
        return self

    # -- scores and decisions ------------------------------------------------------------------------------------

    def _logits(self, X: Any) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        X = _validate_data(self, X, dtype=np.float32, reset=False)
        return _forward(self.model_, X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities: ``(n, 2)`` for binary data (columns in ``classes_`` order), the softmax ``(n, K)`` for
        multi-class data, a sigmoid per label ``(n, L)`` for multi-label data. They are the model's, not
        calibrated to the threshold: :meth:`predict` is ``predict_proba(X)[:, class_id_] >= threshold_`` (binary),
        per label for multi-label data."""
        z = self._logits(X)
        if self.task_ == "binary":
            return np.column_stack([sigmoid(-z[:, 0]), sigmoid(z[:, 0])])
        if self.task_ == "multiclass":
            return softmax(z, axis=1)
        return sigmoid(z)

    def _decide(self, z: np.ndarray) -> np.ndarray:
        """The rule on logits: 0/1 for the tuned class (binary), a 0/1 matrix (multi-label), class ids."""
        if self.task_ == "binary":
            return self.tuner_.predict(z[:, 0] if self.class_id_ == 1 else -z[:, 0])
        return self.tuner_.predict(z)  # argmax on logits is argmax on the softmax

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores that scikit-learn reads as it reads every classifier's: ``classes_[1]`` is predicted exactly where
        the binary score is ``> 0``, a label exactly where its column is ``> 0``, a multi-class row's class exactly
        at the argmax (the first, on ties).

        * binary — the logit of ``classes_[1]`` less its tuned logit threshold (``(n,)``);
        * multi-label — each label's logit less its tuned logit threshold (``(n, L)``);
        * multi-class, argmax — the logits (``(n, K)``);
        * multi-class with ``class_id`` — log-probabilities, except column ``class_id_``: the best other class's
          log-probability plus ``log(p / threshold_)``, so it leads by how far ``p`` passes the threshold (a row
          whose rounding would disagree with :meth:`predict`, at the threshold within a few ulps, gets its
          predicted class one ulp above the rest).
        """
        z = self._logits(X)
        if self.task_ == "binary":
            s = float(self.tuner_.score_thresholds_[0])
            # class 1 tuned: classes_[1] when z >= s; class 0 tuned on -z: classes_[0] when -z >= s, i.e. z <= -s
            return z[:, 0] - _below(s) if self.class_id_ == 1 else z[:, 0] + s
        if self.task_ == "multilabel":
            return z - _below(self.tuner_.score_thresholds_)
        if self.class_id_ is None:
            return z
        k = self.class_id_
        log_p = z - _logsumexp(z)
        others = np.delete(log_p, k, axis=1).max(axis=1)
        with np.errstate(divide="ignore"):
            log_t = np.log(float(self.threshold_))
        out = log_p.copy()
        out[:, k] = others + (log_p[:, k] - log_t)
        ids = self._decide(z)
        rows = np.flatnonzero(out.argmax(axis=1) != ids)
        if rows.size:  # at the threshold within rounding: the rule decides, the score follows it by one ulp
            out[rows, ids[rows]] = np.nextafter(out[rows].max(axis=1), np.inf)
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The tuned decision, as values of ``classes_`` (``(n,)``), or a 0/1 matrix ``(n, L)`` for multi-label data.

        Binary data: ``classes_[class_id_]`` where its probability is ``>= threshold_``; multi-class data: the
        :class:`~imbalance.thresholds.ThresholdTuner` rule (``class_id``) or argmax; multi-label data: each label
        where its probability is ``>= threshold_[j]``. The comparisons are made on the logits (exact where the
        probabilities saturate).
        """
        decided = self._decide(self._logits(X))
        if self.task_ == "binary":
            return self.classes_[np.where(decided.astype(bool), self.class_id_, 1 - self.class_id_)]
        if self.task_ == "multilabel":
            return decided
        return self.classes_[decided]


def _logsumexp(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=1, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))


def _comparable(value: Any, classes: np.ndarray) -> bool:
    """Whether ``value`` may be compared with ``classes`` elementwise (a string with numbers would warn)."""
    is_text = isinstance(value, str)
    return is_text == (classes.dtype.kind in "USO" and all(isinstance(c, str) for c in classes.tolist()))
