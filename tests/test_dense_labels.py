"""Dense labels (issue 19 part 2): segmentation masks `(N, H, W)` / `(N, H, W, K)` in counts, weights, weight maps
for `fit`, streamed counts, the streaming metrics per pixel (IoU included), repeat-factor sampling of images, and a
small synthetic segmentation task — each pinned to numpy / scikit-learn references on the flattened pixels."""

import keras
import numpy as np
import pytest
from backend_tools import tensorflow_importable
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    jaccard_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)
from sklearn.utils.class_weight import compute_class_weight

from imbalance.dense import flatten_mask, flatten_pixels, image_presence, pixel_grid
from imbalance.losses import SparseCategoricalFocalLoss
from imbalance.metrics import PRAUC, FBetaScore, IoU, MeanIoU, Precision, Recall
from imbalance.thresholds import ThresholdTuner
from imbalance.weighting import class_counts, class_weights, sample_weights

needs_tf = pytest.mark.skipif(not tensorflow_importable(), reason="tf.data needs TensorFlow")


def _masks(rng, n=6, h=5, w=7, p=(0.85, 0.1, 0.05)):
    return rng.choice(len(p), size=(n, h, w), p=p)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- counts and weights on masks -----------------------------------------------------------------------------


def test_counts_of_masks_are_per_pixel_in_every_format(rng):
    masks = _masks(rng)
    expected = np.bincount(masks.ravel(), minlength=3)
    assert class_counts(masks).tolist() == expected.tolist()
    assert class_counts(masks[..., None]).tolist() == expected.tolist()      # (N, H, W, 1) ids
    assert class_counts(np.eye(3)[masks]).tolist() == expected.tolist()      # (N, H, W, K) one-hot
    assert class_counts(masks, num_classes=5).tolist() == expected.tolist() + [0, 0]
    multi_hot = (rng.random((4, 3, 3, 4)) < 0.3).astype(int)
    assert class_counts(multi_hot).tolist() == multi_hot.reshape(-1, 4).sum(axis=0).tolist()


def test_class_weights_of_masks_are_those_of_the_pixels(rng):
    masks = _masks(rng)
    pixels = masks.ravel()
    reference = compute_class_weight("balanced", classes=np.arange(3), y=pixels)
    np.testing.assert_allclose(list(class_weights(masks).values()), reference)
    np.testing.assert_allclose(list(class_weights(np.eye(3)[masks]).values()), reference)
    for method in ("inverse", "sqrt", "effective_number"):
        assert class_weights(masks, method=method) == class_weights(pixels, method=method)


def test_sample_weights_of_a_mask_is_a_weight_map(rng):
    masks = _masks(rng)
    table = np.array([0.5, 2.0, 7.0])
    got = sample_weights(masks, table)
    assert got.shape == masks.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, table[masks].astype(np.float32))
    np.testing.assert_array_equal(sample_weights(np.eye(3)[masks], table), got)
    balanced = compute_class_weight("balanced", classes=np.arange(3), y=masks.ravel())
    np.testing.assert_allclose(sample_weights(masks, "balanced"), balanced[masks], rtol=1e-6)


def test_multi_hot_masks_combine_their_labels_per_pixel(rng):
    masks = (rng.random((3, 4, 4, 3)) < 0.4).astype(int)
    w = np.array([1.0, 3.0, 5.0])
    positives = masks.sum(axis=-1)
    mean = np.where(positives > 0, (masks * w).sum(axis=-1) / np.maximum(positives, 1), 0.25)
    biggest = np.where(positives > 0, np.where(masks > 0, w, -np.inf).max(axis=-1), 0.25)
    np.testing.assert_allclose(sample_weights(masks, w, empty_row_weight=0.25), mean, rtol=1e-6)
    np.testing.assert_allclose(sample_weights(masks, w, "max", 0.25), biggest, rtol=1e-6)


