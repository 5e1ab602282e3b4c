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
from imbalance.data.sources import row_values
from imbalance.heads import output_names
from imbalance._validation import check_integer
from imbalance.experiment.candidates import split_candidate
from imbalance.experiment.data import ComparisonData, from_arrays

__all__ = ["Budget", "build_mlp", "default_batch_size", "predict_scores", "train_model", "train_strategy"]


@dataclass(frozen=True)
class Budget:
    """What one model may spend: ``epochs`` of Adam(``learning_rate``) on batches of ``batch_size`` rows (the
    optimizer of a factory that returns a compiled model is kept instead).

    ``patience`` (optional) stops a run after that many epochs without a lower validation loss and restores its
    best weights (``keras.callbacks.EarlyStopping``), on the rows the run's threshold is tuned on. ``augment``
    names Keras preprocessing layers (:data:`imbalance.experiment.feeding.AUGMENTATIONS`) that strategies marked
    ``+augment`` apply to the rows of ``augment_classes``.
    """

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int | None = None
    augment: tuple[str, ...] = ()
    augment_classes: tuple[int, ...] = ()


def default_batch_size(batch_size: int | None, rows: int, row_values: int = 0) -> int:
    """The batch: ``batch_size`` when given, else 64 below 5,000 rows and 256 above — but 64 for large rows
    (images: more than 4,096 values a row), whose activations at 256 cost hundreds of MB whatever the data size.

    >>> default_batch_size(None, 100), default_batch_size(None, 10_000), default_batch_size(32, 10)
    (64, 256, 32)
    >>> default_batch_size(None, 20_000, row_values=64 * 64 * 3)
    64
    """
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: batch_size={batch_size!r}")
    return int(batch_size or (64 if rows < 5000 or row_values > 4096 else 256))


def build_mlp(input_shape: Sequence[int], outputs: int, seed: int = 0, rescale: float | None = None) -> Any:
    """The default model: an MLP sized to the data (two ReLU layers of ``clip(2 × features, 32, 256)`` units), or a
    small CNN when the inputs are images (``(h, w)`` or ``(h, w, c)``). The last layer outputs logits.
    ``rescale`` multiplies the inputs first (``1 / 255`` for images read from files, in ``[0, 255]``).

    >>> build_mlp((20,), 1).output.shape
    (None, 1)
    """
    import keras

    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input(tuple(input_shape))
    h = inputs if rescale is None else keras.layers.Rescaling(rescale)(inputs)
    if len(input_shape) >= 2:
        if len(input_shape) == 2:
            h = keras.layers.Reshape((*input_shape, 1))(h)
        # Three conv blocks, then a 4x4 grid of averages (not one global average: where a stroke is matters).
        for filters in (16, 32, 64):
            h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init)(h)
            if min(h.shape[1], h.shape[2]) >= 8:
                h = keras.layers.MaxPooling2D()(h)
        h = keras.layers.AdaptiveAveragePooling2D((4, 4))(h)
        h = keras.layers.Flatten()(h)
        h = keras.layers.Dense(64, activation="relu", kernel_initializer=init)(h)
    else:
        width = int(np.clip(2 * int(np.prod(input_shape)), 32, 256))
        for _ in range(2):
            h = keras.layers.Dense(width, activation="relu", kernel_initializer=init)(h)
    logits = keras.layers.Dense(outputs, kernel_initializer=init, name="logits")(h)
    return keras.Model(inputs, logits, name="mlp" if len(input_shape) == 1 else "cnn")


