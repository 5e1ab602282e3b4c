"""Rebalancing and augmentation inside ``tf.data``.

=================================  ================================================================================
name                               what it does
=================================  ================================================================================
:func:`balanced_dataset`           arrays → batched dataset with exact per-class counts, a fresh draw every epoch
:func:`rebalance`                  unbatched stream → rebalanced stream, bounded memory (filter / repeat + shuffle)
:class:`ImblearnSampler`           any imbalanced-learn sampler (SMOTE, ADASYN, …) redrawn every epoch
:func:`augment_classes`            graph-safe augmentation of the chosen classes only
:func:`load_table`                 CSV / TSV / Parquet / NPZ / KEEL ``.dat`` → features, labels, preprocessor
=================================  ================================================================================
"""

from imbalance.data.augment import augment_classes
from imbalance.data.imblearn import ImblearnSampler
from imbalance.data.io import DataError, Table, load_table
from imbalance.data.sampling import (
    METHODS,
    TARGETS,
    RebalancePlan,
    SamplingPlan,
    balanced_dataset,
    rebalance,
    rebalance_plan,
    sampling_plan,
)

__all__ = [
    "METHODS",
    "TARGETS",
    "DataError",
    "ImblearnSampler",
    "Table",
    "RebalancePlan",
    "SamplingPlan",
    "augment_classes",
    "balanced_dataset",
    "load_table",
    "rebalance",
    "rebalance_plan",
    "sampling_plan",
]
