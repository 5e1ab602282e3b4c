"""Class weights per head of a model with several named outputs (issue 19 part 1): `sample_weights` with a dict of
labels and a dict of class weights gives `fit(sample_weight={...})`, and the weights, the losses and the metrics of
each head reach Keras — checked against numpy references of the weighted losses and scikit-learn."""

import keras
import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score
from sklearn.utils.class_weight import compute_class_weight

from imbalance.heads import check_heads, per_head
from imbalance.losses import SparseCategoricalFocalLoss, WeightedBinaryCrossentropy
from imbalance.metrics import FBetaScore, Precision, Recall
from imbalance.weighting import class_weights, sample_weights


@pytest.fixture
def labels(rng):
    return {"main": rng.choice(3, size=60, p=[0.8, 0.15, 0.05]), "aux": (rng.random(60) < 0.2).astype(int)}


# --- the dict of weights -------------------------------------------------------------------------------------


def test_every_head_gets_the_weights_of_its_own_labels(labels):
    weights = {"main": {0: 1.0, 1: 4.0, 2: 9.0}, "aux": [1.0, 5.0]}
    got = sample_weights(labels, weights)
    assert list(got) == ["main", "aux"]
    np.testing.assert_array_equal(got["main"], np.array([1.0, 4.0, 9.0], np.float32)[labels["main"]])
    np.testing.assert_array_equal(got["aux"], np.array([1.0, 5.0], np.float32)[labels["aux"]])


def test_a_method_name_applies_to_every_head_and_matches_sklearn(labels):
    got = sample_weights(labels, "balanced")
    for head, y in labels.items():
        reference = compute_class_weight("balanced", classes=np.unique(y), y=y)
        np.testing.assert_allclose(got[head], reference[y], rtol=1e-6)
    per_head_methods = sample_weights(labels, {"main": "sqrt", "aux": "balanced"})
    np.testing.assert_allclose(per_head_methods["main"], sample_weights(labels["main"], "sqrt"))


def test_a_head_without_class_weights_gets_ones_of_its_weights_shape(labels):
    masks = np.zeros((60, 4, 5), dtype=int)
    got = sample_weights({**labels, "seg": masks}, {"main": "balanced", "aux": None})
    np.testing.assert_array_equal(got["aux"], np.ones(60, np.float32))
    assert got["seg"].shape == (60, 4, 5) and np.all(got["seg"] == 1.0)
    assert got["main"].shape == (60,) and not np.all(got["main"] == 1.0)
    np.testing.assert_array_equal(sample_weights(labels, None)["main"], np.ones(60, np.float32))


def test_the_options_reach_every_head():
    multi_hot = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]])
    got = sample_weights({"tags": multi_hot, "kind": [0, 1, 1]}, {"tags": [1.0, 3.0, 2.0]},
                         multilabel_reduce="max", empty_row_weight=0.5)
    np.testing.assert_array_equal(got["tags"], sample_weights(multi_hot, [1.0, 3.0, 2.0], "max", 0.5))
    assert got["tags"].tolist() == [3.0, 0.5, 3.0]


def test_a_class_weight_for_a_head_that_does_not_exist_names_it(labels):
    with pytest.raises(ValueError, match=r"names head 'mian'.*heads: 'main', 'aux'.*Received: class_weight="):
        sample_weights(labels, {"mian": "balanced"})
    with pytest.raises(ValueError, match=r"integer keys: class weights of one head\?"):
        sample_weights(labels, {0: 1.0, 1: 3.0})


def test_heads_of_different_lengths_are_refused_naming_the_head(labels):
    short = {**labels, "aux": labels["aux"][:50]}
    with pytest.raises(ValueError, match=r"Head 'aux' has 50 rows of labels but head 'main' has 60"):
        sample_weights(short, "balanced")


def test_a_head_whose_weights_are_wrong_is_named(labels):
    with pytest.raises(ValueError, match=r"^Head 'main': Class 2 is present in `y` but has no weight"):
        sample_weights(labels, {"main": {0: 1.0, 1: 2.0}})
    with pytest.raises(ValueError, match=r"must be a dict \{head: class_weight\} or one method name"):
        sample_weights(labels, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"non-empty dict"):
        check_heads({}, None)