def train_model(d: ComparisonData, strategy: str, x: Any, y: np.ndarray, budget: Budget,
                model: str | Callable[..., Any] = "mlp", seed: int = 0,
                callbacks: Sequence[Any] = (), validation: tuple[Any, np.ndarray] | None = None
                ) -> tuple[Any, np.ndarray | None]:
    """Fit a fresh model (``"mlp"`` or ``model(input_shape, outputs, seed)``) on ``(x, y)`` under ``strategy``.

    ``x`` is an array or a :class:`~imbalance.data.sources.Rows` view of a feature source (read per batch).
    ``validation`` (rows and labels) is watched by early stopping when ``budget.patience`` is set. Returns the
    model (logits) and the class counts the strategy let it see (``None`` when it sees the data as it is). Every
    random draw is seeded by ``seed``.
    """
    import keras

    from imbalance.data.sources import ArraySource, Rows
    from imbalance.experiment.strategies import StrategyContext, get_strategy

    keras.utils.set_random_seed(seed)
    known = get_strategy(strategy)
    if known.augment and not isinstance(x, Rows):  # augmentation runs in the source pipeline: arrays become one
        x = Rows(ArraySource(x, y), np.arange(len(y)))
        if validation is not None and not isinstance(validation[0], Rows):
            validation = (Rows(ArraySource(validation[0], validation[1]), np.arange(len(validation[1]))),
                          validation[1])
    ctx = StrategyContext(task=d.task, num_classes=d.num_classes, x=x, y=y, epochs=budget.epochs,
                          batch_size=budget.batch_size, seed=seed)
    plan = known.build(ctx)
    net = _built(d, model, x.input_shape if isinstance(x, Rows) else x.shape[1:], seed)
    _compile(net, plan.loss, budget.learning_rate, d.output)
    extra = list(callbacks() if callable(callbacks) else callbacks)
    fit_kwargs: dict[str, Any] = {"epochs": budget.epochs, "verbose": 0, "callbacks": [*plan.callbacks, *extra]}
    inputs = dict(plan.fit_inputs or {})
    if isinstance(x, Rows):
        fit_kwargs.update(_streamed_inputs(d, ctx, known, inputs, x, budget, seed, validation, net))
        inputs = {}
    elif "x" in inputs:
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
    if budget.patience is not None and validation is not None:
        _quiet_retracing()  # each run's new model evaluates its validation rows: TensorFlow warns of "retracing"
        if "validation_data" not in fit_kwargs:
            fit_kwargs["validation_data"] = (validation[0], ctx.model_targets(validation[1]))
            fit_kwargs["validation_batch_size"] = 4096
        fit_kwargs["callbacks"].append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=int(budget.patience), restore_best_weights=True))
    with warnings.catch_warnings():
        # A resampler's dataset (SMOTE, ADASYN) has an unknown, varying size: Keras says so at every epoch end.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        net.fit(**fit_kwargs)
    return net, plan.seen_counts


def _head_targets(d: ComparisonData, net: Any, rows: Any, targets: np.ndarray) -> Any:
    """The model's targets for ``rows``: the compared head's ``targets`` alone, or, for a model with several
    heads, every head's labels of those rows in the structure of its outputs."""
    if d.output is None:
        return targets
    return _as_outputs(net, {d.output: targets, **{k: v[rows.indices] for k, v in (d.other_targets or {}).items()}})


def _as_outputs(net: Any, per_head: dict[str, Any] | None) -> Any:
    """Per-head values in the structure of the model's outputs: the dict itself, or a tuple in ``output_names``
    order for a model whose outputs are a list."""
    if per_head is None or net is None or not isinstance(net.output, (list, tuple)):
        return per_head
    missing = [n for n in output_names(net) if n not in per_head]
    if missing:
        raise ValueError(f"The labels have no head named {missing}; the model's outputs are {output_names(net)}.")
    return tuple(per_head[n] for n in output_names(net))


class _RetracingFilter:
    """Drops TensorFlow's "triggered tf.function retracing" warning: every run builds a new model (new functions)."""

    def filter(self, record: Any) -> bool:
        return "retracing" not in record.getMessage()


def _quiet_retracing() -> None:
    import logging

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _RetracingFilter) for f in logger.filters):
        logger.addFilter(_RetracingFilter())


def _built(d: ComparisonData, model: str | Callable[..., Any], input_shape: Any, seed: int) -> Any:
    """The run's fresh model: the default MLP / CNN (images from files rescaled from [0, 255]) or the factory's
    (``input_shape`` a dict of shapes for several named inputs)."""
    shape = dict(input_shape) if isinstance(input_shape, dict) else tuple(input_shape)
    if model == "mlp":
        if isinstance(shape, dict) or d.output is not None:
            raise ValueError("A model with several inputs or outputs needs your own model factory: "
                             "compare(..., model=model_fn) returning a model with those named inputs / outputs.")
        rescale = 1 / 255 if getattr(d.x, "kind", None) == "images" else None
        return build_mlp(shape, d.outputs, seed, rescale=rescale)
    net = model(shape, d.outputs, seed)
    if d.output is not None and d.output not in output_names(net):
        raise ValueError(f"The model has no output named {d.output!r}; its outputs are {output_names(net)} (name "
                         "the layers, or return a dict of outputs).")
    return net


def _compile(net: Any, loss: Any, learning_rate: float, output: str | None = None) -> None:
    """Compile with the strategy's loss: a model the factory compiled keeps its optimizer, metrics and settings
    (only the loss is the strategy's — of the ``output`` head, for a model with several; the other heads keep
    the factory's losses); an uncompiled one gets Adam(``learning_rate``)."""
    import keras

    compiled = getattr(net, "compiled", False) and getattr(net, "optimizer", None) is not None
    if output is not None:
        names = output_names(net)
        if len(names) > 1 and not compiled:
            raise ValueError(f"The model has {len(names)} outputs ({', '.join(names)}): return it compiled with a "
                             f"loss for each head but {output!r} (the strategy sets that one), e.g. "
                             "model.compile(optimizer='adam', loss={'amount': 'mse'}).")
    if not compiled:
        net.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss=loss if output is None or not isinstance(net.output, (list, tuple, dict)) else
                    {output: loss})
        return
    settings = keras.saving.deserialize_keras_object(net.get_compile_config())
    if output is not None:
        theirs = settings.get("loss")
        losses = dict(theirs) if isinstance(theirs, dict) else {}
        missing = [n for n in output_names(net) if n != output and n not in losses]
        if missing:
            raise ValueError(f"The compiled model has no loss for its head(s) {missing}; compile it with "
                             "loss={name: loss} for every head but the compared one.")
        losses[output] = loss
        loss = {n: losses[n] for n in output_names(net)}
        if isinstance(net.output, (list, tuple)):
            loss = [loss[n] for n in output_names(net)]  # outputs given as a list: losses in the same order
        kept = {k: v for k, v in settings.items() if k not in ("optimizer", "loss")}
    else:
        kept = {k: v for k, v in settings.items() if k not in ("optimizer", "loss", "loss_weights")}
    net.compile(optimizer=net.optimizer, loss=loss, **kept)


