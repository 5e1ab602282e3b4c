"""The `imbalance` command line end to end, through typer's test runner, on tiny files."""

import json
from html.parser import HTMLParser

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from typer.testing import CliRunner

from imbalance.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory):
    x, y = make_classification(n_samples=1000, n_features=5, n_informative=4, n_redundant=0, weights=[0.8],
                               random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(5)])
    frame["merchant"] = np.where(x[:, 0] > 0, "shop", "online")
    frame["is_fraud"] = np.where(y == 1, "yes", "no")
    path = tmp_path_factory.mktemp("cli") / "transactions.csv"
    frame.to_csv(path, index=False)
    return path


def test_help_on_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "compare", "inspect", "tune", "diagnose"):
        assert command in result.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0, sub.output
        assert "Usage" in sub.output


def test_compare_on_a_csv_prints_the_table_writes_the_report_and_a_serving_model(table_csv, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["compare", str(table_csv), "--target", "is_fraud", "--strategies",
                                 "baseline,class_weight", "--epochs", "2", "--seeds", "2", "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "baseline" in result.output and "class_weight" in result.output and "Verdict" in result.output
    html = (out / "report.html").read_text()
    HTMLParser().feed(html)
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 4
    model = keras.models.load_model(out / "best.keras")
    frame = pd.read_csv(table_csv)
    from imbalance.data.io import load_table

    table = load_table(table_csv, "is_fraud")
    pre = table.preprocessor().fit(table.x)
    outputs = model.predict(np.asarray(pre.transform(table.x), np.float32)[:50], verbose=0)
    decisions = np.asarray(outputs["decisions"]).reshape(-1)
    assert set(np.unique(decisions)) <= {0, 1} and len(frame) == 1000
    # F1 has no constraint: both decision rules are candidates, and best.keras decides as thresholds.json says.
    assert "baseline@0.5" in result.output and "class_weight@0.5" in result.output
    rule = json.loads((out / "thresholds.json").read_text())
    scores = np.asarray(outputs["scores"]).reshape(-1)
    threshold = 0.5 if rule.get("decision") == "0.5" else rule["score_thresholds"][0]
    assert np.array_equal(decisions, (scores >= threshold).astype(int))


def test_inspect_reports_counts_and_strategies(table_csv):
    result = runner.invoke(app, ["inspect", str(table_csv), "--target", "is_fraud"])
    assert result.exit_code == 0, result.output
    y = pd.read_csv(table_csv)["is_fraud"]
    ratio = (y == "no").sum() / (y == "yes").sum()
    assert f"{ratio:.1f}" in result.output
    assert "smote" in result.output and "weighted_bce" in result.output


def test_tune_reads_scores_and_writes_thresholds(tmp_path, rng):
    y = rng.integers(0, 2, size=400)
    scores = np.clip(0.3 * y + rng.normal(0.35, 0.2, size=400), 0, 1)
    path = tmp_path / "scores.csv"
    pd.DataFrame({"label": y, "score": scores}).to_csv(path, index=False)
    result = runner.invoke(app, ["tune", str(path), "--target", "label", "--objective", "f1", "--out",
                                 str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    from imbalance.thresholds import ThresholdTuner

    expected = ThresholdTuner("f1").fit(y, scores).thresholds_
    assert f"{float(np.ravel(expected)[0]):.6g}" in result.output
    assert (tmp_path / "t.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["compare", "{csv}", "--target", "fraud"], "Column 'fraud' not found"),
        (["compare", "{missing}", "--target", "y"], "missing.csv"),
        (["compare", "{csv}", "--target", "is_fraud", "--objective", "precision>0.9"], "precision>0.9"),
        (["compare", "{csv}", "--target", "is_fraud", "--strategies", "nope"], "Unknown strategy 'nope'"),
        (["demo", "--dataset", "mnist"], "Unknown demo dataset 'mnist'"),
        (["tune", "{missing}", "--target", "y"], "missing.csv"),
    ],
)
def test_bad_input_gives_one_line_and_no_traceback(args, message, table_csv, tmp_path):
    args = [a.format(csv=table_csv, missing=tmp_path / "missing.csv") for a in args]
    result = runner.invoke(app, args + (["--out", str(tmp_path / "o"), "--no-progress"] if args[0] == "compare"
                                        else []))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in result.output
    assert result.output.strip().count("\n") <= 2  # one message (rich may wrap it)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("a,b,is_fraud\n1,2,yes\n3,4,yes\n5,6,yes\n", "single class"),
        ("a,b,is_fraud\n" + "".join(f"{i},{i % 3},{'yes' if i % 4 == 0 else 'no'}\n" for i in range(40))
         + "abc,1,no\n", "line 42"),
    ],
    ids=["empty-file", "single-class-target", "garbage-in-numeric-column"],
)
def test_bad_tables_are_named_on_one_line(content, message, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = runner.invoke(app, ["compare", str(path), "--target", "is_fraud", "--out", str(tmp_path / "o"),
                                 "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "bad.csv" in result.output and message in result.output


@pytest.mark.slow  # ~23 s on 2 cores; `make demo` runs the same command in full, the CLI compare tests cover the rest
def test_demo_runs_the_comparison_on_embedded_digits(tmp_path):
    result = runner.invoke(app, ["demo", "--strategies", "baseline,logit_adjusted", "--epochs", "2", "--out",
                                 str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "digits_lt" in result.output and "Verdict" in result.output
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert {r["strategy"] for r in runs} == {"baseline", "logit_adjusted"}
    assert len(runs) == 2 * 4  # 4 cross-validated units: class 0 is too rare for a hold-out split
    assert (tmp_path / "report.html").exists() and (tmp_path / "best.keras").exists()
