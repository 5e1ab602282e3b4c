"""Run imbalance strategies side by side and report which one wins (``imbalance compare``).

The rooms, in the order data flows through them: :mod:`~imbalance.experiment.data` (intake) →
:mod:`~imbalance.experiment.protocol` (paired units, where thresholds are chosen) →
:mod:`~imbalance.experiment.strategies` and :mod:`~imbalance.experiment.training` (one model per run) →
:mod:`~imbalance.experiment.scoring` (threshold and test numbers) → :mod:`~imbalance.experiment.records`
(:class:`RunRecord`, ``runs.jsonl``) → :mod:`~imbalance.experiment.candidates` and
:mod:`~imbalance.experiment.verdict` → :mod:`~imbalance.experiment.results` (:class:`Results`),
:mod:`~imbalance.experiment.serving` and :mod:`~imbalance.experiment.report`; :func:`compare` in
:mod:`~imbalance.experiment.runner` runs them.

>>> from imbalance.experiment import available
>>> "logit_adjusted" in available("multiclass")
True
"""

from imbalance.experiment.candidates import Candidate, describe_rule, split_candidate
from imbalance.experiment.config import ComparisonConfig
from imbalance.experiment.data import ComparisonData, prepare_data
from imbalance.experiment.protocol import Protocol, Unit, out_of_fold
from imbalance.experiment.records import RUNS_FILE, RunRecord, RunStore
from imbalance.experiment.results import Results
from imbalance.experiment.runner import compare
from imbalance.experiment.strategies import (
    STRATEGIES,
    Strategy,
    StrategyContext,
    TrainPlan,
    available,
    get_strategy,
    register,
)
from imbalance.experiment.training import Budget, build_mlp, predict_scores, train_model, train_strategy
from imbalance.experiment.verdict import Verdict, summary_table, verdict

__all__ = [
    "Budget",
    "Candidate",
    "ComparisonConfig",
    "ComparisonData",
    "Protocol",
    "RUNS_FILE",
    "Results",
    "RunRecord",
    "RunStore",
    "STRATEGIES",
    "Strategy",
    "StrategyContext",
    "TrainPlan",
    "Unit",
    "Verdict",
    "available",
    "build_mlp",
    "compare",
    "describe_rule",
    "get_strategy",
    "out_of_fold",
    "predict_scores",
    "prepare_data",
    "register",
    "split_candidate",
    "summary_table",
    "train_model",
    "train_strategy",
    "verdict",
]
