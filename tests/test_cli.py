"""The command line through click's CliRunner: output, --json, and one-line errors."""

import json

import pytest

from helpers import SYNTHETIC_ARGS, error_line, run_cli


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs land in ./checkpoints and ./logs, as for a user
    return run_cli


def test_train_json_then_rerun_resumes_then_eval_agrees(cli, tmp_path):
    first = cli("train", "--init", "he", *SYNTHETIC_ARGS, "--json")
    assert first.exit_code == 0, first.stderr
    row = json.loads(first.stdout)
    for key in (
        "init",
        "seed",
        "test_accuracy",
        "test_loss",
        "step",
        "epoch",
        "resumed_from_step",
        "seconds",
    ):
        assert key in row
    assert row["init"] == "he" and row["resumed_from_step"] == 0 and row["step"] == 24
    assert (tmp_path / "checkpoints" / "mnist_mlp" / "he-s0").is_dir()
    assert (tmp_path / "logs" / "mnist_mlp" / "he-s0" / "metrics.jsonl").is_file()

    again = cli("train", "--init", "he", *SYNTHETIC_ARGS, "--json")
    assert json.loads(again.stdout)["resumed_from_step"] == 24
    assert "already finished" in again.stderr

    evaluated = json.loads(cli("eval", "--init", "he", *SYNTHETIC_ARGS, "--json").stdout)
    assert evaluated["test_accuracy"] == row["test_accuracy"]
    assert evaluated["test_loss"] == row["test_loss"] and evaluated["step"] == 24


def test_train_human_output_has_epoch_line_and_result(cli):
    result = cli(
        "train",
        "--init",
        "glorot",
        *SYNTHETIC_ARGS,
        "--seed",
        "4",
        "--checkpoint-dir",
        "ck",
        "--log-dir",
        "lg",
    )
    assert result.exit_code == 0, result.stderr
    assert "epoch 1/1  step 24  train loss" in result.stderr
    assert result.stdout.startswith("glorot-s4: test accuracy ")


def test_resume_message_and_fresh(cli):
    cli("train", "--init", "he", *SYNTHETIC_ARGS)
    grown = cli("train", "--init", "he", *SYNTHETIC_ARGS, "--epochs", "2")
    assert "resuming from step 24" in grown.stderr
    fresh = cli("train", "--init", "he", *SYNTHETIC_ARGS, "--fresh", "--json")
    assert json.loads(fresh.stdout)["resumed_from_step"] == 0


def test_inits_lists_every_initializer(cli):
    listed = json.loads(cli("inits", "--json").stdout)
    names = [row["name"] for row in listed]
    assert {"random", "glorot", "he", "orthogonal", "zeros", "variance_scaling"} <= set(names)
    random = next(r for r in listed if r["name"] == "random")
    assert random["params"]["stddev"] == 1.0
    assert "He et al. (2015)" in cli("inits").stdout


@pytest.mark.parametrize(
    "args, needles",
    [
        (
            ["train", "--init", "xaviar"],
            ["unknown initializer 'xaviar'", "did you mean 'xavier'", "glorot"],
        ),
        (["train", "--config", "nope.yaml"], ["nope.yaml", "not found"]),
        (["train", "--set", "train.epoch=2"], ["train.epoch", "did you mean 'train.epochs'"]),
        (["train", "--set", "train.batch_size=-1"], ["train.batch_size", "at least 1"]),
        (["train", "--set", "noequals"], ["--set", "key=value"]),
        (["train", "--epochs", "0"], ["train.epochs"]),
        (["eval", "--init", "he", *SYNTHETIC_ARGS], ["no checkpoint", "initcmp train --init he"]),
        (["train", "--set", "data.path=missing.npz"], ["missing.npz"]),
    ],
)
def test_user_errors_are_one_line(cli, args, needles):
    error_line(cli(*args), *needles)


