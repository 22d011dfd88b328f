"""A sweep's grid and the config keys a sweep needs (model.depth and model.width,
train.steps), the run names a grid gives, and bad grids: plain config work, no
TensorFlow, no training."""

from __future__ import annotations

import json
import re

import pytest

from initcmp.config import schema as config_mod
from initcmp.config import grid
from initcmp.experiments import sweep
from initcmp.config.schema import Config
from initcmp.errors import ConfigError
from helpers import SYNTHETIC_ARGS, load_config, run_cli_in


def test_a_range_includes_its_stop_and_whole_numbers_stay_whole():
    assert grid.expand("10:100:10", "x") == (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
    scales = grid.expand("1:4:0.25", "x")
    assert len(scales) == 13 and scales[0] == 1 and scales[-1] == 4.0 and scales[3] == 1.75
    assert grid.expand("0.1:0.3:0.1", "x") == (0.1, 0.2, 0.3)  # no 0.30000000000000004
    assert grid.expand("5:20:10", "x") == (5, 15)  # a stop the steps miss is not added


@pytest.mark.parametrize("spec", ["5:1:1", "1:5:0", "1:5:-1"])
def test_a_range_that_yields_no_values_is_an_error(spec):
    with pytest.raises(ConfigError, match="yields no values"):
        grid.expand(spec, "--grid model.depth")


def test_grid_flags_parse_lists_ranges_and_nested_lists():
    assert grid.from_flag("init.name=glorot,he") == ("init.name", ["glorot", "he"])
    assert grid.from_flag("init.scale=1,1.5") == ("init.scale", [1, 1.5])
    assert grid.from_flag("model.depth=2:10:4") == ("model.depth", "2:10:4")
    assert grid.from_flag("model.hidden=[256,256],[512]") == (
        "model.hidden",
        [[256, 256], [512]],
    )
    with pytest.raises(ConfigError, match="expected KEY=V1,V2"):
        grid.from_flag("model.depth")


def sweep_config(*sets, path=None):
    return load_config(path, overrides=sets)


@pytest.mark.parametrize(
    "item, message",
    [
        ("sweep.grid.model.dept=[1, 2]", "unknown key 'model.dept' (did you mean 'model.depth'?)"),
        ("sweep.grid.model.depth=[2, 0]", "(model.depth=0): 'model.depth' must be at least 1"),
        ("sweep.grid.init.scale=[1]", "unknown key 'init.scale' for initializer 'he'"),
        ("sweep.grid.model.depth=[]", "'model.depth' has no values"),
        ("sweep.grid.model.depth=9:1:1", "the range '9:1:1' yields no values"),
        ("sweep.grid.seed=[1, 2]", "'seed' cannot be swept"),
        ("sweep.grid.train.optimizer=[sgd, lbfgs]", "must be one of adam, sgd, rmsprop"),
    ],
)
def test_a_bad_grid_is_one_error_naming_where_it_came_from(item, message):
    with pytest.raises(ConfigError) as error:
        sweep_config(item)
    assert message in str(error.value)
    assert str(error.value).startswith(f"--set {item.split('=')[0]}")


def test_a_grid_in_yaml_and_grid_flags_merge_key_by_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("sweep:\n  grid:\n    model.depth: '2:6:2'\n    init.name: [glorot, he]\n")
    cfg = sweep_config("sweep.grid.model.depth=[3]", path=path)
    assert dict(cfg.sweep.grid) == {"model.depth": (3,), "init.name": ("glorot", "he")}
    path.write_text("sweep:\n  grid:\n    model.depth: [0]\n")
    with pytest.raises(ConfigError) as error:
        sweep_config(path=path)
    assert str(error.value).startswith(f"{path} (model.depth=0): 'model.depth' must be at least 1")


def test_depth_and_width_win_over_hidden_and_name_one_network_either_way():
    cfg = sweep_config("model.hidden=[64, 64]", "model.depth=3")
    assert cfg.model.hidden == (64, 64, 64) and cfg.model.depth is None
    assert sweep_config("model.width=32").model.hidden == (32, 32)
    spelled = sweep_config("model.hidden=[16, 16, 16]")
    short = sweep_config("model.depth=3", "model.width=16")
    assert config_mod.run_identity(spelled) == config_mod.run_identity(short)
    with pytest.raises(ConfigError, match="'model.depth' needs 'model.width'"):
        sweep_config("model.hidden=[64, 32]", "model.depth=3")


def test_a_step_budget_wins_over_epochs():
    cfg = sweep_config("train.steps=30", "train.epochs=5")
    assert cfg.train.total_steps(3000) == 30 and cfg.train.budget == "30 steps"
    assert Config().train.total_steps(3000) == 24 and Config().train.budget == "1 epoch"


def test_run_names_lead_with_the_grid_values_in_key_order_and_plain_runs_keep_theirs():
    assert Config().run_name == "he-s0"
    cfg = sweep_config(
        "init=glorot",
        "sweep.grid.model.depth=[2, 4]",
        "sweep.grid.init.gain=[0.5, 1.25]",
        "sweep.grid.init.name=[glorot]",
        "compare.seeds=[0]",
    )
    names = [run.run_name for run in sweep.runs(sweep.plan(cfg))]
    labels = [name.split("@")[0] for name in names[:2]]
    assert labels == ["gain=0.5,depth=2,glorot-s0", "gain=1.25,depth=2,glorot-s0"]
    assert all(re.fullmatch(r"[0-9a-f]{8}", name.split("@")[1]) for name in names)
    assert len(set(names)) == len(names)
    # the order the grid lists its keys in does not change a run's name
    other = sweep_config("init=glorot", "sweep.grid.init.gain=[0.5]", "sweep.grid.model.depth=[2]")
    assert sweep.runs(sweep.plan(other))[0].run_name == names[0]


def test_a_grid_over_init_names_plans_the_runs_compare_plans():
    from initcmp.experiments import compare

    cfg = sweep_config("sweep.grid.init.name=[random, glorot, he]")
    by_sweep = sorted(run.run_name for run in sweep.runs(sweep.plan(cfg)))
    assert by_sweep == sorted(run.run_name for run in compare.plan(Config()))


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "the sweep grid is empty"),
        (["--grid", "model.widht=1,2"], "did you mean 'model.width'?"),
        (["--grid", "model.depth=0,1"], "'model.depth' must be at least 1, not 0"),
        (["--grid", "model.depth=3:1:1"], "yields no values"),
        (["--grid", "init.stddev=1,2"], "unknown key 'init.stddev' for initializer 'he'"),
    ],
)
def test_the_cli_refuses_a_bad_grid_in_one_line_before_anything_trains(
    tmp_path, monkeypatch, args, message
):
    result = run_cli_in(tmp_path, monkeypatch, "sweep", *SYNTHETIC_ARGS, *args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "logs").exists()


