"""What a sweep costs before it trains (experiments/cost.py): the arithmetic counted from
the config, an even sample of a huge grid, the estimate in the sweep's first line and
its dry run, and the refusals it drives. Plain config work: no TensorFlow, no training."""

from __future__ import annotations

import json
import math

import pytest

from initcmp.experiments import cost, sweep
from initcmp.errors import ConfigError
from helpers import SYNTHETIC_ARGS, load_config, run_cli_in


def test_a_runs_arithmetic_is_its_matrix_products_counted_by_hand():
    sets = ("model.hidden=[10]", "train.steps=7", "eval.every_steps=3", "eval.train_images=20")
    cfg = load_config(overrides=(*sets, "data.name=synthetic"))
    weights = 784 * 10 + 10 * 10
    # 7 steps of batch 128; 7 // 3 = 2 evaluations by steps, 1 at the epoch's end and 1
    # at step 0 (eval.at_start), each of the 1,000 synthetic test images and the first 20
    # training images
    expected = 6 * 128 * weights * 7 + 2 * (1_000 + 20) * weights * 4
    need = cost.of_run(cfg)
    assert (need.runs, need.steps, need.flops) == (1, 7, expected)
    without = load_config(overrides=(*sets, "data.name=synthetic", "eval.at_start=false"))
    assert cost.of_run(without).flops == expected - 2 * (1_000 + 20) * weights
    assert cost.of_run(cfg, stack=4).peak_bytes > need.peak_bytes  # a stack costs memory


def test_a_small_grid_is_every_cell_and_a_huge_one_an_even_sample_of_them():
    small = {"a": [1, 2], "b": ["x", "y", "z"]}
    assert cost.sample(small) == [{"a": a, "b": b} for a in (1, 2) for b in ("x", "y", "z")]
    huge = {"a": list(range(1000)), "b": list(range(1000))}
    cells = cost.sample(huge, limit=101)
    assert len(cells) == 101
    assert cells[0] == {"a": 0, "b": 0} and cells[-1] == {"a": 999, "b": 999}
    assert cells[50] == {"a": 499, "b": 999} or cells[50] == {"a": 500, "b": 0}  # the middle
    assert len({c["a"] for c in cells}) > 90  # spread through the slow axis, not bunched


def test_a_sampled_estimate_scales_to_the_whole_grid():
    grid = "sweep.grid={model.depth: '1:4', train.learning_rate: [0.1, 0.2]}"
    sets = (grid, "train.steps=10", "compare.seeds=[0, 1]", "data.name=synthetic")
    cfg = load_config(overrides=sets)
    whole = sweep.estimate(cfg)
    assert whole.runs == 16 and whole.steps == 160
    exact = cost.of_runs(sweep.runs(sweep.plan(cfg)))
    assert whole.flops == pytest.approx(exact.flops)


def test_the_machines_matmul_rate_is_measured_and_positive():
    rate = cost.matmul_rate()
    assert math.isfinite(rate) and rate > 1e8  # any machine of this century


def test_the_dry_run_states_the_estimate_in_words_and_in_json(tmp_path, monkeypatch):
    flags = ["--grid", "model.depth=2:3", "--steps", "5", "--seeds", "1", "--dry-run"]
    result = run_cli_in(tmp_path, monkeypatch, "sweep", *flags, *SYNTHETIC_ARGS)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("mnist_mlp: 10 steps, ") and "GFLOP/s matmuls" in first
    assert "GB at its peak" in first
    result = run_cli_in(tmp_path, monkeypatch, "sweep", *flags, "--json", *SYNTHETIC_ARGS)
    estimate = json.loads(result.output)["estimate"]
    assert estimate["runs"] == 2 and estimate["steps"] == 10 and estimate["seconds"] > 0


def test_a_grid_estimated_at_more_than_a_day_is_refused_unless_confirmed():
    sets = ("sweep.grid={model.width: [4096, 8192]}", "train.epochs=2000")
    cfg = load_config(overrides=sets)
    with pytest.raises(ConfigError, match="more than 1 day: add --yes") as error:
        sweep.check_size(cfg, confirmed=False)
    assert "days here" in str(error.value) and "6 runs" in str(error.value)
    assert sweep.check_size(cfg, confirmed=True).runs == 6
