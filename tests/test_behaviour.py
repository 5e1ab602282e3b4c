"""Behaviour on the seed problems: the losses and weights push the model the way the user needs."""

import keras
import pytest
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import precision_score, recall_score
from sklearn.model_selection import train_test_split

from imbalance.datasets import multilabel30
from imbalance.losses import CostSensitiveCrossentropy, WeightedBinaryCrossentropy
from imbalance.weighting import pos_weights


def _mlp(inputs, outputs, hidden=32):
    return keras.Sequential(
        [keras.Input((inputs,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(outputs)]
    )


@pytest.mark.slow  # ~16 s on 2 cores: a model trained at each cost (make test-slow)
def test_raising_the_false_positive_cost_of_class_0_raises_its_precision_at_argmax():
    # Seed 000's setting: several overlapping classes, class 0 rare, the user wants precision on class 0.
    x, y = make_classification(
        n_samples=8000, n_features=10, n_informative=6, n_redundant=0, n_classes=4, n_clusters_per_class=1,
        weights=[0.1, 0.3, 0.3, 0.3], class_sep=0.8, random_state=0,
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, stratify=y, random_state=0)
    gains = []
    for seed in (0, 1, 2):  # several initialisations: the effect must not be one lucky seed
        results = {}
        for fp_cost in (0.0, 3.0):
            cost = np.zeros((4, 4))
            cost[1:, 0] = fp_cost  # predicting class 0 when the truth is another class
            keras.utils.set_random_seed(seed)
            model = _mlp(10, 4)
            loss = CostSensitiveCrossentropy(cost, from_logits=True, sparse=True)
            model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
            model.fit(x_train, y_train, epochs=8, batch_size=128, verbose=0)
            predicted = model.predict(x_test, verbose=0).argmax(axis=1)
            results[fp_cost] = (
                precision_score(y_test == 0, predicted == 0),
                recall_score(y_test == 0, predicted == 0),
            )
        (p_plain, r_plain), (p_cost, r_cost) = results[0.0], results[3.0]
        assert p_cost > p_plain, (seed, results)
        assert r_cost < r_plain, (seed, results)  # the price: fewer class-0 predictions
        gains.append(p_cost - p_plain)
    assert np.mean(gains) > 0.03, gains  # measured: +0.10, +0.08, +0.04


def test_pos_weights_from_the_data_lift_micro_recall_above_plain_bce_on_seed_002():
    data = multilabel30(n_samples=6000, seed=1)
    x_train, x_test, y_train, y_test = train_test_split(data.x, data.y, test_size=0.5, random_state=0)
    recall = {}
    for name, loss in {
        "bce": WeightedBinaryCrossentropy(1.0, from_logits=True),
        "pos_weights": WeightedBinaryCrossentropy(pos_weights(y_train), from_logits=True),
    }.items():
        keras.utils.set_random_seed(0)
        model = _mlp(30, 30, hidden=100)
        model.compile(optimizer="adam", loss=loss)
        model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
        predicted = model.predict(x_test, verbose=0) > 0.0
        recall[name] = recall_score(y_test, predicted, average="micro", zero_division=0)
    assert recall["pos_weights"] > recall["bce"] + 0.05, recall
