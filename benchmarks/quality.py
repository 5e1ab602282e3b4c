"""Quality on the KEEL development suite: our strategies and default recipe vs hand-wired Keras / imbalanced-learn.

Question (issue 7): with the same MLP for everyone, does ``imbalance`` give better decisions on imbalanced binary
data than what a user wires by hand from Keras and imbalanced-learn, and which of our strategies should be the
default? Plus long-tailed digits (multi-class, balanced accuracy).

Protocol, per KEEL dataset (``benchmarks/_keel.py``): stratified 5x2 CV (``RepeatedStratifiedKFold(n_splits=2,
n_repeats=5)``; quick mode: the 5 smallest datasets, 1 repeat). Inside each training fold a stratified 25 %
validation split is held out; every method trains the same MLP (2x32 ReLU, one logit, Adam 3e-3, 30 epochs, batch
64, the same Glorot seed per fold) on the other 75 %, with features standardised on those rows. Thresholds are
tuned on the validation split with :class:`imbalance.thresholds.ThresholdTuner` (``from_logits=True``): ``"f1"``
(point estimate) and ``"recall@precision>=0.8"`` (the tuner's default 0.9 confidence bound,
``on_unreachable="best"``). Every metric is measured on the test fold:

* *tuned F1* — F1 at the threshold tuned for F1 (the same tuning for every method, so it compares training);
* *F1 at 0.5* — F1 at probability 0.5 (what Keras gives without tuning: the threshold effect);
* *recall@P>=0.8* — test recall at the threshold tuned for the constraint, 0 where the tuner could not reach the
  target on the validation split (no operating point); *held* = test precision >= 0.8 with at least one positive
  predicted, counted over the folds where the target was reached;
* *PR-AUC* — ``sklearn.metrics.average_precision_score``;
* *G-mean* — ``imblearn.metrics.geometric_mean_score`` at the F1-tuned threshold.

Peers are wired the way a user would by hand: ``keras.losses.BinaryCrossentropy`` (+ ``model.fit(class_weight=
compute_class_weight("balanced"))``), ``keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True)`` (Keras
defaults ``alpha=0.25, gamma=2``), imbalanced-learn ``SMOTE().fit_resample`` then ``model.fit``, and
``imblearn.keras.BalancedBatchGenerator`` (a Keras 3 ``PyDataset``; it works as is under Keras 3, but it undersamples
once and yields ``floor(rows / batch_size)`` batches, zero when the minority has fewer than 32 rows, so its batch is
cut to the undersampled set). Same epochs for everyone, so SMOTE-then-Keras (about twice the rows) takes about
twice the gradient steps and the generator far fewer: that is what a user gets from these recipes. Ours come from
the strategy registry (:mod:`imbalance.experiment.strategies`) trained by ``imbalance.experiment.train_strategy``,
exactly as ``compare`` trains them; *recipe* is plain cross-entropy with the output bias initialised at the log-prior
(:func:`imbalance.weighting.output_bias`) — thresholds as for every method. Which of ours should be the
default is decided below from the same data: every (our method, decision rule: tuned or 0.5) pair is ranked on
test F1, and the default only changes when the better candidate wins with Wilcoxon p < 0.05 on dataset means.
``compare`` follows this ranking: for binary data and F1, the registered strategies under both decision rules are
its candidates and a tie goes to the first of them in this order (``imbalance.experiment.verdict.BINARY_F1_ORDER``,
checked against the stored results by ``tests/test_benchmarks.py``). *Our default* is therefore what ``compare``
recommends when nothing wins: ``compare_oversample`` decided at 0.5 for F1, PR-AUC and G-mean, and ``compare``
(plain BCE, threshold tuned with the confidence bound) for ``recall@precision>=0.8``, where only tuned thresholds
compete.

Statistics: ranks per dataset (``scipy.stats.rankdata``, 1 = best, ties averaged) of the per-dataset means,
averaged over datasets; Wilcoxon signed-rank tests (``scipy.stats.wilcoxon``, two-sided) of our default against
each peer, on the per-dataset means (the usual unit, Demšar 2006) and on the test folds (more pairs, but folds of
one dataset are not independent).
"""

from __future__ import annotations

import functools
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from benchmarks._report import (
    Section,
    environment,
    load_average,
    log,
    md_table,
    now_iso,
    store_section,
)

NAME = "quality"
TITLE = "Quality on the KEEL development suite vs hand-wired Keras / imbalanced-learn"
SEED = 0
VALIDATION = 0.25
PRECISION_TARGET = 0.8
CONSTRAINT = f"recall@precision>={PRECISION_TARGET:g}"

# name -> (who, description). Peers are wired by hand; "ours" go through the library.
METHODS: dict[str, tuple[str, str]] = {
    "keras_bce": ("peer", "Keras BinaryCrossentropy"),
    "keras_class_weight": ("peer", "Keras BCE + fit(class_weight='balanced')"),
    "keras_focal": ("peer", "Keras BinaryFocalCrossentropy(apply_class_balancing=True)"),
    "smote_then_keras": ("peer", "imblearn SMOTE().fit_resample, then Keras BCE"),
    "imblearn_bbg": ("peer", "imblearn.keras.BalancedBatchGenerator + Keras BCE"),
    "compare": ("ours", "our default recipe, as `imbalance compare` runs it when nothing wins: plain BCE (the "
                        "`baseline` strategy), the threshold tuned on the validation split when it holds >= 20 "
                        "positives, else on 2-fold out-of-fold scores of the training rows (test scores: the mean of "
                        "the two fold models)"),
    "compare_oversample": ("ours", "the `oversample` strategy with `compare`'s threshold protocol"),
    "recipe": ("ours", "BCE + output_bias init, threshold tuned on the validation split"),
    "baseline": ("ours", "strategy baseline (BCE)"),
    "class_weight": ("ours", "strategy class_weight"),
    "weighted_bce": ("ours", "strategy weighted_bce (pos_weight)"),
    "focal": ("ours", "strategy focal (gamma 2)"),
    "cb_focal": ("ours", "strategy cb_focal (class-balanced alpha)"),
    "asl": ("ours", "strategy asl"),
    "oversample": ("ours", "strategy oversample (balanced batches)"),
    "undersample": ("ours", "strategy undersample"),
    "smote": ("ours", "strategy smote (redrawn every epoch)"),
}
PEERS = [m for m, (who, _) in METHODS.items() if who == "peer"]
DEFAULT = "compare"  # plain BCE with compare's threshold protocol: the default for a constraint objective
F1_DEFAULT = "compare_oversample"  # compare's tie-break for binary F1 is oversample@0.5 (BINARY_F1_ORDER)
#: What ``compare`` recommends when nothing wins, per metric of this benchmark: (method, the column it scores on).
OUR_DEFAULT: dict[str, tuple[str, str]] = {
    "f1_tuned": (F1_DEFAULT, "f1_05"),
    "recall_p80": (DEFAULT, "recall_p80"),
    "pr_auc": (F1_DEFAULT, "pr_auc"),
    "gmean": (F1_DEFAULT, "gmean_05"),
}
TASKS_PER_WORKER = 4
DIGITS_METHODS = {"baseline": "cross-entropy", "logit_adjusted": "logit-adjusted (tau 1)",
                  "ldam_drw": "LDAM-DRW", "cb_focal": "CB-focal"}

