"""The `imbalance` command line, through typer's test runner."""

from typer.testing import CliRunner

from imbalance.cli import app

runner = CliRunner()


def test_help_lists_the_demo():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output


def test_demo_prints_every_recipe_and_the_ceiling():
    result = runner.invoke(app, ["demo", "--epochs", "1", "--samples", "600"])
    assert result.exit_code == 0, result.output
    for recipe in ("BCE, 1 epoch", "BCE, trained longer", "pos_weight=27", "pos_weights(y_train)"):
        assert recipe in result.output
    assert "0.182" in result.output


def test_demo_rejects_a_bad_option_without_a_traceback():
    result = runner.invoke(app, ["demo", "--epochs", "0"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
