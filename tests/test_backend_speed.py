"""The backend_speed benchmark's own logic: worker order, shared initial weights, parsing a worker's output, and
combining the workers' raw timings into ratios and statements. The timings themselves come from ``make bench``;
here they are hand-made, and every expected number is recomputed independently with NumPy."""

import json

import numpy as np
import pytest

from benchmarks import backend_speed as bs
from benchmarks import loss_speed


def test_pass_order_alternates_abba_and_runs_each_backend_once_per_pass():
    assert bs.pass_order(1) == ["jax", "tensorflow"]
    assert bs.pass_order(2) == ["jax", "tensorflow", "tensorflow", "jax"]
    order = bs.pass_order(3)
    assert order[4:] == ["jax", "tensorflow"]
    assert all(order.count(b) == 3 for b in bs.BACKENDS)


def test_initial_weights_are_glorot_uniform_kernels_and_zero_biases_of_the_mlp():
    import keras

    width = loss_speed.CLASSES
    weights = bs.initial_weights(width)
    model = keras.Sequential([keras.Input((loss_speed.FEATURES,))]
                             + [keras.layers.Dense(u, activation="relu") for u in loss_speed.HIDDEN]
                             + [keras.layers.Dense(width)])
    assert [w.shape for w in weights] == [w.shape for w in model.get_weights()]
    assert all(w.dtype == np.float32 for w in weights)
    for kernel, bias in zip(weights[::2], weights[1::2]):
        limit = np.sqrt(6.0 / sum(kernel.shape))
        assert np.all(np.abs(kernel) <= limit) and np.abs(kernel).max() > 0.9 * limit
        assert kernel.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.1)  # std of U(-limit, limit)
        assert not bias.any()
    again = bs.initial_weights(width)
    assert all(np.array_equal(a, b) for a, b in zip(weights, again))  # the same on every call (and backend)
    assert not np.array_equal(bs.initial_weights(width, seed=1)[0], weights[0])


def test_times_adds_a_decimal_only_where_two_would_land_on_the_goal():
    assert bs.times(1.0712) == "1.07×"
    assert bs.times(1.1523) == "1.152×"  # "1.15×" would read as meeting a <= 1.15x goal
    assert bs.times(1.1478) == "1.148×"
    assert bs.times(bs.GOAL) == "1.15×"


def test_parse_worker_stdout_takes_the_last_json_line():
    text = "some library banner\n" + json.dumps({"backend": "jax", "n": 1}) + "\nnoise\n" + \
        json.dumps({"backend": "jax", "n": 2}) + "\n"
    assert bs.parse_worker_stdout(text) == {"backend": "jax", "n": 2}
    with pytest.raises(ValueError):
        bs.parse_worker_stdout("no result here\n")


def _case(loss, ours, ref, initial=(0.5, 0.6), status="ok"):
    case = {"loss": loss, "task": "sparse", "reference": "keras SparseCategoricalCrossentropy", "status": status}
    if status == "ok":
        case.update(ours_seconds=list(ours), ref_seconds=list(ref), calls_per_block=10,
                    initial_loss={"ours": initial[0], "ref": initial[1]})
    return case


def _outputs(rng):
    """Two passes per backend (order J T T J) of two losses; "Slow" is 1.3x Keras on JAX only."""
    outputs, raw = [], {}
    for backend in bs.pass_order(2):
        scale = 1e-3 if backend == "jax" else 2e-3  # JAX steps take half the time
        cases = []
        for loss, factor in (("Fast", 1.0), ("Slow", 1.3 if backend == "jax" else 1.0)):
            ref = scale * (1 + 0.1 * rng.random(7))
            ours = ref * factor * (1 + 0.02 * rng.standard_normal(7))
            raw.setdefault((backend, loss), []).append((ours, ref))
            cases.append(_case(loss, ours, ref, initial=(0.5, 0.6) if backend == "jax" else (0.5 * (1 + 1e-6), 0.6)))
        outputs.append({"backend": backend, "cases": cases})
    return outputs, raw


