"""Models with several named outputs ("heads"): one label array and one set of class weights per head.

Keras' ``model.fit(class_weight=...)`` refuses a model with several outputs; ``sample_weight`` accepts a dict
``{output name: weights}`` instead. :func:`per_head` checks a dict of labels against a dict of per-head settings
once (the same heads, the same number of rows) and applies a per-head function — :func:`imbalance.weighting`
calls it with its own ``sample_weights`` (``sample_weights({head: y}, {head: class_weight})``), so this module
needs none of the formulas and the flow stays one-way.

A head of the labels without an entry in the settings (or with ``None``) gets weights of ones of the shape its
weights would have: ``(n,)`` for labels of one or two dimensions, ``(N, H, W)`` for masks
(:func:`imbalance.dense.pixel_grid`). Keras needs a weight for every output once ``sample_weight`` is a dict.

>>> import numpy as np
>>> weigh = lambda y, cw: np.asarray([cw[int(v)] for v in y], dtype=np.float32)
>>> per_head({"main": [0, 1], "aux": [1, 1]}, {"main": {0: 1.0, 1: 3.0}}, weigh)
{'main': array([1., 3.], dtype=float32), 'aux': array([1., 1.], dtype=float32)}
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from imbalance._validation import as_numpy, quote
from imbalance.dense import pixel_grid

__all__ = ["check_heads", "head_output", "output_names", "per_head"]


def _rows(head: str, y: Any) -> int:
    shape = np.shape(as_numpy(y))
    if not shape:
        raise ValueError(f"Labels of head {head!r} must hold one label per row. Received a scalar: {quote(y)}")
    return int(shape[0])


def check_heads(y: Any, settings: Any, name: str = "class_weight") -> dict[str, Any]:
    """The per-head ``settings`` for every head of the labels ``y`` (``None`` where a head has none), validated.

    ``y`` must be a dict ``{head: labels}`` whose heads hold the same number of rows; ``settings`` a dict
    ``{head: setting}`` naming only heads of ``y``, or one setting for every head (a method name such as
    ``"balanced"``, or ``None``). The errors name the head.

    >>> check_heads({"a": [0, 1], "b": [1, 0]}, "balanced")
    {'a': 'balanced', 'b': 'balanced'}
    >>> check_heads({"a": [0, 1], "b": [1, 0]}, {"c": {0: 1.0, 1: 2.0}})
    Traceback (most recent call last):
    ...
    ValueError: `class_weight` names head 'c', which is not a head of the labels (heads: 'a', 'b'). Received: class_weight={'c': {0: 1.0, 1: 2.0}}
    """
    if not isinstance(y, Mapping) or not y:
        raise ValueError(f"Labels of a model with several outputs must be a non-empty dict {{head: labels}}. "
                         f"Received: {quote(y)[:200]}")
    heads = list(y)
    shown = ", ".join(repr(h) for h in heads)
    if settings is None or isinstance(settings, str):
        chosen = {head: settings for head in heads}
    elif isinstance(settings, Mapping):
        unknown = [key for key in settings if key not in y]
        if unknown:
            what = "heads" if len(unknown) > 1 else "head"
            names = ", ".join(repr(k) for k in unknown)
            hint = (" (integer keys: class weights of one head? give them per head: {head: {class: weight}})"
                    if all(isinstance(k, (int, np.integer)) for k in unknown) else "")
            raise ValueError(f"`{name}` names {what} {names}, which {'are' if len(unknown) > 1 else 'is'} not "
                             f"{'heads' if len(unknown) > 1 else 'a head'} of the labels (heads: {shown}){hint}. "
                             f"Received: {name}={quote(settings)[:300]}")
        chosen = {head: settings.get(head) for head in heads}
    else:
        raise ValueError(f"With labels for several heads ({shown}), `{name}` must be a dict {{head: {name}}} or one "
                         f"method name for every head. Received: {name}={quote(settings)[:300]}")
    first = heads[0]
    n = _rows(first, y[first])
    for head in heads[1:]:
        rows = _rows(head, y[head])
        if rows != n:
            raise ValueError(f"Head {head!r} has {rows} rows of labels but head {first!r} has {n}; every head needs "
                             "one label per row of the same inputs.")
    return chosen


def per_head(y: Mapping[str, Any], settings: Any, weigh: Callable[[Any, Any], np.ndarray],
             name: str = "class_weight") -> dict[str, np.ndarray]:
    """``{head: weigh(y[head], settings[head])}`` for every head of ``y``, ones (float32, the shape of the head's
    weights) for a head without settings; validated by :func:`check_heads`. An error of ``weigh`` is raised again
    with the head's name in front.

    >>> per_head({"seg": np.zeros((1, 2, 2), int)}, None, lambda y, cw: None)["seg"].shape
    (1, 2, 2)
    """
    chosen = check_heads(y, settings, name)
    out = {}
    for head, setting in chosen.items():
        if setting is None:
            out[head] = np.ones(pixel_grid(y[head]), dtype=np.float32)
            continue
        try:
            out[head] = weigh(y[head], setting)
        except ValueError as error:
            raise ValueError(f"Head {head!r}: {error}") from None
    return out


def output_names(model: Any) -> list[str]:
    """The names of a Keras model's outputs (a Sequential model's: its last layer's)."""
    names = list(getattr(model, "output_names", None) or [])
    return names or ([model.layers[-1].name] if getattr(model, "layers", None) else [])


def head_output(model: Any, outputs: Any, name: str | None) -> Any:
    """The output ``name`` of what ``model`` returned: from a dict, from a list in :func:`output_names` order, or
    the one output itself (also when ``name`` is None)."""
    if name is None or not isinstance(outputs, (dict, list, tuple)):
        return outputs
    return outputs[name] if isinstance(outputs, dict) else outputs[output_names(model).index(name)]