def test_bad_masks_name_the_image_and_pixel():
    masks = np.zeros((2, 3, 4), dtype=int)
    masks[1, 2, 3] = -1
    with pytest.raises(ValueError, match=r"must be >= 0; image 1, pixel \(2, 3\) holds -1"):
        class_counts(masks)
    masks[1, 2, 3] = 4
    with pytest.raises(ValueError, match=r"< num_classes=3; image 1, pixel \(2, 3\) holds 4"):
        class_counts(masks, num_classes=3)
    with pytest.raises(ValueError, match=r"whole numbers; image 0, pixel \(0, 1\) holds 0.5"):
        sample_weights(np.array([[[0.0, 0.5]]]), [1.0, 1.0])
    one_hot = np.eye(2)[np.zeros((1, 2, 2), int)]
    one_hot[0, 1, 0, 1] = 2
    with pytest.raises(ValueError, match=r"only 0 and 1; image 0, pixel \(1, 0\), class column 1 holds 2.0"):
        class_counts(one_hot)
    with pytest.raises(ValueError, match=r"2 class columns but num_classes=3"):
        class_weights(np.eye(2)[np.zeros((1, 2, 2), int)], num_classes=3)
    with pytest.raises(ValueError, match=r"Class 1 has no samples.*counts: \[4, 0, 0\]"):
        class_weights(np.zeros((1, 2, 2), int), num_classes=3)


def test_the_pixel_grid_and_the_presence_of_classes(rng):
    masks = _masks(rng, n=5)
    assert pixel_grid(masks) == pixel_grid(np.eye(3)[masks]) == masks.shape
    presence = image_presence(masks, num_classes=4)
    expected = np.stack([[np.any(m == c) for c in range(4)] for m in masks])
    np.testing.assert_array_equal(presence, expected)
    np.testing.assert_array_equal(image_presence(np.eye(4)[masks]), expected)
    rows, grid = flatten_mask(masks[..., None])
    assert grid == masks.shape and rows.tolist() == masks.ravel().tolist()


# --- a weight map through Keras ------------------------------------------------------------------------------


def _pixel_model(k=3):
    return keras.Sequential([keras.Input((6, 8, 2)), keras.layers.Conv2D(k, 1)])


def _pixel_cross_entropy(masks, logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_p, masks[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("make_loss, gamma", [
    (lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True), 0.0),
    (lambda: SparseCategoricalFocalLoss(gamma=2.0, from_logits=True), 2.0),
])
def test_keras_trains_with_a_weight_map_and_weighs_every_pixel(rng, make_loss, gamma):
    x = rng.normal(size=(10, 6, 8, 2)).astype("float32")
    masks = rng.choice(3, size=(10, 6, 8), p=[0.8, 0.15, 0.05])
    weights = sample_weights(masks, {0: 3.0, 1: 1.0, 2: 0.5})
    model = _pixel_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=make_loss())
    logits = model.predict(x, verbose=0)
    history = model.fit(x, masks, sample_weight=weights, batch_size=10, epochs=3, shuffle=False, verbose=0).history
    ce = _pixel_cross_entropy(masks, logits)
    p_t = np.exp(-ce)
    per_pixel = (1.0 - p_t) ** gamma * ce
    reference = np.sum(weights * per_pixel) / masks.size          # Keras' sum_over_batch_size: over every pixel
    np.testing.assert_allclose(history["loss"][0], reference, rtol=1e-4)
    assert abs(per_pixel.mean() - reference) > 0.2 * reference   # the weights changed the loss
    assert history["loss"][-1] < history["loss"][0]


# --- streamed counts of masks --------------------------------------------------------------------------------