def test_combine_pools_the_passes_and_divides_medians_across_backends():
    outputs, raw = _outputs(np.random.default_rng(0))
    rows = {r["loss"]: r for r in bs.combine(outputs)}
    assert list(rows) == ["Fast", "Slow"]
    for loss, row in rows.items():
        assert row["status"] == "ok" and row["task"] == "sparse"
        for backend in bs.BACKENDS:
            ours = np.concatenate([o for o, _ in raw[backend, loss]])
            ref = np.concatenate([r for _, r in raw[backend, loss]])
            assert row[backend]["ratio"] == pytest.approx(np.median(ours / ref))
            assert row[backend]["ratio_iqr"] == pytest.approx(np.percentile(ours / ref, [25, 75]))
            assert row[backend]["rounds"] == 14
        for side, k in (("ours", 0), ("ref", 1)):
            # pass i of JAX against pass i of TF (next to each other in time), then the geometric mean
            per_pass = [np.median(j[k]) / np.median(t[k]) for j, t in zip(raw["jax", loss], raw["tensorflow", loss])]
            assert row["jax_over_tf_passes"][side] == pytest.approx(per_pass)
            assert row["jax_over_tf"][side] == pytest.approx(np.sqrt(per_pass[0] * per_pass[1]))
            assert min(per_pass) <= row["jax_over_tf"][side] <= max(per_pass)
            for backend in bs.BACKENDS:
                medians = [1e3 * np.median(run[k]) for run in raw[backend, loss]]
                assert row["ms"][backend][side] == pytest.approx(np.sqrt(medians[0] * medians[1]))
            assert row["jax_over_tf"][side] == pytest.approx(row["ms"]["jax"][side] / row["ms"]["tensorflow"][side])
        assert row["initial_loss_rel_diff"] == pytest.approx(1e-6 / (1 + 1e-6))
    assert rows["Slow"]["jax"]["ratio"] == pytest.approx(1.3, rel=0.05)
    assert rows["Fast"]["jax_over_tf"]["ref"] == pytest.approx(0.5, rel=0.1)


def test_combine_reports_a_loss_that_failed_on_one_backend():
    outputs, _ = _outputs(np.random.default_rng(1))
    outputs[1]["cases"][0] = _case("Fast", [], [], status="error: ValueError: bad")
    row = bs.combine(outputs)[0]
    assert row["status"] == "TF: error: ValueError: bad"
    assert "jax_over_tf" not in row
    table1, table2 = bs.render_tables([row])
    assert "TF: error: ValueError: bad" in table1
    wins, losses = bs.verdicts([row])
    assert losses == ["`Fast` was not measured on both backends: TF: error: ValueError: bad."]


def test_verdicts_list_every_ratio_over_the_goal_and_name_the_cause():
    outputs, _ = _outputs(np.random.default_rng(2))
    rows = bs.combine(outputs)
    wins, losses = bs.verdicts(rows)
    slow = [x for x in losses if x.startswith("On JAX, `Slow`")]
    assert len(slow) == 1 and f"{rows[1]['jax']['ratio']:.2f}×" in slow[0]
    assert not any("`Fast`" in x for x in losses)
    assert wins[0].startswith("On JAX (jit) 1 of 2 losses meet") and "`Fast`" in wins[0]
    cross = [r["jax_over_tf"]["ours"] for r in rows]
    line = next(w for w in wins if w.startswith("A JAX (jit) step"))
    assert f"{min(cross):.2f}–{max(cross):.2f}×" in line
    assert "faster on JAX" in line and "`Fast`" in line and "`Slow`" in line  # JAX takes about half the time

    # Ours 1.5x slower on JAX than TF while Keras' reference moves alike: the backend, not the loss.
    row = dict(rows[0], jax_over_tf={"ours": 1.5, "ref": 1.45})
    wins, losses = bs.verdicts([row])
    assert any("slower on JAX" in x and "it is the backend" in x for x in losses)
    assert not any(w.startswith("A JAX (jit) step") for w in wins)
    row = dict(rows[0], jax_over_tf={"ours": 1.5, "ref": 1.0})
    assert any("slower on JAX" in x and "part of it is our loss" in x for x in bs.verdicts([row])[1])


def test_render_tables_show_the_combined_numbers():
    outputs, _ = _outputs(np.random.default_rng(3))
    rows = bs.combine(outputs)
    table1, table2 = bs.render_tables(rows)
    slow = rows[1]
    line1 = next(line for line in table1.splitlines() if line.startswith("| `Slow`"))
    assert f"**{slow['jax']['ratio']:.2f}×**" in line1 and "**no**" in line1
    line2 = next(line for line in table2.splitlines() if line.startswith("| `Slow`"))
    lo, hi = min(slow["jax_over_tf_passes"]["ours"]), max(slow["jax_over_tf_passes"]["ours"])
    assert f"**{slow['jax_over_tf']['ours']:.2f}×**" in line2 and f"{lo:.2f}–{hi:.2f}" in line2
    assert f"{slow['ms']['jax']['ours']:.2f}" in line2 and f"{slow['ms']['tensorflow']['ours']:.2f}" in line2


def test_pass_spread_is_the_largest_move_of_one_median_between_passes():
    outputs, raw = _outputs(np.random.default_rng(4))
    rows = bs.combine(outputs)
    expected = max(max(m) / min(m) - 1 for runs in raw.values()
                   for k in (0, 1) for m in [[np.median(run[k]) for run in runs]])
    assert bs.pass_spread(rows) == pytest.approx(expected)
    one_pass = [o for i, o in enumerate(outputs) if i < 2]  # J T: a single pass per backend
    assert bs.pass_spread(bs.combine(one_pass)) is None
