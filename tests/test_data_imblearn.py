"""imbalance.data.ImblearnSampler against imbalanced-learn itself: the same resample as the sampler seeded with
seed + epoch, balanced counts and new synthetic points every epoch, model.fit over several epochs."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.under_sampling import NearMiss, RandomUnderSampler
from sklearn.preprocessing import StandardScaler

from imbalance.data import ImblearnSampler

COUNTS = (120, 30, 12)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), COUNTS)
    x = (rng.standard_normal((y.size, 4)) + 2.0 * y[:, None]).astype("float32")
    order = rng.permutation(y.size)
    return x[order], y[order]


def _epoch(ds):
    xs, ys = zip(*[(xb.numpy(), yb.numpy()) for xb, yb in ds])
    return np.concatenate(xs), np.concatenate(ys)


def _sorted_rows(x):
    return x[np.lexsort(x.T[::-1])]


def test_smote_every_epoch_is_balanced_with_new_synthetic_points_and_equals_imblearn_seeded_per_epoch():
    x, y = _data()
    sampler = ImblearnSampler(SMOTE(k_neighbors=3), x, y, batch_size=64, seed=5)
    ds = sampler.dataset()
    originals = {row.tobytes() for row in x}
    synthetic_sets = []
    for epoch in range(3):
        xe, ye = _epoch(ds)
        np.testing.assert_array_equal(np.bincount(ye), [120, 120, 120])
        np.testing.assert_array_equal(sampler.counts_, [120, 120, 120])
        assert sampler.epoch_ == epoch + 1
        rows = {row.tobytes() for row in xe}
        assert originals <= rows  # SMOTE keeps every original row
        synthetic_sets.append(rows - originals)
        assert len(synthetic_sets[-1]) == 2 * 120 - 30 - 12
        # the same points as imbalanced-learn's SMOTE with random_state = seed + epoch (up to the shuffle)
        x_ref, y_ref = SMOTE(k_neighbors=3, random_state=5 + epoch).fit_resample(x, y)
        np.testing.assert_allclose(_sorted_rows(xe), _sorted_rows(x_ref.astype("float32")), rtol=1e-6)
        np.testing.assert_array_equal(np.sort(ye), np.sort(y_ref))
    assert synthetic_sets[0] != synthetic_sets[1] and synthetic_sets[1] != synthetic_sets[2]
    assert not np.array_equal(_epoch(ImblearnSampler(SMOTE(k_neighbors=3), x, y, 64, seed=5).dataset())[0],
                              _epoch(ImblearnSampler(SMOTE(k_neighbors=3), x, y, 64, seed=6).dataset())[0])
    twin = ImblearnSampler(SMOTE(k_neighbors=3), x, y, batch_size=64, seed=5).dataset()
    np.testing.assert_array_equal(_epoch(twin)[0], _epoch(ImblearnSampler(SMOTE(k_neighbors=3), x, y, 64, 5)
                                                          .dataset())[0])


def test_smote_in_model_fit_redraws_every_epoch():
    x, y = _data()
    sampler = ImblearnSampler(SMOTE(k_neighbors=3), x, y, batch_size=50, seed=0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(sampler.dataset(), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert sampler.epoch_ == 3  # one resample per epoch: an iterator Keras opens but does not use costs nothing


@pytest.mark.parametrize(
    "make",
    [lambda: ADASYN(n_neighbors=3), lambda: BorderlineSMOTE(k_neighbors=3), RandomOverSampler,
     RandomUnderSampler, lambda: NearMiss(version=1)],
    ids=["ADASYN", "BorderlineSMOTE", "RandomOverSampler", "RandomUnderSampler", "NearMiss"],
)
def test_any_sampler_gives_the_counts_of_its_own_fit_resample(make):
    x, y = _data()
    sampler = ImblearnSampler(make(), x, y, batch_size=32, seed=2)
    _, ye = _epoch(sampler.dataset())
    reference = make()
    if "random_state" in reference.get_params():
        reference.set_params(random_state=2)
    _, y_ref = reference.fit_resample(x, y)
    np.testing.assert_array_equal(np.bincount(ye, minlength=3), np.bincount(y_ref, minlength=3))


def test_one_hot_labels_and_image_features_keep_their_format():
    x, y = _data()
    images = np.repeat(x[:, :, None, None], 2, axis=2)  # (n, 4, 2, 1)
    one_hot = np.eye(3, dtype="float32")[y]
    sampler = ImblearnSampler(RandomUnderSampler(), images, one_hot, batch_size=10, seed=0)
    ds = sampler.dataset()
    assert ds.element_spec[0].shape.as_list() == [None, 4, 2, 1]
    xe, ye = _epoch(ds)
    assert ye.dtype == np.float32 and ye.shape == (36, 3)
    np.testing.assert_array_equal(ye.sum(axis=0), [12, 12, 12])
    # every row is an original image with its own label
    lookup = {img.tobytes(): label for img, label in zip(images, one_hot)}
    for img, label in zip(xe, ye):
        np.testing.assert_array_equal(lookup[img.tobytes()], label)


def test_not_a_sampler_and_bad_inputs_raise_clear_errors():
    x, y = _data()
    with pytest.raises(TypeError, match=r"imbalanced-learn sampler: an object with a fit_resample.*StandardScaler"):
        ImblearnSampler(StandardScaler(), x, y, 32)
    with pytest.raises(TypeError, match=r"fit_resample.*Received an object of type object"):
        ImblearnSampler(object(), x, y, 32)
    with pytest.raises(TypeError, match=r"received the class SMOTE itself. Pass SMOTE\(\) instead"):
        ImblearnSampler(SMOTE, x, y, 32)
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer. Received: batch_size=0"):
        ImblearnSampler(SMOTE(), x, y, 0)
    with pytest.raises(ValueError, match=r"`x` has 10 rows but `y` has 162 rows"):
        ImblearnSampler(SMOTE(), x[:10], y, 32)
    with pytest.raises(ValueError, match=r"multi-label"):
        ImblearnSampler(SMOTE(), x[:3], [[1, 1], [0, 1], [1, 0]], 32)
    with pytest.raises(TypeError, match=r"one feature array"):
        ImblearnSampler(SMOTE(), {"a": x}, y, 32)
    with pytest.raises(ValueError, match=r"Received: seed=-2"):
        ImblearnSampler(SMOTE(), x, y, 32, seed=-2)
