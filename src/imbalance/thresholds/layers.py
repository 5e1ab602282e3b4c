"""Decisions inside a saved model: :class:`ThresholdLayer` and :class:`ArgmaxLayer`, serializable Keras layers
without weights."""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from imbalance._validation import quote
from imbalance.labels import TASKS

# --- the Keras layer -----------------------------------------------------------------------------------------


def _wide_dtype() -> str:
    """float64 where the backend computes in it; JAX without ``jax_enable_x64`` has float32 only."""
    if keras.backend.backend() == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


def _float32_at_or_above(values: Sequence[float]) -> np.ndarray:
    """The smallest float32 ``>=`` each value: for a float32 score ``s``, ``s >= t`` exactly when
    ``s >= _float32_at_or_above(t)``, so float32 comparisons decide as float64 ones do.

    >>> s = np.float32(0.3)
    >>> t = float(s) + 1e-12  # just above s: float32(t) rounds back to s, which would pass s >= t
    >>> bool(np.float64(s) >= t), bool(s >= np.float32(t)), bool(s >= _float32_at_or_above([t])[0])
    (False, True, False)
    """
    wide = np.asarray(values, np.float64)
    narrow = wide.astype(np.float32)
    below = narrow.astype(np.float64) < wide
    narrow[below] = np.nextafter(narrow[below], np.float32(np.inf))
    return narrow


@keras.saving.register_keras_serializable(package="imbalance")
class ThresholdLayer(keras.layers.Layer):
    """Scores in, decisions out: ``score >= threshold`` as a serializable Keras layer (no weights).

    * ``task="binary"``: input ``(..., 1)`` or ``(...,)``, one threshold; output 0/1 of the same shape.
    * ``task="multilabel"``: input ``(..., L)``, ``L`` thresholds; output 0/1 ``(..., L)``.
    * ``task="multiclass"``: input ``(..., K)``, one threshold for ``class_id``; output class ids ``(...,)``:
      ``class_id`` where its probability passes, else the most probable other class.

    ``thresholds`` are on the scale of the input: logits when the model outputs logits (``from_logits=True``;
    binary and multi-label compare the logits directly, multi-class applies a softmax first). The comparison runs
    in float64 (float32 scores convert exactly; on JAX without x64, in float32 against the smallest float32 at or
    above each threshold, which decides the same), so decisions equal :meth:`ThresholdTuner.predict` on the same
    scores; for multi-class logits the softmax may differ from numpy's in the last bit (float32's on JAX without
    x64), which matters only for a probability equal to the threshold. Outputs are int32. Usually built by
    :meth:`ThresholdTuner.to_layer`.

    >>> layer = ThresholdLayer([0.3, 0.7], task="multilabel")
    >>> layer(np.array([[0.5, 0.5], [0.2, 0.9]], "float32")).numpy().tolist()
    [[1, 0], [0, 1]]
    >>> rule = ThresholdLayer([0.2], task="multiclass", class_id=0)  # class 0 from probability 0.2 on
    >>> rule(np.array([[0.25, 0.5, 0.25], [0.1, 0.3, 0.6]])).numpy().tolist()
    [0, 2]
    """

    def __init__(self, thresholds: float | Sequence[float], task: str = "binary", class_id: int | None = None,
                 from_logits: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", _wide_dtype())  # float32 scores convert exactly; no autocast to float32
        super().__init__(**kwargs)
        values = [float(v) for v in np.ravel(np.asarray(thresholds, dtype=np.float64))]
        if task not in TASKS:
            raise ValueError(f"`task` must be one of {list(TASKS)}. Received: task={task!r}")
        if not values or any(math.isnan(v) for v in values):
            raise ValueError(f"`thresholds` must be non-empty numbers. Received: thresholds={quote(thresholds)}")
        if task != "multilabel" and len(values) != 1:
            raise ValueError(f"task={task!r} takes one threshold. Received: thresholds={values}")
        if task == "multiclass":
            if class_id is None or isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) \
                    or class_id < 0:
                raise ValueError(f"task='multiclass' needs a class_id >= 0. Received: class_id={class_id!r}")
            class_id = int(class_id)
        elif class_id is not None:
            raise ValueError(f"`class_id` is only for task='multiclass'. Received: class_id={class_id!r}")
        self.thresholds = values
        self.task = task
        self.class_id = class_id
        self.from_logits = bool(from_logits)

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1] if len(input_shape) else None
        if self.task == "multilabel" and last is not None and last != len(self.thresholds):
            raise ValueError(f"ThresholdLayer has {len(self.thresholds)} thresholds but its input has {last} "
                             f"columns (labels). Input shape: {tuple(input_shape)}")
        if self.task == "multiclass" and last is not None and not self.class_id < last:
            raise ValueError(f"ThresholdLayer has class_id={self.class_id} but its input has {last} columns "
                             f"(classes). Input shape: {tuple(input_shape)}")
        if self.task == "binary" and len(input_shape) >= 2 and last not in (None, 1):
            raise ValueError(f"A binary ThresholdLayer takes one score column. Input shape: {tuple(input_shape)}")
        self.built = True

    def call(self, scores: Any) -> Any:
        dtype = _wide_dtype()
        x = ops.cast(scores, dtype)
        t = ops.convert_to_tensor(np.asarray(self.thresholds, np.float64) if dtype == "float64"
                                  else _float32_at_or_above(self.thresholds))
        if self.task == "multiclass":
            probs = ops.softmax(x, axis=-1) if self.from_logits else x
            k = self.class_id
            passes = probs[..., k] >= t[0]
            mask = ops.one_hot(k, ops.shape(probs)[-1], dtype="bool")
            others = ops.argmax(ops.where(mask, ops.convert_to_tensor(-np.inf, dtype), probs), axis=-1)
            return ops.cast(ops.where(passes, k, others), "int32")
        if self.task == "binary":
            t = t[0]
        return ops.cast(x >= t, "int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": list(self.thresholds), "task": self.task,
                "class_id": self.class_id, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="imbalance")
class ArgmaxLayer(keras.layers.Layer):
    """Scores ``(..., K)`` in, the class id of the highest score out (int32): the untuned multi-class decision,
    as a serializable layer for a saved model's ``decisions`` output (no weights).

    >>> ArgmaxLayer()(np.array([[0.2, 0.5, 0.3], [0.7, 0.2, 0.1]], "float32")).numpy().tolist()
    [1, 0]
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def call(self, scores: Any) -> Any:
        return ops.cast(ops.argmax(scores, axis=-1), "int32")
