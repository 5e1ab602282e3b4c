"""The strategy registry: each strategy is one way of training the same model on imbalanced data.

A strategy turns a :class:`StrategyContext` (the task, the training arrays, the epoch budget, the seed) into a
:class:`TrainPlan`: the loss (always on logits: the model's last layer has no activation), what to pass to
``model.fit`` (arrays with sample weights, or a resampled ``tf.data.Dataset``), callbacks, and the class counts the
model actually sees (for the report's "before / after sampling" plot).

=================  =====================================  ================================================
name               tasks                                  what it does
=================  =====================================  ================================================
baseline           binary, multiclass, multilabel         plain cross-entropy, natural distribution
class_weight       binary, multiclass, multilabel         "balanced" class weights as sample weights
oversample         binary, multiclass, multilabel         class-balanced batches, redrawn every epoch
undersample        binary, multiclass                     majority undersampled to the minority each epoch
smote              binary, multiclass                     imbalanced-learn SMOTE, redrawn every epoch
focal              binary, multiclass, multilabel         focal loss, γ = 2, no α
cb_focal           binary, multiclass, multilabel         focal loss with class-balanced (effective number) α
weighted_bce       binary, multilabel                     BCE with data-derived ``pos_weight`` = n_neg / n_pos
logit_adjusted     multiclass                             logit-adjusted loss (balanced softmax, τ = 1)
ldam_drw           multiclass                             LDAM margins + deferred re-weighting
asl                binary, multilabel                     asymmetric loss (γ- = 4, γ+ = 1, clip 0.05)
=================  =====================================  ================================================

Register your own with :func:`register`:

>>> import keras
>>> from imbalance.experiment.strategies import register, get_strategy, TrainPlan
>>> def squared_hinge(ctx):
...     return TrainPlan(loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1))
>>> _ = register("smooth_bce", squared_hinge, tasks=("binary",), cost=1, description="BCE, label smoothing 0.1")
>>> get_strategy("smooth_bce").applies_to("multiclass")
False
>>> unregister("smooth_bce")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import keras
import numpy as np

from imbalance import losses as L
from imbalance.labels import TASKS, count_labels
from imbalance.weighting import class_weights, pos_weights, sample_weights

__all__ = [
    "Strategy",
    "StrategyContext",
    "TrainPlan",
    "STRATEGIES",
    "available",
    "get_strategy",
    "register",
    "resolve",
    "unregister",
]


@dataclass
class StrategyContext:
    """What a strategy knows when it builds its plan.

    ``y`` is in the model's label format: class ids ``(n,)`` for binary and multi-class (binary models have one
    logit), multi-hot ``(n, L)`` for multi-label.
    """

    task: str
    num_classes: int
    x: np.ndarray
    y: np.ndarray
    epochs: int
    batch_size: int
    seed: int

    @property
    def counts(self) -> np.ndarray:
        """Samples per class (multi-class, binary) or positives per label (multi-label)."""
        return count_labels(self.y, self.task, self.num_classes)

    def model_targets(self, y: np.ndarray | None = None) -> np.ndarray:
        """Labels shaped for the model: float ``(n, 1)`` for binary, ids for multi-class, multi-hot for multi-label."""
        y = self.y if y is None else y
        if self.task == "binary":
            return np.asarray(y, np.float32).reshape(-1, 1)
        if self.task == "multilabel":
            return np.asarray(y, np.float32)
        return np.asarray(y, np.int64)


@dataclass
class TrainPlan:
    """How one strategy trains: the loss (on logits), the ``model.fit`` inputs, callbacks and seen counts.

    ``fit_inputs`` is ``None`` (plain arrays, no weights), or a dict of ``model.fit`` keyword arguments such as
    ``{"x": dataset}`` (a batched ``tf.data.Dataset`` that redraws every epoch) or ``{"sample_weight": w}``; for a
    feature source's rows, ``{"draw": draw}`` (``draw(epoch)``: the positions the epoch trains on, see
    :func:`imbalance.data.sampling.index_draws`).
    ``seen_counts`` is the class distribution the model sees per epoch (expected), when it differs from the data.
    """

    loss: keras.losses.Loss
    fit_inputs: dict[str, Any] | None = None
    callbacks: list[keras.callbacks.Callback] = field(default_factory=list)
    seen_counts: np.ndarray | None = None


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its name, the tasks it applies to, a relative cost (the verdict recommends the
    cheapest of tied strategies) and the function building its :class:`TrainPlan`."""

    name: str
    build: Callable[[StrategyContext], TrainPlan]
    tasks: tuple[str, ...]
    cost: int
    description: str
    tf_data: bool = False  # trains from a tf.data pipeline, so it needs TensorFlow installed (on any backend)
    in_memory: bool = False  # needs every training row's features in memory (SMOTE): not for streamed sources
    augment: bool = False  # "<name>+augment": class-conditional augmentation on top (compare's augment settings)

    def applies_to(self, task: str) -> bool:
        return task in self.tasks

    @property
    def installed(self) -> bool:
        """Whether what it needs is installed: TensorFlow for the ``tf.data`` samplers."""
        return not self.tf_data or _has_tensorflow()


