"""train_strategy(): one model, one strategy, trained as compare trains its runs."""

import keras
import numpy as np
import pytest
from sklearn.datasets import make_classification

from imbalance.experiment import build_mlp, train_strategy
from imbalance.experiment import Budget, prepare_data, train_model


@pytest.fixture(scope="module")
def data():
    x, y = make_classification(n_samples=800, n_features=6, n_informative=4, weights=[0.9], flip_y=0.02,
                               random_state=1)
    return x.astype(np.float32), y


def _weights(net):
    return [np.asarray(w) for w in net.get_weights()]


def test_same_seed_same_model_and_equal_to_compares_training(data):
    x, y = data
    a = train_strategy("class_weight", x, y, epochs=2, seed=5)
    b = train_strategy("class_weight", x, y, epochs=2, seed=5)
    d = prepare_data((x, y))
    c, _ = train_model(d, "class_weight", d.x, d.y, Budget(epochs=2, batch_size=64, learning_rate=3e-3), "mlp", 5)
    for wa, wb, wc in zip(_weights(a), _weights(b), _weights(c)):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_allclose(wa, wc, rtol=1e-6, atol=1e-7)
    other = train_strategy("class_weight", x, y, epochs=2, seed=6)
    assert not np.allclose(_weights(a)[0], _weights(other)[0])


def test_the_strategy_changes_training_class_weights_raise_minority_scores(data):
    x, y = data
    plain = train_strategy("baseline", x, y, epochs=3, seed=0)
    weighted = train_strategy("class_weight", x, y, epochs=3, seed=0)
    # 'balanced' weights make the 10 % class count as much as the rest: its predicted probability rises
    p_plain = keras.ops.convert_to_numpy(keras.ops.sigmoid(plain(x))).mean()
    p_weighted = keras.ops.convert_to_numpy(keras.ops.sigmoid(weighted(x))).mean()
    assert p_weighted > p_plain + 0.1, (p_plain, p_weighted)


def test_outputs_are_logits_one_per_class_and_the_factory_is_used():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.repeat(np.arange(3), [200, 80, 20])
    calls = []

    def factory(shape, outputs, seed):
        calls.append((tuple(shape), outputs, seed))
        return build_mlp(shape, outputs, seed)

    net = train_strategy("logit_adjusted", x, y, model=factory, epochs=1, seed=3)
    assert calls == [((4,), 3, 3)]
    z = np.asarray(net(x[:10]))
    assert z.shape == (10, 3)
    assert not np.allclose(z.sum(axis=1), 1.0)  # logits, not probabilities


def test_user_callbacks_run_each_epoch(data):
    x, y = data
    seen = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    train_strategy("baseline", x, y, epochs=3, callbacks=[Count()])
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(strategy="nope"), "nope"),
    (dict(strategy="logit_adjusted"), "does not apply to binary"),
    (dict(strategy="baseline", epochs=0), "epochs"),
    (dict(strategy="baseline", batch_size=0), "batch_size"),
    (dict(strategy="oversample@0.5"), r"compare candidate \(strategy 'oversample' decided at 0.5\)"),
])
def test_bad_arguments_are_refused_with_the_value(data, kwargs, message):
    x, y = data
    with pytest.raises((ValueError, KeyError), match=message):
        train_strategy(x=x, y=y, **kwargs)


def test_nan_features_name_the_row(data):
    x, y = data
    x = x.copy()
    x[17, 2] = np.nan
    with pytest.raises(ValueError, match="row 17, column 2: nan"):
        train_strategy("baseline", x, y, epochs=1)
