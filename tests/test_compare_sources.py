"""``compare`` on the user's real data (issue 16): an image folder end to end through the CLI (report and a
``best.keras`` that takes images), your own pipeline, the user's compiled model, callbacks, early stopping, a
pretrained-architecture backbone, and the refusals that name what applies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from imbalance.cli import app  # noqa: E402
from imbalance.data.sources import PipelineSource, image_folder  # noqa: E402
from imbalance.experiment import compare, train_strategy  # noqa: E402


def _photos(root: Path, rare: int = 16, common: int = 48, size: int = 12) -> Path:
    """A learnable folder: the rare class has a bright square in the middle."""
    rng = np.random.default_rng(0)
    for name, n in (("melanoma", rare), ("benign", common)):
        (root / name).mkdir(parents=True)
        for k in range(n):
            image = rng.integers(0, 80, (size, size, 3)).astype(np.uint8)
            if name == "melanoma":
                image[3:9, 3:9] += 170
            Image.fromarray(image).save(root / name / f"{k}.png")
    return root


def test_the_cli_compares_an_image_folder_and_serves_a_model_that_takes_images(tmp_path):
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "compare", str(photos), "--objective", "recall@precision>=0.9", "--class-id", "melanoma",
        "--image-size", "12,12", "--strategies", "baseline,oversample", "--epochs", "3", "--seeds", "1",
        "--workers", "1", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists() and (out / "best.keras").exists()
    assert "Example images per class" in (out / "report.html").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "binary" and "melanoma" in result.output
    served = keras.models.load_model(out / "best.keras")
    images = image_folder(photos).read(np.arange(64))
    out_model = served(images)
    scores = np.asarray(out_model["scores"]).reshape(-1)
    assert scores.shape == (64,) and np.all((0 <= scores) & (scores <= 1))
    threshold = json.loads((out / "thresholds.json").read_text())
    assert "threshold" in json.dumps(threshold)


def test_the_cli_refuses_bad_image_arguments_in_one_line(tmp_path):
    photos = _photos(tmp_path / "photos", rare=4, common=8)
    runner = CliRunner()
    unknown = runner.invoke(app, ["compare", str(photos), "--class-id", "nevus", "--objective",
                                  "recall@precision>=0.9", "--out", str(tmp_path / "o")])
    assert unknown.exit_code == 2
    assert "Class 'nevus' is not one of the data's classes: 0 'benign', 1 'melanoma'" in unknown.output
    smote = runner.invoke(app, ["compare", str(photos), "--strategies", "smote", "--out", str(tmp_path / "o")])
    assert smote.exit_code == 2 and "needs every training row's features in memory" in smote.output
    assert "oversample" in smote.output
    (photos / "benign" / "readme.md").write_text("x")
    bad = runner.invoke(app, ["inspect", str(photos)])
    assert bad.exit_code == 2 and "readme.md is not an image" in bad.output
    assert not (tmp_path / "o").exists()  # nothing written before the data is accepted


def test_inspect_counts_an_image_folder_from_its_labels(tmp_path):
    photos = _photos(tmp_path / "photos", rare=3, common=9)
    result = CliRunner().invoke(app, ["inspect", str(photos)])
    assert result.exit_code == 0, result.output
    assert "benign" in result.output and "melanoma" in result.output and "all 12x12" in result.output
    assert "Imbalance ratio (largest / smallest class): 3.0" in result.output


def test_your_own_pipeline_is_compared_and_its_rows_are_read_per_run():
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.15).astype(int)
    x = (rng.normal(size=(400, 5)) + 1.5 * y[:, None]).astype(np.float32)
    asked = []

    def features(rows):
        asked.append(len(rows))
        return tf.data.Dataset.from_tensor_slices(x[rows])

    results = compare(PipelineSource(y, features), strategies=["baseline", "class_weight"], epochs=2, seeds=1,
                      folds=None, workers=1, progress=False)
    assert not results.failed and {r.strategy for r in results.runs} == {"baseline", "class_weight"}
    assert max(asked) < 400  # never the whole table at once: a run's rows, an epoch at a time
    assert all(r.train_rows + r.test_rows == 400 for r in results.runs)


def test_a_compiled_model_keeps_its_optimizer_and_metrics_and_callbacks_run():
    data_x = np.random.default_rng(0).normal(size=(120, 3)).astype(np.float32)
    data_y = (data_x[:, 0] > 0.8).astype(int)

    def model_fn(shape, outputs, seed):
        m = keras.Sequential([keras.Input(shape), keras.layers.Dense(outputs)])
        m.compile(optimizer=keras.optimizers.SGD(0.0123, momentum=0.5), loss="mse",
                  metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)])
        return m

    class Count(keras.callbacks.Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            Count.epochs += 1
            assert "binary_accuracy" in logs  # the user's metric is still compiled

    net = train_strategy("weighted_bce", data_x, data_y, model=model_fn, epochs=3, callbacks=[Count()])
    assert isinstance(net.optimizer, keras.optimizers.SGD)
    assert float(net.optimizer.learning_rate) == pytest.approx(0.0123) and net.optimizer.momentum == 0.5
    assert type(net.loss).__name__ == "WeightedBinaryCrossentropy"  # only the loss is the strategy's
    assert Count.epochs == 3


def test_early_stopping_stops_when_the_validation_loss_rises_and_keeps_the_best_weights():
    from imbalance.experiment.data import from_arrays
    from imbalance.experiment.training import Budget, train_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    d = from_arrays("toy", x, y)
    epochs = []
    best = {}

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(logs["val_loss"])
            if logs["val_loss"] <= min(epochs):
                best["weights"] = [w.copy() for w in self.model.get_weights()]

    # The validation rows carry the opposite labels: the better the model learns, the higher their loss.
    net, _ = train_model(d, "baseline", x[:150], y[:150], Budget(40, 32, 1e-2, patience=2), seed=0,
                         callbacks=[Watch()], validation=(x[150:], 1 - y[150:]))
    assert 3 <= len(epochs) < 40
    for got, want in zip(net.get_weights(), best["weights"]):
        np.testing.assert_allclose(got, want)


@pytest.mark.slow  # ~90 s on 2 cores: every unit trains MobileNetV3 models
def test_a_keras_applications_backbone_without_downloads_trains_on_an_image_folder(tmp_path):
    photos = _photos(tmp_path / "photos", rare=6, common=18, size=32)

    def backbone(shape, outputs, seed):
        base = keras.applications.MobileNetV3Small(input_shape=shape, weights=None, include_top=False,
                                                   include_preprocessing=True, minimalistic=True)
        inputs = keras.Input(shape)
        h = keras.layers.GlobalAveragePooling2D()(base(inputs))
        return keras.Model(inputs, keras.layers.Dense(outputs)(h))

    results = compare(str(photos), strategies=["class_weight"], epochs=1, seeds=1, folds=None, workers=1,
                      progress=False, model=backbone)
    assert not results.failed and results.runs[0].strategy == "class_weight"


def test_the_cli_streams_a_table_it_does_not_load_and_refuses_smote_on_it(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(5)
    n = 600
    y = (rng.random(n) < 0.2).astype(int)
    table = pd.DataFrame({"amount": rng.normal(size=n) + 2 * y, "shop": rng.choice(["app", "web"], n),
                          "age": rng.normal(size=n), "is_fraud": y})
    table.to_parquet(tmp_path / "t.parquet")
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["compare", str(tmp_path / "t.parquet"), "--target", "is_fraud", "--stream",
                                 "--strategies", "baseline,oversample", "--epochs", "2", "--seeds", "1",
                                 "--workers", "1", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert {r["strategy"] for r in runs} == {"baseline", "oversample"} and all(r.get("error") is None for r in runs)
    smote = runner.invoke(app, ["compare", str(tmp_path / "t.parquet"), "--target", "is_fraud", "--stream",
                                "--strategies", "smote", "--out", str(tmp_path / "o2")])
    assert smote.exit_code == 2 and "features in memory" in smote.output
    inspected = runner.invoke(app, ["inspect", str(tmp_path / "t.parquet"), "--target", "is_fraud", "--stream"])
    assert inspected.exit_code == 0, inspected.output
    assert f"{int(y.sum())}" in inspected.output and "kind: table" in inspected.output


def test_a_bad_value_met_while_streaming_is_recorded_as_the_data_error_with_its_line(tmp_path):
    """A value beyond float32 in a row the preprocessor's sample missed fails inside tf.data; the run's record
    gives the DataError itself (file, line, column), not TensorFlow's wrapped InvalidArgumentError."""
    import pandas as pd

    from imbalance.data.table_source import table_source

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600),
                          "label": (rng.random(600) < 0.2).astype(int)})
    frame.loc[frame.index[-1], "b"] = 1e40  # finite in the file, infinite as a float32 feature
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    res = compare(table_source(path, "label", sample_rows=20), strategies=["baseline"], epochs=1, seeds=1,
                  folds=None, progress=False, min_positives=5)
    assert res.failed and not res.runs
    for record in res.failed:
        assert record.error.startswith("DataError: "), record.error
        assert "line 601, column 'b'" in record.error and "function_node" not in record.error
    assert any("OpError" in r.extra.get("traceback", "") or "InvalidArgument" in r.extra.get("traceback", "")
               for r in res.failed)  # it did come through tf.data


def test_a_streamed_run_frees_its_rows_when_it_ends(tmp_path):
    """TensorFlow keeps every ``from_generator`` generator alive for the process (eager py_funcs are held by the
    global graph), so each run's row views and samplers would stay in memory for good; ``compare`` runs each unit in
    a ``feed_scope`` that drops them. After the comparison no row view of a run is alive."""
    import gc

    import pandas as pd

    from imbalance.data.sources import Rows
    from imbalance.data.table_source import table_source

    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.25).astype(int)
    pd.DataFrame({"a": rng.normal(size=400) + y, "label": y}).to_parquet(tmp_path / "t.parquet")
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, Rows)}
    res = compare(table_source(tmp_path / "t.parquet", "label"), strategies=["baseline", "oversample"], epochs=1,
                  seeds=1, folds=None, workers=1, progress=False, min_positives=5)
    assert not res.failed and len(res.runs) == 2
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, Rows) and id(o) not in before]
    assert not alive, [len(o) for o in alive]