def _has_tensorflow() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a finder that refuses it, a broken install
        return False


STRATEGIES: dict[str, Strategy] = {}


def register(
    name: str,
    build: Callable[[StrategyContext], TrainPlan],
    tasks: Sequence[str] = TASKS,
    cost: int = 5,
    description: str = "",
    replace: bool = False,
    tf_data: bool = False,
    in_memory: bool = False,
) -> Strategy:
    """Add a strategy to the registry (``replace=True`` to overwrite one) and return it. ``tf_data=True`` marks
    one that feeds ``fit`` a ``tf.data`` pipeline: without TensorFlow, compare leaves it out of its defaults;
    ``in_memory=True`` one that needs every training row's features as an array (not offered for streamed sources)."""
    if not isinstance(name, str) or not name.strip() or "," in name or "@" in name:
        raise ValueError(f"A strategy name must be a non-empty string without commas or '@' ('@' marks a decision "
                         f"rule in compare's candidates, e.g. 'oversample@0.5'). Received: name={name!r}")
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        raise ValueError(f"`tasks` must be a non-empty subset of {list(TASKS)}. Received: tasks={list(tasks)}")
    if name in STRATEGIES and not replace:
        raise ValueError(f"A strategy named {name!r} is already registered; pass replace=True to overwrite it.")
    if not callable(build):
        raise TypeError(f"`build` must be callable (context -> TrainPlan). Received: {build!r}")
    strategy = Strategy(name=name, build=build, tasks=tuple(tasks), cost=int(cost), description=description,
                        tf_data=bool(tf_data), in_memory=bool(in_memory))
    STRATEGIES[name] = strategy
    return strategy


def unregister(name: str) -> None:
    """Remove a strategy from the registry."""
    STRATEGIES.pop(name, None)


#: The suffix that adds class-conditional augmentation to a strategy: ``"class_weight+augment"``.
AUGMENT_SUFFIX = "+augment"


def get_strategy(name: str) -> Strategy:
    """The registered strategy called ``name``; the error lists the registered names. ``"<name>+augment"`` is that
    strategy with class-conditional augmentation (compare's ``augment`` / ``augment_classes``), one cost higher.

    >>> s = get_strategy("class_weight+augment")
    >>> s.augment, s.cost, s.tf_data
    (True, 2, True)
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    if isinstance(name, str) and name.endswith(AUGMENT_SUFFIX) and name[:-len(AUGMENT_SUFFIX)] in STRATEGIES:
        base = STRATEGIES[name[:-len(AUGMENT_SUFFIX)]]
        if base.in_memory:
            raise ValueError(f"Strategy {base.name!r} resamples features in memory and cannot be augmented in the "
                             "pipeline; augment another strategy.")
        return Strategy(name=name, build=base.build, tasks=tuple(t for t in base.tasks if t != "multilabel"),
                        cost=base.cost + 1, description=f"{base.description}, class-conditional augmentation",
                        tf_data=True, augment=True)
    raise ValueError(f"Unknown strategy {name!r}; registered strategies are: {', '.join(STRATEGIES)} (any of them "
                     f"with {AUGMENT_SUFFIX!r} to add class-conditional augmentation)") from None


def available(task: str) -> list[str]:
    """Names of the registered strategies that apply to ``task`` and can run here, cheapest first (the ``tf.data``
    samplers only where TensorFlow is installed).

    >>> available("multilabel")
    ['baseline', 'class_weight', 'weighted_bce', 'focal', 'cb_focal', 'asl', 'oversample']
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {list(TASKS)}. Received: task={task!r}")
    return [s.name for s in sorted(STRATEGIES.values(), key=lambda s: s.cost) if s.applies_to(task) and s.installed]


