"""Prior correction: :func:`prior_shift` (Saerens et al., 2002) of probabilities after resampling or weighting
changed the training prior."""

from __future__ import annotations

from typing import Any

import numpy as np

from imbalance._validation import quote
from imbalance.labels import TASKS

# --- prior shift ---------------------------------------------------------------------------------------------


def _check_prior(name: str, value: Any, size: int | None) -> np.ndarray:
    arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    if arr.ndim > 1 or arr.size == 0 or (size is not None and arr.ndim == 1 and arr.size != size):
        expected = "a scalar" if size is None else f"a scalar or {size} values"
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={quote(value)}")
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr >= 1)
    if np.any(bad):
        i = int(np.argmax(np.ravel(bad)))
        raise ValueError(f"Every prior in `{name}` must be in (0, 1) (a class with prior 0 or 1 cannot be "
                         f"re-weighted); entry {i} is {float(np.ravel(arr)[i])!r}. Received: {name}={quote(value)}")
    return arr


def _check_distribution(name: str, value: Any, k: int) -> np.ndarray:
    arr = _check_prior(name, value, k)
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must hold {k} class priors for multi-class probabilities. Received: "
                         f"{name}={quote(value)}")
    if abs(float(arr.sum()) - 1.0) > 1e-6:
        raise ValueError(f"The class priors in `{name}` must sum to 1; they sum to {float(arr.sum())!r}. "
                         f"Received: {name}={quote(value)}")
    return arr


def prior_shift(probs: Any, train_prior: Any, target_prior: Any, task: str | None = None) -> np.ndarray:
    """Correct probabilities for a change of class prior (Saerens, Latinne and Decaestecker, 2002).

    A model trained where class ``k`` had prior ``train_prior[k]`` outputs ``p(k | x)`` under that prior. Where the
    prior is ``target_prior`` (the real base rate, after resampling or class weights changed the training one),
    Bayes' rule gives ``p'(k | x) ∝ p(k | x) · target_prior[k] / train_prior[k]``, renormalised over the classes.
    The companion at initialisation is :func:`imbalance.weighting.output_bias` (start the last layer at the
    log-prior); this corrects the outputs afterwards. A class weight ``w_k`` acts like a training prior
    proportional to ``prior_k · w_k``.

    * **binary** — ``probs`` ``(n,)`` or ``(n, 1)``: probability of the positive class; priors are the positive
      rate (a scalar) or ``[p(0), p(1)]``.
    * **multi-label** — ``probs`` ``(n, L)`` of independent sigmoids; priors per label (``L`` positive rates, or a
      scalar for all), each column corrected as a binary problem.
    * **multi-class** — ``probs`` ``(n, K)``, rows of a softmax; priors are ``K`` probabilities summing to 1.

    Args:
        probs: probabilities in ``[0, 1]`` (not logits).
        train_prior: the prior the model was trained under (0.5 after balanced resampling).
        target_prior: the prior to correct to.
        task: ``"binary"``, ``"multilabel"`` or ``"multiclass"``; ``None`` decides from the shape: one column is
            binary; ``K`` columns whose rows all sum to 1 are multi-class, otherwise multi-label.

    Returns:
        float64 probabilities of the shape of ``probs`` (float32 in, float32 out).

    Raises:
        ValueError: probabilities outside ``[0, 1]`` or not finite, priors outside ``(0, 1)``, multi-class priors
            that do not sum to 1 or have the wrong length, softmax rows that do not sum to 1.

    >>> prior_shift([0.5, 0.9], train_prior=0.5, target_prior=0.1).round(4).tolist()
    [0.1, 0.5]
    >>> prior_shift([[0.5, 0.25, 0.25]], [1/3, 1/3, 1/3], [0.2, 0.4, 0.4]).round(4).tolist()
    [[0.3333, 0.3333, 0.3333]]
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)} or None. Received: task={task!r}")
    raw = np.asarray(probs.numpy() if hasattr(probs, "numpy") else probs)
    if raw.dtype.kind not in "fiub" or raw.ndim not in (1, 2) or raw.size == 0:
        raise ValueError(f"`probs` must be a non-empty numeric array of shape (n,), (n, 1) or (n, K). Received "
                         f"shape {raw.shape} of type {raw.dtype}.")
    out_dtype = raw.dtype if raw.dtype in (np.float32, np.float64) else np.float64
    p = raw.astype(np.float64)
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        place = f"row {index[0]}" + (f", column {index[1]}" if p.ndim == 2 else "")
        raise ValueError(f"`probs` must be probabilities in [0, 1] (apply a sigmoid / softmax to logits first); "
                         f"{place} holds {raw[index].item()!r}.")
    columns = 1 if p.ndim == 1 else p.shape[1]
    if task is None:
        if columns == 1:
            task = "binary"
        else:
            task = "multiclass" if np.allclose(p.sum(axis=1), 1.0, atol=1e-4) else "multilabel"
    if task == "binary":
        if columns != 1:
            raise ValueError(f"task='binary' takes probabilities of shape (n,) or (n, 1). Received shape {p.shape}.")
        old, new = _binary_prior("train_prior", train_prior), _binary_prior("target_prior", target_prior)
        return _shift_columns(p, old, new).astype(out_dtype)
    if task == "multilabel":
        old = _check_prior("train_prior", train_prior, columns)
        new = _check_prior("target_prior", target_prior, columns)
        return _shift_columns(p, old, new).astype(out_dtype)
    if columns < 2:
        raise ValueError(f"task='multiclass' takes rows of a softmax with K >= 2 columns. Received shape {p.shape}.")
    sums = p.sum(axis=1)
    off = np.abs(sums - 1.0) > 1e-4
    if np.any(off):
        row = int(np.argmax(off))
        raise ValueError(f"Multi-class probabilities are rows of a softmax summing to 1; row {row} sums to "
                         f"{float(sums[row])!r}. For independent sigmoid outputs pass task='multilabel'.")
    old = _check_distribution("train_prior", train_prior, columns)
    new = _check_distribution("target_prior", target_prior, columns)
    q = p * (new / old)
    return (q / q.sum(axis=1, keepdims=True)).astype(out_dtype)


def _binary_prior(name: str, value: Any) -> np.ndarray:
    """The positive rate from a scalar or a ``[p(0), p(1)]`` pair."""
    arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 2:
        return _check_distribution(name, value, 2)[1]
    if arr.ndim != 0:
        raise ValueError(f"`{name}` of a binary problem must be the positive rate (a scalar) or [p(0), p(1)]. "
                         f"Received: {name}={quote(value)}")
    return _check_prior(name, value, None)


def _shift_columns(p: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Binary correction of each column: ``p r1 / (p r1 + (1 - p) r0)``, exact at p = 0 and p = 1."""
    r1 = new / old
    r0 = (1.0 - new) / (1.0 - old)
    num = p * r1
    return num / (num + (1.0 - p) * r0)