def test_bad_yaml_names_file_and_line(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("train:\n  epochs: [1,\n")
    error_line(cli("train", "--config", "bad.yaml"), "bad.yaml:", "YAML error")


def test_resume_with_other_config_is_refused(cli):
    cli("train", "--init", "he", *SYNTHETIC_ARGS)
    error_line(
        cli("train", "--init", "he", *SYNTHETIC_ARGS, "--set", "train.learning_rate=0.1"),
        "train.learning_rate",
        "--fresh",
    )


def test_inspect_json_text_plot_and_several_inits(cli, tmp_path):
    deep = ["--set", "model.hidden=[32, 32, 32]"]
    one = cli("inspect", "--init", "glorot", *SYNTHETIC_ARGS, *deep, "--json")
    assert one.exit_code == 0, one.stderr
    result = json.loads(one.stdout)
    assert result["init"] == "glorot" and len(result["layers"]) == 4
    keys = {
        "name",
        "fan_in",
        "fan_out",
        "weight_std",
        "expected_weight_std",
        "activation_mean",
        "activation_std",
        "dead_fraction",
        "gradient_std",
    }
    assert all(keys <= set(layer) for layer in result["layers"])
    assert result["batch"] == 128  # the run's own first batch

    many = cli(
        "inspect",
        "--init",
        "he",
        "--init",
        "random",
        *SYNTHETIC_ARGS,
        *deep,
        "--batch",
        "40",
        "--plot",
        "signal.png",
    )
    assert many.exit_code == 0, many.stderr
    assert "he (mode=fan_in)" in many.stdout and "random (mean=0.0" in many.stdout
    assert "40 images" in many.stdout and "wrote signal.png" in many.stdout
    assert (tmp_path / "signal.png").read_bytes()[:4] == b"\x89PNG"
    both = json.loads(
        cli("inspect", "--init", "he", "--init", "lsuv", *SYNTHETIC_ARGS, "--json").stdout
    )
    assert [r["init"] for r in both["inits"]] == ["he", "lsuv"]
    assert not (tmp_path / "checkpoints").exists()  # inspect trains nothing, writes no run


@pytest.mark.parametrize(
    "args, needles",
    [
        (["inspect", "--batch", "0"], ["--batch must be at least 1"]),
        (["inspect", "--init", "nope"], ["unknown initializer 'nope'"]),
        (["inspect", "--set", "init={name: glorot, gain: relu6}"], ["'init.gain'", "tanh"]),
        (["inspect", "--set", "init={name: he, mode: fan_avg}"], ["'init.mode'", "fan_out"]),
    ],
)
def test_inspect_errors_are_one_line(cli, args, needles):
    error_line(cli(*args, *SYNTHETIC_ARGS), *needles)


def test_inspect_plot_to_an_unwritable_place_is_one_line(cli, tmp_path):
    (tmp_path / "afile").write_text("x")
    error_line(
        cli("inspect", *SYNTHETIC_ARGS, "--plot", "afile/sub/x.png"), "--plot", "cannot write"
    )


# --- --help --------------------------------------------------------------------------


def commands() -> dict:
    from initcmp.cli.main import main

    return main.commands


def test_top_level_help_shows_every_command_whole():
    from click.testing import CliRunner

    from initcmp.cli.main import main

    for width in (60, 80, 120):
        text = CliRunner().invoke(main, ["--help"], terminal_width=width).stdout
        listed = text.split("Commands:")[1]
        assert "..." not in listed and "…" not in listed, (width, listed)
        assert set(commands()) <= set(listed.split())
    assert "initcmp compare" in text  # an example


@pytest.mark.parametrize("name", sorted(commands()))
def test_each_commands_help_has_examples_and_defaults(cli, name):
    import re

    text = cli(name, "--help").stdout
    assert "Examples:" in text and re.search(rf"^ +initcmp {name}\b", text, re.MULTILINE)
    assert "..." not in text and "…" not in text
    no_default = {"--set", "--address", "--plot", "--help"}  # nothing to default to
    for option in commands()[name].params:
        if not option.is_flag and not set(option.opts) & no_default:
            said = (option.help or "").lower()
            assert option.show_default or "default" in said or "required" in said, option.opts


def test_train_names_the_initializer_it_trains_without_init(cli):
    from initcmp.config.schema import Config

    help_text = " ".join(cli("train", "--help").stdout.split())
    assert f"built-in default {Config().init.name}" in help_text


def test_the_readme_documents_every_option_of_every_command():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("## Commands", 1)[1].split("```")[1]
    documented: dict[str, set[str]] = {}
    for line in block.strip().splitlines():  # `initcmp NAME [--flag]...`, then more flags
        if line.startswith("initcmp "):
            name = line.split()[1]
        documented.setdefault(name, set()).update(re.findall(r"--[a-z][a-z-]*", line))
    options = {
        name: {o for p in command.params for o in p.opts if o.startswith("--")} - {"--help"}
        for name, command in commands().items()
    }
    assert documented == options


@pytest.fixture
def os_exit(monkeypatch):
    """The `initcmp` entry point with os._exit and the atexit handlers recorded, not run:
    the codes it would have ended the process with."""
    import atexit
    import os

    import tensorflow  # noqa: F401 - loaded, as after any command that trains

    codes = []
    monkeypatch.setattr(os, "_exit", codes.append)
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: codes.append("atexit"))
    return codes


@pytest.mark.parametrize(
    "argv, code",
    [(["inits"], 0), (["train", "--init", "nope"], 2)],
    ids=["success", "bad input"],
)
def test_the_command_ends_without_teardown_once_tensorflow_is_loaded(
    monkeypatch, os_exit, argv, code
):
    """main._quick_exit: the atexit handlers run, then os._exit with the command's code."""
    from initcmp.cli import main

    monkeypatch.setattr("sys.argv", ["initcmp", *argv])
    with pytest.raises(SystemExit):
        main.entry()  # os._exit is recorded, so the SystemExit goes on
    assert os_exit == ["atexit", code]


def test_the_command_exits_normally_while_another_thread_runs(monkeypatch, os_exit):
    import threading

    from initcmp.cli import main

    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        monkeypatch.setattr("sys.argv", ["initcmp", "inits"])
        with pytest.raises(SystemExit):
            main.entry()
    finally:
        release.set()
        worker.join()
    assert os_exit == []  # Python's own exit waits for the thread