@needs_tf
def test_class_counts_of_a_stream_of_masks(rng):
    import tensorflow as tf

    from imbalance.weighting import weight_dataset

    masks = _masks(rng, n=20, h=6, w=6).astype("int32")

    def batches():  # a generator: the stream is never held as one array
        for start in range(0, 20, 3):
            yield np.zeros((len(masks[start:start + 3]), 1), "float32"), masks[start:start + 3]

    spec = (tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 6, 6], tf.int32))
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    expected = np.bincount(masks.ravel(), minlength=4).tolist()
    assert class_counts(ds, num_classes=4).tolist() == expected
    one_hot = tf.data.Dataset.from_tensor_slices((np.zeros((20, 1)), np.eye(3)[masks])).batch(7)
    assert class_counts(one_hot, num_classes=3).tolist() == expected[:3]
    assert class_counts(one_hot.unbatch(), num_classes=3).tolist() == expected[:3]    # (H, W, K) elements
    with pytest.raises(ValueError, match=r"cannot tell masks of class ids from one-hot masks.*num_classes=K"):
        class_counts(ds)
    assert class_counts(ds, label_format="sparse").tolist() == expected[:3]
    weighted = weight_dataset(ds, [1.0, 4.0, 9.0])
    maps = np.concatenate([w.numpy() for _, _, w in weighted])
    np.testing.assert_array_equal(maps, np.array([1.0, 4.0, 9.0], np.float32)[masks])


# --- the streaming metrics on per-pixel outputs --------------------------------------------------------------


def _batches(rng, k=3, batches=3):
    out = []
    for _ in range(batches):
        masks = rng.choice(k, size=(4, 5, 6), p=[0.7, 0.2, 0.1])
        logits = rng.normal(size=(4, 5, 6, k)) + 1.5 * np.eye(k)[masks]
        out.append((masks, logits.astype("float32")))
    return out


def _stream(metric, batches, one_hot=False, weights=None):
    for i, (masks, logits) in enumerate(batches):
        labels = np.eye(logits.shape[-1])[masks] if one_hot else masks
        metric.update_state(labels, logits, None if weights is None else weights[i])
    result = metric.result()
    if isinstance(result, dict):
        return np.array([float(v) for v in result.values()])
    return float(result)


@pytest.mark.parametrize("one_hot", [False, True])
def test_confusion_metrics_on_masks_equal_sklearn_on_the_pixels(rng, one_hot):
    batches = _batches(rng)
    y = np.concatenate([m.ravel() for m, _ in batches])
    pred = np.concatenate([z.reshape(-1, 3) for _, z in batches]).argmax(axis=1)
    assert _stream(Precision(class_id=2, from_logits=True), batches, one_hot) == pytest.approx(
        precision_score(y == 2, pred == 2), abs=1e-6)
    assert _stream(Recall(class_id=2, from_logits=True), batches, one_hot) == pytest.approx(
        recall_score(y == 2, pred == 2), abs=1e-6)
    _, _, f1, _ = precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    np.testing.assert_allclose(_stream(FBetaScore(average=None, from_logits=True), batches, one_hot), f1, atol=1e-6)
    np.testing.assert_allclose(_stream(IoU(average=None, from_logits=True), batches, one_hot),
                               jaccard_score(y, pred, labels=[0, 1, 2], average=None), atol=1e-6)
    for average in ("macro", "micro", "weighted"):
        assert _stream(IoU(average=average, from_logits=True), batches, one_hot) == pytest.approx(
            jaccard_score(y, pred, labels=[0, 1, 2], average=average), abs=1e-6)
    assert _stream(IoU(class_id=2, from_logits=True), batches, one_hot) == pytest.approx(
        jaccard_score(y == 2, pred == 2), abs=1e-6)
    assert _stream(MeanIoU(from_logits=True), batches, one_hot) == pytest.approx(
        jaccard_score(y, pred, labels=[0, 1, 2], average="macro"), abs=1e-6)


def test_weight_maps_and_per_image_weights_weigh_the_pixels(rng):
    batches = _batches(rng)
    maps = [rng.uniform(0.1, 3.0, size=m.shape).astype("float32") for m, _ in batches]
    per_image = [rng.uniform(0.1, 3.0, size=m.shape[0]).astype("float32") for m, _ in batches]
    y = np.concatenate([m.ravel() for m, _ in batches])
    pred = np.concatenate([z.reshape(-1, 3) for _, z in batches]).argmax(axis=1)
    repeated = [np.broadcast_to(w[:, None, None], m.shape) for w, (m, _) in zip(per_image, batches)]
    for weights, flat in ((maps, maps), (per_image, repeated)):
        w = np.concatenate([v.ravel() for v in flat])
        assert _stream(FBetaScore(average="macro", from_logits=True), batches, weights=weights) == pytest.approx(
            f1_score(y, pred, average="macro", sample_weight=w), abs=1e-5)
        assert _stream(IoU(class_id=1, from_logits=True), batches, weights=weights) == pytest.approx(
            jaccard_score(y == 1, pred == 1, sample_weight=w), abs=1e-5)


