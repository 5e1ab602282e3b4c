"""Training of ``compare``'s runs: the default model, one strategy's fit, and the scores of a fitted model.

A strategy (:mod:`imbalance.experiment.strategies`) decides the loss, the class weights and the sampling; the model
ends in logits; scores are probabilities (sigmoid per output, softmax for multi-class data).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from imbalance._numeric import sigmoid, softmax
from imbalance._validation import check_integer
from imbalance.experiment.candidates import split_candidate
from imbalance.experiment.data import ComparisonData, from_arrays

__all__ = ["Budget", "build_mlp", "default_batch_size", "predict_scores", "train_model", "train_strategy"]


@dataclass(frozen=True)
class Budget:
    """What one model may spend: ``epochs`` of Adam(``learning_rate``) on batches of ``batch_size`` rows."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3


def default_batch_size(batch_size: int | None, rows: int) -> int:
    """The batch: ``batch_size`` when given, else 64 below 5,000 rows and 256 above.

    >>> default_batch_size(None, 100), default_batch_size(None, 10_000), default_batch_size(32, 10)
    (64, 256, 32)
    """
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}")
    return int(batch_size or (64 if rows < 5000 else 256))


def build_mlp(input_shape: Sequence[int], outputs: int, seed: int = 0) -> Any:
    """The default model: an MLP sized to the data (two ReLU layers of ``clip(2 × features, 32, 256)`` units), or a
    small CNN when the inputs are images (``(h, w)`` or ``(h, w, c)``). The last layer outputs logits.

    >>> build_mlp((20,), 1).output.shape
    (None, 1)
    """
    import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(tuple(input_shape))
    h = inputs
    if len(input_shape) >= 2:
        if len(input_shape) == 2:
            h = keras.layers.Reshape((*input_shape, 1))(h)
        h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init)(h)
        h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init)(h)
        h = keras.layers.GlobalAveragePooling2D()(h)
    else:
        width = int(np.clip(2 * int(np.prod(input_shape)), 32, 256))
        for _ in range(2):
            h = keras.layers.Dense(width, activation="relu", kernel_initializer=init)(h)
    logits = keras.layers.Dense(outputs, kernel_initializer=init, name="logits")(h)
    return keras.Model(inputs, logits, name="mlp" if len(input_shape) == 1 else "cnn")


def train_model(d: ComparisonData, strategy: str, x: np.ndarray, y: np.ndarray, budget: Budget,
                model: str | Callable[..., Any] = "mlp", seed: int = 0,
                callbacks: Sequence[Any] = ()) -> tuple[Any, np.ndarray | None]:
    """Fit a fresh model (``"mlp"`` or ``model(input_shape, outputs, seed)``) on ``(x, y)`` under ``strategy``.

    Returns the model (logits) and the class counts the strategy let it see (``None`` when it sees the data as it
    is). Every random draw is seeded by ``seed``.
    """
    import keras

    from imbalance.experiment.strategies import StrategyContext, get_strategy

    keras.utils.set_random_seed(seed)
    ctx = StrategyContext(task=d.task, num_classes=d.num_classes, x=x, y=y, epochs=budget.epochs,
                          batch_size=budget.batch_size, seed=seed)
    plan = get_strategy(strategy).build(ctx)
    factory = build_mlp if model == "mlp" else model
    net = factory(x.shape[1:], d.outputs, seed)
    net.compile(optimizer=keras.optimizers.Adam(budget.learning_rate), loss=plan.loss)
    fit_kwargs: dict[str, Any] = {"epochs": budget.epochs, "verbose": 0,
                                  "callbacks": [*plan.callbacks, *callbacks]}
    inputs = dict(plan.fit_inputs or {})
    if "x" in inputs:
        fit_kwargs["x"] = inputs.pop("x")
        fit_kwargs["shuffle"] = False  # the strategy's dataset redraws itself every epoch
    elif keras.backend.backend() == "tensorflow":
        # A shuffled tf.data pipeline: the same epochs as fit(x, y, shuffle=True) at about half the per-epoch
        # overhead of Keras' array adapter on small data.
        import tensorflow as tf

        columns = (x, ctx.model_targets())
        if "sample_weight" in inputs:
            columns = (*columns, np.asarray(inputs.pop("sample_weight"), np.float32))
        fit_kwargs["x"] = (
            tf.data.Dataset.from_tensor_slices(columns)
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(budget.batch_size)
            .prefetch(2)
        )
        fit_kwargs["shuffle"] = False  # the dataset shuffles itself every epoch
    else:
        # JAX and PyTorch: Keras' own array adapter, shuffled every epoch from the seeded global generator.
        fit_kwargs.update(x=x, y=ctx.model_targets(), batch_size=budget.batch_size, shuffle=True)
    fit_kwargs.update(inputs)
    with warnings.catch_warnings():
        # A resampler's dataset (SMOTE, ADASYN) has an unknown, varying size: Keras says so at every epoch end.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        net.fit(**fit_kwargs)
    return net, plan.seen_counts


