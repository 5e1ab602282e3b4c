"""The served model: one Keras model that outputs ``scores`` (probabilities) and ``decisions`` (the candidate's
rule as a layer), saved atomically so a ``.keras`` file is never half-written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from imbalance.experiment.data import ComparisonData

__all__ = ["save_model_atomically", "served_model", "with_decision"]


def served_model(d: ComparisonData, fitted: list[Any], rule: Any) -> Any:
    """``scores`` (probabilities, averaged over the fitted models) and, when ``rule`` has a layer (a tuned or a
    fixed threshold), ``decisions``; ``rule=None`` (multi-class argmax without ``class_id``) serves scores only."""
    import keras

    first = fitted[0]
    inputs = keras.Input(first.input_shape[1:] if hasattr(first, "input_shape") else first.inputs[0].shape[1:])
    if len(fitted) > 1:
        for k, m in enumerate(fitted):
            m.name = f"fold_model_{k}"  # unique names: the ensemble is one saved model
    logits = [m(inputs) for m in fitted]
    activation = "softmax" if d.task == "multiclass" else "sigmoid"
    probs = [keras.layers.Activation(activation)(z) for z in logits]
    scores = probs[0] if len(probs) == 1 else keras.layers.Average()(probs)
    outputs = {"scores": scores}
    layer = rule.to_layer() if rule is not None else None
    if layer is not None:
        outputs["decisions"] = layer(scores)
    return keras.Model(inputs, outputs, name="imbalance_served")


def with_decision(served: Any, rule: Any) -> Any:
    """A served model (``scores`` and maybe ``decisions``) rewired to decide with ``rule`` (e.g. a
    :class:`~imbalance.thresholds.FixedThreshold` at 0.5 or argmax)."""
    import keras

    inputs = keras.Input(served.inputs[0].shape[1:])
    scores = served(inputs)["scores"]
    return keras.Model(inputs, {"scores": scores, "decisions": rule.to_layer(name="decisions")(scores)},
                       name="imbalance_served")


def save_model_atomically(model: Any, path: Path) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``path``, then moved into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
