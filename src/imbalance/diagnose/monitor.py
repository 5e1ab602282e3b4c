"""The diagnosis every epoch: :class:`CollapseMonitor`, a Keras callback that warns when the conditions change."""

from __future__ import annotations

import time
import warnings
from typing import Any, Sequence

import keras
import numpy as np

from imbalance._validation import check_positive_int
from imbalance.diagnose.diagnosis import Diagnosis, DiagnosisWarning, diagnose
from imbalance.labels import inspect_labels, to_class_ids, to_multi_hot


class CollapseMonitor(keras.callbacks.Callback):
    """Keras callback: :func:`diagnose` on a fixed validation subsample after every epoch; warns when the set of
    conditions (collapsed, flooded, threshold off, no signal, prior shift) changes, and at the end of training when
    validation PR-AUC was still rising (``still_learning``: train longer).

    Cheap by design: the subsample (at most ``max_samples`` rows, drawn once with ``seed``) goes through the model
    once per epoch (``model(x, training=False)`` in batches of ``batch_size``), plus once before the first epoch (the
    baseline for ``still_learning``).

    Args:
        validation_data: ``(x, y)`` arrays (``x`` may be a dict or list of arrays); ``y`` in any label format.
        max_samples: at most this many validation rows are used (None: all).
        threshold: the decision threshold in use (binary / multi-label; default 0.5).
        from_logits: whether the model outputs logits; None reads the last layer's activation (``sigmoid`` /
            ``softmax``: probabilities; none / ``linear``: logits).
        train_prior, task, class_names: passed to :func:`diagnose`.
        batch_size: rows per forward pass.
        seed: seed of the subsample.
        verbose: emit :class:`DiagnosisWarning` warnings (``warnings.warn``); messages are always kept in
            ``messages_``.
        **options: further keyword arguments of :func:`diagnose` (``collapse_ratio``, ``f1_gap``, ``min_positives``,
            ``min_fraction``, ``min_delta``).

    Attributes:
        history_: one :class:`Diagnosis` per finished epoch (``epoch`` set, 1-based).
        initial_: the diagnosis of the model before training (None until ``fit`` starts).
        messages_: every message, in order (also those not warned because ``verbose=False``).
        seconds_: seconds the monitor spent per evaluation (predict + diagnosis), the initial one first.

    >>> import keras, numpy as np
    >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    >>> y = (x[:, 0] > 1.0).astype("float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    >>> model.compile("adam", "binary_crossentropy")
    >>> monitor = CollapseMonitor((x, y), verbose=False)
    >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    >>> len(monitor.history_), monitor.history_[0].task
    (1, 'binary')
    """

    def __init__(
        self,
        validation_data: tuple[Any, Any],
        max_samples: int = 10000,
        threshold: float | Sequence[float] | None = None,
        from_logits: bool | None = None,
        train_prior: Any = None,
        task: str | None = None,
        class_names: Sequence[str] | None = None,
        batch_size: int = 1024,
        seed: int = 0,
        verbose: bool = True,
        **options: Any,
    ) -> None:
        super().__init__()
        allowed = {"collapse_ratio", "f1_gap", "min_positives", "min_fraction", "min_delta"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(f"CollapseMonitor got unknown option(s) {unknown}; choose from {sorted(allowed)}.")
        self.max_samples = check_positive_int("max_samples", max_samples)
        if batch_size is None:
            raise ValueError("`batch_size` must be a positive integer. Received: batch_size=None")
        self.batch_size = check_positive_int("batch_size", batch_size)
        if from_logits is not None and not isinstance(from_logits, bool):
            raise TypeError(f"`from_logits` must be True, False or None. Received: from_logits={from_logits!r}")
        self.threshold, self.from_logits, self.train_prior = threshold, from_logits, train_prior
        self.task, self.class_names, self.seed, self.verbose = task, class_names, seed, verbose
        self.options = dict(options)
        self._x, self._y = self._subsample(validation_data)
        self._rows = int(self._y.shape[0])
        self.history_: list[Diagnosis] = []
        self.initial_: Diagnosis | None = None
        self.messages_: list[str] = []
        self.seconds_: list[float] = []
        self.from_logits_: bool | None = from_logits
        self._shown: tuple[str, ...] = ()

    def _subsample(self, validation_data: Any) -> tuple[Any, np.ndarray]:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("`validation_data` must be a tuple (x, y) of arrays. Received: "
                             f"{type(validation_data).__name__}" + (f" of length {len(validation_data)}"
                                                                     if isinstance(validation_data, (tuple, list))
                                                                     else ""))
        x, y = validation_data
        y = np.asarray(y.numpy() if hasattr(y, "numpy") else y)
        info = inspect_labels(y, task=self.task)
        rows = {int(np.shape(a)[0]) for a in keras.tree.flatten(x)}
        if rows != {info.num_samples}:
            raise ValueError(f"`validation_data` x has {sorted(rows)} rows but y has {info.num_samples}.")
        n = info.num_samples
        index = np.arange(n)
        if self.max_samples is not None and n > self.max_samples:
            index = np.sort(np.random.default_rng(self.seed).choice(n, self.max_samples, replace=False))
        x_sub = keras.tree.map_structure(lambda a: np.asarray(a.numpy() if hasattr(a, "numpy") else a)[index], x)
        y_sub = y[index]
        if info.task == "multilabel":
            positives = to_multi_hot(y_sub).sum(axis=0)
            if not np.any((positives > 0) & (positives < len(index))):
                raise ValueError(f"No label of the {len(index)} validation rows has both positive and negative rows.")
        elif np.unique(to_class_ids(y_sub)).size < 2:
            raise ValueError(f"The {len(index)} validation rows hold a single class; a diagnosis needs at least two.")
        return x_sub, y_sub

    # -- evaluation -------------------------------------------------------------------------------------------

    def _resolve_from_logits(self, outputs: np.ndarray) -> bool:
        if self.from_logits is not None:
            return self.from_logits
        layers = getattr(self.model, "layers", None) or []
        last = layers[-1] if layers else None
        activation = getattr(last, "activation", None)
        name = getattr(activation, "__name__", None)
        if name in ("sigmoid", "softmax") or type(last).__name__ == "Softmax":
            return False
        if name == "linear":
            return True
        if np.any((outputs < 0) | (outputs > 1)):
            return True
        self._emit("CollapseMonitor: could not read the output activation; the outputs lie in [0, 1], so they are "
                   "read as probabilities. Pass from_logits=True or False to be sure.")
        return False

    def _evaluate(self, epoch: int | None) -> Diagnosis:
        start = time.perf_counter()
        outputs = self._predict()
        if self.from_logits_ is None:
            self.from_logits_ = self._resolve_from_logits(outputs)
        earlier = ([self.initial_] if self.initial_ is not None else []) + self.history_
        result = diagnose(self._y, outputs, threshold=self.threshold, from_logits=self.from_logits_,
                          train_prior=self.train_prior, history=[d.pr_auc for d in earlier], task=self.task,
                          class_names=self.class_names, **self.options)
        result.epoch = epoch
        self.seconds_.append(time.perf_counter() - start)
        return result

    def _predict(self) -> np.ndarray:
        """``model(x, training=False)`` batch by batch (eager: no tracing, and faster than ``model.predict``'s data
        pipeline on a few thousand rows)."""
        parts = []
        for begin in range(0, self._rows, self.batch_size):
            batch = keras.tree.map_structure(lambda a: a[begin:begin + self.batch_size], self._x)
            out = self.model(batch, training=False)
            if isinstance(out, (list, tuple, dict)):
                raise ValueError("CollapseMonitor needs a model with a single output; this one has "
                                 f"{len(out)} outputs.")
            parts.append(keras.ops.convert_to_numpy(out))
        return np.concatenate(parts, axis=0)

    def _emit(self, message: str) -> None:
        self.messages_.append(message)
        if self.verbose:
            warnings.warn(message, DiagnosisWarning, stacklevel=3)

    # -- Keras hooks ------------------------------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.initial_ is None and not self.history_:
            self.initial_ = self._evaluate(epoch=0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        result = self._evaluate(epoch=epoch + 1)
        self.history_.append(result)
        problems = tuple(c for c in result.conditions if c != "still_learning")
        if problems != self._shown:
            if problems:
                advice = [a for a in result.advice if not a.startswith("Still learning")]
                self._emit(f"CollapseMonitor, epoch {epoch + 1}: " + " ".join(advice))
            else:
                self._emit(f"CollapseMonitor, epoch {epoch + 1}: {', '.join(self._shown)} cleared; "
                           f"{result.summary()}.")
            self._shown = problems

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.history_ and "still_learning" in self.history_[-1].conditions:
            last = self.history_[-1]
            self._emit(f"CollapseMonitor, end of training (epoch {last.epoch}): validation PR-AUC still rising "
                       f"({max(last.previous_pr_auc):.3f} → {last.pr_auc:.3f}): train longer (more epochs or a "
                       "higher learning rate) before changing the loss or the weights.")