# metric -> column title (higher is better for all)
METRICS: dict[str, str] = {
    "f1_tuned": "tuned F1",
    "recall_p80": "recall@P>=0.8",
    "pr_auc": "PR-AUC",
    "gmean": "G-mean",
    "f1_05": "F1 at 0.5",
}


@dataclass(frozen=True)
class Settings:
    datasets: tuple[str, ...]
    repeats: int
    methods: tuple[str, ...]
    digits_seeds: tuple[int, ...]
    epochs: int = 30
    batch_size: int = 64
    hidden: tuple[int, ...] = (32, 32)
    learning_rate: float = 3e-3
    digits_noise: float = 0.4
    workers: int = 1


@functools.lru_cache(maxsize=None)
def _compare_defaults() -> tuple[int, int, float]:
    """``compare``'s own defaults (min_positives, inner_folds, val_size), read from its :class:`Protocol` so that
    this benchmark follows them if they change (on first use: importing it loads TensorFlow)."""
    from imbalance.experiment import Protocol

    p = Protocol()
    return p.min_positives, p.inner_folds, p.val_size


def _settings(quick: bool) -> Settings:
    from benchmarks._keel import DEV_SUITE, smallest
    from benchmarks._report import cpu_counts

    workers = max(1, int(cpu_counts()["usable"] or 1))
    if quick:
        return Settings(datasets=tuple(smallest(5)), repeats=1, workers=workers,
                        methods=tuple(PEERS) + ("compare", "compare_oversample", "class_weight"),
                        digits_seeds=(0,))
    return Settings(datasets=tuple(DEV_SUITE), repeats=5, methods=tuple(METHODS), digits_seeds=(0, 1, 2, 3, 4),
                    workers=workers)


# --- models ----------------------------------------------------------------------------------------------------


def _mlp(width: int, outputs: int, seed: int, hidden: tuple[int, ...], bias: np.ndarray | None = None) -> Any:
    """The one MLP every method trains: ``hidden`` ReLU layers, logits out, Glorot-uniform from ``seed``."""
    import keras

    inputs = keras.Input((width,))
    h = inputs
    for i, units in enumerate(hidden):
        h = keras.layers.Dense(units, activation="relu",
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i))(h)
    bias_init = "zeros" if bias is None else keras.initializers.Constant(np.asarray(bias, np.float32))
    logits = keras.layers.Dense(outputs, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 99),
                                bias_initializer=bias_init)(h)
    return keras.Model(inputs, logits)


def _fit_peer(method: str, x: np.ndarray, y: np.ndarray, seed: int, s: Settings) -> Any:
    """A peer wired by hand, as a user would from the Keras / imbalanced-learn documentation."""
    import keras

    keras.utils.set_random_seed(seed)
    model = _mlp(x.shape[1], 1, seed, s.hidden)
    loss: Any = keras.losses.BinaryCrossentropy(from_logits=True)
    if method == "keras_focal":
        loss = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(s.learning_rate), loss=loss)
    fit: dict[str, Any] = {"epochs": s.epochs, "verbose": 0}
    target = y.astype(np.float32).reshape(-1, 1)
    if method == "keras_class_weight":
        from sklearn.utils.class_weight import compute_class_weight

        weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
        model.fit(x, target, batch_size=s.batch_size, class_weight={0: weights[0], 1: weights[1]}, **fit)
    elif method == "smote_then_keras":
        from imblearn.over_sampling import SMOTE

        # SMOTE's default k_neighbors=5 needs 6 minority rows; a user with fewer lowers it, as here.
        k = int(max(1, min(5, int(y.sum()) - 1)))
        xr, yr = SMOTE(k_neighbors=k, random_state=seed).fit_resample(x, y)
        model.fit(xr, yr.astype(np.float32).reshape(-1, 1), batch_size=s.batch_size, **fit)
    elif method == "imblearn_bbg":
        from imblearn.keras import BalancedBatchGenerator

        # It undersamples the majority once, to the minority's size, and yields floor(rows / batch_size) batches:
        # with fewer than batch_size / 2 minority rows that is zero batches (Keras: "The PyDataset has length 0"),
        # so the batch is cut to the undersampled set, as a user would have to.
        batch = int(min(s.batch_size, 2 * int(y.sum())))
        generator = BalancedBatchGenerator(x, target, batch_size=batch, random_state=seed)
        model.fit(generator, **fit)
    else:
        model.fit(x, target, batch_size=s.batch_size, **fit)
    return model


def _fit_ours(method: str, x: np.ndarray, y: np.ndarray, seed: int, s: Settings, task: str = "binary",
              num_classes: int = 2) -> Any:
    """One of our strategies, trained by :func:`imbalance.experiment.train_strategy` (what ``compare`` runs)."""
    from imbalance.experiment import train_strategy
    from imbalance.weighting import output_bias

    strategy = "baseline" if method == "recipe" else method
    bias = output_bias(y) if method == "recipe" else None
    outputs = 1 if task == "binary" else num_classes

    def factory(input_shape: Any, n_out: int, model_seed: int) -> Any:
        return _mlp(int(input_shape[0]), n_out, model_seed, s.hidden, bias)

    net = train_strategy(strategy, x, y, model=factory, task=task, epochs=s.epochs, batch_size=s.batch_size,
                         learning_rate=s.learning_rate, seed=seed)
    assert net.output.shape[-1] == outputs
    return net


def _logits(model: Any, x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(model(x[i:i + 4096], training=False), np.float64)
                           for i in range(0, len(x), 4096)])


# --- one fold --------------------------------------------------------------------------------------------------