def resolve(names: str | Sequence[str] | None, task: str, streamed: bool = False) -> list[str]:
    """Turn ``None`` (every strategy for the task), a comma-separated string or a list into checked names.
    ``streamed=True`` (features read per batch from a source) leaves out, or refuses, the strategies that need
    every row's features in memory (SMOTE).

    >>> resolve("baseline, focal", "binary")
    ['baseline', 'focal']
    >>> resolve("smote", "binary", streamed=True)
    Traceback (most recent call last):
    ...
    ValueError: Strategy 'smote' needs every training row's features in memory (it interpolates between rows), but these features are read per batch from files; strategies that apply: baseline, class_weight, weighted_bce, focal, cb_focal, asl, oversample, undersample.
    """
    if names is None:
        return [n for n in available(task) if not (streamed and get_strategy(n).in_memory)]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(dict.fromkeys(names))
    if not names:
        raise ValueError("No strategy given; pass at least one name, e.g. 'baseline,class_weight'.")
    for name in names:
        strategy = get_strategy(name)
        if not strategy.applies_to(task):
            raise ValueError(
                f"Strategy {name!r} does not apply to a {task} task; strategies for {task}: {', '.join(available(task))}"
            )
        if streamed and strategy.in_memory:
            usable = [n for n in available(task) if not get_strategy(n).in_memory]
            raise ValueError(f"Strategy {name!r} needs every training row's features in memory (it interpolates "
                             "between rows), but these features are read per batch from files; strategies that "
                             f"apply: {', '.join(usable)}.")
        if not strategy.installed:
            raise ValueError(
                f"Strategy {name!r} samples in tf.data and needs TensorFlow, which is not installed: pip install "
                f"'imbalance[tensorflow]' (it works beside the {keras.backend.backend()} backend), or choose from "
                f"{', '.join(available(task))}."
            )
    return names



# --- built-in strategies ---------------------------------------------------------------------------------------


def _cross_entropy(ctx: StrategyContext) -> keras.losses.Loss:
    if ctx.task == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return keras.losses.BinaryCrossentropy(from_logits=True)


def _baseline(ctx: StrategyContext) -> TrainPlan:
    return TrainPlan(loss=_cross_entropy(ctx))


def _class_weight(ctx: StrategyContext) -> TrainPlan:
    weights = sample_weights(ctx.y, class_weight="balanced")
    seen = None
    if ctx.task != "multilabel":
        table = class_weights(ctx.y, method="balanced", num_classes=ctx.num_classes)
        seen = ctx.counts * np.asarray([table.get(k, 0.0) for k in range(ctx.num_classes)])
    return TrainPlan(loss=_cross_entropy(ctx), fit_inputs={"sample_weight": np.asarray(weights, np.float32)},
                     seen_counts=seen)


def _sampled(method: str) -> Callable[[StrategyContext], TrainPlan]:
    def build(ctx: StrategyContext) -> TrainPlan:
        from imbalance.data import balanced_dataset

        # Oversampling keeps the epoch at the data's size, so it gets the same number of gradient steps as the
        # other strategies (its natural epoch, K × the largest class, would train several times longer).
        # Undersampling keeps its natural, smaller epoch: that is what makes it cheap. Multi-label data uses
        # repeat-factor sampling, whose epoch size follows from the repeat factors.
        from imbalance.data.sources import Rows

        epoch_size = len(ctx.x) if method == "oversample" and ctx.task != "multilabel" else None
        if isinstance(ctx.x, Rows) and ctx.task != "multilabel":
            if epoch_size is not None and epoch_size > ctx.batch_size:  # whole batches: no epoch cut to size
                epoch_size -= epoch_size % ctx.batch_size
            # A source's rows are sampled by position in numpy (balanced_dataset's rule): the source reads the
            # features of the drawn rows; no copy of the positions as constants, no dataset iterated to get them.
            from imbalance.data.sampling import index_draws, sampling_plan

            plan = sampling_plan(ctx.y, "balanced", method, num_classes=ctx.num_classes, epoch_size=epoch_size)
            return TrainPlan(loss=_cross_entropy(ctx), fit_inputs={"draw": index_draws(
                plan, ctx.y, ctx.seed, in_order=not ctx.x.source.ordered)},
                             seen_counts=_balanced_counts(ctx, method))
        # A source's rows are sampled by position: the dataset yields positions, the source reads their features.
        x = np.arange(len(ctx.x), dtype=np.int32 if len(ctx.x) < 2**31 else np.int64) \
            if isinstance(ctx.x, Rows) else ctx.x
        dataset = balanced_dataset(x, ctx.model_targets(), ctx.batch_size, target="balanced", method=method,
                                   seed=ctx.seed,
                                   epoch_size=epoch_size)
        return TrainPlan(loss=_cross_entropy(ctx), fit_inputs={"x": dataset},
                         seen_counts=_balanced_counts(ctx, method))

    return build


def _balanced_counts(ctx: StrategyContext, method: str) -> np.ndarray | None:
    if ctx.task == "multilabel":
        return None
    counts = ctx.counts
    present = counts > 0
    per_class = counts[present].max() if method == "oversample" else counts[present].min()
    return np.where(present, per_class, 0).astype(float)


