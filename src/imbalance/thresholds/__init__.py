"""Decision thresholds for the user's objective, exact and safe on unseen data; prior correction.

A model trained on imbalanced data ranks well long before ``score >= 0.5`` is a good decision. This package turns
validation scores into the decision rule the user asked for (one concept per module: :mod:`.objective`,
:mod:`.search`, :mod:`.tuner`, :mod:`.layers`, :mod:`.prior`; folds and out-of-fold scores live in
:mod:`imbalance.splits` and are re-exported here):

=================================  ===============================================================================
name                               what it does
=================================  ===============================================================================
:func:`parse_objective`            one syntax for Python and the CLI: ``"f1"``, ``"f2"``, ``"fbeta:0.5"``,
                                   ``"recall@precision>=0.9"``, ``"precision@recall>=0.8"``, ``"cost:fp=1,fn=10"``
:class:`ThresholdTuner`            exact search over every distinct score (no grid) for binary, multi-label (one
                                   threshold per label) and multi-class (``class_id=k``) scores; constraints met by
                                   a Clopper-Pearson lower confidence bound by default
:class:`FixedThreshold`            the same interface for a rule that is not tuned: 0.5, a value, or argmax
:class:`ThresholdLayer`            the decision rule as a serializable Keras layer: a saved model serves decisions
:func:`out_of_fold_scores`         out-of-fold scores of a Keras model factory (stratified folds), to tune on every
                                   labelled row instead of a small validation split
:func:`prior_shift`                Saerens et al. (2002) correction of probabilities after the class prior changed
=================================  ===============================================================================

The decision rule is always ``score >= threshold`` (a row whose score equals the threshold is predicted positive).

>>> import numpy as np
>>> y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
>>> s = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9])
>>> tuner = ThresholdTuner("f1").fit(y, s)
>>> tuner.thresholds_.tolist(), round(tuner.best_score_, 4)
([0.3], 0.8)
>>> tuner.predict(s).tolist()
[0, 0, 1, 1, 1, 1, 1, 1]
"""

from __future__ import annotations
from imbalance.splits import iterative_folds, out_of_fold_scores
from imbalance.thresholds.layers import ArgmaxLayer, ThresholdLayer
from imbalance.thresholds.objective import OBJECTIVE_FORMS, Objective, parse_objective
from imbalance.thresholds.prior import prior_shift
from imbalance.thresholds.search import UnreachableTargetError, UnreachableTargetWarning
from imbalance.thresholds.tuner import FixedThreshold, ThresholdTuner

__all__ = [
    "ArgmaxLayer",
    "FixedThreshold",
    "OBJECTIVE_FORMS",
    "Objective",
    "ThresholdLayer",
    "ThresholdTuner",
    "UnreachableTargetError",
    "UnreachableTargetWarning",
    "iterative_folds",
    "out_of_fold_scores",
    "parse_objective",
    "prior_shift",
]
