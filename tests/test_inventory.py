"""`initcmp runs`, `config` and `rm`: an experiment's runs on disk with their status (from
plain files, no TensorFlow), the resolved config, and deleting one run, never one that a
process holds."""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest
import yaml

from initcmp.config import schema
from initcmp.store import inventory
from initcmp.store import records
from initcmp.store.records import RunPaths
from helpers import (
    SYNTHETIC_ARGS,
    error_line,
    load_config,
    lock_held,
    python,
    run_cli,
    run_cli_in,
)


def fake_run(root, init, seed, *, checkpoint=None, result=None, epochs=1, rows=()):
    """A run's files as training leaves them: config.yaml, metrics rows, checkpoint
    index files (all `runs` reads of a checkpoint), result.json."""
    cfg = load_config(init=init, seed=seed, epochs=epochs)
    paths = RunPaths.of(cfg, root / "checkpoints", root / "logs")
    paths.create()
    records.write_config(paths, cfg)
    for step, epoch in rows:
        records.append_metrics(paths, {"step": step, "epoch": epoch, "test_accuracy": 0.5})
    if checkpoint is not None:
        (paths.checkpoints / f"ckpt-{checkpoint}.index").write_bytes(b"")
    if result is not None:
        records.write_result(paths, {"epochs": epochs, "diverged": False, **result})
    return paths


@pytest.fixture
def experiment(tmp_path):
    fake_run(
        tmp_path,
        "he",
        0,
        checkpoint=469,
        rows=[(100, 0.21322), (469, 1.0)],
        result={"step": 469, "test_accuracy": 0.9613, "test_loss": 0.1291},
    )
    fake_run(tmp_path, "he", 1, checkpoint=200, rows=[(100, 0.21322), (200, 0.42644)])
    fake_run(
        tmp_path,
        "random",
        0,
        checkpoint=0,
        result={"step": 10, "diverged": True, "diverged_step": 10},
    )
    # trained on to 3 epochs after finishing 1: its old result is not its status
    fake_run(
        tmp_path,
        "glorot",
        0,
        checkpoint=600,
        epochs=3,
        rows=[(469, 1.0), (600, 1.279318)],
        result={"step": 469, "test_accuracy": 0.96},
    )
    fake_run(tmp_path, "lsuv", 10)  # stopped before its first checkpoint
    (tmp_path / "logs" / "mnist_mlp" / "compare.json").write_text("{}")  # not a run
    (tmp_path / "logs" / "mnist_mlp" / "notes").mkdir()  # not a run either
    return tmp_path


def test_runs_lists_each_status_from_plain_files(experiment, monkeypatch):
    result = run_cli_in(experiment, monkeypatch, "runs", "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed["experiment"] == "mnist_mlp"
    by_run = {r["run"]: r for r in listed["runs"]}
    assert list(by_run) == ["random-s0", "glorot-s0", "he-s0", "he-s1", "lsuv-s10"]  # registry
    assert (
        by_run["he-s0"].items()
        >= {
            "status": "finished",
            "step": 469,
            "total_steps": 469,
            "test_accuracy": 0.9613,
            "test_loss": 0.1291,
            "locked_by": None,
            "init": "he",
            "seed": 0,
        }.items()
    )
    assert (by_run["he-s1"]["status"], by_run["he-s1"]["step"]) == ("partial", 200)
    assert by_run["he-s1"]["total_steps"] == 469
    assert (by_run["random-s0"]["status"], by_run["random-s0"]["step"]) == ("diverged", 10)
    assert (
        by_run["glorot-s0"].items()
        >= {"status": "partial", "step": 600, "total_steps": 1407}.items()
    )
    assert by_run["lsuv-s10"]["status"] == "empty" and by_run["lsuv-s10"]["total_steps"] is None

    text = run_cli_in(experiment, monkeypatch, "runs").stdout
    assert text.splitlines()[0] == "experiment mnist_mlp: 5 runs"
    assert "he-s0      finished  step 469, test accuracy 96.13%, loss 0.1291" in text
    assert "he-s1      partial   step 200 of 469" in text
    assert "random-s0  diverged  loss became NaN or inf at step 10" in text
    assert "lsuv-s10   empty     no checkpoint yet" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_runs_of_another_experiment_and_of_none(experiment, monkeypatch):
    other = run_cli_in(experiment, monkeypatch, "runs", "--set", "name=deep_mlp")
    assert other.exit_code == 0
    assert other.stdout.strip() == (
        "no runs of experiment 'deep_mlp' in checkpoints or logs; "
        "experiments there: mnist_mlp (--set name=NAME)"
    )
    assert json.loads(run_cli("runs", "--config", "deep_mlp", "--json").stdout)["runs"] == []


def test_a_run_in_use_is_shown_and_never_deleted(experiment, monkeypatch):
    paths = RunPaths.of(
        load_config(init="he", seed=1), experiment / "checkpoints", experiment / "logs"
    )
    with lock_held(paths) as holder:
        before = sorted(p.relative_to(experiment) for p in experiment.rglob("*"))
        start = time.perf_counter()
        assert records.RunLock(paths).holder() == str(holder.pid)
        assert time.perf_counter() - start < 1  # tested, not waited for
        listed = json.loads(run_cli_in(experiment, monkeypatch, "runs", "--json").stdout)
        he1 = next(r for r in listed["runs"] if r["run"] == "he-s1")
        assert he1["locked_by"] == str(holder.pid) and he1["status"] == "partial"
        assert f"in use by process {holder.pid}" in run_cli("runs").stdout
        refused = run_cli("rm", "--init", "he", "--seed", "1", "--yes")
        assert refused.exit_code == 2
        assert refused.stderr.startswith("initcmp: error: ")
        assert f"in use by process {holder.pid}; nothing deleted" in refused.stderr
        # the same between the question and the deletion: remove() holds the lock itself
        with pytest.raises(records.RunInUseError, match="nothing deleted"):
            inventory.remove(load_config(init="he", seed=1), "checkpoints", "logs")
    assert sorted(p.relative_to(experiment) for p in experiment.rglob("*")) == before
    assert records.RunLock(paths).holder() is None


def test_the_lock_probe_creates_nothing(tmp_path):
    paths = RunPaths(tmp_path / "ck" / "x" / "he-s0", tmp_path / "logs" / "x" / "he-s0")
    assert records.RunLock(paths).holder() is None
    assert not (tmp_path / "ck").exists()


def test_rm_asks_first_and_deletes_only_that_run(experiment, monkeypatch):
    monkeypatch.chdir(experiment)
    from click.testing import CliRunner

    from initcmp.cli.main import main

    def rm(*args, answer=""):
        return CliRunner().invoke(main, ["rm", *args], input=answer)

    declined = rm("--init", "he", "--seed", "1", answer="n\n")
    assert declined.exit_code == 1 and "nothing deleted" in declined.stderr
    assert declined.stderr.startswith("mnist_mlp: he-s1  partial   step 200 of 469")
    ck, logs = (os.path.join(root, "mnist_mlp", "he-s1") for root in ("checkpoints", "logs"))
    assert f"delete {ck} and {logs}? [y/N]" in declined.stderr
    no_answer = rm("--init", "he", "--seed", "1")  # end of input: no
    assert no_answer.exit_code == 1 and (experiment / "checkpoints/mnist_mlp/he-s1").is_dir()
    done = rm("--init", "HE", "--seed", "1", answer="y\n")  # an alias names the same run
    assert done.exit_code == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"deleted {os.path.join('checkpoints', 'mnist_mlp', 'he-s1')}",
        f"deleted {os.path.join('logs', 'mnist_mlp', 'he-s1')}",
    ]
    assert not (experiment / "checkpoints/mnist_mlp/he-s1").exists()
    assert not (experiment / "logs/mnist_mlp/he-s1").exists()
    left = [r["run"] for r in json.loads(run_cli("runs", "--json").stdout)["runs"]]
    assert left == ["random-s0", "glorot-s0", "he-s0", "lsuv-s10"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--seed", "1", "--yes"], "rm needs --init NAME"),
        (["--init", "he", "--seed", "7", "--yes"], "no run he-s7 of experiment 'mnist_mlp'"),
        (["--init", "nope", "--yes"], "unknown initializer 'nope'"),
    ],
)
def test_rm_mistakes_are_one_line_and_delete_nothing(experiment, monkeypatch, args, needle):
    before = sorted(experiment.rglob("*"))
    result = run_cli_in(experiment, monkeypatch, "rm", *args)
    error_line(result, needle, code=2)
    assert result.stderr.count("\n") == 1
    assert sorted(experiment.rglob("*")) == before


