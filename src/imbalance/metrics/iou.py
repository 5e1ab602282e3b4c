"""Intersection over union (Jaccard index) as a streaming Keras metric: the score of segmentation, per class.

``IoU_k = TP_k / (TP_k + FP_k + FN_k)`` from the same weighted counts as :class:`imbalance.metrics.Precision`
(:func:`imbalance.metrics.counts.confusion_counts`), so it takes every label format, logits or probabilities,
``class_id`` and per-pixel outputs ``(N, H, W, K)`` with ids ``(N, H, W)`` or one-hot / multi-hot masks, read one
row per pixel. It equals :func:`sklearn.metrics.jaccard_score` on the decisions (``labels=range(K)``,
``zero_division=0``).

>>> import numpy as np
>>> m = IoU(class_id=1, from_logits=True)
>>> masks = np.array([[[0, 1], [1, 0]]])                    # one 2x2 mask, class 1 on the diagonal
>>> logits = np.array([[[[2.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, 2.0]]]])
>>> m.update_state(masks, logits)                           # predicted class 1 at (0, 1) and (1, 1)
>>> round(float(m.result()), 4)                             # TP 1, FP 1, FN 1
0.3333
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
from keras import ops

from imbalance.metrics.counts import average_scores
from imbalance.metrics.keras_metrics import _check_average, _ConfusionMetric

__all__ = ["IoU", "MeanIoU", "iou_from_counts"]


def iou_from_counts(counts: Any, average: str | None = "macro") -> Any:
    """Intersection over union per column, ``TP / (predicted + actual − TP)``, from
    :func:`imbalance.metrics.counts.confusion_counts`; 0 where a class is neither true nor predicted; ``average``
    as in :func:`sklearn.metrics.jaccard_score` (``"micro"`` pools the counts first).

    >>> import numpy as np
    >>> counts = np.array([[2.0, 1.0], [4.0, 1.0], [3.0, 2.0], [6.0, 6.0]])  # TP, TP+FP, TP+FN, total
    >>> [round(float(v), 4) for v in ops.convert_to_numpy(iou_from_counts(counts, average=None))]
    [0.4, 0.5]
    """
    counts = ops.convert_to_tensor(counts)
    tp, predicted, actual = counts[0], counts[1], counts[2]
    if average == "micro":
        tp, predicted, actual = ops.sum(tp), ops.sum(predicted), ops.sum(actual)
    score = ops.divide_no_nan(tp, predicted + actual - tp)
    return score if average == "micro" else average_scores(score, actual, average)


@keras.saving.register_keras_serializable(package="imbalance")
class IoU(_ConfusionMetric):
    """Streaming intersection over union (Jaccard index) per class, averaged, or of one class (``class_id``).

    Args:
        class_id: the IoU of one class only (one-vs-rest: the rare class of a segmentation).
        average: ``"macro"`` (mean IoU over all ``K`` classes; a class neither true nor predicted counts 0, as
            scikit-learn with ``labels=range(K)`` — Keras' ``MeanIoU`` leaves such classes out), ``"micro"``,
            ``"weighted"`` (by support) or ``None`` (one logged scalar per class, ``{name}_class_{k}``).
        threshold: ``None`` (argmax for a softmax output, 0.5 for sigmoid outputs) or a probability (one-vs-rest),
            as :class:`imbalance.metrics.Precision`.
        from_logits: whether the model outputs logits.
        multi_label: read a label matrix as multi-hot (one sigmoid per label).

    >>> import numpy as np
    >>> m = IoU(average=None, name="iou")
    >>> m.update_state([0, 1, 1, 2], np.array([[.8, .1, .1], [.6, .3, .1], [.2, .7, .1], [.1, .2, .7]]))
    >>> {key: round(float(v), 4) for key, v in m.result().items()}
    {'iou_class_0': 0.5, 'iou_class_1': 0.5, 'iou_class_2': 1.0}
    """

    def __init__(self, class_id: int | None = None, average: str | None = "macro",
                 threshold: float | Sequence[float] | None = None, from_logits: bool = False,
                 multi_label: bool = False, name: str = "iou", dtype: Any = None) -> None:
        super().__init__(class_id=class_id, threshold=threshold, from_logits=from_logits, multi_label=multi_label,
                         name=name, dtype=dtype)
        self.average = _check_average(average)

    def _score(self, counts: Any, single_label: bool) -> Any:
        return iou_from_counts(counts, "micro" if self.class_id is not None else self.average)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average}


@keras.saving.register_keras_serializable(package="imbalance")
class MeanIoU(IoU):
    """Mean IoU over the classes: :class:`IoU` with ``average="macro"``, logged as ``mean_iou``.

    >>> import numpy as np
    >>> m = MeanIoU()
    >>> m.update_state([0, 1, 1, 2], np.array([[.8, .1, .1], [.6, .3, .1], [.2, .7, .1], [.1, .2, .7]]))
    >>> round(float(m.result()), 4)  # (0.5 + 0.5 + 1) / 3
    0.6667
    """

    def __init__(self, class_id: int | None = None, threshold: float | Sequence[float] | None = None,
                 from_logits: bool = False, multi_label: bool = False, name: str = "mean_iou",
                 dtype: Any = None) -> None:
        super().__init__(class_id=class_id, average="macro", threshold=threshold, from_logits=from_logits,
                         multi_label=multi_label, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("average")
        return config