# --- ranges as a person writes them (issue: `2:10` trained depth 130) -------------------


def test_start_stop_is_whole_numbers_step_one_never_base_60():
    assert grid.expand("2:10", "x") == tuple(range(2, 11))  # YAML 1.1 reads 2:10 as 130
    assert grid.expand("1:30", "x") == tuple(range(1, 31))
    assert grid.from_flag("model.depth=2:10") == ("model.depth", "2:10")
    assert grid.parse({"model.depth": "2:10"}, "f.yaml")["model.depth"] == tuple(range(2, 11))


def test_a_geometric_range_multiplies_and_keeps_round_numbers():
    assert grid.expand("1e-4:1e-1:*10", "x") == (0.0001, 0.001, 0.01, 0.1)
    assert grid.expand("128:2048:*2", "x") == (128, 256, 512, 1024, 2048)
    assert grid.expand("1e-3:1e-2:*2", "x") == (0.001, 0.002, 0.004, 0.008)
    assert all(isinstance(v, int) for v in grid.expand("128:2048:*2", "x"))


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("1.5:3", "has no STEP, so it needs whole numbers"),
        ("a:b", "is not a range"),
        ("1:2:*1", "yields no values"),
        ("1:2:*-2", "yields no values"),
        ("10:1", "yields no values"),
        ("1:1000000000", "yields 1,000,000,000 values, more than 100,000"),
    ],
)
def test_a_bad_range_names_the_problem_and_shows_the_syntax(spec, problem):
    with pytest.raises(ConfigError, match="^--grid model.depth: ") as err:
        grid.expand(spec, "--grid model.depth")
    assert problem in str(err.value)
    if "is not" in problem or "STEP" in problem:
        assert "START:STOP:STEP" in str(err.value) and "START:STOP:*FACTOR" in str(err.value)


