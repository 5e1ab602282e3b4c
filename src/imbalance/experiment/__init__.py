"""Run imbalance strategies side by side and report which one wins (``imbalance compare``).

>>> from imbalance.experiment import available
>>> "logit_adjusted" in available("multiclass")
True
"""

from imbalance.experiment.runner import (
    ComparisonData,
    Results,
    build_mlp,
    compare,
    prepare_data,
    split_candidate,
    train_strategy,
)
from imbalance.experiment.strategies import (
    STRATEGIES,
    Strategy,
    StrategyContext,
    TrainPlan,
    available,
    get_strategy,
    register,
)
from imbalance.experiment.verdict import Verdict, summary_table, verdict

__all__ = [
    "ComparisonData",
    "Results",
    "STRATEGIES",
    "Strategy",
    "StrategyContext",
    "TrainPlan",
    "Verdict",
    "available",
    "build_mlp",
    "compare",
    "get_strategy",
    "prepare_data",
    "register",
    "split_candidate",
    "summary_table",
    "train_strategy",
    "verdict",
]