def _smote(ctx: StrategyContext) -> TrainPlan:
    from imblearn.over_sampling import SMOTE

    from imbalance.data import ImblearnSampler

    counts = ctx.counts
    k = int(max(1, min(5, counts[counts > 0].min() - 1)))
    sampler = ImblearnSampler(SMOTE(k_neighbors=k), ctx.x, ctx.model_targets(), ctx.batch_size, seed=ctx.seed)
    return TrainPlan(loss=_cross_entropy(ctx), fit_inputs={"x": sampler.dataset()},
                     seen_counts=_balanced_counts(ctx, "oversample"))


def _focal(class_balanced: bool) -> Callable[[StrategyContext], TrainPlan]:
    def build(ctx: StrategyContext) -> TrainPlan:
        alpha = None
        if ctx.task == "multiclass":
            if class_balanced:
                table = class_weights(ctx.y, method="effective_number", num_classes=ctx.num_classes, beta=0.999)
                alpha = [table[k] / ctx.num_classes for k in range(ctx.num_classes)]
            return TrainPlan(loss=L.SparseCategoricalFocalLoss(gamma=2.0, alpha=alpha, from_logits=True))
        if class_balanced:
            # α for positives from the effective-number weights of (negative, positive), per label.
            counts = ctx.counts.astype(float)
            n = float(len(ctx.y))
            beta = 0.999
            eff_pos = (1 - beta) / (1 - beta ** np.maximum(counts, 1))
            eff_neg = (1 - beta) / (1 - beta ** np.maximum(n - counts, 1))
            alpha_vec = eff_pos / (eff_pos + eff_neg)
            alpha = float(alpha_vec[1]) if ctx.task == "binary" else alpha_vec.tolist()
        return TrainPlan(loss=L.BinaryFocalLoss(gamma=2.0, alpha=alpha, from_logits=True))

    return build


def _weighted_bce(ctx: StrategyContext) -> TrainPlan:
    labels = ctx.model_targets()
    w = pos_weights(labels)
    return TrainPlan(loss=L.WeightedBinaryCrossentropy(pos_weight=w.tolist() if w.size > 1 else float(w[0]),
                                                       from_logits=True))


def _logit_adjusted(ctx: StrategyContext) -> TrainPlan:
    return TrainPlan(loss=L.LogitAdjustedLoss(class_counts=np.maximum(ctx.counts, 1).tolist(), tau=1.0, sparse=True))


def _ldam_drw(ctx: StrategyContext) -> TrainPlan:
    start = max(1, int(round(ctx.epochs * 0.8)))
    loss = L.LDAMLoss(class_counts=np.maximum(ctx.counts, 1).tolist(), max_margin=0.5, scale=30.0, sparse=True)
    return TrainPlan(loss=loss, callbacks=[L.DeferredReweighting(start_epoch=start, class_weight="effective_number")])


def _asl(ctx: StrategyContext) -> TrainPlan:
    return TrainPlan(loss=L.AsymmetricLoss(gamma_neg=4.0, gamma_pos=1.0, clip=0.05, from_logits=True))


_ALL = TASKS
_BUILTIN = [
    ("baseline", _baseline, _ALL, 0, "plain cross-entropy on the natural distribution"),
    ("class_weight", _class_weight, _ALL, 1, "'balanced' class weights (sample weights)"),
    ("weighted_bce", _weighted_bce, ("binary", "multilabel"), 1, "BCE with pos_weight = n_neg / n_pos per label"),
    ("logit_adjusted", _logit_adjusted, ("multiclass",), 1, "logit-adjusted loss, tau = 1 (balanced softmax)"),
    ("focal", _focal(False), _ALL, 2, "focal loss, gamma = 2"),
    ("cb_focal", _focal(True), _ALL, 2, "focal loss with class-balanced alpha (effective number)"),
    ("asl", _asl, ("binary", "multilabel"), 2, "asymmetric loss (gamma- 4, gamma+ 1, clip 0.05)"),
    ("ldam_drw", _ldam_drw, ("multiclass",), 3, "LDAM margins + deferred re-weighting at 80 % of epochs"),
    ("oversample", _sampled("oversample"), _ALL, 3, "class-balanced batches, redrawn every epoch"),
    ("undersample", _sampled("undersample"), ("binary", "multiclass"), 3, "majority undersampled, redrawn each epoch"),
    ("smote", _smote, ("binary", "multiclass"), 4, "imbalanced-learn SMOTE, redrawn every epoch"),
]
for _name, _build, _tasks, _cost, _description in _BUILTIN:
    register(_name, _build, tasks=_tasks, cost=_cost, description=_description,
             tf_data=_name in ("oversample", "undersample", "smote"), in_memory=_name == "smote")