def test_multi_hot_masks_are_scored_per_label(rng):
    masks = (rng.random((4, 5, 5, 3)) < 0.3).astype("float32")
    logits = (rng.normal(size=masks.shape) + 2.0 * masks - 1.0).astype("float32")
    y, decisions = masks.reshape(-1, 3), (logits.reshape(-1, 3) >= 0).astype(int)
    metric = Recall(average=None, from_logits=True, multi_label=True)
    metric.update_state(masks, logits)
    got = [float(v) for v in metric.result().values()]
    np.testing.assert_allclose(got, recall_score(y, decisions, average=None), atol=1e-6)
    iou = IoU(average="macro", from_logits=True)     # without multi_label: the values decide (multi-hot pixels)
    iou.update_state(masks, logits)
    assert float(iou.result()) == pytest.approx(jaccard_score(y, decisions, average="macro"), abs=1e-6)


def test_a_binary_segmentation_with_one_sigmoid_output(rng):
    masks = (rng.random((4, 6, 6)) < 0.1).astype(int)
    logits = (rng.normal(size=(4, 6, 6, 1)) + 2.0 * masks[..., None] - 1.0).astype("float32")
    decisions = (logits.ravel() >= 0).astype(int)
    for labels in (masks, masks[..., None]):
        metric = Recall(from_logits=True)
        metric.update_state(labels, logits)
        assert float(metric.result()) == pytest.approx(recall_score(masks.ravel(), decisions), abs=1e-6)


def test_pr_auc_of_the_rare_class_from_pixel_histograms(rng):
    batches = _batches(rng)
    y = np.concatenate([m.ravel() for m, _ in batches]) == 2
    probs = np.concatenate([_softmax(z.astype(np.float64)).reshape(-1, 3) for _, z in batches])[:, 2]
    num = 201
    metric = PRAUC(class_id=2, from_logits=True, num_thresholds=num)
    got = _stream(metric, batches)
    assert got == pytest.approx(average_precision_score(y, probs), abs=1.0 / num)   # the documented tolerance
    # exact on scores at the bucket edges
    edges = [(m, (rng.integers(0, num, size=z.shape) / (num - 1)).astype("float32")) for m, z in batches]
    exact = PRAUC(class_id=2, num_thresholds=num)
    rounded = np.concatenate([p.reshape(-1, 3) for _, p in edges])[:, 2]
    assert _stream(exact, edges) == pytest.approx(average_precision_score(y, rounded), abs=1e-5)