def _tuner(objective: str, y: np.ndarray, z: np.ndarray) -> tuple[Any, bool, str]:
    """A fitted ThresholdTuner on validation logits; (tuner or None, reached, note). ``None``: logit 0 kept."""
    from imbalance.thresholds import ThresholdTuner

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tuner = ThresholdTuner(objective, on_unreachable="best", from_logits=True).fit(y, z)
        except ValueError as error:  # constant validation scores: no threshold can be tuned
            return None, False, str(error)[:120]
    return tuner, bool(tuner.achieved_["reached"]), ""


def _decide(tuner: Any, z: np.ndarray) -> np.ndarray:
    if tuner is None:
        return (z >= 0).astype(np.int64)
    return np.asarray(tuner.predict(z)).reshape(-1).astype(np.int64)


def score_fold(y_val: np.ndarray, z_val: np.ndarray, y_test: np.ndarray, z_test: np.ndarray) -> dict[str, Any]:
    """Every test-fold metric of one method on one fold, from validation and test logits."""
    from imblearn.metrics import geometric_mean_score
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

    f1_tuner, _, note = _tuner("f1", y_val, z_val)
    decision = _decide(f1_tuner, z_test)
    c_tuner, reached, _ = _tuner(CONSTRAINT, y_val, z_val)
    c_decision = _decide(c_tuner, z_test)
    c_recall = float(recall_score(y_test, c_decision, zero_division=0))
    c_precision = float(precision_score(y_test, c_decision, zero_division=0))
    held = bool(c_decision.any() and c_precision >= PRECISION_TARGET)
    return {
        "f1_tuned": float(f1_score(y_test, decision, zero_division=0)),
        "f1_05": float(f1_score(y_test, (z_test >= 0).astype(int), zero_division=0)),
        "recall_p80": c_recall if reached else 0.0,
        "p80_reached": reached,
        "p80_held": held,
        "p80_precision": c_precision,
        "pr_auc": float(average_precision_score(y_test, z_test)),
        "gmean": float(geometric_mean_score(y_test, decision)),
        "gmean_05": float(geometric_mean_score(y_test, (z_test >= 0).astype(int))),
        "note": note,
    }


def _worker_init() -> None:
    """Each worker process trains on one core: small MLPs gain little from intra-op threads, and two processes on a
    2-core machine then run side by side instead of fighting over both cores."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


_DATA: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _dataset(name: str) -> tuple[np.ndarray, np.ndarray] | str:
    """(x, y) of one KEEL dataset, cached per process, or the reason it could not be loaded."""
    from benchmarks._keel import load_suite

    if name not in _DATA:
        suite = load_suite([name])
        if not suite:
            return suite.skipped.get(name, "not loaded")
        _DATA[name] = suite[0][1], suite[0][2]
    return _DATA[name]


def _compare_protocol(x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                      x_test: np.ndarray, seed: int, s: Settings,
                      strategy: str = "baseline") -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(tuning labels, tuning logits, test logits, "validation" or "cv") the way ``compare`` chooses a threshold
    inside a unit's training rows (here: the fold's fit + validation rows) for ``strategy``: the validation split
    when it holds enough positives, else ``compare``'s own :func:`imbalance.experiment.out_of_fold`."""
    from imbalance.experiment import Budget, out_of_fold
    from imbalance.experiment.data import from_arrays

    min_positives, inner_folds, val_size = _compare_defaults()
    y_train = np.concatenate([y_fit, y_val])
    if y_train.sum() * val_size >= min_positives:
        model = _fit_ours(strategy, x_fit, y_fit, seed, s)
        return y_val, _logits(model, x_val)[:, 0], _logits(model, x_test)[:, 0], "validation"
    x_train = np.concatenate([x_fit, x_val])
    d = from_arrays("fold", x_train, y_train, "binary", None)
    budget = Budget(epochs=s.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate)

    def factory(input_shape: Any, n_out: int, model_seed: int) -> Any:
        return _mlp(int(input_shape[0]), n_out, model_seed, s.hidden)

    _, p_oof, p_test, _ = out_of_fold(d, strategy, x_train, y_train, x_test, y_train, budget, inner_folds, factory,
                                      seed)
    p_oof, p_test = (np.clip(p[:, 0].astype(np.float64), 1e-12, 1 - 1e-12) for p in (p_oof, p_test))
    return y_train, np.log(p_oof) - np.log1p(-p_oof), np.log(p_test) - np.log1p(-p_test), "cv"


