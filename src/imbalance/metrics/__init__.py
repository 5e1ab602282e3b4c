"""Metrics for imbalanced problems: Keras streaming metrics on logits or probabilities for every label format
(:mod:`imbalance.metrics.keras_metrics`) and a per-class evaluation table that agrees with scikit-learn
(:func:`imbalance.metrics.report`). Segmentation outputs ``(N, H, W, K)`` are read one row per pixel;
:class:`IoU` / :class:`MeanIoU` (:mod:`imbalance.metrics.iou`) score them per class."""

from imbalance.metrics.keras_metrics import (
    PRAUC,
    BalancedAccuracy,
    FBetaScore,
    GeometricMean,
    MatthewsCorrelation,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
)
from imbalance.metrics.iou import IoU, MeanIoU
from imbalance.metrics.report import report

__all__ = [
    "BalancedAccuracy",
    "FBetaScore",
    "GeometricMean",
    "IoU",
    "MatthewsCorrelation",
    "MeanIoU",
    "PRAUC",
    "Precision",
    "PrecisionAtRecall",
    "Recall",
    "RecallAtPrecision",
    "report",
]
