"""LDAM loss and deferred re-weighting (Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
Margin Loss", NeurIPS 2019), as in the authors' reference code (github.com/kaidic/LDAM-DRW).

Each class ``j`` gets a margin ``m_j ∝ n_j^(-1/4)``, rescaled so the largest margin equals ``max_margin``: rare
classes must win by a larger margin, which enlarges their decision region. The true-class logit is reduced by its
margin, the logits are multiplied by ``scale``, and the result goes through softmax cross-entropy, optionally
weighted per class. :class:`DeferredReweighting` (DRW) trains with weights 1 first and switches to class-balanced
weights at a given epoch, which is how the paper gets its best results.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from imbalance.losses._common import (
    as_constant,
    check_counts,
    check_length,
    check_scalar,
    check_vector,
    labels_to_one_hot,
    prepare,
    with_poison,
)
from imbalance.weighting import class_weights_from_counts

EFFECTIVE_NUMBER_BETA = 0.9999


def ldam_margins(class_counts: Sequence[float], max_margin: float = 0.5) -> list[float]:
    """``m_j = n_j^(-1/4)``, rescaled so that ``max_j m_j = max_margin``.

    >>> [round(m, 4) for m in ldam_margins([10000, 100], max_margin=0.5)]
    [0.1581, 0.5]
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    margins = 1.0 / np.sqrt(np.sqrt(counts))
    margins = margins * (max_margin / np.max(margins))
    return [float(m) for m in margins]


def _class_weight_tensor(class_weight: Any, num_classes: int, dtype: str) -> Any:
    if isinstance(class_weight, keras.Variable) or ops.is_tensor(class_weight):
        return ops.cast(ops.convert_to_tensor(class_weight), dtype)
    weights = check_vector("class_weight", class_weight, low=0.0, allow_scalar=False)
    check_length("class_weight", weights, num_classes)
    return as_constant(weights, dtype)


def ldam_loss(
    y_true: Any,
    logits: Any,
    class_counts: Sequence[float] | np.ndarray | dict[int, float],
    max_margin: float = 0.5,
    scale: float = 30.0,
    sparse: bool = True,
    class_weight: Sequence[float] | dict[int, float] | Any | None = None,
) -> Any:
    """Per-sample LDAM loss: ``w_y · CE(softmax(scale · (z - m_y · onehot(y))), y)``.

    ``m`` are the margins of :func:`ldam_margins` and ``w`` the per-class weights (all 1 when ``class_weight`` is
    None; a list, a dict ``{class: weight}``, or a tensor/``keras.Variable`` of shape ``(K,)``). ``max_margin=0``
    and ``scale=1`` give plain cross-entropy. Logits only: the model's last layer must have no softmax.

    The reference code divides the batch sum by the sum of the weights ``w_y`` (PyTorch's weighted mean); here each
    sample's loss is ``w_y · CE`` and Keras' reduction divides by the batch size, as class weights do in Keras.

    Args:
        y_true: integer class ids ``(n,)``/``(n, 1)`` (``sparse=True``, default) or one-hot ``(n, K)``.
        logits: raw scores ``(n, K)``.
        class_counts: training samples per class (list, array or dict), all ``> 0``.
        max_margin: the largest margin (the rarest class's), ``>= 0``.
        scale: multiplier of the logits, ``> 0`` (see :class:`LDAMLoss` on choosing it).
        sparse: whether ``y_true`` holds integer class ids.
        class_weight: per-class weights ``>= 0`` or None.

    >>> import numpy as np
    >>> z, y = np.array([[1.0, 0.3, -0.5]]), np.array([2])
    >>> ce = keras.losses.sparse_categorical_crossentropy(y, z, from_logits=True)
    >>> bool(np.allclose(ldam_loss(y, z, [100, 10, 1], max_margin=0.0, scale=1.0), ce))
    True
    """
    counts = check_counts("class_counts", class_counts)
    max_margin = check_scalar("max_margin", max_margin, low=0.0)
    scale = check_scalar("scale", scale, low=0.0, low_inclusive=False)
    y_true, logits = prepare(y_true, logits)
    if logits.shape[-1] is not None:
        check_length("class_counts", counts, logits.shape[-1])
    num_classes = len(counts)
    y, labels = labels_to_one_hot(y_true, num_classes, sparse, logits.dtype, "ldam_loss")
    margins = as_constant(ldam_margins(counts, max_margin), logits.dtype)
    shifted = scale * (logits - y * margins)  # only the true class loses its margin
    loss = with_poison(-ops.sum(y * ops.log_softmax(shifted, axis=-1), axis=-1), labels)
    if class_weight is not None:
        weights = _class_weight_tensor(class_weight, num_classes, logits.dtype)
        loss = ops.sum(y * weights, axis=-1) * loss
    return loss


