"""Why does an imbalanced classifier fail? Collapse, flooding, a threshold in the wrong place, or too little training.

A model that "predicts all zeros" is usually not a loss problem. Measured on the seed questions' own setups:

* seed 002 (30 sparse labels): plain binary cross-entropy predicts nothing after 1 epoch — it is **under-trained**;
  after 10 epochs it is near the best any rule can do. A huge ``pos_weight`` predicts all ones (**flooded**).
* seed 000 (class 0 rare): balanced class weights *lowered* class-0 precision while the model *ranked* class 0 better
  (average precision 0.85 → 0.92): the **threshold** was off, not the model.

:func:`diagnose` (:mod:`.diagnosis`) reads labels and scores after the fact; :class:`CollapseMonitor`
(:mod:`.monitor`) runs the same analysis on a fixed validation subsample at the end of every epoch of ``model.fit``
and warns when the set of conditions changes.

==================  ====================================================================================================
condition           meaning (per class or label; see :func:`diagnose` for the exact rules)
==================  ====================================================================================================
``collapsed``       (almost) no positives predicted: at most ``collapse_ratio`` × the true number of positives
``flooded``         (almost) everything predicted positive: at most ``collapse_ratio`` × the true number of negatives
                    predicted negative
``threshold_off``   the scores rank well (PR-AUC above chance) but F1 at the current threshold is far below the F1 at
                    the best threshold
``no_signal``       PR-AUC no better than a random ranking: no loss, weight or threshold can fix that
``still_learning``  validation PR-AUC still rose in the last epoch (needs ``history``)
``prior_shift``     the model was trained under another class prior (``train_prior``) than the data shows
==================  ====================================================================================================

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = (rng.random(2000) < 0.05).astype(int)
>>> scores = np.where(y == 1, rng.uniform(0.1, 0.4, 2000), rng.uniform(0.0, 0.2, 2000))  # ranks well, all < 0.5
>>> d = diagnose(y, scores)
>>> d.conditions
('collapsed',)
>>> d.classes[0].predicted_rate, round(d.classes[0].best_f1, 2) > 0.6
(0.0, True)
"""

from imbalance.diagnose.diagnosis import (
    CONDITIONS,
    PRIOR_ODDS_RATIO,
    ClassDiagnosis,
    Diagnosis,
    DiagnosisWarning,
    chance_pr_auc,
    diagnose,
)
from imbalance.diagnose.monitor import CollapseMonitor

__all__ = [
    "CONDITIONS",
    "ClassDiagnosis",
    "CollapseMonitor",
    "Diagnosis",
    "DiagnosisWarning",
    "chance_pr_auc",
    "diagnose",
]
