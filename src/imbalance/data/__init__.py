"""Rebalancing and augmentation inside ``tf.data``.

=================================  ================================================================================
name                               what it does
=================================  ================================================================================
:func:`balanced_dataset`           arrays → batched dataset with exact per-class counts, a fresh draw every epoch
:func:`rebalance`                  unbatched stream → rebalanced stream, bounded memory (filter / repeat + shuffle)
:class:`ImblearnSampler`           any imbalanced-learn sampler (SMOTE, ADASYN, …) redrawn every epoch
:func:`repeat_factors`             LVIS repeat factors of images (masks or image labels); numpy
:func:`repeat_factor_sampler`      image indices drawn by repeat factors, a fresh stochastic rounding every epoch
:func:`repeat_factor_dataset`      arrays → batched dataset sampled by repeat factors
:func:`augment_classes`            graph-safe augmentation of the chosen classes only
:func:`load_table`                 CSV / TSV / Parquet / NPZ / KEEL ``.dat`` → features, labels, preprocessor
=================================  ================================================================================

Tables (:func:`load_table`) need only pandas. The rest runs in ``tf.data`` and imports TensorFlow the first time one
of its names is used (on any Keras backend); without TensorFlow that use fails with one line naming the extra to
install, ``pip install 'imbalance[tensorflow]'``.
"""

from typing import Any

from imbalance.data.io import DataError, Table, load_table

# name -> module, imported on first use (PEP 562): they need TensorFlow (repeat_factor imports it on use only).
_TF_NAMES = {
    "class_repeat_factors": "repeat_factor",
    "repeat_factor_dataset": "repeat_factor",
    "repeat_factor_sampler": "repeat_factor",
    "repeat_factors": "repeat_factor",
    "augment_classes": "augment",
    "ImblearnSampler": "imblearn",
    "METHODS": "sampling",
    "TARGETS": "sampling",
    "RebalancePlan": "sampling",
    "SamplingPlan": "sampling",
    "balanced_dataset": "sampling",
    "rebalance": "sampling",
    "rebalance_plan": "sampling",
    "sampling_plan": "sampling",
}
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
    "class_repeat_factors",
    "load_table",
    "rebalance",
    "rebalance_plan",
    "repeat_factor_dataset",
    "repeat_factor_sampler",
    "repeat_factors",
    "sampling_plan",
]


def __getattr__(name: str) -> Any:
    if name in _TF_NAMES:
        import importlib

        value = getattr(importlib.import_module(f"imbalance.data.{_TF_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'imbalance.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_TF_NAMES))