def keel_fold(name: str, fold: int, s: Settings, methods: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Every method (or ``methods``) on test fold ``fold`` of ``RepeatedStratifiedKFold(2, s.repeats)`` on dataset
    ``name``."""
    import keras
    from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    loaded = _dataset(name)
    if isinstance(loaded, str):
        raise RuntimeError(f"{name}: {loaded}")
    x, y = loaded
    cv = RepeatedStratifiedKFold(n_splits=2, n_repeats=s.repeats, random_state=SEED)
    train, test = list(cv.split(x, y))[fold]
    fit_idx, val_idx = train_test_split(train, test_size=VALIDATION, stratify=y[train], random_state=SEED + fold)
    scaler = StandardScaler().fit(x[fit_idx])
    x_fit, x_val, x_test = (scaler.transform(x[i]).astype(np.float32) for i in (fit_idx, val_idx, test))
    seed = SEED + fold
    records = []
    for method in (s.methods if methods is None else methods):
        keras.backend.clear_session()
        t0 = time.perf_counter()
        y_tune, inner = y[val_idx], "validation"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method in ("compare", "compare_oversample"):
                strategy = "baseline" if method == "compare" else "oversample"
                y_tune, z_val, z_test, inner = _compare_protocol(x_fit, y[fit_idx], x_val, y[val_idx], x_test, seed,
                                                                 s, strategy)
            else:
                if METHODS[method][0] == "peer":
                    model = _fit_peer(method, x_fit, y[fit_idx], seed, s)
                else:
                    model = _fit_ours(method, x_fit, y[fit_idx], seed, s)
                z_val, z_test = _logits(model, x_val)[:, 0], _logits(model, x_test)[:, 0]
        fit_seconds = time.perf_counter() - t0
        record = {"dataset": name, "fold": fold, "method": method, "fit_seconds": round(fit_seconds, 2),
                  "val_positives": int(y_tune.sum()), "test_positives": int(y[test].sum()), "tuned_on": inner}
        record.update(score_fold(y_tune, z_val, y[test], z_test))
        records.append(record)
    return records


def _pool(workers: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)


def _map(function: Callable[..., Any], tasks: list[tuple[Any, ...]], workers: int,
         done: Callable[[tuple[Any, ...], Any], None]) -> list[Any]:
    """``function(*task)`` for every task, in ``workers`` processes (in this process when 1); results in task
    order. ``done(task, result)`` is called as each finishes."""
    if workers <= 1:
        out = []
        for task in tasks:
            out.append(function(*task))
            done(task, out[-1])
        return out
    from concurrent.futures import as_completed

    # Fresh worker processes for every TASKS_PER_WORKER tasks each: Keras leaves memory behind every model even
    # after clear_session (5.6 GB per worker after 60 folds of 15 fits in the first full run), and the garbage
    # collection clear_session runs then took longer than the fits (~30 s of fitting in ~110 s per fold).
    # (ProcessPoolExecutor's max_tasks_per_child deadlocks on Python 3.11, hence a new pool per chunk.)
    results: dict[int, Any] = {}
    chunk = workers * TASKS_PER_WORKER
    for start in range(0, len(tasks), chunk):
        with _pool(workers) as pool:
            futures = {pool.submit(function, *tasks[i]): i for i in range(start, min(start + chunk, len(tasks)))}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done(tasks[i], results[i])
    return [results[i] for i in range(len(tasks))]


class _Checkpoint:
    """Finished (dataset, fold) tasks of an interrupted run, one JSON line each in
    ``benchmarks/results/quality.partial.jsonl``, valid only for the same settings; :func:`run` removes it once the
    section is stored. A long full run that is killed resumes where it stopped instead of starting over. The file
    is ``compare``'s own resumable store (:class:`imbalance.experiment.RunStore`: rewritten whole and moved into
    place after every task, so a kill never leaves half a line)."""

    def __init__(self, s: Settings) -> None:
        import hashlib
        import json

        from benchmarks._report import RESULTS_DIR
        from imbalance.experiment import RunStore

        self.path = RESULTS_DIR / "quality.partial.jsonl"
        self.store = RunStore(self.path)
        self.key = hashlib.sha256(json.dumps(asdict(s) | {"workers": None}, sort_keys=True,
                                             default=str).encode()).hexdigest()[:16]
        self.done: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for item in self.store.read_dicts(drop_cut_tail=True):  # a file an older, appending version left
            if item.get("settings") == self.key:
                self.done[(item["dataset"], int(item["fold"]))] = item["records"]

    def get(self, key: tuple[str, int]) -> list[dict[str, Any]] | None:
        return self.done.get(key)

    def put(self, key: tuple[str, int], records: list[dict[str, Any]]) -> None:
        self.done[key] = records
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.store.write({"settings": self.key, "dataset": d, "fold": f, "records": r}
                         for (d, f), r in self.done.items())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def measure_keel(s: Settings, log: Callable[[str], None] = log) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One record per (dataset, fold, method); (dataset, fold) tasks run in ``s.workers`` processes, the largest
    datasets first so the last tasks to finish are short."""
    from benchmarks._keel import DEV_SUITE, load_suite

    suite = load_suite(s.datasets)  # loaded here once to learn which datasets load at all
    _DATA.update({name: (x, y) for name, x, y in suite})  # in-process folds (workers=1) need not load them again
    names = sorted((name for name, _, _ in suite), key=lambda n: -DEV_SUITE[n].rows if n in DEV_SUITE else 0)
    tasks = [(name, fold, s) for name in names for fold in range(2 * s.repeats)]
    started = time.perf_counter()
    count = [0]

    def done(task: tuple[Any, ...], _: Any) -> None:
        count[0] += 1
        log(f"quality: {task[0]} fold {task[1]} done ({count[0]}/{len(tasks)}, "
            f"{time.perf_counter() - started:.0f} s)")

    checkpoint = _Checkpoint(s)
    pending = [t for t in tasks if checkpoint.get(t[:2]) is None]
    if len(pending) < len(tasks):
        log(f"quality: resuming, {len(tasks) - len(pending)} of {len(tasks)} folds taken from {checkpoint.path.name}")
    count[0] = len(tasks) - len(pending)

    def keep(task: tuple[Any, ...], result: Any) -> None:
        checkpoint.put(task[:2], result)
        done(task, result)

    _map(keel_fold, pending, s.workers, keep)
    per_task = [checkpoint.get(t[:2]) for t in tasks]
    order = {name: i for i, (name, _, _) in enumerate(suite)}
    records = sorted((r for rs in per_task for r in rs), key=lambda r: (order[r["dataset"]], r["fold"]))
    return records, dict(suite.skipped)


def digits_seed(seed: int, s: Settings) -> list[dict[str, Any]]:
    """Long-tailed digits (seed 000, pixel noise): balanced accuracy of argmax per strategy for one split seed."""
    import keras
    from sklearn.metrics import balanced_accuracy_score, recall_score
    from sklearn.model_selection import train_test_split

    from imbalance.datasets import load_demo

    data = load_demo("digits_lt", noise=s.digits_noise)
    rows = []
    train, test = train_test_split(np.arange(len(data.y)), test_size=0.3, stratify=data.y, random_state=seed)
    for method in DIGITS_METHODS:
        keras.backend.clear_session()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _fit_ours(method, data.x[train], data.y[train], seed, s, task="multiclass", num_classes=10)
        predicted = _logits(model, data.x[test]).argmax(axis=1)
        rows.append({"seed": seed, "method": method,
                     "balanced_accuracy": float(balanced_accuracy_score(data.y[test], predicted)),
                     "recall_class0": float(recall_score(data.y[test] == 0, predicted == 0, zero_division=0)),
                     "test_class0": int((data.y[test] == 0).sum())})
    return rows


def measure_digits(s: Settings, log: Callable[[str], None] = log) -> list[dict[str, Any]]:
    """Every digits seed, in ``s.workers`` processes."""
    per_seed = _map(digits_seed, [(seed, s) for seed in s.digits_seeds], s.workers,
                    lambda task, _: log(f"quality: digits_lt seed {task[0]} done"))
    return [row for rows in per_seed for row in rows]


# --- statistics ------------------------------------------------------------------------------------------------


def dataset_means(records: list[dict[str, Any]], metric: str) -> tuple[list[str], list[str], np.ndarray]:
    """(datasets, methods, means[dataset, method]) of ``metric`` over folds."""
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    table = np.full((len(datasets), len(methods)), np.nan)
    for i, d in enumerate(datasets):
        for j, m in enumerate(methods):
            values = [r[metric] for r in records if r["dataset"] == d and r["method"] == m]
            table[i, j] = np.mean(values) if values else np.nan
    return datasets, methods, table


