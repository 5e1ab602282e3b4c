"""Feature sources (issue 16): image folders, tables of image paths, your own pipeline — labels in memory, features
read per batch; the feeding of a model from them; and the one-line errors for bad folders and tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from imbalance.data.io import DataError  # noqa: E402
from imbalance.data.sources import ArraySource, PipelineSource, Rows, image_folder, image_table  # noqa: E402
from imbalance.experiment.feeding import draws_of, fit_dataset, predict_rows, shuffled  # noqa: E402


def _folder(root: Path, counts: dict[str, int], size=(12, 10), seed=0) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    pixels: dict[str, list[np.ndarray]] = {}
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        pixels[name] = []
        for k in range(n):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / name / f"{k:03d}.png")
            pixels[name].append(image)
    return pixels


def test_an_image_folder_reads_the_labels_and_the_pixels_keras_reads(tmp_path):
    pixels = _folder(tmp_path / "photos", {"benign": 5, "melanoma": 2})
    src = image_folder(tmp_path / "photos")
    assert src.class_names == ["benign", "melanoma"] and src.labels.tolist() == [0] * 5 + [1] * 2
    assert src.input_shape == (12, 10, 3)
    got = src.read(np.arange(7))
    expected = np.stack(pixels["benign"] + pixels["melanoma"]).astype(np.float32)
    np.testing.assert_array_equal(got, expected)  # lossless PNG: exactly the pixels, in [0, 255]
    import keras

    kx, ky = next(iter(keras.utils.image_dataset_from_directory(tmp_path / "photos", image_size=(12, 10),
                                                                shuffle=False, batch_size=7, verbose=False)))
    np.testing.assert_allclose(got, kx.numpy(), atol=1e-4)
    assert ky.numpy().tolist() == src.labels.tolist()


def test_resizing_matches_keras_bilinear_resize(tmp_path):
    _folder(tmp_path / "p", {"a": 2, "b": 1}, size=(20, 14))
    src = image_folder(tmp_path / "p", image_size=(8, 8), color_mode="grayscale")
    assert src.input_shape == (8, 8, 1)
    raw = tf.io.decode_png(tf.io.read_file(str(tmp_path / "p" / "a" / "001.png")), channels=1)
    np.testing.assert_allclose(src.read([1])[0], tf.image.resize(raw, (8, 8)).numpy(), atol=1e-5)


@pytest.mark.parametrize("case, pattern", [
    ("empty", r"Class folder .*empty holds no images"),
    ("not_image", r"notes\.txt is not an image"),
    ("broken", r"broken\.png cannot be read as an image"),
    ("mixed", r"differ in size .*pass image_size"),
    ("flat", r"has no class subfolders"),
])
def test_bad_image_folders_fail_in_one_line_naming_the_file(tmp_path, case, pattern):
    root = tmp_path / "photos"
    if case == "flat":
        root.mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "x.png")
    else:
        _folder(root, {"a": 2, "b": 2}, size=(6, 6))
    if case == "empty":
        (root / "empty").mkdir()
    elif case == "not_image":
        (root / "b" / "notes.txt").write_text("x")
    elif case == "broken":
        (root / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    elif case == "mixed":
        Image.fromarray(np.zeros((9, 6, 3), np.uint8)).save(root / "a" / "big.png")
    with pytest.raises(DataError, match=pattern) as info:
        image_folder(root)
    assert "\n" not in str(info.value)
    (root / ".DS_Store").write_text("hidden files are ignored") if case == "mixed" else None
    if case == "mixed":
        assert image_folder(root, image_size=(6, 6)).input_shape == (6, 6, 3)


def test_a_table_of_paths_names_the_missing_files_with_their_lines(tmp_path):
    _folder(tmp_path / "img", {"x": 3}, size=(5, 5))
    table = pd.DataFrame({"image_path": ["img/x/000.png", "img/x/001.png", "gone.png", "img/x/002.png", "nope.png"],
                          "label": ["ok", "bad", "ok", "ok", "bad"]})
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"2 of 5 files in column 'image_path' .* gone\.png \(line 4\), nope\.png "
                                        r"\(line 6\)"):
        image_table(tmp_path / "t.csv", "image_path", "label")
    good = table.drop(index=[2, 4])
    good.to_csv(tmp_path / "good.csv", index=False)
    src = image_table(tmp_path / "good.csv", "image_path", "label")
    assert src.class_names == ["bad", "ok"] and src.labels.tolist() == [1, 0, 1]
    with pytest.raises(DataError, match=r"no column 'path' .*\['image_path', 'label'\]"):
        image_table(tmp_path / "good.csv", "path", "label")


def test_a_pipeline_source_reads_the_rows_it_is_asked_for_in_that_order():
    x = np.random.default_rng(1).normal(size=(9, 3)).astype(np.float32)
    calls = []

    def features(rows):
        calls.append(rows.copy())
        return tf.data.Dataset.from_tensor_slices(x[rows])

    src = PipelineSource(np.arange(9) % 2, features)
    assert src.input_shape == (3,)
    rows = np.array([4, 4, 0, 8])
    got = list(src.rows_dataset(lambda epoch: rows, 1).as_numpy_iterator())
    assert [int(r) for r, _ in got] == rows.tolist()
    np.testing.assert_array_equal(np.stack([f for _, f in got]), x[rows])
    with pytest.raises(TypeError, match="must return a tf.data.Dataset"):
        PipelineSource([0, 1], lambda rows: x[rows])


def test_views_compose_like_array_slices():
    src = ArraySource(np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10) % 2)
    view = Rows(src, np.array([9, 7, 5, 3, 1]))
    assert view[np.array([4, 0])].indices.tolist() == [1, 9]
    assert view[1:3].indices.tolist() == [7, 5] and view.shape == (5, 2)


def test_each_epoch_trains_on_the_drawn_rows_with_their_own_labels_and_weights():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    src = ArraySource(x, np.arange(20) % 3)
    rows = Rows(src, np.arange(3, 19))  # 16 rows of the source
    targets = (rows.indices % 3).astype(np.int64)
    weights = rows.indices.astype(np.float32) / 10
    ds, steps = fit_dataset(rows, targets, shuffled(16, seed=3), epochs=3, batch_size=5, weights=weights)
    assert steps == 3  # 16 rows -> 3 whole batches of 5 per epoch
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 9
    seen = []
    for xb, yb, wb in batches:
        row = (xb[:, 0] / 2).astype(int)  # x = [2 r, 2 r + 1]
        np.testing.assert_array_equal(yb, row % 3)
        np.testing.assert_allclose(wb, row / 10)
        seen.append(row)
    epochs = [np.concatenate(seen[3 * e: 3 * e + 3]) for e in range(3)]
    for e in epochs:
        assert len(set(e.tolist())) == 15 and set(e.tolist()) <= set(rows.indices.tolist())
    assert epochs[0].tolist() != epochs[1].tolist()  # a new order each epoch


def test_a_sampler_draw_is_fed_row_for_row():
    from imbalance.data import balanced_dataset

    y = np.array([0] * 12 + [1] * 3)
    src = ArraySource(np.arange(15, dtype=np.float32)[:, None], y)
    rows = Rows(src, np.arange(15))
    index_ds = balanced_dataset(np.arange(15, dtype=np.int64), y, batch_size=4, method="oversample", seed=0,
                                epoch_size=24)
    ds, steps = fit_dataset(rows, y, draws_of(index_ds), epochs=2, batch_size=4)
    labels = np.concatenate([yb for _, yb in ds.as_numpy_iterator()])
    assert steps == 6 and len(labels) == 48
    assert np.bincount(labels[:24]).tolist() == [12, 12]  # balanced, as the sampler drew


def test_predictions_come_back_in_the_views_order_even_from_an_unordered_source():
    class Shuffling(ArraySource):
        ordered = False

        def rows_dataset(self, draw, epochs=1, transform=None):
            return super().rows_dataset(lambda e: np.random.default_rng(e).permutation(draw(e)), epochs)

    import keras

    x = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    rows = Rows(Shuffling(x, np.zeros(30)), np.array([29, 3, 17, 0, 8]))
    np.testing.assert_allclose(predict_rows(net, rows, batch_size=2), net(x[rows.indices]).numpy(), atol=1e-5)


def test_augmentation_changes_the_chosen_classes_rows_only():
    y = np.array([0, 1] * 6)
    x = np.ones((12, 4, 4, 1), np.float32)
    rows = Rows(ArraySource(x, y), np.arange(12))
    ds, _ = fit_dataset(rows, y, shuffled(12, 0), epochs=1, batch_size=4, augment=lambda b: b * 0.0,
                        augment_classes=(1,), num_classes=2)
    for xb, yb in ds.as_numpy_iterator():
        np.testing.assert_array_equal(xb.reshape(len(xb), -1).max(axis=1), (yb == 0).astype(np.float32))


def test_every_row_in_the_sources_own_order_runs_on_across_epochs():
    """draw=None (a source that shuffles as it reads): each epoch is every row once, in the source's order; the
    partial batch left at an epoch's end is completed by the next epoch's rows; labels still follow the rows."""
    class Shuffling(ArraySource):
        ordered = False

        def rows_dataset(self, draw, epochs=1, transform=None):
            return super().rows_dataset(lambda e: np.random.default_rng(e).permutation(draw(e)), epochs)

    y = np.array([0] * 7 + [1] * 3)
    rows = Rows(Shuffling(np.arange(10, dtype=np.float32)[:, None] * 10, y), np.arange(10))
    ds, steps = fit_dataset(rows, y, None, epochs=3, batch_size=4)
    batches = list(ds.as_numpy_iterator())
    assert steps == 2 and len(batches) == 8  # 30 rows in batches of 4 (the last of 2); Keras reads 2 x 3 of them
    seen = np.concatenate([x[:, 0] for x, _ in batches]) / 10
    assert sorted(seen[:10].astype(int).tolist()) == list(range(10))  # the first epoch: every row once
    assert all(np.array_equal(yb, y[(x[:, 0] / 10).astype(int)]) for x, yb in batches)
    with pytest.raises(ValueError, match="ordered = False"):
        fit_dataset(Rows(ArraySource(np.zeros((4, 1), np.float32), [0, 0, 1, 1]), np.arange(4)), y[:4], None, 1, 2)


def test_a_draw_in_file_order_is_cut_at_random_rows_not_the_files_last_ones():
    from imbalance.experiment.feeding import _sized

    draw = _sized(lambda epoch: np.arange(103, dtype=np.int32), 100, seed=0)
    kept = [draw(e) for e in range(4)]
    assert all(len(k) == 100 and np.all(np.diff(k) > 0) for k in kept)  # cut to size, still in order
    dropped = [set(range(103)) - set(k.tolist()) for k in kept]
    assert len({frozenset(d) for d in dropped}) > 1 and any(max(d) < 100 for d in dropped)
    assert _sized(lambda epoch: np.arange(103), 100)(0).tolist() == list(range(100))  # no seed: the tail is cut


def test_many_zero_one_targets_are_held_compactly_and_come_back_as_the_same_floats():
    from imbalance.experiment.feeding import _lookup

    rng = np.random.default_rng(0)
    big = (rng.random((70_000, 1)) < 0.1).astype(np.float32)
    soft = np.full((70_000, 1), 0.25, np.float32)  # not 0/1: held as they are
    lookup = _lookup({"a": big, "b": soft})
    pos = tf.constant([5, 0, 69_999, 123])
    got = lookup(pos)
    assert got["a"].dtype == tf.float32 and got["b"].dtype == tf.float32
    np.testing.assert_array_equal(got["a"].numpy(), big[[5, 0, 69_999, 123]])
    np.testing.assert_array_equal(got["b"].numpy(), soft[[5, 0, 69_999, 123]])