@keras.saving.register_keras_serializable(package="imbalance")
class LDAMLoss(keras.losses.Loss):
    """Label-distribution-aware margin loss (see :func:`ldam_loss`), with class weights that a callback can change.

    Choosing ``scale``: the reference applies LDAM to *cosine* logits — features and last-layer weights normalised to
    unit length, so every logit lies in ``[-1, 1]`` — and ``scale=30`` stretches that range back. With an ordinary
    ``Dense`` last layer the logits are already unbounded and ``scale=30`` makes the loss far too sharp (huge
    gradients, unstable training); use a smaller scale, typically 1 to 5, and keep ``max_margin`` in the same units
    as your logits.

    The class weights live in a non-trainable ``keras.Variable`` (``class_weight_variable``, float32, shape ``(K,)``)
    so that :class:`DeferredReweighting` can change them after the train function has been traced. ``get_config``
    stores the constructor's ``class_weight``, not the variable's current value.

    Args:
        class_counts: training samples per class (list, array or dict), every count ``> 0``.
        max_margin: largest margin ``>= 0`` (the paper: 0.5 with cosine logits).
        scale: logit multiplier ``> 0``.
        sparse: whether ``y_true`` holds integer class ids (default) or one-hot rows.
        class_weight: initial per-class weights ``>= 0`` (list or dict), None for all ones.

    Invalid labels raise (eager) or make the batch loss NaN (compiled; see :mod:`imbalance.losses`).

    >>> import numpy as np
    >>> loss = LDAMLoss(class_counts=[1000, 10], max_margin=0.5, scale=1.0)
    >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 4)  # softplus(0.5)
    0.9741
    """

    def __init__(
        self,
        class_counts: Sequence[float] | np.ndarray | dict[int, float],
        max_margin: float = 0.5,
        scale: float = 30.0,
        sparse: bool = True,
        class_weight: Sequence[float] | dict[int, float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "ldam_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.class_counts = check_counts("class_counts", class_counts)
        self.max_margin = check_scalar("max_margin", max_margin, low=0.0)
        self.scale = check_scalar("scale", scale, low=0.0, low_inclusive=False)
        self.sparse = bool(sparse)
        num_classes = len(self.class_counts)
        if class_weight is None:
            self.class_weight = None
            initial = [1.0] * num_classes
        else:
            self.class_weight = check_vector("class_weight", class_weight, low=0.0, allow_scalar=False)
            if len(self.class_weight) != num_classes:
                raise ValueError(
                    f"`class_weight` has {len(self.class_weight)} entries but `class_counts` has {num_classes} "
                    f"classes. Received: class_weight={self.class_weight}"
                )
            initial = self.class_weight
        self.class_weight_variable = keras.Variable(
            np.asarray(initial, dtype="float32"), dtype="float32", trainable=False, name=f"{self.name}_class_weight"
        )

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return ldam_loss(
            y_true,
            y_pred,
            self.class_counts,
            self.max_margin,
            self.scale,
            self.sparse,
            class_weight=self.class_weight_variable,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "class_counts": self.class_counts,
            "max_margin": self.max_margin,
            "scale": self.scale,
            "sparse": self.sparse,
            "class_weight": self.class_weight,
        }


def _collect(obj: Any, into: list[Any]) -> None:
    if isinstance(obj, dict):
        for value in obj.values():
            _collect(value, into)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _collect(value, into)
    elif obj is not None and all(obj is not seen for seen in into):
        into.append(obj)


def _describe(obj: Any) -> str:
    if isinstance(obj, str):
        return repr(obj)
    if hasattr(obj, "__name__"):
        return obj.__name__
    return type(obj).__name__


def find_ldam_losses(model: Any) -> list[LDAMLoss]:
    """The :class:`LDAMLoss` objects a compiled model trains with (``model.loss`` may be one loss, a list or a
    dict; Keras' ``CompileLoss`` is searched too). Raises a ValueError naming what was found when there is none."""
    candidates: list[Any] = []
    _collect(getattr(model, "loss", None), candidates)
    compile_loss = getattr(model, "_compile_loss", None)
    if compile_loss is not None:
        _collect(getattr(compile_loss, "_user_loss", None), candidates)
        for entry in getattr(compile_loss, "_flat_losses", None) or []:
            _collect(getattr(entry, "loss", None), candidates)
    found = [c for c in candidates if isinstance(c, LDAMLoss)]
    if not found:
        received = ", ".join(_describe(c) for c in candidates) or "no loss (is the model compiled?)"
        raise ValueError(
            "DeferredReweighting needs a model compiled with an imbalance.losses.LDAMLoss, whose class weights it "
            f"changes during training. Received: loss of type {received}"
        )
    return found


class DeferredReweighting(keras.callbacks.Callback):
    """Deferred re-weighting (DRW, Cao et al. 2019) of the model's :class:`LDAMLoss`.

    Before epoch ``start_epoch`` (0-based) the loss's class weights are all ones; from ``start_epoch`` on they are
    ``class_weight``. The paper trains 200 epochs with ``start_epoch=160``: the features are learnt on the natural
    distribution, then the decision boundaries are re-balanced.

    Args:
        start_epoch: first epoch (0-based, as Keras counts) trained with the weights, an int ``>= 0``.
        class_weight: per-class weights (list or ``{class: weight}``), or ``"effective_number"`` for the weights
            of Cui et al. (2019), ``(1 - β) / (1 - β^n_j)`` normalised to sum to K, computed from the loss's own
            ``class_counts``.
        beta: the ``β`` of ``"effective_number"``, in ``[0, 1)`` (default 0.9999 as in the paper).

    The weights are written into the loss's ``keras.Variable``, which the TensorFlow train function reads at every
    step, so no re-compilation is needed (on the JAX backend the train function is rebuilt when they change).

    >>> cb = DeferredReweighting(start_epoch=160, class_weight="effective_number")
    >>> cb.start_epoch
    160
    """

    def __init__(
        self,
        start_epoch: int,
        class_weight: Sequence[float] | dict[int, float] | str = "effective_number",
        beta: float = EFFECTIVE_NUMBER_BETA,
    ) -> None:
        super().__init__()
        if isinstance(start_epoch, bool) or not isinstance(start_epoch, (int, np.integer)) or start_epoch < 0:
            raise ValueError(f"`start_epoch` must be an integer >= 0. Received: start_epoch={start_epoch!r}")
        self.start_epoch = int(start_epoch)
        if isinstance(class_weight, str):
            if class_weight != "effective_number":
                raise ValueError(
                    "`class_weight` must be a sequence or dict of per-class weights, or 'effective_number'. "
                    f"Received: class_weight={class_weight!r}"
                )
            self.class_weight: list[float] | str = class_weight
        else:
            self.class_weight = check_vector("class_weight", class_weight, low=0.0, allow_scalar=False)
        self.beta = check_scalar("beta", beta, low=0.0, high=1.0, high_inclusive=False)
        self._targets: list[tuple[LDAMLoss, np.ndarray]] | None = None

    def target_weights(self, loss: LDAMLoss) -> list[float]:
        """The weights ``loss`` gets from ``start_epoch`` on."""
        if self.class_weight == "effective_number":
            weights = class_weights_from_counts(loss.class_counts, "effective_number", beta=self.beta)
            return list(weights.values())
        if len(self.class_weight) != len(loss.class_counts):
            raise ValueError(
                f"`class_weight` has {len(self.class_weight)} entries but the LDAMLoss has "
                f"{len(loss.class_counts)} classes. Received: class_weight={self.class_weight}"
            )
        return list(self.class_weight)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._targets = [
            (loss, np.asarray(self.target_weights(loss), dtype="float32")) for loss in find_ldam_losses(self.model)
        ]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._targets is None:
            self.on_train_begin()
        changed = False
        for loss, target in self._targets:
            value = target if epoch >= self.start_epoch else np.ones_like(target)
            if not np.array_equal(keras.ops.convert_to_numpy(loss.class_weight_variable), value):
                loss.class_weight_variable.assign(value)
                changed = True
        if changed and keras.backend.backend() == "jax":  # jit bakes the value in: retrace
            self.model.make_train_function(force=True)
