"""Losses for imbalanced classification, stable on logits, serializable with the model.

Each family lives in its own module as a pure function (``keras.ops`` only) plus a thin ``keras.losses.Loss``
class registered under the package name ``"imbalance"``.

=============================  ==========================  =====================================================
class                          task                        idea
=============================  ==========================  =====================================================
WeightedBinaryCrossentropy     binary, multi-label         weight positives (per label ``pos_weight``)
BinaryFocalLoss                binary, multi-label         down-weight easy examples (Lin et al. 2017)
CategoricalFocalLoss           multi-class (one-hot)       focal loss with per-class ``alpha``
SparseCategoricalFocalLoss     multi-class (ids)           same, integer labels
CostSensitiveCrossentropy      multi-class                 penalise costly confusions (``cost_matrix[i, j]``)
LogitAdjustedLoss              multi-class (logits only)   add ``tau·log prior`` to logits (Menon et al. 2021)
LDAMLoss + DeferredReweighting multi-class (logits only)   per-class margins (Cao et al. 2019) + deferred weights
AsymmetricLoss                 multi-label                 separate focusing for positives/negatives (Ridnik 2021)
=============================  ==========================  =====================================================

**Invalid inputs are never a silent number.** Class ids outside ``0..K-1`` (or not whole numbers), labels outside
``[0, 1]`` and, with ``from_logits=False``, probabilities outside ``[0, 1]`` (NaN included) are refused:

* eager (a direct call, ``run_eagerly=True``, PyTorch's default training loop — every backend): a ValueError that
  names the loss, the row (of the batch) and the value, e.g. ```y_true` of sparse_categorical_focal_loss must be
  integer class ids in [0, 2] (the model output has 3 classes); row 1 holds 5.0``;
* a TensorFlow graph (``tf.function``, ``fit`` with ``jit_compile=False``): a ``tf.debugging.Assert`` fails the
  step with an ``InvalidArgumentError`` carrying the same text, the position and the value;
* compiled code that cannot raise on data (TensorFlow with XLA, ``fit``'s default on a GPU; ``jax.jit``;
  ``torch.compile``): the loss of every row of that batch is NaN, so the batch loss is NaN and
  ``keras.callbacks.TerminateOnNaN`` stops training. The NaN adds no gradient path: the weights stay finite (an
  invalid row adds a finite gradient, 0 for out-of-range class ids). A NaN label or probability makes its row NaN
  by itself.

Compiled, a check is a scalar flag (min and max of the labels or probabilities; an element-wise test of the class
ids) and one scalar ``where``, plus a ``tf.cond`` in a TensorFlow graph; the per-entry mask that the message needs
is computed only eagerly or on failure. BENCHMARKS.md ("Loss speed") measures the step with and without them.
"""

from imbalance.losses.asymmetric import AsymmetricLoss, asymmetric_loss
from imbalance.losses.cost_sensitive import CostSensitiveCrossentropy, cost_sensitive_crossentropy
from imbalance.losses.focal import (
    BinaryFocalLoss,
    CategoricalFocalLoss,
    SparseCategoricalFocalLoss,
    binary_focal_loss,
    categorical_focal_loss,
    sparse_categorical_focal_loss,
)
from imbalance.losses.ldam import DeferredReweighting, LDAMLoss, ldam_loss
from imbalance.losses.logit_adjusted import LogitAdjustedLoss, logit_adjusted_loss
from imbalance.losses.weighted import WeightedBinaryCrossentropy, weighted_binary_crossentropy

__all__ = [
    "AsymmetricLoss",
    "BinaryFocalLoss",
    "CategoricalFocalLoss",
    "CostSensitiveCrossentropy",
    "DeferredReweighting",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "SparseCategoricalFocalLoss",
    "WeightedBinaryCrossentropy",
    "asymmetric_loss",
    "binary_focal_loss",
    "categorical_focal_loss",
    "cost_sensitive_crossentropy",
    "ldam_loss",
    "logit_adjusted_loss",
    "sparse_categorical_focal_loss",
    "weighted_binary_crossentropy",
]
