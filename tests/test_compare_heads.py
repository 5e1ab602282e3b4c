"""``compare`` on models with several inputs or heads (issue 19 part 1): ``compare((x, {head: y}), output=head)``
applies the strategy to that head only, the other heads keep the user's losses, and the thresholds and the served
model decide on that head; ``(x, [y1, y2])`` and a dict of named inputs work too; misuse gets one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from imbalance.experiment import compare  # noqa: E402
from imbalance.experiment.data import prepare_data  # noqa: E402

RNG = np.random.default_rng(0)
N = 600
IMG = RNG.normal(size=(N, 6)).astype("float32")
AGE = RNG.normal(size=(N, 1)).astype("float32")
FRAUD = ((IMG[:, 0] + AGE[:, 0] + RNG.normal(size=N) * 0.3) > 1.6).astype(int)
AMOUNT = (IMG[:, 1] * 2).astype("float32")


def two_heads(shapes, outputs, seed, compiled=True):
    a, b = keras.Input(shapes["img"], name="img"), keras.Input(shapes["age"], name="age")
    h = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([a, b]))
    m = keras.Model({"img": a, "age": b}, {"fraud": keras.layers.Dense(outputs, name="fraud")(h),
                                           "amount": keras.layers.Dense(1, name="amount")(h)})
    if compiled:
        m.compile(optimizer=keras.optimizers.Adam(1e-2), loss={"amount": "mse"})
    return m


def test_a_two_head_model_is_compared_on_its_imbalanced_head_and_served_deciding_on_it(tmp_path):
    results = compare(({"img": IMG, "age": AGE}, {"fraud": FRAUD, "amount": AMOUNT}), output="fraud",
                      model=two_heads, strategies=["baseline", "oversample"], epochs=3, seeds=1,
                      folds=None, workers=1, progress=False)
    assert not results.failed and {r.strategy for r in results.runs} == {"baseline", "oversample"}
    assert results.config.output == "fraud" and results.data.task == "binary"
    results.save(tmp_path)
    served = keras.models.load_model(tmp_path / "best.keras")
    out = served({"img": IMG[:50], "age": AGE[:50]})
    scores, decisions = np.asarray(out["scores"]).reshape(-1), np.asarray(out["decisions"]).reshape(-1)
    threshold = json.loads((tmp_path / "thresholds.json").read_text())
    t = threshold.get("threshold", threshold.get("thresholds", [None]))
    t = float(t[0] if isinstance(t, list) else t)
    np.testing.assert_array_equal(decisions, (scores >= t).astype(int))  # decided on the fraud head


def test_the_strategy_sets_only_its_heads_loss_and_the_others_keep_the_users():
    from imbalance.data.sources import Rows
    from imbalance.experiment.training import Budget, train_model

    d = prepare_data(({"img": IMG, "age": AGE}, {"fraud": FRAUD, "amount": AMOUNT}), output="fraud")
    rows = Rows(d.x, np.arange(N))
    net, _ = train_model(d, "weighted_bce", rows, d.y, Budget(8, 64, 1e-2), model=two_heads)
    assert type(net.loss["fraud"]).__name__ == "WeightedBinaryCrossentropy" and net.loss["amount"] == "mse"
    assert isinstance(net.optimizer, keras.optimizers.Adam)
    assert float(net.optimizer.learning_rate) == pytest.approx(1e-2)
    pred = np.asarray(net({"img": IMG, "age": AGE})["amount"]).reshape(-1)
    assert np.mean((pred - AMOUNT) ** 2) < 0.5 * np.var(AMOUNT)  # the amount head learned under its own loss


def test_labels_as_a_list_of_heads_and_a_dict_of_inputs_with_one_head():
    def list_heads(shape, outputs, seed):
        x = keras.Input(shape)
        h = keras.layers.Dense(8, activation="relu")(x)
        m = keras.Model(x, [keras.layers.Dense(outputs, name="output_0")(h),
                            keras.layers.Dense(1, name="output_1")(h)])
        m.compile(optimizer="adam", loss={"output_1": "mse"})
        return m

    results = compare((IMG, [FRAUD, AMOUNT]), output="output_0", model=list_heads, strategies=["class_weight"],
                      epochs=1, seeds=1, folds=None, workers=1, progress=False)
    assert not results.failed

    def two_inputs(shapes, outputs, seed):
        a, b = keras.Input(shapes["img"], name="img"), keras.Input(shapes["age"], name="age")
        return keras.Model({"img": a, "age": b}, keras.layers.Dense(outputs)(keras.layers.Concatenate()([a, b])))

    results = compare(({"img": IMG, "age": AGE}, FRAUD), model=two_inputs, strategies=["baseline"], epochs=1,
                      seeds=1, folds=None, workers=1, progress=False)
    assert not results.failed


def test_misused_heads_get_one_clear_line():
    data = ({"img": IMG, "age": AGE}, {"fraud": FRAUD, "amount": AMOUNT})
    with pytest.raises(ValueError, match=r"name 2 heads \(fraud, amount\): pass output='<head>'"):
        compare(data, model=two_heads, epochs=1, seeds=1)
    with pytest.raises(ValueError, match=r"`output` 'fraudd' is not one of the heads of the labels: fraud, amount"):
        compare(data, output="fraudd", model=two_heads, epochs=1, seeds=1)
    with pytest.raises(ValueError, match=r"several inputs or outputs needs your own model factory"):
        compare(data, output="fraud", strategies=["baseline"], epochs=1, seeds=1)
    with pytest.raises(ValueError, match=r"has 2 outputs \(.*\): return it compiled with a loss for each head"):
        compare(data, output="fraud", model=lambda s, o, seed: two_heads(s, o, seed, compiled=False), epochs=1,
                seeds=1)
    with pytest.raises(ValueError, match=r"no output named 'fraud'; its outputs are \['logit'\]"):
        compare((IMG, {"fraud": FRAUD, "amount": AMOUNT}), output="fraud",
                model=lambda s, o, seed: keras.Sequential([keras.Input(s), keras.layers.Dense(o, name="logit")]),
                epochs=1, seeds=1)
    with pytest.raises(ValueError, match=r"Class ids must be whole numbers"):  # a regression head is no class
        compare((IMG, {"fraud": FRAUD, "amount": AMOUNT}), output="amount", model=two_heads, epochs=1, seeds=1)