def _streamed_inputs(d: ComparisonData, ctx: Any, strategy: Any, inputs: dict[str, Any], x: Any, budget: Budget,
                     seed: int, validation: tuple[Any, np.ndarray] | None, net: Any = None) -> dict[str, Any]:
    """``model.fit`` arguments that read the source per batch: the strategy's sampler draws positions (or a plain
    shuffle), its sample weights follow the rows, augmentation runs on the chosen classes' rows."""
    from imbalance.experiment.feeding import augmentation, draws_of, eval_dataset, fit_dataset, shuffled

    _quiet_retracing()
    if "draw" in inputs or "x" in inputs:  # the strategy's sampler
        draw = inputs["draw"] if "draw" in inputs else draws_of(inputs["x"])
    else:  # every row once: shuffled here, or (a table streamed from disk) in the order it shuffles them as it reads
        draw = shuffled(len(x), seed) if x.source.ordered else None
    augment = None
    if strategy.augment:
        if len(x.shape) != 4:
            raise ValueError(f"Strategy {strategy.name!r} augments images (h, w, channels); these features have "
                             f"shape {tuple(x.shape[1:])}.")
        if not budget.augment or not budget.augment_classes:
            raise ValueError(f"Strategy {strategy.name!r} needs augmentations and classes: compare(augment="
                             "'flip,brightness', augment_classes=[0]) (--augment, --augment-classes).")
        augment = augmentation(budget.augment, seed)
    targets = _head_targets(d, net, x, ctx.model_targets())
    weights = inputs.get("sample_weight")
    if d.output is not None:
        if augment is not None:
            raise ValueError("Class-conditional augmentation applies to a model with one output.")
        if weights is not None:  # the strategy's weights on its head; the other heads weigh every row alike
            heads = [d.output, *(d.other_targets or {})]
            weights = _as_outputs(net, {k: np.asarray(weights, np.float32) if k == d.output else
                                        np.ones(len(x), np.float32) for k in heads})
    ds, steps = fit_dataset(x, targets, draw, budget.epochs, budget.batch_size, weights=weights, augment=augment,
                            augment_classes=budget.augment_classes, num_classes=d.num_classes, seed=seed)
    out: dict[str, Any] = {"x": ds, "steps_per_epoch": steps, "shuffle": False}
    if validation is not None and budget.patience is not None:
        val_rows, val_y = validation
        out["validation_data"] = eval_dataset(val_rows, _head_targets(d, net, val_rows, ctx.model_targets(val_y)),
                                              budget.batch_size)
    return out


def predict_scores(d: ComparisonData, net: Any, x: Any) -> np.ndarray:
    """Probabilities ``(rows, outputs)`` as float32: softmax for multi-class data, a sigmoid per output otherwise.
    ``x`` is an array or a :class:`~imbalance.data.sources.Rows` view (read per batch)."""
    # A direct call in chunks: model.predict re-traces its function for every new model (a warning per run).
    import keras

    from imbalance.data.sources import Rows

    if isinstance(x, Rows):
        from imbalance.experiment.feeding import predict_rows

        logits = predict_rows(net, x, output=d.output) if len(x) else np.zeros((0, d.outputs))
    else:
        logits = np.concatenate([keras.ops.convert_to_numpy(net(x[i:i + 4096], training=False)).astype(np.float64)
                                 for i in range(0, len(x), 4096)]) if len(x) else np.zeros((0, d.outputs))
    # Row blocks: the same float64 arithmetic per row, without float64 temporaries of every row (millions of
    # streamed test rows).
    out = np.empty(logits.shape, np.float32)
    for start in range(0, len(logits), 1 << 18):
        block = logits[start:start + (1 << 18)]
        out[start:start + len(block)] = softmax(block, axis=1) if d.task == "multiclass" else sigmoid(block)
    return out


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
    budget = Budget(int(epochs), default_batch_size(batch_size, len(d.y), row_values(d.x)), float(learning_rate))
    net, _ = train_model(d, strategy, d.x, d.y, budget, model, int(seed), callbacks)
    return net