def mean_ranks(table: np.ndarray) -> np.ndarray:
    """Mean over datasets (rows) of the rank of each method (column), 1 = highest value, ties averaged.

    >>> mean_ranks(np.array([[0.9, 0.5, 0.5], [0.2, 0.8, 0.4]])).tolist()
    [2.0, 1.75, 2.25]
    """
    from scipy.stats import rankdata

    return np.mean([rankdata(-row) for row in table], axis=0)


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples (1.0 when every difference is 0).

    >>> round(wilcoxon_p(np.arange(1.0, 6.0), np.zeros(5)), 4)  # 5 pairs, all better: the smallest p possible
    0.0625
    """
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or np.allclose(a, b):
        return 1.0
    return float(wilcoxon(a, b).pvalue)


def _fold_values(records: list[dict[str, Any]], method: str, metric: str) -> np.ndarray:
    rows = sorted((r for r in records if r["method"] == method), key=lambda r: (r["dataset"], r["fold"]))
    return np.array([r[metric] for r in rows])


# --- rendering -------------------------------------------------------------------------------------------------


def _label(method: str) -> str:
    return f"**{method}**" if method in (DEFAULT, F1_DEFAULT) else method


def rank_table(records: list[dict[str, Any]]) -> tuple[str, dict[str, np.ndarray], list[str]]:
    ranks: dict[str, np.ndarray] = {}
    means: dict[str, np.ndarray] = {}
    methods: list[str] = []
    for metric in METRICS:
        _, methods, table = dataset_means(records, metric)
        ranks[metric], means[metric] = mean_ranks(table), table.mean(axis=0)
    order = np.argsort(ranks["f1_tuned"], kind="stable")
    rows = []
    for j in order:
        m = methods[j]
        rows.append([_label(m), METHODS[m][0]] + [f"{ranks[k][j]:.2f} ({means[k][j]:.3f})" for k in METRICS])
    headers = ["method", "who"] + [f"{title}: rank (mean)" for title in METRICS.values()]
    return md_table(headers, rows, ["l", "l"] + ["r"] * len(METRICS)), ranks, methods


def per_dataset_table(records: list[dict[str, Any]], metric: str) -> str:
    datasets, methods, table = dataset_means(records, metric)
    rows = []
    for i, d in enumerate(datasets):
        best = np.nanmax(table[i])
        rows.append([d] + [(f"**{v:.3f}**" if v == best else f"{v:.3f}") for v in table[i]])
    rows.append(["mean"] + [f"{v:.3f}" for v in table.mean(axis=0)])
    return md_table(["dataset"] + [_label(m) for m in methods], rows, ["l"] + ["r"] * len(methods))


def our_default(records: list[dict[str, Any]], metric: str) -> tuple[str, str]:
    """(method, column) of our default for ``metric``; plain ``compare`` on the same column when the stored run
    lacks ``compare_oversample`` (runs from before compare's tie-break followed the ranking)."""
    method, column = OUR_DEFAULT[metric]
    if method not in {r["method"] for r in records}:
        return DEFAULT, metric
    return method, column


def _rule(column: str) -> str:
    return "0.5" if column.endswith("_05") else ("tuned" if column in ("f1_tuned", "gmean", "recall_p80") else "")


def _default_label(records: list[dict[str, Any]], metric: str) -> str:
    method, column = our_default(records, metric)
    return f"{method} @ {_rule(column)}" if _rule(column) else method


WILCOXON_TITLES = {"f1_tuned": "F1", "recall_p80": METRICS["recall_p80"], "pr_auc": "PR-AUC", "gmean": "G-mean"}


def wilcoxon_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our default (:data:`OUR_DEFAULT`) vs each peer, tuned and at 0.5, per metric, on dataset means and folds."""
    out = []
    comparisons = [(peer, metric, metric) for peer in PEERS for metric in ("f1_tuned", "recall_p80", "pr_auc", "gmean")]
    # what a user gets without tuning: each peer decided at probability 0.5
    comparisons += [(peer, "f1_tuned", "f1_05") for peer in PEERS]
    comparisons += [(peer, "gmean", "gmean_05") for peer in PEERS]
    present = set(r["method"] for r in records)
    for peer, metric, peer_metric in comparisons:
        ours, ours_metric = our_default(records, metric)
        if peer not in present or ours not in present:
            continue
        datasets, methods, ours_table = dataset_means(records, ours_metric)
        _, _, peer_table = dataset_means(records, peer_metric)
        a, b = ours_table[:, methods.index(ours)], peer_table[:, methods.index(peer)]
        fa, fb = _fold_values(records, ours, ours_metric), _fold_values(records, peer, peer_metric)
        peer_rule = " at 0.5" if peer_metric.endswith("_05") else (" tuned" if metric != "pr_auc" else "")
        out.append({"peer": peer + peer_rule, "peer_method": peer, "key": metric, "metric": WILCOXON_TITLES[metric],
                    "ours_method": _default_label(records, metric),
                    "ours": float(a.mean()), "theirs": float(b.mean()), "better": int(np.sum(a > b)),
                    "worse": int(np.sum(a < b)), "datasets": len(a), "p_datasets": wilcoxon_p(a, b),
                    "fold_better": int(np.sum(fa > fb)), "fold_worse": int(np.sum(fa < fb)), "folds": len(fa),
                    "p_folds": wilcoxon_p(fa, fb)})
    return out


def held_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for m in dict.fromkeys(r["method"] for r in records):
        sub = [r for r in records if r["method"] == m]
        reached = [r for r in sub if r["p80_reached"]]
        held = sum(r["p80_held"] for r in reached)
        rate = f"{100 * held / len(reached):.0f} %" if reached else "–"
        recall = f"{np.mean([r['recall_p80'] for r in reached]):.3f}" if reached else "–"
        rows.append([_label(m), len(sub), len(reached), held, rate, recall])
    return rows


def digits_table(rows: list[dict[str, Any]]) -> str:
    out = []
    for m, text in DIGITS_METHODS.items():
        ba = [r["balanced_accuracy"] for r in rows if r["method"] == m]
        r0 = [r["recall_class0"] for r in rows if r["method"] == m]
        sd = f" ± {np.std(ba, ddof=1):.3f}" if len(ba) > 1 else ""
        out.append([m, text, f"{np.mean(ba):.3f}{sd}", f"{np.mean(r0):.3f}", len(ba)])
    return md_table(["strategy", "what", "balanced accuracy", "class-0 recall", "seeds"], out,
                    ["l", "l", "r", "r", "r"])


def _candidates(records: list[dict[str, Any]], keep: Callable[[str], bool] | None = None,
                name: Callable[[str, str], str] = lambda m, rule: f"{m} @ {rule}") -> tuple[list[str], np.ndarray]:
    """Every (method, decision rule) pair as a deployable recipe — our methods, or those ``keep`` accepts — named by
    ``name(method, rule)``, and its test F1 per dataset (columns)."""
    keep = keep or (lambda m: METHODS[m][0] == "ours")
    names, columns = [], []
    for metric, rule in (("f1_tuned", "tuned"), ("f1_05", "0.5")):
        _, methods, table = dataset_means(records, metric)
        for j, m in enumerate(methods):
            if keep(m):
                names.append(name(m, rule))
                columns.append(table[:, j])
    return names, np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def development_order(records: list[dict[str, Any]]) -> list[str]:
    """Every registered strategy under each decision rule (``"name"`` tuned, ``"name@0.5"``), best first by mean
    rank of test F1 over datasets: the order ``compare`` breaks binary-F1 ties in
    (:data:`imbalance.experiment.verdict.BINARY_F1_ORDER`). Peers and protocol variants (``compare``,
    ``recipe``) are not strategies ``compare`` can run, so they are left out of the ranking."""
    from imbalance.experiment.strategies import STRATEGIES

    names, table = _candidates(records, keep=lambda m: m in STRATEGIES,
                               name=lambda m, rule: m if rule == "tuned" else f"{m}@{rule}")
    if not names:
        return []
    return [names[j] for j in np.argsort(mean_ranks(table), kind="stable")]


def _tie_break_note(records: list[dict[str, Any]], quick: bool) -> str:
    from imbalance.experiment.verdict import BINARY_F1_ORDER

    order = development_order(records)
    if not order:
        return ""
    shown = ", ".join(f"`{c}`" for c in order[:6]) + (", …" if len(order) > 6 else "")
    if quick:
        return (f" This quick run orders our registered strategies {shown}; `compare` breaks binary-F1 ties in the "
                "order of the full run (`BINARY_F1_ORDER`), which a quick run does not change.")
    if tuple(order) == BINARY_F1_ORDER:
        return (f" `compare` breaks binary-F1 ties in this ranking restricted to the registered strategies: {shown} "
                "(`imbalance.experiment.verdict.BINARY_F1_ORDER`, equal to this run's order).")
    return (f" **This run orders the registered strategies {shown}, which differs from `BINARY_F1_ORDER` in "
            "`imbalance.experiment.verdict`: update it (tests/test_benchmarks.py compares the two).**")


def choose_default(records: list[dict[str, Any]], quick: bool = True) -> tuple[str, str]:
    """(paragraph saying which of ours should be the default, measured from the data; one-line verdict)."""
    names, table = _candidates(records)
    text_bias = _bias_note(records)
    ranks = mean_ranks(table)
    order = np.argsort(ranks, kind="stable")
    current = _default_label(records, "f1_tuned")
    previous = f"{DEFAULT} @ tuned"
    best = names[order[0]]
    text = ("**Which default? (decided from these data)** Every one of our methods with either decision rule "
            "(threshold tuned for F1 on the validation split, or 0.5) is a candidate; mean rank of test F1 over "
            "datasets: " + ", ".join(f"{names[j]} {ranks[j]:.2f} ({table[:, j].mean():.3f})" for j in order) + "."
            + _tie_break_note(records, quick) + " ")
    if current != previous and previous in names:
        i, j = names.index(current), names.index(previous)
        text += (f"As `compare` runs it (thresholds and scores from its out-of-fold protocol), that tie-break gives "
                 f"`{current}`: test F1 {table[:, i].mean():.3f} vs {table[:, j].mean():.3f} for the previous "
                 f"default `{previous}` (Wilcoxon p = {wilcoxon_p(table[:, i], table[:, j]):.3f} on datasets). ")
    if best == current:
        return text + f"`{current}` ranks best: it stays the default." + text_bias, ""
    i, j = names.index(best), names.index(current)
    p = wilcoxon_p(table[:, i], table[:, j])
    fold_metric = {"tuned": "f1_tuned", "0.5": "f1_05"}
    b_method, b_rule = best.split(" @ ")
    c_method, c_rule = current.split(" @ ")
    pf = wilcoxon_p(_fold_values(records, b_method, fold_metric[b_rule]),
                    _fold_values(records, c_method, fold_metric[c_rule]))
    gap = f"{table[:, i].mean():.3f} vs {table[:, j].mean():.3f}"
    if p < 0.05:
        line = (f"`{best}` beats the current default `{current}` on test F1 ({gap}, Wilcoxon p = {p:.3f} on "
                f"datasets): switch the default to `{best}`.")
        return text + f"**{line}**" + text_bias, line
    line = (f"`{best}` ranks above the current default `{current}` on test F1 ({gap}), not significantly "
            f"(Wilcoxon p = {p:.3f} on {len(table)} dataset means, {pf:.3f} on folds)")
    if quick:
        rest = (f": the default stays `{current}` until the full run decides; if the full run confirms this "
                f"ranking with p < 0.05, switch to `{best}`.")
    else:
        rest = (f": the default stays `{current}`, because no candidate beats it beyond the noise.")
    return text + line + rest + text_bias, line + "."


def _bias_note(records: list[dict[str, Any]]) -> str:
    """What the output-bias initialisation alone changes: `recipe` vs the `baseline` strategy (both plain BCE)."""
    present = {r["method"] for r in records}
    if not {"recipe", "baseline"} <= present:
        return ""
    parts = []
    for metric in ("f1_tuned", "pr_auc", "f1_05"):
        _, methods, table = dataset_means(records, metric)
        a, b = table[:, methods.index("recipe")], table[:, methods.index("baseline")]
        parts.append(f"{METRICS[metric]} {a.mean():.3f} vs {b.mean():.3f} (p = {wilcoxon_p(a, b):.3f})")
    return (" The output-bias initialisation alone (`recipe` vs the `baseline` strategy, both plain BCE, the "
            "strategy `compare` recommends when nothing wins): " + ", ".join(parts) + ".")


def verdicts(wrows: list[dict[str, Any]], records: list[dict[str, Any]],
             digits: list[dict[str, Any]], quick: bool = True) -> tuple[list[str], list[str]]:
    wins, losses = [], []
    by_peer: dict[str, list[dict[str, Any]]] = {}
    for w in wrows:
        by_peer.setdefault(w.get("peer_method", w["peer"]), []).append(w)
    f1_default = _default_label(records, "f1_tuned")
    for peer, rows in by_peer.items():
        shown = [w for w in rows if w.get("key") != "recall_p80"]
        parts = [f"{w['metric']} {w['ours']:.3f} vs {w['theirs']:.3f}{w['peer'][len(peer):]} (p = "
                 f"{w['p_datasets']:.3f})" for w in shown]
        # Judged against the peer's better F1 decision (tuned or at 0.5): what a careful user of the peer gets.
        main = max((w for w in rows if w.get("key") == "f1_tuned"), key=lambda w: w["theirs"])
        n = main["datasets"]
        significant = [w for w in shown if w["p_datasets"] < 0.05]
        line = (f"`{f1_default}` vs `{peer}` over {n} datasets: " + ", ".join(parts) + " (Wilcoxon on dataset "
                "means" + ("; none significant" if not significant else "") + ").")
        (wins if main["ours"] >= main["theirs"] else losses).append(line)
    constraint = [w for w in wrows if w.get("key") == "recall_p80"]
    if constraint:
        top = max(constraint, key=lambda w: w["theirs"])
        line = (f"`{CONSTRAINT}` (test recall, 0 where the target was not reached on the tuning scores): "
                f"`{DEFAULT}` {top['ours']:.3f} vs the best peer `{top['peer']}` {top['theirs']:.3f} (Wilcoxon p = "
                f"{top['p_datasets']:.3f} on {top['datasets']} dataset means, {top['p_folds']:.3f} on folds).")
        (wins if top["ours"] >= top["theirs"] else losses).append(line)
    # The threshold effect: tuning on a small validation split can lose against 0.5.
    _, methods, tuned = dataset_means(records, "f1_tuned")
    _, _, at05 = dataset_means(records, "f1_05")
    for name in (m for m in methods if m.startswith("compare")):
        k = methods.index(name)
        cv = sum(r.get("tuned_on") == "cv" for r in records if r["method"] == name)
        n = sum(r["method"] == name for r in records)
        line = (f"`{name}` (`compare`'s threshold protocol: out-of-fold scores in {cv} of {n} folds, where the "
                f"validation split would hold < {_compare_defaults()[0]} positives): tuned F1 "
                f"{tuned[:, k].mean():.3f} vs {at05[:, k].mean():.3f} at 0.5 (p = {wilcoxon_p(tuned[:, k], at05[:, k]):.3f}).")
        (wins if tuned[:, k].mean() >= at05[:, k].mean() else losses).append(line)
    split = [m for m in methods if not m.startswith("compare")]
    worse = [m for m in split if tuned[:, methods.index(m)].mean() < at05[:, methods.index(m)].mean()]
    if worse:
        losses.append("A threshold tuned for F1 on the 25 % validation split gave a lower mean test F1 than 0.5 for "
                      + ", ".join(f"{m} ({tuned[:, methods.index(m)].mean():.3f} vs "
                                  f"{at05[:, methods.index(m)].mean():.3f})" for m in worse)
                      + f" — validation splits held only {_val_positives(records)} positives.")
    better = [m for m in split if m not in worse]
    if better:
        wins.append("Tuning the F1 threshold on the 25 % validation split beat 0.5 for " + ", ".join(
            f"{m} ({tuned[:, methods.index(m)].mean():.3f} vs {at05[:, methods.index(m)].mean():.3f})"
            for m in better) + ".")
    reached = [r for r in records if r["p80_reached"]]
    held = sum(r["p80_held"] for r in reached)
    line = (f"`{CONSTRAINT}` with the tuner's 0.9 bound: reached on the tuning scores in {len(reached)} of "
            f"{len(records)} method-folds; where reached, precision held on the test fold in {held} of "
            f"{len(reached)}")
    (wins if reached and held >= 0.8 * len(reached) else losses).append(line + ".")
    _, default_line = choose_default(records, quick)
    if default_line:
        losses.append(default_line)
    if digits:
        means = {m: np.mean([r["balanced_accuracy"] for r in digits if r["method"] == m]) for m in DIGITS_METHODS}
        best = max(means, key=means.get)
        line = ("digits_lt (noise 0.4) balanced accuracy: " + ", ".join(f"{m} {v:.3f}" for m, v in means.items()))
        if best == "baseline":
            losses.append(line + "; plain cross-entropy is not beaten by our long-tail losses here.")
        else:
            wins.append(line + f"; best `{best}` (+{means[best] - means['baseline']:.3f} over cross-entropy).")
    return wins, losses


def _val_positives(records: list[dict[str, Any]]) -> str:
    """The range of positives in the 25 % validation splits (not the out-of-fold tuning sets of ``compare``)."""
    values = sorted({r["val_positives"] for r in records if r.get("tuned_on", "validation") == "validation"})
    return f"{values[0]}-{values[-1]}" if len(values) > 1 else str(values[0])


def _min_certifiable(target: float = PRECISION_TARGET, confidence: float = 0.9) -> int:
    """Fewest predicted positives (all true) whose one-sided Clopper-Pearson lower bound reaches ``target``."""
    return int(np.ceil(np.log(1 - confidence) / np.log(target)))


def render(records: list[dict[str, Any]], digits: list[dict[str, Any]], s: Settings, skipped: dict[str, str],
           quick: bool, wrows: list[dict[str, Any]]) -> str:
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    folds = len({(r["dataset"], r["fold"]) for r in records})
    mode = (f"**Quick mode**: the {len(datasets)} smallest datasets, {s.repeats} repeat of stratified 2-fold CV "
            f"({folds} test folds), {len(s.methods)} methods, digits with {len(s.digits_seeds)} seed; indicative "
            "only — with 5 datasets the smallest two-sided Wilcoxon p-value possible is 0.0625."
            if quick else
            f"Full mode: {len(datasets)} datasets x {s.repeats} repeats of stratified 2-fold CV ({folds} test "
            f"folds), {len(s.methods)} methods, digits with {len(s.digits_seeds)} seeds.")
    if skipped:
        mode += " Skipped (loader failed): " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "."
    table, ranks, methods = rank_table(records)
    fit_seconds = {m: np.mean([r["fit_seconds"] for r in records if r["method"] == m]) for m in methods}
    parts = [
        __doc__.split("\n\n", 1)[1].strip(),
        f"MLP: {'x'.join(str(u) for u in s.hidden)} ReLU, Adam {s.learning_rate:g}, {s.epochs} epochs, batch "
        f"{s.batch_size}. " + mode,
        "Methods: " + "; ".join(f"`{m}` = {METHODS[m][1]}" for m in methods) + ".",
        "### Mean rank per method (1 = best; mean value in brackets), sorted by tuned F1",
        table,
        choose_default(records, quick)[0],
        "### Our default (what `compare` recommends when nothing wins) vs each peer: Wilcoxon signed-rank",
        "*ours*: our default for the metric (`" + "`, `".join(dict.fromkeys(_default_label(records, m)
                                                                for m in OUR_DEFAULT)) + "`). *better/worse*: "
        "datasets (folds) where our default's mean is higher / lower. Each peer is shown tuned (the same tuner as "
        "ours) and at 0.5 (what a user gets without tuning).",
        md_table(["peer", "metric", "ours", "ours: value", "theirs", "better/worse (datasets)", "p (datasets)",
                  "better/worse (folds)", "p (folds)"],
                 [[w["peer"], w["metric"], f"`{w.get('ours_method', DEFAULT)}`", f"{w['ours']:.3f}",
                   f"{w['theirs']:.3f}",
                   f"{w['better']}/{w['worse']} of {w['datasets']}", f"{w['p_datasets']:.3f}",
                   f"{w['fold_better']}/{w['fold_worse']} of {w['folds']}", f"{w['p_folds']:.3f}"] for w in wrows],
                 ["l", "l", "l", "r", "r", "r", "r", "r", "r"]),
        f"### `{CONSTRAINT}`: did precision hold on the test fold?",
        "Tuned with the tuner's default 0.9 confidence bound on the validation split (`compare` rows: mostly on "
        "out-of-fold scores of all training rows, see the methods). *reached*: the bound met "
        "the target on validation; *held*: test precision >= 0.8 with at least one positive predicted; recall: "
        f"mean test recall over reached folds. Validation splits held {_val_positives(records)} positives; the 0.9 "
        f"bound can certify precision {PRECISION_TARGET:g} only from {_min_certifiable()} predicted positives "
        "without a false positive, so on small datasets the target is rarely reachable, by design.",
        md_table(["method", "folds", "reached", "held", "held / reached", "test recall"], held_rows(records),
                 ["l", "r", "r", "r", "r", "r"]),
        "### Per dataset: tuned F1 (mean over test folds; best in bold)",
        per_dataset_table(records, "f1_tuned"),
        "### Per dataset: PR-AUC",
        per_dataset_table(records, "pr_auc"),
        "### Per dataset: F1 at 0.5 (no tuning — compare with tuned F1 above for the threshold effect)",
        per_dataset_table(records, "f1_05"),
        "Mean seconds per fit: " + ", ".join(f"{m} {v:.1f}" for m, v in fit_seconds.items()) + ".",
    ]
    if digits:
        parts += [
            "### Long-tailed digits (seed 000): balanced accuracy of argmax",
            f"`load_demo(\"digits_lt\", noise={s.digits_noise:g})` (class 0 rarest, imbalance ratio 10), stratified "
            "70/30 split per seed, the same MLP (10 logits), strategies from the registry trained as `compare` "
            "trains them.",
            digits_table(digits),
        ]
    return "\n\n".join(parts)


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    s = _settings(quick)
    started = time.perf_counter()
    records, skipped = measure_keel(s, log=log)
    if not records:
        raise RuntimeError(f"No KEEL dataset could be loaded: {skipped}")
    digits = measure_digits(s, log=log)
    elapsed = time.perf_counter() - started
    payload = {"section": NAME, "generated": now_iso(), "quick": quick, "settings": asdict(s), "skipped": skipped,
               "environment": environment(), "load_average_after": load_average(), "seconds": round(elapsed, 1),
               "records": records, "digits": digits}
    section = section_from(payload)
    _Checkpoint(s).remove()
    return section


def section_from(payload: dict[str, Any]) -> Section:
    """Statistics, text and the stored section from the raw results of a run (``results/quality.json``)."""
    quick, records, digits = payload["quick"], payload["records"], payload["digits"]
    s = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload["settings"].items()})
    wrows = wilcoxon_rows(records)
    payload["wilcoxon"] = wrows
    wins, losses = verdicts(wrows, records, digits, quick)
    body = render(records, digits, s, payload["skipped"], quick, wrows)
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, payload["seconds"])


def extend(payload: dict[str, Any], log: Callable[[str], None] = log) -> dict[str, Any]:
    """Add the methods of this mode's settings that a stored run (``payload``) lacks: the same datasets, folds,
    seeds and training settings, only the missing methods trained. Returns the extended payload. Refuses when any
    setting other than the method list differs (the old records would not be comparable)."""
    import dataclasses

    quick = bool(payload["quick"])
    stored = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload["settings"].items()})
    wanted = _settings(quick)
    same = dataclasses.replace(stored, methods=wanted.methods, workers=wanted.workers)
    if same != wanted:
        raise ValueError(f"the stored {'quick' if quick else 'full'} run used other settings ({stored}); run the "
                         "whole section again instead")
    missing = tuple(m for m in wanted.methods if m not in stored.methods)
    if not missing:
        log("quality: nothing to add")
        return payload
    log(f"quality: adding {', '.join(missing)} to the stored run")
    started = time.perf_counter()
    records, _ = measure_keel(dataclasses.replace(wanted, methods=missing), log=log)
    order = {m: i for i, m in enumerate(wanted.methods)}
    datasets = list(dict.fromkeys(r["dataset"] for r in payload["records"]))
    merged = sorted(payload["records"] + [r for r in records if r["dataset"] in datasets],
                    key=lambda r: (datasets.index(r["dataset"]), r["fold"], order[r["method"]]))
    out = dict(payload, records=merged, settings=asdict(dataclasses.replace(stored, methods=wanted.methods)))
    out["seconds"] = round(float(payload["seconds"]) + time.perf_counter() - started, 1)
    out["extended"] = {"methods": list(missing), "on": now_iso()}
    return out


if __name__ == "__main__":
    import json
    import sys

    from benchmarks._report import RESULTS_DIR, atomic_write_json

    if sys.argv[1:] not in (["--rebuild"], ["--extend"]):
        sys.exit("usage: python -m benchmarks.quality --rebuild | --extend\n  --rebuild: re-derive the section from "
                 "results/quality.json\n  --extend: train the methods that run lacks, then re-derive\nthen run "
                 "`python -m benchmarks.run --render` to rewrite BENCHMARKS.md")
    data = json.loads((RESULTS_DIR / "quality.json").read_text(encoding="utf-8"))
    if sys.argv[1] == "--extend":
        data = extend(data)
    section = section_from(data)
    atomic_write_json(RESULTS_DIR / "quality.section.json", section.to_json())
    print(f"rebuilt {RESULTS_DIR / 'quality.section.json'}")