def test_scientific_notation_is_a_number_in_grid_values():
    assert grid.from_flag("train.learning_rate=1e-3,3e-4") == (
        "train.learning_rate",
        [0.001, 0.0003],
    )
    cfg = load_config(overrides=("sweep.grid={train.learning_rate: [1e-3, 3e-4]}",))
    assert cfg.sweep.grid["train.learning_rate"] == (0.001, 0.0003)


def test_the_dry_run_plans_the_range_as_written(tmp_path, monkeypatch):
    flags = ["--grid", "model.depth=2:4", "--steps", "1", "--seeds", "1", "--dry-run"]
    result = run_cli_in(tmp_path, monkeypatch, "sweep", *flags, "--json", *SYNTHETIC_ARGS)
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)["runs"]
    assert [r["values"]["model.depth"] for r in runs] == [2, 3, 4]


def test_a_huge_grid_is_refused_at_once_unless_confirmed(tmp_path, monkeypatch):
    flags = ["--grid", "model.depth=1:1000", "--grid", "init.scale=1:1000", "--dry-run"]
    flags += ["--set", "init.name=variance_scaling", *SYNTHETIC_ARGS]
    result = run_cli_in(tmp_path, monkeypatch, "sweep", *flags)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "3,000,000 runs" in result.output
    assert "add --yes" in result.output
    assert not (tmp_path / "logs").exists() and not (tmp_path / "checkpoints").exists()


def test_a_grid_under_the_limit_needs_no_confirmation():
    cfg = load_config(overrides=("sweep.grid={model.depth: '1:100'}", "compare.seeds=[0]"))
    assert sweep.size(cfg) == (100, 100)
    sweep.check_size(cfg, confirmed=False)
    big = load_config(overrides=("sweep.grid={model.depth: '1:500'}", "compare.seeds=[0, 1, 2]"))
    with pytest.raises(ConfigError, match="1,500 runs"):
        sweep.check_size(big, confirmed=False)
    sweep.check_size(big, confirmed=True)


def test_config_previews_a_sweep_and_stays_a_config(tmp_path, monkeypatch):
    import yaml

    flags = ["--grid", "model.depth=2:4", "--grid", "train.learning_rate=1e-3:1e-1:*10"]
    result = run_cli_in(tmp_path, monkeypatch, "config", *flags, "--seeds", "2")
    assert result.exit_code == 0, result.output
    grid_read = yaml.safe_load(result.output)["sweep"]["grid"]
    assert grid_read == {"model.depth": [2, 3, 4], "train.learning_rate": [0.001, 0.01, 0.1]}
    assert result.output.rstrip().endswith(
        "# the sweep: 3 model.depth x 3 train.learning_rate x 2 seeds = 9 cells, 18 runs"
    )


def test_choices_take_any_case_as_initializer_names_do():
    cfg = load_config(overrides=("model.activation=Relu", "train.optimizer=SGD"))
    assert (cfg.model.activation, cfg.train.optimizer) == ("relu", "sgd")
    with pytest.raises(ConfigError, match="must be one of"):
        load_config(overrides=("model.activation=rectifier",))


def test_sweep_help_says_where_its_files_go(tmp_path, monkeypatch):
    result = run_cli_in(tmp_path, monkeypatch, "sweep", "--help")
    assert "compare.* or sweep.*" in " ".join(result.output.split())