def predict_scores(d: ComparisonData, net: Any, x: np.ndarray) -> np.ndarray:
    """Probabilities ``(rows, outputs)`` as float32: softmax for multi-class data, a sigmoid per output otherwise."""
    # A direct call in chunks: model.predict re-traces its function for every new model (a warning per run).
    import keras

    logits = np.concatenate([keras.ops.convert_to_numpy(net(x[i:i + 4096], training=False)).astype(np.float64)
                             for i in range(0, len(x), 4096)]) if len(x) else np.zeros((0, d.outputs))
    if d.task == "multiclass":
        return softmax(logits, axis=1).astype(np.float32)
    return sigmoid(logits).astype(np.float32)


def train_strategy(
    strategy: str,
    x: Any,
    y: Any,
    *,
    model: str | Callable[..., Any] = "mlp",
    task: str | None = None,
    epochs: int = 30,
    batch_size: int | None = None,
    learning_rate: float = 3e-3,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train one model with one strategy, exactly as :func:`~imbalance.experiment.compare` trains each of its runs;
    return it.

    The strategy (a name from :mod:`imbalance.experiment.strategies`) decides the loss, the class weights and the
    sampling; the returned Keras model outputs **logits** (pass ``from_logits=True`` to the metrics and to
    :class:`~imbalance.thresholds.ThresholdTuner`). ``model`` is ``"mlp"`` (:func:`build_mlp`) or a factory
    ``model(input_shape, outputs, seed) -> keras.Model`` that returns an uncompiled model ending in a linear layer
    (``outputs`` logits); it is compiled here with Adam(``learning_rate``). ``batch_size`` defaults to 64 below
    5,000 rows, else 256. ``callbacks`` are added to the strategy's own (e.g. LDAM-DRW's reweighting schedule).

    >>> from imbalance.datasets import load_demo
    >>> data = load_demo("fraud", n_samples=2000)
    >>> net = train_strategy("class_weight", data.x, data.y, epochs=2, seed=0)
    >>> net.output.shape[-1]  # one logit for binary data
    1
    """
    from imbalance.experiment.strategies import STRATEGIES, available, get_strategy

    if isinstance(strategy, str) and "@" in strategy and strategy not in STRATEGIES:
        name, rule = split_candidate(strategy)
        raise ValueError(f"{strategy!r} is a compare candidate (strategy {name!r} decided at {rule}), not a "
                         f"strategy: train {name!r} and decide its scores at {rule}. split_candidate({strategy!r}) "
                         f"returns ({name!r}, {rule!r}).")
    d = from_arrays("arrays", x, y, task, None)
    known = get_strategy(strategy)  # an unknown name fails here, listing the known ones
    if not known.applies_to(d.task):
        raise ValueError(f"Strategy {strategy!r} does not apply to {d.task} labels; strategies for {d.task} "
                         f"data: {', '.join(available(d.task))}.")
    check_integer("epochs", epochs, 1)
    budget = Budget(int(epochs), default_batch_size(batch_size, len(d.y)), float(learning_rate))
    net, _ = train_model(d, strategy, d.x, d.y, budget, model, int(seed), callbacks)
    return net