def test_per_pixel_labels_that_do_not_fit_the_output_are_refused():
    with pytest.raises(ValueError, match=r"do not match per-pixel outputs of shape \(2, 3, 3, 4\)"):
        flatten_pixels(np.zeros((2, 3)), np.zeros((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"need one column per output column \(4\)"):
        flatten_pixels(np.zeros((2, 3, 3, 2)), np.zeros((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"must have shape \(2, 3, 3\) \(one weight per pixel\)"):
        flatten_pixels(np.zeros((2, 3, 3)), np.zeros((2, 3, 3, 4)), np.ones((2, 3, 3, 2, 2)))


# --- repeat-factor sampling ----------------------------------------------------------------------------------


def _lvis_reference(masks, t, k):
    presence = np.array([[np.any(m == c) for c in range(k)] for m in masks])
    f = presence.mean(axis=0)
    r_c = np.array([max(1.0, np.sqrt(t / fc)) if fc > 0 else 1.0 for fc in f])
    return np.array([max([r_c[c] for c in range(k) if presence[i, c]], default=1.0) for i in range(len(masks))])


def test_repeat_factors_follow_the_lvis_formula(rng):
    from imbalance.data.repeat_factor import class_repeat_factors, repeat_factors

    masks = np.zeros((40, 6, 6), dtype=int)
    for i in range(40):
        masks[i][rng.random((6, 6)) < 0.3] = 1
        if rng.random() < 0.1:
            masks[i, 0, 0] = 2
        if i == 7:
            masks[i, 1, 1] = 3
    for t in (0.05, 0.3, 1.0):
        np.testing.assert_allclose(repeat_factors(masks, threshold=t, num_classes=5),
                                   _lvis_reference(masks, t, 5), rtol=1e-12)
    np.testing.assert_allclose(repeat_factors(np.eye(5)[masks], threshold=0.3), _lvis_reference(masks, 0.3, 5))
    assert class_repeat_factors(masks, 0.3, num_classes=5)[4] == 1.0   # a class in no image
    tags = (rng.random((30, 4)) < [0.5, 0.2, 0.05, 0.8]).astype(int)   # image tags: their own presence matrix
    f = tags.mean(axis=0)
    r_c = np.maximum(1.0, np.sqrt(0.5 / f))
    np.testing.assert_allclose(repeat_factors(tags, 0.5), np.max(np.where(tags > 0, r_c, 1.0), axis=1))
    with pytest.raises(ValueError, match=r"`threshold` must be > 0.0. Received: threshold=0"):
        repeat_factors(masks, threshold=0)


@needs_tf
def test_the_sampler_draws_every_image_its_repeat_factor_in_expectation():
    from imbalance.data import repeat_factor_sampler

    factors = np.array([1.0, 1.3, 2.5, 4.0, 0.2, 1.75, 3.1])
    epochs = 3000
    sampler = repeat_factor_sampler(factors, seed=7)
    per_epoch = [np.bincount(np.array(list(sampler.as_numpy_iterator())), minlength=7) for _ in range(3)]
    for counts in per_epoch:   # stochastic rounding: floor(r) or floor(r) + 1 draws in every epoch
        assert np.all((counts == np.floor(factors)) | (counts == np.floor(factors) + 1))
    assert any(not np.array_equal(per_epoch[0], c) for c in per_epoch[1:])   # a fresh draw every epoch
    draws = np.concatenate(list(sampler.repeat(epochs).batch(50000).as_numpy_iterator()))
    mean = np.bincount(draws, minlength=7) / epochs
    # Bernoulli parts: std of the mean <= 0.5 / sqrt(3000) = 0.009; 0.04 is 4.4 standard deviations (fixed seed)
    np.testing.assert_allclose(mean, factors, atol=0.04)
    first, again = (np.array(list(repeat_factor_sampler(factors, seed=7).repeat(5).as_numpy_iterator()))
                    for _ in range(2))
    np.testing.assert_array_equal(again, first)     # the same seed, the same sequence of epochs
    other = np.array(list(repeat_factor_sampler(factors, seed=8).repeat(5).as_numpy_iterator()))
    assert other.shape != first.shape or not np.array_equal(other, first)
    ordered = np.array(list(repeat_factor_sampler([2.0, 1.0, 3.0], shuffle=False).as_numpy_iterator()))
    assert ordered.tolist() == [0, 0, 1, 2, 2, 2]
    with pytest.raises(ValueError, match=r"finite and >= 0; image 1 has -1.0"):
        repeat_factor_sampler([1.0, -1.0])


@needs_tf
def test_repeat_factor_dataset_gathers_the_drawn_images(rng):
    from imbalance.data import repeat_factor_dataset

    masks = np.zeros((12, 4, 4), dtype=int)
    masks[3, :2, :2] = 1
    x = np.arange(12, dtype="float32")[:, None] * np.ones((1, 5), "float32")
    ds = repeat_factor_dataset(x, masks, batch_size=5, threshold=0.5, seed=0)
    assert ds.repeat_factors[3] == pytest.approx(np.sqrt(0.5 * 12)) and np.all(np.delete(ds.repeat_factors, 3) == 1)
    rows, labels = zip(*[(xb.numpy(), yb.numpy()) for xb, yb in ds])
    rows, labels = np.concatenate(rows), np.concatenate(labels)
    index = rows[:, 0].astype(int)
    np.testing.assert_array_equal(labels, masks[index])      # every mask travels with its image
    assert np.sum(index == 3) in (2, 3) and np.all(np.bincount(index, minlength=12)[np.arange(12) != 3] == 1)


# --- a small synthetic segmentation task ---------------------------------------------------------------------


def _squares(n, rng, signal=1.5, size=32, side=4):
    """Noise images with one small bright square of the rare class 1 (~1.6 % of the pixels)."""
    x = rng.normal(size=(n, size, size, 1)).astype("float32")
    masks = np.zeros((n, size, size), dtype="int32")
    for i in range(n):
        r, c = rng.integers(0, size - side, size=2)
        masks[i, r:r + side, c:c + side] = 1
    x[..., 0] += signal * masks
    return x, masks


def _segmenter():
    return keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                             keras.layers.Conv2D(2, 1)])


def test_a_weight_map_raises_rare_pixel_recall_and_the_tuned_threshold_keeps_its_promise():
    rng = np.random.default_rng(3)
    x, masks = _squares(48, rng)
    x_val, masks_val = _squares(16, rng)
    recall, models = {}, {}
    for weighted in (False, True):
        keras.utils.set_random_seed(3)
        model = _segmenter()
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[Recall(class_id=1, from_logits=True, name="recall_1"),
                               IoU(class_id=1, from_logits=True, name="iou_1")])
        model.fit(x, masks, sample_weight=sample_weights(masks, "balanced") if weighted else None,
                  batch_size=16, epochs=6, verbose=0)
        logits = model.predict(x_val, verbose=0)
        predicted = logits.argmax(axis=-1).ravel()
        recall[weighted] = recall_score(masks_val.ravel(), predicted, zero_division=0)
        logged = model.evaluate(x_val, masks_val, batch_size=16, verbose=0, return_dict=True)  # compiled metrics
        assert logged["recall_1"] == pytest.approx(recall[weighted], abs=1e-6)
        assert logged["iou_1"] == pytest.approx(jaccard_score(masks_val.ravel() == 1, predicted == 1), abs=1e-6)
        models[weighted] = logits
    assert recall[True] > 0.5 and recall[True] > recall[False] + 0.3

    # the rare-class threshold on the flattened tuning pixels (the weighted model's scores)
    scores = _softmax(models[True].astype(np.float64)).reshape(-1, 2)[:, 1]
    y = masks_val.ravel()
    tuner = ThresholdTuner("recall@precision>=0.9", confidence=None).fit(y, scores)
    candidates = np.unique(scores)
    best_recall, best_t = -1.0, None
    for chunk in np.array_split(candidates, max(1, len(candidates) // 256)):   # brute force: every distinct score
        decided = scores[None, :] >= chunk[:, None]
        tp = (decided & (y == 1)).sum(axis=1)
        precision = tp / np.maximum(decided.sum(axis=1), 1)
        for t, p, r in zip(chunk, precision, tp / y.sum()):
            if p >= 0.9 and (r > best_recall or (r == best_recall and t > best_t)):
                best_recall, best_t = r, t
    assert tuner.best_score_ == pytest.approx(best_recall, abs=1e-12)
    assert tuner.score_thresholds_[0] == pytest.approx(best_t, rel=1e-9)
    decided = tuner.predict(scores)
    assert precision_score(y, decided) >= 0.9 and recall_score(y, decided) == pytest.approx(best_recall)
    cautious = ThresholdTuner("recall@precision>=0.9", confidence=0.9).fit(y, scores)
    assert cautious.achieved_["precision_lower"] >= 0.9 and cautious.achieved_["precision"] >= 0.9
    assert cautious.best_score_ <= tuner.best_score_