def test_config_prints_what_a_command_would_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", "deep_mlp", "--init", "xavier", "--seed", "3", "--set", "train.epochs=2"]
    printed = run_cli("config", *args)
    assert printed.exit_code == 0, printed.stderr
    expected = load_config("deep_mlp", init="glorot", seed=3, overrides=("train.epochs=2",))
    assert printed.stdout == schema.dump_yaml(expected)
    # what it prints is a config file that gives the same config back
    (tmp_path / "mine.yaml").write_text(printed.stdout)
    assert load_config(tmp_path / "mine.yaml") == expected
    as_json = json.loads(run_cli("config", *args, "--json").stdout)
    assert as_json == yaml.safe_load(printed.stdout)
    seeds = json.loads(run_cli("config", "--seeds", "2", "--inits", "he", "--json").stdout)
    assert seeds["compare"] == {**seeds["compare"], "inits": ["he"], "seeds": [0, 1]}
    bad = run_cli("config", "--set", "train.epoch=2")
    assert bad.exit_code == 2 and "did you mean 'train.epochs'" in bad.stderr


def test_runs_config_and_rm_never_import_tensorflow(experiment):
    code = textwrap.dedent(
        """
        import sys
        from initcmp.cli.main import main
        for args in (["runs"], ["runs", "--json"], ["config"], ["rm", "--init", "he", "-y"]):
            try:
                main(args, standalone_mode=False)
            except SystemExit:
                pass
        assert "tensorflow" not in sys.modules, "tensorflow imported"
        """
    )
    done = python("-c", code, cwd=experiment, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not (experiment / "checkpoints/mnist_mlp/he-s0").exists()


def test_a_real_run_is_listed_deleted_and_trained_again(tmp_path, monkeypatch):
    first = run_cli_in(tmp_path, monkeypatch, "train", "--init", "he", *SYNTHETIC_ARGS, "--json")
    result = json.loads(first.stdout)
    (run,) = json.loads(run_cli("runs", "--json").stdout)["runs"]
    assert (
        run.items()
        >= {
            "run": "he-s0",
            "status": "finished",
            "step": 24,
            "total_steps": 24,
            "test_accuracy": result["test_accuracy"],
            "locked_by": None,
        }.items()
    )
    assert run_cli("rm", "--init", "he", "--yes").exit_code == 0
    assert json.loads(run_cli("runs", "--json").stdout)["runs"] == []
    again = json.loads(run_cli("train", "--init", "he", *SYNTHETIC_ARGS, "--json").stdout)
    assert again["resumed_from_step"] == 0
    assert again["weights_sha256"] == result["weights_sha256"]