def test_per_head_applies_any_function_and_keeps_the_label_order():
    seen = []
    out = per_head({"b": [0, 1], "a": [1, 1]}, {"a": 2.0, "b": 3.0},
                   lambda y, s: seen.append(s) or np.full(len(y), s, np.float32))
    assert list(out) == ["b", "a"] and seen == [3.0, 2.0]
    assert out["a"].tolist() == [2.0, 2.0]


# --- through a real two-head Keras model ---------------------------------------------------------------------


def _two_head_model():
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    main = keras.layers.Dense(3, name="main")(hidden)   # 3 class logits
    aux = keras.layers.Dense(1, name="aux")(hidden)     # one sigmoid logit
    return keras.Model(inputs, {"main": main, "aux": aux})


def _focal(y, logits, gamma):
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    log_p_t = log_p[np.arange(len(y)), y]
    return -((1.0 - np.exp(log_p_t)) ** gamma) * log_p_t


def _weighted_bce(y, logits, pos_weight):
    z = logits[:, 0].astype(np.float64)
    log_sig, log_sig_neg = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    return -(pos_weight * y * log_sig + (1 - y) * log_sig_neg)


def test_dict_weights_reach_each_head_loss_and_the_metrics_per_head_agree_with_sklearn(labels, rng):
    x = rng.normal(size=(60, 6)).astype("float32")
    weights = sample_weights(labels, {"main": class_weights(labels["main"]), "aux": {0: 1.0, 1: 3.0}})
    model = _two_head_model()
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss={"main": SparseCategoricalFocalLoss(gamma=2.0, from_logits=True),
              "aux": WeightedBinaryCrossentropy(pos_weight=2.0, from_logits=True)},
        metrics={"main": [Recall(class_id=2, from_logits=True, name="recall_2"),
                          FBetaScore(average="macro", from_logits=True, name="f1")],
                 "aux": [Precision(from_logits=True, name="precision")]},
    )
    before = model.predict(x, verbose=0)
    history = model.fit(x, labels, sample_weight=weights, batch_size=60, epochs=2, shuffle=False, verbose=0).history

    # one batch per epoch: the first epoch's numbers are those of the initial weights
    main_ref = np.sum(weights["main"] * _focal(labels["main"], before["main"], 2.0)) / 60
    aux_ref = np.sum(weights["aux"] * _weighted_bce(labels["aux"], before["aux"], 2.0)) / 60
    np.testing.assert_allclose(history["main_loss"][0], main_ref, rtol=1e-4)
    np.testing.assert_allclose(history["aux_loss"][0], aux_ref, rtol=1e-4)
    np.testing.assert_allclose(history["loss"][0], main_ref + aux_ref, rtol=1e-4)
    # the weights matter: the unweighted loss of each head is clearly another number
    assert abs(np.mean(_focal(labels["main"], before["main"], 2.0)) - main_ref) > 1e-2 * main_ref

    predicted = before["main"].argmax(axis=1)
    assert history["main_recall_2"][0] == pytest.approx(
        recall_score(labels["main"], predicted, labels=[2], average="micro", zero_division=0), abs=1e-6)
    assert history["main_f1"][0] == pytest.approx(
        f1_score(labels["main"], predicted, labels=[0, 1, 2], average="macro", zero_division=0), abs=1e-6)
    assert history["aux_precision"][0] == pytest.approx(
        precision_score(labels["aux"], (before["aux"][:, 0] >= 0).astype(int), zero_division=0), abs=1e-6)
    assert history["loss"][1] < history["loss"][0]   # and it trains


def test_dict_weights_equal_keras_own_per_sample_weighting(labels, rng):
    """The same two-head model evaluated with the dict of weights and with each head's loss called on its own with
    `sample_weight=` (Keras' reduction `sum_over_batch_size`): the same numbers."""
    x = rng.normal(size=(60, 6)).astype("float32")
    weights = sample_weights(labels, {"main": "balanced"})
    losses = {"main": SparseCategoricalFocalLoss(gamma=1.0, from_logits=True),
              "aux": WeightedBinaryCrossentropy(pos_weight=4.0, from_logits=True)}
    model = _two_head_model()
    model.compile(optimizer="sgd", loss=losses)
    result = model.evaluate(x, labels, sample_weight=weights, batch_size=60, verbose=0, return_dict=True)
    outputs = model.predict(x, verbose=0)
    for head in ("main", "aux"):
        expected = float(losses[head](labels[head], outputs[head], sample_weight=weights[head]))
        assert result[f"{head}_loss"] == pytest.approx(expected, rel=1e-5)
